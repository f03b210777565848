"""No untranslated text on a Chinese page: every page of every role (test_a11y's list, with its seeded detail
pages) and every alert's page, opened in a real Chromium in zh-CN, shows no English UI word and no raw code.

The catalogue tests prove that every message has both languages; they cannot see text that never went through the
catalogue (an alert's stored English explanation, a ``retail_selling`` step, a literal "retracted"). This reads what
the browser shows — visible text nodes, outside ``code``/``kbd``/``samp`` (identifiers such as EPCs, shown as
such) and the ``q.said`` quotations of what a person typed (a note is kept in its writer's words) — and looks for
words that only an untranslated page would contain.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import col, select

from tests.web.conftest import Live
from tests.web.test_a11y import NOT_FOUND, ROLES, Seeds, _sign_in, pages_of, seeds  # noqa: F401 (seeds is a fixture)
from traceability.database import session_scope
from traceability.models import Alert, AlertKind, AlertStatus, Role

STEPS = ("accepting", "arriving", "assembling", "collecting", "commissioning", "consigning", "decommissioning",
         "departing", "destroying", "disassembling", "dispensing", "encoding", "entering_exiting", "holding",
         "inspecting", "installing", "killing", "loading", "packing", "picking", "receiving", "removing",
         "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling", "sensor_reporting",
         "shipping", "staging_outbound", "stock_taking", "stocking", "storing", "transporting", "unloading",
         "unpacking", "void_shipping", "ObjectEvent", "AggregationEvent", "TransactionEvent",
         "TransformationEvent", "AssociationEvent")  # fmt: skip
"""Raw EPCIS business steps and event types: a page names them in words."""
CODES = (*(k.value for k in AlertKind), *(s.value for s in AlertStatus if "_" in s.value or s.value != "open"))
"""Raw alert kinds and statuses."""
ENGLISH = ("authorised", "authorized", "authorisation", "shipped", "retracted", "recorded", "seen", "sold", "twice",
           "outside", "territory", "territories", "responsible", "distributor", "held", "never",
           "issued", "commissioned", "rejected", "scan", "apart", "later", "instant", "unknown", "place", "which",
           "the", "of", "and", "to", "by", "is", "not", "none", "via", "note", "assign", "reopened")  # fmt: skip
"""English UI words (the stored alert explanations' among them) that no Chinese page has reason to show; not "store"
or "unit", which the test master data's names and the label templates' descriptions hold (data, not UI words)."""
_WORDS = "|".join(map(re.escape, (*STEPS, *CODES, *ENGLISH)))
FORBIDDEN = re.compile(rf"(?<![A-Za-z0-9_])({_WORDS})(?![A-Za-z0-9_])", re.IGNORECASE)

_VISIBLE_TEXT = """() => {
  const skip = new Set(['CODE', 'KBD', 'SAMP', 'SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE']);
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    if (!text) continue;
    let e = n.parentElement, hidden = false;
    for (let a = e; a; a = a.parentElement) {
      if (skip.has(a.tagName) || (a.tagName === 'Q' && a.classList.contains('said'))) { hidden = true; break; }
    }
    if (hidden) continue;
    if (e.tagName !== 'OPTION' && e.checkVisibility && !e.checkVisibility()) continue;
    out.push(text);
  }
  return out;
}"""


def untranslated(texts: list[str]) -> list[str]:
    """The visible texts that hold a forbidden word, each with the words found."""
    found = []
    for text in texts:
        words = sorted({m.group(1) for m in FORBIDDEN.finditer(text)})
        if words:
            found.append(f"{', '.join(words)} in {text[:160]!r}")
    return found


def test_the_check_finds_the_words_it_is_for() -> None:
    """The stored English explanations and raw steps are caught; Chinese with EPC-like codes is not."""
    assert untranslated(["D-GZ shipped to store S-NJ-1, which it is not authorised to supply"])
    assert untranslated(["12:00 retail_selling @ 南京门店"]) and untranslated(["已撤回 retracted"])
    assert untranslated(["sold twice: at S-GZ-1 and at S-GZ-1"])
    assert untranslated(["广州经销商向门店南京一店发货，但它无权供货给该门店", "GTIN 09506000134352 · EPC · PDF"]) == []


@pytest.fixture(scope="module")
def more_alerts(live: Live, seeds: Seeds) -> list[int]:  # noqa: F811 (the fixture imported above)
    """Every alert's id; among them the leak the live server starts with (广州 ships to a Nanjing store, which sells
    it), whose trail the auditor sees."""
    with session_scope(live.extra["engine"]) as session:
        rows = session.exec(select(Alert.id, Alert.kind).order_by(col(Alert.id))).all()
    assert "unauthorized_channel" in {str(k) for _, k in rows}, rows
    return [int(i) for i, _ in rows if i is not None]


@pytest.mark.parametrize("role", ROLES, ids=[r.value if r else "public" for r in ROLES])
def test_no_page_shows_english_or_raw_codes_in_chinese(
    browser: Any,
    live: Live,
    seeds: Seeds,  # noqa: F811
    more_alerts: list[int],
    role: Role | None,
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = _sign_in(context, live, role)
        context.add_cookies([{"name": "trc_lang", "value": "zh-CN", "url": live.base_url}])
        paths = pages_of(role, seeds)
        if role in (Role.auditor, Role.admin):
            paths += [(f"alert-{i}", f"/app/alerts/{i}") for i in more_alerts]
        failures: list[str] = []
        trails = 0
        for name, path in paths:
            resp = page.goto(f"{live.base_url}{path}")
            page.wait_for_load_state("load")
            expected = 404 if path == NOT_FOUND else 200  # the error page is a page too (with the navigation)
            assert resp is not None and resp.status == expected, (path, resp.status if resp else None)
            assert page.evaluate("document.documentElement.lang") == "zh-CN", path
            trails += page.locator("[data-testid=trail] li").count()
            failures += [f"{name}: {p}" for p in untranslated(page.evaluate(_VISIBLE_TEXT))]
        if role is Role.auditor:
            assert trails > 0, "no alert page showed a trail"
        assert failures == [], "\n".join(failures)
    finally:
        context.close()
