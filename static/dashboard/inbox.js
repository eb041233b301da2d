/* Deskpilot inbox: live refreshes over the agents' WebSocket. The server renders every piece of
   HTML; this script only asks for fresh fragments (list rows, transcript, side panel) when an event
   says something changed, sends presence heartbeats, and fills the reply box from canned responses. */
(function () {
  "use strict";
  var script = document.currentScript;
  var page = script.dataset.page;
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var conversationId = Number(script.dataset.conversationId || 0);
  var refreshTimers = {};
  var refreshing = {};

  function later(name, fn, delay) {
    // Bursts of events (a streamed answer, several messages) become one refresh.
    clearTimeout(refreshTimers[name]);
    refreshTimers[name] = setTimeout(fn, delay || 250);
  }

  // One fragment request at a time per page region, each with its own element as htmx's source:
  // htmx queues a request made while another is in flight on the same source, and with every request
  // on <body> (no source) a queued refresh whose region had meanwhile been swapped out held the queue
  // for good, and the page stopped updating. A refresh asked for meanwhile runs once afterwards.
  function fragment(selector, url, options) {
    var state = refreshing[selector] || (refreshing[selector] = { busy: false, again: false });
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    var done = function () {
      state.busy = false;
      if (state.again) { state.again = false; fragment(selector, url, options); }
    };
    var request = { source: selector, target: selector, swap: "outerHTML" };
    for (var key in options || {}) request[key] = options[key];
    htmx.ajax("GET", typeof url === "function" ? url() : url, request).then(done, done);
  }

  function announce(text) {
    var region = document.getElementById("inbox-live-status");
    if (region) region.textContent = text;
  }

  function rowsQuery() {
    var form = document.querySelector("form.filters");
    var params = form ? new URLSearchParams(new FormData(form)) : new URLSearchParams();
    var current = new URLSearchParams(location.search);
    if (current.get("page")) params.set("page", current.get("page"));
    return params.toString();
  }

  function refreshRows() {
    fragment("#conversation-rows", function () { return script.dataset.rowsUrl + "?" + rowsQuery(); });
  }

  function refreshTranscript() {
    fragment("#transcript", script.dataset.transcriptUrl);
  }

  function refreshConversationPanels() {
    // Status changes alter the badge and the available actions: take both from a fresh page.
    fragment("#conversation-side", location.pathname, { select: "#conversation-side" });
    fragment("#conversation-status", location.pathname, { select: "#conversation-status" });
    refreshTranscript();
  }

  function onEvent(event) {
    if (page === "inbox") {
      if (event.type === "conversation.created" || event.type === "conversation.status" || event.type === "message" ||
          event.type === "conversation.assigned" || event.type === "conversation.contact") {
        later("rows", function () {
          refreshRows();
          if (event.type === "conversation.status" && event.to === "needs_human") {
            announce("A customer asked for a person.");
          } else if (event.type === "conversation.created") {
            announce("New conversation.");
          }
        });
      }
    } else if (page === "conversation" && event.conversation_id === conversationId) {
      if (event.type === "message") later("transcript", refreshTranscript);
      // A new status, or the customer told us who they are: fresh details and actions.
      if (event.type === "conversation.status" || event.type === "conversation.contact") {
        later("panels", refreshConversationPanels);
      }
      if (event.type === "conversation.assigned") {
        later("panels", refreshConversationPanels);
        announce(event.assignee ? "Assigned to " + event.assignee.name + "." : "Nobody is assigned now.");
      }
    }
  }

  var socket = null;
  var retryDelay = 1000;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/agent/");
    socket.addEventListener("open", function () {
      retryDelay = 1000;
      document.documentElement.dataset.live = "on";
      if (conversationId) socket.send(JSON.stringify({ type: "subscribe", conversation_id: conversationId }));
    });
    socket.addEventListener("message", function (frame) {
      var event;
      try { event = JSON.parse(frame.data); } catch (error) { return; }
      if (event.type === "ping") { socket.send(JSON.stringify({ type: "pong" })); return; }
      onEvent(event);
    });
    socket.addEventListener("close", function (closed) {
      document.documentElement.dataset.live = "off";
      // 4401: this session no longer gives access (removed from the team, password reset, logged
      // out elsewhere). Reloading shows the login page instead of retrying a socket that is refused.
      if (closed.code === 4401) { location.reload(); return; }
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
      // Whatever happened while we were away is picked up by the refresh after reconnecting.
      later("reconnect", function () { onEvent({ type: "message", conversation_id: conversationId }); }, retryDelay);
    });
  }

  function heartbeat() {
    htmx.ajax("POST", script.dataset.presenceUrl, { target: "#presence", swap: "outerHTML",
                                                    headers: { "X-CSRFToken": csrf } });
  }

  function init() {
    connect();
    if (page === "conversation") {
      setInterval(heartbeat, 15000);
      // A sent reply empties the box (here, not in an hx-on attribute: the page's CSP allows no eval).
      var replyForm = document.getElementById("reply-form");
      if (replyForm) {
        replyForm.addEventListener("htmx:afterRequest", function (event) {
          if (event.target === replyForm && event.detail.successful) replyForm.reset();
        });
      }
      var canned = document.getElementById("canned-response");
      if (canned) {
        canned.addEventListener("change", function () {
          var box = document.getElementById(canned.dataset.cannedTarget);
          if (!canned.value || !box) return;
          box.value = box.value ? box.value + "\n" + canned.value : canned.value;
          canned.selectedIndex = 0;
          box.focus();
        });
      }
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
