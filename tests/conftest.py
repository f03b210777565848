"""Test database: a SQLite file by default, PostgreSQL when TRACEABILITY_TEST_DB says so; each test rolled back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from traceability.api import get_session
from traceability.app import create_app, wire_listeners
from traceability.database import make_engine, migrate
from traceability.settings import Settings

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def conformance_dir(*parts: str) -> Path:
    """A folder of the shared public test data, or a skip saying it is absent."""
    path = CONFORMANCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"conformance data not found at {path} (expected ../shared/conformance beside the project)")
    return path


wire_listeners()  # the capture listeners, wired as the app and the CLI wire them


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TRACEABILITY_TEST_DB")
    if url:
        return Settings(db=url).db
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    if eng.dialect.name == "postgresql":
        _reset_postgres(eng)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; commits become savepoints."""
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(db=db_url, key_dir=tmp_path / "keys", resolver="https://id.example.com")


@pytest.fixture
def app(engine: Engine, session: Session, settings: Settings) -> FastAPI:
    application = create_app(settings, engine=engine, run_migrations=False)

    def _session() -> Iterator[Session]:
        session.commit()  # what the test set up is in place before the request, whatever the request does
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    application.dependency_overrides[get_session] = _session
    application.state.given_session = session  # the reads that open their own session use this one too
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def committing_engine(tmp_path: Path, db_url: str) -> Iterator[Engine]:
    """An empty migrated database of the backend under test, for tests that need real commits (CLI, crash,
    concurrency): a SQLite file of its own, or a PostgreSQL database created for the test and dropped after."""
    if not db_url.startswith("postgresql"):
        eng = make_engine(f"sqlite:///{tmp_path / 'own.db'}")
        migrate(eng)
        yield eng
        eng.dispose()
        return
    name = f"trc_aux_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}"
    admin = make_engine(db_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = db_url.rsplit("/", 1)[0] + "/" + name
    eng = make_engine(url)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


__all__ = ["SQLModel", "conformance_dir"]
