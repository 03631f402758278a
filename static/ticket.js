// The reply editor: insert a response template at the cursor, preview its placeholders, show problems;
// the macro picker's options, loaded after the page.
(function () {
  "use strict";
  var script = document.getElementById("hd-ticket-script");
  var body = document.getElementById("hd-reply-body");
  var form = document.getElementById("hd-reply-form");
  if (!form) { return; }  // a merged ticket has no reply editor: it is answered in its survivor
  var box = document.getElementById("hd-preview");
  var boxText = box.querySelector(".hd-preview-text");
  var errorBox = document.getElementById("hd-preview-error");
  var templates = JSON.parse(document.getElementById("hd-templates").textContent);

  function preview() {
    var data = new FormData();
    data.append("body", body.value);
    return fetch(script.dataset.previewUrl, {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"X-CSRFToken": script.dataset.csrf}
    }).then(function (r) { return r.json(); }).then(function (result) {
      if (result.ok) {
        boxText.textContent = result.text;  // text, never markup
        box.classList.remove("d-none");
        errorBox.classList.add("d-none");
      } else {
        errorBox.textContent = result.error;
        errorBox.classList.remove("d-none");
        box.classList.add("d-none");
      }
    });
  }

  document.querySelectorAll("[data-template]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var id = Number(link.dataset.template);
      var template = templates.find(function (t) { return t.id === id; });
      if (!template) { return; }
      // At the cursor (replacing only a selection), never over the whole draft.
      var start = body.selectionStart, end = body.selectionEnd;
      if (typeof start !== "number" || document.activeElement !== body && !body.value) {
        start = end = body.value.length;
      }
      body.setRangeText(template.body, start, end, "end");
      body.dispatchEvent(new Event("input"));  // the draft saves it
      form.querySelector("[name=template_id]").value = String(id);
      preview();
      body.focus();
    });
  });
  document.getElementById("hd-preview-button").addEventListener("click", preview);

  var macroForm = document.getElementById("hd-macro-form");
  if (macroForm) {
    var picker = macroForm.querySelector("select[name=macro]");
    var apply = macroForm.querySelector("button[type=submit]");
    picker.addEventListener("change", function () { apply.disabled = !picker.value; });
    fetch(macroForm.dataset.macrosUrl, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {macros: []}; })
      .then(function (result) {
        result.macros.forEach(function (macro) {
          var option = document.createElement("option");
          option.value = String(macro.id);
          option.textContent = macro.name;  // text, never markup
          picker.appendChild(option);
        });
        picker.disabled = result.macros.length === 0;
        macroForm.dataset.loaded = "1";
      });
  }
})();
