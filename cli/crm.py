"""``traceability members`` — the marketing commands: campaigns, activity points, rewards, the yearly top-10,
prospects, the return of campaigns and sources, and their CSV / XLSX exports (``crm``).

Mounted on the ``members`` group (:func:`mount`). The CLI is the brand's: it acts with the admin's rights."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.context import out_console, output_file, print_json, state, usage_error
from crm import campaigns, exports, points, prospects, segments
from members.service import hash_phone
from rebates.policy import load_policy
from traceability.auth.service import Principal
from traceability.models import Role
from traceability.privacy import member_pepper

__all__ = ["mount"]

_POLICY = typer.Option(
    None, "--policy", exists=True, dir_okay=False,
    help="Policy file (TOML); default $TRACEABILITY_POLICY_FILE (the settings), else the defaults.",
)  # fmt: skip
_LANG = typer.Option("zh-CN", "--lang", help="Language of messages and export headers: zh-CN or en.")
_BRAND = Principal(role=Role.admin, party_id="BRAND")
DAY = ["%Y-%m-%d"]

campaigns_app = typer.Typer(help="Campaigns: extra points on top of the regular rule.", no_args_is_help=True)
rewards_app = typer.Typer(help="The reward catalogue: gifts with a points price.", no_args_is_help=True)
prospects_app = typer.Typer(help="Prospects stores hand in, against the monthly target.", no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


class By(StrEnum):
    campaign = "campaign"
    source = "source"


class FileFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class Kind(StrEnum):
    segments = "segments"
    top10 = "top10"
    return_campaigns = "return-campaigns"
    return_sources = "return-sources"
    prospects = "prospects"


def _d(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> None:
    table = Table(*columns)
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in columns))
    out_console.print(table)


@campaigns_app.command("create")
def create(
    ctx: typer.Context,
    code: str = typer.Option(..., "--code", help="Letters, digits, - and _; members it brings in: campaign:<code>."),
    name: str = typer.Option(..., "--name"),
    starts_on: datetime = typer.Option(..., "--from", formats=DAY, help="First day (policy time zone)."),
    ends_on: datetime = typer.Option(..., "--to", formats=DAY, help="Last day, inclusive."),
    gtin: list[str] = typer.Option([], "--gtin", help="A product (repeat; none: every product)."),
    store: list[str] = typer.Option([], "--store", help="A store (repeat)."),
    territory: list[str] = typer.Option([], "--territory", help="A territory, ancestor-or-self of stores' (repeat)."),
    multiplier: str = typer.Option("1", "--multiplier", help="Regular points x this (two decimals at most)."),
    bonus: int = typer.Option(0, "--bonus", help="Extra points per unit."),
    lang: str = _LANG,
    policy: Path | None = _POLICY,
) -> None:
    """Create a campaign."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        print_json(campaigns.create_campaign(
            session=session, principal=_BRAND, policy=rules, code=code, name=name, starts_on=starts_on.date(),
            ends_on=ends_on.date(), gtins=gtin, stores=store, territories=territory, multiplier=multiplier,
            bonus=bonus, lang=lang,
        ))  # fmt: skip


@campaigns_app.command("list")
def list_(ctx: typer.Context, fmt: Format = typer.Option(Format.table, "--format"),
          policy: Path | None = _POLICY) -> None:  # fmt: skip
    """Every campaign, newest first."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        rows = campaigns.list_campaigns(session=session, principal=_BRAND, policy=rules)
    if fmt is Format.json:
        print_json(rows)
        return
    _table(rows, ("code", "name", "starts_on", "ends_on", "extra_per_unit", "status"))


@campaigns_app.command("show")
def show(ctx: typer.Context, code: str = typer.Argument(...), lang: str = _LANG,
         policy: Path | None = _POLICY) -> None:  # fmt: skip
    """One campaign, with its return up to today."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        view = campaigns.show_campaign(session=session, principal=_BRAND, code=code, policy=rules, lang=lang)
        ret = campaigns.campaign_return(session=session, principal=_BRAND, policy=rules,
                                        as_of=campaigns._today(rules), code=code, lang=lang)  # fmt: skip
    print_json(view | {"return": ret[0] if ret else None})


