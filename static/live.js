// The ticket page, live: polls the presence endpoint (no database behind it) to show who else
// has the ticket open or is typing, and says when the ticket changed — without touching the
// drafts (the "ver" link reloads; drafts.js restores what was being typed).
(function () {
  "use strict";
  var script = document.getElementById("hd-live-script");
  if (!script || !window.fetch) { return; }
  var box = document.getElementById("hd-live");
  var viewers = box.querySelector("[data-testid=live-viewers]");
  var banner = box.querySelector("[data-testid=live-change]");
  var version = Number(script.dataset.version);
  var lastTyped = {reply: 0, note: 0};
  var interval = 4000;

  [["reply", "hd-reply-body"], ["note", "note-body"]].forEach(function (pair) {
    var area = document.getElementById(pair[1]);
    if (area) {
      area.addEventListener("input", function () { lastTyped[pair[0]] = Date.now(); });
    }
  });

  function typing() {
    var now = Date.now();
    if (now - lastTyped.reply < 6000) { return "reply"; }
    if (now - lastTyped.note < 6000) { return "note"; }
    return "";
  }

  function showViewers(list) {
    viewers.textContent = "";
    if (!list.length) { viewers.classList.add("d-none"); return; }
    var parts = list.map(function (v) {
      var text = script.dataset["typing" + (v.typing === "note" ? "Note" : v.typing === "reply" ? "Reply" : "None")];
      return text.replace("{name}", v.name);
    });
    viewers.textContent = script.dataset.viewing + " " + parts.join(" · ");
    viewers.classList.remove("d-none");
  }

  function showChange(change) {
    if (!change || !change.version || change.version <= version) { return; }
    var kind = change.kind || "change";
    var link = banner.querySelector("a");
    link.textContent = script.dataset["change" + kind.charAt(0).toUpperCase() + kind.slice(1)]
                       || script.dataset.changeChange;
    banner.classList.remove("d-none");
  }

  function poll() {
    var url = script.dataset.url + "&typing=" + typing();
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data) {
          showViewers(data.viewers || []);
          showChange(data.change);
          interval = (data.interval || 4) * 1000;
        }
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .then(function () { window.setTimeout(poll, interval); });
  }
  poll();
})();
