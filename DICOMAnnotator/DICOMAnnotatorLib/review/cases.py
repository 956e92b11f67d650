"""Cases: one image series in one project, its state, and the summary columns the queues read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, insert, select, update

from ..protocols import ReviewRole
from .audit import FileRecord
from .errors import AlreadyExistsError, NotFoundError, ReviewError
from .projects import Project, get_project, project_by_id
from .schema import assignments, cases, consensus, submissions
from .states import OPEN_FOR_ANNOTATORS, CaseState
from .store import ReviewStore
from .users import acting_lead


@dataclass(frozen=True)
class SeriesRef:
    """Where a case's images are and which series they are (read from the DICOM files)."""

    study_uid: str
    series_uid: str
    modality: str
    location: str


@dataclass(frozen=True)
class Case:
    id: int
    project_id: int
    study_uid: str
    series_uid: str
    modality: str
    image_location: str
    priority: int
    state: CaseState
    tier: int
    round: int
    assigned_count: int

    def to_json(self) -> dict[str, Any]:
        return {"case": self.id, "state": self.state.value, "tier": self.tier or None, "round": self.round,
                "priority": self.priority, "study": self.study_uid, "series": self.series_uid,
                "modality": self.modality, "images": self.image_location}


def get_case(conn: Connection, case_id: int, *, lock: bool = False) -> Case:
    """Case ``case_id``; with ``lock`` its row stays locked until the transaction ends (PostgreSQL)."""
    query = select(cases).where(cases.c.id == case_id)
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise NotFoundError(f"No case {case_id} in the review store; `project status PROJECT` lists the counts and "
                            "`case add` prints the numbers of new cases")
    return case_from_row(row)


def case_from_row(row: Any) -> Case:
    return Case(row.id, row.project_id, row.study_uid, row.series_uid, row.modality, row.image_location,
                row.priority, CaseState(row.state), row.tier, row.round, row.assigned_count)


def add_cases(store: ReviewStore, project_name: str, series: Sequence[SeriesRef], *, actor: str,
              priority: int = 0) -> list[int]:
    """Add one case per series (all or none); a series already in the project is refused."""
    if not series:
        raise ReviewError("Give at least one series to add")
    uids = [s.series_uid for s in series]
    repeated = sorted({uid for uid in uids if uids.count(uid) > 1})
    if repeated:
        raise AlreadyExistsError(f"Series {', '.join(repeated)} given more than once; each series is one case")
    with store.write(actor) as tx:
        acting_lead(tx, f"add cases to project {project_name}")
        project = get_project(tx.conn, project_name)
        present = set()
        for start in range(0, len(uids), 500):
            present.update(tx.conn.execute(select(cases.c.series_uid).where(
                cases.c.project_id == project.id, cases.c.series_uid.in_(uids[start:start + 500]))).scalars())
        if present:
            raise AlreadyExistsError(f"Series {', '.join(sorted(present))} already in project {project_name}; "
                                     "each series is one case")
        rows = [{"project_id": project.id, "study_uid": s.study_uid, "series_uid": s.series_uid,
                 "modality": s.modality, "image_location": s.location, "priority": priority,
                 "state": CaseState.NEW.value, "tier": 0, "round": 1, "assigned_count": 0, "claimable": True,
                 "waiting_for": None, "added_at": tx.now} for s in series]
        ids = list(tx.conn.execute(insert(cases).returning(cases.c.id, sort_by_parameter_order=True),
                                   rows).scalars())
        for case_id, ref in zip(ids, series, strict=True):
            tx.record("case.add", project=project_name, case=case_id, details={
                "study_uid": ref.study_uid, "series_uid": ref.series_uid, "modality": ref.modality,
                "images": ref.location, "priority": priority})
        return ids


def set_state(conn: Connection, case: Case, project: Project, state: CaseState, *, tier: int = 0,
              round: int | None = None, assigned_count: int | None = None) -> Case:
    """Write a case's state with the queue columns that follow from it (the only writer of those)."""
    new = replace(case, state=state, tier=tier, round=case.round if round is None else round,
                  assigned_count=case.assigned_count if assigned_count is None else assigned_count)
    claimable = state in OPEN_FOR_ANNOTATORS and new.assigned_count < project.annotators_per_case
    conn.execute(update(cases).where(cases.c.id == case.id).values(
        state=state.value, tier=new.tier, round=new.round, assigned_count=new.assigned_count,
        claimable=claimable, waiting_for=_waiting_for(project, state, tier)))
    return new


def _waiting_for(project: Project, state: CaseState, tier: int) -> str | None:
    if state is CaseState.SUBMITTED:
        return project.first_queue_role.value
    if state is CaseState.IN_REVIEW:
        return project.tier(tier).role.value
    if state is CaseState.APPROVED:
        return ReviewRole.RADIOLOGIST.value
    return None


def case_project(conn: Connection, case: Case) -> Project:
    return project_by_id(conn, case.project_id)


def annotator_ids(conn: Connection, case_id: int) -> set[int]:
    return set(conn.execute(select(assignments.c.user_id).where(assignments.c.case_id == case_id)).scalars())


def round_result(conn: Connection, case: Case) -> FileRecord:
    """The file a round's reviewers judge and the sign-off signs: the consensus, or the single submission."""
    merged = conn.execute(select(consensus.c.output_path, consensus.c.output_sha256).where(
        consensus.c.case_id == case.id, consensus.c.round == case.round)).one_or_none()
    if merged is not None:
        return FileRecord("consensus", merged.output_path, merged.output_sha256)
    only = conn.execute(select(submissions.c.seg_path, submissions.c.seg_sha256, submissions.c.sr_path,
                               submissions.c.sr_sha256).where(
        submissions.c.case_id == case.id, submissions.c.round == case.round)).all()
    if len(only) != 1:
        raise ReviewError(f"Case {case.id} round {case.round} has {len(only)} submissions and no consensus")
    row = only[0]
    return (FileRecord("seg", row.seg_path, row.seg_sha256) if row.seg_path
            else FileRecord("sr", row.sr_path, row.sr_sha256))
