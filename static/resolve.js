// *Resolver*: choosing a template fills the final reply (and remembers which one was used).
(function () {
  var select = document.getElementById("hd-resolve-template");
  var data = document.getElementById("hd-templates");
  if (!select || !data) { return; }
  var templates = JSON.parse(data.textContent);
  select.addEventListener("change", function () {
    var chosen = templates.filter(function (t) { return String(t.id) === select.value; })[0];
    if (!chosen) { return; }
    document.getElementById("reply").value = chosen.body;
    var field = document.querySelector("input[name=template_id]");
    if (field) { field.value = chosen.id; }
  });
})();
