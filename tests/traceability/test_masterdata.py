from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, select

from tests.factories import api_key, auth, masterdata_doc, seed_masterdata
from traceability.errors import ValidationFailed
from traceability.masterdata.errors import MESSAGES
from traceability.masterdata.service import import_masterdata, territory_ancestors
from traceability.models import Party, PartyTerritory, Product, Role, StoreSupplier, Territory

TABLES = (Territory, Party, PartyTerritory, StoreSupplier, Product)


def snapshot(session: Session) -> dict[str, list[Any]]:
    return {
        t.__name__: sorted(repr(sorted(r.model_dump(warnings=False).items())) for r in session.exec(select(t)).all())
        for t in TABLES
    }


def test_import_creates_everything(session: Session) -> None:
    summary = import_masterdata(session=session, raw=masterdata_doc())
    assert summary.created == {"territories": 6, "parties": 8, "products": 1}
    assert session.exec(select(func.count()).select_from(Party)).one() == 8
    d = session.get(Party, "D-GZ")
    assert d is not None and d.name == "广州经销商"
    assert {r.territory_id for r in session.exec(select(PartyTerritory).where(PartyTerritory.party_id == "D-GZ"))} == {
        "CN-44-01"
    }
    product = session.get(Product, "06901234000108")
    assert product is not None and str(product.unit_price) == "268.00"
    assert territory_ancestors(session, "CN-44-03") == ["CN-44-03", "CN-44", "CN"]


def test_import_is_idempotent(session: Session) -> None:
    import_masterdata(session=session, raw=masterdata_doc())
    before = snapshot(session)
    again = import_masterdata(session=session, raw=masterdata_doc())
    assert again.created == {"territories": 0, "parties": 0, "products": 0}
    assert again.updated == {"territories": 0, "parties": 0, "products": 0}
    assert again.unchanged == {"territories": 6, "parties": 8, "products": 1}
    assert snapshot(session) == before


def test_changed_record_is_updated(session: Session) -> None:
    import_masterdata(session=session, raw=masterdata_doc())
    doc = masterdata_doc()
    doc["parties"][3]["authorized_territories"] = ["CN-44"]
    doc["products"][0]["unit_price"] = "270.50"
    summary = import_masterdata(session=session, raw=doc)
    assert summary.updated == {"territories": 0, "parties": 1, "products": 1}
    links = session.exec(select(PartyTerritory).where(PartyTerritory.party_id == "D-GZ")).all()
    assert [r.territory_id for r in links] == ["CN-44"]


def _broken_doc() -> dict[str, Any]:
    doc = masterdata_doc()
    doc["territories"].append({"id": "X1", "name": "loop a", "parent": "X2"})
    doc["territories"].append({"id": "X2", "name": "loop b", "parent": "X1"})
    doc["territories"].append({"id": "X3", "name": "orphan", "parent": "NOWHERE"})
    doc["parties"][1]["gln"] = "6901234000017"  # bad check digit
    doc["parties"][3]["authorized_territories"] = ["CN-99"]
    doc["parties"][5]["supplied_by"] = ["S-NJ-1"]  # a store, not a distributor
    doc["products"][0]["gtin"] = "06901234000109"
    doc["products"].append({"gtin": "123", "name": "", "unit_price": "-1", "currency": "cny"})
    return doc


def test_invalid_document_lists_every_problem_and_writes_nothing(session: Session) -> None:
    seed_masterdata(session)
    before = snapshot(session)
    with pytest.raises(ValidationFailed) as info:
        import_masterdata(session=session, raw=_broken_doc())
    paths = {p.path for p in info.value.problems}
    # Schema problems come first (the document cannot be checked further until its shape is right).
    assert "/products/1/name" in paths
    assert "/products/1/unit_price" in paths
    assert "/products/1/currency" in paths
    assert snapshot(session) == before


def test_semantic_problems_are_all_listed(session: Session) -> None:
    doc = _broken_doc()
    doc["products"].pop()
    with pytest.raises(ValidationFailed) as info:
        import_masterdata(session=session, raw=doc)
    got = {(p.path, p.reason.split(" ")[0]) for p in info.value.problems}
    paths = {p for p, _ in got}
    assert {"/territories/6/parent", "/territories/7/parent", "/territories/8/parent"} <= paths
    assert "/parties/1/gln" in paths
    assert "/parties/3/authorized_territories/0" in paths
    assert "/parties/5/supplied_by/0" in paths
    assert "/products/0/gtin" in paths
    reasons = " ".join(p.reason for p in info.value.problems)
    assert "cycle" in reasons and "Unknown parent territory NOWHERE." in reasons
    assert session.exec(select(func.count()).select_from(Party)).one() == 0


