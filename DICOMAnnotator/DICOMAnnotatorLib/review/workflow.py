"""The actions that move a case along: submit, consensus, review, final sign-off.

Each action reads what it decides on after locking the case, checks state, role and the
actor's relation to the case against :mod:`.states`, and writes the change and its audit
record in one transaction: a refused action changes nothing. Files are read and hashed
before the transaction, so no lock is held while a large SEG is read.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update

from ..atomic import removed_on_failure
from ..errors import InputError
from ..imaging import PlanarImage, ReferenceSeries, open_grid, open_images
from .audit import FileRecord, canonical_json
from .cases import Case, annotator_ids, case_project, get_case, round_result, set_state
from .consensus_step import compare_srs, compute_consensus_seg, write_consensus_sr
from .corrections import measure_corrections, record_corrections
from .drafts import latest_draft, opened_at
from .errors import IllegalTransitionError, PermissionDeniedError, ReviewError, SelfReviewError, SubmissionFileError
from .files import check_unchanged, seg_record, sr_record
from .projects import Project, project_protocol, protocol_has_volume_structures
from .schema import assignments, consensus, reviews, signatures, submissions, users
from .states import Action, CaseState, Rule, check_target, require_role, rule_for
from .store import ReviewStore, Transaction
from .users import User, get_user

if TYPE_CHECKING:  # pragma: no cover
    from ..agreement import AnnotationAgreement

log = logging.getLogger(__name__)

CONSENSUS_METHODS = ("staple", "majority")


@dataclass(frozen=True)
class Signature:
    """An electronic signature: who signed which file, when, and what the signature means."""

    case: int
    user: str
    name: str
    meaning: str
    signed_at: str
    result: FileRecord

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "user": self.user, "name": self.name, "meaning": self.meaning,
                "signed_at": self.signed_at, "file": self.result.path, "sha256": self.result.sha256}


def submit(store: ReviewStore, case_id: int, user_name: str, seg: str | os.PathLike[str] | None,
           sr: str | os.PathLike[str] | None = None) -> Case:
    """Record ``user_name``'s SEG (and SR) for case ``case_id``; returns the case in its new state.

    A protocol with volume structures takes a SEG (its SR, with measurements, labels and marks,
    is optional); one of landmarks, boxes and classifications only takes the SR alone.
    """
    with store.read() as conn:  # checked before the files are kept, so that a refusal keeps nothing
        user, case = get_user(conn, user_name), get_case(conn, case_id)
        project = case_project(conn, case)
        takes_seg = protocol_has_volume_structures(conn, project.name)
        if takes_seg and seg is None:
            raise SubmissionFileError(f"Case {case_id} (protocol '{project.protocol_id}') takes a DICOM SEG of its "
                                      "volume structures, and the SR as the second file")
        if not takes_seg and (seg is not None or sr is None):
            raise SubmissionFileError(f"Case {case_id} (protocol '{project.protocol_id}') has landmarks, boxes and "
                                      "labels only: submit the DICOM SR that holds them, without a SEG")
        _authorize(conn, case, project, user, Action.SUBMIT)
        _open_assignment(conn, case, user)
        protocol = project_protocol(conn, project.name)
    files = [seg_record(seg, case.series_uid, role="seg", case_id=case_id, files=store.files,
                        protocol=protocol)] if seg is not None else []
    if sr is not None:
        files.append(sr_record(sr, case.series_uid, case_id=case_id, files=store.files, protocol=protocol))
    by_role = {record.role: record for record in files}
    corrections = measure_corrections(store, case, by_role["seg"].path) if "seg" in by_role else None
    with store.write(user_name) as tx:
        user, case, project = _load(tx, case_id)
        _authorize(tx.conn, case, project, user, Action.SUBMIT)
        assignment = _open_assignment(tx.conn, case, user)
        seg_file, sr_file = by_role.get("seg"), by_role.get("sr")
        submission_id = tx.conn.execute(insert(submissions).values(
            case_id=case.id, user_id=user.id, round=case.round, submitted_at=tx.now,
            opened_at=opened_at(tx.conn, case.id, user.id, case.round),
            seg_path=seg_file.path if seg_file else None, seg_sha256=seg_file.sha256 if seg_file else None,
            sr_path=sr_file.path if sr_file else None, sr_sha256=sr_file.sha256 if sr_file else None)
        ).inserted_primary_key[0]
        if corrections is not None and latest_draft(tx.conn, case.id).id == corrections.draft_id:
            record_corrections(tx.conn, submission_id, corrections)
            details = {"draft": corrections.draft_id, "draft_corrections": corrections.to_json()}
        else:
            details = {}
        tx.conn.execute(update(assignments).where(assignments.c.id == assignment.id).values(is_open=False))
        count = tx.conn.execute(select(func.count()).select_from(submissions).where(
            submissions.c.case_id == case.id, submissions.c.round == case.round)).scalar_one()
        if count < project.annotators_per_case:
            target = CaseState.IN_PROGRESS
        elif project.annotators_per_case > 1:
            target = CaseState.SUBMITTED
        else:
            target = _after_merge(project)
        return _move(tx, case, project, Action.SUBMIT, target, files=files, details=details)


def record_consensus(store: ReviewStore, case_id: int, user_name: str, *, method: str | None = None,
                     consensus_seg: str | os.PathLike[str] | None = None, output: str | os.PathLike[str] | None = None,
                     agreement: dict[str, Any] | None = None) -> Case:
    """Record the consensus of the round's submissions (given, or computed into ``output``) and start review.

    SEG submissions give a consensus SEG (``method``: STAPLE or majority voting); submissions of
    SRs alone (protocols without volume structures) give a consensus SR: marks at the mean of
    the annotators' positions, answers by majority. Where every submission has an SR, the
    annotators' marks and answers are compared and recorded with the agreement.
    """
    with store.read() as conn:
        user, case = get_user(conn, user_name), get_case(conn, case_id)
        project = case_project(conn, case)
        _authorize(conn, case, project, user, Action.CONSENSUS)
        inputs = _round_files(conn, case)
        protocol = project_protocol(conn, project.name)
    method = method or project.consensus_method
    if method not in CONSENSUS_METHODS:
        raise ReviewError(f"Unknown consensus method {method!r}; use {' or '.join(CONSENSUS_METHODS)}")
    if agreement is not None:
        _check_agreement(agreement, case.id)
    names = [name for name, _, _ in inputs]
    segs = [Path(seg.path) for _, seg, _ in inputs if seg is not None]
    srs = [Path(sr.path) for _, _, sr in inputs if sr is not None]
    threshold = project.consensus_threshold
    annotations = None
    if srs and len(srs) == len(inputs):
        reference = (open_grid if segs else open_images)(case.image_location, series_uid=case.series_uid)
        images = None if isinstance(reference, ReferenceSeries) else reference  # marks on 2D images: in pixels
        # SR-only cases need their SRs; beside SEGs, an SR that is no Measurement Report is passed over
        annotations = compare_srs(srs, names, threshold=threshold, images=images) if not segs else _compared_srs(
            case, srs, names, threshold, images)
    if not segs and consensus_seg is not None:
        raise ReviewError(f"Case {case.id} has SR submissions only; its consensus is computed from them, not given")
    with removed_on_failure() as written:  # what this call writes goes again if it then fails or is refused
        if consensus_seg is None and segs:
            name = f"case-{case.id}-round-{case.round}-{method}-consensus.dcm"
            target = Path(output) if output else segs[0].with_name(name)
            consensus_seg, measured = compute_consensus_seg(segs, target, method=method, threshold=threshold)
            written.append(Path(consensus_seg))
            agreement = agreement if agreement is not None else measured
        report = None
        if annotations is not None:
            report = write_consensus_sr(
                annotations, _consensus_sr_path(case, consensus_seg, srs[0], output),
                seg=Path(consensus_seg) if segs else None, protocol=protocol, creator=user_name,
                reference=reference)
            written.append(Path(report))
            if len(inputs) > 1 and "annotations" not in (agreement or {}):
                agreement = {**(agreement or {}), "annotations": annotations.to_json()}
        if not segs:
            method, consensus_seg, report = "majority", report, None  # of the answers; positions are averaged
        merged = (seg_record(consensus_seg, case.series_uid, role="consensus", case_id=case.id, files=store.files)
                  if segs else sr_record(consensus_seg, case.series_uid, case_id=case.id, role="consensus",
                                         files=store.files))
        merged_sr = (sr_record(report, case.series_uid, case_id=case.id, role="consensus_sr", files=store.files)
                     if report else None)
        with store.write(user_name) as tx:
            user, case, project = _load(tx, case_id)
            _authorize(tx.conn, case, project, user, Action.CONSENSUS)
            tx.conn.execute(insert(consensus).values(
                case_id=case.id, round=case.round, user_id=user.id, method=method,
                threshold=f"{project.consensus_threshold:g}", output_path=merged.path, output_sha256=merged.sha256,
                output_kind="seg" if segs else "sr", sr_path=merged_sr.path if merged_sr else None,
                sr_sha256=merged_sr.sha256 if merged_sr else None,
                agreement_json=canonical_json(agreement) if agreement is not None else None, created_at=tx.now))
            return _move(tx, case, project, Action.CONSENSUS, _after_merge(project), reason=method,
                         files=[merged, *([merged_sr] if merged_sr else []), *_round_submissions(tx.conn, case)],
                         details={"method": method, "threshold": project.consensus_threshold})


def _compared_srs(case: Case, srs: list[Path], names: list[str], threshold: float,
                  images: PlanarImage | None) -> AnnotationAgreement | None:
    """The annotators' SRs compared; None (and a warning) when one is not a TID 1500 Measurement Report,
    which then does not stop the consensus of the SEGs."""
    try:
        return compare_srs(srs, names, threshold=threshold, images=images)
    except InputError as error:
        log.warning("Case %s: the annotators' SRs are not compared: %s", case.id, error)
        return None


def _consensus_sr_path(case: Case, consensus_seg, first_sr: Path, output) -> Path:
    """Beside the consensus SEG (``...-sr.dcm``), or for SR-only cases ``output`` or beside the first SR."""
    if consensus_seg is not None:
        seg = Path(consensus_seg)
        return seg.with_name(f"{seg.stem}-sr.dcm")
    return Path(output) if output else first_sr.with_name(f"case-{case.id}-round-{case.round}-sr-consensus.dcm")


def review_case(store: ReviewStore, case_id: int, user_name: str, decision: str, comment: str | None = None) -> Case:
    """Approve the case at its current tier (on to the next tier or sign-off), or send it back with ``comment``."""
    if decision not in ("approve", "changes"):
        raise ReviewError(f"Unknown review decision {decision!r}; use approve or changes")
    comment = (comment or "").strip() or None
    if decision == "changes" and comment is None:
        raise ReviewError(f"A change request for case {case_id} needs a comment saying what to change (--comment)")
    with store.write(user_name) as tx:
        user, case, project = _load(tx, case_id)
        action = Action.APPROVE if decision == "approve" else Action.REQUEST_CHANGES
        _authorize(tx.conn, case, project, user, action)
        tier = project.tier(case.tier)
        tx.conn.execute(insert(reviews).values(
            case_id=case.id, round=case.round, tier=case.tier, tier_name=tier.name, user_id=user.id,
            decision=decision, comment=comment, reviewed_at=tx.now))
        details = {"tier": case.tier, "tier_name": tier.name, "decision": decision}
        files = [round_result(tx.conn, case)]
        if action is Action.REQUEST_CHANGES:
            tx.conn.execute(update(assignments).where(assignments.c.case_id == case.id).values(is_open=True))
            return _move(tx, case, project, action, CaseState.CHANGES_REQUESTED, round=case.round + 1,
                         reason=comment, details=details, files=files)
        if case.tier < len(project.review_tiers):
            return _move(tx, case, project, action, CaseState.IN_REVIEW, tier=case.tier + 1, reason=comment,
                         details=details, files=files)
        return _move(tx, case, project, action, CaseState.APPROVED, reason=comment, details=details, files=files)


def finalize_case(store: ReviewStore, case_id: int, user_name: str, meaning: str, *,
                  printed_name: str | None = None) -> Signature:
    """Sign the approved result: records who (and their printed name), when, the meaning, and the SHA-256 of
    the signed file (21 CFR 11.50). A case is signed once: it is final afterwards, and no action changes it."""
    printed_name = printed_name or user_name
    meaning = meaning.strip()
    if not meaning:
        raise ReviewError(f"Signing case {case_id} needs the meaning of the signature (--meaning, e.g. 'Approved as "
                          "reference standard')")
    with store.read() as conn:
        user, case = get_user(conn, user_name), get_case(conn, case_id)
        _authorize(conn, case, case_project(conn, case), user, Action.FINALIZE)
        result = round_result(conn, case)
    check_unchanged(result, case_id)
    with store.write(user_name) as tx:
        user, case, project = _load(tx, case_id)
        _authorize(tx.conn, case, project, user, Action.FINALIZE)
        if round_result(tx.conn, case) != result:
            raise ReviewError(f"Case {case_id} changed while it was being signed; run the command again")
        tx.conn.execute(insert(signatures).values(case_id=case.id, user_id=user.id, meaning=meaning,
                                                  signed_at=tx.now, result_path=result.path,
                                                  result_sha256=result.sha256, printed_name=printed_name))
        _move(tx, case, project, Action.FINALIZE, CaseState.FINAL, reason=meaning, files=[result],
              details={"signature_meaning": meaning, "printed_name": printed_name})
        return Signature(case.id, user.name, printed_name, meaning, tx.now, result)


# ----------------------------------------------------------------------------- shared steps
def _load(tx: Transaction, case_id: int) -> tuple[User, Case, Project]:
    """The actor, the case (locked) and its project, read inside the action's transaction."""
    user = get_user(tx.conn, tx.actor)
    case = get_case(tx.conn, case_id, lock=True)
    return user, case, case_project(tx.conn, case)


