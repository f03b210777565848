"""``traceability scan`` and ``traceability shipment``: record scans from the command line (a barcode gun types
into the terminal, or a file of scanned lines, or a photo)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from cli.context import err_console, grouped, print_json, state, terminal_language, usage_error
from codes.service import key_store
from scanning import service
from scanning.service import ScanOutcome, ScanRequest
from traceability.auth.service import Principal
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Role
from traceability.privacy import member_hash, member_pepper

shipment_app = typer.Typer(help="Outbound shipment sessions.", no_args_is_help=True)

_WORDS: Catalogue = messages("cli.scan")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""


def _operator(party: str) -> Principal:
    # The command line is the brand's own operator: it may record for any party it names.
    return Principal(role=Role.admin, party_id=party)


def _report(outcome: ScanOutcome) -> None:
    print_json(outcome.as_dict())
    lang = terminal_language()
    said = wording(_WORDS, "outcome", lang, accepted=grouped(len(outcome.accepted), lang),
                   rejected=grouped(len(outcome.rejected), lang))  # fmt: skip
    err_console.print(said, highlight=False, markup=False)
    for r in outcome.rejected:  # a scanned string is anything a gun typed: never markup
        err_console.print(f"  [red]{escape(r['reason'])}[/]: {escape(r['message'])} ({escape(r['code'][:60])})",
                          highlight=False)  # fmt: skip


def scan(
    ctx: typer.Context,
    codes: list[str] = typer.Argument(None, help="Scanned strings; '-' reads one per line from standard input."),
    party: str = typer.Option(..., help="Scanning party (master-data id)."),
    step: str = typer.Option(..., help="Business step: commissioning, shipping, receiving, retail_selling, …"),
    destination: str | None = typer.Option(None, help="Receiving party of a shipment."),
    image: Path | None = typer.Option(None, exists=True, dir_okay=False, help="Decode the codes on a photo."),
    idempotency_key: str | None = typer.Option(None, help="Makes a retried command safe."),
    member: str | None = typer.Option(None, help="Member's phone number on a sale (stored only as a keyed hash)."),
) -> None:
    """Validate and record scans; rejected codes are kept with their reason. Exits 1 if any was rejected."""
    st = state(ctx)
    items = list(codes or [])
    if items == ["-"]:
        items = [line.strip() for line in sys.stdin.read().split("\n") if line.strip()]
    if image is None and not items:
        raise usage_error("give codes, '-' for standard input, or --image")
    hashed = member_hash(member, member_pepper(st.settings.key_dir)) if member else None
    request = ScanRequest(biz_step=step, codes=items, party_id=party, destination_id=destination, member_hash=hashed)
    with st.session() as session:
        common = {"session": session, "principal": _operator(party), "request": request,
                  "idempotency_key": idempotency_key, "company_prefix_length": st.settings.company_prefix_length,
                  "store": key_store(st.settings)}  # fmt: skip
        if image is not None:
            outcome = service.record_image_scan(image=image.read_bytes(), **common)  # type: ignore[arg-type]
        else:
            outcome = service.record_scans(**common)  # type: ignore[arg-type]
    _report(outcome)
    if outcome.rejected:
        raise typer.Exit(1)


@shipment_app.command("open")
def open_(ctx: typer.Context, party: str = typer.Option(...), destination: str = typer.Option(...)) -> None:
    """Open a shipment; prints its id."""
    with state(ctx).session() as session:
        shipment = service.open_shipment(session=session, principal=_operator(party), destination_id=destination)
    typer.echo(shipment.id)


@shipment_app.command("scan")
def scan_into(
    ctx: typer.Context,
    shipment_id: int,
    codes: list[str] = typer.Argument(..., help="Scanned strings; '-' reads standard input."),
    party: str = typer.Option(...),
) -> None:
    """Scan codes into an open shipment."""
    st = state(ctx)
    items = [line.strip() for line in sys.stdin.read().split("\n") if line.strip()] if codes == ["-"] else codes
    with st.session() as session:
        outcome = service.scan_into_shipment(session=session, principal=_operator(party), shipment_id=shipment_id,
                                             codes=items, company_prefix_length=st.settings.company_prefix_length,
                                             store=key_store(st.settings))  # fmt: skip
    _report(outcome)


@shipment_app.command("close")
def close(
    ctx: typer.Context, shipment_id: int, party: str = typer.Option(...),
    confirm: bool = typer.Option(False, "--confirm", help="Close despite the shipment's warnings (recorded)."),
) -> None:  # fmt: skip
    """Close a shipment: one shipping event with everything scanned into it."""
    with state(ctx).session() as session:
        shipment = service.close_shipment(session=session, principal=_operator(party), shipment_id=shipment_id,
                                          confirm=confirm)  # fmt: skip
    typer.echo(wording(_WORDS, "closed", terminal_language(), shipment_id=shipment_id, event_id=shipment.event_id))
