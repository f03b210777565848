"""The PostgreSQL a benchmark runs on: the server ``--pg`` names, or, without one, a throwaway cluster of its own.

Every benchmark that measures PostgreSQL runs on a fresh machine with one command: without ``--pg`` it starts a
cluster (``initdb`` / ``pg_ctl`` from the PATH, else the newest ``/usr/lib/postgresql/*/bin`` as Debian installs
them; a free local port, a temporary directory; as the ``postgres`` user when run as root) and stops and removes it
after. Either way the run gets a database of its own, created empty and dropped at the end.

The throwaway cluster runs with ``fsync=off`` and ``synchronous_commit=off``: commit latency is then flattered
beside a production server, which the benchmarks that print commit-bound figures say.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from traceability.database import make_engine
from traceability.settings import Settings

__all__ = ["bench_database", "free_port", "postgres_bin", "postgres_database", "throwaway_postgres"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin(tool: str) -> str | None:
    """Where ``tool`` (``initdb``, ``pg_ctl``) is: the PATH's, else Debian's versioned folder."""
    found = shutil.which(tool)
    if found:
        return found
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    candidates = [str(Path(f) / tool) for f in reversed(folders) if (Path(f) / tool).exists()]
    return candidates[0] if candidates else None


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A PostgreSQL cluster of our own in a temp dir on a free port, for the run; stopped and removed after."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise SystemExit("postgres: initdb / pg_ctl not found on the PATH or in /usr/lib/postgresql/*/bin "
                         "(install PostgreSQL, or pass --pg URL)")  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="trc-bench-pg-"))
    data, port = tmp / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        user = pwd.getpwnam("postgres")
        os.chown(tmp, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    opts = (f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c shared_buffers=256MB -c work_mem=64MB -c max_wal_size=4GB -c max_connections=200")  # fmt: skip
    try:
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)  # fmt: skip
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(tmp / "log"), "-o", opts, "-w", "start"],
                       check=True, capture_output=True)  # fmt: skip
        print(f"postgres_cluster: throwaway on port {port} ({opts.split(' -c ', 1)[1]})", flush=True)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def bench_database(url: str, name: str) -> Iterator[str]:
    """A fresh database ``name`` on the server of ``url``, dropped after."""
    admin = make_engine(Settings(db=url).db).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield Settings(db=url).db.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def postgres_database(pg: str | None, name: str) -> Iterator[str]:
    """A fresh database ``name`` on the server ``pg`` names, or on a throwaway cluster when it names none."""
    if pg is None:
        with throwaway_postgres() as server, bench_database(server, name) as url:
            yield url
    else:
        with bench_database(pg, name) as url:
            yield url
