"""The append-only audit log: who did what, when, why, and the SHA-256 of the files involved.

Each record's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of
its content and the previous record's hash, so changing, deleting or reordering any record
breaks the chain from that record on; the head row (last number and hash) also catches the
deletion of the newest records. The chain proves integrity against edits made behind the
application's back, not against someone who rewrites the whole chain: keep the head hash
that ``audit verify`` prints somewhere else (a signed e-mail, a ticket) to anchor it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..atomic import atomic_path
from .errors import ReviewError
from .schema import audit_head, audit_log

#: The "previous hash" of the first record.
GENESIS_HASH = "0" * 64
#: The fields a record's hash covers, in the export's column order.
HASHED_FIELDS = ("seq", "at", "actor", "action", "project", "case_id", "reason", "details", "files", "prev_hash")


@dataclass(frozen=True)
class FileRecord:
    """A file an action involved: what it is to the case, where it was, its SHA-256."""

    role: str
    path: str
    sha256: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class AuditEntry:
    """An audit record not yet written (numbered and hashed when its transaction commits)."""

    action: str
    project: str | None
    case_id: int | None
    reason: str | None
    details: dict[str, Any]
    files: tuple[FileRecord, ...]


@dataclass(frozen=True)
class ChainReport:
    """What ``audit verify`` found: intact, or the first bad record and why."""

    records: int
    head_hash: str
    first_bad: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {"intact": self.intact, "records": self.records, "head_hash": self.head_hash,
                "first_bad_record": self.first_bad, "problem": self.problem}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(row: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a record's hashed fields (``details``/``files`` as stored text)."""
    return hashlib.sha256(canonical_json({name: row[name] for name in HASHED_FIELDS}).encode("utf-8")).hexdigest()


def initialise_head(conn: Connection) -> None:
    conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS_HASH))


def append_records(conn: Connection, actor: str, at: str, entries: list[AuditEntry]) -> None:
    """Number, chain and insert ``entries`` inside the caller's transaction (locks the head row)."""
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
                        .with_for_update()).one()
    seq, previous = head.seq, head.hash
    rows = []
    for entry in entries:
        seq += 1
        row = {"seq": seq, "at": at, "actor": actor, "action": entry.action, "project": entry.project,
               "case_id": entry.case_id, "reason": entry.reason, "details": canonical_json(entry.details),
               "files": canonical_json([f.to_json() for f in entry.files]), "prev_hash": previous}
        row["hash"] = previous = record_hash(row)
        rows.append(row)
    conn.execute(insert(audit_log), rows)
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=previous))


def verify_chain(conn: Connection) -> ChainReport:
    """Walk the log in order; report the first record whose number, link or content is wrong."""
    expected_seq, previous = 1, GENESIS_HASH
    for row in _rows(conn):
        seq = row["seq"]
        if seq != expected_seq:
            return ChainReport(expected_seq - 1, previous, expected_seq,
                               f"record {expected_seq} is missing (the log goes from record {expected_seq - 1} to "
                               f"{seq}): records were deleted")
        if row["prev_hash"] != previous:
            return ChainReport(seq - 1, previous, seq,
                               f"record {seq} does not follow record {seq - 1} (its previous-hash differs): "
                               f"record {seq - 1} or {seq} was replaced or the records were reordered")
        if record_hash(row) != row["hash"]:
            return ChainReport(seq - 1, previous, seq,
                               f"record {seq} ({row['action']} by {row['actor']} at {row['at']}) does not match its "
                               "hash: it was changed after it was written")
        previous = row["hash"]
        expected_seq += 1
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).one_or_none()
    last = expected_seq - 1
    if head is None or head.seq != last or head.hash != previous:
        said = "no head record" if head is None else f"the head names record {head.seq}"
        return ChainReport(last, previous, last + 1,
                           f"the log ends at record {last} but {said}: the newest records were deleted")
    return ChainReport(last, previous)


def export_log(conn: Connection, output: str | os.PathLike[str], fmt: str, *, force: bool = False) -> int:
    """Write every record (CSV or JSON) to ``output`` atomically; returns the number of records.

    The JSON export has ``details`` and ``files`` as objects and says how to recompute each
    hash; the CSV keeps them as the exact stored JSON text, so hashes can be recomputed as is.
    """
    if fmt not in ("csv", "json"):
        raise ReviewError(f"Unknown audit export format {fmt!r}; use csv or json")
    count = 0
    with atomic_path(output, force=force) as temporary, open(temporary, "w", encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            writer = csv.DictWriter(handle, fieldnames=[*HASHED_FIELDS, "hash"])
            writer.writeheader()
            for row in _rows(conn):
                writer.writerow(row)
                count += 1
        else:
            rule = ("hash = sha256(canonical JSON of {" + ", ".join(HASHED_FIELDS) + "}), with details and files as "
                    "canonical JSON text; canonical JSON: sorted keys, separators ',' and ':', UTF-8")
            handle.write('{"hash_rule": ' + json.dumps(rule) + ',\n"records": [')
            for row in _rows(conn):
                record = {**row, "details": json.loads(row["details"]), "files": json.loads(row["files"])}
                handle.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
                count += 1
            report = verify_chain(conn)
            handle.write('\n],\n"chain": ' + json.dumps(report.to_json()) + "}\n")
    return count


def _rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """The records in number order, streamed (the log can hold millions)."""
    columns = [audit_log.c[name] for name in (*HASHED_FIELDS, "hash")]
    result = conn.execution_options(yield_per=2000).execute(select(*columns).order_by(audit_log.c.seq))
    for row in result.mappings():
        yield dict(row)
