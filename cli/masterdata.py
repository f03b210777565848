"""``traceability masterdata``: import the master-data document."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.context import err_console, print_json, state
from traceability.errors import InvalidInput
from traceability.masterdata.service import import_masterdata

app = typer.Typer(help="Territories, parties and products.", no_args_is_help=True)


@app.command("import")
def import_(ctx: typer.Context, file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Import a master-data JSON document (idempotent; an invalid document is rejected whole)."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{file} is not valid JSON: {exc}") from None
    with state(ctx).session() as session:
        summary = import_masterdata(session=session, raw=raw)
    print_json(summary.model_dump())
    err_console.print(f"[green]imported[/] {file}")
