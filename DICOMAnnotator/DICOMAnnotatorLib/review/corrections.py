"""How much each annotator changed the AI draft they started from: measured at submission, summed per project.

At each submission of a case that has a draft, the submitted SEG is compared with the case's latest
draft on the series, structure by structure of the draft: Dice, HD95, voxels added and removed
(:func:`..agreement.compare_with_draft`). The figures are stored with the submission, in the same
transaction, together with when the annotator first opened the case in that round, so that
``project status`` can say how much the experts corrected the model and how long it took them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from ..errors import DICOMAnnotatorError
from .cases import Case
from .drafts import latest_draft
from .schema import cases, draft_corrections, submissions
from .store import ReviewStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Corrections:
    """A submission against draft ``draft_id``: one :class:`..agreement.StructureChange` per structure of it."""

    draft_id: int
    draft_sha256: str
    changes: tuple[Any, ...]

    def to_json(self) -> list[dict[str, Any]]:
        return [{"segment": c.label, "dice": round(c.metrics.dice, 6), "voxels_added": c.voxels_added,
                 "voxels_removed": c.voxels_removed} for c in self.changes]


def measure_corrections(store: ReviewStore, case: Case, submitted_seg: str | Path) -> Corrections | None:
    """The submitted SEG against the case's latest draft (None without a draft). A draft or series that cannot be
    read is logged and not measured: the submission stands either way. The comparison's modules (SciPy among
    them) are imported only for a case that has a draft, so that a plain submission does not pay for them."""
    with store.read() as conn:
        draft = latest_draft(conn, case.id)
    if draft is None:
        return None
    from ..agreement import compare_with_draft
    from ..imaging import ReferenceSeries
    from ..seg import read_segs

    try:
        kept = store.files.open_verified(draft.seg_sha256)
        series = ReferenceSeries.from_paths(case.image_location, series_uid=case.series_uid)
        drafted, submitted = read_segs([kept, submitted_seg], series)
        return Corrections(draft.id, draft.seg_sha256, tuple(compare_with_draft(drafted, submitted)))
    except DICOMAnnotatorError as error:
        log.warning("Case %s: the submission is not compared with its AI draft: %s", case.id, error)
        return None


def record_corrections(conn: Connection, submission_id: int, corrections: Corrections) -> None:
    """Store the measured corrections of submission ``submission_id`` (inside the submission's transaction)."""
    rows = [{"submission_id": submission_id, "draft_id": corrections.draft_id, "structure": c.label,
             "draft_voxels": c.draft_voxels, "result_voxels": c.result_voxels, "voxels_added": c.voxels_added,
             "voxels_removed": c.voxels_removed, "dice": c.metrics.dice, "hd95_mm": c.metrics.hd95_mm}
            for c in corrections.changes]
    if rows:
        conn.execute(insert(draft_corrections), rows)


def case_corrections(conn: Connection, case_id: int) -> dict[int, list[dict[str, Any]]]:
    """Per submission of the case (by id), its corrections of the draft structure by structure, as ``case show``
    lists them with the submission."""
    query = (select(draft_corrections).join(submissions, submissions.c.id == draft_corrections.c.submission_id)
             .where(submissions.c.case_id == case_id).order_by(draft_corrections.c.id))
    measured: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(query):
        measured.setdefault(row.submission_id, []).append({
            "draft": row.draft_id, "segment": row.structure, "dice": row.dice, "hd95_mm": row.hd95_mm,
            "draft_voxels": row.draft_voxels, "result_voxels": row.result_voxels,
            "voxels_added": row.voxels_added, "voxels_removed": row.voxels_removed})
    return measured


def project_corrections(conn: Connection, project_id: int) -> dict[str, Any]:
    """The ``drafts`` object of ``project status``: per structure, over each annotator's latest submission per case,
    how much the drafts were changed (mean Dice and HD95 to the draft, voxels added and removed in total) and the
    mean time from opening the case to submitting it."""
    query = (select(draft_corrections, submissions.c.case_id, submissions.c.user_id, submissions.c.round,
                    submissions.c.opened_at, submissions.c.submitted_at)
             .join(submissions, submissions.c.id == draft_corrections.c.submission_id)
             .join(cases, cases.c.id == submissions.c.case_id)
             .where(cases.c.project_id == project_id).order_by(submissions.c.round, submissions.c.id))
    latest: dict[tuple[int, int], int] = {}
    rows = conn.execute(query).all()
    for row in rows:  # rounds ascending: the last one seen per case and annotator wins (earlier ones were redone)
        latest[(row.case_id, row.user_id)] = row.round
    by_structure: dict[str, list[Any]] = {}
    for row in rows:
        if latest[(row.case_id, row.user_id)] == row.round:
            by_structure.setdefault(row.structure, []).append(row)
    segments = []
    for structure, entries in sorted(by_structure.items()):
        distances = [e.hd95_mm for e in entries if e.hd95_mm is not None]
        seconds = [_seconds(e.opened_at, e.submitted_at) for e in entries if e.opened_at]
        segments.append({
            "segment": structure, "cases": len({e.case_id for e in entries}), "submissions": len(entries),
            "mean_dice": round(sum(e.dice for e in entries) / len(entries), 4),
            "mean_hd95_mm": round(sum(distances) / len(distances), 4) if distances else None,
            "voxels_added": sum(e.voxels_added for e in entries),
            "voxels_removed": sum(e.voxels_removed for e in entries),
            "mean_seconds_open_to_submit": round(sum(seconds) / len(seconds), 3) if seconds else None})
    return {"segments": segments}


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
