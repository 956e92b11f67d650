"""``evaluate PROJECT --algorithm NAME``: a model's drafts against the signed results of the same cases.

Each final case with a draft by the algorithm (its latest, or the latest of ``version``) is read on its
series: the draft SEG and the signed SEG, both from the store's own verified copies. Per structure of
the draft, Dice, HD95 and volume difference (:func:`..agreement.compare_with_draft`), then their
distribution over cases (:func:`..agreement.evaluation_summary`). Cases are read one at a time, so memory
follows one case whatever the project's size. The JSON explains its own figures (``definitions``), for
readers such as the dataset card.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .cases import case_from_row
from .projects import get_project
from .schema import cases, drafts, signatures
from .store import ReviewStore

REFERENCE = "the signed (final) result of each case"


def evaluate_drafts(store: ReviewStore, project_name: str, algorithm: str, *,
                    version: str | None = None) -> dict[str, Any]:
    """The ``evaluate --json`` object of ``algorithm`` (optionally one ``version``) in project ``project_name``."""
    from ..agreement import DEFINITIONS, compare_with_draft, evaluation_summary
    from ..imaging import ReferenceSeries
    from ..seg import read_segs

    with store.read() as conn:
        project = get_project(conn, project_name)
        final = conn.execute(select(cases, signatures.c.result_path, signatures.c.result_sha256)
                             .join(signatures, signatures.c.case_id == cases.c.id)
                             .where(cases.c.project_id == project.id).order_by(cases.c.id)).all()
        query = (select(drafts).join(cases, cases.c.id == drafts.c.case_id)
                 .where(cases.c.project_id == project.id, drafts.c.algorithm == algorithm).order_by(drafts.c.id))
        if version is not None:
            query = query.where(drafts.c.algorithm_version == version)
        latest = {row.case_id: row for row in conn.execute(query)}  # ascending ids: the latest per case wins
        drafted_cases = len(latest)
    named = f"{algorithm} {version}" if version else algorithm
    evaluated, not_evaluated, per_case = [], [], []
    for row in final:
        draft = latest.get(row.id)
        if draft is None:
            not_evaluated.append({"case": row.id, "reason": f"no draft by {named}"})
            continue
        reference = store.files.open_verified(row.result_sha256)
        if not _is_seg(reference):
            not_evaluated.append({"case": row.id, "reason": "its signed result is an SR, not a segmentation"})
            continue
        case = case_from_row(row)
        series = ReferenceSeries.from_paths(case.image_location, series_uid=case.series_uid)
        drafted, signed = read_segs([store.files.open_verified(draft.seg_sha256), reference], series)
        changes = compare_with_draft(drafted, signed)
        evaluated.append((row.id, changes))
        per_case.append({"case": row.id, "algorithm_version": draft.algorithm_version,
                         "draft_sha256": draft.seg_sha256, "reference_sha256": row.result_sha256,
                         "segments": [change.to_json() for change in changes]})
    return {"project": project.name, "algorithm": algorithm,
            "algorithm_versions": sorted({latest[case_id].algorithm_version for case_id, _ in evaluated}),
            "reference": REFERENCE, "definitions": DEFINITIONS, "cases_evaluated": len(evaluated),
            "cases_final": len(final), "cases_with_draft": drafted_cases, "not_evaluated": not_evaluated,
            "segments": evaluation_summary(evaluated), "cases": per_case}


def _is_seg(path) -> bool:
    from ..dicom import read_header

    return str(read_header(path).get("Modality", "")) == "SEG"
