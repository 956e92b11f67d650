"""A throw-away PostgreSQL server on 127.0.0.1 (Debian's postgresql package), for tests and benchmarks.

``initdb`` into a temporary folder, ``pg_ctl start`` on a free port with the socket in that
folder, ``pg_ctl stop -m immediate`` and removal at the end. PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` system user (or ``nobody``).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_database_numbers = itertools.count(1)


def find_program(name: str) -> str | None:
    """``initdb``/``pg_ctl`` from PATH, else from Debian's versioned folders (newest version)."""
    found = shutil.which(name)
    if found is None:
        candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
        found = max(candidates, key=lambda p: int(Path(p).parts[-3]), default=None)
    return found


class PostgresServer:
    """Start with :meth:`start`, stop with :meth:`stop` (or use ``with``)."""

    def __init__(self, initdb: str, pg_ctl: str, *, durable: bool = False) -> None:
        self.initdb, self.pg_ctl, self.durable = initdb, pg_ctl, durable
        self.base = Path(tempfile.mkdtemp(prefix="review-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.admin_url = f"postgresql://review@127.0.0.1:{self.port}/postgres"
        self._user = _server_user()
        if self._user is not None:
            os.chown(self.base, pwd.getpwnam(self._user).pw_uid, -1)

    def start(self) -> PostgresServer:
        self._run(self.initdb, "-D", str(self.data), "-U", "review", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c max_connections=200"
        if not self.durable:  # tests: crash safety is about killed clients, not power cuts
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.base / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def new_database(self) -> str:
        """An empty database; returns its plain ``postgresql://`` URL."""
        import psycopg

        name = f"review_{os.getpid()}_{next(_database_numbers)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://review@127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, *command: str, check: bool = True) -> None:
        if self._user is not None:
            command = ("runuser", "-u", self._user, "--", *command)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stdout}\n{result.stderr}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> str | None:
    """Who runs the server: ourselves, or as root a system user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("Running as root and no 'postgres' or 'nobody' user exists to run PostgreSQL as")
