// The alert queue: "select all on this page" ticks (or clears) every alert of the page for the bulk change.
(function () {
  "use strict";
  var all = document.getElementById("select-page");
  if (!all) return;
  var picks = function () { return document.querySelectorAll("#bulk-form input.pick"); };
  all.addEventListener("change", function () {
    picks().forEach(function (box) { box.checked = all.checked; });
  });
  document.getElementById("bulk-form").addEventListener("change", function (event) {
    if (event.target === all) return;
    var boxes = picks(), ticked = 0;
    boxes.forEach(function (box) { if (box.checked) ticked += 1; });
    all.checked = ticked > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  });
})();
