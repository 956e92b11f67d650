"""What each of the concurrency test's processes does (importable, since the processes are spawned).

Every worker opens its own store, waits at a barrier so that all start at once, works until
the project is done (or a deadline passes) and returns what it did, for the test to compare
with what the store recorded.
"""

from __future__ import annotations

import time
from pathlib import Path

from DICOMAnnotatorLib.review import (
    EmptyQueueError,
    ReviewStore,
    finalize_case,
    next_case,
    project_status,
    record_consensus,
    review_case,
    submit,
)
from review_support import write_header

_barrier = None


def set_barrier(barrier) -> None:
    """Pool initializer: the barrier all workers of one round wait at."""
    global _barrier
    _barrier = barrier


def claim_once(url: str, project: str, user: str) -> int | None:
    """Claim a place on a case at the same moment as every other worker; the case, or None."""
    with ReviewStore(url) as store:
        _barrier.wait(timeout=60)
        try:
            return next_case(store, project, user, claim=True).case.id
        except EmptyQueueError:
            return None


def annotate(url: str, project: str, user: str, folder: str, seconds: float) -> list[tuple[int, int]]:
    """Claim, submit, repeat; returns the (case, round) of every submission made."""
    done = []
    with ReviewStore(url) as store:
        _barrier.wait(timeout=60)
        for found in _work(store, project, user, seconds, claim=True):
            seg = write_header(Path(folder) / f"{user}-{found.case.id}-{found.case.round}.dcm", found.case.series_uid)
            submit(store, found.case.id, user, seg)
            done.append((found.case.id, found.case.round))
    return done


def review(url: str, project: str, user: str, folder: str, seconds: float, changes_every: int) -> list[str]:
    """Merge, review (asking changes of round 1 of every ``changes_every``-th case) and sign."""
    done = []
    with ReviewStore(url) as store:
        _barrier.wait(timeout=60)
        for found in _work(store, project, user, seconds, claim=False):
            case = found.case
            if found.action == "consensus":
                merged = write_header(Path(folder) / f"consensus-{case.id}-{case.round}.dcm", case.series_uid)
                record_consensus(store, case.id, user, consensus_seg=merged)
            elif found.action == "review" and case.round == 1 and case.id % changes_every == 0:
                review_case(store, case.id, user, "changes", f"redo case {case.id}")
            elif found.action == "review":
                review_case(store, case.id, user, "approve")
            else:
                finalize_case(store, case.id, user, "Approved as reference")
            done.append(f"{found.action} {case.id}")
    return done


def _work(store: ReviewStore, project: str, user: str, seconds: float, *, claim: bool):
    """The user's next cases until every case of the project is final."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            yield next_case(store, project, user, claim=claim)
        except EmptyQueueError:
            status = project_status(store, project)
            if status["by_state"]["final"] == status["cases"]:
                return
            time.sleep(0.05)
    raise TimeoutError(f"{user} still had work after {seconds} s")

