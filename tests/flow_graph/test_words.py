"""The flow graph's refusals in the caller's language (issue 17): Chinese by default, English on request, the same
machine code and fields in both."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from flow_graph import service
from flow_graph.errors import InvalidFilter
from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Role

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def auditor(session: Session) -> dict[str, str]:
    seed_masterdata(session)
    return auth(api_key(session, Role.auditor))


@pytest.mark.parametrize(
    ("path", "status", "error", "zh", "en"),
    [
        ("/api/v1/alerts/999999", 404, "alert_not_found", "没有预警 999999", "no alert 999999"),
        ("/api/v1/flow/trail?epc=urn:epc:id:sgtin:0690123.400010.NOPE", 404, "unit_not_found", "没有任何事件提到",
         "no event names 'urn:epc:id:sgtin:0690123.400010.NOPE'"),
        ("/api/v1/flow/leaks/NO-SUCH-D", 404, "party_not_found", "没有参与方 'NO-SUCH-D'", "no party 'NO-SUCH-D'"),
    ],
)
def test_not_found_in_both_languages(client: TestClient, auditor: dict[str, str], path: str, status: int,
                                     error: str, zh: str, en: str) -> None:  # fmt: skip
    chinese = client.get(path, headers=auditor)
    english = client.get(path, headers={**auditor, "Accept-Language": "en"})
    assert chinese.status_code == english.status_code == status
    assert chinese.json()["error"] == english.json()["error"] == error
    assert zh in chinese.json()["detail"] and HAN.search(chinese.json()["detail"])
    assert en == english.json()["detail"] or en in english.json()["detail"]
    assert not HAN.search(english.json()["detail"])
    assert {k: v for k, v in chinese.json().items() if k != "detail"} == \
        {k: v for k, v in english.json().items() if k != "detail"}  # fmt: skip


def test_a_bad_period_is_worded_at_render_time() -> None:
    with pytest.raises(InvalidFilter) as caught:
        service.parse_period("2026-13")
    assert caught.value.message == "period '2026-13' is not YYYY-MM"  # the CLI and the logs: English, as before
    assert caught.value.text("zh-CN") == "期间 '2026-13' 不是 YYYY-MM 格式的年月"
    assert caught.value.to_problem("zh-CN")["period"] == "2026-13"


def test_a_refused_transition_names_the_statuses_in_the_callers_words(session: Session) -> None:
    """The workflow's refusal quotes statuses by their names in the caller's language; the machine value stays."""
    from flow_graph.errors import InvalidTransition
    from traceability.models import Alert, AlertKind, AlertStatus

    seed_masterdata(session)
    row = Alert(kind=AlertKind.out_of_territory, unit_key="sgtin:x.T1", epc="urn:epc:id:sgtin:690123.4000010.T1",
                status=AlertStatus.confirmed)  # fmt: skip
    session.add(row)
    session.flush()
    assert row.id is not None
    with pytest.raises(InvalidTransition) as caught:
        service.update_alert(session=session, alert_id=row.id, author="auditor:AUD", status=AlertStatus.unverified)
    zh, en = caught.value.text("zh-CN"), caught.value.text("en")
    assert "已确认" in zh and "调查中" in zh and "confirmed" not in zh, zh  # where it is, where it may go
    assert "is confirmed" in en and "investigating" in en and not HAN.search(en), en
    assert caught.value.to_problem("zh-CN")["status"] == "confirmed"
    with pytest.raises(InvalidTransition) as bulk:
        service.update_alerts(session=session, alert_ids=[row.id], author="auditor:AUD", status=AlertStatus.unverified)
    assert "待核实" in bulk.value.text("zh-CN") and "unverified" in bulk.value.text("en")
