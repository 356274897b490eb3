/* QLink public booking page: branch -> specialty -> doctor -> day -> slot -> details -> WhatsApp code -> booked.
   Plain JS, no build step; every rule is the server's, this only walks the steps. */
(function () {
  "use strict";
  var app = document.getElementById("app");
  var clinic = app.getAttribute("data-clinic");
  var base = "/book/" + encodeURIComponent(clinic) + "/api/";
  var state = { dir: null, branch: null, specialty: null, doctor: null, day: null, slot: null,
                request: null, ticket: null, phone: null };
  /* The page's own texts in its language (<html lang>, set by the server from ?lang=); the
     server's error messages are shown as they come. */
  var TEXTS = {
    en: {
      failed: "Something went wrong; please try again",
      offline: "No connection; check your internet and try again",
      request_time: "Request a time",
      no_branches: "Online booking is not open at this clinic yet.",
      doctor_one: "{n} doctor", doctor_many: "{n} doctors",
      no_specialties: "No specialties at this branch.",
      fee: "Fee ₹{fee}",
      no_doctors: "No doctor takes online bookings in this specialty.",
      looking: "Looking for free times…",
      no_slots: "No free times this day. Try another day.",
      pick_day: "Pick a day",
      morning: "morning", afternoon: "afternoon", evening: "evening", any: "any time",
      bad_name: "Enter the patient's full name",
      bad_phone: "Enter a 10-digit mobile number",
      bad_age: "Enter the age in years (0–120)",
      code_sent: "We sent a code on WhatsApp to {to}. It is valid for 5 minutes.",
      resend: "Resend code", resend_in: "Resend code in {n} s",
      patient: "Patient", years: "{name}, {age} years", doctor: "Doctor / specialty",
      when: "When", where: "Where",
      bad_code: "Enter the 6-digit code from WhatsApp",
      tries_left: " ({n} tries left)",
      booked: "Booked", booked_text: "{doctor}, {when} at {branch}.",
      request_sent: "Request sent",
      request_text: "The desk will confirm your time on WhatsApp, or suggest another.",
      no_alternatives: "No other free times soon; pick another day."
    },
    hi: {
      failed: "कुछ गड़बड़ हो गई; कृपया फिर से कोशिश करें",
      offline: "इंटरनेट कनेक्शन नहीं है; जाँच कर फिर से कोशिश करें",
      request_time: "समय का अनुरोध करें",
      no_branches: "इस क्लिनिक में ऑनलाइन बुकिंग अभी शुरू नहीं हुई है।",
      doctor_one: "{n} डॉक्टर", doctor_many: "{n} डॉक्टर",
      no_specialties: "इस शाखा में कोई विशेषज्ञता नहीं है।",
      fee: "फ़ीस ₹{fee}",
      no_doctors: "इस विशेषज्ञता में कोई डॉक्टर ऑनलाइन बुकिंग नहीं लेते।",
      looking: "खाली समय ढूँढ रहे हैं…",
      no_slots: "इस दिन कोई खाली समय नहीं है। कोई दूसरा दिन चुनें।",
      pick_day: "कोई दिन चुनें",
      morning: "सुबह", afternoon: "दोपहर", evening: "शाम", any: "कभी भी",
      bad_name: "मरीज़ का पूरा नाम लिखें",
      bad_phone: "10 अंकों का मोबाइल नंबर लिखें",
      bad_age: "उम्र सालों में लिखें (0–120)",
      code_sent: "हमने {to} पर WhatsApp से कोड भेजा है। यह 5 मिनट तक मान्य है।",
      resend: "कोड फिर से भेजें", resend_in: "{n} सेकंड में कोड फिर से भेजें",
      patient: "मरीज़", years: "{name}, {age} साल", doctor: "डॉक्टर / विशेषज्ञता",
      when: "कब", where: "कहाँ",
      bad_code: "WhatsApp पर आया 6 अंकों का कोड लिखें",
      tries_left: " ({n} कोशिशें बाकी)",
      booked: "बुक हो गया", booked_text: "{doctor}, {when}, {branch}।",
      request_sent: "अनुरोध भेज दिया गया",
      request_text: "डेस्क WhatsApp पर आपके समय की पुष्टि करेगा, या कोई दूसरा समय सुझाएगा।",
      no_alternatives: "जल्द कोई और खाली समय नहीं है; कोई दूसरा दिन चुनें।"
    }
  };
  var LANG = document.documentElement.lang === "hi" ? "hi" : "en";
  var LOCALE = LANG === "hi" ? "hi-IN" : "en-IN";  /* weekday and month names */
  function t(key, args) {
    return TEXTS[LANG][key].replace(/\{(\w+)\}/g, function (m, name) {
      return args && args[name] !== undefined ? String(args[name]) : m;
    });
  }
  function dayText(iso, options) {
    var p = iso.split("-");
    return new Date(Number(p[0]), Number(p[1]) - 1, Number(p[2])).toLocaleDateString(LOCALE, options);
  }

  var STEPS = ["where", "doctor", "when", "request", "you", "code", "done"];
  var PROGRESS = { where: "where", doctor: "doctor", when: "when", request: "when", you: "you", code: "code", done: "code" };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function show(step) {
    STEPS.forEach(function (s) { $("step-" + s).hidden = s !== step; });
    var on = PROGRESS[step];
    var passed = true;
    Array.prototype.forEach.call(document.querySelectorAll(".progress li"), function (li) {
      var key = li.getAttribute("data-for");
      li.classList.toggle("on", passed);
      if (key === on) { passed = false; }
    });
    problem(null);
    var heading = $("step-" + step).querySelector("h2");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
  }

  function problem(message) {
    var box = $("problem");
    box.hidden = !message;
    box.textContent = message || "";
  }

  function call(method, path, body) {
    var options = { method: method, headers: { "Accept": "application/json" } };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(base + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var err = (data && data.error) || { message: t("failed") };
          err.status = response.status;
          throw err;
        }
        return data;
      });
    }, function () { throw { message: t("offline") }; });
  }

  function choice(title, sub, onPick) {
    var b = el("button", "choice");
    b.type = "button";
    b.appendChild(el("strong", null, title));
    if (sub) { b.appendChild(el("small", null, sub)); }
    b.addEventListener("click", onPick);
    return b;
  }

  function fill(box, nodes, empty) {
    box.textContent = "";
    if (!nodes.length) { box.appendChild(el("p", "empty", empty)); return; }
    nodes.forEach(function (n) { box.appendChild(n); });
  }

  /* --- clinic, branch, specialty --- */
  function start() {
    call("GET", "directory").then(function (dir) {
      state.dir = dir;
      var branches = dir.branches.map(function (b) {
        return choice(b.name, b.address || (b.mode === "request" ? t("request_time") : ""), function () { pickBranch(b); });
      });
      fill($("branches"), branches, t("no_branches"));
      var wanted = Number(new URLSearchParams(window.location.search).get("branch"));
      var named = dir.branches.filter(function (b) { return b.id === wanted; })[0];
      if (named) { pickBranch(named); } else if (dir.branches.length === 1) { pickBranch(dir.branches[0]); }
    }, function (err) { problem(err.message); });
  }

  function pressed(box, node) {
    Array.prototype.forEach.call(box.children, function (c) { c.setAttribute("aria-pressed", String(c === node)); });
  }

  /* the language switch keeps the branch picked so far */
  function keepBranch(id) {
    Array.prototype.forEach.call(document.querySelectorAll(".langs a"), function (a) {
      var url = new URL(a.getAttribute("href"), window.location.href);
      url.searchParams.set("branch", String(id));
      a.setAttribute("href", url.pathname + url.search);
    });
  }

  function pickBranch(branch) {
    state.branch = branch;
    keepBranch(branch.id);
    Array.prototype.forEach.call($("branches").children, function (c) {
      c.setAttribute("aria-pressed", String(c.textContent.indexOf(branch.name) === 0));
    });
    var specs = state.dir.specialties.filter(function (s) { return s.branch_id === branch.id; });
    $("h-specialty").hidden = false;
    fill($("specialties"), specs.map(function (s) {
      var count = doctorsOf(s).length;
      return choice(s.name, t(count === 1 ? "doctor_one" : "doctor_many", { n: count }), function (ev) {
        pressed($("specialties"), ev.currentTarget);
        pickSpecialty(s);
      });
    }), t("no_specialties"));
  }

  function doctorsOf(specialty) {
    return state.dir.doctors.filter(function (d) {
      return d.specialty_id === specialty.id && d.branch_ids.indexOf(state.branch.id) >= 0;
    });
  }

  function pickSpecialty(specialty) {
    state.specialty = specialty;
    if (state.branch.mode === "request") {
      var today = branchToday();
      $("req-date").min = isoDay(today);
      $("req-date").value = isoDay(addDays(today, 1));
      show("request");
      return;
    }
    fill($("doctors"), doctorsOf(specialty).map(function (d) {
      var sub = [d.specialization, d.qualification, d.fee ? t("fee", { fee: d.fee }) : ""].filter(Boolean).join(" · ");
      return choice(d.name, sub, function () { pickDoctor(d); });
    }), t("no_doctors"));
    show("doctor");
  }

  /* --- doctor, day, slot --- */
  function isoDay(d) {
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }
  function addDays(d, n) { var x = new Date(d.getTime()); x.setDate(x.getDate() + n); return x; }
  /* The branch's date (from the service), not the browser's: a patient booking from another
     time zone, or just after midnight, must not be offered a day the branch has left. */
  function branchToday() {
    var p = (state.branch.today || isoDay(new Date())).split("-");
    return new Date(Number(p[0]), Number(p[1]) - 1, Number(p[2]));
  }

  function pickDoctor(doctor) {
    state.doctor = doctor;
    $("picked-doctor").textContent = doctor.name + " · " + state.specialty.name + " · " + state.branch.name;
    var days = $("days");
    days.textContent = "";
    var today = branchToday();
    for (var i = 0; i < 14; i += 1) {
      (function (d) {
        var b = el("button", "day");
        b.type = "button";
        b.setAttribute("role", "tab");
        b.setAttribute("data-day", isoDay(d));
        b.appendChild(el("small", null, d.toLocaleDateString(LOCALE, { weekday: "short" })));
        b.appendChild(el("b", null, String(d.getDate())));
        b.appendChild(el("small", null, d.toLocaleDateString(LOCALE, { month: "short" })));
        b.addEventListener("click", function () { pickDay(isoDay(d)); });
        days.appendChild(b);
      })(addDays(today, i));
    }
    show("when");
    pickDay(isoDay(today));
  }

  function pickDay(day) {
    state.day = day;
    Array.prototype.forEach.call($("days").children, function (b) {
      b.setAttribute("aria-selected", String(b.getAttribute("data-day") === day));
    });
    var box = $("slots");
    box.textContent = "";
    box.appendChild(el("p", "empty", t("looking")));
    var q = "slots?branch=" + state.branch.id + "&doctor=" + state.doctor.id + "&date=" + day;
    call("GET", q).then(function (data) {
      if (state.day !== day) { return; }
      fill(box, data.slots.map(slotButton), t("no_slots"));
    }, function (err) { box.textContent = ""; problem(err.message); });
  }

  function slotButton(slot) {
    var b = el("button", "slot", slot.label);
    b.type = "button";
    b.setAttribute("data-start", slot.start);
    b.addEventListener("click", function () { pickSlot(slot); });
    return b;
  }

  function pickSlot(slot) {
    state.slot = slot;
    state.request = null;
    $("picked-slot").textContent = whenText(slot) + " · " + state.doctor.name;
    show("you");
    $("name").focus();
  }

  function whenText(slot) {
    return dayText(slot.local.slice(0, 10), { weekday: "long", day: "numeric", month: "long" }) + ", " + slot.label;
  }

  /* --- request mode --- */
  $("req-next").addEventListener("click", function () {
    var day = $("req-date").value;
    if (!day) { problem(t("pick_day")); return; }
    var picked = document.querySelector("input[name=window]:checked");
    state.request = { date: day, window: picked ? picked.value : "any" };
    state.slot = null;
    $("picked-slot").textContent = state.specialty.name + " · " + requestText();
    show("you");
  });

  function requestText() {
    return dayText(state.request.date, { weekday: "long", day: "numeric", month: "long" }) + " · " + t(state.request.window);
  }

  /* --- details and code --- */
  function person() {
    return { name: $("name").value.trim(), phone: $("phone").value.trim(), age: $("age").value.trim() };
  }

  function invalid(id, message) {
    var input = $(id);
    input.setAttribute("aria-invalid", "true");
    input.focus();
    problem(message);
    return false;
  }

  function checkPerson(p) {
    ["name", "phone", "age"].forEach(function (id) { $(id).removeAttribute("aria-invalid"); });
    if (p.name.length < 2) { return invalid("name", t("bad_name")); }
    if (p.phone.replace(/\D/g, "").length < 10) { return invalid("phone", t("bad_phone")); }
    if (!/^\d{1,3}$/.test(p.age) || Number(p.age) > 120) { return invalid("age", t("bad_age")); }
    return true;
  }

  var resendTimer = null;
  function sendCode() {
    var p = person();
    if (!checkPerson(p)) { return; }
    var button = $("send-code");
    button.disabled = true;
    call("POST", "code", { phone: p.phone, branch: state.branch.id, lang: LANG })  /* the code template's language */.then(function (sent) {
      state.phone = p.phone;
      state.ticket = null;
      $("code-sent").textContent = t("code_sent", { to: sent.sent_to });
      summary(p);
      $("alternatives").hidden = true;
      show("code");
      $("code").value = "";
      $("code").focus();
      waitResend(sent.resend_after);
    }, function (err) {
      if (err.field === "phone") { invalid("phone", err.message); } else { problem(err.message); }
    }).then(function () { button.disabled = false; });
  }

  function waitResend(iso) {
    var resend = $("resend");
    resend.disabled = true;
    clearInterval(resendTimer);
    resendTimer = setInterval(function () {
      var left = Math.ceil((new Date(iso).getTime() - Date.now()) / 1000);
      if (left <= 0) { clearInterval(resendTimer); resend.disabled = false; resend.textContent = t("resend"); return; }
      resend.textContent = t("resend_in", { n: left });
    }, 500);
  }

  function summary(p) {
    var box = $("summary");
    box.textContent = "";
    var dl = el("dl");
    var rows = [[t("patient"), t("years", { name: p.name, age: p.age })], [t("doctor"), state.slot ? state.doctor.name : state.specialty.name],
                [t("when"), state.slot ? whenText(state.slot) : requestText()], [t("where"), state.branch.name]];
    rows.forEach(function (r) { dl.appendChild(el("dt", null, r[0])); dl.appendChild(el("dd", null, r[1])); });
    box.appendChild(dl);
  }

  function confirm() {
    var code = $("code").value.trim();
    if (!state.ticket && !/^\d{6}$/.test(code)) { invalid("code", t("bad_code")); return; }
    var button = $("confirm");
    button.disabled = true;
    var verified = state.ticket ? Promise.resolve(state.ticket) :
      call("POST", "verify", { phone: state.phone, code: code }).then(function (r) { state.ticket = r.ticket; return r.ticket; });
    verified.then(finish).catch(function (err) {
      if (err.code === "phone_not_verified") { state.ticket = null; }
      if (err.code === "slot_taken") { offer(err.alternatives || []); }
      if (err.field === "code") { invalid("code", err.message + (err.attempts_left ? t("tries_left", { n: err.attempts_left }) : "")); }
      else { problem(err.message); }
    }).then(function () { button.disabled = false; });
  }

  function finish(ticket) {
    var p = person();
    var body = { ticket: ticket, phone: state.phone, name: p.name, age: p.age, branch: state.branch.id, lang: LANG };
    if (state.slot) {
      body.doctor = state.doctor.id;
      body.slot = state.slot.start;
      return call("POST", "book", body).then(function (done) {
        $("h-done").textContent = t("booked");
        $("done-text").textContent = t("booked_text", {
          doctor: done.doctor, when: whenText({ local: done.local, label: done.local.slice(11, 16) }), branch: done.branch
        });
        show("done");
      });
    }
    body.specialty = state.specialty.id;
    body.date = state.request.date;
    body.window = state.request.window;
    return call("POST", "request", body).then(function () {
      $("h-done").textContent = t("request_sent");
      $("done-text").textContent = t("request_text");
      show("done");
    });
  }

  function offer(alternatives) {
    var box = $("alternatives");
    box.hidden = false;
    fill(box, alternatives.map(function (slot) {
      var b = el("button", "slot", slot.label);
      b.type = "button";
      b.title = whenText(slot);
      b.addEventListener("click", function () {
        state.slot = slot;
        summary(person());
        confirm();
      });
      return b;
    }), t("no_alternatives"));
  }

  $("you-form").addEventListener("submit", function (ev) { ev.preventDefault(); sendCode(); });
  $("code-form").addEventListener("submit", function (ev) { ev.preventDefault(); confirm(); });
  $("resend").addEventListener("click", function () { show("you"); sendCode(); });
  $("you-back").addEventListener("click", function () { show(state.slot ? "when" : "request"); });
  $("again").addEventListener("click", function () { state.ticket = null; show("where"); });
  Array.prototype.forEach.call(document.querySelectorAll("[data-back]"), function (b) {
    b.addEventListener("click", function () { show(b.getAttribute("data-back")); });
  });
  show("where");
  start();
})();
