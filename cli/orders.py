"""``traceability orders``: place an order for a member, see where it went and why, answer for a store, deliver,
reassign, cancel, and ``tick``: what the worker does up to a given time. The CLI is the brand's (the call centre): it
acts with the admin's rights, and names the store it answers for. Output is JSON; times are ISO 8601 with an offset.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import typer
from rich.table import Table

from cli.context import out_console, print_json, state, terminal_language, usage_error
from codes.service import key_store
from members.service import hash_phone
from orders import service
from orders.worker import JOBS
from rebates.policy import OrdersPolicy, load_policy
from traceability.auth.service import Principal
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Role
from traceability.privacy import member_pepper
from traceability.settings import Settings
from traceability.worker import run_due

__all__ = ["app"]

app = typer.Typer(help="O2O orders: place, route, answer, deliver, and the one-hour rule.", no_args_is_help=True)

_BRAND = Principal(role=Role.admin, party_id="BRAND")
"""The command line is run by the brand's call centre."""

_WORDS: Catalogue = messages("cli.orders")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""
_AT = typer.Option(None, "--at", help="The time it happens, ISO 8601 with an offset (default: now).")
_STORE = typer.Option(..., "--store", help="The store that answers (master-data id).")


class Format(StrEnum):
    table = "table"
    json = "json"


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise usage_error(
            f"{text!r} is not a time; write ISO 8601 with an offset, e.g. 2026-11-20T10:00:00+08:00"
        ) from None
    if moment.tzinfo is None:
        raise usage_error(f"{text!r} has no offset; write e.g. 2026-11-20T10:00:00+08:00 or …Z")
    return moment


def _policy(settings: Settings) -> OrdersPolicy:
    return load_policy(settings.policy_file).orders


@app.command("place")
def place(
    ctx: typer.Context,
    member: str = typer.Option(..., "--member", help="The member's phone (hashed, never stored)."),
    lat: float = typer.Option(..., "--lat", min=-90, max=90, help="Delivery latitude (WGS 84)."),
    lon: float = typer.Option(..., "--lon", min=-180, max=180, help="Delivery longitude (WGS 84)."),
    gtin: list[str] = typer.Option(..., "--gtin", help="A product ordered (repeat with --quantity for more)."),
    quantity: list[int] = typer.Option(..., "--quantity", help="How many of the --gtin at the same place."),
    channel: str = typer.Option("call_centre", "--channel", help="call_centre, web or app."),
    address: str = typer.Option("", "--address", help="The delivery address, as said."),
    at: str | None = _AT,
) -> None:
    """Take an order for a member; prints its id and the store it was offered to (and why)."""
    if len(gtin) != len(quantity):
        raise usage_error("give one --quantity for each --gtin")
    st = state(ctx)
    hashed = hash_phone(phone=member, pepper=member_pepper(st.settings.key_dir))
    with st.session() as session:
        view = service.place(
            session=session, principal=_BRAND, member_hash=hashed, lat=lat, lon=lon,
            lines=list(zip(gtin, quantity, strict=True)), policy=_policy(st.settings), channel=channel,
            address=address, now=_time(at),
        )  # fmt: skip
    print_json(view)


@app.command("list")
def list_orders(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="Only orders in this status (offered, unrouted, …)."),
    store: str | None = typer.Option(None, "--store", help="Only orders now at this store."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
) -> None:
    """List orders, newest first."""
    with state(ctx).session() as session:
        views = service.list_orders(session=session, principal=_BRAND, status=status, store_id=store, limit=limit)
    if fmt is Format.json:
        print_json(views)
        return
    table = Table("id", "status", "store", "why", "deadline", "lines")
    for v in views:
        lines = ", ".join(f"{ln['quantity']} × {ln['gtin']}" for ln in v["lines"])
        table.add_row(str(v["id"]), v["status"], v["store"] or "", v["reason"] or "", v["deadline"] or "", lines)
    out_console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., min=1, max=2**31 - 1, help="The order's id."),
    fmt: Format = typer.Option(Format.json, "--format", help="json (default) or table."),
) -> None:
    """One order: status, store, why, and its history (each step with status, store, at, reason)."""
    with state(ctx).session() as session:
        view = service.get_order(session=session, principal=_BRAND, order_id=order_id)
    if fmt is Format.json:
        print_json(view)
        return
    out_console.print(wording(_WORDS, "order", terminal_language(), order_id=view["id"], status=view["status"],
                              store=view["store"] or "-", reason=view["reason"] or "-"), markup=False)  # fmt: skip
    table = Table("#", "status", "store", "at", "by", "reason")
    for s in view["history"]:
        table.add_row(str(s["seq"]), s["status"], s["store"] or "", s["at"], s["by"], s["message"] or s["reason"])
    out_console.print(table)


