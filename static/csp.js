// Our Content-Security-Policy refuses inline scripts, inline event handlers and javascript:
// URLs. Flask-Admin 2.2.1 uses all three; our copies of its list, delete and inline-list
// markup carry data attributes instead (templates/helpdesk/model_list.html,
// inline_field_list.html), and this file, loaded on every panel page, does what their
// onclick="…" did. Its links' href="javascript:void(0)" must not navigate either.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : event.target.parentElement;
    var action = target.closest("[data-model-action]");
    if (action) {  // actions.html: "Con seleccionados" → one action
      event.preventDefault();
      window.modelActions.execute(action.dataset.modelAction);
      return;
    }
    var confirmed = target.closest("button[data-confirm]");
    if (confirmed && !window.faHelpers.safeConfirm(confirmed.dataset.confirm)) {
      event.preventDefault();  // row_actions.html: delete only once confirmed
      return;
    }
    var add = target.closest("[data-add-inline]");
    if (add) {  // inline_list_base.html: one more inline row
      event.preventDefault();
      window.faForm.addInlineField(add, add.dataset.addInline);
    }
  });
  // Capturing, so it runs first; Bootstrap's own handlers still see the click.
  window.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : event.target.parentElement;
    if (target && target.closest("a[href^='javascript:']")) { event.preventDefault(); }
  }, true);
})();
