// Sekisho: progressive enhancement of the longer forms (ledger registration, permit requests).
// A group marked data-show-if is shown only while its condition holds, and its inputs are disabled while
// hidden, so they are not sent. Without this script every group is shown and the server checks everything.
//   data-show-if="has_personal_info"        a checkbox of that name is checked
//   data-show-if="origin=copy,derived"      the radio button (or select) of that name has one of the values
(function () {
  "use strict";

  function holds(form, rule) {
    var at = rule.indexOf("=");
    var name = at === -1 ? rule : rule.slice(0, at);
    var wanted = at === -1 ? null : rule.slice(at + 1).split(",");
    var controls = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < controls.length; i++) {
      var control = controls[i];
      var checkable = control.type === "checkbox" || control.type === "radio";
      if (checkable && !control.checked) continue;
      if (wanted === null ? checkable : wanted.indexOf(control.value) !== -1) return true;
    }
    return false;
  }

  function update(form) {
    var groups = form.querySelectorAll("[data-show-if]");
    for (var i = 0; i < groups.length; i++) {
      var group = groups[i];
      var show = holds(form, group.getAttribute("data-show-if"));
      group.hidden = !show;
      var inputs = group.querySelectorAll("input, select, textarea");
      for (var j = 0; j < inputs.length; j++) inputs[j].disabled = !show;
    }
  }

  function init() {
    var forms = document.querySelectorAll("form[data-reveal]");
    for (var i = 0; i < forms.length; i++) {
      (function (form) {
        update(form);
        form.addEventListener("change", function () {
          update(form);
        });
      })(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
