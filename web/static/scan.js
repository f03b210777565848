// The scanning page: a barcode gun types a code and Enter into the focused field; the phone camera's frames are
// decoded in the browser (BarcodeDetector, where the browser has it) or by the server's decoder (POST /app/decode).
// Each code goes to the shipment once and its outcome (accepted, accepted with the outbound checks' warnings in red
// or amber, or rejected with the reason) is shown large at the top and listed in the log, with a tone per outcome.
// A scan that cannot reach the server waits in an offline queue (IndexedDB) and is sent when the network returns.
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

  // A short tone per outcome. High: accepted. Low and longer: rejected. Middle: accepted, but with a warning to look
  // at. Two quick blips: kept in the offline queue (nothing lost, nothing decided yet).
  function beep(kind) {
    const tones = { ok: [[1760, 0, 0.08]], no: [[220, 0, 0.3]], warn: [[660, 0, 0.25]],
                    queued: [[520, 0, 0.06], [520, 0.12, 0.06]] };
    try {
      audioCtx = audioCtx || new (window.AudioContext || window.webkitAudioContext)();
      for (const [freq, at, length] of tones[kind] || tones.ok) {
        const osc = audioCtx.createOscillator();
        const gain = audioCtx.createGain();
        osc.frequency.value = freq;
        gain.gain.value = 0.05;
        osc.connect(gain).connect(audioCtx.destination);
        osc.start(audioCtx.currentTime + at);
        osc.stop(audioCtx.currentTime + at + length);
      }
    } catch (e) { /* no sound is fine */ }
  }

  // The result region: the latest outcome in large type (green, red, amber, or grey while pending or queued).
  const result = document.getElementById("scan-result");
  function headline(state, head, detail, code) {
    if (!result) return;
    result.dataset.state = state;
    result.querySelector(".head").textContent = head;
    result.querySelector(".detail").textContent = detail || "";
    result.querySelector(".code").textContent = (code || "").slice(0, 80);
  }

  function bump(id, by) {
    const el = document.getElementById(id);
    if (!el || !by) return;
    const n = Number(el.dataset.n || 0) + by;
    el.dataset.n = String(n);
    el.textContent = String(n);
  }

  function entryItem(cls, head, detail, code, reason, warnings) {
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
    return li;
  }

  // Outcomes take the place of their scan's pending line, so the log keeps the order the codes were scanned in.
  function add(anchor, cls, head, detail, code, reason, warnings) {
    const li = entryItem(cls, head, detail, code, reason, warnings);
    if (anchor && anchor.parentNode) anchor.before(li);
    else log.prepend(li);
    return li;
  }

  function show(data, anchor) {
    for (const a of data.accepted) {
      const warnings = a.warnings || [];
      const level = warnings.some((w) => w.severity === "high") ? "high" : "medium";
      add(anchor, warnings.length ? "ok warned " + level : "ok", t(warnings.length ? "scan.warned" : "scan.accepted"),
          t("scan.units") + " " + a.units, a.code, null, warnings);
    }
    for (const r of data.rejected) add(anchor, "no", t("reason." + r.reason), r.message, r.code, r.reason);
    bump("count-accepted", data.accepted.length);
    bump("count-rejected", data.rejected.length);
    if (count && data.accepted.length) {
      const n = Number(count.dataset.n) + data.accepted.length;
      count.dataset.n = String(n);
      count.textContent = t("shipment.count", { n: n });
    }
    const unitCount = document.getElementById("unit-count");
    if (unitCount && data.accepted.length) {
      const n = Number(unitCount.dataset.n) + data.accepted.reduce((sum, a) => sum + a.units, 0);
      unitCount.dataset.n = String(n);
      unitCount.textContent = t("shipment.units", { n: n });
      const expected = document.getElementById("count-expected");
      if (expected) expected.textContent = n + " / " + expected.dataset.expected;
    }
    const warned = data.accepted.some((a) => a.warnings && a.warnings.length);
    const high = data.accepted.some((a) => (a.warnings || []).some((w) => w.severity === "high"));
    if (data.rejected.length) {
      const r = data.rejected[data.rejected.length - 1];
      headline("no", t("reason." + r.reason), r.message, r.code);
    } else if (data.accepted.length) {
      const a = data.accepted[data.accepted.length - 1];
      const w = (a.warnings || [])[0];
      headline(warned ? (high ? "warned high" : "warned") : "ok", t(warned ? "scan.warned" : "scan.accepted"),
               w ? t("warning." + w.kind) : t("scan.units") + " " + a.units, a.code);
    }
    beep(data.rejected.length ? "no" : warned ? "warn" : "ok");
  }

  // The offline queue. Every scan is written to IndexedDB first, with the Idempotency-Key it is sent with, and
  // removed only once the server has answered it: a scan made in a dead zone (the browser offline, or the request
  // failing on the way) waits there, shown as queued, and is sent again, in scan order and with the same key, when
  // the network returns (the `online` event, a retry timer, or the next visit of this page). The shipment itself
  // refuses a code twice ("duplicate"), so a replay never counts a unit twice.
  const DB_NAME = "traceability-scan-queue";
  const STORE = "scans";
  const RETRY_MS = Number(root.dataset.retryMs || 4000);
  const shipmentId = root.dataset.shipment;
  const rows = new Map(); // seq -> the scan's pending line in the log
  const fresh = new Set(); // seqs scanned on this page and not yet tried: they beep once when they are queued
  const memory = []; // the queue when IndexedDB is unavailable (a private window): kept while the page is open
  let memorySeq = 0;
  let dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve) => {
        let req;
        try { req = window.indexedDB.open(DB_NAME, 1); } catch (e) { resolve(null); return; }
        req.onupgradeneeded = () => {
          const store = req.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
          store.createIndex("shipment", "shipment");
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => resolve(null);
        req.onblocked = () => resolve(null);
      });
    }
    return dbPromise;
  }

  function done(tr) {
    return new Promise((resolve, reject) => {
      tr.oncomplete = () => resolve();
      tr.onerror = tr.onabort = () => reject(tr.error);
    });
  }

  async function keep(entry) {
    const db = await openDb();
    if (db) {
      try {
        const tr = db.transaction(STORE, "readwrite");
        const req = tr.objectStore(STORE).add(entry);
        req.onsuccess = () => { entry.seq = req.result; };
        await done(tr);
        return entry;
      } catch (e) { /* full or refused: fall back to memory */ }
    }
    entry.seq = "m" + ++memorySeq;
    memory.push(entry);
    return entry;
  }

  async function forget(entry) {
    const i = memory.indexOf(entry);
    if (i >= 0) { memory.splice(i, 1); return; }
    const db = await openDb();
    if (!db) return;
    const tr = db.transaction(STORE, "readwrite");
    tr.objectStore(STORE).delete(entry.seq);
    await done(tr);
  }

  async function waiting() {
    const db = await openDb();
    let stored = [];
    if (db) {
      try {
        const tr = db.transaction(STORE, "readonly");
        const req = tr.objectStore(STORE).index("shipment").getAll(shipmentId);
        await done(tr);
        stored = req.result || [];
      } catch (e) { stored = []; }
    }
    return stored.sort((a, b) => a.seq - b.seq).concat(memory.filter((e) => e.shipment === shipmentId));
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function mark(entry, state) {
    let li = rows.get(entry.seq);
    if (!li) {
      li = document.createElement("li");
      li.dataset.key = entry.key;
      li.append(document.createElement("strong"), " ", document.createElement("code"));
      li.querySelector("code").textContent = entry.codes.join(" ").slice(0, 80);
      log.prepend(li);
      rows.set(entry.seq, li);
    }
    li.className = "pending " + state;
    li.dataset.state = state;
    li.querySelector("strong").textContent = t(state === "queued" ? "scan.queued" : "scan.sending");
    countQueued();
    return li;
  }

  function countQueued() {
    const queued = log.querySelectorAll("li.pending.queued").length;
    const counter = document.getElementById("count-queued");
    if (counter) { counter.dataset.n = String(queued); counter.textContent = String(queued); }
    root.dataset.queued = String(queued);
  }

  function settle(entry) {
    const li = rows.get(entry.seq);
    rows.delete(entry.seq);
    if (li) li.remove();
    countQueued();
  }

  // One attempt: "done" when the server answered (accepted, rejected, or refused for good); "retry" when it could
  // not be reached or was briefly unavailable, "signed_out" when the key's cookie is gone (the scan stays queued).
  async function post(entry) {
    if (navigator.onLine === false) return "retry";
    const body = new FormData();
    body.append("codes", entry.codes.join("\n"));
    let resp;
    try {
      resp = await fetch(entry.action, {
        method: "POST", body, credentials: "same-origin",
        headers: { Accept: "application/json", "Idempotency-Key": entry.key },
      });
    } catch (e) {
      return "retry"; // "Failed to fetch": the scan is kept, never shown as an error
    }
    if (resp.status === 401) return "signed_out";
    if (resp.status === 408 || resp.status === 429 || resp.status >= 500) return "retry";
    const data = await resp.json().catch(() => ({}));
    const anchor = rows.get(entry.seq);
    if (!resp.ok) {
      const detail = data.detail || String(resp.status);
      add(anchor, "no", t("scan.error"), detail, entry.codes.join(" "), data.code || "error");
      bump("count-rejected", entry.codes.length);
      headline("no", t("scan.error"), detail, entry.codes.join(" "));
      beep("no");
      return "done";
    }
    show({ accepted: data.accepted || [], rejected: data.rejected || [] }, anchor);
    root.dispatchEvent(new CustomEvent("scan:answer", { detail: data })); // the receipt page's counters listen
    return "done";
  }

  let draining = null;
  let again = false;
  let retryTimer = null;

  async function drainOnce() {
    const entries = await waiting();
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      mark(entry, "sending");
      const outcome = await post(entry);
      if (outcome !== "done") {
        // In order: nothing scanned later is sent before this one.
        for (const rest of entries.slice(i)) mark(rest, "queued");
        const last = entries[entries.length - 1];
        headline("queued", t(outcome === "signed_out" ? "scan.signed_out" : "scan.queued"),
                 outcome === "signed_out" ? "" : t("scan.queued_detail"), last.codes.join(" "));
        if (entries.slice(i).some((e) => fresh.has(e.seq))) beep("queued");
        entries.forEach((e) => fresh.delete(e.seq));
        return false;
      }
      fresh.delete(entry.seq);
      await forget(entry).catch(() => undefined);
      settle(entry);
    }
    return true;
  }

  function drain() {
    if (draining) { again = true; return draining; }
    draining = (async () => {
      let emptied = true;
      do {
        again = false;
        try { emptied = await drainOnce(); } catch (e) { emptied = false; }
      } while (again); // a scan made meanwhile is not in the pass that just ended
      if (!emptied && !retryTimer) {
        retryTimer = setTimeout(() => { retryTimer = null; drain(); }, RETRY_MS);
      }
    })().finally(() => { draining = null; });
    return draining;
  }

  async function send(codes) {
    const entry = { key: newKey(), shipment: shipmentId, action: form.action, codes: codes, at: Date.now() };
    await keep(entry);
    fresh.add(entry.seq);
    mark(entry, "sending");
    headline("pending", t("scan.sending"), "", codes.join(" "));
    return drain();
  }

  window.addEventListener("online", () => drain());
  waiting().then((entries) => {
    for (const e of entries) mark(e, "queued");
    if (entries.length) drain();
  });

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

  function unseen(texts) {
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
    const codes = unseen(texts);
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
