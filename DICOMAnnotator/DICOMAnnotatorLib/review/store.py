"""The store: one SQLAlchemy engine over SQLite or PostgreSQL, and its transactions.

Every action runs in one :meth:`ReviewStore.write` transaction that also appends its audit
records, so an action and its audit trail are committed together or not at all.

Writers are serialised where they touch the same rows: on SQLite each write transaction
starts with ``BEGIN IMMEDIATE`` (one writer at a time, readers go on thanks to WAL; waiting
writers retry for up to :data:`BUSY_TIMEOUT_S`); on PostgreSQL the workflow locks the case
row (``SELECT ... FOR UPDATE``) before reading what it decides on, and the audit append locks
the audit head row last, which keeps the lock order the same in every transaction.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, exc
from sqlalchemy.engine import Engine, make_url

from ..errors import MissingDependencyError
from . import migrations
from .audit import AuditEntry, FileRecord, append_records
from .errors import ReviewError, StoreError
from .stored_files import FileStore
from .url import default_files_root, is_sqlite, resolve_store_url

#: Actor of the records the program writes by itself (schema creation and upgrades).
SYSTEM_ACTOR = "dicom-annotator"
#: How long a SQLite writer waits for another one before giving up.
BUSY_TIMEOUT_S = 30.0

#: Test hook (crash-safety tests only): ``ACTION:MARKER_FILE`` makes a write transaction that
#: records ACTION create MARKER_FILE and sleep just before COMMIT, so a test can kill it there.
PAUSE_ENV = "DICOM_ANNOTATOR_TEST_PAUSE_BEFORE_COMMIT"


def utc_now() -> str:
    """The current time as stored: ISO 8601, UTC, microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class Transaction:
    """One action in progress: its connection, who acts, when, and its audit records."""

    conn: Connection
    actor: str
    now: str
    records: list[AuditEntry] = field(default_factory=list)

    def record(self, action: str, *, project: str | None = None, case: int | None = None,
               reason: str | None = None, details: dict[str, Any] | None = None,
               files: tuple[FileRecord, ...] | list[FileRecord] = ()) -> None:
        """Add an audit record (who, when, what, why, file hashes), written when the action commits."""
        self.records.append(AuditEntry(action, project, case, reason, dict(details or {}), tuple(files)))


class ReviewStore:
    """A review store opened from a URL (see :func:`resolve_store_url`); close it, or use ``with``.

    Opening upgrades an older schema, and with ``create`` makes a new store in an empty
    database (or a new SQLite file); without it a missing store is an error, so that a
    mistyped URL is reported instead of silently starting an empty store.
    """

    def __init__(self, url: str | None = None, *, create: bool = True,
                 files: str | os.PathLike[str] | None = None) -> None:
        self.url = resolve_store_url(url)
        self.is_sqlite = is_sqlite(self.url)
        #: The store's own copies of the files it records (see :mod:`.stored_files`).
        self.files = FileStore(files if files is not None else default_files_root(self.url))
        if self.is_sqlite and not create and not Path(make_url(self.url).database or "").is_file():
            raise StoreError(f"No review store at {self.display_url}; check --store (or $DICOM_ANNOTATOR_STORE), or "
                             "create one: user add NAME --role lead")
        self.engine = _create_engine(self.url)
        try:
            self._ensure_schema(create=create)
        except BaseException:
            self.engine.dispose()
            raise

    def _ensure_schema(self, *, create: bool) -> None:
        """Create (with ``create``) or upgrade the schema (see :mod:`.migrations`); one query when it is current."""
        with self.read() as conn:
            version = migrations.stored_version(conn)
        if version == migrations.current_version():
            return
        self._refuse_newer(version)
        if version is None and not create:
            raise StoreError(f"No review store in {self.display_url}; check --store (or $DICOM_ANNOTATOR_STORE), or "
                             "create one: user add NAME --role lead")
        with self.write(SYSTEM_ACTOR) as tx:
            if not self.is_sqlite:
                migrations.lock_schema(tx.conn)
            version = migrations.stored_version(tx.conn)  # again, now that no other process can be doing this
            self._refuse_newer(version)
            if version is None:
                migrations.create_schema(tx.conn, tx.now)
                tx.record("store.create", details={"schema_version": migrations.current_version()})
                return
            for step in migrations.upgrade_schema(tx.conn, version, tx.now):
                tx.record("store.upgrade", reason=step.description,
                          details={"from_version": step.to_version - 1, "to_version": step.to_version})

    def _refuse_newer(self, version: int | None) -> None:
        if version is not None and version > migrations.current_version():
            raise StoreError(f"Store {self.display_url} has schema version {version}, newer than the "
                             f"{migrations.current_version()} this dicom-annotator knows; "
                             "upgrade dicom-annotator to use it")

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def write(self, actor: str) -> Iterator[Transaction]:
        """A write transaction for ``actor``; commits with its audit records, rolls back on any error."""
        with self._connection(immediate=True) as conn, conn.begin():
            tx = Transaction(conn, actor, utc_now())
            yield tx
            if tx.records:
                append_records(conn, tx.actor, tx.now, tx.records)
                _pause_for_tests(tx.records)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with one consistent view of the store."""
        with self._connection(immediate=False) as conn, conn.begin():
            yield conn

    @contextmanager
    def _connection(self, *, immediate: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE" if immediate else "BEGIN")
                else:
                    conn = conn.execution_options(isolation_level="READ COMMITTED" if immediate
                                                  else "REPEATABLE READ")
                yield conn
        except ReviewError:
            raise
        except exc.IntegrityError as error:
            raise StoreError(f"A concurrent change to the same record in store {self.display_url} won "
                             f"({_first_line(error.orig)}); nothing was changed: run the command again") from error
        except exc.DBAPIError as error:
            raise StoreError(f"Store {self.display_url}: {_first_line(error.orig)}; nothing was changed: check that "
                             "the database is reachable and writable, then run the command again") from error


def _create_engine(url: str) -> Engine:
    if is_sqlite(url):
        path = Path(make_url(url).database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise MissingDependencyError("psycopg", "A PostgreSQL review store",
                                     "pip install 'psycopg[binary]' (or use a SQLite store)") from None
    return create_engine(url, pool_pre_ping=False)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """WAL (readers never wait for the writer), full fsync on commit, foreign keys on.

    The driver's own transaction handling is switched off so that ``_begin_sqlite`` decides
    how each transaction begins.
    """
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def _pause_for_tests(records: list[AuditEntry]) -> None:
    setting = os.environ.get(PAUSE_ENV)
    if not setting:
        return
    action, _, marker = setting.partition(":")
    if any(record.action == action for record in records):
        Path(marker).write_text(str(os.getpid()))
        time.sleep(3600)


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
