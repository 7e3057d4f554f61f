// The operator's live events: an EventSource on /portal/operator/events,
// which resumes by itself with Last-Event-ID after a drop. The newest
// event goes first; the list keeps 200.
(function () {
  var list = document.getElementById("events");
  var state = document.getElementById("stream-state");
  if (!list || !window.EventSource) { return; }
  var es = new EventSource("/portal/operator/events");
  es.onopen = function () { state.textContent = "Live: new events appear below."; };
  es.onerror = function () {
    // CLOSED: the server refused the reconnect (the session ended).
    if (es.readyState === EventSource.CLOSED) { ended("The live events stopped: your session may have ended."); return; }
    state.textContent = "The stream dropped; reconnecting…";
  };
  // ended stops the stream for good and offers the login.
  function ended(text) {
    es.close();
    state.textContent = text + " ";
    var a = document.createElement("a");
    a.href = "/portal/login";
    a.textContent = "Log in again";
    state.appendChild(a);
    state.className = "error";
  }
  // The server's last event when the session expires or ends: streaming
  // does not keep a session alive, only the pages do.
  es.addEventListener("expired", function (m) { ended(m.data); });
  function add(text, cls) {
    var li = document.createElement("li");
    li.textContent = text;
    if (cls) { li.className = cls; }
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 200) { list.removeChild(list.lastChild); }
    fit();
  }
  // fit makes the list exactly as tall as the whole events that fit in
  // 20rem (events wrap to different heights on a phone): the last one
  // shown is never cut in half.
  function fit() {
    var limit = 20 * parseFloat(getComputedStyle(document.documentElement).fontSize);
    var h = 0, all = 0;
    for (var li = list.firstElementChild; li; li = li.nextElementSibling) {
      all += li.offsetHeight;
      if (h + li.offsetHeight <= limit) { h += li.offsetHeight; } else { break; }
    }
    list.style.maxHeight = all > h ? h + "px" : "";
  }
  window.addEventListener("resize", fit);
  es.addEventListener("site", function (m) {
    var e = JSON.parse(m.data);
    var parts = [e.time ? e.time.substring(11, 19) : "", e.kind];
    ["account", "from", "to", "target", "leg", "device", "cause"].forEach(function (k) {
      if (e[k]) { parts.push(k + " " + e[k]); }
    });
    add(parts.join(" · "), "event");
    list.firstChild.dataset.id = m.lastEventId;
  });
  es.addEventListener("missed", function (m) { add(m.data + " events were missed while disconnected.", "note"); });
})();
