// The store's till and receiving pages. A barcode gun types a code and Enter into the focused field (focus is kept
// there); the camera's frames are read in the browser (BarcodeDetector) or by the server's decoder (/app/decode),
// as on the scanning page. Each sale carries an Idempotency-Key, so a retry after a lost answer never sells twice.
(function () {
  "use strict";
  const M = JSON.parse((document.getElementById("messages") || { textContent: "{}" }).textContent);
  function t(key, values) {
    let text = M[key] || key;
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }
  async function post(url, body, headers) {
    const resp = await fetch(url, {
      method: "POST", body: JSON.stringify(body || {}),
      headers: Object.assign({ "Content-Type": "application/json", Accept: "application/json" }, headers || {}),
    });
    const data = await resp.json().catch(() => ({ detail: resp.statusText }));
    return { ok: resp.ok, status: resp.status, data };
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const input = document.getElementById("scan-input");
  const keepFocus = () => { if (input && document.activeElement === document.body) input.focus(); };
  document.addEventListener("click", () => setTimeout(keepFocus, 0));

  // --- camera (both pages) ---
  function camera(onCodes) {
    const startBtn = document.getElementById("camera-start");
    if (!startBtn) return;
    const stopBtn = document.getElementById("camera-stop");
    const video = document.getElementById("camera-video");
    const status = document.getElementById("camera-status");
    const seen = new Set();
    const canvas = document.createElement("canvas");
    let stream = null, detector = null;
    async function tick() {
      let texts = [];
      if (detector) texts = (await detector.detect(video)).map((b) => b.rawValue);
      else if (video.videoWidth) {
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        canvas.getContext("2d").drawImage(video, 0, 0);
        const blob = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.9));
        if (blob) {
          const body = new FormData(); body.append("frame", blob, "frame.jpg");
          const resp = await fetch("/app/decode", { method: "POST", body, headers: { Accept: "application/json" } });
          if (resp.ok) texts = (await resp.json()).codes;
        }
      }
      const fresh = texts.filter((x) => x && !seen.has(x));
      fresh.forEach((x) => seen.add(x));
      for (const code of fresh) await onCodes(code);
    }
    async function loop() {
      if (!stream) return;
      try { await tick(); } catch (e) { status.textContent = String(e); }
      if (stream) setTimeout(loop, detector ? 250 : 600);
    }
    startBtn.addEventListener("click", async () => {
      try { stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }); }
      catch (e) { status.textContent = t("camera.unavailable") + " (" + e.name + ")"; return; }
      video.srcObject = stream; video.hidden = false; await video.play();
      detector = null;
      if ("BarcodeDetector" in window) {
        try {
          const formats = await window.BarcodeDetector.getSupportedFormats();
          if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats });
        } catch (e) { detector = null; }
      }
      status.textContent = t(detector ? "camera.in_browser" : "camera.on_server");
      startBtn.hidden = true; stopBtn.hidden = false; loop();
    });
    stopBtn.addEventListener("click", () => {
      if (stream) stream.getTracks().forEach((tr) => tr.stop());
      stream = null; video.hidden = true; startBtn.hidden = false; stopBtn.hidden = true; status.textContent = "";
      input.focus();
    });
  }

  // --- the till ---
  const till = document.getElementById("till");
  if (till) {
    const phone = document.getElementById("member-phone");
    const standing = document.getElementById("member-standing");
    const bar = document.getElementById("progress-bar");
    const none = document.getElementById("member-none");
    const register = document.getElementById("register-form");
    const banner = document.getElementById("free-banner");
    const redeem = document.getElementById("redeem");
    const result = document.getElementById("sale-result");
    const sales = document.getElementById("sales");
    let member = null;

    function showMember(m) {
      member = m;
      register.hidden = true;
      if (!m) { standing.hidden = true; bar.hidden = true; none.hidden = false; banner.hidden = true; return; }
      none.hidden = true;
      standing.hidden = false;
      const p = m.progress || { count: (m.free_after - m.next_free_after) % m.free_after, of: m.free_after };
      if (!m.progress && p.count === 0 && m.free_available > 0) p.count = p.of;
      standing.dataset.points = m.points;
      standing.dataset.progress = p.count + "/" + p.of;
      standing.textContent = t("pos.standing", { id: m.id === null ? "—" : m.id, points: m.points, count: p.count, of: p.of })
        + (m.own === false ? " · " + t("pos.other_store") : "");
      bar.hidden = false;
      bar.firstElementChild.style.width = Math.round(100 * p.count / p.of) + "%";
      banner.hidden = !(m.free_available > 0);
      if (banner.hidden) redeem.checked = false;
    }

    document.getElementById("member-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const value = phone.value.trim();
      if (!value) { showMember(null); return; }
      const r = await post("/app/pos/lookup", { member: value });
      if (r.ok) { showMember(r.data); input.focus(); return; }
      showMember(null);
      if (r.data.error === "member_not_found") { register.hidden = false; none.hidden = true; }
      else result.textContent = r.data.detail || String(r.status);
    });

    register.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const stage = document.getElementById("reg-stage").value;
      const body = {
        member: phone.value.trim(), name: document.getElementById("reg-name").value || null,
        baby_birth_date: document.getElementById("reg-birth").value || null, baby_stage: stage ? Number(stage) : null,
        source: document.getElementById("reg-source").value, consent: document.getElementById("reg-consent").checked,
      };
      const r = await post("/app/pos/members", body);
      if (r.ok) { showMember(r.data); result.textContent = t("pos.registered", { id: r.data.id }); input.focus(); }
      else result.textContent = r.data.detail || String(r.status);
    });

    function addSale(data) {
      const empty = document.getElementById("no-sales");
      if (empty) empty.remove();
      const li = el("li");
      li.dataset.sale = data.sale_id;
      li.dataset.kind = data.kind;
      const units = data.accepted.reduce((n, a) => n + (a.units || 1), 0);
      const now = new Date();
      const hhmm = String(now.getHours()).padStart(2, "0") + ":" + String(now.getMinutes()).padStart(2, "0");
      let text = hhmm + " · " + t("pos.units", { n: units });
      if (data.kind === "free") text += " · " + t("pos.free");
      if (data.member && data.member.id !== null) text += " · " + t("pos.member_id", { id: data.member.id });
      li.append(el("span", "grow", text));
      const a = el("a", "button", t("pos.receipt"));
      a.href = "/app/pos/sales/" + data.sale_id + "/receipt";
      a.target = "_blank"; a.rel = "noopener";
      li.append(a);
      const b = el("button", "undo", t("pos.undo"));
      b.type = "button"; b.dataset.sale = data.sale_id;
      li.append(b);
      sales.prepend(li);
    }

    let queue = Promise.resolve();
    function sell(code) {
      queue = queue.then(async () => {
        const body = { codes: [code], member: member ? phone.value.trim() : null, redeem: !!(member && redeem.checked) };
        const key = "till-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
        let r;
        for (let attempt = 0; attempt < 3; attempt++) {
          try { r = await post("/app/pos/sales", body, { "Idempotency-Key": key }); break; }
          catch (e) { r = { ok: false, status: 0, data: { detail: String(e) } }; }  // lost answer: retry, same key
        }
        if (!r.ok) { result.className = "small alert bad"; result.textContent = r.data.detail || String(r.status); return; }
        const d = r.data;
        if (d.rejected.length) {
          result.className = "small alert bad";
          result.dataset.reason = d.rejected[0].reason;
          result.textContent = t("reason." + d.rejected[0].reason) + " · " + d.rejected[0].message;
        } else {
          result.className = "small alert good";
          result.dataset.reason = "";
          result.textContent = d.kind === "free" ? t("pos.free_given")
            : t("pos.sold", { n: d.accepted.length }) + (d.member ? " · " + t("pos.points_earned", { n: d.member.points_earned }) : "");
        }
        if (d.sale_id) addSale(d);
        if (d.member) showMember(d.member);
        redeem.checked = false;
      });
      return queue;
    }

    document.getElementById("sale-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = input.value.trim();
      input.value = ""; input.focus();
      if (value) sell(value);
    });

    sales.addEventListener("click", async (ev) => {
      const b = ev.target.closest("button.undo");
      if (!b) return;
      if (!window.confirm(t("pos.undo_confirm"))) return;
      const r = await post("/app/pos/sales/" + b.dataset.sale + "/undo");
      if (!r.ok) { result.className = "small alert bad"; result.textContent = r.data.detail || String(r.status); return; }
      const li = b.closest("li");
      li.classList.add("undone");
      li.querySelector(".grow").textContent += " · " + t("pos.undone");
      b.remove();
      result.className = "small alert good";
      result.textContent = t("pos.undone_done");
      if (r.data.member && member) showMember(r.data.member);
    });
    camera(sell);
  }

  // --- receiving ---
  const receiving = document.getElementById("receiving");
  if (receiving) {
    const log = document.getElementById("scan-log");
    function line(cls, head, detail, code) {
      const li = el("li", cls);
      li.append(el("strong", "", head), " · " + detail + " ", el("code", "", (code || "").slice(0, 80)));
      log.prepend(li);
      return li;
    }
    function show(d) {
      for (const a of d.accepted) {
        const ws = a.warnings || [];
        const li = line(ws.length ? "ok warned high" : "ok", t(ws.length ? "scan.warned" : "scan.accepted"),
          t("pos.units", { n: a.units }), a.code);
        if (ws.length) {
          li.dataset.warnings = ws.map((w) => w.kind).join(" ");
          const ul = el("ul", "warnings");
          for (const w of ws) {
            const item = el("li", "warn " + (w.severity || "high"));
            item.dataset.kind = w.kind;
            item.append(el("strong", "", t("warning." + w.kind)), " · " + w.message);
            ul.append(item);
          }
          li.append(ul);
        }
      }
      for (const r of d.rejected) { const li = line("no", t("reason." + r.reason), r.message, r.code); li.dataset.reason = r.reason; }
    }
    document.getElementById("receive-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const value = input.value.trim();
      input.value = ""; input.focus();
      if (!value) return;
      const r = await post("/app/pos/receive", { codes: [value] });
      if (r.ok) show(r.data); else line("no", t("scan.error"), r.data.detail || String(r.status), value);
    });
    document.getElementById("open-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const box = document.getElementById("case-input");
      const value = box.value.trim();
      box.value = "";
      if (!value) return;
      const r = await post("/app/pos/open-case", { code: value });
      if (r.ok) line("ok opened", t("pos.opened"), t("pos.units", { n: r.data.accepted.length }), value);
      else line("no", t("scan.error"), r.data.detail || String(r.status), value);
      input.focus();
    });
  }
})();
