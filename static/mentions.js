// The note box's @mentions: typing "@" and a few letters offers the staff who may see this
// ticket (the panel's /admin/notices/staff, only people a mention would reach); choosing one
// writes "@handle " (their e-mail's local part), which tells them once the note is saved.
(function () {
  "use strict";
  var script = document.currentScript;
  var area = document.getElementById("note-body");
  var menu = document.getElementById("hd-mentions");
  if (!script || !area || !menu || !window.fetch) { return; }
  var found = [];
  var active = -1;
  var timer = null;
  var asked = 0;

  // The "@term" right before the caret, if the caret is in one.
  function current() {
    var before = area.value.slice(0, area.selectionStart);
    var match = /(^|[^\w@.])@([\w.+-]{0,40})$/.exec(before);
    if (!match) { return null; }
    return {term: match[2], start: before.length - match[2].length - 1};
  }

  function close() {
    menu.classList.remove("show");
    menu.textContent = "";
    area.setAttribute("aria-expanded", "false");
    area.removeAttribute("aria-activedescendant");
    found = [];
    active = -1;
  }

  function highlight(index) {
    active = index;
    Array.prototype.forEach.call(menu.children, function (item, i) {
      item.classList.toggle("active", i === active);
      item.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    if (active >= 0) { area.setAttribute("aria-activedescendant", menu.children[active].id); }
  }

  function choose(index) {
    var at = current();
    var person = found[index];
    if (!at || !person) { close(); return; }
    var text = "@" + person.handle + " ";
    var caret = at.start + text.length;
    area.value = area.value.slice(0, at.start) + text + area.value.slice(area.selectionStart);
    area.setSelectionRange(caret, caret);
    close();
    area.focus();
    area.dispatchEvent(new Event("input", {bubbles: true}));  // drafts.js keeps the text
  }

  function show(people) {
    menu.textContent = "";
    found = people;
    if (!people.length) { close(); return; }
    people.forEach(function (person, i) {
      var item = document.createElement("button");
      item.type = "button";
      item.className = "dropdown-item";
      item.id = "hd-mention-" + i;
      item.setAttribute("role", "option");
      item.dataset.testid = "mention-option";
      item.tabIndex = -1;
      item.textContent = person.name + " ";
      var handle = document.createElement("span");
      handle.className = "text-muted small";
      handle.textContent = "@" + person.handle;
      item.appendChild(handle);
      item.addEventListener("mousedown", function (event) {
        event.preventDefault();  // keep the caret in the note box
        choose(i);
      });
      menu.appendChild(item);
    });
    menu.classList.add("show");
    area.setAttribute("aria-expanded", "true");
    highlight(0);
  }

  function ask() {
    var at = current();
    if (!at) { close(); return; }
    var mine = ++asked;
    fetch(script.dataset.url + "?q=" + encodeURIComponent(at.term),
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (mine !== asked) { return; }  // a later keystroke asked again
        if (data && current()) { show(data.staff || []); } else { close(); }
      })
      .catch(close);
  }

  area.addEventListener("input", function () {
    window.clearTimeout(timer);
    if (!current()) { close(); return; }
    timer = window.setTimeout(ask, 120);
  });

  area.addEventListener("keydown", function (event) {
    if (!menu.classList.contains("show")) { return; }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + found.length) % found.length);
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      event.stopPropagation();
      choose(active < 0 ? 0 : active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });

  area.addEventListener("blur", function () { window.setTimeout(close, 150); });
})();
