// Live pages, from Redis only (no database behind a poll).
// - The bell (loaded by the navigation bar on every page, id hd-bell-script): its unread count
//   follows the notices without a reload. A ticket page's presence poll carries the bell's
//   state; other pages poll /live/bell. Only when the count is not known without the database
//   (or the bell is opened) does it ask the panel for the list, once per change.
// - The ticket page (id hd-live-script): who else has the ticket open or is typing, and when
//   the ticket changed — without touching the drafts (the "ver" link reloads; drafts.js
//   restores what was being typed).
(function () {
  "use strict";
  if (!window.fetch) { return; }
  var me = document.currentScript;
  if (!me) { return; }

  // --- The bell -------------------------------------------------------------------------------
  function Bell(script) {
    var toggle = document.getElementById("bell-menu");
    var items = document.querySelector("[data-testid=bell-items]");
    var version = script.dataset.version || "";
    var loadedFor = null;
    var stopped = false;

    function badge(n) {
      var span = toggle.querySelector("[data-testid=notices-count]");
      if (!n) {
        if (span) { span.remove(); }
        return;
      }
      if (!span) {
        span = document.createElement("span");
        span.className = "badge badge-danger ml-1";
        span.dataset.testid = "notices-count";
        toggle.appendChild(span);
      }
      span.textContent = String(n);
    }

    function render(list) {
      items.textContent = "";
      if (!list.length) {
        var empty = document.createElement("span");
        empty.className = "dropdown-item-text text-muted small";
        empty.dataset.testid = "bell-empty";
        empty.textContent = script.dataset.empty;
        items.appendChild(empty);
        return;
      }
      list.forEach(function (item) {
        // Opening a notice marks it read (a POST with the page's token), then goes to its ticket.
        var form = document.createElement("form");
        form.method = "post";
        form.action = item.open;
        form.className = "mb-0";
        var token = document.createElement("input");
        token.type = "hidden";
        token.name = "csrf_token";
        token.value = script.dataset.csrf;
        var button = document.createElement("button");
        button.type = "submit";
        button.className = "dropdown-item small text-wrap hd-bell-item";
        button.dataset.testid = "bell-item";
        button.dataset.url = item.url;
        button.textContent = item.text;
        var when = document.createElement("span");
        when.className = "d-block text-muted";
        when.textContent = item.when;
        button.appendChild(when);
        form.appendChild(token);
        form.appendChild(button);
        items.appendChild(form);
      });
    }

    function load() {
      loadedFor = version;
      return fetch(script.dataset.listUrl, {credentials: "same-origin",
                                             headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          if (data.v) { version = data.v; loadedFor = version; }
          badge(data.n);
          render(data.items || []);
        })
        .catch(function () { loadedFor = null; });
    }

    // A poll's view of the bell: {v, n}. n null: only the database knows; ask it once.
    this.update = function (state) {
      if (!state || stopped) { return; }
      var changed = state.v !== version;
      version = state.v;
      if (state.n !== null && state.n !== undefined) {
        badge(state.n);
        if (changed) { loadedFor = null; }  // the list is read again when the bell opens
      } else if (changed && loadedFor !== version) {
        load();
      }
    };
    this.stop = function () { stopped = true; };

    toggle.addEventListener("click", function () {
      if (loadedFor !== version || items.querySelector("[data-testid=bell-item]") === null) { load(); }
    });
  }

  function pollBell(script, bell) {
    var interval = 10000;
    function poll() {
      fetch(script.dataset.bellUrl, {credentials: "same-origin",
                                     headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (r.status === 403) { bell.stop(); return "stop"; }  // the session ended
          return r.ok ? r.json() : null;
        })
        .then(function (data) {
          if (data === "stop") { return; }
          if (data) {
            bell.update(data.bell);
            interval = (data.interval || 10) * 1000;
          }
          window.setTimeout(poll, interval);
        })
        .catch(function () { window.setTimeout(poll, interval); });
    }
    window.setTimeout(poll, interval);
  }

  // --- The ticket page ------------------------------------------------------------------------
  function Ticket(script) {
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
        .then(function (r) {
          if (r.status === 403) { return "stop"; }  // the session ended: no more polling
          return r.ok ? r.json() : null;
        })
        .then(function (data) {
          if (data === "stop") {
            showViewers([]);
            if (window.hdBell) { window.hdBell.stop(); }
            return;
          }
          if (data) {
            showViewers(data.viewers || []);
            showChange(data.change);
            if (window.hdBell) { window.hdBell.update(data.bell); }
            interval = (data.interval || 4) * 1000;
          }
          window.setTimeout(poll, interval);
        })
        .catch(function () { window.setTimeout(poll, interval); });
    }
    poll();
  }

  if (me.id === "hd-bell-script") {
    // Deferred: the page is parsed, so a ticket page's own poll is known to be there or not.
    window.hdBell = new Bell(me);
    if (!document.getElementById("hd-live-script")) { pollBell(me, window.hdBell); }
  } else if (me.id === "hd-live-script") {
    var start = function () { Ticket(me); };
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }
})();
