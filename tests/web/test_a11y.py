"""Every page of every role, and the public ones, in a real Chromium at a phone's 390 × 844 and a desktop's
1366 × 900, in Chinese and in English: no sideways scroll, no console error, and no serious or critical
accessibility violation that axe-core (``axe-playwright-python``, bundled, offline) finds.

The pages are each role's navigation (``web.routes.NAV``, so a page added there is scanned without touching this
file) plus the detail pages behind them (a shipment, a receipt, an alert, a print job, an order, a period, a sale's
receipt), seeded here. One browser, one context per role, reused across languages and sizes.

With ``TRACEABILITY_SCREENSHOTS=docs/screenshots`` each visit also writes ``{role}-{page}-{lang}-{desktop|phone}.png``
(the viewport only); ``scripts/screenshots.py`` runs this file that way.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from codes.service import key_store
from labels import service as labels
from pos import service as till
from rebates.policy import load_policy
from scanning import receiving
from scanning.service import close_shipment, open_shipment, scan_into_shipment
from tests.factories import GTIN
from tests.web.conftest import Live
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.auth.service import Principal
from traceability.database import session_scope
from traceability.models import Alert, CodeLevel, Role

SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
LANGS = ("zh-CN", "en")
SERIOUS = frozenset({"serious", "critical"})


@dataclass(frozen=True)
class Seeds:
    out_shipment: int
    in_shipment: int
    alert: int
    job: int
    order: int
    sale: str
    genuine: str
    forged: str
    period: str


def _forge(code: str) -> str:
    i = code.index("/21/") + 4
    return code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]


def _api(live: Live, path: str, role: Role, body: Any) -> Any:
    req = urllib.request.Request(f"{live.base_url}{path}", data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {live.tokens[role]}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=15) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def seeds(live: Live) -> Seeds:
    """One of each object a detail page shows, made through the services as the users' doors would."""
    settings = live.extra["settings"]
    plant, gz = Principal(role=Role.plant, party_id="PLANT-1"), Principal(role=Role.distributor, party_id="D-GZ")
    with session_scope(live.extra["engine"]) as session:
        made = make_codes(session, key_store(settings), 9, resolver=live.base_url)
        scan(session, "commissioning", "PLANT-1", made[:5])
        inbound = open_shipment(session=session, principal=plant, destination_id="D-GZ", order_ref="PO-A11Y-1")
        assert inbound.id is not None
        scan_into_shipment(session=session, principal=plant, shipment_id=inbound.id, codes=made[:3])
        close_shipment(session=session, principal=plant, shipment_id=inbound.id, confirm=True)
        # On its receipt: one unit received, one code that was not on the shipment (the extra's warning shows).
        receiving.receive_scans(session=session, principal=gz, shipment_id=inbound.id, codes=[made[0], made[4]])
        outbound = open_shipment(session=session, principal=gz, destination_id="S-GZ-1")
        assert outbound.id is not None
        at_distributor(session, made[5:9])
        scan_into_shipment(session=session, principal=gz, shipment_id=outbound.id, codes=[made[5]])
        scan(session, "shipping", "D-GZ", made[6:8], destination="S-GZ-1")
        scan(session, "receiving", "S-GZ-1", made[6:8])
        sale = till.sell(session=session, principal=Principal(role=Role.store, party_id="S-GZ-1"), codes=[made[6]],
                         policy=load_policy(settings.policy_file), key_files=key_store(settings))  # fmt: skip
        job = labels.create_job(session=session, store=key_store(settings), party_id="PLANT-1", gtin=GTIN, lot="LA11Y",
                                expiry="281231", quantity=3, level=CodeLevel.unit, template="a4-3x8",
                                by="plant:PLANT-1")  # fmt: skip
        alert = session.exec(select(Alert.id).order_by(col(Alert.id))).first()
        assert alert is not None and job.id is not None and sale.sale_id is not None
        ids = (outbound.id, inbound.id, alert, job.id, sale.sale_id)
    order = _api(live, "/api/v1/orders", Role.admin, {"member": "15900000999", "lat": 23.13, "lon": 113.26,
                                                      "lines": [{"gtin": GTIN, "quantity": 1}],
                                                      "address": "广州市越秀区 8 号"})  # fmt: skip
    return Seeds(out_shipment=ids[0], in_shipment=ids[1], alert=ids[2], job=ids[3], sale=ids[4], order=order["id"],
                 genuine=made[8], forged=_forge(made[8]), period=datetime.now(UTC).strftime("%Y-%m"))  # fmt: skip


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.removeprefix("/app/").strip("/").lower()).strip("-") or "home"


NOT_FOUND = "/app/no-such-page"
"""The error page (404, with the navigation of whoever is signed in) is a page people see too."""


