"""PostgreSQL streaming replication: the app writes on the primary and serves the stale-tolerant reads (the EPCIS
event query, a settlement statement) from a hot standby (``read_db``).

The test starts both clusters itself on loopback (``initdb``, ``pg_basebackup -R``, free ports, temporary folders;
as the ``postgres`` user when run as root, as ``.ci/run`` does). It proves the reads come from the standby by
pausing its replay: a sale written through the app is then missing from the answers, and appears once replay
resumes. It runs on every test run, whatever ``TRACEABILITY_TEST_DB`` says, and fails — never skips — when the
PostgreSQL server binaries are not installed (CI installs PostgreSQL 15 in /usr/lib/postgresql/15/bin).
"""

from __future__ import annotations

import glob
import io
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from codes import service as codes
from codes.keyfiles import KeyFileStore
from scanning.service import ScanRequest, record_scans
from tests.factories import GTIN, masterdata_doc
from traceability.app import create_app
from traceability.auth.service import Principal, create_api_key, revoke_api_key
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Role
from traceability.settings import Settings


def _pg_bin() -> Path:
    """The folder of initdb / pg_ctl / pg_basebackup: the PATH's, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found:
        folder = Path(os.path.realpath(found)).parent
    else:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
        if not candidates:
            pytest.fail("PostgreSQL server binaries (initdb) not found on the PATH or in /usr/lib/postgresql/*/bin: "
                        "install PostgreSQL (apt-get install postgresql) to run the replication test")
        folder = Path(candidates[-1])
    for tool in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (folder / tool).exists():
            pytest.fail(f"{tool} not found in {folder}")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Clusters:
    def __init__(self, root: Path) -> None:
        self.bin = _pg_bin()
        self.root = root
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the clusters run as the postgres user
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.started: list[Path] = []

    def run(self, *args: str) -> None:
        done = subprocess.run([*self.as_user, *args], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self, data: Path, port: int) -> None:
        opts = f"-p {port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / f"{data.name}.log"), "-o", opts,
                 "-w", "-t", "60", "start")  # fmt: skip
        self.started.append(data)

    def stop_all(self) -> None:
        for data in reversed(self.started):
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True)  # fmt: skip


@pytest.fixture(scope="module")
def replicated() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL) of a fresh database ``trc_repl`` replicated to a hot standby."""
    root = Path(tempfile.mkdtemp(prefix="trc-repl-"))
    clusters = _Clusters(root)
    primary, standby = root / "primary", root / "standby"
    p_port, s_port = _free_port(), _free_port()
    try:
        clusters.run(str(clusters.bin / "initdb"), "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        clusters.start(primary, p_port)  # wal_level=replica and replication from 127.0.0.1 are initdb's defaults
        clusters.run(str(clusters.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres",
                     "-D", str(standby), "-R", "-X", "stream", "-c", "fast")  # fmt: skip
        clusters.start(standby, s_port)
        admin = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{p_port}/postgres")
        with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text("CREATE DATABASE trc_repl"))
        admin.dispose()
        yield (f"postgresql+psycopg://postgres@127.0.0.1:{p_port}/trc_repl",
               f"postgresql+psycopg://postgres@127.0.0.1:{s_port}/trc_repl")  # fmt: skip
    finally:
        clusters.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def _caught_up(primary: Engine, standby: Engine, timeout: float = 60.0) -> None:
    with primary.connect() as c:
        target = c.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    deadline = time.monotonic() + timeout
    while True:
        with standby.connect() as c:
            if c.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"), {"t": target}).scalar_one():
                return
        assert time.monotonic() < deadline, "the standby did not catch up within 60 s"
        time.sleep(0.1)


def _standby_control(standby_url: str, sql: str) -> None:
    engine = make_engine(standby_url.rsplit("/", 1)[0] + "/postgres")
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text(sql))
    engine.dispose()


def _epcs(client: TestClient, token: str) -> list[str]:
    r = client.get("/epcis/events", params={"EQ_bizStep": "retail_selling"},
                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 200, r.text
    return [e for ev in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] for e in ev["epcList"]]


