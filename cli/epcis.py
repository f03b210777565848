"""``traceability epcis``: capture documents, query and export the store, verify the hash chain."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from cli.context import err_console, print_json, state
from ledger import store
from scanning import epcis
from scanning.errors import InvalidDocument
from traceability.errors import Problem

app = typer.Typer(help="GS1 EPCIS 2.0 event store.", no_args_is_help=True)


@app.command("capture")
def capture(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="EPCISDocument JSON / JSON-LD files."),
    proceed: bool = typer.Option(False, help="Store the valid events and report the others (default: all or none)."),
    party: str | None = typer.Option(None, help="Party that sends the document."),
) -> None:
    """Capture EPCIS documents; each file is one all-or-nothing capture unless --proceed."""
    st = state(ctx)
    results = []
    for path in files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidDocument(f"{path} is not JSON: {exc}", [Problem("", "not JSON")]) from None
        with st.session() as session:
            result = epcis.capture_document(
                session=session, document=document, proceed=proceed, party_id=party,
                schema_path=st.settings.epcis_schema,
            )  # fmt: skip
        summary = result.as_dict()
        summary["file"] = str(path)
        results.append(summary)
        err_console.print(
            f"{path}: {len(result.stored)} stored, {len(result.duplicates)} already present, "
            f"{len(result.refused)} refused", highlight=False,
        )  # fmt: skip
    print_json(results if len(results) > 1 else results[0])


@app.command("events")
def events(
    ctx: typer.Context,
    biz_step: list[str] = typer.Option(None, "--biz-step"),
    epc: list[str] = typer.Option(None, "--epc", help="Match any EPC (URN or Digital Link)."),
    limit: int = typer.Option(100),
) -> None:
    """Query the store; prints an EPCIS event list as JSON."""
    with state(ctx).session() as session:
        found, _ = epcis.query_events(
            session=session, query=epcis.EventQuery(biz_step=biz_step or None, match_epc=epc or None, limit=limit)
        )
    print_json(found)


@app.command("export")
def export(ctx: typer.Context, out: Path | None = typer.Option(None, "--out")) -> None:
    """Export the whole store as one EPCISDocument."""
    with state(ctx).session() as session:
        document = epcis.export_document(session=session)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {len(document['epcisBody']['eventList'])} events to {out}")


@app.command("verify-chain")
def verify_chain(ctx: typer.Context) -> None:
    """Prove that no stored event was altered or removed (walks the hash chain)."""
    with state(ctx).session() as session:
        report = store.verify_chain(session=session)
    if report.ok:
        typer.echo(f"chain intact: {report.events} events")
        return
    for problem in report.problems:
        err_console.print(f"[red]{problem}[/]", highlight=False)
    raise typer.Exit(1)
