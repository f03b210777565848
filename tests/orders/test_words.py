"""Orders answer in the caller's language (issue 17): a refusal's ``detail`` in Chinese without a preference and in
English with ``Accept-Language: en``, the same machine ``error`` (and ``reason``) in both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import GTIN, api_key, auth
from tests.orders.helpers import HOME, PHONE, seed, stock
from tests.words import LANGUAGES, check, headers, unworded
from traceability.models import Role
from traceability.settings import Settings


@pytest.fixture
def keys(session: Session) -> dict[str, dict[str, str]]:
    seed(session)
    return {"admin": auth(api_key(session, Role.admin)), "gz1": auth(api_key(session, Role.store, "S-GZ-1")),
            "gz2": auth(api_key(session, Role.store, "S-GZ-2"))}  # fmt: skip


def _order(client: TestClient, keys: dict[str, dict[str, str]], quantity: int = 1) -> int:
    body = {"member": PHONE, "lat": HOME[0], "lon": HOME[1], "lines": [{"gtin": GTIN, "quantity": quantity}]}
    placed = client.post("/api/v1/orders", json=body, headers=keys["admin"])
    assert placed.status_code == 201 and placed.json()["store"] == "S-GZ-1", placed.text
    order_id: int = placed.json()["id"]
    return order_id


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_unknown_product_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                    accept: str | None, lang: str) -> None:  # fmt: skip
    body = {"member": PHONE, "lat": HOME[0], "lon": HOME[1], "lines": [{"gtin": "06901234000115", "quantity": 1}]}
    resp = client.post("/api/v1/orders", json=body, headers=headers(keys["admin"], accept))
    body = check(resp, 422, "order_invalid", "06901234000115 is no product of the master data", lang)
    assert (body["reason"], body["gtin"]) == ("unknown_gtin", "06901234000115")


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_an_order_another_store_may_not_see_in_the_callers_language(
    client: TestClient, keys: dict[str, dict[str, str]], accept: str | None, lang: str
) -> None:
    order_id = _order(client, keys)
    resp = client.get(f"/api/v1/orders/{order_id}", headers=headers(keys["gz2"], accept))
    body = check(resp, 404, "order_not_found", f"there is no order {order_id}", lang)
    assert (body["reason"], body["order"]) == ("order_not_found", order_id)


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_delivery_before_acceptance_in_the_callers_language(client: TestClient, keys: dict[str, dict[str, str]],
                                                              accept: str | None, lang: str) -> None:  # fmt: skip
    order_id = _order(client, keys)
    resp = client.post(f"/api/v1/orders/{order_id}/deliver", json={"codes": ["x"]},
                       headers=headers(keys["gz1"], accept))  # fmt: skip
    body = check(resp, 409, "order_conflict", f"order {order_id} has not been accepted by S-GZ-1", lang)
    assert (body["reason"], body["store"]) == ("not_accepted", "S-GZ-1")


@pytest.mark.parametrize(("accept", "lang"), LANGUAGES)
def test_a_short_delivery_in_the_callers_language(client: TestClient, session: Session, settings: Settings,
                                                  keys: dict[str, dict[str, str]], accept: str | None,
                                                  lang: str) -> None:  # fmt: skip
    units = stock(session, settings, "S-GZ-1", 1)
    order_id = _order(client, keys, quantity=2)
    assert client.post(f"/api/v1/orders/{order_id}/accept", headers=keys["gz1"]).status_code == 200
    resp = client.post(f"/api/v1/orders/{order_id}/deliver", json={"codes": units},
                       headers=headers(keys["gz1"], accept))  # fmt: skip
    body = check(resp, 422, "delivery_refused", "1 of the scanned units cannot be this order's delivery", lang)
    assert body["order"] == order_id and [r["reason"] for r in body["rejected"]] == ["quantity_mismatch"]


def test_every_key_orders_raise_with_is_worded_in_both_languages() -> None:
    assert unworded("orders") == []
