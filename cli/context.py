"""What every command shares: settings (with ``--db``), a lazily made engine, and output helpers."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.database import make_engine, migrate, session_scope
from traceability.settings import Settings

__all__ = ["CliState", "click_exceptions", "err_console", "grouped", "out_console", "output_file", "print_json",
           "state", "terminal_language", "usage_error"]

out_console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        """The engine, migrated to the newest schema on first use so a new user never runs a setup step."""
        if self._engine is None:
            self._engine = make_engine(self.settings.db)
            migrate(self._engine)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The command's unit of work: committed once when the command succeeds."""
        with session_scope(self.engine) as session:
            yield session


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def click_exceptions() -> ModuleType:
    """The module of the click exceptions typer raises: its own bundled copy (typer 0.2x) or click's (older typer)."""
    return sys.modules[typer.BadParameter.__module__]


def terminal_language() -> str:
    """The language a domain error and a command's summary lines are printed in: ``TRACEABILITY_LANG``, else the
    POSIX locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as gettext reads them): a clerk whose terminal is
    ``zh_CN.UTF-8`` reads Chinese; an unset or ``C`` locale (CI, cron, the logs) keeps the English message.

    Here, not in ``cli.main``, so that every command module can import it (``cli.main`` imports them all)."""
    for name in ("TRACEABILITY_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "zh-CN" if value.replace("_", "-").lower().startswith("zh") else "en"
    return "en"


def grouped(value: int, lang: str) -> str:
    """A count in a line worded for ``lang``: grouped in Chinese (``12,500``, as the alerts summary writes it),
    bare in English (``12500``), as the English lines have always printed it for the scripts that read them."""
    return f"{value:,}" if lang == "zh-CN" else str(value)


def usage_error(message: str) -> Exception:
    """A usage error for a check typer cannot declare: the root prints it with the command's ``--help`` hint and
    exits 2. Raise it inside a command, which gives it the command's context."""
    error: Exception = click_exceptions().UsageError(message)
    return error


@contextmanager
def output_file(path: Path, *, replace: bool) -> Iterator[Path]:
    """A temporary file beside ``path`` that becomes ``path`` only when the block (and so the command's commit)
    succeeds; on any failure it is removed, so no partial file is ever left. Without ``replace`` an existing
    ``path`` is a usage error."""
    if path.exists() and not replace:
        raise usage_error(f"{path} exists already; give another --out, or add --force to replace it")
    if not path.parent.is_dir():
        raise usage_error(f"cannot write {path}: folder {path.parent} does not exist")
    # A hidden name of its own (not created here, so the file gets the usual permissions when the caller opens it).
    part = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        yield part
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(path)