def _authorize(conn: Connection, case: Case, project: Project, user: User, action: Action) -> Rule:
    """State, role, and the actor's relation to the case; raises before anything is written."""
    rule = rule_for(case.state, action, case.id)
    doing = _describe(action, case, project)
    roles = rule.roles if rule.roles is not None else frozenset({project.tier(case.tier).role})
    require_role(user.roles, roles, user.name, doing)
    if action is Action.SUBMIT:
        return rule
    if user.id in annotator_ids(conn, case.id):
        raise SelfReviewError(f"{user.name} annotated case {case.id} and cannot {doing}: nobody reviews, merges or "
                              "signs their own work")
    if action in (Action.APPROVE, Action.REQUEST_CHANGES):
        earlier = conn.execute(select(reviews.c.tier).where(
            reviews.c.case_id == case.id, reviews.c.round == case.round, reviews.c.user_id == user.id)).scalar()
        if earlier is not None:
            raise SelfReviewError(f"{user.name} already reviewed case {case.id} at tier {earlier} of this round; "
                                  f"tier {case.tier} needs another reviewer")
    return rule


def _open_assignment(conn: Connection, case: Case, user: User) -> Any:
    """The user's place on the case, which must still owe a submission this round."""
    assignment = conn.execute(select(assignments.c.id, assignments.c.is_open).where(
        assignments.c.case_id == case.id, assignments.c.user_id == user.id)).one_or_none()
    if assignment is None:
        raise PermissionDeniedError(f"Case {case.id} is not assigned to {user.name}; `case next` shows the cases "
                                    "that are")
    if not assignment.is_open:
        raise IllegalTransitionError(f"{user.name} already submitted case {case.id} in round {case.round}; a new "
                                     "submission is possible once a reviewer requests changes")
    return assignment


