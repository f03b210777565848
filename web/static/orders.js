// The call centre's pages: take an order for a member (looked up by phone), then follow it live — where it went and
// why, each step with who and when — and intervene (reassign, cancel). Every rule is the server's; refusals come back
// as problem JSON with their reason, shown in the page's words.
(function () {
  "use strict";
  const M = JSON.parse((document.getElementById("messages") || { textContent: "{}" }).textContent);
  function t(key, values) {
    let text = M[key] || key;
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }
  async function call(method, url, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    const resp = await fetch(url, init);
    const data = await resp.json().catch(() => ({ detail: resp.statusText }));
    return { ok: resp.ok, status: resp.status, data };
  }
  function problem(r) {
    const d = r.data || {};
    if (Array.isArray(d.detail)) return d.detail.map((e) => (e.loc || []).slice(1).join(".") + ": " + e.msg).join("; ");
    return d.detail || d.error || String(r.status);
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function show(box, ok, text, reason) {
    box.hidden = false;
    box.className = "small alert " + (ok ? "good" : "bad");
    box.textContent = text;
    box.dataset.reason = reason || "";
  }

  // --- taking an order ---
  const callcentre = document.getElementById("callcentre");
  if (callcentre) {
    const phone = document.getElementById("order-phone");
    const info = document.getElementById("member-info");
    const lines = document.getElementById("order-lines");
    const tpl = document.getElementById("line-template");
    const out = document.getElementById("place-result");
    function addLine() {
      const row = tpl.content.firstElementChild.cloneNode(true);
      row.querySelector(".remove-line").addEventListener("click", () => { if (lines.children.length > 1) row.remove(); });
      lines.append(row);
    }
    addLine();
    document.getElementById("add-line").addEventListener("click", addLine);
    document.getElementById("lookup-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await call("POST", "/app/orders/lookup", { member: phone.value.trim() });
      if (!r.ok) { show(info, false, problem(r), r.data.reason || r.data.error); return; }
      const m = r.data.member;
      if (m) {
        info.dataset.member = m.id;
        show(info, true, t("orders.member_found", { id: m.id, name: m.name || "—", store: m.home_store_name }));
      } else {
        info.dataset.member = "";
        show(info, true, t("orders.member_new"));
      }
    });
    document.getElementById("place-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {
        member: phone.value.trim(),
        address: document.getElementById("order-address").value,
        lat: Number(document.getElementById("order-lat").value),
        lon: Number(document.getElementById("order-lon").value),
        channel: document.getElementById("order-channel").value,
        lines: Array.from(lines.children).map((row) => ({
          gtin: row.querySelector("[name=gtin]").value, quantity: Number(row.querySelector("[name=quantity]").value),
        })),
      };
      if (!body.member) { show(out, false, t("orders.phone_required"), "phone_required"); phone.focus(); return; }
      const button = document.getElementById("place-order");
      button.disabled = true;
      const r = await call("POST", "/app/orders", body);
      button.disabled = false;
      if (!r.ok) { show(out, false, problem(r), r.data.reason || r.data.error); return; }
      show(out, true, t("orders.placed", { id: r.data.id }));
      window.location.assign("/app/orders/" + r.data.id);
    });
  }

  // --- one order, live ---
  const page = document.getElementById("order-page");
  if (page) {
    const id = page.dataset.order;
    const status = document.getElementById("order-status");
    const store = document.getElementById("order-store");
    const why = document.getElementById("order-why");
    const deadline = document.getElementById("order-deadline");
    const history = document.getElementById("history");
    const intervene = document.getElementById("intervene");
    const out = document.getElementById("action-result");
    const FINISHED = ["delivered", "cancelled"];
    let skew = 0;
    function draw(state) {
      const o = state.order, names = state.names || {};
      skew = Date.parse(state.now) - Date.now();
      status.textContent = t("orders.status." + o.status);
      status.className = "pill " + o.status; status.dataset.status = o.status;
      store.textContent = o.store ? (names[o.store] || o.store) : t("orders.no_store");
      store.dataset.store = o.store || "";
      const offered = o.history.filter((h) => h.status === "offered");
      why.textContent = o.reason && offered.length ? offered[offered.length - 1].message : "—";
      why.dataset.reason = o.reason || "";
      deadline.dataset.deadline = o.deadline || "";
      history.textContent = "";
      for (const s of o.history) {
        const li = el("li");
        li.dataset.status = s.status; li.dataset.reason = s.reason;
        li.append(el("strong", "", t("orders.status." + s.status)));
        if (s.store) li.append(" · " + (names[s.store] || s.store));
        li.append(" ", el("span", "muted small", s.at.slice(0, 19).replace("T", " ") + " UTC · " + s.by));
        const said = s.status === "placed" ? t("orders.channel." + s.reason) : s.message;
        if (said) li.append(el("div", "small", said));
        history.append(li);
      }
      intervene.hidden = FINISHED.includes(o.status);
      tick();
    }
    function tick() {
      const when = deadline.dataset.deadline;
      if (!when) { deadline.textContent = "—"; return; }
      const left = Math.max(0, Math.floor((Date.parse(when) - Date.now() - skew) / 1000));
      const mm = String(Math.floor(left / 60)).padStart(2, "0") + ":" + String(left % 60).padStart(2, "0");
      deadline.textContent = when.slice(0, 19).replace("T", " ") + " UTC · " + t("orders.left", { time: mm });
    }
    async function poll() {
      try {
        const r = await call("GET", "/app/orders/" + id + "/state");
        if (r.ok) draw(r.data);
      } catch (e) { /* a moment offline: the next poll catches up */ }
      setTimeout(poll, 3000);
    }
    document.getElementById("reassign-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const target = document.getElementById("reassign-store").value.trim();
      const r = await call("POST", "/app/orders/" + id + "/reassign",
        { store: target || null, note: document.getElementById("reassign-note").value });
      if (!r.ok) { show(out, false, problem(r), r.data.reason || r.data.error); return; }
      show(out, true, t("orders.reassigned", { store: r.data.store || t("orders.no_store") }));
      const state = await call("GET", "/app/orders/" + id + "/state");
      if (state.ok) draw(state.data);
    });
    document.getElementById("cancel-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!window.confirm(t("orders.cancel_confirm"))) return;
      const r = await call("POST", "/app/orders/" + id + "/cancel", { note: document.getElementById("cancel-note").value });
      if (!r.ok) { show(out, false, problem(r), r.data.reason || r.data.error); return; }
      show(out, true, t("orders.cancelled"));
      const state = await call("GET", "/app/orders/" + id + "/state");
      if (state.ok) draw(state.data);
    });
    setInterval(tick, 1000);
    tick();
    setTimeout(poll, 3000);
  }
})();