def _statement(client: TestClient, token: str, period: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/settlement/{period}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_reads_come_from_the_standby_and_writes_go_to_the_primary(
    replicated: tuple[str, str], tmp_path: Path
) -> None:
    primary_url, standby_url = replicated
    primary, standby = make_engine(primary_url), make_engine(standby_url)
    migrate(primary)
    store = KeyFileStore(tmp_path / "keys")
    with session_scope(primary) as session:
        import_masterdata(session=session, raw=masterdata_doc())
        codes.create_key(session=session, store=store)
        out = io.StringIO()
        codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=store), gtin=GTIN,
                             lot="L1", expiry="281231", count=4, out=out, party_id="PLANT-1")  # fmt: skip
        units = out.getvalue().split()
        plant = Principal(role=Role.plant, party_id="PLANT-1")
        shop = Principal(role=Role.store, party_id="S-GZ-1")
        record_scans(session=session, principal=plant, request=ScanRequest("commissioning", units))
        record_scans(session=session, principal=shop, request=ScanRequest("receiving", units))
        record_scans(session=session, principal=shop, request=ScanRequest("retail_selling", units[:1]))
        tokens = {role: create_api_key(session=session, role=role, party_id=party).token
                  for role, party in ((Role.store, "S-GZ-1"), (Role.finance, "BRAND"), (Role.distributor, "D-NJ"))}
    period = datetime.now(UTC).strftime("%Y-%m")
    _caught_up(primary, standby)
    with standby.connect() as c:
        assert c.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True

    settings = Settings(db=primary_url, read_db=standby_url, key_dir=tmp_path / "keys", rate_limit_enabled=False)
    app = create_app(settings, engine=primary, run_migrations=False)
    assert app.state.read_engine is not None
    on_primary = create_app(Settings(db=primary_url, key_dir=tmp_path / "keys", rate_limit_enabled=False),
                            engine=primary, run_migrations=False)  # the same app without a replica
    assert on_primary.state.read_engine is None
    with TestClient(app) as client:
        assert len(_epcs(client, tokens[Role.store])) == 1
        before = _statement(client, tokens[Role.finance], period)
        # A distributor of another region reads through the replica too, and still sees only its own party's events.
        assert _epcs(client, tokens[Role.distributor]) == []

        _standby_control(standby_url, "SELECT pg_wal_replay_pause()")
        try:
            r = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": units[1:3]},
                            headers={"Authorization": f"Bearer {tokens[Role.store]}"})  # fmt: skip
            assert r.status_code == 200 and len(r.json()["accepted"]) == 2, r.text  # written: on the primary
            with TestClient(on_primary) as direct:
                fresh = _statement(direct, tokens[Role.finance], period)
            assert fresh != before  # the sale changed the figures on the primary …
            assert len(_epcs(client, tokens[Role.store])) == 1  # … and the replica, paused, does not have it yet
            assert _statement(client, tokens[Role.finance], period) == before
            # Keys are checked on the primary, not the lagging replica: one issued a moment ago works at once, and
            # one revoked a moment ago is refused at once.
            with Session(primary) as session:
                new_key = create_api_key(session=session, role=Role.auditor, party_id="AUD")
                revoked = create_api_key(session=session, role=Role.auditor, party_id="AUD")
                session.commit()
                assert len(_epcs(client, new_key.token)) == 1  # the replica's answer (one sale), the primary's key
                revoke_api_key(session=session, key_id=revoked.id)
                session.commit()
            refused = client.get("/epcis/events", headers={"Authorization": f"Bearer {revoked.token}"})
            assert refused.status_code == 401, refused.text
            # A write never goes to the standby: the scan API answered from the primary while replay was paused.
            with standby.connect() as c:
                assert c.execute(text("SELECT count(*) FROM epcis_event WHERE biz_step = 'retail_selling'")
                                 ).scalar_one() == 1  # fmt: skip
        finally:
            _standby_control(standby_url, "SELECT pg_wal_replay_resume()")
        _caught_up(primary, standby)
        assert sorted(_epcs(client, tokens[Role.store])) == sorted(_epcs_of(primary, units[:3]))
        assert _statement(client, tokens[Role.finance], period) == fresh
    primary.dispose()
    standby.dispose()


def _epcs_of(primary: Engine, units: list[str]) -> list[str]:
    """The sold EPCs as the primary stores them (the query's answer must be exactly these once caught up)."""
    with primary.connect() as c:
        rows = c.execute(text("SELECT document FROM epcis_event WHERE biz_step = 'retail_selling'")).scalars().all()
    import json

    epcs = [e for doc in rows for e in json.loads(doc)["epcList"]]
    assert len(epcs) == len(units)
    return epcs

