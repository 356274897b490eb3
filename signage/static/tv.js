/* QLink waiting-room screen: plain JS, no build step, no network beyond this server.
 *
 * State comes only from the server: a full snapshot on every (re)connect, then one "queue"
 * message per committed event carrying the state after it of every lane it touched. The
 * browser resends the last event id on reconnect, so calls missed while offline are replayed
 * (and the newest of them announced once); nothing is kept that could grow over days.
 */
(function () {
  "use strict";

  var body = document.body;
  var STREAM = body.dataset.stream;
  var LANG = body.dataset.lang || "en-IN";
  var TZ = body.dataset.tz || undefined;
  var MAX_CALLS = 6;
  var MAX_NEXT = 3;
  var RECENT_SHOWN = 4; // leaves room for two announcements under the WhatsApp card at 720p
  var SILENCE_MS = 40000; // the server pings every 15 s; this long without a word = dead link
  var OFFLINE_AFTER_MS = 3000;
  var ANNOUNCE_MISSED_WITHIN_MS = 180000;
  var RELOAD_AFTER_MS = 20 * 3600 * 1000;
  var BLINKS = 6; // colour swaps of the call flash (3 on, 3 off)
  var BLINK_MS = 550;

  var el = {
    app: document.getElementById("app"),
    heroLabel: document.getElementById("hero-label"),
    hero: document.getElementById("hero"),
    heroCode: document.getElementById("hero-code"),
    heroName: document.getElementById("hero-name"),
    heroRoom: document.getElementById("hero-room"),
    heroDoctor: document.getElementById("hero-doctor"),
    lanes: document.getElementById("lanes"),
    recent: document.getElementById("recent"),
    notices: document.getElementById("notices"),
    clock: document.getElementById("clock"),
    sound: document.getElementById("sound")
  };

  var state = {
    lanes: new Map(), // doctor_id -> lane
    pools: new Map(), // department_id -> pool
    calls: [], // newest first, at most MAX_CALLS
    notices: [],
    lastId: null, // last event id applied (for manual reconnects)
    announcedUpTo: 0, // highest call event id already shown or announced
    missedCalls: [], // calls replayed after an outage, announced once the snapshot lands
    serverOffset: 0
  };

  var source = null;
  var lastMessageAt = Date.now();
  var offlineTimer = null;
  var retryTimer = null;
  var retryDelay = 1000;
  var startedAt = Date.now();

  // ---- connection -------------------------------------------------------------------------

  function connect() {
    if (source) {
      source.close();
    }
    var url = STREAM;
    if (state.lastId !== null) {
      url += (url.indexOf("?") >= 0 ? "&" : "?") + "last_event_id=" + state.lastId;
    }
    source = new EventSource(url);
    source.addEventListener("snapshot", guard(onSnapshot));
    source.addEventListener("queue", guard(onQueue));
    source.addEventListener("ping", guard(onPing));
    source.onopen = function () {
      lastMessageAt = Date.now();
    };
    source.onerror = onError;
    lastMessageAt = Date.now();
  }

  function onError() {
    markOffline();
    if (source && source.readyState === EventSource.CLOSED) {
      // The browser gave up (server down, 404/5xx, proxy error): retry with backoff.
      scheduleReconnect();
    }
  }

  function scheduleReconnect() {
    if (retryTimer) {
      return;
    }
    var delay = retryDelay + Math.floor(Math.random() * 500);
    retryDelay = Math.min(retryDelay * 2, 30000);
    retryTimer = setTimeout(function () {
      retryTimer = null;
      connect();
    }, delay);
  }

  function markOffline() {
    if (offlineTimer) {
      return;
    }
    offlineTimer = setTimeout(function () {
      el.app.classList.add("offline");
    }, OFFLINE_AFTER_MS);
  }

  function markOnline() {
    lastMessageAt = Date.now();
    retryDelay = 1000;
    if (offlineTimer) {
      clearTimeout(offlineTimer);
      offlineTimer = null;
    }
    el.app.classList.remove("offline", "connecting");
  }

  function guard(handler) {
    return function (event) {
      try {
        handler(event);
      } catch (err) {
        // A bad message must not freeze the screen: resync from a fresh snapshot.
        if (window.console) {
          console.error("qlink screen:", err);
        }
        state.lastId = null;
        connect();
      }
    };
  }

  setInterval(function () {
    if (Date.now() - lastMessageAt > SILENCE_MS) {
      markOffline();
      connect();
    }
    maybeReload();
  }, 5000);

  // ---- messages ---------------------------------------------------------------------------

  function onPing(event) {
    var data = JSON.parse(event.data);
    syncClock(data.server_time);
    if (source && source.readyState === EventSource.OPEN) {
      markOnline();
    }
  }

  function onSnapshot(event) {
    var data = JSON.parse(event.data);
    var board = data.board;
    syncClock(data.server_time);
    state.lanes.clear();
    state.pools.clear();
    board.lanes.forEach(function (lane) {
      state.lanes.set(lane.doctor_id, lane);
    });
    board.pools.forEach(function (pool) {
      state.pools.set(pool.department_id, pool);
    });
    state.calls = board.calls.slice(0, MAX_CALLS);
    state.notices = board.announcements;
    state.lastId = Number(event.lastEventId || data.cursor);
    var missed = newestMissed();
    state.missedCalls = [];
    state.calls.forEach(function (call) {
      if (!missed || call.event_id !== missed.event_id) {
        state.announcedUpTo = Math.max(state.announcedUpTo, call.event_id);
      }
    });
    markOnline();
    renderAll();
    if (missed) {
      announce(missed);
    }
  }

  function newestMissed() {
    var newest = null;
    state.missedCalls.forEach(function (call) {
      if (call.event_id > state.announcedUpTo && (!newest || call.event_id > newest.event_id)) {
        newest = call;
      }
    });
    if (newest && serverNow() - Date.parse(newest.at) > ANNOUNCE_MISSED_WITHIN_MS) {
      return null;
    }
    return newest;
  }

  function onQueue(event) {
    var data = JSON.parse(event.data);
    var update = data.update;
    if (event.lastEventId && !data.late) {
      state.lastId = Number(event.lastEventId);
    }
    if (data.replay) {
      if (update.call) {
        state.missedCalls.push(update.call);
      }
      return; // the snapshot that follows carries the state
    }
    update.lanes.forEach(function (lane) {
      state.lanes.set(lane.doctor_id, lane);
    });
    update.pools.forEach(function (pool) {
      if (pool.waiting > 0) {
        state.pools.set(pool.department_id, pool);
      } else {
        state.pools.delete(pool.department_id);
      }
    });
    markOnline();
    renderLanes();
    if (update.notices) {
      state.notices = update.notices; // an admin's edit, shown at once
      renderNotices();
    }
    if (update.call && update.call.event_id > state.announcedUpTo) {
      announce(update.call);
    }
  }

  function addCall(call) {
    state.calls = [call].concat(
      state.calls.filter(function (c) {
        return c.event_id !== call.event_id;
      })
    ).slice(0, MAX_CALLS);
    state.calls.sort(function (a, b) {
      return b.event_id - a.event_id;
    });
  }

  // ---- rendering --------------------------------------------------------------------------

  function renderAll() {
    renderHero(false);
    renderLanes();
    renderRecent();
    renderNotices();
  }

  function renderHero(animate) {
    var call = state.calls[0];
    el.heroCode.textContent = call ? call.code : "—";
    el.heroName.textContent = call ? call.name : "";
    el.heroRoom.textContent = call && call.room ? "→ " + call.room : "";
    el.heroRoom.classList.toggle("long", !!(call && call.room && call.room.length > 9));
    el.heroDoctor.textContent = call && call.doctor ? call.doctor : "";
    el.heroLabel.textContent = call && call.recall_count ? "Calling again" : "Now calling";
    el.app.classList.toggle("idle", !call); // nobody called yet today: the welcome
    if (animate) {
      blink();
    }
  }

  var blinkTimer = null;
  function blink() {
    // Whole colour swaps, never a cross-fade: halfway between yellow and navy is olive on olive.
    var left = BLINKS;
    clearInterval(blinkTimer);
    el.hero.classList.add("blink");
    blinkTimer = setInterval(function () {
      left -= 1;
      el.hero.classList.toggle("blink", left % 2 === 0 && left > 0);
      if (left <= 0) {
        clearInterval(blinkTimer);
        blinkTimer = null;
      }
    }, BLINK_MS);
  }

  function renderLanes() {
    var lanes = Array.from(state.lanes.values()).sort(function (a, b) {
      return (a.department_code + a.doctor).localeCompare(b.department_code + b.doctor);
    });
    var pools = Array.from(state.pools.values());
    var frag = document.createDocumentFragment();
    lanes.forEach(function (lane) {
      frag.appendChild(laneCard(lane));
    });
    pools.forEach(function (pool) {
      frag.appendChild(poolCard(pool));
    });
    if (!lanes.length && !pools.length) {
      frag.appendChild(node("div", "empty-lanes", "No doctor is on duty at the moment"));
    }
    var count = lanes.length + pools.length;
    el.lanes.dataset.count = String(count);
    el.app.classList.toggle("many", count > 3);
    el.app.classList.toggle("full", count > 4); // five or six doctors: a smaller call panel
    el.app.classList.toggle("crowded", count > 6);
    el.lanes.replaceChildren(frag);
  }

  function laneCard(lane) {
    var card = node("article", "lane" + (lane.paused ? " paused" : ""));
    var who = node("div", "who");
    who.appendChild(node("div", "doctor", lane.doctor));
    var meta = node("div", "meta");
    if (lane.room) {
      meta.appendChild(node("span", "room", lane.room));
      meta.appendChild(document.createTextNode(" · "));
    }
    meta.appendChild(document.createTextNode(lane.department));
    who.appendChild(meta);
    card.appendChild(who);
    var now = node("div", "now");
    var serving = lane.serving[0];
    now.appendChild(node("div", "label", serving && serving.status === "called" ? "Called" : "In room"));
    now.appendChild(node("div", "code", serving ? serving.code : "—"));
    now.appendChild(node("div", "name", serving ? serving.name : ""));
    if (!serving) {
      now.firstChild.textContent = lane.paused ? "Paused" : "Now";
    }
    card.appendChild(now);
    card.appendChild(nextList(lane.next, lane.waiting, lane));
    return card;
  }

  function poolCard(pool) {
    var card = node("article", "lane pool");
    var who = node("div", "who");
    who.appendChild(node("div", "doctor", pool.department));
    who.appendChild(node("div", "meta", "Next available doctor"));
    card.appendChild(who);
    var now = node("div", "now");
    now.appendChild(node("div", "label", "Waiting"));
    now.appendChild(node("div", "code", String(pool.waiting)));
    card.appendChild(now);
    card.appendChild(nextList(pool.next, pool.waiting, null));
    return card;
  }

  function nextList(tickets, waiting, lane) {
    var box = node("div", "next");
    var label = "Next";
    if (lane && lane.paused) {
      label = "Doctor on a short break";
    } else if (lane && lane.delay_minutes) {
      label = "Next · running about " + lane.delay_minutes + " min late";
    }
    box.appendChild(node("div", "label", label));
    var list = node("ol", "chips");
    tickets.slice(0, MAX_NEXT).forEach(function (t) {
      var chip = node("li", "chip");
      chip.appendChild(node("span", "code", t.code));
      chip.appendChild(node("span", "name", t.name));
      list.appendChild(chip);
    });
    if (!tickets.length) {
      list.appendChild(node("li", "none", "No one waiting"));
    }
    box.appendChild(list);
    var more = waiting - Math.min(tickets.length, MAX_NEXT);
    if (more > 0) {
      box.appendChild(node("div", "more", "+" + more + " more waiting"));
    }
    return box;
  }

  function renderRecent() {
    // Every call of today, newest first (the newest is also the big one above): a list that
    // left out the newest looked empty after the first call of the day.
    var frag = document.createDocumentFragment();
    state.calls.slice(0, RECENT_SHOWN).forEach(function (call, index) {
      var li = node("li", index === 0 ? "latest" : "");
      li.appendChild(node("span", "code", call.code));
      li.appendChild(node("span", "room", call.room || ""));
      frag.appendChild(li);
    });
    if (!state.calls.length) {
      frag.appendChild(node("li", "none-yet", "No calls yet today"));
    }
    el.recent.replaceChildren(frag);
  }

  var noticeIndex = 0;
  var NOTICES_SHOWN = 2; // a third one is cut off under the WhatsApp card: rotate instead
  function renderNotices() {
    var frag = document.createDocumentFragment();
    var list = state.notices;
    var n = NOTICES_SHOWN;
    var shown = list.length <= n ? list : list.slice(noticeIndex, noticeIndex + n);
    if (list.length > n && shown.length < n) {
      shown = shown.concat(list.slice(0, n - shown.length));
    }
    shown.forEach(function (n) {
      frag.appendChild(node("li", "", n.body));
    });
    if (!list.length) {
      frag.appendChild(node("li", "muted", "Please keep your token ready. Thank you for waiting."));
    }
    el.notices.replaceChildren(frag);
  }
  setInterval(function () {
    if (state.notices.length > NOTICES_SHOWN) {
      noticeIndex = (noticeIndex + NOTICES_SHOWN) % state.notices.length;
      renderNotices();
    }
  }, 12000);

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) {
      n.className = cls;
    }
    if (text !== undefined) {
      n.textContent = text;
    }
    return n;
  }

  // ---- call announcement: animation, chime, speech -----------------------------------------

  function announce(call) {
    state.announcedUpTo = Math.max(state.announcedUpTo, call.event_id);
    addCall(call);
    renderHero(true);
    renderRecent();
    chime();
    speak(call);
  }

  var audio = null;
  function audioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) {
      return null;
    }
    if (!audio) {
      audio = new Ctx();
    }
    if (audio.state === "suspended") {
      audio.resume();
      el.sound.classList.add("shown");
    }
    return audio;
  }

  el.sound.addEventListener("click", function () {
    var ctx = audioContext();
    if (ctx) {
      ctx.resume();
    }
    el.sound.classList.remove("shown");
  });

  function chime() {
    var ctx = audioContext();
    if (!ctx || ctx.state !== "running") {
      return;
    }
    [880, 660].forEach(function (freq, i) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      var start = ctx.currentTime + i * 0.45;
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.4, start + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 1.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 1.25);
    });
  }

  var PHRASES = {
    hi: "टोकन {code}, {name}, कृपया {room} में जाएँ",
    en: "Token {code}, {name}, please go to {room}"
  };

  function speak(call) {
    if (!("speechSynthesis" in window) || !window.SpeechSynthesisUtterance) {
      return;
    }
    var phrase = PHRASES[LANG.slice(0, 2)] || PHRASES.en;
    var text = phrase
      .replace("{code}", spell(call.code))
      .replace("{name}", call.name || "")
      .replace("{room}", call.room || "the doctor's room");
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = LANG;
    utterance.rate = 0.9;
    var voice = speechSynthesis.getVoices().find(function (v) {
      return v.lang && v.lang.slice(0, 2) === LANG.slice(0, 2);
    });
    if (voice) {
      utterance.voice = voice;
    }
    if (speechSynthesis.pending) {
      speechSynthesis.cancel(); // never let a backlog of stale calls build up
    }
    setTimeout(function () {
      speechSynthesis.speak(utterance);
    }, 900);
  }

  function spell(code) {
    // "ORT-014" is read "O R T 14", which every voice pronounces clearly.
    var match = /^([A-Za-z]+)-?0*(\d+)$/.exec(code || "");
    return match ? match[1].split("").join(" ") + " " + match[2] : code;
  }

  // ---- clock and housekeeping --------------------------------------------------------------

  function syncClock(serverTime) {
    if (serverTime) {
      state.serverOffset = Date.parse(serverTime) - Date.now();
      renderClock();
    }
  }

  function serverNow() {
    return Date.now() + state.serverOffset;
  }

  var clockFormat = null;
  function renderClock() {
    try {
      clockFormat = clockFormat || new Intl.DateTimeFormat(LANG, {
        hour: "numeric",
        minute: "2-digit",
        timeZone: TZ
      });
      el.clock.textContent = clockFormat.format(new Date(serverNow()));
    } catch (err) {
      el.clock.textContent = new Date(serverNow()).toTimeString().slice(0, 5);
    }
  }
  setInterval(renderClock, 10000);

  function maybeReload() {
    // Cheap TV browsers leak over days; reload once a day at night, only if the server answers.
    if (Date.now() - startedAt < RELOAD_AFTER_MS || el.app.classList.contains("offline")) {
      return;
    }
    var hourFormat = new Intl.DateTimeFormat("en-GB", {
      hour: "numeric",
      hourCycle: "h23",
      timeZone: TZ
    });
    var hour = Number(hourFormat.format(new Date(serverNow())));
    if (hour >= 2 && hour < 5) {
      fetch(location.href, { cache: "no-store" }).then(function (response) {
        if (response.ok) {
          location.reload();
        }
      }, function () {});
    }
  }

  renderClock();
  renderLanes();
  renderRecent();
  renderNotices();
  connect();
})();