@app.command("tick")
def tick(
    ctx: typer.Context, at: str = typer.Option(..., "--at", help="Run as at this time (ISO 8601, offset).")
) -> None:
    """Do what the worker does up to TIME, once: lapse the offers due and reassign their orders; prints what it did."""
    st = state(ctx)
    done = run_due(st.engine, JOBS, settings=st.settings, now=_time(at))
    lapsed = [item for d in done for item in d.get("lapsed", [])]
    print_json({"at": at, "lapsed": lapsed, "jobs": [d["job"] for d in done]})


def _answer(ctx: typer.Context, action: str, order_id: int, store: str, at: str | None, note: str = "") -> None:
    st = state(ctx)
    with st.session() as session:
        kwargs = {"session": session, "principal": _BRAND, "order_id": order_id, "policy": _policy(st.settings),
                  "store_id": store, "now": _time(at)}  # fmt: skip
        if action == "accept":
            view = service.accept(**kwargs)  # type: ignore[arg-type]
        elif action == "decline":
            view = service.decline(**kwargs, note=note)  # type: ignore[arg-type]
        else:
            view = service.out_for_delivery(**kwargs)  # type: ignore[arg-type]
    print_json(view)


@app.command("accept")
def accept(
    ctx: typer.Context, order_id: int = typer.Argument(..., min=1, max=2**31 - 1), store: str = _STORE,
    at: str | None = _AT,
) -> None:  # fmt: skip
    """Accept an order's offer for a store (before its deadline)."""
    _answer(ctx, "accept", order_id, store, at)


@app.command("decline")
def decline(
    ctx: typer.Context, order_id: int = typer.Argument(..., min=1, max=2**31 - 1), store: str = _STORE,
    note: str = typer.Option("", "--note"), at: str | None = _AT,
) -> None:  # fmt: skip
    """Decline an order's offer for a store: it goes to the next store at once."""
    _answer(ctx, "decline", order_id, store, at, note)


@app.command("out-for-delivery")
def out_for_delivery(
    ctx: typer.Context, order_id: int = typer.Argument(..., min=1, max=2**31 - 1), store: str = _STORE,
    at: str | None = _AT,
) -> None:  # fmt: skip
    """The accepting store sets out with the order."""
    _answer(ctx, "out", order_id, store, at)


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., min=1, max=2**31 - 1),
    store: str = _STORE,
    code: list[str] = typer.Option(..., "--code", help="A delivered unit's scanned code (repeat for each)."),
    at: str | None = _AT,
) -> None:
    """Deliver an accepted order: the units become the store's sale, with the order as its bizTransaction."""
    st = state(ctx)
    with st.session() as session:
        view = service.deliver(
            session=session, principal=_BRAND, order_id=order_id, codes=code, policy=_policy(st.settings),
            store_id=store, now=_time(at), company_prefix_length=st.settings.company_prefix_length,
            key_files=key_store(st.settings),
        )  # fmt: skip
    print_json(view)


@app.command("reassign")
def reassign(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., min=1, max=2**31 - 1),
    store: str | None = typer.Option(None, "--store", help="The store to offer it to (default: the next one)."),
    note: str = typer.Option("", "--note"),
    at: str | None = _AT,
) -> None:
    """Take an order from its store and offer it to another."""
    st = state(ctx)
    with st.session() as session:
        view = service.reassign(session=session, principal=_BRAND, order_id=order_id, policy=_policy(st.settings),
                                store_id=store, note=note, now=_time(at))  # fmt: skip
    print_json(view)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    order_id: int = typer.Argument(..., min=1, max=2**31 - 1),
    note: str = typer.Option("", "--note"),
    at: str | None = _AT,
) -> None:
    """Cancel an order not yet delivered; its store is told."""
    st = state(ctx)
    with st.session() as session:
        view = service.cancel(session=session, principal=_BRAND, order_id=order_id, policy=_policy(st.settings),
                              note=note, now=_time(at))  # fmt: skip
    print_json(view)


@app.command("lapses")
def lapses(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="Offers made from (ISO 8601 with an offset)."),
    until: str | None = typer.Option(None, "--until", help="Offers made before."),
) -> None:
    """Per store, how its offers ended: the stores that let most lapse first."""
    with state(ctx).session() as session:
        rows = service.lapse_report(session=session, principal=_BRAND, since=_time(since), until=_time(until))
    print_json(rows)