def test_duplicate_gln_and_unknown_owner(session: Session) -> None:
    doc = masterdata_doc()
    doc["parties"][1]["gln"] = doc["parties"][0]["gln"]
    doc["parties"][2]["owner"] = "GHOST"
    with pytest.raises(ValidationFailed) as info:
        import_masterdata(session=session, raw=doc)
    paths = {p.path for p in info.value.problems}
    assert {"/parties/0/gln", "/parties/1/gln", "/parties/2/owner"} <= paths


MUTATIONS = [
    ("territories", "parent", "NOPE"),
    ("parties", "gln", "12345"),
    ("parties", "territory", "ZZ"),
    ("parties", "kind", "pirate"),
    ("products", "gtin", "00000000000001"),
    ("products", "unit_price", "abc"),
]


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(picks=st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 7)), min_size=1, max_size=4))
def test_any_invalid_document_changes_nothing(session: Session, picks: list[tuple[tuple[str, str, str], int]]) -> None:
    seed_masterdata(session)
    before = snapshot(session)
    doc = masterdata_doc()
    doc["parties"][0]["name"] = "renamed, must not be written"
    for (section, field, value), index in picks:
        rows = doc[section]
        rows[index % len(rows)][field] = value
    with pytest.raises(ValidationFailed) as info:
        import_masterdata(session=session, raw=doc)
    assert info.value.problems
    assert snapshot(session) == before


def test_api_import_admin_only_and_problem_details(client, session: Session) -> None:
    seed_masterdata(session)
    admin = api_key(session, Role.admin)
    dist = api_key(session, Role.distributor)
    ok = client.post("/api/v1/masterdata", json=masterdata_doc(), headers=auth(admin))
    assert ok.status_code == 200, ok.text
    assert ok.json()["unchanged"]["parties"] == 8
    assert client.post("/api/v1/masterdata", json=masterdata_doc(), headers=auth(dist)).status_code == 403
    bad = client.post("/api/v1/masterdata", json=_broken_doc(), headers=auth(admin))
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    body = bad.json()
    assert body["error"] == "validation_failed"
    assert {"path": "/products/1/currency", "reason": body["problems"][-1]["reason"]} in body["problems"] or any(
        p["path"] == "/products/1/currency" for p in body["problems"]
    )
    assert json.dumps(body)  # serialisable


def test_every_problem_has_a_code_and_both_languages(session: Session) -> None:
    """The domain checks name a reason code beside the words, and each code is worded in Chinese and English."""
    assert MESSAGES["en"].keys() == MESSAGES["zh-CN"].keys()
    doc = _broken_doc()
    doc["products"].pop()
    doc["parties"][2]["owner"] = doc["parties"][2]["id"]
    with pytest.raises(ValidationFailed) as zh:
        import_masterdata(session=session, raw=doc, lang="zh-CN")
    with pytest.raises(ValidationFailed) as en:
        import_masterdata(session=session, raw=doc, lang="en")
    assert [(p.path, p.code) for p in zh.value.problems] == [(p.path, p.code) for p in en.value.problems]
    codes = {p.code for p in zh.value.problems}
    assert {"territory_cycle", "territory_unknown_parent", "gln_invalid", "territory_unknown",
            "supplier_not_distributor", "gtin_invalid", "owner_self"} <= codes  # fmt: skip
    for p in zh.value.problems:
        assert p.code in MESSAGES["zh-CN"]
        assert not re.search(r"\b(unknown|appears|party|territory|not a)\b", p.reason), p.reason
    assert "主数据文件有" in zh.value.message and "nothing was written" in en.value.message
    by_path = {p.path: p.reason for p in zh.value.problems}
    assert by_path["/parties/5/supplied_by/0"] == "参与方 S-NJ-1 是门店，不是经销商。"
    assert by_path["/territories/8/parent"] == "上级区域 NOWHERE 不存在。"


def test_api_problems_follow_accept_language(client, session: Session) -> None:
    seed_masterdata(session)
    admin = api_key(session, Role.admin)
    before = snapshot(session)
    doc = masterdata_doc()
    doc["parties"][1]["gln"] = "6901234000017"  # bad check digit
    zh = client.post("/api/v1/masterdata", json=doc, headers={**auth(admin), "Accept-Language": "zh-CN"})
    en = client.post("/api/v1/masterdata", json=doc, headers={**auth(admin), "Accept-Language": "en-GB,en;q=0.9"})
    assert zh.status_code == en.status_code == 422
    [zp], [ep] = zh.json()["problems"], en.json()["problems"]
    assert zp == {
        "path": "/parties/1/gln",
        "code": "gln_invalid",
        "reason": "6901234000017 不是校验位正确的 13 位 GLN。",
    }
    assert ep["code"] == "gln_invalid" and ep["reason"].endswith("is not a 13-digit GLN with a valid check digit.")
    assert "未写入任何数据" in zh.json()["detail"]
    assert snapshot(session) == before
