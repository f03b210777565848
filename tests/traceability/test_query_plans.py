"""Every statement that capture, its listeners and a settlement run send to the tables that grow with the network
finds its rows through an index: none reads a whole table.

Rather than a list of queries written here (which would drift from the code), the test records what the real code
runs — a capture of a month's events through its listeners (unit state, diversion rules, settlement facts,
members), then a settlement run and a lock of the month — and asks the database for each statement's plan with the
same parameters: SQLite's ``EXPLAIN QUERY PLAN`` (a ``SCAN`` of a table without an index is a full read), and
PostgreSQL's ``EXPLAIN`` with sequential scans priced out (``enable_seqscan = off``), so that a ``Seq Scan`` that
remains means no index can serve the statement — on a small test database the planner would otherwise rightly
prefer reading the table.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from codes.keyfiles import KeyFileStore
from flow_graph.service import reevaluate
from rebates.policy import Policy
from scanning.service import ScanRequest, record_scans
from settlement.service import lock_period, run_settlement
from tests.factories import seed_masterdata, signed_codes
from tests.settlement.scenario import P1, capture, event, seed, sscc, units
from tests.sql import sent
from traceability.auth.service import Principal
from traceability.models import Role

GROWING = ("epcis_event", "epcis_event_epc", "code", "sale", "purchase", "alert", "shipment_item", "rejected_scan",
           "aggregation_log", "counterfeit_scan", "member", "pos_sale", "settlement_line")  # fmt: skip
"""The tables that grow with events, units and members; the others (parties, territories, products, the chain head,
the periods) stay the size of the network's master data."""

_READS = {"SELECT", "WITH", "UPDATE", "DELETE"}
"""The statements that find rows (an INSERT's VALUES read none)."""
_TABLE = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+\"?(\w+)\"?", re.IGNORECASE)


def _reads_growing(statement: str) -> bool:
    first = statement.lstrip().split(None, 1)[0].upper()
    return first in _READS and any(name.lower() in GROWING for name in _TABLE.findall(statement))


