"""``traceability demo``: the whole system working, from an empty database to settled reports, in one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import typer
from rich.table import Table

from cli.context import err_console, out_console, state, usage_error
from traceability.settings import DEFAULT_DB_URL

Lang = Literal["zh-CN", "en"]


def demo(
    ctx: typer.Context,
    out: Path = typer.Option(Path("demo-reports"), "--out", help="Folder for the reports, label sheets and keys."),
    scale: float = typer.Option(0.5, "--scale", min=0.02, max=20.0, help="Volume of goods (1.0 ≈ 5,000 units)."),
    seed: int = typer.Option(7, "--seed", help="Same seed, same network, volumes and diversion."),
    reset: bool = typer.Option(False, "--reset", help="Delete the SQLite database file (and demo keys) first."),
    lang: Lang = typer.Option("zh-CN", "--lang", help="Language of the progress and the summary: zh-CN or en."),
) -> None:
    """Build a realistic network, simulate two months with planted diversion, detect, settle, report."""
    from demo.run import run_demo
    from demo.words import word

    def w(key: str, **params: object) -> str:
        return word(key, lang, **params)

    def listed(prefix: str, counts: dict[str, int]) -> str:
        return ("，" if lang == "zh-CN" else ", ").join(f"{n:,} {w(f'{prefix}.{k}')}" for k, n in counts.items())

    st = state(ctx)
    settings = st.settings
    if reset:
        _reset(settings.db)
    started = time.perf_counter()
    err_console.print(w("start", db=settings.db, out=out), highlight=False)

    def progress(phase: str, seconds: float) -> None:
        err_console.print(f"  {seconds:6.1f} s  {phase}", highlight=False)

    result = run_demo(settings=settings, out=out, scale=scale, seed=seed, progress=progress, engine=st.engine,
                      lang=lang)  # fmt: skip
    s = result.summary
    sep = "；" if lang == "zh-CN" else "; "
    out_console.print()
    out_console.print(w("network", territories=s.territories, parties=listed("party", dict(sorted(s.parties.items()))),
                        codes=f"{s.codes_issued:,}", events=f"{s.events:,}"))  # fmt: skip
    out_console.print(w("planted", items=sep.join(result.planted)))
    out_console.print(w("members", items=listed("source", s.members_by_source)))
    if s.orders:
        out_console.print(w("orders", items=listed("order", s.orders["by_status"]), lapsed=s.orders["offers_lapsed"],
                            declined=s.orders["offers_declined"]))  # fmt: skip
    if s.tasks:
        out_console.print(w("tasks", day=s.tasks["day"], items=listed("task", s.tasks["by_kind"])))
    kinds = Table(w("alerts.kind"), w("alerts.count"), title=w("alerts.title"))
    for kind, n in s.alerts_by_kind.items():
        kinds.add_row(w(f"alert.{kind}"), str(n))
    kinds.add_row(f"[dim]{w('alerts.by_status')}[/]", listed("alert_status", s.alerts_by_status))
    out_console.print(kinds)
    leaks = Table(w("leaks.distributor"), w("leaks.name"), w("leaks.units"), w("leaks.alerts"), w("leaks.where"),
                  title=w("leaks.title"))  # fmt: skip
    for leak in s.top_leaks:
        leaks.add_row(leak["distributor"], leak["name"], str(leak["diverted_units"]), str(leak["alerts"]),
                      ", ".join(f"{name} {code}" if name != code else code for name, code in
                                zip(leak["territory_names"], leak["territories"], strict=True)))  # fmt: skip
    out_console.print(leaks)
    money = Table(w("money.period"), w("money.status"), w("money.units"), w("money.rebates"), w("money.fees"),
                  w("money.rates"), w("money.zero"), title=w("money.title", currency="CNY"))  # fmt: skip
    for period, f in s.settlement.items():
        money.add_row(period, w(f"period.{f['status']}"), str(f["units_sold"]), f["rebates"], f["fees"],
                      ", ".join(f"{r}: {n}" for r, n in f["distributors_by_rate"].items()),
                      ", ".join(f["zero_rate"]))  # fmt: skip
    out_console.print(money)
    out_console.print(w("reports", out=out, files=", ".join(p.name for p in result.files)))
    db_flag = "" if settings.db == DEFAULT_DB_URL else f" --db '{settings.db}'"
    out_console.print("\n" + w("open", db_flag=db_flag))
    out_console.print(w("sign_in", file=out / "demo-keys.txt"))
    for role, (party, token) in result.keys.items():
        out_console.print(f"  {role:<12} {party:<10} {token}", highlight=False, soft_wrap=True)  # a key on one line
    out_console.print(w("stock", file=out / "d-gz-stock.txt"))
    err_console.print(w("done", seconds=f"{time.perf_counter() - started:.0f}"), highlight=False)


def _reset(db: str) -> None:
    """Remove a SQLite database file (and its WAL files); other databases must be emptied by their owner."""
    if not db.startswith("sqlite:///"):
        raise usage_error("--reset only deletes SQLite files; give an empty database with --db instead")
    path = Path(db.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    # Key files stay: the demo picks an unused key id (demo.run._free_key_id), so no private key is ever deleted.
