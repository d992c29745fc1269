// Sekisho: the little script the pages need. Loaded from this deployment (the CSP allows no inline script).
(function () {
  "use strict";

  // A form with data-confirm asks before it is sent (state changes are recorded and not undone lightly).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
