"""The migrations build exactly the tables the models declare, from one head."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import traceability
import traceability.models  # noqa: F401  (registers every table)


def test_one_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(traceability.__file__).parent / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1, "merge the migration branches"


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert drift == []
