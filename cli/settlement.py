"""``traceability settlement``: run a period (JSON, table, PDF, CSV, XLSX), lock it, list locked periods, write
out the chain checkpoint a lock signed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import typer

from cli.context import err_console, grouped, print_json, state, terminal_language
from codes.service import key_store
from rebates.policy import load_policy
from settlement import reports, service
from traceability.i18n import Catalogue, messages, wording

app = typer.Typer(help="Period settlement: distributor rebates and store fees.", no_args_is_help=True)

_WORDS: Catalogue = messages("cli.settlement")
"""What the commands print for people, in the terminal's language (``cli.context.terminal_language``)."""

RunFormat = Literal["json", "table", "pdf", "csv", "xlsx"]

_POLICY = typer.Option(
    None, "--policy", exists=True, dir_okay=False,
    help="Policy file (TOML); default $TRACEABILITY_POLICY_FILE (the settings), else the defaults.",
)  # fmt: skip


@app.command("run")
def run(
    ctx: typer.Context,
    period: str = typer.Option(..., "--period", help="YYYY-MM"),
    fmt: RunFormat = typer.Option("json", "--format", help="json, table, pdf, csv or xlsx"),
    out: Path | None = typer.Option(None, "--out", help="Write here (pdf/csv/xlsx default: settlement-PERIOD.EXT)."),
    policy: Path | None = _POLICY,
) -> None:
    """Settle a period; a locked one prints exactly as it was locked."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        result = service.run_settlement(session=session, period=period, policy=rules)
        if fmt == "json":
            print_json(result.as_dict())
            return
        if fmt == "table":
            sys.stdout.write(reports.to_table(result))
            return
        body = reports.render_report(session=session, settlement=result, fmt=fmt)
    target = out or Path(f"settlement-{period}.{fmt}")
    target.write_bytes(body)
    lang = terminal_language()
    err_console.print(wording(_WORDS, "wrote", lang, path=target, bytes=grouped(len(body), lang)), highlight=False,
                      markup=False)  # fmt: skip


@app.command("lock")
def lock(
    ctx: typer.Context,
    period: str = typer.Option(..., "--period", help="YYYY-MM"),
    by: str = typer.Option("cli", "--by", help="Who locks it (recorded)."),
    force: bool = typer.Option(False, "--force", help="Lock it even though nothing happened in it."),
    policy: Path | None = _POLICY,
) -> None:
    """Lock a period for good: settled one last time, stored with a signed checkpoint of the event chain, never
    changed again.

    Periods lock in order, once ended plus the policy's grace days (default 3); an empty one only with --force.
    The checkpoint key is the key directory's chain.pem (created on first use, never in the database)."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        result = service.lock_period(session=session, period=period, policy=rules, locked_by=by, force=force,
                                     keys=key_store(st.settings))  # fmt: skip
    lang = terminal_language()
    totals = wording(_WORDS, "totals_sep", lang).join(f"{t['currency']} {t['payable']}" for t in result.totals())
    said = (wording(_WORDS, "locked", lang, period=period, totals=totals) if totals
            else wording(_WORDS, "locked_nothing", lang, period=period))  # fmt: skip
    err_console.print(said, highlight=False, markup=False)
    if result.checkpoint is not None:
        c = result.checkpoint
        err_console.print(wording(_WORDS, "checkpoint", lang, seq=c.seq, head=c.head, at=c.at, key_id=c.key_id),
                          highlight=False, markup=False)  # fmt: skip
    print_json(result.as_dict())


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    period: str = typer.Option(..., "--period", help="A locked period, YYYY-MM"),
    out: Path = typer.Option(..., "--out", help="Where to write it (JSON); check it with epcis verify-chain."),
) -> None:
    """Write out the chain checkpoint signed when a period was locked, for `epcis verify-chain --checkpoint`."""
    with state(ctx).session() as session:
        signed = service.lock_checkpoint(session=session, period=period)
    out.write_text(json.dumps(signed.as_dict(), indent=2) + "\n", encoding="utf-8")
    typer.echo(wording(_WORDS, "lock_checkpoint", terminal_language(), period=period, seq=signed.seq,
                       head=signed.head[:16], at=signed.at, out=out))  # fmt: skip


@app.command("periods")
def periods(ctx: typer.Context) -> None:
    """Locked periods, oldest first."""
    with state(ctx).session() as session:
        rows = service.list_periods(session=session)
        print_json([{"period": r.period, "locked_at": r.locked_at, "locked_by": r.locked_by, "checksum": r.checksum,
                     "restate": r.restate} for r in rows])  # fmt: skip


@app.command("units")
def units(
    ctx: typer.Context,
    period: str = typer.Option(..., "--period"),
    party: str = typer.Option(..., "--party"),
    policy: Path | None = _POLICY,
) -> None:
    """The units behind a party's line: each sale or purchase with its event."""
    st = state(ctx)
    rules = load_policy(policy or st.settings.policy_file)
    with st.session() as session:
        print_json(list(service.units_behind(session=session, period=period, party=party, policy=rules)))


@app.command("rebuild-facts")
def rebuild_facts(ctx: typer.Context) -> None:
    """Derive every sale, purchase and dispatch again from the event store."""
    from rebates.facts import rebuild

    with state(ctx).session() as session:
        counts = rebuild(session=session)
    print_json({"sales": counts.sales, "purchases": counts.purchases, "dispatches": counts.dispatches})
