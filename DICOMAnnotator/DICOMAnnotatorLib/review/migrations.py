"""Schema versions: an empty database gets the current schema, an older one is upgraded step by step.

``schema_version`` holds one row per version reached. A new store is created with
``metadata.create_all`` and stamped with the current version; a store at version k runs
``UPGRADES[k-1:]`` in order, each step in the same transaction as its version row and audit
record, so an upgrade interrupted half-way leaves the store at its old version. A store
written by a newer program is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, insert, inspect, select, text

from .audit import initialise_head
from .errors import StoreError
from .schema import metadata, schema_version, submissions

if TYPE_CHECKING:
    from .store import ReviewStore

#: Actor of the records the program writes by itself (schema creation and upgrades).
SYSTEM_ACTOR = "dicom-annotator"
#: Serialises schema creation and upgrades of one PostgreSQL database across processes.
_PG_LOCK_KEY = 0x44434D5256  # "DCMRV"


@dataclass(frozen=True)
class Upgrade:
    """One step: from version ``to_version - 1`` to ``to_version``."""

    to_version: int
    description: str
    apply: Callable[[Connection], None]


def _sr_only_submissions(conn: Connection) -> None:
    """Version 2: a submission may be an SR alone, a consensus an SR (protocols of landmarks, boxes, labels),
    and a consensus SEG has its consensus SR beside it."""
    conn.execute(text("ALTER TABLE consensus ADD COLUMN output_kind VARCHAR(8) DEFAULT 'seg' NOT NULL"))
    conn.execute(text("ALTER TABLE consensus ADD COLUMN sr_path TEXT"))
    conn.execute(text("ALTER TABLE consensus ADD COLUMN sr_sha256 VARCHAR(64)"))
    if conn.dialect.name == "postgresql":
        for column in ("seg_path", "seg_sha256"):
            conn.execute(text(f"ALTER TABLE submissions ALTER COLUMN {column} DROP NOT NULL"))
        conn.execute(text("ALTER TABLE submissions ADD CONSTRAINT ck_submission_files "
                          "CHECK (seg_path IS NOT NULL OR sr_path IS NOT NULL)"))
        return
    # SQLite cannot change a column's constraints: the table is rebuilt, rows copied as they are.
    columns = ", ".join(column.name for column in submissions.columns)
    conn.execute(text("ALTER TABLE submissions RENAME TO submissions_v1"))
    submissions.create(conn)
    conn.execute(text(f"INSERT INTO submissions ({columns}) SELECT {columns} FROM submissions_v1"))
    conn.execute(text("DROP TABLE submissions_v1"))


#: Step k (0-based) upgrades a store from version k+1 to k+2. Add a step whenever the tables in
#: :mod:`.schema` change, and change the tables there to what the steps produce.
UPGRADES: list[Upgrade] = [Upgrade(2, "SR-only submissions and SR consensus", _sr_only_submissions)]


def current_version() -> int:
    """The schema version this program writes: 1 plus the number of upgrade steps."""
    return 1 + len(UPGRADES)


def stored_version(conn: Connection) -> int | None:
    """The store's schema version, or None for a database without a review store."""
    if not inspect(conn).has_table(schema_version.name):
        return None
    return conn.execute(select(func.max(schema_version.c.version))).scalar()


def ensure_schema(store: ReviewStore, *, create: bool = True) -> None:
    """Create (with ``create``) or upgrade ``store``'s schema (no-op, one query, when it is current)."""
    with store.read() as conn:
        version = stored_version(conn)
    if version == current_version():
        return
    _refuse_newer(store, version)
    if version is None and not create:
        raise StoreError(f"No review store in {store.display_url}; check --store (or $DICOM_ANNOTATOR_STORE), or "
                         "create one: user add NAME --role lead")
    with store.write(SYSTEM_ACTOR) as tx:
        if not store.is_sqlite:
            tx.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        version = stored_version(tx.conn)  # again, now that no other process can be doing this
        _refuse_newer(store, version)
        if version is None:
            metadata.create_all(tx.conn)
            initialise_head(tx.conn)
            tx.conn.execute(insert(schema_version).values(version=current_version(), applied_at=tx.now,
                                                          description="new store"))
            tx.record("store.create", details={"schema_version": current_version()})
            return
        for step in UPGRADES[version - 1:]:
            step.apply(tx.conn)
            tx.conn.execute(insert(schema_version).values(version=step.to_version, applied_at=tx.now,
                                                          description=step.description))
            tx.record("store.upgrade", reason=step.description,
                      details={"from_version": step.to_version - 1, "to_version": step.to_version})


def _refuse_newer(store: ReviewStore, version: int | None) -> None:
    if version is not None and version > current_version():
        raise StoreError(f"Store {store.display_url} has schema version {version}, newer than the {current_version()} "
                         "this dicom-annotator knows; upgrade dicom-annotator to use it")
