/* Helpline web chat widget. One tag puts a chat bubble on any page:
 *   <script src="https://your-helpline-host/widget.js" defer></script>
 * Plain JavaScript, no build step, no requests anywhere but the Helpline server the script came from.
 * The conversation id lives in sessionStorage (one conversation per browser tab session); agent replies
 * arrive by polling /api/chat/{id}/messages. Every text is inserted with textContent, never as HTML.
 * On another site's page the Helpline server must list that site in HELPLINE_WIDGET_ORIGINS (CORS).
 * Each message carries an Idempotency-Key: when the network drops or the server is busy, the widget sends it
 * again with the same key, and the server stores it once.
 * When the conversation ends (an agent resolves it, or the customer says goodbye) the widget asks "How did we
 * do?" once: five buttons (one click sends the rating) and an optional comment, POST /api/chat/{id}/csat.
 */
(function () {
  "use strict";
  if (window.__helplineWidget) return;
  window.__helplineWidget = true;

  var script = document.currentScript;
  var base = script ? new URL(script.src, location.href).origin : location.origin;
  var KEY = "helpline.conversation";
  var POLL_MS = 2000;
  var RETRIES = 3;           // resends of one message after a network failure or a 503, same key

  var lastId = 0;
  var polling = null;
  var shown = {};

  var css = [
    ".hl-launch{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:28px;",
    "padding:14px 20px;background:#1f6feb;color:#fff;font:600 15px system-ui,sans-serif;cursor:pointer;",
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".hl-launch:focus-visible,.hl-panel button:focus-visible,.hl-panel input:focus-visible{outline:3px solid #ffbf47}",
    ".hl-panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:340px;max-width:calc(100vw - 40px);",
    "height:460px;max-height:calc(100vh - 120px);display:flex;flex-direction:column;background:#fff;",
    "border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.3);font:14px system-ui,sans-serif;color:#1b1b1b}",
    ".hl-panel[hidden]{display:none}",
    ".hl-head{padding:12px 14px;background:#1f6feb;color:#fff;border-radius:12px 12px 0 0;display:flex;",
    "justify-content:space-between;align-items:center;font-weight:600}",
    ".hl-head button{background:none;border:0;color:#fff;font-size:18px;cursor:pointer}",
    ".hl-log{flex:1;overflow-y:auto;padding:10px;display:flex;flex-direction:column;gap:6px}",
    ".hl-msg{max-width:85%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}",
    ".hl-customer{align-self:flex-end;background:#1f6feb;color:#fff}",
    ".hl-bot{align-self:flex-start;background:#eef1f5}",
    ".hl-agent{align-self:flex-start;background:#dff6dd;border:1px solid #9bd49b}",
    ".hl-note{align-self:center;font-size:12px;color:#555}",
    ".hl-quick{display:flex;flex-wrap:wrap;gap:6px}",
    ".hl-quick button{border:1px solid #1f6feb;background:#fff;color:#1f6feb;border-radius:14px;padding:4px 10px;cursor:pointer}",
    ".hl-csat{align-self:stretch;border:1px solid #ccd;border-radius:10px;padding:8px;display:flex;flex-direction:column;gap:6px}",
    ".hl-csat div{display:flex;gap:4px}",
    ".hl-csat div button{flex:1;border:1px solid #1f6feb;background:#fff;color:#1f6feb;border-radius:8px;padding:6px 0;cursor:pointer;font:600 14px system-ui,sans-serif}",
    ".hl-csat input{border:1px solid #ccd;border-radius:6px;padding:6px;font:inherit}",
    ".hl-form{display:flex;border-top:1px solid #ddd}",
    ".hl-form input{flex:1;border:0;padding:12px;font:inherit;border-radius:0 0 0 12px}",
    ".hl-form button{border:0;background:#1f6feb;color:#fff;padding:0 16px;border-radius:0 0 12px 0;cursor:pointer}"
  ].join("");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;  // never innerHTML: customer and agent text stay text
    return node;
  }

  var style = el("style");
  style.textContent = css;
  document.head.appendChild(style);

  var launch = el("button", "hl-launch", "Open chat");
  launch.type = "button";
  launch.setAttribute("aria-expanded", "false");
  launch.setAttribute("aria-controls", "hl-panel");

  var panel = el("section", "hl-panel");
  panel.id = "hl-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "Customer support chat");
  var head = el("div", "hl-head");
  head.appendChild(el("span", "", "Customer support"));
  var close = el("button", "", "\u00d7");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  head.appendChild(close);
  var log = el("div", "hl-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var form = el("form", "hl-form");
  var input = el("input");
  input.type = "text";
  input.maxLength = 2000;
  input.placeholder = "Type your message";
  input.setAttribute("aria-label", "Your message");
  var send = el("button", "", "Send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  document.body.appendChild(panel);
  document.body.appendChild(launch);

  function add(role, text, id) {
    if (id && shown[id]) return;
    if (id) shown[id] = true;
    log.appendChild(el("div", "hl-msg hl-" + role, text));
    log.scrollTop = log.scrollHeight;
  }

  function note(text) {
    log.appendChild(el("div", "hl-note", text));
    log.scrollTop = log.scrollHeight;
  }

  function quickReplies(options) {
    if (!options || !options.length) return;
    var box = el("div", "hl-quick");
    options.forEach(function (option) {
      var b = el("button", "", option);
      b.type = "button";
      b.addEventListener("click", function () { box.remove(); sendMessage(option); });
      box.appendChild(b);
    });
    log.appendChild(box);
  }

  var SCALE = ["very unhappy", "unhappy", "okay", "happy", "very happy"];

  function rated(id) { return sessionStorage.getItem("helpline.rated." + id) === "1"; }

  // "How did we do?": asked once per conversation; a click on 1-5 sends it with the comment typed so far
  function askCsat() {
    var id = sessionStorage.getItem(KEY);
    if (!id || rated(id) || log.querySelector(".hl-csat")) return;
    var box = el("div", "hl-csat");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Rate this conversation");
    box.appendChild(el("span", "", "How did we do?"));
    var comment = el("input");
    comment.type = "text";
    comment.maxLength = 1000;
    comment.placeholder = "Anything to add? (optional)";
    comment.setAttribute("aria-label", "Comment on this conversation (optional)");
    var row = el("div");
    SCALE.forEach(function (words, i) {
      var b = el("button", "", String(i + 1));
      b.type = "button";
      b.title = words;
      b.setAttribute("aria-label", (i + 1) + " of 5, " + words);
      b.addEventListener("click", function () {
        sessionStorage.setItem("helpline.rated." + id, "1");
        box.remove();
        fetch(base + "/api/chat/" + encodeURIComponent(id) + "/csat", {
          method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ rating: i + 1, comment: comment.value })
        }).then(function (r) { note(r.ok || r.status === 409 ? "Thank you for your rating." : "Sorry, the rating did not go through."); },
                function () { note("Sorry, the rating did not go through."); });
      });
      row.appendChild(b);
    });
    box.appendChild(row);
    box.appendChild(comment);
    log.appendChild(box);
    log.scrollTop = log.scrollHeight;
  }

  function poll() {
    var id = sessionStorage.getItem(KEY);
    if (!id) return;
    fetch(base + "/api/chat/" + encodeURIComponent(id) + "/messages?after=" + lastId,
          { mode: "cors", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        data.messages.forEach(function (m) {
          lastId = Math.max(lastId, m.id);
          add(m.role, m.text, m.id);
        });
        if (data.status === "resolved" && !data.rated) askCsat();   // an agent closed the conversation
      })
      .catch(function () { /* offline for a moment: the next poll catches up */ });
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // One message, sent until the server answers: a network failure or a 503 is retried with the same key
  // (waiting what Retry-After says), so a resend can never store the message twice.
  function post(body, key, attempt) {
    return fetch(base + "/api/chat", {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key }, body: JSON.stringify(body)
    })
      .then(function (r) {
        if (r.status === 503 && attempt < RETRIES) {
          var after = parseInt(r.headers.get("Retry-After") || "1", 10);
          return wait(Math.min(10, Math.max(1, after)) * 1000).then(function () { return post(body, key, attempt + 1); });
        }
        return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; },
                             function () { return { ok: false, status: r.status, data: {} }; });
      }, function (error) {
        if (attempt < RETRIES) return wait(1000 * Math.pow(2, attempt)).then(function () { return post(body, key, attempt + 1); });
        throw error;
      });
  }

  function sendMessage(text) {
    text = (text || "").trim();
    if (!text) return;
    add("customer", text);
    input.value = "";
    send.disabled = true;
    var body = { message: text };
    var id = sessionStorage.getItem(KEY);
    if (id) body.conversation_id = id;
    post(body, newKey(), 0)
      .then(function (res) {
        if (res.status === 404 && body.conversation_id) {  // the conversation is gone (retention): start anew
          sessionStorage.removeItem(KEY);
          lastId = 0;
          delete body.conversation_id;
          return post(body, newKey(), 0);
        }
        return res;
      })
      .then(function (res) {
        if (!res.ok) { note("Sorry, that did not go through: " + (res.data.detail || "please try again")); return; }
        var data = res.data;
        sessionStorage.setItem(KEY, data.conversation_id);
        shown[data.message_id] = true;  // our own message, already on screen
        if (data.reply) add("bot", data.reply, data.reply_message_id);
        quickReplies(data.quick_replies);
        if (data.handoff) note("You are now talking to a person. They will reply here.");
        if (data.ask_csat) askCsat();
      })
      .catch(function () { note("Sorry, the chat is not reachable right now. Please try again."); })
      .then(function () { send.disabled = false; input.focus(); });
  }

  function open() {
    panel.hidden = false;
    launch.textContent = "Close chat";
    launch.setAttribute("aria-expanded", "true");
    if (!log.childNodes.length) add("bot", "Hi! How can we help you today?");
    input.focus();
    poll();
    if (!polling) polling = setInterval(poll, POLL_MS);
  }

  function hide() {
    panel.hidden = true;
    launch.textContent = "Open chat";
    launch.setAttribute("aria-expanded", "false");
    launch.focus();
  }

  launch.addEventListener("click", function () { if (panel.hidden) open(); else hide(); });
  close.addEventListener("click", hide);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
  form.addEventListener("submit", function (e) { e.preventDefault(); sendMessage(input.value); });
})();
