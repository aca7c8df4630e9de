/* The new-examination form: the body-site details field shows only when the site is "other"
   (or already holds something). Without this script it is simply always shown. */
(function () {
  "use strict";
  var site = document.getElementById("id_body_site");
  var box = document.querySelector("[data-site-other]");
  if (!site || !box) return;
  var text = box.querySelector("input");
  function sync() {
    box.hidden = site.value !== "other" && !(text && text.value) && !box.querySelector(".errorlist");
  }
  site.addEventListener("change", sync);
  sync();
})();
