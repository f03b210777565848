"""``traceability trail`` and ``traceability graph``: a unit's trail, leak analysis, the party graph and its exports.

``flow_graph.graph`` (NetworkX) is imported inside each command, so every other command of the CLI starts without it.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from cli.context import err_console, grouped, out_console, print_json, state, terminal_language
from flow_graph.schemas import LeakReportRead, LeakSummaryRead, TrailRead
from traceability.i18n import Catalogue, messages, wording

app = typer.Typer(help="The party graph: leaks, top leaks, GraphML / JSON exports.", no_args_is_help=True)

_WORDS: Catalogue = messages("cli.graph")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""


def _styled(line: str, value: str, style: str) -> Text:
    """A worded line with the value it is about (a unit, an alert's kind, a distributor) styled, wherever the
    language puts it; never parsed as markup (an id or a detail may hold brackets)."""
    text = Text(line)
    at = line.find(value)
    if value and at >= 0:
        text.stylize(style, at, at + len(value))
    return text


class Format(StrEnum):
    table = "table"
    json = "json"


class GraphFormat(StrEnum):
    graphml = "graphml"
    json = "json"


def trail(
    ctx: typer.Context,
    epc: str = typer.Argument(..., help="The unit: EPC URN, Digital Link, or any scanned form."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """A unit's full trail: every event that concerned it (also through its case or pallet) and its alerts."""
    from flow_graph import graph as flow

    with state(ctx).session() as session:
        found = TrailRead.model_validate(flow.unit_trail(session=session, epc=epc))
    if fmt is Format.json:
        print_json(found.model_dump(mode="json"))
        return
    lang = terminal_language()
    origin = wording(_WORDS, "issued" if found.issued else "not_issued", lang)
    out_console.print(_styled(wording(_WORDS, "unit", lang, epc=found.epc, status=found.status or "?",
                                      holder=found.holder or "?", origin=origin), found.epc, "bold"))  # fmt: skip
    table = Table("time (UTC)", "step", "at", "from → to", "via", "responsible", "event")
    for s in found.steps:
        route = f"{s.source or '?'} → {s.destination}" if s.destination else ""
        step = f"[strike]{s.biz_step or s.event_type}[/] (retracted)" if s.retracted else (s.biz_step or s.event_type)
        table.add_row(f"{s.time:%Y-%m-%d %H:%M}", step, s.location or "?", route, s.via or "",
                      s.responsible_distributor or "", s.event_id)  # fmt: skip
    out_console.print(table)
    for a in found.alerts:
        out_console.print(_styled(wording(_WORDS, "alert", lang, kind=a.kind, party=a.party or "?", status=a.status,
                                          detail=a.detail), str(a.kind), "red"))  # fmt: skip


@app.command("leaks")
def leaks(
    ctx: typer.Context,
    distributor: str = typer.Argument(..., help="Distributor (master-data id)."),
    since: datetime | None = typer.Option(None),
    until: datetime | None = typer.Option(None),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Where a distributor's goods surfaced outside its channel, the paths they took, the parties in between."""
    from flow_graph import graph as flow

    with state(ctx).session() as session:
        report = LeakReportRead.model_validate(
            flow.leak_report(session=session, distributor=distributor, since=since, until=until)
        )
    if fmt is Format.json:
        print_json(report.model_dump(mode="json"))
        return
    lang = terminal_language()
    said = wording(_WORDS, "leaks", lang, distributor=distributor, diverted=grouped(report.diverted_units, lang),
                   alerts=grouped(report.alerts, lang))  # fmt: skip
    out_console.print(_styled(said, distributor, "bold"))
    for title, rows in (("territory", report.by_territory), ("place", report.by_place),
                        ("in between", report.intermediaries)):  # fmt: skip
        table = Table(title, "units")
        for name, n in rows:
            table.add_row(name, str(n))
        out_console.print(table)
    paths = Table("path", "units")
    for path, n in report.paths:
        paths.add_row(" → ".join(path), str(n))
    out_console.print(paths)


@app.command("top-leaks")
def top_leaks(
    ctx: typer.Context,
    limit: int = typer.Option(10),
    since: datetime | None = typer.Option(None),
    until: datetime | None = typer.Option(None),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json"),
) -> None:
    """Distributors ranked by diverted units across the network."""
    from flow_graph import graph as flow

    with state(ctx).session() as session:
        rows = [LeakSummaryRead.model_validate(r) for r in flow.top_leaks(session=session, limit=limit, since=since,
                                                                          until=until)]  # fmt: skip
    if fmt is Format.json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("distributor", "diverted units", "alerts", "where they surfaced")
    for r in rows:
        table.add_row(r.distributor, str(r.diverted_units), str(r.alerts),
                      ", ".join(f"{t} ({n})" for t, n in r.territories))  # fmt: skip
    out_console.print(table)


@app.command("export")
def export(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="File to write."),
    fmt: GraphFormat = typer.Option(GraphFormat.graphml, "--format", help="graphml or json (node-link)."),
    since: datetime | None = typer.Option(None),
    until: datetime | None = typer.Option(None),
    gtin: str | None = typer.Option(None, help="Only this product."),
) -> None:
    """Export the party graph: GraphML for Gephi / yEd, or node-link JSON for a browser graph view."""
    from flow_graph import graph as flow

    lang = terminal_language()
    with state(ctx).session() as session:
        if fmt is GraphFormat.json:
            document = flow.graph_document(session=session, since=since, until=until, gtin=gtin)
            out.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
            summary = wording(_WORDS, "graph", lang, parties=grouped(len(document["nodes"]), lang),
                              lanes=grouped(len(document["links"]), lang), units=grouped(document["units"], lang))
        else:
            out.write_bytes(flow.graphml_document(session=session, since=since, until=until, gtin=gtin))
            summary = "GraphML"
    err_console.print(wording(_WORDS, "wrote", lang, summary=summary, out=out), highlight=False, markup=False)
