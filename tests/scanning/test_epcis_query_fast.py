"""The identifier-match page (``MATCH_epc`` & co. with exact keys, nothing else): one prepared SQL text per query
shape (``scanning.query._fast_rows``) that must answer exactly what the general statement answers — same events,
same order, same tokens, same party scope, declarations merged — and whose tokens are as hard to forge."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from scanning import query
from tests.factories import auth
from tests.scanning.test_epcis_rest import capture, event, keys, listed  # noqa: F401 - the keys fixture
from traceability.auth.service import Principal
from traceability.models import Role

EPC = "urn:epc:id:sgtin:6901234.000010.{}"
SECRET = b"k" * 32


def _pages(session: Session, params: list[tuple[str, str]], principal: Principal | None, fast: bool,
           per_page: int) -> list[tuple[list[str], str | None]]:  # fmt: skip
    flt = query.parse_query(params, lang="en")
    assert query._fast(flt) == bool(flt.matches)  # the shapes below are all the fast one
    if not fast:
        flt.conditions, flt.matches = flt.sql_conditions(), []  # the same query as the general statement
    out: list[tuple[list[str], str | None]] = []
    token = None
    while True:
        page = query.event_page(session=session, flt=flt, principal=principal, per_page=per_page, token=token,
                                secret=SECRET, lang="en")  # fmt: skip
        out.append((page.documents, page.next_token))
        token = page.next_token
        if token is None or len(out) > 50:
            return out


def test_the_fast_page_is_the_general_statements_page(client: TestClient, keys: dict[str, Any],  # noqa: F811
                                                       session: Session) -> None:  # fmt: skip
    rng = random.Random(16)
    places = ["D-GZ", "D-NJ", "S-GZ-1"]
    events = []
    for i in range(60):  # eight units, times that collide (the row id breaks ties), three places
        serial = f"F{rng.randrange(8)}"
        events.append(event(serial, at=rng.choice(places), t=f"2026-03-01T09:{rng.randrange(6):02d}:00+08:00",
                            eventID=f"urn:uuid:00000000-0000-4000-8000-{i:012d}"))  # fmt: skip
    capture(client, keys["admin"], *events)
    declared = {**events[5], "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z",
                                                  "reason": "incorrect_data"}}  # fmt: skip
    capture(client, keys["admin"], declared)
    principals = [None, Principal(role=Role.admin, party_id="BRAND", api_key_id=1),
                  Principal(role=Role.distributor, party_id="D-GZ", api_key_id=1),
                  Principal(role=Role.store, party_id="S-GZ-1", api_key_id=1)]  # fmt: skip
    shapes = [[("MATCH_epc", EPC.format("F1"))], [("MATCH_epc", EPC.format("F2") + "|" + EPC.format("F3"))],
              [("MATCH_anyEPC", EPC.format("F4")), ("MATCH_epc", EPC.format("F4"))],
              [("MATCH_epc", EPC.format("F5")), ("orderDirection", "DESC")],
              [("MATCH_epc", EPC.format("F6")), ("orderBy", "recordTime")],
              [("MATCH_epc", EPC.format("F0") + "|" + EPC.format("F7")), ("eventCountLimit", "5")],
              [("MATCH_parentID", EPC.format("F1"))], [("MATCH_epc", EPC.format("NONE"))]]  # fmt: skip
    compared = 0
    for principal in principals:
        for params in shapes:
            for per_page in (1, 3, 100):
                fast = _pages(session, params, principal, True, per_page)
                assert fast == _pages(session, params, principal, False, per_page), (principal, params, per_page)
                compared += sum(len(docs) for docs, _ in fast)
    assert compared > 300  # pages with events were compared, not only empty ones
    declared_unit = query.parse_query([("MATCH_epc", events[5]["epcList"][0])], lang="en")
    docs = query.event_page(session=session, flt=declared_unit, principal=None, per_page=100, token=None,
                            secret=SECRET, lang="en").documents  # fmt: skip
    merged = [d for d in docs if '"errorDeclaration"' in d]
    assert len(merged) == 1 and events[5]["eventID"] in merged[0]  # merged into its event, listed once


def test_match_pages_by_token_within_the_party_and_refuse_a_foreign_token(client: TestClient,
                                                                          keys: dict[str, Any]) -> None:  # noqa: F811
    mine = [event("T1", t=f"2026-03-01T09:00:{i:02d}+08:00") for i in range(7)]
    theirs = [event("T1", at="D-NJ", t=f"2026-03-01T09:00:{i:02d}+08:00") for i in range(3)]
    capture(client, keys["admin"], *mine, *theirs)
    gz, nj = auth(keys["gz"]), auth(keys["nj"])
    url, seen = f"/epcis/events?MATCH_epc={EPC.format('T1')}&perPage=3", []
    while url:
        resp = client.get(url, headers=gz)
        seen += [e["eventTime"] for e in listed(resp)]
        link = resp.headers.get("Link")
        url = link.split(">")[0].lstrip("<") if link else ""
    assert seen == [f"2026-03-01T09:00:{i:02d}+08:00" for i in range(7)]  # D-GZ's seven, none of D-NJ's
    first = client.get(f"/epcis/events?MATCH_epc={EPC.format('T1')}&perPage=3", headers=gz)
    token = first.headers["Link"].split("nextPageToken=")[1].split(">")[0]
    # D-NJ replays D-GZ's token: refused, never D-GZ's rows; nor for another unit, nor forged
    assert client.get(f"/epcis/events?MATCH_epc={EPC.format('T1')}&perPage=3&nextPageToken={token}",
                      headers=nj).status_code == 400  # fmt: skip
    assert client.get(f"/epcis/events?MATCH_epc={EPC.format('T2')}&perPage=3&nextPageToken={token}",
                      headers=gz).status_code == 400  # fmt: skip
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/epcis/events?MATCH_epc={EPC.format('T1')}&perPage=3&nextPageToken={forged}",
                      headers=gz).status_code == 400  # fmt: skip
    assert len(listed(client.get(f"/epcis/events?MATCH_epc={EPC.format('T1')}", headers=nj))) == 3


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_one_sql_text_per_shape_with_its_values_bound(dialect: str) -> None:
    sql, names = query._fast_sql(dialect, "eventTime", False, ((2, 1),), True, True)
    assert "'" not in sql and "urn:" not in sql  # no value is spliced into the text
    assert set(names) == {"false", "r0_0", "r0_1", "k0_0", "party", "at", "row_id", "limit"}
    assert query._fast_sql(dialect, "eventTime", False, ((2, 1),), True, True)[0] is sql  # built once
