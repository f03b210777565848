"""Root of the ``traceability`` command tree."""

from __future__ import annotations

import sys

import typer

from cli import apikeys, masterdata
from cli.context import CliState, err_console
from traceability.app import wire_listeners
from traceability.errors import TraceabilityError, ValidationFailed
from traceability.settings import Settings

app = typer.Typer(
    help="One item, one code: signed codes, scans, diversion alerts and settlement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", envvar="TRACEABILITY_DB", help="Database URL (default: SQLite file traceability.db here)."
    ),
) -> None:
    wire_listeners()
    ctx.obj = CliState(settings=Settings(db=db) if db else Settings())


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Serve the web API (and pages) with uvicorn."""
    import uvicorn

    from cli.context import state
    from traceability.app import create_app

    st = state(ctx)
    uvicorn.run(create_app(st.settings, engine=st.engine), host=host, port=port)


app.add_typer(masterdata.app, name="masterdata")
app.add_typer(apikeys.app, name="apikeys")


def _register_domains() -> None:
    from cli import alerts, codes, epcis, graph, labels, members, scan, settlement
    from cli.demo import demo

    app.add_typer(codes.app, name="codes")
    app.add_typer(epcis.app, name="epcis")
    app.add_typer(labels.app, name="labels")
    app.command("scan")(scan.scan)
    app.add_typer(scan.shipment_app, name="shipment")
    app.add_typer(settlement.app, name="settlement")
    app.add_typer(members.app, name="members")
    app.add_typer(alerts.app, name="alerts")
    app.add_typer(graph.app, name="graph")
    app.command("trail")(graph.trail)
    app.command("demo")(demo)


_register_domains()


def main() -> None:
    """Entry point: domain errors print their message and exit 1, never a traceback."""
    try:
        # Without standalone mode click hands back the exit code of ``typer.Exit`` instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except TraceabilityError as exc:
        err_console.print(f"[red]error:[/] {exc.message}", highlight=False)
        if isinstance(exc, ValidationFailed):
            for p in exc.problems:
                err_console.print(f"  {p.path}: {p.reason}", highlight=False, markup=False)
        sys.exit(1)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
