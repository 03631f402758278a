// Drafts of the ticket page's reply and internal note, kept in this browser (localStorage) per
// user, ticket and box as the agent types; restored after a reload or a failed send, cleared
// once the send went through (the page came back at the ticket's own address, not the form's).
(function () {
  "use strict";
  var script = document.getElementById("hd-drafts-script");
  if (!script || !window.localStorage) { return; }
  var prefix = "hd-draft:" + script.dataset.user + ":" + script.dataset.ticket + ":";
  var sentKey = "hd-sent:" + script.dataset.user + ":" + script.dataset.ticket;
  var boxes = {reply: "hd-reply-body", note: "note-body"};
  var failed = /\/(reply|note)$/.test(window.location.pathname);

  function store(key, value) {
    try {
      if (value) { localStorage.setItem(key, value); } else { localStorage.removeItem(key); }
    } catch (e) { /* storage full or disabled: drafts are a convenience */ }
  }

  var sent = sessionStorage.getItem(sentKey);
  sessionStorage.removeItem(sentKey);
  if (sent && !failed) { localStorage.removeItem(prefix + sent); }

  Object.keys(boxes).forEach(function (box) {
    var area = document.getElementById(boxes[box]);
    if (!area) { return; }
    var saved = localStorage.getItem(prefix + box);
    if (saved && !area.value) {
      area.value = saved;
      var note = document.createElement("div");
      note.className = "small text-muted mt-1 hd-draft-restored";
      note.setAttribute("data-testid", "draft-restored-" + box);
      note.textContent = script.dataset.restored;
      area.insertAdjacentElement("afterend", note);
    } else if (area.value) {
      store(prefix + box, area.value);
    }
    var timer = null;
    area.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { store(prefix + box, area.value); }, 300);
    });
    area.form.addEventListener("submit", function () {
      window.clearTimeout(timer);
      store(prefix + box, area.value);
      sessionStorage.setItem(sentKey, box);
    });
  });
})();
