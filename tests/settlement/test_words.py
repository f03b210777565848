"""Settlement's refusals in the caller's language (issue 17), the machine codes as they were."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Role

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_a_bad_period_and_a_missing_party_in_both_languages(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    finance = auth(api_key(session, Role.finance))
    zh = client.get("/api/v1/settlement/2026-13", headers=finance)
    en = client.get("/api/v1/settlement/2026-13", headers={**finance, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["error"] == en.json()["error"] == "bad_period" and zh.json()["period"] == "2026-13"
    assert zh.json()["detail"] == "期间 '2026-13' 不是 YYYY-MM 格式的年月（如 2026-04）"
    assert en.json()["detail"] == "period '2026-13' is not YYYY-MM (e.g. 2026-04)"
    zh = client.get("/api/v1/settlement/2026-09/units", headers=finance)
    en = client.get("/api/v1/settlement/2026-09/units", headers={**finance, "Accept-Language": "en"})
    assert zh.json()["error"] == en.json()["error"] == "party_required"
    assert HAN.search(zh.json()["detail"]) and not HAN.search(en.json()["detail"])
    zh = client.get("/api/v1/settlement/2026-09/units?party=NOPE", headers=finance)
    assert zh.status_code == 404 and zh.json()["detail"] == "没有参与方 'NOPE'" and zh.json()["party"] == "NOPE"


def test_a_partner_is_refused_in_its_language(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    distributor = auth(api_key(session, Role.distributor, "D-GZ"))
    zh = client.get("/api/v1/settlement/2026-09/units?party=D-NJ", headers=distributor)
    en = client.get("/api/v1/settlement/2026-09/units?party=D-NJ", headers={**distributor, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 403
    assert zh.json()["error"] == en.json()["error"] == "not_your_party" and zh.json()["party"] == "D-NJ"
    assert HAN.search(zh.json()["detail"]) and "D-NJ" in zh.json()["detail"]
    assert not HAN.search(en.json()["detail"]) and "D-NJ" in en.json()["detail"]
