"""Authorisation matrix, driven from the app's own route list: a new route fails here until it is classified."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.crm.helpers import task_of
from tests.factories import GTIN, api_key, auth, seed_masterdata
from tests.labels.helpers import label_job_of
from tests.orders.helpers import order_offered_to
from traceability.models import Alert, AlertKind, Code, CodeStatus, Role, Shipment

ALL = frozenset(Role)
PUBLIC: frozenset[Role] = frozenset()
R = Role

EXPECTED: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/healthz"): PUBLIC,
    ("POST", "/api/v1/masterdata"): frozenset({R.admin}),
    ("GET", "/api/v1/territories"): ALL,
    ("GET", "/api/v1/parties"): ALL,
    ("GET", "/api/v1/parties/{party_id}"): ALL,
    ("GET", "/api/v1/products"): ALL,
    ("POST", "/api/v1/apikeys"): frozenset({R.admin}),
    ("GET", "/api/v1/apikeys"): frozenset({R.admin}),
    ("DELETE", "/api/v1/apikeys/{key_id}"): frozenset({R.admin}),
    ("POST", "/api/v1/codes/verify"): ALL,
    ("GET", "/api/v1/codes/{gtin}/{serial}"): ALL,
    ("POST", "/api/v1/codes/aggregate"): frozenset({R.plant, R.admin}),
    ("POST", "/api/v1/codes/disaggregate"): frozenset({R.plant, R.admin}),
    ("GET", "/api/v1/keys"): frozenset({R.admin, R.auditor}),
    ("GET", "/api/v1/keys/public"): ALL,
    ("POST", "/epcis/capture"): frozenset({R.plant, R.distributor, R.store, R.admin}),
    ("GET", "/epcis/events"): ALL,
    ("GET", "/epcis/"): ALL,
    ("GET", "/epcis/capture"): ALL,
    ("GET", "/epcis/capture/{capture_id}"): ALL,
    ("GET", "/epcis/events/{event_id:path}"): ALL,
    ("GET", "/epcis/eventTypes"): ALL,
    ("GET", "/epcis/eventTypes/{eventType:path}"): ALL,
    ("GET", "/epcis/eventTypes/{eventType:path}/events"): ALL,
    ("GET", "/epcis/epcs"): ALL,
    ("GET", "/epcis/epcs/{epc:path}"): ALL,
    ("GET", "/epcis/epcs/{epc:path}/events"): ALL,
    ("GET", "/epcis/bizSteps"): ALL,
    ("GET", "/epcis/bizSteps/{bizStep:path}"): ALL,
    ("GET", "/epcis/bizSteps/{bizStep:path}/events"): ALL,
    ("GET", "/epcis/bizLocations"): ALL,
    ("GET", "/epcis/bizLocations/{bizLocation:path}"): ALL,
    ("GET", "/epcis/bizLocations/{bizLocation:path}/events"): ALL,
    ("GET", "/epcis/readPoints"): ALL,
    ("GET", "/epcis/readPoints/{readPoint:path}"): ALL,
    ("GET", "/epcis/readPoints/{readPoint:path}/events"): ALL,
    ("GET", "/epcis/dispositions"): ALL,
    ("GET", "/epcis/dispositions/{disposition:path}"): ALL,
    ("GET", "/epcis/dispositions/{disposition:path}/events"): ALL,
    ("POST", "/epcis/queries"): ALL,
    ("GET", "/epcis/queries"): ALL,
    ("GET", "/epcis/queries/{name}"): ALL,
    ("DELETE", "/epcis/queries/{name}"): ALL,
    ("GET", "/epcis/queries/{name}/events"): ALL,
    ("POST", "/epcis/queries/{name}/subscriptions"): ALL,
    ("GET", "/epcis/queries/{name}/subscriptions"): ALL,
    ("GET", "/epcis/queries/{name}/subscriptions/{subscription_id}"): ALL,
    ("DELETE", "/epcis/queries/{name}/subscriptions/{subscription_id}"): ALL,
    ("GET", "/epcis/vocabularies"): ALL,
    ("POST", "/api/v1/scans"): frozenset({R.plant, R.distributor, R.store, R.admin}),
    ("POST", "/api/v1/scans/image"): frozenset({R.plant, R.distributor, R.store, R.admin}),
    ("POST", "/api/v1/scans/pack"): frozenset({R.plant, R.distributor, R.admin}),
    ("GET", "/api/v1/scans/rejected"): ALL,
    ("POST", "/api/v1/shipments"): frozenset({R.plant, R.distributor, R.admin}),
    ("GET", "/api/v1/shipments"): frozenset({R.plant, R.distributor, R.admin}),
    ("GET", "/api/v1/shipments/{shipment_id}"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/api/v1/shipments/{shipment_id}/scans"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/api/v1/shipments/{shipment_id}/close"): frozenset({R.plant, R.distributor, R.admin}),
    ("GET", "/api/v1/settlement/periods"): frozenset({R.finance, R.admin, R.distributor, R.store}),
    ("GET", "/api/v1/settlement/{period}"): frozenset({R.finance, R.admin, R.distributor, R.store}),
    ("GET", "/api/v1/settlement/{period}/report"): frozenset({R.finance, R.admin}),
    ("POST", "/api/v1/settlement/{period}/lock"): frozenset({R.finance, R.admin}),
    ("GET", "/api/v1/settlement/{period}/units"): frozenset({R.finance, R.admin, R.distributor, R.store}),
    ("GET", "/api/v1/stores/me/summary"): frozenset({R.store}),
    ("POST", "/api/v1/members"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/members"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("POST", "/api/v1/members/lookup"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("POST", "/api/v1/members/import"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/members/points"): frozenset({R.store, R.finance, R.admin}),
    ("POST", "/api/v1/members/redeem"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/members/segments"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/members/segments/summary"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/tasks"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/tasks/ticket"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/tasks/effect"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("POST", "/api/v1/tasks/{task_id}/outcome"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/campaigns"): frozenset({R.admin}),
    ("GET", "/api/v1/campaigns"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/campaigns/{code}"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("POST", "/api/v1/campaigns/{code}/end"): frozenset({R.admin}),
    ("GET", "/api/v1/crm/return/campaigns"): frozenset({R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/crm/return/sources"): frozenset({R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/crm/exports/{kind}"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("POST", "/api/v1/members/points/grant"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/members/top10"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/rewards"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("POST", "/api/v1/rewards"): frozenset({R.admin}),
    ("POST", "/api/v1/rewards/{code}/redeem"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/prospects"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/prospects"): frozenset({R.store, R.auditor, R.finance, R.admin}),
    ("POST", "/api/v1/pos/sales"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/pos/sales"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/pos/sales/{sale_id}"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/pos/sales/{sale_id}/undo"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/pos/sales/{sale_id}/receipt"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/pos/sales/{sale_id}/print"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/pos/printer"): frozenset({R.store, R.admin}),
    ("PUT", "/api/v1/pos/printer"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/pos/receive"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/pos/open-case"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/orders"): frozenset({R.admin}),
    ("GET", "/api/v1/orders"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/orders/notices"): frozenset({R.store, R.admin}),
    ("GET", "/api/v1/orders/lapses"): frozenset({R.admin}),
    ("GET", "/api/v1/orders/{order_id}"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/orders/{order_id}/accept"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/orders/{order_id}/decline"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/orders/{order_id}/out-for-delivery"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/orders/{order_id}/deliver"): frozenset({R.store, R.admin}),
    ("POST", "/api/v1/orders/{order_id}/reassign"): frozenset({R.admin}),
    ("POST", "/api/v1/orders/{order_id}/cancel"): frozenset({R.admin}),
    ("GET", "/api/v1/alerts"): frozenset({R.distributor, R.auditor, R.finance, R.admin}),
    ("GET", "/api/v1/alerts/{alert_id}"): frozenset({R.distributor, R.auditor, R.finance, R.admin}),
    ("PATCH", "/api/v1/alerts/{alert_id}"): frozenset({R.auditor, R.admin}),
    ("POST", "/api/v1/alerts/{alert_id}/notes"): frozenset({R.distributor, R.auditor, R.admin}),
    ("POST", "/api/v1/alerts/reevaluate"): frozenset({R.admin}),
    ("GET", "/api/v1/flow/trail"): frozenset({R.auditor, R.admin}),
    ("GET", "/api/v1/flow/leaks"): frozenset({R.auditor, R.admin}),
    ("GET", "/api/v1/flow/leaks/{distributor_id}"): frozenset({R.auditor, R.admin}),
    ("GET", "/api/v1/flow/graph"): frozenset({R.auditor, R.admin}),
    ("GET", "/api/v1/flow/graph.graphml"): frozenset({R.auditor, R.admin}),
    ("GET", "/api/v1/labels/templates"): ALL,
    ("POST", "/api/v1/labels/jobs"): frozenset({R.plant}),
    ("GET", "/api/v1/labels/jobs"): frozenset({R.plant, R.admin, R.auditor}),
    ("GET", "/api/v1/labels/jobs/{job_id}"): frozenset({R.plant, R.admin, R.auditor}),
    ("POST", "/api/v1/labels/jobs/{job_id}/print"): frozenset({R.plant}),
    ("POST", "/api/v1/labels/jobs/{job_id}/reprint"): frozenset({R.plant}),
    ("POST", "/api/v1/labels/jobs/{job_id}/void"): frozenset({R.plant}),
    ("POST", "/api/v1/labels/jobs/{job_id}/close"): frozenset({R.plant}),
    ("GET", "/api/v1/labels/jobs/{job_id}/reconciliation"): frozenset({R.plant, R.admin, R.auditor}),
    # web pages: public ones, then the pages behind a key (cookie or bearer, the same role check)
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/lang/{lang}"): PUBLIC,
    ("GET", "/check"): PUBLIC,
    ("GET", "/01/{gtin}/21/{serial}"): PUBLIC,
    ("POST", "/check/inspect"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    # the API's documentation (fastapi-offline's routes: Swagger UI and ReDoc from local files)
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/app/shipments"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/app/shipments"): frozenset({R.plant, R.distributor, R.admin}),
    ("GET", "/app/shipments/{shipment_id}"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/app/shipments/{shipment_id}/scans"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/app/shipments/{shipment_id}/close"): frozenset({R.plant, R.distributor, R.admin}),
    ("GET", "/app/receiving"): frozenset({R.plant, R.distributor, R.admin}),
    ("GET", "/app/receiving/{shipment_id}"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/app/receiving/{shipment_id}/scans"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/app/receiving/{shipment_id}/close"): frozenset({R.plant, R.distributor, R.admin}),
    ("POST", "/app/decode"): frozenset({R.plant, R.distributor, R.store, R.admin}),
    ("GET", "/app/pos"): frozenset({R.store}),
    ("POST", "/app/pos/lookup"): frozenset({R.store}),
    ("POST", "/app/pos/members"): frozenset({R.store}),
    ("POST", "/app/pos/sales"): frozenset({R.store}),
    ("POST", "/app/pos/sales/{sale_id}/undo"): frozenset({R.store}),
    ("GET", "/app/pos/sales/{sale_id}/receipt"): frozenset({R.store}),
    ("POST", "/app/pos/sales/{sale_id}/print"): frozenset({R.store}),
    ("POST", "/app/pos/printer"): frozenset({R.store}),
    ("GET", "/app/pos/receive"): frozenset({R.store}),
    ("POST", "/app/pos/receive"): frozenset({R.store}),
    ("POST", "/app/pos/open-case"): frozenset({R.store}),
    ("GET", "/app/pos/offers"): frozenset({R.store}),
    ("POST", "/app/pos/offers/{order_id}/accept"): frozenset({R.store}),
    ("POST", "/app/pos/offers/{order_id}/decline"): frozenset({R.store}),
    ("POST", "/app/pos/offers/{order_id}/out-for-delivery"): frozenset({R.store}),
    ("POST", "/app/pos/offers/{order_id}/deliver"): frozenset({R.store}),
    ("GET", "/app/pos/tasks"): frozenset({R.store}),
    ("GET", "/app/pos/tasks/ticket"): frozenset({R.store}),
    ("POST", "/app/pos/tasks/{task_id}/outcome"): frozenset({R.store}),
    ("GET", "/app/orders"): frozenset({R.admin}),
    ("POST", "/app/orders"): frozenset({R.admin}),
    ("POST", "/app/orders/lookup"): frozenset({R.admin}),
    ("GET", "/app/orders/{order_id}"): frozenset({R.admin}),
    ("GET", "/app/orders/{order_id}/state"): frozenset({R.admin}),
    ("POST", "/app/orders/{order_id}/reassign"): frozenset({R.admin}),
    ("POST", "/app/orders/{order_id}/cancel"): frozenset({R.admin}),
    ("GET", "/app/admin"): frozenset({R.admin}),
    ("POST", "/app/admin/keys"): frozenset({R.admin}),
    ("POST", "/app/admin/keys/{key_id}/revoke"): frozenset({R.admin}),
    ("POST", "/app/admin/masterdata"): frozenset({R.admin}),
    ("GET", "/app/alerts"): frozenset({R.auditor, R.admin}),
    ("POST", "/app/alerts/bulk"): frozenset({R.auditor, R.admin}),
    ("GET", "/app/overview"): ALL,
    ("GET", "/app/alerts/{alert_id}"): frozenset({R.distributor, R.auditor, R.admin}),
    ("POST", "/app/alerts/{alert_id}"): frozenset({R.auditor, R.admin}),
    ("POST", "/app/alerts/{alert_id}/notes"): frozenset({R.distributor, R.auditor, R.admin}),
    ("GET", "/app/statement"): frozenset({R.distributor, R.finance, R.admin}),
    ("GET", "/app/store"): frozenset({R.store, R.admin}),
    ("GET", "/app/marketing"): frozenset({R.admin, R.auditor, R.finance}),
    ("GET", "/app/marketing/export/{kind}"): frozenset({R.admin, R.auditor, R.finance}),
    ("GET", "/app/graph"): frozenset({R.auditor, R.admin}),
    ("GET", "/app/settlement"): frozenset({R.finance, R.admin}),
    ("POST", "/app/settlement/lock"): frozenset({R.finance, R.admin}),
    ("GET", "/app/settlement/{period}/report.{fmt}"): frozenset({R.finance, R.admin}),
    ("GET", "/app/print-jobs"): frozenset({R.plant, R.admin}),
    ("POST", "/app/print-jobs"): frozenset({R.plant, R.admin}),
    ("GET", "/app/print-jobs/{job_id}"): frozenset({R.plant, R.admin}),
    ("GET", "/app/print-jobs/{job_id}/reconciliation.csv"): frozenset({R.plant, R.admin}),
    ("POST", "/app/print-jobs/{job_id}/print"): frozenset({R.plant, R.admin}),
    ("POST", "/app/print-jobs/{job_id}/reprint"): frozenset({R.plant, R.admin}),
    ("POST", "/app/print-jobs/{job_id}/void"): frozenset({R.plant, R.admin}),
}

# Routes whose path names a party-owned object: how to name one the caller owns and one of another party.
Owned = Callable[[Session, str], dict[str, str]]


def _code_held_by(session: Session, party_id: str) -> dict[str, str]:
    serial = f"T{abs(hash(party_id)) % 10**10:010d}"
    if session.exec(select(Code).where(Code.serial == serial)).first() is None:
        session.add(Code(gtin=GTIN, serial=serial, status=CodeStatus.generated, holder_id=party_id))
        session.flush()
    return {"gtin": GTIN, "serial": serial}


def _shipment_of(session: Session, party_id: str) -> dict[str, str]:
    destination = "S-NJ-1" if party_id != "S-NJ-1" else "S-GZ-1"
    row = Shipment(party_id=party_id, destination_id=destination)
    session.add(row)
    session.flush()
    return {"shipment_id": str(row.id)}


def _alert_naming(session: Session, party_id: str) -> dict[str, str]:
    row = session.exec(select(Alert).where(Alert.unit_key == f"test:{party_id}")).first()
    if row is None:
        row = Alert(kind=AlertKind.out_of_territory, unit_key=f"test:{party_id}", epc=f"test:{party_id}",
                    party_id=party_id, responsible_distributor_id=party_id)  # fmt: skip
        session.add(row)
        session.flush()
    return {"alert_id": str(row.id)}


OBJECT_ROUTES: dict[tuple[str, str], Owned] = {
    ("GET", "/api/v1/parties/{party_id}"): lambda _s, party: {"party_id": party},
    ("GET", "/api/v1/codes/{gtin}/{serial}"): _code_held_by,
    ("GET", "/api/v1/shipments/{shipment_id}"): _shipment_of,
    ("POST", "/api/v1/shipments/{shipment_id}/scans"): _shipment_of,
    ("POST", "/api/v1/shipments/{shipment_id}/close"): _shipment_of,
    ("GET", "/app/shipments/{shipment_id}"): _shipment_of,
    ("POST", "/app/shipments/{shipment_id}/close"): _shipment_of,
    ("GET", "/app/print-jobs/{job_id}"): label_job_of,
    ("GET", "/app/print-jobs/{job_id}/reconciliation.csv"): label_job_of,
    ("GET", "/api/v1/alerts/{alert_id}"): _alert_naming,
    ("POST", "/api/v1/alerts/{alert_id}/notes"): _alert_naming,
    ("GET", "/api/v1/labels/jobs/{job_id}"): label_job_of,
    ("POST", "/api/v1/tasks/{task_id}/outcome"): task_of,
    ("GET", "/api/v1/orders/{order_id}"): order_offered_to,
    ("POST", "/app/pos/offers/{order_id}/accept"): order_offered_to,
    ("POST", "/app/pos/tasks/{task_id}/outcome"): task_of,
    ("POST", "/api/v1/labels/jobs/{job_id}/print"): label_job_of,
    ("POST", "/api/v1/labels/jobs/{job_id}/reprint"): label_job_of,
    ("POST", "/api/v1/labels/jobs/{job_id}/void"): label_job_of,
    ("POST", "/api/v1/labels/jobs/{job_id}/close"): label_job_of,
    ("GET", "/api/v1/labels/jobs/{job_id}/reconciliation"): label_job_of,
}
# Valid bodies for object routes that take one, so that the check reaches the object look-up.
OBJECT_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/labels/jobs/{job_id}/reprint"): {"code": "junk", "reason": "torn"},
    ("POST", "/api/v1/labels/jobs/{job_id}/void"): {"code": "junk", "reason": "torn"},
    ("POST", "/api/v1/shipments/{shipment_id}/scans"): {"codes": ["junk"]},
    ("POST", "/api/v1/alerts/{alert_id}/notes"): {"text": "we are looking into it"},
    ("POST", "/api/v1/tasks/{task_id}/outcome"): {"status": "reached"},
    ("POST", "/app/pos/tasks/{task_id}/outcome"): {"status": "reached"},
}
# Path parameters that do not name party-owned objects (admin-only resources), with a harmless value.
NEUTRAL_PARAMS = {"key_id": "999999", "period": "2026-04"}


def app_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    """Every API route with its full path, through included routers."""
    out = []
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.route, APIRoute):
            for method in sorted(set(ctx.methods or ()) - {"HEAD", "OPTIONS"}):
                out.append((method, str(ctx.path), ctx.route))
    return out


def declared_roles(route: APIRoute) -> frozenset[Role] | None:
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        roles = getattr(dep.call, "allowed_roles", None)
        if roles is not None:
            return frozenset(roles)
        stack.extend(dep.dependencies)
    return None


def test_every_route_is_classified(app) -> None:
    found = {(m, p) for m, p, _ in app_routes(app)}
    assert found - EXPECTED.keys() == set(), "new routes must be added to the authorisation matrix"
    assert EXPECTED.keys() - found == set(), "the matrix lists routes the app no longer has"


def test_declared_roles_match_matrix(app) -> None:
    for method, path, route in app_routes(app):
        declared = declared_roles(route)
        expected = EXPECTED[(method, path)]
        if expected == PUBLIC:
            assert declared is None, f"{method} {path} should be public"
        else:
            assert declared == expected, f"{method} {path}: declares {declared}, matrix says {expected}"


def _fill(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), NEUTRAL_PARAMS.get(m.group(1), "x")), path)


@pytest.fixture
def keys(session: Session) -> dict[Role, Any]:
    seed_masterdata(session)
    return {role: api_key(session, role) for role in Role}


def test_each_role_reaches_only_what_it_may(app, client: TestClient, session: Session, keys) -> None:
    for method, path, _ in app_routes(app):
        allowed = EXPECTED[(method, path)]
        for role, key in keys.items():
            params = OBJECT_ROUTES[(method, path)](session, key.party_id) if (method, path) in OBJECT_ROUTES else {}
            url = _fill(path, params)
            body: dict[str, str] | None = {} if method in ("POST", "PUT", "PATCH") else None
            resp = client.request(method, url, headers=auth(key), json=body)
            if allowed == PUBLIC or role in allowed:
                assert resp.status_code not in (401, 403), f"{role} should reach {method} {path}: {resp.text}"
            else:
                assert resp.status_code == 403, f"{role} must be refused {method} {path}, got {resp.status_code}"
                assert resp.json()["error"] == "forbidden"
        if allowed != PUBLIC:
            anon = client.request(method, _fill(path, {}), json={} if method == "POST" else None)
            assert anon.status_code == 401, f"{method} {path} without a key: {anon.status_code}"


def test_no_party_reaches_another_partys_objects(client: TestClient, session: Session, keys) -> None:
    others = {"D-GZ": "D-NJ", "S-GZ-1": "S-NJ-1", "PLANT-1": "WH-1"}
    for (method, path), owned in OBJECT_ROUTES.items():
        body = OBJECT_BODIES.get((method, path))
        for role, key in keys.items():
            if role not in EXPECTED[(method, path)]:
                continue
            own = client.request(method, _fill(path, owned(session, key.party_id)), headers=auth(key), json=body)
            assert own.status_code not in (401, 403, 404), f"{role} must reach its own object at {path}: {own.text}"
            if role in (R.auditor, R.finance, R.admin):
                continue
            params = owned(session, others[key.party_id])
            foreign = client.request(method, _fill(path, params), headers=auth(key), json=body)
            assert foreign.status_code == 404, f"{role} of {key.party_id} reached another party's object at {path}"


def test_party_listing_is_scoped(client: TestClient, keys) -> None:
    mine = client.get("/api/v1/parties", headers=auth(keys[R.distributor])).json()
    assert [p["id"] for p in mine] == ["D-GZ"]
    everyone = client.get("/api/v1/parties", headers=auth(keys[R.auditor])).json()
    assert len(everyone) == 8


def test_revoked_and_malformed_keys_are_refused(client: TestClient, keys) -> None:
    admin = auth(keys[R.admin])
    victim = keys[R.distributor]
    assert client.get("/api/v1/parties", headers=auth(victim)).status_code == 200
    assert client.delete(f"/api/v1/apikeys/{victim.id}", headers=admin).status_code == 200
    resp = client.get("/api/v1/parties", headers={**auth(victim), "Accept-Language": "en"})
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
    bad = client.get("/api/v1/parties", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthenticated"
    tampered = victim.token[:-1] + ("A" if victim.token[-1] != "A" else "B")
    assert client.get("/api/v1/parties", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
