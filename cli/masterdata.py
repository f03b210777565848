"""``traceability masterdata``: import the master-data document."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.text import Text

from cli.context import err_console, print_json, state, terminal_language
from traceability.errors import InvalidInput
from traceability.i18n import Catalogue, messages, wording
from traceability.masterdata.service import import_masterdata

app = typer.Typer(help="Territories, parties and products.", no_args_is_help=True)

_WORDS: Catalogue = messages("cli.masterdata")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""


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
    err_console.print(Text.assemble((wording(_WORDS, "imported", terminal_language()), "green"), " ", str(file)))
