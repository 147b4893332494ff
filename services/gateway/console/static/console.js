// Progressive enhancement only: every page works without it. It filters the members directory
// as one types (co-signer picking on a phone), adds a routing suggestion's unit code to the assign
// form's field on a click, and moves focus to a refusal so it is read first.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[data-filter]").forEach(function (box) {
    var items = document.querySelectorAll(box.getAttribute("data-filter"));
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      items.forEach(function (li) { li.hidden = q && li.textContent.toLowerCase().indexOf(q) < 0; });
    });
  });
  document.querySelectorAll("button[data-fill]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-fill"));
      var codes = field.value.split(/[,、\s]+/).filter(Boolean);
      if (codes.indexOf(button.getAttribute("data-unit")) < 0) { codes.push(button.getAttribute("data-unit")); }
      field.value = codes.join(", ");
      field.focus();
    });
  });
  var alert = document.querySelector("[role=alert]");
  if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
});
