"""``traceability apikeys``: issue, list and revoke API keys."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.context import out_console, state, terminal_language
from traceability.auth.service import create_api_key, list_api_keys, revoke_api_key
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Role

app = typer.Typer(help="API keys bound to a party and a role.", no_args_is_help=True)

_WORDS: Catalogue = messages("cli.apikeys")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""


@app.command("create")
def create(
    ctx: typer.Context,
    role: Role = typer.Option(..., help="What the key may do."),
    party: str = typer.Option(..., help="Master-data id of the party the key acts for."),
    name: str = typer.Option("", help="A label to recognise the key by."),
) -> None:
    """Issue a key and print its token (shown once, stored only as a hash)."""
    with state(ctx).session() as session:
        issued = create_api_key(session=session, role=role, party_id=party, name=name)
    typer.echo(issued.token)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List keys (never their secrets)."""
    table = Table("id", "prefix", "role", "party", "name", "revoked")
    with state(ctx).session() as session:
        for k in list_api_keys(session=session):
            table.add_row(str(k.id), k.prefix, k.role, k.party_id, k.name, str(k.revoked_at or ""))
    out_console.print(table)


@app.command("revoke")
def revoke(ctx: typer.Context, key_id: int) -> None:
    """Revoke a key."""
    with state(ctx).session() as session:
        revoke_api_key(session=session, key_id=key_id)
    typer.echo(wording(_WORDS, "revoked", terminal_language(), key_id=key_id))
