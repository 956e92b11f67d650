"""Giving cases to annotators: a lead assigns (balanced by load), or an annotator claims a free place.

A case never gets more annotators than its project's quota: the count is read and the new
assignment written while the case row is locked (SQLite: the one writer; PostgreSQL: FOR
UPDATE), and each assignment takes a numbered slot that is unique per case, so even a
writer that bypassed the lock could not add an annotator beyond the quota.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, exists, func, insert, select

from ..protocols import ReviewRole
from .cases import Case, case_from_row, get_case, set_state
from .drafts import latest_uncertainty
from .errors import NotFoundError, QuotaError, ReviewError
from .projects import Project, get_project
from .schema import assignments, cases, user_roles, users
from .states import Action, CaseState, check_target, require_role, rule_for
from .store import ReviewStore, Transaction
from .users import User, acting_lead, get_user


@dataclass(frozen=True)
class Assignment:
    case: int
    user: str

    def to_json(self) -> dict[str, object]:
        return {"case": self.case, "user": self.user}


def assign_cases(store: ReviewStore, project_name: str, *, actor: str, case_id: int | None = None,
                 annotators: Iterable[str] | None = None) -> list[Assignment]:
    """Fill the free annotator places of one case or of every open case, least-loaded annotator first.

    Load is the number of cases not yet final that an annotator holds, in any project; ties
    go by name. Cases are filled by priority, then in the order they were added.
    """
    with store.write(actor) as tx:
        lead = acting_lead(tx, f"assign cases of project {project_name}")
        project = get_project(tx.conn, project_name)
        pool = _annotator_pool(tx.conn, annotators)
        if case_id is not None:
            case = get_case(tx.conn, case_id, lock=True)
            if case.project_id != project.id:
                raise NotFoundError(f"Case {case_id} is not in project {project_name}")
            rule_for(case.state, Action.ASSIGN, case.id)
            if case.assigned_count >= project.annotators_per_case:
                raise QuotaError(f"Case {case.id} already has its {project.annotators_per_case} annotator(s)")
            open_cases = [case]
        else:
            open_cases = [case_from_row(row) for row in tx.conn.execute(
                select(cases).where(cases.c.project_id == project.id, cases.c.claimable)
                .order_by(cases.c.id).with_for_update())]
            open_cases.sort(key=lambda c: (-c.priority, c.id))
        load = _open_load(tx.conn)
        taken = _annotators_of(tx.conn, [c.id for c in open_cases])
        made: list[Assignment] = []
        rows = []
        for case in open_cases:
            free = project.annotators_per_case - case.assigned_count
            chosen = sorted((u for u in pool if u.id not in taken.get(case.id, set())),
                            key=lambda u: (load.get(u.id, 0), u.name))[:free]
            if not chosen:
                continue
            for slot, user in enumerate(chosen, start=case.assigned_count + 1):
                rows.append(_assignment_row(case, project, user, slot, lead, tx.now))
                load[user.id] = load.get(user.id, 0) + 1
                made.append(Assignment(case.id, user.name))
            _advance(tx, case, project, Action.ASSIGN, case.assigned_count + len(chosen))
            tx.record("case.assign", project=project.name, case=case.id,
                      details={"annotators": [u.name for u in chosen], "quota": project.annotators_per_case})
        if rows:
            tx.conn.execute(insert(assignments), rows)
        if case_id is not None and not made:
            raise ReviewError(f"No annotator is free for case {case_id}: every annotator in the pool already has it")
        return made


def claim_case(tx: Transaction, project: Project, user: User, *, by_uncertainty: bool = False) -> Case | None:
    """Give ``user`` a free place on the most urgent case they are not on yet (None: there is none); with
    ``by_uncertainty`` the case whose AI draft the model was least sure of comes first.

    Claims wait for each other rather than skip locked cases (no SKIP LOCKED): a case another
    annotator is claiming may still have a place left when that claim commits, and PostgreSQL
    re-checks the locked row then, moving on to the next case if this one is full.
    """
    require_role(user.roles, frozenset({ReviewRole.ANNOTATOR}), user.name, "claim cases")
    query = (select(cases).where(
        cases.c.project_id == project.id, cases.c.claimable,
        ~exists().where(and_(assignments.c.case_id == cases.c.id, assignments.c.user_id == user.id)))
        .order_by(*([latest_uncertainty(cases.c.id).desc().nulls_last()] if by_uncertainty else []),
                  cases.c.priority.desc(), cases.c.id).limit(1).with_for_update())
    row = tx.conn.execute(query).one_or_none()
    if row is None:
        return None
    case = case_from_row(row)
    rule_for(case.state, Action.CLAIM, case.id)
    if case.assigned_count >= project.annotators_per_case:  # the lock makes this impossible; never trust it
        raise QuotaError(f"Case {case.id} already has its {project.annotators_per_case} annotator(s)")
    slot = case.assigned_count + 1
    tx.conn.execute(insert(assignments).values(_assignment_row(case, project, user, slot, user, tx.now)))
    case = _advance(tx, case, project, Action.CLAIM, slot)
    tx.record("case.claim", project=project.name, case=case.id,
              details={"annotator": user.name, "slot": slot, "quota": project.annotators_per_case})
    return case


def _advance(tx: Transaction, case: Case, project: Project, action: Action, assigned_count: int) -> Case:
    rule = rule_for(case.state, action, case.id)
    target = check_target(rule, case.state, action, CaseState.ASSIGNED if case.state is CaseState.NEW else case.state)
    return set_state(tx.conn, case, project, target, tier=case.tier, assigned_count=assigned_count)


def _assignment_row(case: Case, project: Project, user: User, slot: int, by: User, now: str) -> dict[str, object]:
    return {"case_id": case.id, "user_id": user.id, "slot": slot, "project_id": project.id,
            "priority": case.priority, "is_open": True, "assigned_at": now, "assigned_by": by.id}


def _annotator_pool(conn: Connection, names: Iterable[str] | None) -> list[User]:
    if names is not None:
        pool = [get_user(conn, name) for name in names]
        for user in pool:
            require_role(user.roles, frozenset({ReviewRole.ANNOTATOR}), user.name, "be assigned cases")
        return pool
    rows = conn.execute(select(users.c.id, users.c.name).join(user_roles).where(
        user_roles.c.role == ReviewRole.ANNOTATOR.value).order_by(users.c.name)).all()
    if not rows:
        raise ReviewError("No user has the annotator role; a lead adds one with: user add NAME --role annotator")
    return [User(r.id, r.name, frozenset({ReviewRole.ANNOTATOR})) for r in rows]


def _open_load(conn: Connection) -> dict[int, int]:
    query = (select(assignments.c.user_id, func.count()).join(cases, cases.c.id == assignments.c.case_id)
             .where(cases.c.state != CaseState.FINAL.value).group_by(assignments.c.user_id))
    return {user_id: count for user_id, count in conn.execute(query)}


def _annotators_of(conn: Connection, case_ids: list[int]) -> dict[int, set[int]]:
    taken: dict[int, set[int]] = {}
    for start in range(0, len(case_ids), 500):
        for case_id, user_id in conn.execute(select(assignments.c.case_id, assignments.c.user_id).where(
                assignments.c.case_id.in_(case_ids[start:start + 500]))):
            taken.setdefault(case_id, set()).add(user_id)
    return taken

