"""Fixtures of the review and server tests: a real PostgreSQL server on 127.0.0.1, fresh stores, the CLI in-process.

Test modules load them with ``pytest_plugins = ["review_fixtures"]`` (a conftest.py here would
shadow the root conftest module that other tests import by name).

The server is Debian's PostgreSQL (scripts/install-test-tools.sh installs it), started once
per test session in a temporary data directory on a free port and removed at the end.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user (or
``nobody``). Under CI=true a missing PostgreSQL fails the tests instead of skipping them.
"""

from __future__ import annotations

import pytest
from conftest import in_process_cli, require_tool
from postgres_server import PostgresServer, find_program


@pytest.fixture(scope="session")
def postgres_server():
    """One server for the whole session (missing PostgreSQL: fails under CI=true, else skips)."""
    initdb, pg_ctl = (find_program(name) or require_tool(name) for name in ("initdb", "pg_ctl"))
    try:
        server = PostgresServer(initdb, pg_ctl).start()
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path, monkeypatch) -> str:
    """A URL of an empty store, once on SQLite and once on PostgreSQL (its files under the test's folder)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    monkeypatch.setenv("DICOM_ANNOTATOR_FILES", str(tmp_path / "review-files"))
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``dicom-annotator`` in-process; returns (exit status, stdout, stderr)."""
    monkeypatch.delenv("DICOM_ANNOTATOR_USER", raising=False)
    monkeypatch.delenv("DICOM_ANNOTATOR_STORE", raising=False)
    return in_process_cli(capsys)
