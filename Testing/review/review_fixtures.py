"""Fixtures of the review tests: a real PostgreSQL server on 127.0.0.1, fresh stores, the CLI in-process.

Test modules load them with ``pytest_plugins = ["review_fixtures"]`` (a conftest.py here would
shadow the root conftest module that other tests import by name).

The server is Debian's PostgreSQL (scripts/install-test-tools.sh installs it), started once
per test session in a temporary data directory on a free port and removed at the end.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user (or
``nobody``). Under CI=true a missing PostgreSQL fails the tests instead of skipping them.
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
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import require_tool
from DICOMAnnotatorLib.cli import main as cli_main

_database_numbers = itertools.count(1)


def postgres_program(name: str) -> str:
    """``initdb``/``pg_ctl`` from PATH or Debian's versioned folder (the newest version)."""
    found = shutil.which(name)
    if found is None:
        candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
        found = max(candidates, key=lambda p: int(Path(p).parts[-3]), default=None)
    return found or require_tool(name)


@dataclass
class PostgresServer:
    port: int
    admin_url: str

    def new_database(self) -> str:
        """An empty database; returns its ``postgresql://`` URL (the store's plain form)."""
        import psycopg

        name = f"review_{os.getpid()}_{next(_database_numbers)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://review@127.0.0.1:{self.port}/{name}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> tuple[list[str], int | None]:
    """The command as a non-root user when we are root, and that user's uid (None: ourselves)."""
    if os.geteuid() != 0:
        return command, None
    for name in ("postgres", "nobody"):
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        return ["runuser", "-u", name, "--", *command], uid
    pytest.fail("Running as root and no 'postgres' or 'nobody' user exists to run PostgreSQL as")


@pytest.fixture(scope="session")
def postgres_server():
    initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="review-pg-"))
    data = base / "data"
    _, uid = _as_server_user([])
    if uid is not None:
        os.chown(base, uid, -1)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def run(*command: str) -> None:
        wrapped, _ = _as_server_user(list(command))
        result = subprocess.run(wrapped, capture_output=True, text=True, env=env, timeout=120)
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed: {result.stdout}\n{result.stderr}")

    run(initdb, "-D", str(data), "-U", "review", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=200")
    run(pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-o", options, "-w", "-t", "60", "start")
    try:
        yield PostgresServer(port, f"postgresql://review@127.0.0.1:{port}/postgres")
    finally:
        wrapped, _ = _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"])
        subprocess.run(wrapped, capture_output=True, env=env, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A URL of an empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``dicom-annotator`` in-process; returns (exit status, stdout, stderr)."""
    monkeypatch.delenv("DICOM_ANNOTATOR_USER", raising=False)
    monkeypatch.delenv("DICOM_ANNOTATOR_STORE", raising=False)

    def invoke(*args: object) -> tuple[int, str, str]:
        try:
            status = cli_main.main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            status = exc.code
        out, err = capsys.readouterr()
        return status, out, err

    return invoke
