"""Member care answers in the caller's language (issue 17): a refusal's ``detail`` in Chinese without a preference
and in English with ``Accept-Language: en``, the same machine ``error`` (and fields) in both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from crm.tasks import OUTCOMES
from tests.factories import api_key, auth, seed_masterdata
from tests.words import LANGUAGES, check, headers, unworded
from traceability.models import Role


@pytest.fixture
def keys(session: Session) -> dict[str, dict[str, str]]:
    seed_masterdata(session)
    return {"admin": auth(api_key(session, Role.admin)), "store": auth(api_key(session, Role.store, "S-GZ-1"))}


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_unknown_campaign_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                     accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.get("/api/v1/campaigns/SPRING-99", headers=headers(keys["admin"], accept))
    body = check(resp, 404, "campaign_not_found", "no campaign SPRING-99", lang)
    assert body["code"] == "SPRING-99" and "SPRING-99" in body["detail"]


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_campaign_rule_quoted_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                        accept: str | None, lang: str) -> None:  # fmt: skip
    campaign = {"code": "NOTHING", "name": "Gives nothing", "starts_on": "2026-10-01", "ends_on": "2026-10-31"}
    resp = client.post("/api/v1/campaigns", json=campaign, headers=headers(keys["admin"], accept))
    body = check(resp, 422, "invalid_campaign", "a campaign must give something", lang)
    assert (body["field"], body["reason"]) == ("multiplier", "campaign_no_extra")
    if lang == "zh-CN":
        assert "倍数" in body["detail"]  # the quoted rule is Chinese too, not only the frame around it


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_another_stores_task_is_not_found_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                                  accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.post("/api/v1/tasks/424242/outcome", json={"status": OUTCOMES[0]},
                       headers=headers(keys["store"], accept))  # fmt: skip
    check(resp, 404, "task_not_found", "no task 424242", lang)


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_another_stores_segments_are_forbidden_in_the_callers_language(
    client: TestClient, keys: dict[str, dict[str, str]], accept: str | None, lang: str
) -> None:
    resp = client.get("/api/v1/members/segments", params={"as_of": "2026-10-01", "store": "S-NJ-1"},
                      headers=headers(keys["store"], accept))  # fmt: skip
    body = check(resp, 403, "not_own_store", "sees only its own store S-GZ-1", lang)
    assert body["store"] == "S-NJ-1"


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_export_without_its_day_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                           accept: str | None, lang: str) -> None:  # fmt: skip
    resp = client.get("/api/v1/crm/exports/segments", headers=headers(keys["admin"], accept))
    body = check(resp, 422, "invalid_input", "as_of is required for this export", lang)
    assert (body["field"], body["reason"]) == ("as_of", "missing")


def test_every_key_crm_raises_with_is_worded_in_both_languages() -> None:
    assert unworded("crm") == []
