"""The till answers in the clerk's language (issue 17): a refusal's ``detail`` in Chinese without a preference and
in English with ``Accept-Language: en``, the same machine ``error`` (and ``reason``) in both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth
from tests.pos.helpers import PHONE, PHONE2, stocked
from tests.words import LANGUAGES, check, headers, unworded
from traceability.models import Role
from traceability.settings import Settings

Keys = dict[str, dict[str, str]]


@pytest.fixture
def units(session: Session, settings: Settings) -> list[str]:
    return stocked(session, settings, 2)


@pytest.fixture
def keys(session: Session, units: list[str]) -> Keys:
    return {"gz": auth(api_key(session, Role.store, "S-GZ-1")), "admin": auth(api_key(session, Role.admin))}


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_another_stores_till_in_the_callers_language(
    client: TestClient, keys: Keys, units: list[str], accept: str | None, lang: str
) -> None:
    resp = client.post("/api/v1/pos/sales", json={"codes": units, "store": "S-NJ-1"},
                       headers=headers(keys["gz"], accept))  # fmt: skip
    body = check(resp, 403, "not_your_store", "rings up and sees only its own store S-GZ-1", lang)
    assert (body["reason"], body["own"]) == ("not_your_store", "S-GZ-1")


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_till_with_no_store_in_the_callers_language(
    client: TestClient, keys: Keys, units: list[str], accept: str | None, lang: str
) -> None:
    resp = client.post("/api/v1/pos/sales", json={"codes": units}, headers=headers(keys["admin"], accept))
    body = check(resp, 422, "till_invalid", "name the store whose till this is", lang)
    assert body["reason"] == "store_required"


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_unknown_sale_in_the_callers_language(client: TestClient, keys: Keys,
                                                 accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.get("/api/v1/pos/sales/urn:uuid:nope", headers=headers(keys["gz"], accept))
    body = check(resp, 404, "sale_not_found", "no sale urn:uuid:nope was rung up at S-GZ-1", lang)
    assert (body["reason"], body["sale"]) == ("sale_not_found", "urn:uuid:nope")


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_no_free_unit_due_in_the_callers_language(
    client: TestClient, keys: Keys, units: list[str], accept: str | None, lang: str
) -> None:
    resp = client.post("/api/v1/pos/sales", json={"codes": units[:1], "member": PHONE, "redeem": True},
                       headers=headers(keys["gz"], accept))  # fmt: skip
    body = check(resp, 409, "no_free_unit", "no free unit is due: 0 of 6", lang)
    assert (body["count"], body["of"]) == (0, 6)


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_idempotency_key_reused_in_the_callers_language(
    client: TestClient, keys: Keys, units: list[str], accept: str | None, lang: str
) -> None:
    till = keys["gz"] | {"Idempotency-Key": "till-7-0001"}
    assert client.post("/api/v1/pos/sales", json={"codes": units, "member": PHONE}, headers=till).status_code == 200
    resp = client.post("/api/v1/pos/sales", json={"codes": units, "member": PHONE2}, headers=headers(till, accept))
    check(resp, 409, "idempotency_key_reused", "already used for a different request", lang)


def test_every_key_the_till_raises_with_is_worded_in_both_languages() -> None:
    assert unworded("pos") == []