def _describe(action: Action, case: Case, project: Project) -> str:
    if action in (Action.APPROVE, Action.REQUEST_CHANGES):
        return f"review case {case.id} at tier {case.tier} ({project.tier(case.tier).name})"
    return {Action.SUBMIT: "submit case", Action.CONSENSUS: "record the consensus of case",
            Action.FINALIZE: "sign off case"}[action] + f" {case.id}"


def _after_merge(project: Project) -> CaseState:
    return CaseState.IN_REVIEW if project.review_tiers else CaseState.APPROVED


def _move(tx: Transaction, case: Case, project: Project, action: Action, target: CaseState, *, tier: int | None = None,
          round: int | None = None, reason: str | None = None, details: dict[str, Any] | None = None,
          files: list[FileRecord] | None = None) -> Case:
    """Set the case's new state (checked against the table) and record the transition."""
    check_target(rule_for(case.state, action, case.id), case.state, action, target)
    if tier is None:
        tier = 1 if target is CaseState.IN_REVIEW else 0
    moved = set_state(tx.conn, case, project, target, tier=tier, round=round)
    tx.record(f"case.{action.name.lower()}", project=project.name, case=case.id, reason=reason, files=files or [],
              details={"from": case.state.value, "to": target.value, "round": case.round,
                       **({"tier_after": tier} if target is CaseState.IN_REVIEW else {}), **(details or {})})
    return moved


