"""The case workflow as data: which action is allowed in which state, by whom, leading where.

``new -> assigned -> in_progress -> submitted -> in_review(tier k) -> changes_requested |
approved -> final`` (../shared/DESIGN.md). ``submitted`` means every annotator of the round
has submitted and the consensus is due; with one annotator per case there is nothing to
merge and a case goes straight from its submission to review. After the last tier approves,
the case waits in ``approved`` for the electronic sign-off that makes it ``final``. A
change request sends it back to its annotators for a new round.

Besides the role, two rules relate the actor to the case: annotators act only on cases
assigned to them, and nobody merges, reviews or signs a case they annotated (or approves
two tiers of one round).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..protocols import ReviewRole
from .errors import IllegalTransitionError, PermissionDeniedError


class CaseState(enum.Enum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    FINAL = "final"


class Action(enum.Enum):
    ASSIGN = "assign"  # a lead gives the case to annotators
    CLAIM = "claim"  # an annotator takes a free place on the case
    SUBMIT = "submit"
    CONSENSUS = "consensus"
    APPROVE = "approve"
    REQUEST_CHANGES = "request changes"
    FINALIZE = "finalize"


@dataclass(frozen=True)
class Rule:
    """Who may take an action (None: the role of the case's current review tier) and where it can lead."""

    roles: frozenset[ReviewRole] | None
    targets: frozenset[CaseState]


def _rule(roles: tuple[ReviewRole, ...] | None, *targets: CaseState) -> Rule:
    return Rule(None if roles is None else frozenset(roles), frozenset(targets))


_S = CaseState
_R = ReviewRole
_ANNOTATING = (_S.ASSIGNED, _S.IN_PROGRESS, _S.CHANGES_REQUESTED)
#: After a submission: more submissions due, consensus due, first tier, or (no tiers) sign-off.
_AFTER_SUBMIT = (_S.IN_PROGRESS, _S.SUBMITTED, _S.IN_REVIEW, _S.APPROVED)

TRANSITIONS: dict[tuple[CaseState, Action], Rule] = {
    **{(state, Action.ASSIGN): _rule((_R.LEAD,), _S.ASSIGNED if state is _S.NEW else state)
       for state in (_S.NEW, _S.ASSIGNED, _S.IN_PROGRESS)},
    **{(state, Action.CLAIM): _rule((_R.ANNOTATOR,), _S.ASSIGNED if state is _S.NEW else state)
       for state in (_S.NEW, _S.ASSIGNED, _S.IN_PROGRESS)},
    **{(state, Action.SUBMIT): _rule((_R.ANNOTATOR,), *_AFTER_SUBMIT) for state in _ANNOTATING},
    (_S.SUBMITTED, Action.CONSENSUS): _rule((_R.REVIEWER, _R.RADIOLOGIST), _S.IN_REVIEW, _S.APPROVED),
    (_S.IN_REVIEW, Action.APPROVE): _rule(None, _S.IN_REVIEW, _S.APPROVED),
    (_S.IN_REVIEW, Action.REQUEST_CHANGES): _rule(None, _S.CHANGES_REQUESTED),
    (_S.APPROVED, Action.FINALIZE): _rule((_R.RADIOLOGIST,), _S.FINAL),
}

#: States in which annotators can still be added to a case.
OPEN_FOR_ANNOTATORS = frozenset({_S.NEW, _S.ASSIGNED, _S.IN_PROGRESS})


def rule_for(state: CaseState, action: Action, case_id: int) -> Rule:
    """The rule for ``action`` in ``state``; an action the state does not allow raises, naming where it is."""
    rule = TRANSITIONS.get((state, action))
    if rule is None:
        allowed = sorted(s.value for (s, a) in TRANSITIONS if a is action)
        raise IllegalTransitionError(f"Case {case_id} is {state.value}; {action.value} is possible only when a case is "
                                     f"{' or '.join(allowed)}")
    return rule


def check_target(rule: Rule, state: CaseState, action: Action, target: CaseState) -> CaseState:
    """Guard the workflow's own decision: a target outside the table is a programming error."""
    if target not in rule.targets:
        raise AssertionError(f"{action.value} from {state.value} cannot lead to {target.value}")
    return target


def require_role(roles: frozenset[ReviewRole], allowed: frozenset[ReviewRole], user: str, doing: str) -> None:
    if not roles & allowed:
        need = " or ".join(sorted(r.value for r in allowed))
        has = ", ".join(sorted(r.value for r in roles)) or "no role"
        raise PermissionDeniedError(f"{user} ({has}) cannot {doing}: that needs the role {need} "
                                    f"(a lead grants it with: user add {user} --role ROLE)")
