"""A real PostgreSQL server for the tests, from Debian's binaries, in a temporary folder.

``initdb`` and ``postgres`` refuse to run as root, so as root the server runs as the ``postgres``
system user (``runuser``). It listens on 127.0.0.1 on a free port (password authentication, a
``vlm`` role with a password) and on a Unix socket in its folder (trusted, for the superuser
that creates a fresh database per test).
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from itertools import count
from pathlib import Path

import psycopg2


def _bin_dir() -> Path:
    """``$VLMFORGE_PG_BIN``, else the newest /usr/lib/postgresql/N/bin (Debian's layout)."""
    if os.environ.get("VLMFORGE_PG_BIN"):
        return Path(os.environ["VLMFORGE_PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


BIN = _bin_dir()
USER, PASSWORD = "vlm", "pg-Secret-9f3c1e77"
_names = count()


def binaries_missing() -> str | None:
    """Why no server can be started here, or None."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (BIN / tool).is_file():
            return f"PostgreSQL server binaries not found in {BIN} (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """``start()``, ``new_database()`` (a DSN with the password), ``stop()``."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: PostgreSQL's default fsync and synchronous commit (benchmarks); else
        both off (tests: nothing here must survive a power cut)."""
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="vlmforge-pg-"))
        self.data, self.socket_dir = self.root / "data", self.root / "sock"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")

    def start(self) -> PgServer:
        self.socket_dir.mkdir(parents=True)
        if self.as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_root:
            shutil.chown(pwfile, "postgres")
        self._run(
            str(BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.socket_dir} -c max_connections=200 "
            "-c shared_buffers=32MB"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        with self.admin() as con, con.cursor() as cur:
            cur.execute(f"CREATE ROLE {USER} LOGIN PASSWORD %s", (PASSWORD,))
        return self

    def admin(self, dbname: str = "postgres") -> psycopg2.extensions.connection:
        con = psycopg2.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname
        )
        con.autocommit = True
        return con

    def dsn(self, dbname: str, *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh empty database owned by the ``vlm`` role; its DSN (with the password)."""
        name = f"{prefix}{os.getpid()}_{next(_names)}"
        con = self.admin()
        try:
            with con.cursor() as cur:
                cur.execute(f"CREATE DATABASE {name} OWNER {USER} TEMPLATE template0")
        finally:
            con.close()
        return self.dsn(name)

    def stop(self) -> None:
        try:
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


_shared: PgServer | None = None


def shared_server() -> PgServer:
    """One server per test process, started on first use and stopped when the process exits
    (the ``pg_server`` fixtures of tests/store and tests/fanout share it)."""
    global _shared
    if _shared is None:
        _shared = PgServer().start()
        atexit.register(_shared.stop)
    return _shared


def wait_ready(server: PgServer, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            server.admin().close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