@campaigns_app.command("end")
def end(ctx: typer.Context, code: str = typer.Argument(...),
        on: datetime | None = typer.Option(None, "--on", formats=DAY, help="Its last day (default today)."),
        lang: str = _LANG, policy: Path | None = _POLICY) -> None:  # fmt: skip
    """End a campaign after a day; sales up to then keep their extras."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        print_json(campaigns.end_campaign(session=session, principal=_BRAND, code=code, policy=rules, on=_d(on),
                                          lang=lang))  # fmt: skip


def grant(
    ctx: typer.Context,
    phone: str = typer.Option(..., "--phone", help="The member's phone (hashed, never stored)."),
    points_: int = typer.Option(..., "--points", help="Whole points, 1 to 100000."),
    reason: str = typer.Option(..., "--reason", help="What she took part in."),
    campaign: str | None = typer.Option(None, "--campaign", help="The campaign the activity belongs to."),
    by: str | None = typer.Option(None, "--by", help="Who granted them."),
    lang: str = _LANG,
) -> None:
    """Grant activity points to a member, with the reason and who granted them."""
    st = state(ctx)
    hashed = hash_phone(phone=phone, pepper=member_pepper(st.settings.key_dir), lang=lang)
    with st.session() as session:
        print_json(points.grant_points(session=session, principal=_BRAND, member_hash=hashed, points=points_,
                                       reason=reason, campaign_code=campaign, by=by or "cli", lang=lang))  # fmt: skip


@rewards_app.command("add")
def add_reward(
    ctx: typer.Context,
    code: str = typer.Option(..., "--code"),
    name: str = typer.Option(..., "--name"),
    price: int = typer.Option(..., "--points", help="Its price in points."),
    inactive: bool = typer.Option(False, "--inactive", help="Keep it in the catalogue but not offered."),
    lang: str = _LANG,
) -> None:
    """Add a reward to the catalogue, or change one."""
    with state(ctx).session() as session:
        print_json(points.upsert_reward(session=session, principal=_BRAND, code=code, name=name, points_price=price,
                                        active=not inactive, lang=lang))  # fmt: skip


@rewards_app.command("list")
def list_rewards(ctx: typer.Context, fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The catalogue, cheapest first."""
    with state(ctx).session() as session:
        rows = points.list_rewards(session=session)
    if fmt is Format.json:
        print_json(rows)
        return
    _table(rows, ("code", "name", "points_price", "active"))


@rewards_app.command("redeem")
def redeem_reward(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="The reward's code."),
    phone: str = typer.Option(..., "--phone"),
    store: str = typer.Option(..., "--store", help="The store giving it."),
    lang: str = _LANG,
    policy: Path | None = _POLICY,
) -> None:
    """Give a member a reward for its points; refused when she has too few."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    hashed = hash_phone(phone=phone, pepper=member_pepper(st.settings.key_dir), lang=lang)
    with st.session() as session:
        print_json(points.redeem_reward(session=session, principal=_BRAND, member_hash=hashed, reward_code=code,
                                        store_id=store, policy=rules, by="cli", lang=lang))  # fmt: skip


def top10(
    ctx: typer.Context,
    year: int = typer.Option(..., "--year", min=2000, max=2200),
    store: str | None = typer.Option(None, "--store", help="Among one store's members."),
    fmt: Format = typer.Option(Format.json, "--format"),
    policy: Path | None = _POLICY,
) -> None:
    """The ten members whose points grew most in the year (all sources: sales, campaigns, grants)."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        rows = points.top_members(session=session, principal=_BRAND, year=year, policy=rules, store_id=store)
    if fmt is Format.json:
        print_json(rows)
        return
    _table(rows, ("rank", "member", "store", "name", "regular", "campaign", "granted", "earned"))


@prospects_app.command("add")
def add_prospects(
    ctx: typer.Context,
    store: str = typer.Option(..., "--store", help="The store handing them in."),
    phone: list[str] = typer.Option(..., "--phone", help="A prospect's phone (repeat; hashed, never stored)."),
    lang: str = _LANG,
    policy: Path | None = _POLICY,
) -> None:
    """Hand in prospects for a store: the first store to name one keeps the credit."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    pepper = member_pepper(st.settings.key_dir)
    hashes: list[str | None] = []
    for p in phone:
        try:
            hashes.append(hash_phone(phone=p, pepper=pepper, lang=lang))
        except Exception:  # noqa: BLE001 - a bad phone is one outcome, not the end of the list
            hashes.append(None)
    with st.session() as session:
        print_json(prospects.hand_in(session=session, principal=_BRAND, phone_hashes=hashes, policy=rules,
                                     store_id=store, lang=lang))  # fmt: skip


@prospects_app.command("report")
def prospect_report(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help="YYYY-MM (policy time zone)."),
    store: str | None = typer.Option(None, "--store"),
    fmt: Format = typer.Option(Format.json, "--format"),
    lang: str = _LANG,
    policy: Path | None = _POLICY,
) -> None:
    """Per store: handed in against the target, converted, and the units and value credited."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        rows = prospects.prospect_report(session=session, principal=_BRAND, month=month, policy=rules,
                                         store_id=store, lang=lang)  # fmt: skip
    if fmt is Format.json:
        print_json(rows)
        return
    _table(rows, ("store", "name", "handed_in", "target", "converted", "credited_units", "credited_value"))


