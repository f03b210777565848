"""A real server for the robustness suite: uvicorn in a subprocess on a free 127.0.0.1 port, over its own database
of the backend under test (a SQLite file, or a PostgreSQL database created for the session and dropped after).

A subprocess, not a thread as in ``tests/web/conftest.py``: the suite measures the server's own peak memory
(``VmHWM`` in ``/proc/<pid>/status``), and load from the test's clients must not share the server's interpreter
lock.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.factories import masterdata_doc
from tests.serving import stop, wait_until_healthy
from traceability.auth.service import create_api_key
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Role

STARTUP_TIMEOUT = 60.0


@dataclass
class Server:
    """The running server: where it listens, its process, its database and an admin key."""

    base_url: str
    process: subprocess.Popen[bytes]
    engine: Engine
    token: str
    log: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, **options: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, **options)  # type: ignore[arg-type]

    def status(self, field: str) -> int:
        """A memory figure of the server process in bytes: ``VmHWM`` (peak resident set) or ``VmRSS``."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"{field} not in /proc/{self.process.pid}/status")

    def reset_peak(self) -> None:
        """Start ``VmHWM`` again from the current resident set (Linux's ``clear_refs`` 5), so a test measures its own
        peak, not one an earlier test reached in the same server."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def alive(self) -> None:
        assert self.process.poll() is None, f"the server died:\n{self.log.read_text()[-3000:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server_db(tmp_path_factory: pytest.TempPathFactory, db_url: str) -> Iterator[str]:
    """The URL of a migrated, seeded database of its own, as ``committing_engine`` makes them, for the session."""
    if not db_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('robust') / 'server.db'}"
        return
    name = f"trc_robust_{os.getpid()}"
    admin = make_engine(db_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield db_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, server_db: str) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("robust-server")
    engine = make_engine(server_db)
    migrate(engine)
    with session_scope(engine) as session:
        import_masterdata(session=session, raw=masterdata_doc())
        session.flush()
        token = create_api_key(session=session, role=Role.admin, party_id="BRAND").token
    port = _free_port()
    env = {**os.environ, "TRACEABILITY_DB": server_db, "TRACEABILITY_KEY_DIR": str(root / "keys")}
    env.pop("TRACEABILITY_EPCIS_SCHEMA", None)
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "traceability.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    live = Server(f"http://127.0.0.1:{port}", process, engine, token, log)
    try:
        why = wait_until_healthy(live.base_url, process, STARTUP_TIMEOUT, pause=0.1)
        live.alive()  # a server that exited fails here, with its log
        if why is not None:
            raise RuntimeError(f"the server did not start in {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()}")
        yield live
    finally:
        stop(process, timeout=15)
        engine.dispose()
