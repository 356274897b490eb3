// WhatsApp simulator page: pick who you are, type, tap buttons and list rows; poll the chat.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 700;
  let version = null;
  let held = [];
  let pollTimer = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function mode() {
    return document.querySelector('input[name="mode"]:checked').value;
  }

  function who() {
    const base = { phone_number_id: $("clinic").value, name: $("name").value.trim() || "Patient" };
    if (mode() === "phone") base.wa_id = $("phone").value.replace(/\D/g, "");
    else base.user_id = $("bsuid").value.trim();
    return base;
  }

  function party() {
    const w = who();
    return w.wa_id || w.user_id || "";
  }

  function say(text, error) {
    $("status").textContent = text;
    $("status").classList.toggle("error", Boolean(error));
  }

  async function post(messages) {
    const body = Object.assign(who(), { messages: messages });
    try {
      const response = await fetch("/simulator/api/send", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json();
      if (!response.ok) say(data.error || ("Webhook answered " + data.webhook_status), true);
      else say("Delivered to /webhooks/whatsapp (" + messages.length + " message" + (messages.length > 1 ? "s" : "") + ")");
    } catch (err) {
      say("Could not reach the service: " + err, true);
    }
    poll();
  }

  function send(item) {
    if ($("batch").checked) {
      held.push(item);
      $("flush").textContent = "Send held (" + held.length + ")";
      $("flush").hidden = false;
      say(held.length + " held; they go as one delivery");
      return;
    }
    post([item]);
  }

  function flush() {
    if (!held.length) return;
    const batch = held;
    held = [];
    $("flush").hidden = true;
    post(batch);
  }

  function ticks(bubble) {
    const meta = el("div", "meta");
    const time = new Date(bubble.at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    meta.append(time + " ");
    if (bubble.direction === "in") {
      if (bubble.webhook_status && bubble.webhook_status !== 200) {
        meta.append(el("span", "", "✕ webhook " + bubble.webhook_status));
      } else {
        const read = bubble.status === "read";
        meta.append(el("span", read ? "read" : "", read ? "✓✓" : bubble.webhook_status ? "✓✓" : "✓"));
      }
    } else {
      meta.append(el("span", "", bubble.status));
    }
    return meta;
  }

  function inboundView(node, body) {
    if (body.type === "text") {
      node.append(body.text.body);
      return;
    }
    const kind = body.interactive.type;
    const reply = body.interactive[kind];
    node.append(el("div", "reply", kind === "list_reply" ? "Chose from the list" : "Tapped a button"));
    node.append(reply.title || reply.id);
  }

  function frame(node, interactive) {
    if (interactive.header) node.append(el("div", "header", interactive.header.text));
    node.append(el("div", "text", interactive.body.text));
    if (interactive.footer) node.append(el("div", "footer", interactive.footer.text));
  }

  function buttonsView(node, body, wamid) {
    const interactive = body.interactive;
    frame(node, interactive);
    const actions = el("div", "actions");
    interactive.action.buttons.forEach((b) => {
      const button = el("button", "", b.reply.title);
      button.type = "button";
      button.dataset.id = b.reply.id;
      button.addEventListener("click", () =>
        send({ type: "button_reply", id: b.reply.id, title: b.reply.title, context_id: wamid }));
      actions.append(button);
    });
    node.append(actions);
  }

  function listView(node, body, wamid) {
    const interactive = body.interactive;
    frame(node, interactive);
    const actions = el("div", "actions");
    const open = el("button", "list-open", "☰ " + interactive.action.button);
    open.type = "button";
    open.addEventListener("click", () => openSheet(interactive, wamid));
    actions.append(open);
    node.append(actions);
  }

  // A WhatsApp Flow: the bubble shows its CTA. The simulator cannot run Flow screens, so a tap
  // runs the same booking as list steps (the conversation's "menu:book_list").
  function flowView(node, body, wamid) {
    const interactive = body.interactive;
    frame(node, interactive);
    const cta = interactive.action.parameters.flow_cta;
    node.append(el("div", "tag", "WhatsApp Flow · opens as list steps here"));
    const actions = el("div", "actions");
    const open = el("button", "flow-open", cta);
    open.type = "button";
    open.dataset.id = "menu:book_list";
    open.addEventListener("click", () =>
      send({ type: "button_reply", id: "menu:book_list", title: cta, context_id: wamid }));
    actions.append(open);
    node.append(actions);
  }

  function openSheet(interactive, wamid) {
    $("sheet-title").textContent = interactive.action.button;
    const target = $("sheet-body");
    target.replaceChildren();
    interactive.action.sections.forEach((section) => {
      if (section.title) target.append(el("div", "section-title", section.title));
      section.rows.forEach((row) => {
        const button = el("button", "row");
        button.type = "button";
        button.dataset.id = row.id;
        button.append(el("div", "title", row.title));
        if (row.description) button.append(el("div", "desc", row.description));
        button.addEventListener("click", () => {
          closeSheet();
          send({ type: "list_reply", id: row.id, title: row.title, description: row.description || "", context_id: wamid });
        });
        target.append(button);
      });
    });
    $("sheet").hidden = false;
    const first = target.querySelector("button");
    if (first) first.focus();
  }

  function closeSheet() {
    $("sheet").hidden = true;
  }

  function templateView(node, body) {
    const template = body.template;
    node.append(el("div", "tag", "Template · " + template.name));
    const params = [];
    (template.components || []).forEach((c) => (c.parameters || []).forEach((p) => params.push(p.text)));
    if (params.length) node.append(el("div", "text", params.join("\n")));
  }

  function documentView(node, body) {
    const doc = el("div", "doc");
    doc.append(el("span", "icon", "PDF"), el("span", "", body.document.filename || "document"));
    node.append(doc);
    if (body.document.caption) node.append(el("div", "text", body.document.caption));
  }

  function outboundView(node, body, wamid) {
    if (body.type === "text") node.append(body.text.body);
    else if (body.type === "interactive" && body.interactive.type === "button") buttonsView(node, body, wamid);
    else if (body.type === "interactive" && body.interactive.type === "list") listView(node, body, wamid);
    else if (body.type === "interactive" && body.interactive.type === "flow") flowView(node, body, wamid);
    else if (body.type === "template") templateView(node, body);
    else if (body.type === "document") documentView(node, body);
    else node.append(el("div", "tag", body.type), JSON.stringify(body));
  }

  function draw(bubbles) {
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.replaceChildren();
    if (!bubbles.length) {
      box.append(el("div", "empty", 'Say "hi" to start. Try "CHECKIN main" once you have an appointment.'));
    }
    bubbles.forEach((b) => {
      const node = el("div", "bubble " + b.direction);
      node.dataset.wamid = b.wamid;
      if (b.direction === "in") inboundView(node, b.body);
      else outboundView(node, b.body, b.wamid);
      if (b.webhook_status && b.webhook_status !== 200) node.classList.add("failed");
      node.append(ticks(b));
      box.append(node);
    });
    if (atBottom || bubbles.length) box.scrollTop = box.scrollHeight;
  }

  async function poll() {
    clearTimeout(pollTimer);
    const p = party();
    if ($("clinic").value && p) {
      const query = new URLSearchParams({ phone_number_id: $("clinic").value, party: p });
      if (version !== null) query.set("version", version);
      try {
        const response = await fetch("/simulator/api/chat?" + query);
        const data = await response.json();
        if (data.bubbles) draw(data.bubbles);
        version = data.version;
      } catch (err) {
        say("Lost the service; retrying…", true);
      }
    }
    pollTimer = setTimeout(poll, POLL_MS);
  }

  function restart() {
    version = null;
    const option = $("clinic").selectedOptions[0];
    $("chat-title").textContent = option ? option.dataset.clinic : "Clinic";
    $("chat-sub").textContent = option ? option.dataset.display : "";
    poll();
  }

  async function loadClinics() {
    const response = await fetch("/simulator/api/clinics");
    const data = await response.json();
    const select = $("clinic");
    select.replaceChildren();
    data.clinics.forEach((c) => {
      const option = el("option", "", c.clinic + " · " + c.phone_number_id);
      option.value = c.phone_number_id;
      option.dataset.clinic = c.clinic;
      option.dataset.display = c.display_number || "WhatsApp Business";
      select.append(option);
    });
    if (!data.clinics.length) say("No clinic has a WhatsApp number: run `qlink seed demo`.", true);
    restart();
  }

  function init() {
    $("bsuid").value = "IN.SIM" + Math.random().toString(36).slice(2, 12).toUpperCase();
    document.querySelectorAll('input[name="mode"]').forEach((r) =>
      r.addEventListener("change", () => {
        $("phone-field").hidden = mode() !== "phone";
        $("bsuid-field").hidden = mode() !== "bsuid";
        restart();
      }));
    ["clinic", "phone", "bsuid"].forEach((id) => $(id).addEventListener("change", restart));
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("text").value.trim();
      if (!text) return;
      $("text").value = "";
      send({ type: "text", body: text });
    });
    $("flush").addEventListener("click", flush);
    $("batch").addEventListener("change", () => { if (!$("batch").checked) flush(); });
    $("sheet-close").addEventListener("click", closeSheet);
    $("sheet").addEventListener("click", (event) => { if (event.target === $("sheet")) closeSheet(); });
    document.addEventListener("keydown", (event) => { if (event.key === "Escape") closeSheet(); });
    loadClinics().catch((err) => say("Could not load the clinics: " + err, true));
  }

  init();
})();
