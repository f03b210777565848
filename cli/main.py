"""Root of the ``traceability`` command tree, and what every command's failure looks like.

Exit codes, for every command:

- ``0``: done.
- ``1``: a domain error (a locked period, an unknown party, an invalid document, …), printed as ``error: …`` with
  its message (and a document's problems, one a line); or a command's own negative answer (a rejected scan, a code
  that fails verification, a broken hash chain), which it reports itself.
- ``2``: a usage error: a missing argument or option, an unknown option, a value that is not one of the choices, an
  input file that does not exist or cannot be read, an output file that exists already (without ``--force``) or
  whose folder does not exist. One or two lines: ``error: …`` naming the mistake, and the ``--help`` to read.
- ``130``: interrupted (Ctrl-C) or aborted.

Never a traceback for any of them; a traceback means a bug.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from rich.text import Text

from cli import apikeys, masterdata
from cli.context import CliState, click_exceptions, err_console, terminal_language
from traceability.app import wire_listeners
from traceability.errors import TraceabilityError, ValidationFailed
from traceability.i18n import Catalogue, messages, wording
from traceability.settings import Settings

__all__ = ["app", "main", "terminal_language"]

_WORDS: Catalogue = messages("cli.main")
"""What the root prints itself (beside a domain error's own message), in the terminal's language."""

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
    workers: int = typer.Option(
        1, min=1, max=64, help="Worker processes (uvicorn). On SQLite one writes at a time; the others wait their turn."
    ),
    access_log: bool = typer.Option(
        False, help="Log every request (uvicorn's access log). Off by default: it costs a tenth of a short request, "
        "and a proxy in front usually logs them; errors and warnings are logged either way."
    ),
) -> None:
    """Serve the web API (and pages) with uvicorn."""
    import os

    import uvicorn

    from cli.context import state
    from traceability.app import create_app
    from traceability.serving import NoDelayHttpToolsProtocol

    st = state(ctx)
    if workers == 1:
        uvicorn.run(create_app(st.settings, engine=st.engine), host=host, port=port, http=NoDelayHttpToolsProtocol,
                    access_log=access_log)
        return
    st.engine.dispose()  # migrated here, once, before any worker starts (st.engine migrates on first use)
    os.environ["TRACEABILITY_DB"] = st.settings.db  # each worker reads its settings from the environment
    uvicorn.run("traceability.app:worker_app", factory=True, workers=workers, host=host, port=port,
                http=NoDelayHttpToolsProtocol, access_log=access_log)


app.add_typer(masterdata.app, name="masterdata")
app.add_typer(apikeys.app, name="apikeys")


def _register_domains() -> None:
    from cli import alerts, codes, epcis, graph, labels, members, orders, scan, settlement, worker
    from cli.demo import demo

    app.add_typer(codes.app, name="codes")
    app.add_typer(epcis.app, name="epcis")
    app.add_typer(labels.app, name="labels")
    app.command("scan")(scan.scan)
    app.add_typer(scan.shipment_app, name="shipment")
    app.add_typer(settlement.app, name="settlement")
    app.add_typer(members.app, name="members")
    app.add_typer(orders.app, name="orders")
    app.command("worker")(worker.worker)
    from cli import tasks

    app.add_typer(tasks.app, name="tasks")
    app.add_typer(alerts.app, name="alerts")
    app.add_typer(graph.app, name="graph")
    app.command("trail")(graph.trail)
    app.command("demo")(demo)


_register_domains()


def _say(message: str, hint: str | None = None) -> None:
    """``error: message [hint]`` on standard error, never parsed as markup, never wrapped by the console."""
    line = Text.assemble(("error:", "red"), " ", message, (" " + hint) if hint else "")
    err_console.print(line, highlight=False, soft_wrap=True)


def _error(message: str, code: int, hint: str | None = None) -> NoReturn:
    _say(message, hint)
    sys.exit(code)


def _sentence(text: str) -> str:
    """click's message as our sentence: lower-case start (``Missing option`` → ``missing option``), a full stop."""
    # typer 0.2x validates values with pydantic, whose messages start "Value error, "; the rest is the sentence.
    text = " ".join(text.split()).replace("Value error, ", "")
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _usage(exc: Any) -> NoReturn:
    """A click usage error (typer's bundled click or click itself) as one line, with the ``--help`` to read."""
    ctx = getattr(exc, "ctx", None)
    hint = f"Try '{ctx.command_path} --help'." if ctx is not None else "Try 'traceability --help'."
    _error(_sentence(exc.format_message()), 2, hint)


def main() -> None:
    """Entry point: run the command; every failure is a short message and an exit code (see the module docstring)."""
    errors = click_exceptions()
    try:
        # Without standalone mode click hands back the exit code of ``typer.Exit`` instead of exiting, and raises
        # its usage errors here instead of printing them its own way. The name is the command's, also when it runs
        # as ``python -m cli``.
        code = app(standalone_mode=False, prog_name="traceability")
    except TraceabilityError as exc:
        _say(exc.text(terminal_language()))
        if isinstance(exc, ValidationFailed):
            for p in exc.problems:
                err_console.print(f"  {p.path}: {p.reason}", highlight=False, markup=False)
        elif isinstance(exc.detail.get("problems"), list):  # e.g. the lines GS1's XSD refuses
            for p in exc.detail["problems"]:
                if isinstance(p, dict):
                    err_console.print(f"  {p.get('path')}: {p.get('reason')}", highlight=False, markup=False)
        sys.exit(1)
    except getattr(errors, "NoArgsIsHelpError", ()) as exc:  # click >= 8.2 (and typer's bundled copy)
        exc.show()  # a group named without its command: its help is the answer
        sys.exit(2)
    except errors.UsageError as exc:  # missing or unknown option or argument, bad value or choice, missing file
        _usage(exc)
    except errors.ClickException as exc:  # e.g. FileError: a file click could not open
        _error(_sentence(exc.format_message()), 2)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print(wording(_WORDS, "aborted", terminal_language()), markup=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        if exc.filename is None:
            _error(f"{exc.strerror or exc}", 1)
        # A path given on the command line that cannot be read or written (a missing folder, no permission).
        _error(f"{exc.filename}: {exc.strerror or exc}", 2)
    sys.exit(code if isinstance(code, int) else 0)