def return_(
    ctx: typer.Context,
    by: By = typer.Option(By.campaign, "--by", help="campaign or source."),
    as_of: datetime = typer.Option(..., "--as-of", formats=DAY, help="Up to the end of this day."),
    start: datetime | None = typer.Option(None, "--from", formats=DAY, help="From this day (by source)."),
    campaign: str | None = typer.Option(None, "--campaign", help="One campaign (by campaign)."),
    fmt: Format = typer.Option(Format.json, "--format"),
    lang: str = _LANG,
    policy: Path | None = _POLICY,
) -> None:
    """The return of each campaign or each member source: members gained, their sales, the points cost."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        if by is By.campaign:
            rows = campaigns.campaign_return(session=session, principal=_BRAND, policy=rules, as_of=as_of.date(),
                                             code=campaign, lang=lang)  # fmt: skip
        else:
            rows = campaigns.source_return(session=session, principal=_BRAND, policy=rules, as_of=as_of.date(),
                                           start=_d(start), lang=lang)  # fmt: skip
    if fmt is Format.json:
        print_json(rows)
        return
    kind = "return-campaigns" if by is By.campaign else "return-sources"
    _table(rows, exports.COLUMNS[kind])


def export(
    ctx: typer.Context,
    kind: Kind = typer.Argument(..., help="segments, top10, return-campaigns, return-sources or prospects."),
    out: Path = typer.Option(..., "--out", help="The file to write."),
    fmt: FileFormat = typer.Option(FileFormat.csv, "--format", help="csv or xlsx."),
    as_of: datetime | None = typer.Option(None, "--as-of", formats=DAY, help="segments, return-*: the day."),
    year: int | None = typer.Option(None, "--year", help="top10: the year."),
    month: str | None = typer.Option(None, "--month", help="prospects: YYYY-MM."),
    store: str | None = typer.Option(None, "--store", help="segments, top10, prospects: one store."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
    lang: str = _LANG,
    policy: Path | None = _POLICY,
) -> None:
    """Write a marketing figure as CSV or XLSX, headers in --lang."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    needs = {"segments": as_of, "return-campaigns": as_of, "return-sources": as_of, "top10": year, "prospects": month}
    if needs[kind.value] is None:
        flag = {"top10": "--year", "prospects": "--month"}.get(kind.value, "--as-of")
        raise usage_error(f"{kind.value} needs {flag}")
    with st.session() as session, output_file(out, replace=force) as part:
        day = _d(as_of)
        rows: Iterable[Mapping[str, Any]]
        if kind is Kind.segments:
            assert day is not None
            rows = segments.iter_segments(session=session, principal=_BRAND, as_of=day, policy=rules,
                                          store_id=store, lang=lang)  # fmt: skip
        elif kind is Kind.top10:
            assert year is not None
            rows = points.top_members(session=session, principal=_BRAND, year=year, policy=rules, store_id=store)
        elif kind is Kind.prospects:
            assert month is not None
            rows = prospects.prospect_report(session=session, principal=_BRAND, month=month, policy=rules,
                                             store_id=store, lang=lang)  # fmt: skip
        else:
            assert day is not None
            fn = campaigns.campaign_return if kind is Kind.return_campaigns else campaigns.source_return
            rows = fn(session=session, principal=_BRAND, policy=rules, as_of=day, lang=lang)
        part.write_bytes(exports.render(kind.value, rows, fmt.value, lang))
    print_json({"kind": kind.value, "format": fmt.value, "out": str(out)})


def mount(app: typer.Typer) -> None:
    """Add the marketing commands to the ``members`` group."""
    app.add_typer(campaigns_app, name="campaigns")
    app.add_typer(rewards_app, name="rewards")
    app.add_typer(prospects_app, name="prospects")
    app.command("grant")(grant)
    app.command("top10")(top10)
    app.command("return")(return_)
    app.command("export")(export)
