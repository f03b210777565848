// The consumer check page: with the person's consent, the browser's position turns the check into an
// "inspecting" observation at the nearest member store (see web/service.py for why the store).
// Every word it shows comes from the page's catalogue (the #inspect-messages block, in the page's language):
// the browser's own geolocation messages are in the browser's language, or in English.
(function () {
  "use strict";
  const box = document.getElementById("inspect");
  const button = document.getElementById("share-location");
  const out = document.getElementById("inspect-result");
  if (!box || !button) return;
  let words = {};
  try {
    words = JSON.parse(document.getElementById("inspect-messages").textContent || "{}");
  } catch (e) {
    words = {};
  }
  const say = (key, reason, values) => {
    let text = words[key] || key;
    for (const [name, value] of Object.entries(values || {})) text = text.replace("{" + name + "}", String(value));
    out.textContent = text;
    out.dataset.reason = reason;
  };
  // GeolocationPositionError codes: 1 permission denied, 2 position unavailable, 3 timeout
  const GEO = { 1: "denied", 2: "unavailable", 3: "timeout" };
  button.addEventListener("click", () => {
    if (!navigator.geolocation) { say("inspect.geo.unsupported", "geo_unsupported"); return; }
    button.disabled = true;
    navigator.geolocation.getCurrentPosition(async (pos) => {
      let resp;
      try {
        resp = await fetch("/check/inspect", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ code: box.dataset.code, lat: pos.coords.latitude, lon: pos.coords.longitude }),
        });
      } catch (e) {
        say("inspect.network", "network");
        button.disabled = false;
        return;
      }
      let data = {};
      try { data = await resp.json(); } catch (e) { data = {}; }
      if (resp.ok && data.reason) {
        say("inspect." + data.reason, data.reason);
        if (data.message) out.textContent = data.message; // the server's words, in the same language
      } else {
        say("inspect.failed", "error", { status: resp.status });
        // a refusal the server worded itself (too many checks) says more than the status
        if (typeof data.detail === "string" && resp.status === 429) out.textContent = data.detail;
        button.disabled = false;
      }
    }, (err) => {
      const kind = GEO[err && err.code] || "unavailable";
      say("inspect.geo." + kind, "geo_" + kind);
      button.disabled = false;
    }, { timeout: 15000, maximumAge: 60000 });
  });
})();
