"""``traceability members``: the member registry (register, list, import a member list), a member's points and
six-get-one standing, redeeming a free unit, and the members' segments and tiers (``crm``).
The CLI is the brand's: it acts with the admin's rights."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from cli import crm as crm_commands
from cli.context import err_console, grouped, out_console, print_json, state, terminal_language
from crm.segments import iter_segments, segment_summary
from members import service
from rebates.policy import load_policy
from rebates.service import redeem_free_item
from traceability.auth.service import Principal
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Role
from traceability.models.base import utcnow
from traceability.privacy import member_hash, member_pepper

app = typer.Typer(help="Members: the registry, points and free units (six-get-one).", no_args_is_help=True)

_POLICY = typer.Option(
    None, "--policy", exists=True, dir_okay=False,
    help="Policy file (TOML); default $TRACEABILITY_POLICY_FILE (the settings), else the defaults.",
)  # fmt: skip
_BRAND = Principal(role=Role.admin, party_id="BRAND")
"""The command line is run by the brand: any store, every member (the party is not read for an admin)."""

_WORDS: Catalogue = messages("cli.members")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""


class Format(StrEnum):
    table = "table"
    json = "json"


@app.command("register")
def register(
    ctx: typer.Context,
    store: str = typer.Option(..., "--store", help="The member's home store (master-data id)."),
    phone: str = typer.Option(..., "--phone", help="The member's phone (hashed, never stored)."),
    name: str | None = typer.Option(None, "--name", help="Her name (at most 50 characters)."),
    baby_birth_date: datetime | None = typer.Option(
        None, "--baby-birth-date", formats=["%Y-%m-%d"], help="The baby's birth date, YYYY-MM-DD."
    ),
    baby_stage: int | None = typer.Option(None, "--baby-stage", help="The formula stage she buys, 1 to 4."),
    source: str | None = typer.Option(None, "--source", help="How she joined (default cli), e.g. campaign:SPRING."),
    consent: bool = typer.Option(False, "--consent", help="She consents now to the brand keeping her data."),
) -> None:
    """Register a member at a store; a member already registered keeps her home store (created: false)."""
    st = state(ctx)
    hashed = service.hash_phone(phone=phone, pepper=member_pepper(st.settings.key_dir))
    with st.session() as session:
        done = service.register(
            session=session, principal=_BRAND, phone_hash=hashed, store_id=store, name=name,
            baby_birth_date=baby_birth_date.date() if baby_birth_date else None, baby_stage=baby_stage,
            source=source or "cli", consent_at=utcnow() if consent else None,
        )  # fmt: skip
        print_json(done.as_dict())


@app.command("list")
def list_members(
    ctx: typer.Context,
    store: str | None = typer.Option(None, "--store", help="One store's members (default: every store's)."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
    limit: int = typer.Option(50, "--limit", min=1, max=100_000, help="At most this many, newest first."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many first."),
) -> None:
    """List members, newest first."""
    with state(ctx).session() as session:
        page = service.list_members(session=session, principal=_BRAND, store_id=store, limit=limit, offset=offset)
    if fmt is Format.json:
        print_json(page.items)
        return
    table = Table("id", "home store", "name", "baby born", "stage", "source", "consent", "created")
    for m in page.items:
        table.add_row(str(m["id"]), m["home_store"], m["name"] or "", m["baby_birth_date"] or "",
                      str(m["baby_stage"] or ""), m["source"], (m["consent_at"] or "")[:16],
                      m["created_at"][:16])  # fmt: skip
    out_console.print(table)
    lang = terminal_language()
    err_console.print(wording(_WORDS, "listed", lang, shown=grouped(len(page.items), lang),
                              total=grouped(page.total, lang)), highlight=False, markup=False)  # fmt: skip


@app.command("import")
def import_members(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="The member list (CSV, UTF-8)."),
    store: str | None = typer.Option(None, "--store", help="Store of the rows that name none (a store column)."),
    policy: Path | None = _POLICY,
) -> None:
    """Import a member list: every row checked first, every bad row reported, nothing written unless all are good."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    data = file.read_bytes()
    with st.session() as session:
        result = service.import_members(
            session=session, principal=_BRAND, data=data, pepper=member_pepper(st.settings.key_dir), store_id=store,
            tz=ZoneInfo(rules.timezone),
        )  # fmt: skip
    print_json(result.as_dict())


@app.command("points")
def points(
    ctx: typer.Context,
    phone: str = typer.Option(..., "--phone", help="The member's phone (hashed, never stored)."),
    policy: Path | None = _POLICY,
) -> None:
    """Points balance, six-get-one standing, home store and history."""
    st = state(ctx)
    hashed = member_hash(phone, member_pepper(st.settings.key_dir))
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        print_json(service.member_points(session=session, phone_hash=hashed, policy=rules))


@app.command("redeem")
def redeem(
    ctx: typer.Context,
    phone: str = typer.Option(..., "--phone"),
    store: str = typer.Option(..., "--store"),
    unit: str | None = typer.Option(None, "--unit", help="The free unit's code, if scanned."),
    policy: Path | None = _POLICY,
) -> None:
    """Give the free unit a member earned, and record it."""
    st = state(ctx)
    hashed = member_hash(phone, member_pepper(st.settings.key_dir))
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        row = redeem_free_item(session=session, member_hash=hashed, store_id=store,
                               policy=rules, principal=Principal(role=Role.admin, party_id=store),
                               unit=unit, company_prefix_length=st.settings.company_prefix_length)  # fmt: skip
        print_json({"id": row.id, "store": row.store_id, "unit": row.unit_key, "redeemed_at": row.redeemed_at})


@app.command("segments")
def segments(
    ctx: typer.Context,
    as_of: datetime = typer.Option(
        ..., "--as-of", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="The day, YYYY-MM-DD (policy zone)."
    ),
    store: str | None = typer.Option(None, "--store", help="One store's members (default: every store's)."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
    summary: bool = typer.Option(False, "--summary", help="Members per tier and active ones, by store, instead."),
    policy: Path | None = _POLICY,
) -> None:
    """Each member's tier, activity, recency, frequency and value, from the sale facts (streamed, in SQL)."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        if summary:
            print_json(segment_summary(session=session, principal=_BRAND, as_of=as_of.date(), policy=rules,
                                       store_id=store).as_dict())  # fmt: skip
            return
        rows = iter_segments(session=session, principal=_BRAND, as_of=as_of.date(), policy=rules, store_id=store)
        if fmt is Format.json:
            # one member a line inside the array: a million members never sit in memory at once
            sep = "[\n  "
            for row in rows:
                sys.stdout.write(sep + json.dumps(row, ensure_ascii=False))
                sep = ",\n  "
            sys.stdout.write("[]\n" if sep.startswith("[") else "\n]\n")
            return
        table = Table("member", "store", "tier", "active", "recency", "frequency", "units", "value", "stage")
        for r in rows:
            table.add_row(str(r["member"]), r["store"], r["tier"], "yes" if r["active"] else "no",
                          "" if r["recency_days"] is None else str(r["recency_days"]), str(r["frequency"]),
                          str(r["units"]), r["monetary"], str(r["baby_stage"] or ""))  # fmt: skip
        out_console.print(table)


crm_commands.mount(app)  # campaigns, grant, rewards, top10, prospects, return, export (cli/crm.py)
