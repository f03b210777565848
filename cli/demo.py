"""``traceability demo``: the whole system working, from an empty database to settled reports, in one command."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from cli.context import err_console, out_console, state, usage_error
from traceability.settings import DEFAULT_DB_URL


def demo(
    ctx: typer.Context,
    out: Path = typer.Option(Path("demo-reports"), "--out", help="Folder for the reports, label sheets and keys."),
    scale: float = typer.Option(0.5, "--scale", min=0.02, max=20.0, help="Volume of goods (1.0 ≈ 5,000 units)."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same network, volumes and diversion."),
    reset: bool = typer.Option(False, "--reset", help="Delete the SQLite database file (and demo keys) first."),
) -> None:
    """Build a realistic network, simulate two months with planted diversion, detect, settle, report."""
    from demo.run import run_demo

    st = state(ctx)
    settings = st.settings
    if reset:
        _reset(settings.db)
    started = time.perf_counter()
    err_console.print(f"[bold]traceability demo[/] → {settings.db}, reports in {out}/", highlight=False)

    def progress(phase: str, seconds: float) -> None:
        err_console.print(f"  {seconds:6.1f} s  {phase}", highlight=False)

    result = run_demo(settings=settings, out=out, scale=scale, seed=seed, progress=progress, engine=st.engine)
    s = result.summary
    out_console.print()
    out_console.print(f"[bold]Network[/]: {s.territories} territories; " + ", ".join(
        f"{n} {k}" for k, n in sorted(s.parties.items())) + f"; {s.codes_issued:,} signed codes; {s.events:,} events")
    out_console.print("[bold]Planted[/]: " + "; ".join(result.planted))
    out_console.print("[bold]Members[/]: " + ", ".join(f"{n:,} {source}" for source, n in s.members_by_source.items()))
    if s.orders:
        out_console.print("[bold]O2O orders[/]: " + ", ".join(f"{n} {k}" for k, n in s.orders["by_status"].items())
                          + f"; {s.orders['offers_lapsed']} offer lapsed and went on to the next store, "
                          f"{s.orders['offers_declined']} declined (out of stock)")  # fmt: skip
    if s.tasks:
        kinds_ = ", ".join(f"{n} {k}" for k, n in s.tasks["by_kind"].items())
        out_console.print(f"[bold]Clerk tasks[/] for {s.tasks['day']}: {kinds_} "
                          f"(traceability tasks list --date {s.tasks['day']})")  # fmt: skip
    kinds = Table("alert kind", "alerts", title="Alerts by kind")
    for kind, n in s.alerts_by_kind.items():
        kinds.add_row(kind, str(n))
    kinds.add_row("[dim]by status[/]", ", ".join(f"{k} {n}" for k, n in s.alerts_by_status.items()))
    out_console.print(kinds)
    leaks = Table("distributor", "name", "diverted units", "alerts", "surfaced in", title="Top leaking distributors")
    for leak in s.top_leaks:
        leaks.add_row(leak["distributor"], leak["name"], str(leak["diverted_units"]), str(leak["alerts"]),
                      ", ".join(leak["territories"]))  # fmt: skip
    out_console.print(leaks)
    money = Table("period", "status", "units sold", "rebates", "store fees", "distributors by rate", "0 % rate",
                  title="Settlement (CNY)")  # fmt: skip
    for period, f in s.settlement.items():
        money.add_row(period, str(f["status"]), str(f["units_sold"]), f["rebates"], f["fees"],
                      ", ".join(f"{r}: {n}" for r, n in f["distributors_by_rate"].items()),
                      ", ".join(f["zero_rate"]))  # fmt: skip
    out_console.print(money)
    out_console.print(f"[bold]Reports[/] in {out}/: " + ", ".join(p.name for p in result.files))
    db_flag = "" if settings.db == DEFAULT_DB_URL else f" --db '{settings.db}'"
    out_console.print(f"\n[bold]Open the web app[/]:  traceability{db_flag} serve   →  http://127.0.0.1:8000/")
    out_console.print("Sign in with a demo key (also in " + str(out / "demo-keys.txt") + "):")
    for role, (party, token) in result.keys.items():
        out_console.print(f"  {role:<12} {party:<10} {token}", highlight=False)
    out_console.print(f"Codes at 广州 to scan on the shipment page: {out / 'd-gz-stock.txt'}")
    err_console.print(f"done in {time.perf_counter() - started:.0f} s", highlight=False)


def _reset(db: str) -> None:
    """Remove a SQLite database file (and its WAL files); other databases must be emptied by their owner."""
    if not db.startswith("sqlite:///"):
        raise usage_error("--reset only deletes SQLite files; give an empty database with --db instead")
    path = Path(db.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    # Key files stay: the demo picks an unused key id (demo.run._free_key_id), so no private key is ever deleted.
