"""The member registry answers in the caller's language (issue 17): a refusal's ``detail`` in Chinese without a
preference and in English with ``Accept-Language: en``, the same machine ``error`` (and fields) in both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from tests.members.helpers import PHONE
from tests.words import LANGUAGES, check, headers, unworded
from traceability.models import Role


@pytest.fixture
def keys(session: Session) -> dict[str, dict[str, str]]:
    seed_masterdata(session)
    return {"gz": auth(api_key(session, Role.store, "S-GZ-1")), "admin": auth(api_key(session, Role.admin))}


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_mistyped_phone_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                  accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.post("/api/v1/members", json={"member": "13800"}, headers=headers(keys["gz"], accept))
    body = check(resp, 422, "invalid_phone", "is not a phone number (5 digits", lang)
    assert (body["field"], body["reason"]) == ("member", "invalid_phone") and "13800" not in resp.text


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_bad_field_names_itself_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                          accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.post("/api/v1/members", json={"member": PHONE, "name": "王\x07芳"},
                       headers=headers(keys["gz"], accept))  # fmt: skip
    body = check(resp, 422, "invalid_member", "name holds control characters", lang)
    assert (body["field"], body["reason"]) == ("name", "control_characters")


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_unknown_store_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                  accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.post("/api/v1/members", json={"member": PHONE, "store": "S-XX-9"},
                       headers=headers(keys["admin"], accept))  # fmt: skip
    body = check(resp, 404, "unknown_store", "S-XX-9 is not a store", lang)
    assert body["store"] == "S-XX-9"


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_unknown_member_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                   accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.post("/api/v1/members/lookup", json={"member": PHONE}, headers=headers(keys["gz"], accept))
    check(resp, 404, "member_not_found", "no member has this phone number", lang)
    assert "13800138000" not in resp.text


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_bad_member_list_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                   accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.post("/api/v1/members/import", content=b"phone,baby_stage\n13800,2\n13900139000,9\n",
                       headers=headers(keys["gz"] | {"Content-Type": "text/csv"}, accept))  # fmt: skip
    body = check(resp, 422, "member_import_invalid", "2 bad row(s) in the member list", lang)
    assert [(r["line"], r["reason"]) for r in body["rows"]] == [(2, "invalid_phone"), (3, "bad_stage")]


def test_every_key_the_registry_raises_with_is_worded_in_both_languages() -> None:
    # _Bad("reason", ...) names a rule worded later from the registry's messages (a row's, or the refusal's)
    assert unworded("members", reasons={"_Bad": "members.errors"}) == []
