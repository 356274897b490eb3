"""Hindi strings (हिंदी). Same keys as ``en``; row titles <= 24 characters, buttons <= 20."""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # Menu and general answers
    "conv.menu.body": "आप क्या करना चाहेंगे?",
    "conv.menu.button": "मेनू",
    "conv.menu.section": "एक चुनें",
    "conv.menu.book": "अपॉइंटमेंट बुक करें",
    "conv.menu.status": "मेरा टोकन",
    "conv.menu.checkin": "चेक-इन",
    "conv.menu.manage": "रद्द करें / बदलें",
    "conv.menu.rx": "मेरे पर्चे",
    "conv.menu.records": "मेरे रिकॉर्ड",
    "conv.menu.rate": "विज़िट को रेट करें",
    "conv.menu.language": "Language / भाषा",
    "conv.greet": "नमस्ते {name}! {clinic} में आपका स्वागत है।",
    "conv.unknown": "माफ़ कीजिए, मैं समझ नहीं पाया। कृपया मेनू से चुनें।",
    "conv.please_type": "माफ़ कीजिए, मैं केवल लिखे हुए संदेश पढ़ सकता हूँ। कृपया अपना उत्तर लिखें।",
    "conv.contact.ask": "बुकिंग के लिए क्लिनिक को आपका फ़ोन नंबर चाहिए। नीचे टैप करके साझा करें।",
    "conv.contact.thanks": "धन्यवाद, आपका फ़ोन नंबर सहेज लिया गया है।",
    "conv.contact.none": "उस संपर्क में फ़ोन नंबर नहीं था। कृपया बटन टैप करके अपना नंबर साझा करें।",
    "conv.error": "माफ़ कीजिए, यह नहीं हो पाया: {reason}। कृपया फिर से कोशिश करें या डेस्क पर पूछें।",
    # Why a step was refused, by the rule's error code (core.errors), shown in conv.error
    "conv.reason.slot_taken": "यह समय अभी किसी और ने ले लिया",
    "conv.reason.doctor_not_available": "डॉक्टर उस समय उपलब्ध नहीं हैं (छुट्टी या ड्यूटी से बाहर)",
    "conv.reason.conflict": "इस बीच कुछ बदल गया या अब यह संभव नहीं है",
    "conv.reason.not_found": "यह विकल्प अब उपलब्ध नहीं है",
    "conv.reason.invalid_input": "यह विकल्प मान्य नहीं है",
    "conv.reason.permission_denied": "यह WhatsApp पर नहीं हो सकता",
    "conv.reason.plan_limit_reached": "क्लिनिक आज के नए टोकन की सीमा तक पहुँच गया है",
    "conv.reason.clinic_suspended": "क्लिनिक अभी नए टोकन या बुकिंग नहीं ले रहा है",
    "conv.reason.generic": "हमारी ओर से कुछ गड़बड़ हुई",
    "conv.more": "और",
    "conv.more_desc": "और विकल्प दिखाएँ",
    # Registration of a new number
    "conv.onboard.ask_name": (
        "{clinic} में आपका स्वागत है! यह नंबर हमारे पास दर्ज नहीं है। मरीज़ का पूरा नाम क्या है?"
    ),
    "conv.onboard.bad_name": "कृपया पूरा नाम लिखें (अक्षर, 2 से 100 तक)।",
    "conv.onboard.ask_age": "धन्यवाद, {name}। मरीज़ की उम्र कितने साल है?",
    "conv.onboard.bad_age": "कृपया उम्र अंकों में लिखें, जैसे 34।",
    "conv.onboard.guardian_body": (
        "{name} की उम्र 18 से कम है। पंजीकरण और संदेशों के लिए माता-पिता या अभिभावक की "
        "सहमति ज़रूरी है। क्या आप माता-पिता या अभिभावक हैं और सहमति देते हैं?"
    ),
    "conv.onboard.parent": "हाँ, माता/पिता",
    "conv.onboard.guardian": "हाँ, अभिभावक",
    "conv.onboard.no": "नहीं",
    "conv.onboard.refused": (
        "अभिभावक की सहमति के बिना 18 से कम उम्र के मरीज़ का पंजीकरण नहीं हो सकता। "
        "कृपया माता-पिता या अभिभावक के साथ रिसेप्शन पर आएँ।"
    ),
    "conv.onboard.done": "आपका पंजीकरण हो गया, {name}। आपका मरीज़ कोड {code} है।",
    # Language
    "conv.lang.body": "Choose your language / अपनी भाषा चुनें",
    "conv.lang.set": "अब से हम आपको हिंदी में लिखेंगे।",
    # Booking
    "conv.book.choose_department": "आप किस विभाग में दिखाना चाहेंगे?",
    "conv.book.departments": "विभाग",
    "conv.book.choose_doctor": "{department} में डॉक्टर चुनें।",
    "conv.book.doctors": "डॉक्टर",
    "conv.book.choose_date": "{doctor} के लिए तारीख़ चुनें।",
    "conv.book.dates": "तारीख़ें",
    "conv.book.choose_slot": "{date} को {doctor} के खाली समय:",
    "conv.book.slots": "समय",
    "conv.book.no_departments": "इस क्लिनिक में अभी WhatsApp से बुकिंग शुरू नहीं हुई है।",
    "conv.book.no_doctors": "{department} में अभी कोई डॉक्टर बुकिंग नहीं ले रहे हैं।",
    "conv.book.no_dates": "{doctor} के पास अगले दिनों में खाली समय नहीं है। कृपया दूसरे डॉक्टर चुनें।",
    "conv.book.confirm": "{doctor}, {date} को {time} बजे बुक करें?",
    "conv.book.yes": "पक्का करें",
    "conv.book.other": "दूसरा समय",
    "conv.book.no": "रद्द करें",
    "conv.book.done": (
        "बुक हो गया: {doctor}, {date} को {time} बजे। पहुँचने पर चेक-इन के लिए डेस्क पर QR कोड स्कैन करें।"
    ),
    "conv.book.rescheduled": "बदल दिया: {doctor} के साथ आपका अपॉइंटमेंट अब {date} को {time} बजे है।",
    "conv.book.taken": "माफ़ कीजिए, यह समय अभी किसी और ने ले लिया। अगले खाली समय ये हैं:",
    "conv.book.abandoned": "कोई बुकिंग नहीं हुई।",
    "conv.flow.body": "अपनी विज़िट का विभाग, डॉक्टर और समय चुनने के लिए नीचे दबाएँ।",
    "conv.flow.cta": "अपॉइंटमेंट बुक करें",
    "conv.flow.stale": "यह बुकिंग फ़ॉर्म अब चालू नहीं है। फिर से शुरू करने के लिए 'book' भेजें।",
    # Check-in and token status
    "conv.checkin.how": (
        "पहुँचने पर रिसेप्शन डेस्क पर QR कोड स्कैन करें: वह आपके लिए 'CHECKIN' और शाखा का कोड भेज देगा।"
    ),
    "conv.checkin.unknown_branch": "वह शाखा नहीं मिली। कृपया डेस्क पर QR कोड फिर से स्कैन करें।",
    "conv.checkin.choose_department": "आप किस विभाग के लिए आए हैं?",
    "conv.token.code": "आपका टोकन: {code} ({department})।",
    "conv.token.position": "लाइन में आपका स्थान: {position}।",
    "conv.token.eta": "लगभग {time} बजे (क़रीब {minutes} मिनट)।",
    "conv.token.called": "आपकी बारी है: कृपया {room} में जाएँ।",
    "conv.token.link": "अपना स्थान लाइव देखें: {link}",
    "conv.status.none": "आज आपका कोई टोकन नहीं है।",
    "conv.status.appointment": "आपका अगला अपॉइंटमेंट: {doctor}, {date} को {time} बजे।",
    # Cancel / reschedule
    "conv.manage.none": "आपका कोई आने वाला अपॉइंटमेंट नहीं है।",
    "conv.manage.choose": "कौन सा अपॉइंटमेंट?",
    "conv.manage.appointments": "अपॉइंटमेंट",
    "conv.manage.action": "{doctor}, {date} को {time} बजे। आप क्या करना चाहेंगे?",
    "conv.manage.cancel": "रद्द करें",
    "conv.manage.reschedule": "समय बदलें",
    "conv.manage.keep": "रहने दें",
    "conv.manage.cancelled": "रद्द हो गया: {doctor}, {date} को {time} बजे।",
    "conv.manage.kept": "आपका अपॉइंटमेंट वैसा ही रहेगा।",
    # Prescriptions
    "conv.records.link": (
        "आपकी अपॉइंटमेंट, पर्चे, बिल और रसीदें: {url}\n"
        "यह निजी लिंक {days} दिन चलेगा। कृपया इसे किसी और को न भेजें।"
    ),
    "conv.records.unavailable": "आपका रिकॉर्ड पेज अभी उपलब्ध नहीं है। कृपया डेस्क पर पूछें।",
    "conv.rx.none": ("अभी आपका कोई पर्चा नहीं है। परामर्श के बाद आपका पर्चा यहाँ PDF के रूप में आएगा।"),
    "conv.rx.header": "आपके हाल के पर्चे:",
    "conv.rx.item": "{date}: {doctor}",
    "conv.rx.caption": "पर्चा, {date}, {doctor}",
    # Rating
    "conv.rate.none": "अभी रेट करने के लिए कोई पूरी हुई विज़िट नहीं है।",
    "conv.rate.ask": "{doctor} के पास आपकी विज़िट कैसी रही? 5 सबसे अच्छा है।",
    "conv.rate.button": "रेट करें",
    "conv.rate.section": "आपकी रेटिंग",
    "conv.rate.score": "5 में से {score}",
    "conv.rate.ask_comment": "धन्यवाद! कुछ और बताना चाहेंगे? लिखें, या 'छोड़ें' दबाएँ।",
    "conv.rate.skip": "छोड़ें",
    "conv.rate.thanks": "आपकी राय के लिए धन्यवाद।",
    "conv.rate.already": "आप यह विज़िट पहले ही रेट कर चुके हैं। धन्यवाद!",
    # notify.* — queue notifications from the token engine's intents (core.messaging.notify)
    "notify.now_serving": "टोकन {code}, कृपया {room} में जाएँ।",
    "notify.now_serving_no_room": "टोकन {code}, आपकी बारी है। कृपया डेस्क पर आएँ।",
    "notify.near_turn": "टोकन {code}: आपसे पहले {ahead} लोग हैं। अनुमानित समय {eta}।",
    "notify.near_turn_next": "टोकन {code}: अगली बारी आपकी है। अनुमानित समय {eta}।",
    "notify.eta_shift": "टोकन {code}: आपका अनुमानित समय अब लगभग {eta} है।",
    "notify.near_turn_range": (
        "टोकन {code}: आपसे पहले {ahead} लोग हैं। अनुमानित समय {low} से {high} के बीच।"
    ),
    "notify.near_turn_next_range": (
        "टोकन {code}: अगली बारी आपकी है। अनुमानित समय {low} से {high} के बीच।"
    ),
    "notify.eta_shift_range": "टोकन {code}: आपका अनुमानित समय अब {low} से {high} के बीच है।",
    "notify.delay": "डॉक्टर लगभग {minutes} मिनट देर से हैं। नया अनुमानित समय: {eta}।",
    "notify.room": "कमरा {room}",
    "notify.reminder_24h": (
        "याद दिलाना, {name}: {doctor} के साथ आपकी अपॉइंटमेंट {when} को {branch} में है।"
    ),
    "notify.reminder_1h": (
        "{name}, {doctor} के साथ आपकी अपॉइंटमेंट लगभग एक घंटे में ({when}) {branch} में है।"
    ),
    "notify.booking_confirmed": (
        "{name}, {doctor} के साथ आपकी अपॉइंटमेंट {when} को {branch} में बुक हो गई है।"
    ),
    "notify.slot_offer": (
        "{name}, {doctor} के साथ {when} को {branch} में एक स्लॉट खाली हुआ है। यह {until} तक"
        " आपके लिए रखा गया है। क्या आप इसे लेना चाहेंगे?"
    ),
    "conv.offer.accept": "स्वीकार करें",
    "conv.offer.decline": "मना करें",
    "conv.offer.booked": "बुक हो गया: {doctor}, {date} को {time} बजे।",
    "conv.offer.declined": "ठीक है, यह स्लॉट अगले व्यक्ति को जाएगा। आप प्रतीक्षा सूची में बने रहेंगे।",
    "conv.offer.gone": "क्षमा करें, यह स्लॉट अब आपके लिए नहीं रखा गया है। आप प्रतीक्षा सूची में बने रहेंगे।",
    "conv.proposal.accept": "स्वीकार करें",
    "conv.proposal.other": "दूसरा समय चुनें",
    "conv.proposal.booked": "बुक हो गया: {doctor}, {date} को {time} बजे।",
    "conv.proposal.declined": (
        "ठीक है। दूसरा समय चुनने के लिए यहाँ BOOK लिखें, या क्लिनिक की वेबसाइट पर बुक करें।"
    ),
    "conv.proposal.gone": "इस समय का जवाब पहले ही दिया जा चुका है। समय चुनने के लिए यहाँ BOOK लिखें।",
}
