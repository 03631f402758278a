// Keyboard shortcuts of the queue (j/k move, Enter or o opens, x selects, t takes) and of the ticket
// page (r reply, n note, Ctrl+Enter sends, [ and ] previous/next ticket in the queue's last
// order, ? help). None fires while typing in a field, except Ctrl+Enter inside one.
(function () {
  "use strict";
  var ORDER_KEY = "hd-queue-order";
  var help = document.getElementById("hd-shortcuts");

  function typing(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function toggleHelp() {
    if (help.hidden) {
      help.hidden = false;
      help.style.display = "block";
    } else {
      help.hidden = true;
      help.style.display = "";
    }
  }

  // --- The queue ---------------------------------------------------------------------------
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.model-list tbody tr"))
    .filter(function (tr) { return tr.querySelector("td.col-id a"); });
  var current = -1;
  if (rows.length) {
    try {
      sessionStorage.setItem(ORDER_KEY, JSON.stringify(rows.map(function (tr) {
        return tr.querySelector("td.col-id a").getAttribute("href");
      })));
    } catch (e) { /* storage disabled: [ and ] just do nothing */ }
  }

  function move(step) {
    if (!rows.length) { return; }
    if (current >= 0) { rows[current].classList.remove("hd-kb-current"); }
    current = Math.max(0, Math.min(rows.length - 1, current + step));
    rows[current].classList.add("hd-kb-current");
    rows[current].setAttribute("aria-current", "true");
    rows[current].scrollIntoView({block: "nearest"});
  }

  function queueKey(key) {
    if (!rows.length) { return false; }
    if (key === "j") { move(1); return true; }
    if (key === "k") { move(-1); return true; }
    if (current < 0) { return false; }
    if (key === "Enter" || key === "o") {
      window.location.href = rows[current].querySelector("td.col-id a").getAttribute("href");
      return true;
    }
    if (key === "x") {
      var box = rows[current].querySelector("input.action-checkbox");
      if (box) { box.click(); }
      return true;
    }
    if (key === "t") {  // the row's own Tomar button, only where the server offers it
      var take = rows[current].querySelector("[data-testid^=take-]");
      if (take) { take.click(); }
      return true;
    }
    return false;
  }

  // --- The ticket page ---------------------------------------------------------------------
  var reply = document.getElementById("hd-reply-body");
  var note = document.getElementById("note-body");

  function neighbour(step) {
    var order;
    try { order = JSON.parse(sessionStorage.getItem(ORDER_KEY) || "[]"); } catch (e) { order = []; }
    var here = order.indexOf(window.location.pathname);
    var next = here < 0 ? null : order[here + step];
    if (next) { window.location.href = next; }
  }

  function ticketKey(key) {
    if (!reply && !note) { return false; }
    if (key === "r" && reply) { reply.focus(); return true; }
    if (key === "n" && note) { note.focus(); return true; }
    if (key === "[") { neighbour(-1); return true; }
    if (key === "]") { neighbour(1); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && typing(event.target)) {
      var form = event.target.form;
      if (form && (event.target === reply || event.target === note)) {
        event.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "?") { toggleHelp(); event.preventDefault(); return; }
    if (event.key === "Escape" && !help.hidden) { toggleHelp(); return; }
    if (queueKey(event.key) || ticketKey(event.key)) { event.preventDefault(); }
  });
})();
