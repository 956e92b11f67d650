"""What users may read: one case (with blinding) and a project's progress.

Blinding: until a case is final, an annotator of the case sees only their own submissions,
no other annotator's name and no consensus; reviewers' comments stay visible, since a change
request is addressed to them, and so do the case's AI drafts, which annotators start from.
Users who are not on the case need a reviewing or lead role, and see a round's submissions
once its last one is in (so that no one reads an early submission while the others are still
being drawn).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, cast, func, select

from ..protocols import ReviewRole
from .cases import annotator_ids, case_project, get_case
from .corrections import case_corrections, project_corrections
from .drafts import case_drafts
from .errors import PermissionDeniedError, ReviewError
from .projects import get_project
from .schema import assignments, cases, consensus, reviews, signatures, submissions, users
from .states import CaseState
from .store import ReviewStore, utc_now
from .users import get_user

_SEE_ALL = frozenset({ReviewRole.REVIEWER, ReviewRole.RADIOLOGIST, ReviewRole.LEAD})


def show_case(store: ReviewStore, case_id: int, viewer: str) -> dict[str, Any]:
    """The ``case show --json`` object as ``viewer`` may see it."""
    with store.read() as conn:
        user = get_user(conn, viewer)
        case = get_case(conn, case_id)
        project = case_project(conn, case)
        on_case = user.id in annotator_ids(conn, case.id)
        final = case.state is CaseState.FINAL
        if not (final or on_case or user.roles & _SEE_ALL):
            raise PermissionDeniedError(f"Case {case.id} is not assigned to {user.name}, who may see only their own "
                                        "cases until a case is final")
        blinded = on_case and not final
        only = user.id if blinded else None
        round_open = not on_case and case.state in (CaseState.ASSIGNED, CaseState.IN_PROGRESS)
        payload = {**case.to_json(), "project": project.name,
                   "tier_name": project.tier(case.tier).name if case.tier else None,
                   "blinded": blinded,
                   "annotators": _annotators(conn, case.id, only),
                   "submissions": _submissions(conn, case.id, only, hide_round=case.round if round_open else None),
                   "reviews": _reviews(conn, case.id),
                   "consensus": [] if blinded else _consensus(conn, case.id),
                   "signature": _signature(conn, case.id),
                   "drafts": case_drafts(conn, case.id)}
    return payload


def project_status(store: ReviewStore, project_name: str) -> dict[str, Any]:
    """The ``project status --json`` object: counts by state, per-annotator throughput, agreement so far."""
    with store.read() as conn:
        project = get_project(conn, project_name)
        by_state = {state.value: 0 for state in CaseState}
        for state, count in conn.execute(select(cases.c.state, func.count()).where(
                cases.c.project_id == project.id).group_by(cases.c.state)):
            by_state[state] = count
        return {"project": project.name, "cases": sum(by_state.values()), "by_state": by_state,
                "annotators": _throughput(conn, project.id), "agreement": _agreement(conn, project.id),
                "drafts": project_corrections(conn, project.id), **project.to_json()}


def list_cases(store: ReviewStore, project_name: str, *, state: str | None = None) -> list[dict[str, Any]]:
    """The ``case`` objects of a project's cases (``state`` one of the workflow's states, or all)."""
    from .cases import case_from_row

    if state is not None and state not in {s.value for s in CaseState}:
        raise ReviewError(f"Unknown case state {state!r}; use one of " + ", ".join(s.value for s in CaseState))
    with store.read() as conn:
        project = get_project(conn, project_name)
        query = select(cases).where(cases.c.project_id == project.id).order_by(cases.c.id)
        if state is not None:
            query = query.where(cases.c.state == state)
        return [case_from_row(row).to_json() for row in conn.execute(query)]


def signed_result_files(store: ReviewStore, case_id: int) -> list[dict[str, str]]:
    """The files a signature covers, as the store keeps them: the signed SEG (or SR) and the SR beside it
    (the consensus SR, or the single submission's SR), each ``{"role", "path", "sha256"}``."""
    with store.read() as conn:
        signature = conn.execute(select(signatures).where(signatures.c.case_id == case_id)).one_or_none()
        if signature is None:
            raise ReviewError(f"Case {case_id} is not signed; only signed results are sent on")
        files = [{"role": "signed", "path": signature.result_path, "sha256": signature.result_sha256}]
        merged = conn.execute(select(consensus.c.sr_path, consensus.c.sr_sha256).where(
            consensus.c.case_id == case_id, consensus.c.output_sha256 == signature.result_sha256)).first()
        single = conn.execute(select(submissions.c.sr_path, submissions.c.sr_sha256).where(
            submissions.c.case_id == case_id, submissions.c.seg_sha256 == signature.result_sha256)).first()
    for row in (merged, single):
        if row is not None and row.sr_path and row.sr_sha256 != signature.result_sha256:
            files.append({"role": "sr", "path": row.sr_path, "sha256": row.sr_sha256})
            break
    return files


def signed_cases(store: ReviewStore) -> list[int]:
    """Every signed case, oldest signature first."""
    with store.read() as conn:
        return list(conn.execute(select(signatures.c.case_id).order_by(signatures.c.id)).scalars())


def audit_details(store: ReviewStore, action: str) -> list[tuple[int | None, dict[str, Any]]]:
    """``(case, details)`` of every audit record of ``action``, in the log's order."""
    from .schema import audit_log

    with store.read() as conn:
        rows = conn.execute(select(audit_log.c.case_id, audit_log.c.details).where(audit_log.c.action == action)
                            .order_by(audit_log.c.seq)).all()
    return [(row.case_id, json.loads(row.details)) for row in rows]


def _annotators(conn: Connection, case_id: int, only: int | None) -> list[str]:
    query = select(users.c.name).join(assignments, assignments.c.user_id == users.c.id).where(
        assignments.c.case_id == case_id).order_by(assignments.c.slot)
    if only is not None:
        query = query.where(users.c.id == only)
    return list(conn.execute(query).scalars())


def _submissions(conn: Connection, case_id: int, only: int | None, *,
                 hide_round: int | None = None) -> list[dict[str, Any]]:
    query = select(submissions, users.c.name).join(users, users.c.id == submissions.c.user_id).where(
        submissions.c.case_id == case_id).order_by(submissions.c.id)
    if only is not None:
        query = query.where(submissions.c.user_id == only)
    if hide_round is not None:
        query = query.where(submissions.c.round != hide_round)
    corrections = case_corrections(conn, case_id)
    return [{"user": r.name, "round": r.round, "seg": r.seg_path, "seg_sha256": r.seg_sha256, "sr": r.sr_path,
             "sr_sha256": r.sr_sha256, "opened_at": r.opened_at, "submitted_at": r.submitted_at,
             "corrections": corrections.get(r.id, [])} for r in conn.execute(query)]


def _reviews(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    query = select(reviews, users.c.name).join(users, users.c.id == reviews.c.user_id).where(
        reviews.c.case_id == case_id).order_by(reviews.c.id)
    return [{"user": r.name, "round": r.round, "tier": r.tier, "tier_name": r.tier_name, "decision": r.decision,
             "comment": r.comment, "reviewed_at": r.reviewed_at} for r in conn.execute(query)]


def _consensus(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    query = select(consensus, users.c.name).join(users, users.c.id == consensus.c.user_id).where(
        consensus.c.case_id == case_id).order_by(consensus.c.round)
    rows = []
    for r in conn.execute(query):
        seg = (r.output_path, r.output_sha256) if r.output_kind == "seg" else (None, None)
        sr = (r.output_path, r.output_sha256) if r.output_kind == "sr" else (r.sr_path, r.sr_sha256)
        rows.append({"user": r.name, "round": r.round, "method": r.method, "threshold": float(r.threshold),
                     "seg": seg[0], "seg_sha256": seg[1], "sr": sr[0], "sr_sha256": sr[1], "created_at": r.created_at,
                     "agreement": json.loads(r.agreement_json) if r.agreement_json else None})
    return rows


def _signature(conn: Connection, case_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(signatures, users.c.name).join(users, users.c.id == signatures.c.user_id).where(
        signatures.c.case_id == case_id)).one_or_none()
    if row is None:
        return None
    return {"user": row.name, "name": row.printed_name or row.name, "meaning": row.meaning,
            "signed_at": row.signed_at, "file": row.result_path, "sha256": row.result_sha256}


def _throughput(conn: Connection, project_id: int) -> dict[str, dict[str, Any]]:
    """Per annotator: cases held, open, submissions, and submissions per day since their first assignment."""
    stats: dict[str, dict[str, Any]] = {}
    for name, held, still_open, first in conn.execute(
            select(users.c.name, func.count(), func.sum(cast(assignments.c.is_open, Integer)),
                   func.min(assignments.c.assigned_at))
            .join(users, users.c.id == assignments.c.user_id).where(assignments.c.project_id == project_id)
            .group_by(users.c.name)):
        stats[name] = {"assigned": held, "open": int(still_open or 0), "submissions": 0, "first_assigned_at": first}
    for name, count, last in conn.execute(
            select(users.c.name, func.count(), func.max(submissions.c.submitted_at))
            .join(users, users.c.id == submissions.c.user_id).join(cases, cases.c.id == submissions.c.case_id)
            .where(cases.c.project_id == project_id).group_by(users.c.name)):
        stats.setdefault(name, {"assigned": 0, "open": 0, "first_assigned_at": None})
        stats[name].update(submissions=count, last_submission_at=last)
    now = datetime.fromisoformat(utc_now())
    for entry in stats.values():
        first = entry.pop("first_assigned_at")
        days = max((now - datetime.fromisoformat(first)).total_seconds() / 86400, 1.0) if first else 1.0
        entry["per_day"] = round(entry["submissions"] / days, 3)
        entry.setdefault("last_submission_at", None)
    return dict(sorted(stats.items()))


def _agreement(conn: Connection, project_id: int) -> dict[str, Any]:
    """Agreement over the cases whose consensus carried an agreement report: mean pairwise Dice per
    segment; per classification question, agreement over the subjects of all cases (kappa, alpha);
    per landmark and box structure, the mean distance or IoU of the annotators' marks.

    Each case counts once, with the report of its latest round (earlier rounds were redone).
    """
    rows = conn.execute(select(consensus.c.case_id, consensus.c.agreement_json)
                        .join(cases, cases.c.id == consensus.c.case_id)
                        .where(cases.c.project_id == project_id, consensus.c.agreement_json.is_not(None))
                        .order_by(consensus.c.round, consensus.c.id)).all()
    reports = [json.loads(text) for text in {case_id: text for case_id, text in rows}.values()]
    dice: dict[str, list[float]] = {}
    for report in reports:
        for segment in report.get("segments", []):
            name = segment.get("label") or "/".join(map(str, segment.get("type") or ["segment"]))
            dice.setdefault(name, []).extend(float(pair["dice"]) for pair in segment["pairs"])
    from ..agreement import pooled_label_agreement

    annotations = [report["annotations"] for report in reports if "annotations" in report]
    return {"cases": len(reports), "segments": [
        {"segment": name, "pairs": len(values), "mean_dice": round(sum(values) / len(values), 4),
         "min_dice": round(min(values), 4)} for name, values in sorted(dice.items()) if values],
        "labels": pooled_label_agreement(annotations), "marks": _mark_agreement(annotations)}


def _mark_agreement(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per marked structure: pairs compared, mean and worst distance (points) or IoU (boxes)."""
    figures: dict[tuple[str, str], list[float]] = {}
    for report in annotations:
        for mark in report.get("marks", []):
            for pair in mark["pairs"]:
                measure = "iou" if "iou" in pair else "distance_mm"
                figures.setdefault((mark["label"], measure), []).append(float(pair[measure]))
    rows = []
    for (label, measure), values in sorted(figures.items()):
        worst = min(values) if measure == "iou" else max(values)
        rows.append({"label": label, "pairs": len(values), f"mean_{measure}": round(sum(values) / len(values), 4),
                     f"{'min' if measure == 'iou' else 'max'}_{measure}": round(worst, 4)})
    return rows
