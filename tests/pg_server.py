"""A throw-away PostgreSQL server for the test session (and benchmarks), from the server binaries on the
machine (Debian: /usr/lib/postgresql/<major>/bin). As root the server runs as the ``postgres`` user (it
refuses to run as root), with its data and socket in a temporary folder owned by that user, listening on a
free port of 127.0.0.1 only, trust authentication. `stop()` kills it and removes the folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bindir() -> Path | None:
    """The folder holding initdb / pg_ctl (newest major version first), or None."""
    env = os.environ.get("CALLQA_PG_BINDIR")
    if env and (Path(env) / "initdb").exists():
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, bindir: Path, *, durable: bool = False, settings: dict[str, str] | None = None):
        self.bindir = bindir
        self.durable = durable  # fsync on (benchmarks) or off (tests: faster, nothing to keep)
        self.settings = dict(settings or {})  # server settings (`-c name=value`), e.g. a department's shared_buffers
        self.root = Path(tempfile.mkdtemp(prefix="callqa-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def start(self) -> PgServer:
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        r = self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-instructions",
        )  # fmt: skip
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        opts += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        r = self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w",
            "-t", "60", "start",
        )  # fmt: skip
        if r.returncode != 0:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            self.stop()
            raise RuntimeError(f"pg_ctl start failed: {r.stderr.strip()} {log[-2000:]}")
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        import sqlalchemy as sa

        eng = sa.create_engine(
            self.url().replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        try:
            with eng.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            eng.dispose()
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(durable: bool = False, attempts: int = 3, settings: dict[str, str] | None = None) -> PgServer:
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    for i in range(attempts):  # a free port can be taken between the probe and the start
        try:
            return PgServer(bindir, durable=durable, settings=settings).start()
        except RuntimeError:
            if i == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- helpers for tests parametrised over backends

_counter = [0]


def backend_db(request, tmp_path_factory, name: str, backend: str):
    """A database location for `backend`: a SQLite file path, or a fresh PostgreSQL database URL (on the
    session's server, fixture ``pg_server`` in conftest.py)."""
    if backend == "sqlite":
        return tmp_path_factory.mktemp(name) / "callqa.db"
    server = request.getfixturevalue("pg_server")
    _counter[0] += 1
    return server.create_database(f"{name}_{os.getpid()}_{_counter[0]}")


def _backends():
    import pytest

    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


BACKENDS = _backends()
