"""Eight processes at once against each store; a process killed inside its transaction.

What must hold (issue 7): no submission is lost, no case gets more annotators than its
quota, and a process killed mid-submission leaves the store as it was before.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import DICOMAnnotatorLib
import pytest
import review_workers
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review import (
    ReviewStore,
    SeriesRef,
    add_cases,
    add_user,
    assign_cases,
    create_project,
    schema,
    submit,
    verify_chain,
)
from DICOMAnnotatorLib.review.store import PAUSE_ENV
from review_support import dump_tables, write_header
from sqlalchemy import func, select

pytest_plugins = ["review_fixtures"]

PROCESSES = 8
ANNOTATORS = [f"ann{n}" for n in range(1, PROCESSES - 1)]  # six annotators, a reviewer, a radiologist


@pytest.fixture(scope="module")
def pool():
    """Eight spawned processes; a task waits at the barrier, so each of the eight tasks gets its own."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    with context.Pool(PROCESSES, initializer=review_workers.set_barrier, initargs=(barrier,)) as workers:
        yield workers


def make_project(url: str, cases: int, *, annotators_per_case: int = 2) -> list[int]:
    with ReviewStore(url) as store:
        add_user(store, "lead", ["lead"], actor=None)
        for name in ANNOTATORS:
            add_user(store, name, ["annotator"], actor="lead")
        add_user(store, "rev", ["reviewer"], actor="lead")
        add_user(store, "rad", ["radiologist"], actor="lead")
        create_project(store, "p", load_protocol("liver-lesions-ct"), actor="lead",
                       annotators_per_case=annotators_per_case)
        refs = [SeriesRef("1.2.3", f"1.2.3.{n}", "CT", f"/images/{n}") for n in range(1, cases + 1)]
        return add_cases(store, "p", refs, actor="lead")


def test_eight_processes_lose_nothing_and_respect_the_quota(store_url, pool, tmp_path):
    make_project(store_url, cases=16)
    jobs = [pool.apply_async(review_workers.annotate, (store_url, "p", name, str(tmp_path), 90.0))
            for name in ANNOTATORS]
    jobs += [pool.apply_async(review_workers.review, (store_url, "p", name, str(tmp_path), 90.0, 3))
             for name in ("rev", "rad")]
    results = [job.get(timeout=120) for job in jobs]
    made = {(case, round_, name) for name, done in zip(ANNOTATORS, results, strict=False) for case, round_ in done}
    assert sum(len(done) for done in results[:len(ANNOTATORS)]) == len(made)

    with ReviewStore(store_url) as store, store.read() as conn:
        users = dict(conn.execute(select(schema.users.c.id, schema.users.c.name)).all())
        recorded = {(row.case_id, row.round, users[row.user_id])
                    for row in conn.execute(select(schema.submissions))}
        assert recorded == made, "the store and the workers disagree on the submissions"
        per_case = Counter(conn.execute(select(schema.assignments.c.case_id)).scalars())
        assert set(per_case.values()) == {2}, f"annotators per case: {per_case}"
        states = Counter(conn.execute(select(schema.cases.c.state)).scalars())
        assert states == {"final": 16}
        rounds = Counter((case, round_) for case, round_, _ in recorded)
        assert set(rounds.values()) == {2}
        assert {case for case, round_ in rounds if round_ == 2} == {c for c in range(1, 17) if c % 3 == 0}
        assert verify_chain(conn).intact
        audited = Counter(conn.execute(select(schema.audit_log.c.action)).scalars())
        assert audited["case.submit"] == len(made) and audited["case.claim"] == 32
        assert audited["case.finalize"] == 16
    reviewed = Counter(entry.split()[0] for entry in results[-2] + results[-1])
    assert reviewed == {"consensus": 16 + 5, "review": 2 * 16 + 5, "finalize": 16}


def test_eight_simultaneous_claims_fill_a_quota_of_two(store_url, pool):
    make_project(store_url, cases=1)
    with ReviewStore(store_url) as store:
        add_user(store, "rev", ["annotator"], actor="lead")
        add_user(store, "rad", ["annotator"], actor="lead")
    names = [*ANNOTATORS, "rev", "rad"]
    claimed = [job.get(timeout=120) for job in
               [pool.apply_async(review_workers.claim_once, (store_url, "p", name)) for name in names]]
    assert sorted(claimed, key=str) == [1, 1, *[None] * 6]
    with ReviewStore(store_url) as store, store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.assignments)).scalar() == 2


def test_process_killed_inside_a_submission_leaves_the_store_as_it_was(store_url, tmp_path):
    make_project(store_url, cases=1, annotators_per_case=1)
    with ReviewStore(store_url) as store:
        assign_cases(store, "p", actor="lead", annotators=["ann1"])
    seg = write_header(tmp_path / "seg.dcm", "1.2.3.1")
    before = dump_tables(store_url)
    marker = tmp_path / "inside-transaction"
    env = {**os.environ, PAUSE_ENV: f"case.submit:{marker}",
           "PYTHONPATH": os.pathsep.join([str(Path(DICOMAnnotatorLib.__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "DICOMAnnotatorLib.cli.main", "case", "submit", "1", str(seg),
                                "--user", "ann1", "--store", store_url], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the submission never reached its commit"
            time.sleep(0.02)
        assert int(marker.read_text()) == process.pid
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert dump_tables(store_url) == before, "a killed submission left something behind"
    with ReviewStore(store_url) as store:
        with store.read() as conn:
            assert verify_chain(conn).intact
            if store.is_sqlite:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        # The lock died with the process: the same submission goes through now.
        assert submit(store, 1, "ann1", seg).state.value == "in_review"
        with store.read() as conn:
            assert verify_chain(conn).records == len(before["audit_log"]) + 1
