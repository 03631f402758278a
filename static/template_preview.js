// Plantillas' form: preview the text against a sample ticket, or show why it cannot be used.
(function () {
  "use strict";
  var script = document.getElementById("hd-template-preview-script");
  var panel = document.querySelector(".hd-template-preview");
  var form = document.querySelector("form.admin-form") || document.querySelector("form[method=POST]") ||
             document.querySelector("form");
  if (form && panel) { form.parentNode.insertBefore(panel, form.nextSibling); }
  var body = document.getElementById("body");
  var text = document.getElementById("hd-template-preview-text");
  var forWhom = document.getElementById("hd-template-preview-for");
  var error = document.getElementById("hd-template-preview-error");

  document.getElementById("hd-template-preview-button").addEventListener("click", function () {
    var data = new FormData();
    data.append("body", body ? body.value : "");
    data.append("ticket", document.getElementById("hd-preview-ticket").value);
    fetch(script.dataset.url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"X-CSRFToken": script.dataset.csrf}
    }).then(function (r) { return r.json(); }).then(function (result) {
      if (result.ok) {
        text.textContent = result.text;  // text, never markup
        forWhom.textContent = result.ticket ? script.dataset.for.replace("{n}", result.ticket)
                                            : script.dataset.sample;
        text.classList.remove("d-none");
        forWhom.classList.remove("d-none");
        error.classList.add("d-none");
      } else {
        error.textContent = result.error;
        error.classList.remove("d-none");
        text.classList.add("d-none");
        forWhom.classList.add("d-none");
      }
    });
  });
})();
