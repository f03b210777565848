// The scanning page: a barcode gun types a code and Enter into the focused field; the phone camera's frames are
// decoded in the browser (BarcodeDetector, where the browser has it) or by the server's decoder (POST /app/decode).
// Each code goes to the shipment once and its outcome (accepted, accepted with the outbound checks' warnings in red
// or amber, or rejected with the reason) is listed at the top.
(function () {
  "use strict";
  const root = document.getElementById("scanner");
  if (!root) return;
  const M = JSON.parse(document.getElementById("messages").textContent);
  const form = document.getElementById("scan-form");
  const input = document.getElementById("scan-input");
  const log = document.getElementById("scan-log");
  const count = document.getElementById("item-count");
  const status = document.getElementById("camera-status");
  const video = document.getElementById("camera-video");
  const startBtn = document.getElementById("camera-start");
  const stopBtn = document.getElementById("camera-stop");
  const photo = document.getElementById("photo");
  const sentByCamera = new Set();
  let audioCtx = null;

  function t(key, values) {
    let text = M[key] || key;
    for (const [k, v] of Object.entries(values || {})) text = text.replace("{" + k + "}", v);
    return text;
  }

  // High: accepted. Low: rejected. Two middle tones: accepted, but with a warning to look at.
  function beep(kind) {
    const tones = { ok: [1760, 0.08], no: [220, 0.3], warn: [660, 0.25] };
    const [freq, length] = tones[kind] || tones.ok;
    try {
      audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
      const osc = audioCtx.createOscillator();
      const gain = audioCtx.createGain();
      osc.frequency.value = freq;
      gain.gain.value = 0.05;
      osc.connect(gain).connect(audioCtx.destination);
      osc.start();
      osc.stop(audioCtx.currentTime + length);
    } catch (e) { /* no sound is fine */ }
  }

  function add(cls, head, detail, code, reason, warnings) {
    const li = document.createElement("li");
    li.className = cls;
    if (reason) li.dataset.reason = reason;
    const strong = document.createElement("strong");
    strong.textContent = head;
    li.append(strong, " · " + detail + " ");
    const c = document.createElement("code");
    c.textContent = code.slice(0, 80);
    li.append(c);
    if (warnings && warnings.length) {
      li.dataset.warnings = warnings.map((w) => w.kind).join(" ");
      const ul = document.createElement("ul");
      ul.className = "warnings";
      for (const w of warnings) {
        const item = document.createElement("li");
        item.className = "warn " + w.severity;
        item.dataset.kind = w.kind;
        const name = document.createElement("strong");
        name.textContent = t("warning." + w.kind);
        item.append(name, " · " + w.message);
        ul.append(item);
      }
      li.append(ul);
    }
    log.prepend(li);
  }

  function show(result) {
    for (const a of result.accepted) {
      const warnings = a.warnings || [];
      const level = warnings.some((w) => w.severity === "high") ? "high" : "medium";
      add(warnings.length ? "ok warned " + level : "ok", t(warnings.length ? "scan.warned" : "scan.accepted"),
          t("scan.units") + " " + a.units, a.code, null, warnings);
    }
    for (const r of result.rejected) add("no", t("reason." + r.reason), r.message, r.code, r.reason);
    if (count && result.accepted.length) {
      const n = Number(count.dataset.n) + result.accepted.length;
      count.dataset.n = String(n);
      count.textContent = t("shipment.count", { n: n });
    }
    const unitCount = document.getElementById("unit-count");
    if (unitCount && result.accepted.length) {
      const n = Number(unitCount.dataset.n) + result.accepted.reduce((sum, a) => sum + a.units, 0);
      unitCount.dataset.n = String(n);
      unitCount.textContent = t("shipment.units", { n: n });
    }
  }

  let queue = Promise.resolve();
  function send(codes) {
    // One request at a time, in scan order: a gun can fire faster than the server answers.
    queue = queue.then(async () => {
      const body = new FormData();
      body.append("codes", codes.join("\n"));
      try {
        const resp = await fetch(form.action, { method: "POST", body, headers: { Accept: "application/json" } });
        const data = await resp.json().catch(() => ({ detail: resp.statusText }));
        if (!resp.ok) {
          add("no", t("scan.error"), data.detail || String(resp.status), codes.join(" "), "error");
          beep("no");
          return;
        }
        show(data);
        const warned = data.accepted.some((a) => a.warnings && a.warnings.length);
        beep(data.rejected.length ? "no" : warned ? "warn" : "ok");
      } catch (e) {
        add("no", t("scan.error"), String(e), codes.join(" "), "error");
      }
    });
    return queue;
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    input.value = "";
    input.focus();
    if (value) send([value]);
  });

  async function decodeOnServer(blob) {
    const body = new FormData();
    body.append("frame", blob, "frame.jpg");
    const resp = await fetch("/app/decode", { method: "POST", body, headers: { Accept: "application/json" } });
    if (!resp.ok) return [];
    return (await resp.json()).codes;
  }

  function fresh(texts) {
    const out = texts.filter((x) => x && !sentByCamera.has(x));
    out.forEach((x) => sentByCamera.add(x));
    return out;
  }

  let stream = null;
  let detector = null;
  const canvas = document.createElement("canvas");

  async function tick() {
    let texts = [];
    if (detector) {
      texts = (await detector.detect(video)).map((b) => b.rawValue);
    } else if (video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
      if (blob) texts = await decodeOnServer(blob);
    }
    const codes = fresh(texts);
    if (codes.length) await send(codes);
  }

  async function loop() {
    if (!stream) return;
    try { await tick(); } catch (e) { status.textContent = String(e); }
    if (stream) setTimeout(loop, detector ? 250 : 600);
  }

  startBtn.addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      status.textContent = t("camera.unavailable") + " (" + e.name + ")";
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    detector = null;
    if ("BarcodeDetector" in window && !root.dataset.serverDecode) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: formats });
      } catch (e) { detector = null; }
    }
    status.textContent = t(detector ? "camera.in_browser" : "camera.on_server");
    startBtn.hidden = true;
    stopBtn.hidden = false;
    loop();
  });

  stopBtn.addEventListener("click", () => {
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
    video.hidden = true;
    startBtn.hidden = false;
    stopBtn.hidden = true;
    status.textContent = "";
    input.focus();
  });

  photo.addEventListener("change", async () => {
    const file = photo.files && photo.files[0];
    if (!file) return;
    status.textContent = t("camera.decoding");
    const codes = await decodeOnServer(file);
    status.textContent = t("camera.found", { n: codes.length });
    if (codes.length) await send(codes);
    photo.value = "";
  });
})();
