// Close-out checklist: a checkbox with data-select-all="NAME" selects every checkbox named NAME on the page.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-select-all")) return;
    var name = box.getAttribute("data-select-all");
    var all = document.querySelectorAll('input[type="checkbox"][name="' + name + '"]');
    for (var i = 0; i < all.length; i++) all[i].checked = box.checked;
  });
})();