def _round_files(conn: Connection, case: Case) -> list[tuple[str, FileRecord | None, FileRecord | None]]:
    """Each submission of the case's round: the annotator, the SEG and the SR (either may be None)."""
    rows = conn.execute(select(users.c.name, submissions.c.seg_path, submissions.c.seg_sha256, submissions.c.sr_path,
                               submissions.c.sr_sha256).join(users, users.c.id == submissions.c.user_id).where(
        submissions.c.case_id == case.id, submissions.c.round == case.round).order_by(submissions.c.id)).all()
    return [(row.name, FileRecord("seg", row.seg_path, row.seg_sha256) if row.seg_path else None,
             FileRecord("sr", row.sr_path, row.sr_sha256) if row.sr_path else None) for row in rows]


def _round_submissions(conn: Connection, case: Case) -> list[FileRecord]:
    """Every file of the round's submissions (what the consensus was made from, for the audit record)."""
    return [record for _, seg, sr in _round_files(conn, case) for record in (seg, sr) if record is not None]


def _check_agreement(agreement: dict[str, Any], case_id: int) -> None:
    """An ``agreement --json`` report (segments with pairs that carry a Dice value), maybe with ``annotations``."""
    try:
        for segment in agreement["segments"]:
            for pair in segment["pairs"]:
                float(pair["dice"])
    except (KeyError, TypeError, ValueError):
        raise ReviewError(f"The agreement report for case {case_id} is not an `agreement --json` report (segments "
                          f"with pairs and dice): {json.dumps(agreement)[:120]}") from None