def _full_reads(session: Session, statement: str, parameters: Any) -> list[str]:
    """The growing tables ``statement`` reads whole, by its plan."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        found = []
        for row in rows:
            detail = str(row[-1])
            m = re.match(r"SCAN (\w+)", detail)
            if m and m.group(1) in GROWING and "USING" not in detail:
                found.append(detail)
        return found
    with conn.begin_nested():
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
        conn.exec_driver_sql("SET LOCAL enable_seqscan = on")
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in GROWING:
            found.append(f"Seq Scan on {node['Relation Name']}" + (f" ({node['Filter']})" if "Filter" in node else ""))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def test_capture_listeners_and_settlement_read_by_index(session: Session) -> None:
    seed(session)
    gz, case_units = units(P1, "Q", 12), units(P1, "K", 6)
    with sent(session) as seen:
        capture(
            session,
            event("commissioning", gz + case_units, "PLANT-1", "2026-04-01T08:00:00+08:00", action="ADD"),
            event("packing", case_units, "WH-1", "2026-04-01T09:00:00+08:00", kind="AggregationEvent", action="ADD",
                  parent=sscc(7)),
            event("shipping", [*gz, sscc(7)], "PLANT-1", "2026-04-02T09:00:00+08:00", to="D-GZ"),
            event("shipping", gz[:8], "D-GZ", "2026-04-05T09:00:00+08:00", to="S-GZ-1"),
            event("shipping", [sscc(7)], "D-GZ", "2026-04-05T10:00:00+08:00", to="S-NJ-1"),  # out of territory
            event("retail_selling", gz[:3], "S-GZ-1", "2026-04-10T10:00:00+08:00", member="e" * 64),
            event("retail_selling", case_units[:1], "S-NJ-1", "2026-04-12T10:00:00+08:00"),
        )  # fmt: skip
        capture(session, event("retail_selling", gz[3:4], "S-GZ-1", "2026-04-13T10:00:00+08:00"))  # a later capture
        run_settlement(session=session, period="2026-04", policy=Policy())
        lock_period(session=session, period="2026-04", policy=Policy(), now=datetime(2026, 6, 1, tzinfo=UTC))
    checked = [(s.statement, s.parameters) for s in seen if _reads_growing(s.statement)]
    assert len(checked) >= 20, f"only {len(checked)} statements recorded: the recorder missed the capture"
    full = {s: reads for s, p in checked if (reads := _full_reads(session, s, p))}
    assert not full, "statements that read a growing table whole:\n\n" + "\n\n".join(
        f"{reads}\n{s}" for s, reads in full.items()
    )


def test_the_full_reevaluation_reads_by_index(session: Session) -> None:
    """The full re-evaluation walks the store a partition at a time: each partition's keys, events, containers,
    code records, evidence and alerts by index range or seek, never a table whole (small partitions, so that the
    walk takes several and the statements after the first one run too)."""
    seed(session)
    gz, case_units = units(P1, "Q", 12), units(P1, "K", 6)
    capture(
        session,
        event("commissioning", gz + case_units, "PLANT-1", "2026-04-01T08:00:00+08:00", action="ADD"),
        event("packing", case_units, "WH-1", "2026-04-01T09:00:00+08:00", kind="AggregationEvent", action="ADD",
              parent=sscc(7)),
        event("shipping", [*gz, sscc(7)], "PLANT-1", "2026-04-02T09:00:00+08:00", to="D-GZ"),
        event("shipping", [sscc(7)], "D-GZ", "2026-04-05T10:00:00+08:00", to="S-NJ-1"),  # out of territory
        event("retail_selling", case_units[:2], "S-NJ-1", "2026-04-12T10:00:00+08:00"),
    )  # fmt: skip
    with sent(session) as seen:
        reevaluate(session=session, partition=5)
    # Known and left: the catch-up that indexes counterfeit evidence not yet indexed (flow_graph.service.
    # _index_rejections(None), once per re-evaluation) reads the rejected scans whole.
    catch_up = re.compile(r"SELECT rejected_scan\.id\b.*NOT IN \(SELECT counterfeit_scan\.rejected_scan_id", re.DOTALL)
    checked = [(s.statement, s.parameters) for s in seen if _reads_growing(s.statement)]
    checked = [(s, p) for s, p in checked if not catch_up.search(s)]
    assert len(checked) >= 10, f"only {len(checked)} statements recorded: the recorder missed the re-evaluation"
    full = {s: reads for s, p in checked if (reads := _full_reads(session, s, p))}
    assert not full, "statements that read a growing table whole:\n\n" + "\n\n".join(
        f"{reads}\n{s}" for s, reads in full.items()
    )


def test_the_scan_api_reads_by_index(session: Session, tmp_path: Path) -> None:
    """The scan path (codes verified and looked up, idempotency, outbound checks, rejected scans kept) on top."""
    seed_masterdata(session)
    store = KeyFileStore(tmp_path / "keys")
    codes = signed_codes(session, store, 6)
    plant, dist = Principal(role=Role.plant, party_id="PLANT-1"), Principal(role=Role.distributor, party_id="D-GZ")
    shop = Principal(role=Role.store, party_id="S-GZ-1")
    steps = [
        (plant, ScanRequest("commissioning", codes)),
        (plant, ScanRequest("shipping", codes, destination_id="D-GZ")),
        (dist, ScanRequest("receiving", codes)),
        (dist, ScanRequest("shipping", codes[:4], destination_id="S-GZ-1")),
        (shop, ScanRequest("receiving", codes[:4])),
        (shop, ScanRequest("retail_selling", [codes[0], codes[1][:-3] + "AAA", "not a code"])),
    ]
    with sent(session) as seen:
        outcomes = [record_scans(session=session, principal=who, store=store, request=asked, idempotency_key=f"k{i}")
                    for i, (who, asked) in enumerate(steps)]  # fmt: skip
    assert [len(o.accepted) for o in outcomes] == [6, 6, 6, 4, 4, 1]
    assert len(outcomes[-1].rejected) + len(outcomes[-1].unreadable) == 2
    checked = [(s.statement, s.parameters) for s in seen if _reads_growing(s.statement)]
    assert len(checked) >= 20, f"only {len(checked)} statements recorded: the recorder missed the scans"
    full = {s: reads for s, p in checked if (reads := _full_reads(session, s, p))}
    assert not full, "statements that read a growing table whole:\n\n" + "\n\n".join(
        f"{reads}\n{s}" for s, reads in full.items()
    )
