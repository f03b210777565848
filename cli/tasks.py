"""``traceability tasks``: the clerk's calls — generate a day's tasks (idempotent), list a store's, record an outcome,
and measure whether the calls pay. The CLI is the brand's: it acts with the admin's rights."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from cli.context import err_console, grouped, out_console, print_json, state, terminal_language, usage_error
from crm.tasks import OUTCOMES, generate_tasks, list_tasks, record_outcome, task_effect
from rebates.policy import load_policy
from traceability.auth.service import Principal
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Role

app = typer.Typer(help="Clerk tasks: follow-ups and replenishment calls at each member's home store.",
                  no_args_is_help=True)  # fmt: skip

_POLICY = typer.Option(
    None, "--policy", exists=True, dir_okay=False,
    help="Policy file (TOML); default $TRACEABILITY_POLICY_FILE (the settings), else the defaults.",
)  # fmt: skip
_LANG = typer.Option("zh-CN", "--lang", help="Language of the reasons: zh-CN or en.")
_BRAND = Principal(role=Role.admin, party_id="BRAND")
DAY = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]
"""A day; a date-time names its day (scripts pass either)."""

_WORDS: Catalogue = messages("cli.tasks")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""


class Format(StrEnum):
    table = "table"
    json = "json"


def _day(value: datetime) -> date:
    return value.date()


@app.command("generate")
def generate(
    ctx: typer.Context,
    day: datetime = typer.Option(..., "--date", formats=DAY, help="The day (policy time zone), YYYY-MM-DD."),
    policy: Path | None = _POLICY,
) -> None:
    """Make the tasks whose window holds the day; run it again (or after a crash) and nothing is doubled."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        made = generate_tasks(session=session, day=_day(day), policy=rules)
    print_json({"date": _day(day).isoformat(), "created": made})


@app.command("list")
def list_(
    ctx: typer.Context,
    store: str | None = typer.Option(None, "--store", help="One store's tasks (default: every store's)."),
    day: datetime = typer.Option(..., "--date", formats=DAY, help="The day, YYYY-MM-DD."),
    fmt: Format = typer.Option(Format.table, "--format", help="table or json."),
    lang: str = _LANG,
) -> None:
    """The tasks on the clerk's list that day (window open), whatever their status."""
    with state(ctx).session() as session:
        rows = list_tasks(session=session, principal=_BRAND, day=_day(day), store_id=store, lang=lang)
    if fmt is Format.json:
        print_json(rows)
        return
    table = Table("id", "store", "member", "name", "kind", "opens", "due", "status", "reason")
    for t in rows:
        table.add_row(str(t["id"]), t["store"], str(t["member"]), t["name"] or "", t["kind_text"], t["opens"],
                      t["due"], t["status"], t["reason_text"])  # fmt: skip
    out_console.print(table)
    words = terminal_language()  # the summary's language; --lang words the reasons in the table
    err_console.print(wording(_WORDS, "listed", words, count=grouped(len(rows), words)), highlight=False, markup=False)


@app.command("outcome")
def outcome(
    ctx: typer.Context,
    task_id: int = typer.Argument(..., min=1, max=2**31 - 1, help="The task's id."),
    status: str = typer.Option(..., "--status", help=f"One of: {', '.join(OUTCOMES)}."),
    note: str = typer.Option("", "--note", help="What she said (at most 500 characters)."),
    by: str = typer.Option("cli", "--by", help="Who made the call."),
    lang: str = _LANG,
) -> None:
    """Record what came of a call."""
    if status not in OUTCOMES:
        raise usage_error(f"--status must be one of {', '.join(OUTCOMES)}")
    with state(ctx).session() as session:
        print_json(record_outcome(session=session, principal=_BRAND, task_id=task_id, status=status, note=note,
                                  by=by, lang=lang))  # fmt: skip


@app.command("effect")
def effect(
    ctx: typer.Context,
    start: datetime = typer.Option(..., "--from", formats=DAY, help="First window opening, YYYY-MM-DD."),
    end: datetime = typer.Option(..., "--to", formats=DAY, help="Last window opening, YYYY-MM-DD."),
    store: str | None = typer.Option(None, "--store", help="One store only."),
    fmt: Format = typer.Option(Format.json, "--format", help="json or table."),
    policy: Path | None = _POLICY,
) -> None:
    """Repurchase rates of worked versus unworked tasks, by store and overall."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        result = task_effect(session=session, principal=_BRAND, start=_day(start), end=_day(end), policy=rules,
                             store_id=store).as_dict()  # fmt: skip
    if fmt is Format.json:
        print_json(result)
        return
    table = Table("store", "worked", "bought again", "rate", "not worked", "bought again", "rate")
    for line in [*result["stores"], {**result["overall"], "store": "all"}]:
        table.add_row(line["store"], str(line["worked"]), str(line["worked_repurchased"]),
                      line["worked_rate"] or "", str(line["unworked"]), str(line["unworked_repurchased"]),
                      line["unworked_rate"] or "")  # fmt: skip
    out_console.print(table)
