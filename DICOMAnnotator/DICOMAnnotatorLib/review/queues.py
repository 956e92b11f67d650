""""My next case": the most urgent case a user can act on now, in priority order, then earliest added (or, for
annotators who ask for it, the cases whose AI draft the model was least sure of first).

An annotator's queue is their open assignments (assigned, not yet submitted in the current
round); a reviewer's, radiologist's or lead's is the cases waiting for their role (consensus
due, a review tier, or sign-off) that they did not annotate and, for reviews, did not
already approve at another tier. A user with several roles gets the most urgent of all.
Each queue is one index seek, however many cases the project holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, exists, or_, select

from ..protocols import ReviewRole
from .assignment import claim_case
from .cases import Case, case_from_row, get_case
from .drafts import latest_uncertainty
from .errors import EmptyQueueError, ReviewError
from .projects import Project, get_project
from .schema import assignments, cases, reviews
from .states import CaseState
from .store import ReviewStore
from .users import User, get_user

_ACTION_BY_STATE = {
    CaseState.ASSIGNED: "annotate", CaseState.IN_PROGRESS: "annotate", CaseState.CHANGES_REQUESTED: "annotate",
    CaseState.SUBMITTED: "consensus", CaseState.IN_REVIEW: "review", CaseState.APPROVED: "finalize",
}


@dataclass(frozen=True)
class NextCase:
    case: Case
    action: str

    def to_json(self) -> dict[str, Any]:
        """The ``case next --json`` object: ``case``, ``series``, ``state`` and what to do."""
        return {"case": self.case.id, "series": self.case.series_uid, "state": self.case.state.value,
                "action": self.action, "tier": self.case.tier or None, "priority": self.case.priority,
                "images": self.case.image_location}


#: How an annotator's queue is ordered: by priority (then earliest added), or with ``uncertainty`` the cases whose
#: AI draft the model was least sure of first (active learning), then by priority; cases without such a draft last.
QUEUE_ORDERS = ("priority", "uncertainty")


def next_case(store: ReviewStore, project_name: str, user_name: str, *, claim: bool = False,
              order: str = "priority") -> NextCase:
    """The user's most urgent case; with ``claim`` an annotator with nothing open takes a free place."""
    if order not in QUEUE_ORDERS:
        raise ReviewError(f"Unknown queue order {order!r}; use {' or '.join(QUEUE_ORDERS)}")
    by_uncertainty = order == "uncertainty"
    with store.read() as conn:
        project = get_project(conn, project_name)
        user = get_user(conn, user_name)
        found = _best(_candidates(conn, project, user, by_uncertainty))
    if found is not None:
        return NextCase(found, _ACTION_BY_STATE[found.state])
    if claim and user.has(ReviewRole.ANNOTATOR):
        with store.write(user.name) as tx:
            claimed = claim_case(tx, project, user, by_uncertainty=by_uncertainty)
        if claimed is not None:
            return NextCase(claimed, "annotate")
    raise EmptyQueueError(f"No case waits for {user.name} in project {project_name}"
                          + ("" if claim or not user.has(ReviewRole.ANNOTATOR)
                             else "; --claim takes a free place on an unassigned case"))


def _candidates(conn: Connection, project: Project, user: User, by_uncertainty: bool) -> list[Case]:
    found = []
    if user.has(ReviewRole.ANNOTATOR):
        first = [latest_uncertainty(assignments.c.case_id).desc().nulls_last()] if by_uncertainty else []
        case_id = conn.execute(select(assignments.c.case_id).where(
            assignments.c.user_id == user.id, assignments.c.project_id == project.id, assignments.c.is_open)
            .order_by(*first, assignments.c.priority.desc(), assignments.c.case_id).limit(1)).scalar()
        if case_id is not None:
            found.append(get_case(conn, case_id))
    for role in sorted(user.roles - {ReviewRole.ANNOTATOR}, key=lambda r: r.value):
        row = conn.execute(_waiting_query(project, user, role)).one_or_none()
        if row is not None:
            found.append(case_from_row(row))
    return found


def _waiting_query(project: Project, user: User, role: ReviewRole):
    annotated = exists().where(and_(assignments.c.case_id == cases.c.id, assignments.c.user_id == user.id))
    approved_other_tier = exists().where(and_(
        reviews.c.case_id == cases.c.id, reviews.c.round == cases.c.round, reviews.c.user_id == user.id,
        reviews.c.decision == "approve"))
    return (select(cases).where(
        cases.c.project_id == project.id, cases.c.waiting_for == role.value, ~annotated,
        or_(cases.c.state != CaseState.IN_REVIEW.value, ~approved_other_tier))
        .order_by(cases.c.priority.desc(), cases.c.id).limit(1))


def _best(found: list[Case]) -> Case | None:
    return min(found, key=lambda c: (-c.priority, c.id), default=None)