def pages_of(role: Role | None, s: Seeds) -> list[tuple[str, str]]:
    """(name, path) of every page the role opens: its navigation, then the detail pages behind it."""
    from web.routes import NAV

    if role is None:
        return [("login", "/login"), ("check", "/check"), ("check-fake", f"/check?code={s.forged}"),
                ("check-genuine", "/" + s.genuine.split("://", 1)[1].split("/", 1)[1]),
                ("not-found", NOT_FOUND)]  # fmt: skip
    out = [(_slug(n.path), n.path) for n in NAV if role in n.roles]
    details: dict[Role, list[tuple[str, str]]] = {
        Role.distributor: [("shipment", f"/app/shipments/{s.out_shipment}"),
                           ("receipt", f"/app/receiving/{s.in_shipment}"), ("alert", f"/app/alerts/{s.alert}")],
        Role.plant: [("print-job", f"/app/print-jobs/{s.job}")],
        Role.auditor: [("alert", f"/app/alerts/{s.alert}"), ("check-code", f"/check?code={s.genuine}"),
                       ("not-found", NOT_FOUND)],
        Role.finance: [("settlement-period", f"/app/settlement?period={s.period}"), ("statement", "/app/statement")],
        Role.admin: [("order", f"/app/orders/{s.order}"), ("alert", f"/app/alerts/{s.alert}"),
                     ("receipt", f"/app/receiving/{s.in_shipment}")],
        Role.store: [("tasks-ticket", "/app/pos/tasks/ticket"), ("sale-receipt", f"/app/pos/sales/{s.sale}/receipt")],
    }  # fmt: skip
    names = {name for name, _ in out}
    return out + [(n, p) for n, p in details[role] if n not in names]


@pytest.fixture(scope="module")
def axe() -> Any:
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def _sign_in(context: Any, live: Live, role: Role | None) -> Any:
    page = context.new_page()
    if role is not None:
        page.goto(f"{live.base_url}/login")
        page.fill("#key", live.tokens[role])
        page.click("button[type=submit]")
        page.wait_for_load_state()
    return page


def _problems(page: Any, axe: Any, errors: list[str]) -> list[str]:
    found: list[str] = []
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if width > inner:
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => {
            const r = e.getBoundingClientRect(); return r.right > window.innerWidth + 1 && r.width > 0; })
            .slice(0, 4).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
            (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))""")
        found.append(f"scrolls sideways: {width} > {inner} px ({', '.join(wide)})")
    # The header's links each on one line, in a row of their own on a phone (not squeezed into a column beside the
    # user's name, one word a line).
    squeezed = page.evaluate("""() => [...document.querySelectorAll('header.top nav a')].filter(a => {
        const r = a.getBoundingClientRect(), line = parseFloat(getComputedStyle(a).fontSize) * 1.9;
        return r.height > line; }).map(a => a.textContent.trim())""")
    if squeezed:
        found.append(f"header links wrap: {', '.join(squeezed)}")
    found += [f"console: {e}" for e in errors]
    for v in axe.run(page).response["violations"]:
        if v.get("impact") in SERIOUS:
            targets = "; ".join(",".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
                                for n in v["nodes"][:3])  # fmt: skip
            found.append(f"axe {v['impact']} {v['id']}: {v['help']} [{len(v['nodes'])}×: {targets}]")
    return found


ROLES: list[Role | None] = [Role.distributor, Role.plant, Role.store, Role.auditor, Role.finance, Role.admin, None]


@pytest.mark.parametrize("role", ROLES, ids=[r.value if r else "public" for r in ROLES])
def test_every_page_fits_has_no_console_error_and_no_serious_axe_violation(
    browser: Any, live: Live, seeds: Seeds, axe: Any, role: Role | None
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(20_000)
    shots = os.environ.get("TRACEABILITY_SCREENSHOTS")
    try:
        page = _sign_in(context, live, role)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"uncaught {e}"))
        failures: list[str] = []
        visited = 0
        for lang in LANGS:
            context.add_cookies([{"name": "trc_lang", "value": lang, "url": live.base_url}])
            for size, (w, h) in SIZES.items():
                page.set_viewport_size({"width": w, "height": h})
                for name, path in pages_of(role, seeds):
                    errors.clear()
                    resp = page.goto(f"{live.base_url}{path}")
                    page.wait_for_load_state("load")
                    expected = 404 if path == NOT_FOUND else 200
                    assert resp is not None and resp.status == expected, (path, resp.status if resp else None)
                    if path == NOT_FOUND:  # Chromium logs the page's own 404 as a failed resource
                        errors[:] = [e for e in errors if "status of 404" not in e]
                    assert page.evaluate("document.documentElement.lang") == lang, (path, lang)
                    failures += [f"{name} {lang} {size}: {p}" for p in _problems(page, axe, errors)]
                    visited += 1
                    if shots:
                        Path(shots).mkdir(parents=True, exist_ok=True)
                        who = role.value if role else "public"
                        page.screenshot(path=str(Path(shots) / f"{who}-{name}-{lang}-{size}.png"))
        assert visited >= 4 * 3
        assert failures == [], "\n".join(failures)
    finally:
        context.close()


def test_the_page_list_covers_every_role_s_navigation(live: Live, seeds: Seeds) -> None:
    """The scan is only as good as its list: every navigation link of every role is in it."""
    from web.routes import NAV

    for item in NAV:
        for role in item.roles:
            assert item.path in {p for _, p in pages_of(role, seeds)}, (role, item.path)
    assert len({p for r in ROLES for _, p in pages_of(r, seeds)}) >= 25
