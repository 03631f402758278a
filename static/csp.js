// Flask-Admin 2.2.1's templates still carry a few inline onclick handlers and
// href="javascript:void(0)" links, which our Content-Security-Policy (no 'unsafe-inline'
// scripts) refuses. This file, loaded on every panel page, re-attaches the handlers we know
// as listeners before anyone clicks, and keeps javascript: links from navigating.
(function () {
  "use strict";
  var known = [
    // actions.html: "Con seleccionados" → one action
    [/^return modelActions\.execute\('([^']*)'\);?$/, function (match, event) {
      event.preventDefault();
      window.modelActions.execute(match[1]);
    }],
    // row_actions.html: delete button, confirmed first
    [/^return faHelpers\.safeConfirm\('(.*)'\);?$/, function (match, event) {
      if (!window.faHelpers.safeConfirm(match[1])) { event.preventDefault(); }
    }],
    // model/layout.html: the filter menu's items
    [/^return false;?$/, function (match, event) { event.preventDefault(); }],
  ];

  function rebind(element) {
    var code = element.getAttribute("onclick").trim();
    element.removeAttribute("onclick");
    known.forEach(function (pair) {
      var match = pair[0].exec(code);
      if (match) {
        element.addEventListener("click", function (event) { pair[1](match, event); });
      }
    });
  }

  function rebindAll(root) {
    root.querySelectorAll("[onclick]").forEach(rebind);
  }

  rebindAll(document);
  document.addEventListener("DOMContentLoaded", function () { rebindAll(document); });
  // Capturing, so it runs first; Bootstrap's own handlers still see the click.
  window.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href^='javascript:']");
    if (link) { event.preventDefault(); }
  }, true);
})();
