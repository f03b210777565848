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
  async function get(url) {
    const resp = await fetch(url, { headers: { Accept: "application/json" } });
    const data = await resp.json().catch(() => ({ detail: resp.statusText }));
    return { ok: resp.ok, status: resp.status, data };
  }
  function problem(r) {
    // A refusal in the page's words, with its machine reason beside it for the record.
    return (r.data && (r.data.detail || r.data.error)) || String(r.status);
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

  // --- O2O offers on the till: polled, with a sound and a countdown; accept / decline, set out, deliver by scanning ---
  const offersPanel = document.getElementById("offers-panel");
  if (offersPanel) {
    const offersList = document.getElementById("offers");
    const activeList = document.getElementById("active-orders");
    const doneList = document.getElementById("done-orders");  // delivered here: kept until the page reloads
    const noticeList = document.getElementById("notices");
    const noneText = document.getElementById("offers-none");
    const soundBtn = document.getElementById("sound-toggle");
    const declineTpl = document.getElementById("decline-template");
    const POLL_MS = 4000;
    const known = new Set();       // offers seen already: a new one beeps once
    const scanned = new Map();     // order id -> codes scanned at the door, kept across polls
    let after = 0, skew = 0, audio = null, first = true;

    function beep() {
      offersPanel.dataset.beeps = String(Number(offersPanel.dataset.beeps || 0) + 1);
      if (!audio || audio.state !== "running") return;  // the clerk turns the sound on once (a browser's rule)
      const t0 = audio.currentTime;
      for (const [at, hz] of [[0, 880], [0.3, 1175]]) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "sine"; osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.25, t0 + at); gain.gain.exponentialRampToValueAtTime(0.001, t0 + at + 0.25);
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(t0 + at); osc.stop(t0 + at + 0.26);
      }
    }
    soundBtn.addEventListener("click", async () => {
      try {
        if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
        await audio.resume();
      } catch (e) { audio = null; }
      const on = !!audio && audio.state === "running";
      soundBtn.setAttribute("aria-pressed", on ? "true" : "false");
      soundBtn.textContent = (on ? "🔔 " : "🔕 ") + t(on ? "pos.offers.sound_is_on" : "pos.offers.sound_on");
      if (on) beep();
    });

    function linesText(o) {
      return o.lines.map((ln) => (ln.name || ln.gtin) + " × " + ln.quantity).join(" · ");
    }
    function totalUnits(o) { return o.lines.reduce((n, ln) => n + ln.quantity, 0); }
    function why(o) {
      const offered = o.history.filter((h) => h.status === "offered");
      return offered.length ? offered[offered.length - 1].message : "";
    }
    function clock(ms) {
      const s = Math.max(0, Math.floor(ms / 1000));
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      const mm = String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
      return h ? h + ":" + mm : mm;
    }
    function tick() {
      const now = Date.now() + skew;
      for (const c of offersPanel.querySelectorAll(".countdown[data-deadline]")) {
        const left = Date.parse(c.dataset.deadline) - now;
        c.dataset.remaining = String(Math.max(0, Math.floor(left / 1000)));
        if (left <= 0) {
          c.textContent = t("pos.offers.over"); c.className = "countdown over";
          const b = c.closest("li").querySelector("button.accept");
          if (b) b.disabled = true;
        } else {
          c.textContent = t("pos.offers.left", { time: clock(left) });
          c.className = "countdown" + (left < 5 * 60 * 1000 ? " urgent" : "");
        }
      }
    }
    function head(li, o) {
      li.append(el("div", "what", "#" + o.id + " · " + linesText(o)));
      const where = [o.address || "", o.distance_km !== null && o.distance_km !== undefined
        ? t("pos.offers.km", { km: Number(o.distance_km).toFixed(1) }) : ""].filter(Boolean).join(" · ");
      if (where) li.append(el("div", "where small", where));
      const reason = why(o);
      if (reason) { const w = el("div", "why small muted", t("pos.offers.why", { why: reason })); w.dataset.reason = o.reason || ""; li.append(w); }
    }
    function result(li, cls, text, reason) {
      let p = li.querySelector(".order-result");
      if (!p) { p = el("p", "order-result small"); p.setAttribute("role", "status"); li.append(p); }
      p.className = "order-result small alert " + cls; p.textContent = text; p.dataset.reason = reason || "";
    }

    function offerItem(o) {
      const li = el("li", first ? "" : "new");
      li.dataset.order = o.id; li.dataset.status = o.status;
      head(li, o);
      const c = el("div", "countdown"); c.dataset.deadline = o.deadline; li.append(c);
      const actions = el("div", "actions");
      const accept = el("button", "primary big accept", t("pos.offers.accept")); accept.type = "button";
      const decline = el("button", "decline-open", t("pos.offers.decline")); decline.type = "button";
      actions.append(accept, decline); li.append(actions);
      accept.addEventListener("click", async () => {
        accept.disabled = true;
        const r = await post("/app/pos/offers/" + o.id + "/accept");
        if (!r.ok) { accept.disabled = false; result(li, "bad", problem(r), r.data.reason || r.data.error); return; }
        li.remove(); known.delete(o.id); activeList.prepend(activeItem(r.data)); empty(); poll(true);
      });
      decline.addEventListener("click", () => {
        if (li.querySelector("form.decline")) return;
        const form = declineTpl.content.firstElementChild.cloneNode(true);
        li.append(form);
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          const body = { reason: form.elements.reason.value, note: form.elements.note.value };
          const r = await post("/app/pos/offers/" + o.id + "/decline", body);
          if (!r.ok) { result(li, "bad", problem(r), r.data.reason || r.data.error); return; }
          li.remove(); known.delete(o.id); empty(); note(t("pos.offers.declined", { id: o.id }));
        });
      });
      return li;
    }

    function activeItem(o) {
      const li = el("li");
      li.dataset.order = o.id; li.dataset.status = o.status;
      head(li, o);
      li.append(el("div", "state small", t("pos.offers.status." + o.status)));
      if (o.status === "accepted") {
        const out = el("button", "set-out", t("pos.offers.out_for_delivery")); out.type = "button";
        out.addEventListener("click", async () => {
          const r = await post("/app/pos/offers/" + o.id + "/out-for-delivery");
          if (!r.ok) { result(li, "bad", problem(r), r.data.reason || r.data.error); return; }
          li.replaceWith(activeItem(r.data));
        });
        li.append(out);
      }
      const codes = scanned.get(o.id) || [];
      scanned.set(o.id, codes);
      const total = totalUnits(o);
      const form = el("form", "deliver"); form.autocomplete = "off";
      const label = el("label", "", t("pos.offers.deliver_scan", { n: total }));
      const box = el("input", "deliver-input"); box.spellcheck = false; box.autocapitalize = "off";
      box.placeholder = t("pos.offers.deliver_placeholder"); box.id = "deliver-" + o.id; label.htmlFor = box.id;
      const list = el("ul", "scanned");
      const count = el("p", "count small");
      const send = el("button", "primary deliver-send", t("pos.offers.deliver")); send.type = "button";
      function draw(rejected) {
        list.textContent = "";
        const bad = new Map((rejected || []).filter((x) => x.code).map((x) => [x.code, x]));
        codes.forEach((code, i) => {
          const item = el("li", bad.has(code.slice(0, 200)) ? "no" : "");
          const why = bad.get(code.slice(0, 200));
          item.append(el("code", "", code.slice(-24)));
          if (why) { item.dataset.reason = why.reason; item.append(el("span", "", why.message)); }
          const x = el("button", "remove", "✕"); x.type = "button"; x.title = t("pos.offers.remove");
          x.addEventListener("click", () => { codes.splice(i, 1); draw(); box.focus(); });
          item.append(x); list.append(item);
        });
        count.textContent = t("pos.offers.scanned", { n: codes.length, of: total });
        count.dataset.count = String(codes.length);
        send.disabled = codes.length === 0;
      }
      async function deliver() {
        send.disabled = true;
        const r = await post("/app/pos/offers/" + o.id + "/deliver", { codes: codes.slice() });
        if (!r.ok) {
          send.disabled = false;
          draw(r.data.rejected);
          const top = (r.data.rejected || [])[0];
          result(li, "bad", problem(r) + (top && !top.code ? " · " + top.message : ""),
            top ? top.reason : (r.data.reason || r.data.error));
          return;
        }
        scanned.delete(o.id);
        const done = el("li", "delivered");
        done.dataset.order = o.id; done.dataset.status = "delivered";
        done.append(el("div", "what", "#" + o.id + " · " + linesText(o)));
        li.remove(); doneList.prepend(done); empty();
        result(done, "good", t("pos.offers.delivered", { id: o.id, n: codes.length }));
        input && input.focus();
      }
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const value = box.value.trim();
        box.value = ""; box.focus();
        if (!value) return;
        if (!codes.includes(value)) codes.push(value);
        draw();
        if (codes.length === total) deliver();  // the last unit scanned: deliver at once, as the gun's Enter asks
      });
      send.addEventListener("click", deliver);
      form.append(label, box, list, count, send);
      li.append(form);
      draw();
      return li;
    }

    function render(list, rows, make) {
      const wanted = new Map(rows.map((o) => [String(o.id), o]));
      for (const li of Array.from(list.children)) {
        const o = wanted.get(li.dataset.order);
        if (!o) { li.remove(); continue; }
        if (li.dataset.status !== o.status) li.replaceWith(make(o));
        wanted.delete(li.dataset.order);
      }
      for (const o of wanted.values()) list.prepend(make(o));
    }
    function empty() {
      noneText.hidden = offersList.children.length + activeList.children.length > 0;
    }
    function note(text, kind) {
      const li = el("li", "", text); if (kind) li.dataset.kind = kind;
      noticeList.prepend(li);
      while (noticeList.children.length > 20) noticeList.lastElementChild.remove();
    }

    let timer = null;
    async function poll(once) {
      if (timer && !once) clearTimeout(timer);
      try {
        const r = await get("/app/pos/offers?after=" + after);
        if (r.ok) {
          skew = Date.parse(r.data.now) - Date.now();
          const fresh = r.data.offers.filter((o) => !known.has(o.id));
          r.data.offers.forEach((o) => known.add(o.id));
          render(offersList, r.data.offers, offerItem);
          render(activeList, r.data.active, activeItem);
          for (const n of r.data.notices) { note(n.message, n.kind); after = Math.max(after, n.id); }
          if (fresh.length) {
            beep();
            document.title = "(" + r.data.offers.length + ") " + document.title.replace(/^\(\d+\) /, "");
          } else if (!r.data.offers.length) document.title = document.title.replace(/^\(\d+\) /, "");
          first = false;
          empty(); tick();
        }
      } catch (e) { /* offline for a moment: the next poll catches up */ }
      if (!once) timer = setTimeout(poll, POLL_MS);
    }
    setInterval(tick, 1000);
    poll();
  }

  // --- the clerk's call list: today's tasks, an outcome per call, the list printed as a 58 mm ticket ---
  const tasksPanel = document.getElementById("tasks-panel");
  if (tasksPanel) {
    const list = document.getElementById("tasks");
    const none = document.getElementById("tasks-none");
    const out = document.getElementById("tasks-result");
    const OUTCOMES = ["reached", "not_reached", "bought", "declined", "do_not_call"];
    function item(task) {
      const li = el("li");
      li.dataset.task = task.id; li.dataset.status = task.status; li.dataset.kind = task.kind;
      const who = (task.name || t("pos.member_id", { id: task.member })) + " · #" + task.member
        + (task.baby_stage ? " · " + t("pos.stage", { n: task.baby_stage }) : "");
      const headLine = el("div", "who");
      headLine.append(el("strong", "", task.kind_text), " · " + who + " ");
      const pill = el("span", "pill status", t("pos.tasks.status." + task.status));
      headLine.append(pill);
      li.append(headLine);
      li.append(el("div", "why small", task.reason_text));
      li.append(el("div", "small muted", t("pos.tasks.due", { due: task.due })));
      const buttons = el("div", "outcomes");
      for (const outcome of OUTCOMES) {
        const b = el("button", "outcome" + (task.status === outcome ? " chosen" : ""), t("pos.tasks.outcome." + outcome));
        b.type = "button"; b.dataset.outcome = outcome;
        b.addEventListener("click", async () => {
          const r = await post("/app/pos/tasks/" + task.id + "/outcome", { status: outcome });
          if (!r.ok) { out.className = "small alert bad"; out.textContent = problem(r); return; }
          li.replaceWith(item(r.data));
          out.className = "small alert good";
          out.textContent = t("pos.tasks.recorded", { outcome: t("pos.tasks.outcome." + outcome) });
        });
        buttons.append(b);
      }
      li.append(buttons);
      return li;
    }
    async function load() {
      const r = await get("/app/pos/tasks");
      if (!r.ok) { out.className = "small alert bad"; out.textContent = problem(r); return; }
      document.getElementById("tasks-day").textContent = r.data.day;
      list.textContent = "";
      r.data.tasks.forEach((task) => list.append(item(task)));
      none.hidden = r.data.tasks.length > 0;
      tasksPanel.dataset.loaded = "true";
    }
    load();
    setInterval(load, 10 * 60 * 1000);  // a new day's tasks without a reload
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
