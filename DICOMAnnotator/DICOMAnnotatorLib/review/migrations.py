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

from sqlalchemy import Connection, func, insert, inspect, select, text

from .audit import initialise_head
from .schema import case_images, case_opens, draft_corrections, drafts, metadata, schema_version, sessions, submissions

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
    # SQLite cannot change a column's constraints: the table is rebuilt (as the current schema has it, so with
    # the columns later versions add, which their steps then find present), rows copied as they are.
    kept = {column["name"] for column in inspect(conn).get_columns("submissions")}
    columns = ", ".join(column.name for column in submissions.columns if column.name in kept)
    conn.execute(text("ALTER TABLE submissions RENAME TO submissions_v1"))
    submissions.create(conn)
    conn.execute(text(f"INSERT INTO submissions ({columns}) SELECT {columns} FROM submissions_v1"))
    conn.execute(text("DROP TABLE submissions_v1"))


def _identity_and_files(conn: Connection) -> None:
    """Version 3: passwords, lock-outs and sessions; the printed name of signatures; case images."""
    for column in ("full_name TEXT", "password_hash TEXT", "failed_logins INTEGER NOT NULL DEFAULT 0",
                   "locked_until VARCHAR(32)"):
        conn.execute(text(f"ALTER TABLE users ADD COLUMN {column}"))
    conn.execute(text("ALTER TABLE signatures ADD COLUMN printed_name TEXT"))
    sessions.create(conn)
    case_images.create(conn)


def _ai_drafts(conn: Connection) -> None:
    """Version 4: AI drafts, how each submission corrected its draft, and when annotators opened their cases."""
    if "opened_at" not in {column["name"] for column in inspect(conn).get_columns("submissions")}:
        conn.execute(text("ALTER TABLE submissions ADD COLUMN opened_at VARCHAR(32)"))
    for table in (drafts, draft_corrections, case_opens):
        table.create(conn)


#: Step k (0-based) upgrades a store from version k+1 to k+2. Add a step whenever the tables in
#: :mod:`.schema` change, and change the tables there to what the steps produce.
UPGRADES: list[Upgrade] = [Upgrade(2, "SR-only submissions and SR consensus", _sr_only_submissions),
                           Upgrade(3, "identity, sessions, case images", _identity_and_files),
                           Upgrade(4, "AI drafts, their corrections, case openings", _ai_drafts)]


def current_version() -> int:
    """The schema version this program writes: 1 plus the number of upgrade steps."""
    return 1 + len(UPGRADES)


def stored_version(conn: Connection) -> int | None:
    """The store's schema version, or None for a database without a review store."""
    if not inspect(conn).has_table(schema_version.name):
        return None
    return conn.execute(select(func.max(schema_version.c.version))).scalar()


def create_schema(conn: Connection, now: str) -> None:
    """The current schema in an empty database, stamped with its version and an audit head."""
    metadata.create_all(conn)
    initialise_head(conn)
    conn.execute(insert(schema_version).values(version=current_version(), applied_at=now, description="new store"))


def upgrade_schema(conn: Connection, version: int, now: str) -> list[Upgrade]:
    """Run the steps from ``version`` to the current one, each stamped with its version; returns them."""
    steps = UPGRADES[version - 1:]
    for step in steps:
        step.apply(conn)
        conn.execute(insert(schema_version).values(version=step.to_version, applied_at=now,
                                                   description=step.description))
    return steps


def lock_schema(conn: Connection) -> None:
    """On PostgreSQL, hold the schema lock until the transaction ends (no two processes upgrade at once)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
