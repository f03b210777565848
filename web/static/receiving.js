// The receipt page: scan.js does the scanning (gun, camera, offline queue); this keeps the receipt's counters
// (expected, received, missing, extra) current from each answer's "receipt" figures.
(function () {
  "use strict";
  const root = document.getElementById("scanner");
  if (!root) return;
  root.addEventListener("scan:answer", (ev) => {
    const figures = ev.detail && ev.detail.receipt;
    if (!figures) return;
    for (const name of ["expected", "received", "missing", "extra"]) {
      const el = document.getElementById("receipt-" + name);
      if (el && name in figures) { el.dataset.n = String(figures[name]); el.textContent = String(figures[name]); }
    }
  });
})();
