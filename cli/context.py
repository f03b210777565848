"""What every command shares: settings (with ``--db``), a lazily made engine, and output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.database import make_engine, migrate, session_scope
from traceability.settings import Settings

__all__ = ["CliState", "err_console", "out_console", "print_json", "state"]

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
