/*! Deskpilot chat widget. Protocol: docs/widget-protocol.md.
 *
 * Embedded on a business's site with
 *   <script src="https://TENANT-DOMAIN/widget.js" data-key="PUBLIC_KEY" async></script>
 * Everything it draws lives in one shadow root, so the page's CSS cannot reach it and its CSS cannot
 * reach the page; the only global it adds is window.Deskpilot. Untrusted text (customers', answers,
 * agents') only ever becomes DOM through text nodes: no HTML string is ever parsed.
 */
(function () {
  "use strict";
  if (window.Deskpilot && window.Deskpilot._loaded) return;

  var script = document.currentScript;
  if (!script || !script.getAttribute("data-key")) {
    script = document.querySelector('script[data-key][src*="widget.js"]');
  }
  if (!script) return;
  var KEY = script.getAttribute("data-key");
  var ORIGIN = new URL(script.src, location.href).origin;
  var STORE_KEY = "deskpilot:" + ORIGIN + ":" + KEY;

  var PING_SILENCE_MS = 50000; // the server pings every 20 s; this long without a frame means a dead line
  var TYPING_IDLE_MS = 2500;
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_MAX_MS = 30000;
  var REFUSED_CODES = { 4403: 1, 4404: 1 }; // the server said no: retrying cannot help
  var TOO_MANY_CONNECTIONS = 4429;           // too many handshakes from this network: retry after retry_after

  var TEXT = {
    en: {
      open: "Open chat", close: "Close chat", chat_with: "Chat with {name}", conversation: "Conversation",
      message_label: "Your message", placeholder: "Type your message…", send: "Send",
      person: "Talk to a person", person_asked: "A person has been asked to join",
      typing_assistant: "{name} is typing…", typing_agent: "{name} is typing…", agent: "Team",
      sources: "Sources", sending: "Sending…", not_sent: "Not sent", reconnecting: "Reconnecting…",
      offline: "Chat is not available on this site right now.", prechat_intro: "Before we start, tell us who you are.",
      name: "Name", email: "E-mail", start: "Start chat", rate: "How did we do?",
      rate_n: "{n} out of 5", rated: "Thanks for your feedback!", unread: "{n} new messages", assistant: "Assistant",
      person_here: "{name} from {business} is here",
      products: "Suggested products", in_stock: "In stock", sold_out: "Sold out", pre_order: "Pre-order",
      view: "View {name} (opens in a new tab)"
    },
    nl: {
      open: "Chat openen", close: "Chat sluiten", chat_with: "Chat met {name}", conversation: "Gesprek",
      message_label: "Je bericht", placeholder: "Typ je bericht…", send: "Versturen",
      person: "Met een medewerker praten", person_asked: "We hebben een medewerker gevraagd",
      typing_assistant: "{name} typt…", typing_agent: "{name} typt…", agent: "Team",
      sources: "Bronnen", sending: "Versturen…", not_sent: "Niet verstuurd", reconnecting: "Opnieuw verbinden…",
      offline: "De chat is nu niet beschikbaar op deze site.", prechat_intro: "Vertel ons eerst wie je bent.",
      name: "Naam", email: "E-mail", start: "Chat starten", rate: "Hoe hebben we het gedaan?",
      rate_n: "{n} van 5", rated: "Bedankt voor je beoordeling!", unread: "{n} nieuwe berichten", assistant: "Assistent",
      person_here: "{name} van {business} is er",
      products: "Voorgestelde producten", in_stock: "Op voorraad", sold_out: "Uitverkocht", pre_order: "Voorbestelling",
      view: "Bekijk {name} (opent in een nieuw tabblad)"
    }
  };

  var CSS = [
    ":host{all:initial!important;display:block!important;position:fixed!important;top:0!important;left:0!important;",
    "width:0!important;height:0!important;z-index:2147483000!important}",
    ".dp{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1d2329;",
    "-webkit-font-smoothing:antialiased;letter-spacing:normal;text-align:left;text-transform:none}",
    // Resets carry no specificity (:where), so every component rule below wins over them.
    ":where(.dp *){box-sizing:border-box;font:inherit;color:inherit;letter-spacing:inherit;margin:0;padding:0}",
    ":where(.dp) :where(button,textarea,input){border:0;background:none;text-transform:none;text-shadow:none;box-shadow:none}",
    ":where(.dp) button{cursor:pointer}",
    ".dp [hidden]{display:none!important}",
    ".dp :focus-visible{outline:3px solid #ffbf47;outline-offset:2px;box-shadow:0 0 0 5px #0b0c0c}",
    ".sr{position:absolute!important;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    ".launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;",
    "background:var(--dp-primary);color:var(--dp-on-primary);display:flex;align-items:center;justify-content:center;",
    "box-shadow:0 6px 20px rgba(0,0,0,.25);transition:transform .15s}",
    ".launcher:hover{transform:scale(1.06)}",
    ".left .launcher{right:auto;left:20px}",
    ".launcher svg{width:28px;height:28px;fill:currentColor}",
    ".launcher .i-down,.open .launcher .i-chat{display:none}.open .launcher .i-down{display:block}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;border-radius:11px;background:#c62828;",
    "color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;padding:0 6px}",
    ".panel{position:fixed;bottom:92px;right:20px;z-index:2147483001;width:380px;height:min(620px,calc(100vh - 112px));",
    "background:#fff;border-radius:14px;box-shadow:0 12px 48px rgba(0,0,0,.28);display:flex;flex-direction:column;",
    "overflow:hidden}",
    ".left .panel{right:auto;left:20px}",
    ".head{display:flex;align-items:center;gap:10px;padding:14px 12px 14px 16px;background:var(--dp-primary);",
    "color:var(--dp-on-primary)}",
    ".avatar{width:38px;height:38px;border-radius:50%;flex:none;object-fit:cover;background:rgba(255,255,255,.2);",
    "display:flex;align-items:center;justify-content:center;font-weight:700;font-size:17px}",
    ".title{flex:1;min-width:0}",
    ".title h2{font-size:16px;font-weight:700;line-height:1.2;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}",
    ".title p{font-size:12.5px}",
    ".x{width:40px;height:40px;border-radius:8px;display:flex;align-items:center;justify-content:center}",
    ".x:hover{background:rgba(255,255,255,.18)}",
    ".x svg{width:20px;height:20px;fill:currentColor}",
    ".away{background:#fff4ce;color:#3d3000;padding:9px 16px;font-size:13.5px;border-bottom:1px solid #f0dc8c}",
    ".away.here{background:#e6f4ea;color:#17401f;border-bottom-color:#a8d5b5}",
    ".notice{background:#fdecea;color:#7a1a12;padding:8px 16px;font-size:13.5px}",
    ".log{flex:1;overflow-y:auto;padding:16px 14px 8px;display:flex;flex-direction:column;gap:10px;background:#f6f7f9}",
    ".msg{max-width:84%;display:flex;flex-direction:column;gap:4px}",
    ".bubble{padding:9px 13px;border-radius:16px;background:#fff;border:1px solid #e1e4e8;overflow-wrap:anywhere;",
    "white-space:normal}",
    ".bubble p+p,.bubble p+ul,.bubble p+ol,.bubble ul+p,.bubble ol+p{margin-top:6px}",
    ".bubble ul,.bubble ol{padding-left:20px}",
    ".bubble a{color:#0b57d0;text-decoration:underline}",
    ".bubble strong{font-weight:700}",
    ".customer{align-self:flex-end;align-items:flex-end}",
    ".customer .bubble{background:var(--dp-primary);color:var(--dp-on-primary);border-color:transparent;",
    "border-bottom-right-radius:4px;white-space:pre-wrap}",
    ".assistant,.agent{align-self:flex-start}",
    ".assistant .bubble,.agent .bubble{border-bottom-left-radius:4px}",
    ".agent .bubble{border-color:#b9c6d6;background:#eef3f9}",
    ".who{font-size:12px;color:#4d5560;padding:0 4px;display:flex;align-items:center;gap:6px}",
    ".who img{width:22px;height:22px;border-radius:50%;object-fit:cover}",
    ".system{align-self:center;max-width:92%;text-align:center;font-size:13px;color:#4d5560;font-style:italic}",
    ".state{font-size:12px;color:#4d5560;padding:0 4px}",
    ".failed .state{color:#b3261e}",
    ".srcs{font-size:12.5px;color:#4d5560;padding:0 4px}",
    ".srcs ul{list-style:none;display:flex;flex-wrap:wrap;gap:4px 10px;margin-top:2px}",
    ".srcs a{color:#0b57d0;text-decoration:underline}",
    ".cards{list-style:none;display:flex;flex-direction:column;gap:6px;padding:0 2px;align-self:stretch}",
    ".card{display:flex;gap:10px;align-items:center;background:#fff;border:1px solid #d5dae0;border-radius:10px;",
    "padding:8px 10px}",
    ".card img{width:48px;height:48px;border-radius:6px;object-fit:cover;flex:none}",
    ".card .name{font-weight:600;color:#1d2329}",
    ".card a.name{color:#0b57d0;text-decoration:underline}",
    ".card a.name:focus-visible{outline:2px solid #0b57d0;outline-offset:2px}",
    ".card .meta{font-size:12.5px;color:#4d5560}",
    ".card .sold_out{color:#b3261e}",
    ".quick{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start}",
    ".chip{border:1.5px solid var(--dp-primary);color:#1d2329;background:#fff;",
    "border-radius:16px;padding:6px 12px;font-size:13.5px}",
    ".chip:hover{background:#eef3f9}",
    ".typing{font-size:12.5px;color:#4d5560;padding:2px 18px 6px;min-height:24px;background:#f6f7f9}",
    ".dots{display:inline-flex;gap:3px;margin-right:6px;vertical-align:middle}",
    ".dots i{width:6px;height:6px;border-radius:50%;background:#6b7480;animation:dp-b 1.2s infinite}",
    ".dots i:nth-child(2){animation-delay:.2s}.dots i:nth-child(3){animation-delay:.4s}",
    "@keyframes dp-b{0%,60%,100%{opacity:.3;transform:translateY(0)}30%{opacity:1;transform:translateY(-3px)}}",
    ".rating{align-self:stretch;background:#fff;border:1px solid #e1e4e8;border-radius:12px;padding:10px 12px}",
    ".rating fieldset{border:0}",
    ".rating legend{font-weight:600;margin-bottom:6px}",
    ".stars{display:flex;gap:6px}",
    ".stars button{width:40px;height:40px;border-radius:8px;border:1.5px solid #8a939e;font-weight:700}",
    ".stars button:hover{background:#eef3f9}",
    ".foot{border-top:1px solid #e1e4e8;padding:10px 12px 12px;background:#fff}",
    ".compose{display:flex;gap:8px;align-items:flex-end}",
    ".compose textarea{flex:1;resize:none;min-height:42px;max-height:120px;border:1.5px solid #8a939e;",
    "border-radius:10px;padding:9px 11px;background:#fff;color:#1d2329}",
    ".send{height:42px;padding:0 16px;border-radius:10px;background:var(--dp-primary);",
    "color:var(--dp-on-primary);font-weight:600}",
    ".send:disabled{opacity:.6;cursor:default}",
    ".human{margin-top:8px;font-size:13px;color:#1d2329;text-decoration:underline;padding:4px 2px}",
    ".human[disabled]{text-decoration:none;color:#4d5560;cursor:default}",
    ".prechat{display:flex;flex-direction:column;gap:8px}",
    ".prechat label{font-size:13px;font-weight:600}",
    ".prechat input{display:block;width:100%;margin-top:3px;height:40px;border:1.5px solid #8a939e;",
    "border-radius:8px;padding:0 10px;background:#fff;color:#1d2329}",
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;max-height:none;border-radius:0;",
    "bottom:0;right:0;left:0}.launcher{bottom:14px;right:14px}.left .launcher{left:14px}",
    ".compose textarea{font-size:16px}}",
    "@media (prefers-reduced-motion:reduce){.dots i{animation:none}.launcher{transition:none}}"
  ].join("");

  // ------------------------------------------------------------------ small helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var name in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, name) || attrs[name] == null) continue;
        if (name === "class") node.className = attrs[name];
        else if (name === "text") node.textContent = attrs[name];
        else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), attrs[name]);
        else node.setAttribute(name, attrs[name]);
      }
    }
    (children || []).forEach(function (child) {
      if (child != null) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function icon(path, name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    if (name) svg.setAttribute("class", name);
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }
  var CHAT_ICON = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2zm3 6v2h10V9H7zm0-3v2h10V6H7zm0 6v2h7v-2H7z";
  var CHEVRON_ICON = "M5.6 8.3 12 14.7l6.4-6.4L19.8 9.7 12 17.5 4.2 9.7z";
  var CLOSE_ICON = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // "localStorage" keeps the visitor's token across visits; "sessionStorage" whether the panel was open.
  // Either may be missing or throw (storage disabled): the chat then still works for this page.
  function load(kind) {
    try { return JSON.parse(window[kind].getItem(STORE_KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function save(kind, patch) {
    try {
      var value = load(kind);
      for (var k in patch) value[k] = patch[k];
      window[kind].setItem(STORE_KEY, JSON.stringify(value));
    } catch (e) { /* see load */ }
  }

  function safeUrl(raw) {
    try {
      var url = new URL(String(raw), location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) { return null; }
  }

  function link(href, label) {
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: label });
  }

  // Readable contrast for text on the business's colour when it did not say which to use.
  function onColour(hex) {
    var m = /^#?([0-9a-f]{6})$/i.exec(hex || "");
    if (!m) return "#ffffff";
    var n = parseInt(m[1], 16);
    var lum = [n >> 16, (n >> 8) & 255, n & 255].map(function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2] > 0.4 ? "#111111" : "#ffffff";
  }

  // ------------------------------------------------------------------ safe Markdown
  // Links (http/https only), bare URLs, **bold**, bullet and numbered lists, line breaks. Nothing else
  // is interpreted: every other character, "<" included, stays text.

  var INLINE = /\*\*([^*]+)\*\*|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

  function inline(parent, text) {
    var last = 0, m;
    INLINE.lastIndex = 0;
    while ((m = INLINE.exec(text))) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1] != null) {
        parent.appendChild(el("strong", { text: m[1] }));
      } else if (m[2] != null) {
        var href = safeUrl(m[3]);
        parent.appendChild(href && /^https?:/i.test(m[3]) ? link(href, m[2]) : document.createTextNode(m[2]));
      } else {
        var bare = safeUrl(m[4]);
        parent.appendChild(bare ? link(bare, m[4]) : document.createTextNode(m[4]));
      }
      last = INLINE.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function markdown(text) {
    var frag = document.createDocumentFragment();
    var lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    var list = null, listType = "", para = null;
    lines.forEach(function (line) {
      var bullet = /^\s*[-*•]\s+(.*)$/.exec(line);
      var numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      var item = bullet || numbered;
      if (item) {
        var type = bullet ? "ul" : "ol";
        if (!list || listType !== type) {
          list = el(type);
          listType = type;
          frag.appendChild(list);
        }
        var li = el("li");
        inline(li, item[1]);
        list.appendChild(li);
        para = null;
        return;
      }
      list = null;
      if (!line.trim()) { para = null; return; }
      if (para) para.appendChild(el("br"));
      else { para = el("p"); frag.appendChild(para); }
      inline(para, line);
    });
    return frag;
  }

  // ------------------------------------------------------------------ state

  var config = null;
  var t = TEXT.en;
  var local = load("localStorage");
  var state = {
    token: local.token || "",
    conversationId: null,
    status: "bot",
    away: { open: true, message: "" },
    person: null,             // {name, avatar_url}: the team member who has the conversation (status human)
    prechatDone: true,
    lastId: 0,
    welcomed: false,
    connectedOnce: false,
    refused: false,
    isOpen: false,
    unread: 0
  };
  var outbox = [];          // {client_id, text, node}: shown, not yet acknowledged
  var later = [];           // other frames asked for before the line was up (pre-chat, handoff, rating)
  var holdUntil = 0;        // rate limited: send nothing before this time
  var answers = {};         // answer_ref -> {seq, text, pending: {seq: text}, node, reply_to}
  var answerOrder = [];
  var byId = {};            // stored message id -> node
  var byClientId = {};      // client_id -> node of a customer message
  var ws = null, attempts = 0, reconnectTimer = null, silenceTimer = null, holdTimer = null;
  var typingSent = false, typingTimer = null, remoteTypingTimer = null;
  var debugFrames = [];
  var ui = {};

  // ------------------------------------------------------------------ rendering

  function build() {
    var host = document.createElement("deskpilot-widget");
    var root = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = CSS;
    root.appendChild(style);

    var primary = (config.colors && config.colors.primary) || "#1f6feb";
    var onPrimary = (config.colors && config.colors.text) || onColour(primary);
    var wrap = el("div", { class: "dp" + (config.position === "left" ? " left" : ""), lang: config.language || "en" });
    wrap.style.setProperty("--dp-primary", primary);
    wrap.style.setProperty("--dp-on-primary", onPrimary);

    ui.badge = el("span", { class: "badge", hidden: "" });
    ui.launcher = el("button", {
      class: "launcher", type: "button", "aria-label": t.open, "aria-expanded": "false", "aria-controls": "dp-panel",
      onclick: function () { state.isOpen ? close() : open(); }
    }, [icon(CHAT_ICON, "i-chat"), icon(CHEVRON_ICON, "i-down"), ui.badge]);

    var avatar = config.avatar_url && safeUrl(config.avatar_url)
      ? el("img", { class: "avatar", src: safeUrl(config.avatar_url), alt: "" })
      : el("span", { class: "avatar", "aria-hidden": "true", text: (config.name || "?").trim().charAt(0).toUpperCase() });
    ui.subtitle = el("p");
    var heading = el("h2", { id: "dp-title", text: config.name || "" });
    ui.away = el("p", { class: "away", role: "status", hidden: "" });
    ui.notice = el("p", { class: "notice", role: "alert", hidden: "" });
    ui.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t.conversation, tabindex: "0" });
    ui.typing = el("div", { class: "typing", "aria-live": "polite" });

    ui.textarea = el("textarea", { id: "dp-input", rows: "1", placeholder: t.placeholder, maxlength: "4000",
      autocomplete: "off", oninput: onInput, onkeydown: onComposeKey });
    ui.send = el("button", { class: "send", type: "submit", text: t.send });
    ui.compose = el("form", { class: "compose", onsubmit: function (e) { e.preventDefault(); submitCompose(); } }, [
      el("label", { for: "dp-input", class: "sr", text: t.message_label }), ui.textarea, ui.send
    ]);
    ui.human = el("button", { class: "human", type: "button", text: t.person, onclick: askForPerson });
    ui.prechat = buildPrechat();
    ui.foot = el("div", { class: "foot" }, [ui.prechat, ui.compose, ui.human]);

    ui.panel = el("div", { class: "panel", id: "dp-panel", role: "dialog", "aria-labelledby": "dp-title", hidden: "",
      onkeydown: function (e) { if (e.key === "Escape") { e.stopPropagation(); close(); } } }, [
      el("div", { class: "head" }, [avatar, el("div", { class: "title" }, [heading, ui.subtitle]),
        el("button", { class: "x", type: "button", "aria-label": t.close, onclick: function () { close(); } },
          [icon(CLOSE_ICON)])]),
      ui.away, ui.notice, ui.log, ui.typing, ui.foot
    ]);

    if (config.greeting) ui.log.appendChild(messageNode({ author: "assistant", text: config.greeting }, "greeting"));
    wrap.appendChild(ui.panel);
    wrap.appendChild(ui.launcher);
    root.appendChild(wrap);
    ui.wrap = wrap;
    document.body.appendChild(host);
    ui.host = host;
    ui.root = root;
    renderChrome();
  }

  function buildPrechat() {
    var required = config.prechat && config.prechat.require_email;
    var name = el("input", { id: "dp-name", type: "text", autocomplete: "name", maxlength: "200" });
    var email = el("input", { id: "dp-email", type: "email", autocomplete: "email", maxlength: "254" });
    if (required) email.required = true;
    return el("form", { class: "prechat", hidden: "", onsubmit: function (e) {
      e.preventDefault();
      if (!email.checkValidity()) { email.reportValidity(); return; }
      sendSoon({ type: "prechat", name: name.value.trim(), email: email.value.trim() });
    } }, [
      el("p", { text: t.prechat_intro }),
      el("label", { for: "dp-name" }, [t.name, name]),
      el("label", { for: "dp-email" }, [t.email + (required ? " *" : ""), email]),
      el("button", { class: "send", type: "submit", text: t.start })
    ]);
  }

  function renderChrome() {
    var away = state.away || {};
    // A person answering live outranks "we're closed": the customer is not waiting for tomorrow.
    var here = state.status === "human" && state.person && state.person.name;
    ui.away.classList.toggle("here", !!here);
    ui.away.hidden = !here && (!!away.open || !away.message);
    ui.away.textContent = here
      ? t.person_here.replace("{name}", state.person.name).replace("{business}", config.business_name || config.name || "")
      : away.open ? "" : (away.message || "");
    var needsPrechat = config.prechat && config.prechat.enabled && !state.prechatDone;
    ui.prechat.hidden = !needsPrechat;
    ui.compose.hidden = !!needsPrechat;
    var withPerson = state.status === "needs_human" || state.status === "human";
    ui.human.disabled = withPerson;
    ui.human.textContent = state.status === "needs_human" ? t.person_asked : t.person;
    ui.human.hidden = state.status === "human" || !!needsPrechat;
    ui.subtitle.textContent = ws && ws.readyState === 1 || !state.connectedOnce ? "" : t.reconnecting;
    ui.badge.hidden = !state.unread || state.isOpen;
    ui.badge.textContent = String(state.unread);
    ui.launcher.setAttribute("aria-label", state.unread && !state.isOpen
      ? t.open + " (" + t.unread.replace("{n}", state.unread) + ")" : t.open);
  }

  function showNotice(text) {
    ui.notice.textContent = text || "";
    ui.notice.hidden = !text;
  }

  function scrollDown() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // An avatar the server names by its path (an uploaded image) lives on the chat server, not the page's site.
  function serverUrl(raw) {
    try { return raw ? safeUrl(new URL(String(raw), ORIGIN + "/").href) : null; } catch (e) { return null; }
  }

  function authorName(message) {
    if (message.author === "agent") return message.agent || t.agent;
    return config.name || t.assistant;
  }

  function messageNode(message, kind) {
    var author = message.author;
    if (author === "system") return el("p", { class: "msg system", text: message.text });
    var bubble = el("div", { class: "bubble" });
    if (author === "customer") bubble.textContent = message.text;
    else bubble.appendChild(markdown(message.text));
    var node = el("div", { class: "msg " + author }, [
      author === "agent" ? el("span", { class: "who" }, [
        serverUrl(message.agent_avatar) ? el("img", { src: serverUrl(message.agent_avatar), alt: "" }) : null,
        authorName(message)
      ]) : null,
      author === "customer" ? null : el("span", { class: "sr", text: authorName(message) + ":" }),
      bubble
    ]);
    if (author === "customer") node.insertBefore(el("span", { class: "sr", text: "You:" }), bubble);
    var sources = (message.sources || []).filter(function (s) { return s && (s.title || s.url); });
    if (sources.length) {
      var list = el("ul");
      var seen = {};
      sources.forEach(function (s) {
        var href = s.url ? safeUrl(s.url) : null;
        var label = s.title || s.url;
        if (seen[label + "|" + href]) return;
        seen[label + "|" + href] = 1;
        list.appendChild(el("li", null, [href ? link(href, label) : el("span", { text: label })]));
      });
      node.appendChild(el("div", { class: "srcs" }, [el("span", { text: t.sources + ":" }), list]));
    }
    var cards = productCards(message.products);
    if (cards) node.appendChild(cards);
    if (kind) node.setAttribute("data-kind", kind);
    return node;
  }

  // The products an answer recommends, as a list a screen reader announces with its count: each card
  // its picture and name (a link to the product page where the catalog has one), price and
  // availability. Pictures load lazily in a fixed box, so the log never jumps when one arrives.
  function productCards(products) {
    products = (products || []).filter(function (p) { return p && p.name; });
    if (!products.length) return null;
    var list = el("ul", { class: "cards", "aria-label": t.products });
    products.forEach(function (p) {
      var href = p.url ? safeUrl(p.url) : null;
      var image = p.image ? safeUrl(p.image) : null;
      var state = t[p.availability] || "";
      var name = href ? el("a", { class: "name", href: href, target: "_blank", rel: "noopener noreferrer",
                                  text: p.name, "aria-label": t.view.replace("{name}", p.name) })
                      : el("span", { class: "name", text: p.name });
      list.appendChild(el("li", { class: "card" }, [
        image ? el("img", { src: image, alt: p.name, width: "48", height: "48", loading: "lazy",
                            decoding: "async", referrerpolicy: "no-referrer" }) : null,
        el("div", null, [name, el("div", { class: "meta" }, [
          el("span", { text: p.price }), state ? " · " : null,
          state ? el("span", { class: p.availability, text: state }) : null
        ])])
      ]));
    });
    return list;
  }

  // Stored messages sit in id order; nodes without an id yet (sending, streaming) keep their place.
  function place(node, id) {
    if (id) {
      node.setAttribute("data-id", id);
      var children = ui.log.children;
      for (var i = 0; i < children.length; i++) {
        var other = +children[i].getAttribute("data-id");
        if (other && other > id) { ui.log.insertBefore(node, children[i]); return; }
      }
    }
    ui.log.appendChild(node);
  }

  function clearQuickReplies() {
    var old = ui.log.querySelectorAll(".quick");
    for (var i = 0; i < old.length; i++) old[i].remove();
  }

  function showQuickReplies(after, replies) {
    clearQuickReplies();
    if (!replies || !replies.length) return;
    var box = el("div", { class: "quick", role: "group", "aria-label": "Suggested replies" });
    replies.forEach(function (reply) {
      box.appendChild(el("button", { class: "chip", type: "button", text: reply, onclick: function () {
        clearQuickReplies();
        sendMessage(reply);
      } }));
    });
    after.parentNode.insertBefore(box, after.nextSibling);
  }

  function isLast(node) {
    var n = node.nextElementSibling;
    while (n && n.classList.contains("quick")) n = n.nextElementSibling;
    return !n;
  }

  function noteId(id) {
    if (id && id > state.lastId) state.lastId = id;
  }

  function seenUnread(message) {
    if (!state.isOpen && (message.author === "agent" || message.author === "assistant")) {
      state.unread += 1;
      renderChrome();
    }
  }

  // A stored message from welcome's history, a resume, a live `message` frame or `answer.end`.
  function addMessage(message, live) {
    if (!message || !message.id) return null;
    noteId(message.id);
    if (byId[message.id]) return byId[message.id];
    var mine = message.client_id && byClientId[message.client_id];
    if (mine) {
      settleOutgoing(message.client_id, message.id);
      return mine;
    }
    if (message.author === "assistant") {
      // An answer we were streaming that finished while the line was down arrives as a plain message.
      for (var i = 0; i < answerOrder.length; i++) {
        var a = answers[answerOrder[i]];
        if (a && (!a.reply_to || a.reply_to < message.id)) { return finishAnswer(answerOrder[i], message); }
      }
    }
    var node = messageNode(message);
    byId[message.id] = node;
    if (message.client_id && message.author === "customer") byClientId[message.client_id] = node;
    place(node, message.id);
    if (isLast(node)) showQuickReplies(node, message.quick_replies);
    if (live) seenUnread(message);
    scrollDown();
    return node;
  }

  // ------------------------------------------------------------------ streamed answers

  function answerFor(ref, replyTo) {
    var a = answers[ref];
    if (a) return a;
    var bubble = el("div", { class: "bubble" });
    var node = el("div", { class: "msg assistant", "aria-busy": "true", hidden: "" }, [
      el("span", { class: "sr", text: authorName({ author: "assistant" }) + ":" }), bubble
    ]);
    a = answers[ref] = { seq: 0, text: "", pending: {}, node: node, bubble: bubble, reply_to: replyTo || 0,
      started: false, joinedLate: false };
    answerOrder.push(ref);
    clearQuickReplies();
    ui.log.appendChild(node);
    scrollDown();
    return a;
  }

  function applyDelta(frame) {
    var a = answerFor(frame.answer_ref);
    // Joined mid-answer (a page loaded while it streamed): no half sentences; answer.end brings it whole.
    if (!a.started && !a.seq && frame.seq > 1) a.joinedLate = true;
    if (a.joinedLate) { setRemoteTyping({ on: true, author: "assistant" }); return; }
    if (!(frame.seq > a.seq) || a.pending[frame.seq] != null) return; // seen already: never shown twice
    a.pending[frame.seq] = frame.text || "";
    var grew = false;
    while (a.pending[a.seq + 1] != null) {
      a.seq += 1;
      a.text += a.pending[a.seq];
      delete a.pending[a.seq];
      grew = true;
    }
    if (grew) {
      a.node.hidden = false;
      a.bubble.textContent = "";
      a.bubble.appendChild(markdown(a.text));
      setRemoteTyping(null);
      scrollDown();
    }
  }

  function dropAnswer(ref) {
    var a = answers[ref];
    delete answers[ref];
    answerOrder = answerOrder.filter(function (r) { return r !== ref; });
    return a;
  }

  function finishAnswer(ref, message) {
    var a = dropAnswer(ref);
    setRemoteTyping(null);
    if (!message || !message.id) { if (a) a.node.remove(); return null; }
    noteId(message.id);
    if (byId[message.id]) { if (a) a.node.remove(); return byId[message.id]; }
    var node = messageNode(message);
    byId[message.id] = node;
    node.setAttribute("data-id", message.id);
    if (a && a.node.parentNode) a.node.parentNode.replaceChild(node, a.node);
    else place(node, message.id);
    if (isLast(node)) showQuickReplies(node, message.quick_replies);
    seenUnread(message);
    scrollDown();
    return node;
  }

  function setRemoteTyping(frame) {
    clearTimeout(remoteTypingTimer);
    ui.typing.textContent = "";
    if (!frame || !frame.on) return;
    var who = frame.author === "agent" ? (frame.name || t.agent) : (config.name || t.assistant);
    ui.typing.appendChild(el("span", { class: "dots", "aria-hidden": "true" }, [el("i"), el("i"), el("i")]));
    ui.typing.appendChild(document.createTextNode(
      (frame.author === "agent" ? t.typing_agent : t.typing_assistant).replace("{name}", who)));
    remoteTypingTimer = setTimeout(function () { setRemoteTyping(null); }, 20000);
  }

  // ------------------------------------------------------------------ rating

  function showRating() {
    if (ui.rating && ui.rating.parentNode) return;
    var stars = el("div", { class: "stars" });
    for (var n = 1; n <= 5; n++) {
      (function (score) {
        stars.appendChild(el("button", { type: "button", "aria-label": t.rate_n.replace("{n}", score), text: String(score),
          onclick: function () { sendSoon({ type: "rating", score: score }); } }));
      })(n);
    }
    ui.rating = el("div", { class: "rating" }, [el("fieldset", null, [el("legend", { text: t.rate }), stars])]);
    ui.log.appendChild(ui.rating);
    scrollDown();
  }

  function hideRating(thanks) {
    if (!ui.rating) return;
    if (thanks) {
      ui.rating.textContent = "";
      ui.rating.appendChild(el("p", { text: thanks }));
    } else {
      ui.rating.remove();
      ui.rating = null;
    }
  }

  // ------------------------------------------------------------------ sending

  function sendFrame(frame) {
    if (!ws || ws.readyState !== 1 || !state.welcomed) return false;
    ws.send(JSON.stringify(frame));
    record("out", frame);
    return true;
  }

  function sendSoon(frame) {
    if (!sendFrame(frame)) {
      later.push(frame);
      if (!ws) connect();
    }
  }

  function flushOutbox() {
    if (Date.now() < holdUntil) return;
    outbox.forEach(function (item) {
      if (sendFrame({ type: "message", client_id: item.client_id, text: item.text })) {
        setOutgoingState(item, t.sending, false);
      }
    });
  }

  function setOutgoingState(item, text, failed) {
    var label = item.node.querySelector(".state");
    if (!text) { if (label) label.remove(); item.node.classList.remove("failed"); return; }
    if (!label) { label = el("span", { class: "state" }); item.node.appendChild(label); }
    label.textContent = text;
    item.node.classList.toggle("failed", !!failed);
  }

  function sendMessage(text) {
    text = String(text || "").trim();
    if (!text) return;
    var clientId = uuid();
    var node = messageNode({ author: "customer", text: text });
    byClientId[clientId] = node;
    ui.log.appendChild(node);
    var item = { client_id: clientId, text: text, node: node };
    outbox.push(item);
    setOutgoingState(item, t.sending, false);
    clearQuickReplies();
    hideRating();
    scrollDown();
    stopTyping();
    if (!ws) connect();
    else flushOneOrWait(item);
  }

  function flushOneOrWait(item) {
    if (Date.now() >= holdUntil) sendFrame({ type: "message", client_id: item.client_id, text: item.text });
  }

  function settleOutgoing(clientId, messageId) {
    var node = byClientId[clientId];
    outbox = outbox.filter(function (item) {
      if (item.client_id !== clientId) return true;
      setOutgoingState(item, null);
      return false;
    });
    if (node && messageId) {
      noteId(messageId);
      if (!byId[messageId]) { byId[messageId] = node; node.setAttribute("data-id", messageId); }
    }
  }

  function submitCompose() {
    var text = ui.textarea.value;
    if (!text.trim()) return;
    ui.textarea.value = "";
    autosize();
    sendMessage(text);
    ui.textarea.focus();
  }

  function onComposeKey(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitCompose();
    }
  }

  function autosize() {
    ui.textarea.style.height = "auto";
    ui.textarea.style.height = Math.min(ui.textarea.scrollHeight + 3, 120) + "px";
  }

  function onInput() {
    autosize();
    if (!ui.textarea.value.trim()) { stopTyping(); return; }
    if (!typingSent && sendFrame({ type: "typing", on: true })) typingSent = true;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent) sendFrame({ type: "typing", on: false });
    typingSent = false;
  }

  function askForPerson() {
    ui.human.disabled = true;
    // With no conversation yet there is nothing to hand over: asking in words starts one, and the
    // assistant hands it to a person.
    if (state.conversationId || state.acked) sendSoon({ type: "handoff" });
    else sendMessage(t.person);
  }

  // ------------------------------------------------------------------ the connection

  function record(direction, frame) {
    debugFrames.push([direction, frame]);
    if (debugFrames.length > 500) debugFrames.shift();
  }

  function socketUrl() {
    var base = config.socket_url || (ORIGIN.replace(/^http/, "ws") + "/ws/widget/");
    var url = new URL(base, ORIGIN);
    url.searchParams.set("key", KEY);
    if (state.token) url.searchParams.set("token", state.token);
    return url.href;
  }

  function connect() {
    if (state.refused || (ws && ws.readyState < 2)) return;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    var socket;
    try { socket = new WebSocket(socketUrl()); } catch (e) { scheduleReconnect(); return; }
    ws = socket;
    state.welcomed = false;
    socket.onmessage = function (event) {
      if (socket !== ws) return;
      armSilenceTimer();
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (!frame || typeof frame !== "object") return;
      record("in", frame);
      handle(frame);
    };
    socket.onopen = function () { if (socket === ws) armSilenceTimer(); };
    socket.onclose = function (event) {
      if (socket !== ws) return;
      clearTimeout(silenceTimer);
      state.welcomed = false;
      typingSent = false;
      if (REFUSED_CODES[event.code]) {
        state.refused = true;
        showNotice(t.offline);
        return;
      }
      renderChrome();
      // Refused for too many connections: the rate_limited frame before the close set holdUntil.
      scheduleReconnect(event.code === TOO_MANY_CONNECTIONS ? holdUntil - Date.now() : 0);
    };
  }

  function scheduleReconnect(atLeastMs) {
    if (reconnectTimer || state.refused) return;
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, attempts));
    // Jitter: a server restart is not met by a stampede.
    var delay = Math.max(ceiling / 2 + Math.random() * ceiling / 2, atLeastMs || 0);
    attempts += 1;
    reconnectTimer = setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }

  function armSilenceTimer() {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(function () { if (ws) ws.close(); }, PING_SILENCE_MS);
  }

  function handle(frame) {
    var a;
    switch (frame.type) {
      case "welcome": return onWelcome(frame);
      case "ack":
        state.acked = true;
        showNotice("");
        settleOutgoing(frame.client_id, frame.message_id);
        return;
      case "answer.start":
        a = answerFor(frame.answer_ref);
        a.reply_to = frame.reply_to || 0;
        a.started = true;
        if (!a.seq) setRemoteTyping({ on: true, author: "assistant" });
        return;
      case "answer.delta": return applyDelta(frame);
      case "answer.end": finishAnswer(frame.answer_ref, frame.message); return;
      case "answer.cancelled":
        a = dropAnswer(frame.answer_ref);
        setRemoteTyping(null);
        if (a) a.node.remove();
        return;
      case "message":
        if (frame.message && frame.message.author === "agent") setRemoteTyping(null);
        addMessage(frame.message, true);
        return;
      case "status": return onStatus(frame);
      case "typing": return setRemoteTyping(frame);
      case "prechat.saved":
        state.prechatDone = true;
        renderChrome();
        if (state.isOpen) ui.textarea.focus();
        return;
      case "rating.saved": return hideRating(t.rated);
      case "error": return onError(frame);
      case "ping": sendFrame({ type: "pong", ts: frame.ts }); return;
    }
  }

  function onWelcome(frame) {
    var reconnecting = state.connectedOnce;
    state.welcomed = true;
    state.connectedOnce = true;
    attempts = 0;
    if (frame.visitor_token && frame.visitor_token !== state.token) {
      state.token = frame.visitor_token;
      save("localStorage", { token: state.token });
    }
    state.conversationId = frame.conversation_id;
    state.prechatDone = frame.prechat_done !== false;
    if (frame.away) state.away = frame.away;
    state.person = frame.person || null;
    (frame.history || []).forEach(function (m) { addMessage(m, false); });
    setStatus(frame.status || "bot");
    showNotice("");
    if (reconnecting || answerOrder.length) {
      var resume = { type: "resume", last_message_id: state.lastId };
      var current = answerOrder.length ? answers[answerOrder[answerOrder.length - 1]] : null;
      if (current) {
        resume.answer_ref = answerOrder[answerOrder.length - 1];
        resume.seq = current.seq;
      }
      sendFrame(resume);
    }
    flushOutbox(); // the same client_ids: the server stores each message once
    later.splice(0).forEach(sendFrame);
    renderChrome();
    scrollDown();
  }

  function setStatus(status) {
    state.status = status;
    if (status === "resolved") showRating();
    else if (ui.rating && ui.rating.querySelector("button")) hideRating();
  }

  function onStatus(frame) {
    setStatus(frame.status);
    if (frame.away) state.away = frame.away;
    state.person = frame.person || null;
    renderChrome();
    // The footer grew back ("Talk to a person" returns once a person leaves): keep the rating card in view.
    if (frame.status === "resolved") scrollDown();
  }

  function onError(frame) {
    var item = null;
    outbox.forEach(function (o) { if (o.client_id === frame.client_id) item = o; });
    if (frame.code === "rate_limited") {
      var wait = Math.max(1, +frame.retry_after || 5) * 1000;
      holdUntil = Date.now() + wait;
      clearTimeout(holdTimer);
      holdTimer = setTimeout(function () { showNotice(""); flushOutbox(); }, wait);
      if (item) setOutgoingState(item, t.sending, false);
    } else if (item && frame.code !== "server_error") {
      outbox = outbox.filter(function (o) { return o !== item; });
      setOutgoingState(item, t.not_sent, true);
    }
    showNotice(frame.message || "");
  }

  // ------------------------------------------------------------------ opening and closing

  function open() {
    if (!ui.panel) { state.wantOpen = true; return; }
    state.isOpen = true;
    state.unread = 0;
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.wrap.classList.add("open");
    save("sessionStorage", { open: true });
    renderChrome();
    if (!ws) connect();
    scrollDown();
    var target = !ui.prechat.hidden ? ui.prechat.querySelector("input") : ui.textarea;
    setTimeout(function () { target.focus(); }, 0);
  }

  function close() {
    if (!ui.panel) { state.wantOpen = false; return; }
    var wasOpen = state.isOpen;
    state.isOpen = false;
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.wrap.classList.remove("open");
    save("sessionStorage", { open: false });
    renderChrome();
    if (wasOpen) ui.launcher.focus();
  }

  // ------------------------------------------------------------------ start

  function start(tries) {
    var url = ORIGIN + "/widget/config?key=" + encodeURIComponent(KEY);
    fetch(url, { credentials: "omit", mode: "cors" }).then(function (response) {
      if (response.status === 403 || response.status === 404) {
        throw { final: true, message: "Deskpilot: this site is not allowed to use this chat key (" + response.status + ")" };
      }
      if (!response.ok) throw new Error("config " + response.status);
      return response.json();
    }).then(function (body) {
      config = body;
      t = TEXT[config.language] || TEXT.en;
      state.away = config.away || state.away;
      state.prechatDone = !(config.prechat && config.prechat.enabled);
      if (state.token) state.prechatDone = true; // welcome tells the truth for a returning visitor
      build();
      var wasOpen = load("sessionStorage").open;
      if (state.token || state.wantOpen || wasOpen) connect();
      if (state.wantOpen || (wasOpen && state.wantOpen !== false)) open();
    }).catch(function (error) {
      if (error && error.final) { if (window.console) console.warn(error.message); return; }
      if (tries < 4) setTimeout(function () { start(tries + 1); }, 1000 * Math.pow(2, tries));
    });
  }

  window.Deskpilot = {
    _loaded: true,
    open: open,
    close: close,
    _debug: {
      frames: debugFrames,
      state: state,
      outbox: function () { return outbox.slice(); },
      socket: function () { return ws; },
      // Drop the line the way a network failure would: the widget must notice and come back.
      drop: function () { if (ws) ws.close(); },
      root: function () { return ui.root || null; }
    }
  };

  if (document.body) start(0);
  else document.addEventListener("DOMContentLoaded", function () { start(0); });
})();
