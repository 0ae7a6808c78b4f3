// Headway's bit of plain JavaScript, hooked on data- attributes. Everything works
// without it; htmx (htmx.min.js, vendored) does the partial page updates.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // <select data-autosubmit>: submit its form as soon as a choice is made.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit")) {
      if (target.form) {
        target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
      }
    }
  });
})();
