// The consumer check page: with the person's consent, the browser's position turns the check into an
// "inspecting" observation at the nearest member store (see web/service.py for why the store).
(function () {
  "use strict";
  const box = document.getElementById("inspect");
  const button = document.getElementById("share-location");
  const out = document.getElementById("inspect-result");
  if (!box || !button) return;
  button.addEventListener("click", () => {
    if (!navigator.geolocation) { out.textContent = "—"; return; }
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(async (pos) => {
      try {
        const resp = await fetch("/check/inspect", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ code: box.dataset.code, lat: pos.coords.latitude, lon: pos.coords.longitude }),
        });
        const data = await resp.json();
        out.textContent = data.message || data.detail || String(resp.status);
        out.dataset.reason = data.reason || "error";
      } catch (e) {
        out.textContent = String(e);
        button.disabled = false;
      }
    }, (err) => { out.textContent = err.message; button.disabled = false; }, { timeout: 15000, maximumAge: 60000 });
  });
})();
