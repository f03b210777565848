"""The alert page in the page's language: its explanation worded afresh from the stored case and fields (parties
and territories by name), the trail's steps in words; names rather than codes on the graph and in the choosers."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from codes.service import key_store
from flow_graph import details
from flow_graph.service import update_alert
from tests.factories import api_key, auth, seed_masterdata
from tests.flow_graph.test_details import NOTE_SAMPLES, SAMPLES
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.auth.service import IssuedKey
from traceability.models import Alert, AlertKind, Role
from traceability.settings import Settings
from web.i18n import translator
from web.service import author_words, explain, note_words, step_word

HTML = {"Accept": "text/html"}
ZH = {**HTML, "Accept-Language": "zh-CN"}
EN = {**HTML, "Accept-Language": "en"}
KINDS = {"holder": "holder_mismatch", "channel": "unauthorized_channel", "not_member": "unauthorized_channel",
         "territory": "out_of_territory", "sold_twice": "clone_suspected", "speed": "clone_suspected",
         "counterfeit": "counterfeit_suspected", "rejected": "counterfeit_suspected"}  # fmt: skip
PARTIES = frozenset({"taker", "holder", "sender", "store", "place", "distributor", "first", "second", "before"})
"""The fields of a stored explanation that name a party."""


@pytest.fixture
def leak(session: Session, settings: Settings) -> tuple[IssuedKey, dict[str, Alert]]:
    """广州's distributor ships a unit to a Nanjing store, which sells it: the auditor's key and the alerts by kind."""
    seed_masterdata(session)
    made = make_codes(session, key_store(settings), 1)
    at_distributor(session, made, "D-GZ")
    scan(session, "shipping", "D-GZ", made, destination="S-NJ-1")
    scan(session, "retail_selling", "S-NJ-1", made)
    alerts = {str(a.kind): a for a in session.exec(select(Alert)).all()}
    assert {"unauthorized_channel", "out_of_territory"} <= set(alerts), alerts
    return api_key(session, Role.auditor, "AUD"), alerts


def _why(page: str) -> str:
    found = re.search(r'data-testid="alert-why"[^>]*>(.*?)</dd>', page, re.S)
    assert found, "no explanation on the page"
    return html.unescape(found.group(1)).strip()


def _trail(page: str) -> str:
    found = re.search(r'data-testid="trail">(.*?)</ol>', page, re.S)
    assert found, "no trail on the page"
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


Leak = tuple[IssuedKey, dict[str, Alert]]


def test_the_alert_page_words_its_explanation_and_steps_in_chinese(client: TestClient, leak: Leak) -> None:
    key, alerts = leak
    zh, en = translator("zh-CN"), translator("en")
    channel = alerts["unauthorized_channel"]
    page = client.get(f"/app/alerts/{channel.id}", headers={**ZH, **auth(key)})
    assert page.status_code == 200
    assert _why(page.text) == zh("alert.why.channel", sender="广州经销商", store="Store NJ 1")
    assert channel.detail == "D-GZ shipped to store S-NJ-1, which it is not authorised to supply"  # kept for the API
    trail = _trail(page.text)
    assert {zh("step.commissioning"), zh("step.shipping"), zh("step.receiving"), zh("step.retail_selling")} <= set(
        trail.split()
    ), trail
    assert not re.search(r"retail_selling|commissioning|shipping|receiving", trail), trail
    assert "南京市 Nanjing" in page.text  # the territory by name, not only CN-32-01
    english = client.get(f"/app/alerts/{channel.id}", headers={**EN, **auth(key)})
    assert _why(english.text) == en("alert.why.channel", sender="广州经销商", store="Store NJ 1")
    assert "retail sale" in _trail(english.text)


def test_out_of_territory_names_the_territories(client: TestClient, leak: Leak) -> None:
    key, alerts = leak
    page = client.get(f"/app/alerts/{alerts['out_of_territory'].id}", headers={**ZH, **auth(key)})
    why = _why(page.text)
    assert "南京市 Nanjing" in why and "广州市 Guangzhou" in why and "广州经销商" in why, why
    assert "CN-" not in why and "D-GZ" not in why, why


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_case_is_worded_in_chinese_with_names(key: str) -> None:
    fields = SAMPLES[key]
    alert = Alert(kind=AlertKind(KINDS[key]), unit_key="k", epc="e", detail=details.write(key, **fields))
    ids = {v for k, v in fields.items() if k in PARTIES and v != details.UNKNOWN_PLACE}
    names = {i: f"名{n}" for n, i in enumerate(sorted(ids))}
    territories = {"CN-32-01": "南京市", "CN-44-01": "广州市", "CN-44-03": "深圳市"}
    text = explain(alert, names=names, territories=territories, _=translator("zh-CN"))
    assert not re.search(r"[A-Za-z{}?]", text), text  # no code, no English, no unfilled field
    assert all(n in text for n in names.values()), (names, text)
    english = explain(alert, names=names, territories=territories, _=translator("en"))
    assert "{" not in english and all(n in english for n in names.values()), english


def test_a_detail_no_template_wrote_is_said_as_its_kind() -> None:
    _ = translator("zh-CN")
    alert = Alert(kind=AlertKind.clone_suspected, unit_key="k", epc="e", detail="written by an older version")
    assert explain(alert, names={}, territories={}, _=_) == _("alert.why.other", kind=_("kind.clone_suspected"))


def test_a_step_outside_the_catalogue_shows_as_it_is() -> None:
    _ = translator("zh-CN")
    assert step_word("retail_selling", _) == "零售" and step_word(None, _, "ObjectEvent") == "对象事件"
    assert step_word("urn:brand:step:tasting", _) == "urn:brand:step:tasting"


def test_the_graph_and_the_choosers_show_names(client: TestClient, session: Session, leak: Leak) -> None:
    key, _ = leak
    graph = client.get("/app/graph?distributor=D-GZ", headers={**ZH, **auth(key)})
    assert graph.status_code == 200
    table = re.search(r'<h2>[^<]*</h2>\s*<table>(.*?)</table>', graph.text, re.S)
    assert table and "南京市 Nanjing" in table.group(1), graph.text
    assert "广州经销商 · D-GZ</option>" in graph.text
    admin = api_key(session, Role.admin)
    statement = client.get("/app/statement", headers={**ZH, **auth(admin)})
    assert statement.status_code == 200 and ">广州经销商 · D-GZ</option>" in statement.text
    store = client.get("/app/store", headers={**ZH, **auth(admin)})
    assert store.status_code == 200 and ">Store NJ 1 · S-NJ-1</option>" in store.text


@pytest.mark.parametrize("key", sorted(NOTE_SAMPLES))
def test_the_systems_notes_are_worded_and_a_persons_stay_as_written(key: str) -> None:
    _ = translator("zh-CN")
    names = {"PLANT-1": "一号工厂", "D-GZ": "广州经销商", "S-NJ-1": "南京一店"}
    text = note_words(details.write_note(key, **NOTE_SAMPLES[key]), names=names, territories={}, _=_)
    assert not re.search(r"[A-Za-z]", re.sub(r"urn:uuid:\d", "", text)), text  # event ids stay as they are
    assert "{" not in text
    assert note_words("Sold to S-NJ-1 by mistake", names=names, territories={}, _=_) == "Sold to S-NJ-1 by mistake"


def test_note_authors_are_a_role_and_a_name() -> None:
    _ = translator("zh-CN")
    names = {"AUD": "稽查组"}
    assert author_words("system", names=names, _=_) == _("alert.by_system")
    assert author_words("auditor:AUD", names=names, _=_) == f"{_('role.auditor')} 稽查组"
    assert author_words("AUD (auditor, key 7)", names=names, _=_) == f"{_('role.auditor')} 稽查组"
    assert author_words("someone", names=names, _=_) == "someone"


def test_the_history_on_the_page_is_in_chinese(client: TestClient, session: Session, leak: Leak) -> None:
    key, alerts = leak
    alert = alerts["unauthorized_channel"]
    assert alert.id is not None
    update_alert(session=session, alert_id=alert.id, author="auditor:AUD", assignee="王审计")
    page = client.get(f"/app/alerts/{alert.id}", headers={**ZH, **auth(key)}).text
    found = re.search(r'data-testid="history">(.*?)</ul>', page, re.S)
    assert found, "no history on the page"
    history = html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))
    zh = translator("zh-CN")
    assert zh("alert.note.assigned", assignee="王审计") in history and "assigned" not in history, history
    assert f"{zh('role.auditor')} Audit team" in history and "auditor:AUD" not in history, history
