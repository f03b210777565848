"""``traceability alerts``: the diversion alert queue, the case workflow, and the full re-evaluation."""

from __future__ import annotations

import csv
import sys
import time
from datetime import datetime
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from cli.context import err_console, grouped, out_console, print_json, state, terminal_language
from flow_graph import service
from flow_graph.schemas import AlertCaseRead, AlertRead
from traceability.i18n import Catalogue, messages, wording
from traceability.models import AlertKind, AlertStatus

_WORDS: Catalogue = messages("cli.alerts")
"""What the re-evaluation prints on stderr, in the terminal's language (``cli.context.terminal_language``)."""

_LIST_WORDS: Catalogue = messages("cli.alerts:list_words")
"""The list's count under its table, likewise (a dict of its own until it is folded beside ``_WORDS``)."""

app = typer.Typer(help="Diversion alerts: list, inspect, work the case, re-evaluate.", no_args_is_help=True)

CSV_FIELDS = ("id", "kind", "epc", "party", "responsible_distributor", "territory", "status", "assignee",
              "first_seen", "last_seen", "event_ids", "detail")  # fmt: skip


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _records(rows: list[Any]) -> list[dict[str, Any]]:
    return [AlertRead.model_validate(r).model_dump(mode="json") for r in rows]


@app.command("list")
def list_alerts(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", help="table, json (the contract) or csv."),
    kind: list[AlertKind] = typer.Option(None, "--kind", help="Only these rules (repeatable)."),
    status: list[str] = typer.Option(
        None,
        "--status",
        help="open, investigating, confirmed, dismissed, withdrawn or all (repeatable; default: all but withdrawn).",
    ),  # fmt: skip
    distributor: str | None = typer.Option(None, help="Responsible distributor (master-data id)."),
    territory: str | None = typer.Option(None, help="Places inside this territory node."),
    party: str | None = typer.Option(None, help="Place where the unit was seen."),
    epc: str | None = typer.Option(None, help="One unit (URN or Digital Link)."),
    period: str | None = typer.Option(None, help="YYYY-MM in which the first evidence falls."),
    since: datetime | None = typer.Option(None, help="First evidence at or after (ISO date-time, UTC)."),
    until: datetime | None = typer.Option(None, help="First evidence before."),
    limit: int | None = typer.Option(None, help="At most this many."),
) -> None:
    """List alerts, newest first."""
    statuses = list(AlertStatus) if status and "all" in status else [AlertStatus(s) for s in status or []]
    filters = service.AlertFilter(
        kind=kind or None, status=statuses or None, distributor=distributor, territory=territory, party=party,
        epc=epc, period=period, since=since, until=until, limit=limit,
    )  # fmt: skip
    with state(ctx).session() as session:
        records = _records(service.list_alerts(session=session, filters=filters))
    if fmt is Format.json:
        print_json(records)
    elif fmt is Format.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "event_ids": " ".join(r["event_ids"])})
    else:
        table = Table("id", "kind", "epc", "party", "distributor", "territory", "status", "first seen", "evidence")
        for r in records:
            table.add_row(str(r["id"]), r["kind"], r["epc"], r["party"] or "?", r["responsible_distributor"] or "",
                          r["territory"] or "", r["status"], (r["first_seen"] or "")[:16],
                          str(len(r["event_ids"]) + len(r["rejected_scan_ids"])))  # fmt: skip
        out_console.print(table)
        lang = terminal_language()
        err_console.print(wording(_LIST_WORDS, "listed", lang, count=grouped(len(records), lang)), highlight=False,
                          markup=False)  # fmt: skip


@app.command("show")
def show(ctx: typer.Context, alert_id: int) -> None:
    """One alert with its evidence and case history (JSON)."""
    with state(ctx).session() as session:
        case = AlertCaseRead.model_validate(service.alert_case(session=session, alert_id=alert_id))
    print_json(case.model_dump(mode="json"))


@app.command("update")
def update(
    ctx: typer.Context,
    alert_id: int,
    status: AlertStatus | None = typer.Option(None, help="investigating, confirmed, dismissed, or open again."),
    assignee: str | None = typer.Option(None, help="Who works the case ('' unassigns)."),
    note: str | None = typer.Option(None, help="A finding or remark for the case history."),
    author: str = typer.Option("cli", help="Who makes the change (kept in the history)."),
) -> None:
    """Work the case: move its status, assign it, add a note."""
    with state(ctx).session() as session:
        alert = service.update_alert(
            session=session, alert_id=alert_id, author=author, status=status, note=note,
            assignee=(assignee or None) if assignee is not None else service.UNSET,
        )  # fmt: skip
        record = AlertRead.model_validate(alert).model_dump(mode="json")
    print_json(record)


@app.command("reevaluate")
def reevaluate(
    ctx: typer.Context,
    partition: int = typer.Option(service.PARTITION, min=1, help="Codes read, evaluated and reconciled at a time."),
) -> None:
    """Derive every alert from the whole store again (after a master-data change, or to check the incremental ones)."""
    lang, shown = terminal_language(), [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - shown[0] >= 1.0:  # a line a second at most, and the last
            shown[0] = now
            err_console.print(wording(_WORDS, "progress", lang, done=f"{done:,}", total=f"{total:,}"), highlight=False)

    with state(ctx).session() as session:
        result = service.reevaluate(session=session, partition=partition, progress=progress)
    print_json(result.as_dict())
    counts = {name: f"{getattr(result, name):,}" for name in
              ("evaluated", "raised", "updated", "withdrawn", "reopened", "unchanged")}  # fmt: skip
    err_console.print(wording(_WORDS, "summary", lang, **counts), highlight=False)
