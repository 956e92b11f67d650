"""Review store latency with a large project: "next case" and "submit", on SQLite and PostgreSQL.

Builds a project of N cases (default 100,000) with two annotators per case among 20
annotators, then times, one call at a time as a user would make them:

- ``next (annotator)``: :func:`next_case` for a random annotator (their open assignments);
- ``next (reviewer)``: :func:`next_case` for the reviewer (cases waiting for their tier);
- ``submit``: :func:`submit` of a SEG for the annotator's next case (file check, SHA-256,
  submission, state change and hash-chained audit record in one durable transaction).

The contender is the same work done with the bare database driver (sqlite3 / psycopg) and
no store around it: the one SELECT of the queue, and INSERT + two UPDATEs + COMMIT for a
submission without file check, audit record or state machine. The ratio says what the
store's guarantees cost. PostgreSQL runs with its durable defaults (fsync on) on 127.0.0.1,
started from Debian's package in a temporary folder.

    .venv/bin/python benchmarks/review_store_benchmark.py               # 100,000 cases, both stores
    .venv/bin/python benchmarks/review_store_benchmark.py --quick       # 10,000 cases
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "DICOMAnnotator"), str(REPO / "Testing")]

from DICOMAnnotatorLib.protocols import load_protocol  # noqa: E402
from DICOMAnnotatorLib.review import (  # noqa: E402
    ReviewStore,
    SeriesRef,
    add_cases,
    add_user,
    assign_cases,
    create_project,
    next_case,
    record_consensus,
    show_case,
    submit,
)
from DICOMAnnotatorLib.review.url import resolve_store_url  # noqa: E402
from postgres_server import PostgresServer, find_program  # noqa: E402
from review_support import write_header  # noqa: E402

ANNOTATORS = [f"annotator{n:02d}" for n in range(20)]
BATCH = 10_000


def build(url: str, cases: int, files: Path) -> float:
    """The project: users, N cases, two annotators each, a few cases already waiting for review."""
    start = time.perf_counter()
    with ReviewStore(url) as store:
        add_user(store, "lead", ["lead"], actor=None)
        for name in ANNOTATORS:
            add_user(store, name, ["annotator"], actor="lead")
        add_user(store, "rev", ["reviewer"], actor="lead")
        create_project(store, "bench", load_protocol("liver-lesions-ct"), actor="lead")
        for first in range(0, cases, BATCH):
            refs = [SeriesRef("1.2.3", f"1.2.3.{n}", "CT", f"/images/{n}")
                    for n in range(first + 1, min(first + BATCH, cases) + 1)]
            add_cases(store, "bench", refs, actor="lead", priority=random.Random(first).choice((0, 0, 0, 1, 2)))
        assign_cases(store, "bench", actor="lead")
        for _ in range(20):  # a reviewer queue that is not empty
            found = next_case(store, "bench", ANNOTATORS[0])
            for name in show_case(store, found.case.id, "lead")["annotators"]:
                submit(store, found.case.id, name, write_header(files / f"{name}-{found.case.id}.dcm",
                                                                 found.case.series_uid))
            record_consensus(store, found.case.id, "rev", consensus_seg=write_header(
                files / f"consensus-{found.case.id}.dcm", found.case.series_uid))
    return time.perf_counter() - start


def measure_store(url: str, samples: int, files: Path) -> dict[str, list[float]]:
    rng = random.Random(7)
    times: dict[str, list[float]] = {"next (annotator)": [], "next (reviewer)": [], "submit": []}
    with ReviewStore(url) as store:
        for _ in range(samples):
            user = rng.choice(ANNOTATORS)
            times["next (annotator)"].append(_timed(lambda u=user: next_case(store, "bench", u)))
            times["next (reviewer)"].append(_timed(lambda: next_case(store, "bench", "rev")))
        for _ in range(samples):
            user = rng.choice(ANNOTATORS)
            found = next_case(store, "bench", user)
            seg = write_header(files / f"{user}-{found.case.id}.dcm", found.case.series_uid)
            times["submit"].append(_timed(lambda u=user, c=found.case.id, s=seg: submit(store, c, u, s)))
    return times


def measure_bare(url: str, samples: int) -> dict[str, list[float]]:
    """The same queue read and submission write with the driver alone (no store, no audit)."""
    sqlite = url.startswith("sqlite")
    if sqlite:
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA synchronous = FULL")
        mark = "?"
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        mark = "%s"
    users = dict(conn.execute("SELECT name, id FROM users").fetchall())
    true, false = ("1", "0") if sqlite else ("true", "false")
    next_sql = (f"SELECT case_id FROM assignments WHERE user_id = {mark} AND project_id = 1 AND is_open = {true} "
                "ORDER BY priority DESC, case_id LIMIT 1")
    rng = random.Random(11)
    times: dict[str, list[float]] = {"next (annotator)": [], "submit": []}
    for _ in range(samples):
        user = users[rng.choice(ANNOTATORS)]
        times["next (annotator)"].append(_timed(lambda u=user: conn.execute(next_sql, (u,)).fetchone()))
    for _ in range(samples):
        user = users[rng.choice(ANNOTATORS)]
        case_id = conn.execute(next_sql, (user,)).fetchone()[0]

        def write(u=user, c=case_id):
            conn.execute("BEGIN")
            conn.execute(f"INSERT INTO submissions (case_id, user_id, round, seg_path, seg_sha256, submitted_at) "
                         f"VALUES ({mark}, {mark}, 1, 'x.dcm', '0', 'now')", (c, u))
            conn.execute(f"UPDATE assignments SET is_open = {false} "
                         f"WHERE case_id = {mark} AND user_id = {mark}", (c, u))
            conn.execute(f"UPDATE cases SET state = 'in_progress' WHERE id = {mark}", (c,))
            conn.execute("COMMIT")

        times["submit"].append(_timed(write))
    conn.close()
    return times


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=500, help="timed calls per operation")
    parser.add_argument("--quick", action="store_true", help="10,000 cases, 200 samples")
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.samples = 10_000, 200
    rows = []
    with tempfile.TemporaryDirectory(prefix="review-bench-") as folder:
        files = Path(folder)
        server = None
        for kind in args.stores.split(","):
            if kind == "sqlite":
                url = resolve_store_url(f"sqlite:///{files / 'review.db'}")
            else:
                server = PostgresServer(find_program("initdb"), find_program("pg_ctl"), durable=True).start()
                url = resolve_store_url(server.new_database())
            try:
                setup = build(url, args.cases, files)
                print(f"{kind}: built {args.cases} cases in {setup:.1f} s", file=sys.stderr)
                ours, bare = measure_store(url, args.samples, files), measure_bare(url, args.samples)
            finally:
                if server is not None:
                    server.stop()
                    server = None
            for operation, values in ours.items():
                base = bare.get(operation)
                cells = [f"{statistics.median(values):.2f}", f"{_percentile(values, 95):.2f}"]
                cells += ([f"{statistics.median(base):.2f}", f"{_percentile(base, 95):.2f}",
                           f"{statistics.median(values) / statistics.median(base):.1f}x"] if base else ["-"] * 3)
                rows.append("| " + " | ".join([kind, operation, *cells]) + " |")
    print(f"{args.cases} cases, {args.samples} timed calls per operation (milliseconds)\n")
    print("| store | operation | p50 | p95 | bare driver p50 | bare driver p95 | p50 ratio to bare |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
