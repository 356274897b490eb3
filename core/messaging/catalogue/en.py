"""English strings (the default language). Row titles <= 24 characters, buttons <= 20."""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # Menu and general answers
    "conv.menu.body": "What would you like to do?",
    "conv.menu.button": "Menu",
    "conv.menu.section": "Choose one",
    "conv.menu.book": "Book appointment",
    "conv.menu.status": "My token",
    "conv.menu.checkin": "Check in",
    "conv.menu.manage": "Cancel / Reschedule",
    "conv.menu.rx": "My prescriptions",
    "conv.menu.records": "My records",
    "conv.menu.rate": "Rate my visit",
    "conv.menu.language": "Language / भाषा",
    "conv.greet": "Hello {name}! Welcome to {clinic}.",
    "conv.unknown": "Sorry, I did not understand that. Please choose from the menu.",
    "conv.please_type": "Sorry, I can only read typed messages. Please type your answer.",
    # A sender known only by username (no phone): the phone is asked before booking
    "conv.contact.ask": "To book, the clinic needs your phone number. Tap below to share it.",
    "conv.contact.thanks": "Thank you, your phone number is saved.",
    "conv.contact.none": "That contact had no phone number. Please tap the button to share yours.",
    "conv.error": "Sorry, that did not work: {reason}. Please try again or ask at the desk.",
    # Why a step was refused, by the rule's error code (core.errors), shown in conv.error
    "conv.reason.slot_taken": "that time was just taken by someone else",
    "conv.reason.doctor_not_available": "the doctor is not available then (leave or off duty)",
    "conv.reason.conflict": "it changed meanwhile or is no longer possible",
    "conv.reason.not_found": "that choice is no longer available",
    "conv.reason.invalid_input": "that choice is not valid",
    "conv.reason.permission_denied": "this cannot be done over WhatsApp",
    "conv.reason.plan_limit_reached": "the clinic has reached today's limit for new tokens",
    "conv.reason.clinic_suspended": "the clinic is not taking new tokens or bookings right now",
    "conv.reason.generic": "something went wrong on our side",
    "conv.more": "More",
    "conv.more_desc": "Show more choices",
    # Registration of a new number
    "conv.onboard.ask_name": (
        "Welcome to {clinic}! We do not know this number yet. What is the patient's full name?"
    ),
    "conv.onboard.bad_name": "Please type the full name (letters, 2 to 100 characters).",
    "conv.onboard.ask_age": "Thank you, {name}. How old is the patient (in years)?",
    "conv.onboard.bad_age": "Please type the age as a number, for example 34.",
    "conv.onboard.guardian_body": (
        "{name} is under 18. A parent or guardian must agree to register and to receive "
        "messages. Are you the parent or guardian, and do you agree?"
    ),
    "conv.onboard.parent": "Yes, parent",
    "conv.onboard.guardian": "Yes, guardian",
    "conv.onboard.no": "No",
    "conv.onboard.refused": (
        "We cannot register a patient under 18 without a guardian's consent. "
        "Please visit the reception desk with a parent or guardian."
    ),
    "conv.onboard.done": "You are registered, {name}. Your patient code is {code}.",
    # Language
    "conv.lang.body": "Choose your language / अपनी भाषा चुनें",
    "conv.lang.set": "We will write to you in English from now on.",
    # Booking
    "conv.book.choose_department": "Which department would you like to visit?",
    "conv.book.departments": "Departments",
    "conv.book.choose_doctor": "Choose a doctor in {department}.",
    "conv.book.doctors": "Doctors",
    "conv.book.choose_date": "Choose a date for {doctor}.",
    "conv.book.dates": "Dates",
    "conv.book.choose_slot": "Free times on {date} with {doctor}:",
    "conv.book.slots": "Times",
    "conv.book.no_departments": "Booking on WhatsApp is not open at this clinic yet.",
    "conv.book.no_doctors": "No doctor of {department} takes bookings right now.",
    "conv.book.no_dates": "{doctor} has no free time in the next days. Please try another doctor.",
    "conv.book.confirm": "Book {doctor} on {date} at {time}?",
    "conv.book.yes": "Confirm",
    "conv.book.other": "Another time",
    "conv.book.no": "Cancel",
    "conv.book.done": (
        "Booked: {doctor}, {date} at {time}. When you arrive, scan the QR code at the "
        "desk to check in."
    ),
    "conv.book.rescheduled": "Moved: your appointment with {doctor} is now {date} at {time}.",
    "conv.book.taken": "Sorry, someone just took that time. These are the next free times:",
    "conv.book.abandoned": "No booking was made.",
    "conv.flow.body": "Tap below to choose the department, doctor and time of your visit.",
    "conv.flow.cta": "Book appointment",
    "conv.flow.stale": "This booking form is no longer active. Send 'book' to start again.",
    # Check-in and token status
    "conv.checkin.how": (
        "When you arrive, scan the QR code at the reception desk: it sends "
        "'CHECKIN' and the branch code for you."
    ),
    "conv.checkin.unknown_branch": (
        "We could not find that branch. Please scan the QR code at the desk again."
    ),
    "conv.checkin.choose_department": "Which department are you here for?",
    "conv.token.code": "Your token: {code} ({department}).",
    "conv.token.position": "Your place in line: {position}.",
    "conv.token.eta": "Expected around {time} (about {minutes} min).",
    "conv.token.called": "It is your turn: please go to {room}.",
    "conv.token.link": "Follow your place live: {link}",
    "conv.status.none": "You have no token today.",
    "conv.status.appointment": "Your next appointment: {doctor}, {date} at {time}.",
    # Cancel / reschedule
    "conv.manage.none": "You have no upcoming appointment.",
    "conv.manage.choose": "Which appointment?",
    "conv.manage.appointments": "Appointments",
    "conv.manage.action": "{doctor}, {date} at {time}. What would you like to do?",
    "conv.manage.cancel": "Cancel it",
    "conv.manage.reschedule": "Reschedule",
    "conv.manage.keep": "Keep it",
    "conv.manage.cancelled": "Cancelled: {doctor}, {date} at {time}.",
    "conv.manage.kept": "Your appointment stays as it is.",
    # Prescriptions
    "conv.records.link": (
        "Your appointments, prescriptions, bills and receipts: {url}\n"
        "This private link works for {days} days. Please do not forward it."
    ),
    "conv.records.unavailable": "Your records page is not available now. Please ask at the desk.",
    "conv.rx.none": (
        "You have no prescriptions with us yet. After a consultation your prescription "
        "will arrive here as a PDF."
    ),
    "conv.rx.header": "Your recent prescriptions:",
    "conv.rx.item": "{date}: {doctor}",
    "conv.rx.caption": "Prescription, {date}, {doctor}",
    # Rating
    "conv.rate.none": "There is no finished visit to rate yet.",
    "conv.rate.ask": "How was your visit to {doctor}? 5 is best.",
    "conv.rate.button": "Rate",
    "conv.rate.section": "Your rating",
    "conv.rate.score": "{score} of 5",
    "conv.rate.ask_comment": "Thank you! Anything you would like to tell us? Type it, or tap Skip.",
    "conv.rate.skip": "Skip",
    "conv.rate.thanks": "Thank you for your feedback.",
    "conv.rate.already": "You have already rated this visit. Thank you!",
    # notify.* — queue notifications from the token engine's intents (core.messaging.notify)
    "notify.now_serving": "Token {code}, please go to {room}.",
    "notify.now_serving_no_room": "Token {code}, it is your turn. Please come to the desk.",
    "notify.near_turn": "Token {code}: {ahead} ahead of you. Expected at about {eta}.",
    "notify.near_turn_next": "Token {code}: you are next. Expected at about {eta}.",
    "notify.eta_shift": "Token {code}: your expected time is now about {eta}.",
    "notify.near_turn_range": (
        "Token {code}: {ahead} ahead of you. Expected between {low} and {high}."
    ),
    "notify.near_turn_next_range": "Token {code}: you are next. Expected between {low} and {high}.",
    "notify.eta_shift_range": "Token {code}: you are now expected between {low} and {high}.",
    "notify.delay": "The doctor is running about {minutes} minutes late. New expected time: {eta}.",
    "notify.room": "Room {room}",
    "notify.reminder_24h": (
        "Reminder, {name}: your appointment with {doctor} is on {when} at {branch}."
    ),
    "notify.reminder_1h": (
        "{name}, your appointment with {doctor} is in about an hour ({when}) at {branch}."
    ),
    "notify.booking_confirmed": (
        "{name}, your appointment with {doctor} is booked for {when} at {branch}."
    ),
    "notify.slot_offer": (
        "{name}, a slot has opened with {doctor} on {when} at {branch}. It is held for you"
        " until {until}. Would you like it?"
    ),
    # conv.offer.* — the answer to a waiting-list offer (core.messaging.conversation.offers)
    "conv.offer.accept": "Accept",
    "conv.offer.decline": "Decline",
    "conv.offer.booked": "Booked: {doctor}, {date} at {time}. See you then!",
    "conv.offer.declined": (
        "Alright, the slot goes to the next person. You stay on the waiting list."
    ),
    "conv.offer.gone": "Sorry, that slot is no longer held for you. You stay on the waiting list.",
    # conv.proposal.* — the answer to a time the desk proposed for a web booking request
    # (core.messaging.conversation.proposals); button titles at most 20 characters
    "conv.proposal.accept": "Accept",
    "conv.proposal.other": "Choose another time",
    "conv.proposal.booked": "Booked: {doctor}, {date} at {time}. See you then!",
    "conv.proposal.declined": (
        "Alright. Reply BOOK here to pick another time, or book on the clinic's website."
    ),
    "conv.proposal.gone": (
        "This proposed time was already answered. Reply BOOK here to pick a time."
    ),
}
