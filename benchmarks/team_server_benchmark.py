"""Team server latency: 20 annotators doing next/fetch/submit over HTTP, beside the same calls in local mode.

A PostgreSQL review store of N cases (default 100,000) of the liver-lesions-ct protocol, two
annotators per case among as many annotators as clients, is built with bulk SQL (a few seconds
instead of minutes through the API) but with what the API would have written: users with
roles and one argon2id password hash, a project, cases in state ``assigned`` with their queue
columns, assignments, the case images in the store's content-addressed files, and an audit
record per case added and assigned (the hash chain verifies). Then, once through ``dicom-annotator
serve`` and once in local mode on the same database, every client (a separate process, signed in
as its own annotator) repeats, as fast as it can:

- ``next``: ``next_case`` (its most urgent open assignment);
- ``fetch``: ``fetch_case`` of that case (the listing, then each image downloaded and checked
  against its SHA-256; over HTTP one request per file);
- ``submit``: ``submit`` of a real 25 MB BINARY SEG of the protocol's Liver and Liver lesion
  segments that references the case's series (over HTTP: hashed, uploaded, then recorded).

Each call is timed from the client. Over HTTP the client is ``server.RemoteService`` (login with
a password, token saved under its own ``$DICOM_ANNOTATOR_CONFIG``); in local mode it is
``review.LocalService`` on its own connection to the database. Before the timed calls every
client makes one untimed round (imports, connections, first queries). Before each mode's concurrent
run, one client runs by itself (``--alone-rounds``): what a call costs without waiting behind the
others, so the report separates a call's own latency from the queue of 20. The floor of ``submit`` is
measured in the same run: writing the same 25 MB into the store's files folder with ``fsync``,
which every submission does once whatever the software around it.

Data shared by every case (the store is content-addressed, so identical bytes are one file):
the images are one small CT series (4 slices of 512x512, 2 MB), kept once and listed for every
case; the SEG is one template written by ``seg.write_seg`` on a 512x512x400 CT grid, and each
submission gets its own copy with its SOP Instance and Series Instance UIDs renewed and the
case's series UID written into its Referenced Series Sequence (same-length UIDs, so the bytes
are rewritten in place): every submission is a distinct file that passes the store's checks of
series and segments, as a SEG drawn on that case would.

    .venv/bin/python benchmarks/team_server_benchmark.py                 # 100,000 cases, 20 clients
    .venv/bin/python benchmarks/team_server_benchmark.py --quick         # about a minute
    .venv/bin/python benchmarks/team_server_benchmark.py --files /dev/shm/bench-files   # files off the disk
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "DICOMAnnotator"), str(REPO / "Testing")]

PROJECT = "bench"
PROTOCOL = "liver-lesions-ct"
PASSWORD = "bench-correct horse battery"
#: UIDs of one length, so that a template's UID can be replaced by a case's in the file's bytes.
UID_ROOT = "1.2.826.0.1.3680043.8.498.7"
CALLS = ("next", "fetch", "submit")
CLIENT_MODES = ("http", "local")


def series_uid(root: str, number: int) -> str:
    """Case ``number``'s series UID (0: the template's); every one has the same length."""
    return f"{root}.{1_000_000_000 + number}"


def renewed_uid(uid: str, number: int) -> str:
    """``uid`` with its last 12 digits replaced by ``number``: a new UID of the same length."""
    if not uid[-13].isdigit():
        raise ValueError(f"UID {uid} has too short a last component to renew in place")
    return f"{uid[:-12]}{number:012d}"


# ----------------------------------------------------------------------------- data
def write_small_series(folder: Path, study_uid: str, series: str) -> list[Path]:
    """The images every case shows: 4 CT slices of 512x512 (phantom anatomy)."""
    from DICOMAnnotatorLib.imaging import ct_datasets, phantom_geometry, phantom_volume, write_datasets

    geometry = phantom_geometry(size=(512, 512, 4), spacing=(0.7, 0.7, 1.0), origin=(-179.0, -179.0, 0.0))
    hu, _ = phantom_volume(geometry)
    return write_datasets(ct_datasets(geometry, hu, study_uid=study_uid, series_uid=series), folder)


def write_template_seg(work: Path, study_uid: str, series: str, megabytes: float) -> Path:
    """A BINARY SEG of about ``megabytes`` MB with the protocol's two volume structures, on a 512x512 CT grid.

    Each 512x512 frame is 32 KiB; Liver and Liver lesion on every slice give two frames per slice.
    """
    import numpy as np
    from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, ct_datasets, phantom_geometry, write_datasets
    from DICOMAnnotatorLib.protocols import load_protocol
    from DICOMAnnotatorLib.seg import write_seg

    slices = max(1, round(megabytes * (1 << 20) / (2 * 512 * 512 // 8)))
    geometry = phantom_geometry(size=(512, 512, slices), spacing=(0.7, 0.7, 0.5), origin=(-179.0, -179.0, 0.0))
    rows, columns = np.mgrid[0:512, 0:512]
    liver = (rows - 250) ** 2 / 150**2 + (columns - 200) ** 2 / 170**2 <= 1
    lesion = (rows - 230) ** 2 + (columns - 180) ** 2 <= 30**2
    plane = np.where(lesion, 2, np.where(liver, 1, 0)).astype(np.uint8)
    labels = np.broadcast_to(plane, (slices, 512, 512))
    folder = work / "template-series"  # soft tissue only: its pixels play no part in the SEG's size or checks
    write_datasets(ct_datasets(geometry, np.full(labels.shape, 40, np.int16), study_uid=study_uid, series_uid=series),
                   folder)
    reference = ReferenceSeries.from_paths([folder])
    protocol = load_protocol(PROTOCOL)
    segmentation = Segmentation.from_labelmap(reference.geometry, labels, protocol.segment_descriptions(),
                                              reference=reference, author="Benchmark^Annotator",
                                              protocol_id=protocol.id)
    path = write_seg(segmentation, work / "template.seg.dcm")
    shutil.rmtree(folder)
    return path


def build(store_url: str, files: Path, cases: int, annotators: list[str], images: list[Path], study_uid: str,
          uid_root: str) -> float:
    """The store: users, the project, ``cases`` assigned cases with their audit records; returns seconds."""
    from DICOMAnnotatorLib.protocols import load_protocol
    from DICOMAnnotatorLib.review import LocalService, ReviewStore

    start = time.perf_counter()
    with ReviewStore(store_url, files=files) as store:
        LocalService(store, None).add_user("lead", ["lead"], full_name="Lead", password=PASSWORD)  # the one hash
        lead = LocalService(store, "lead")
        for name, role in [*((a, "annotator") for a in annotators), ("rev", "reviewer"), ("rad", "radiologist")]:
            lead.add_user(name, [role], full_name=f"Dr {name.title()}")
        lead.create_project(PROJECT, load_protocol(PROTOCOL))
        kept = [(f"{n:05d}-{path.name}", store.files.record(path, "image").sha256)
                for n, path in enumerate(images, start=1)]
        location = files / "series" / series_uid(uid_root, 0)  # as add_stored_cases shows a series: links
        for name, sha256 in kept:
            store.files.link_into(store.files.path(sha256), location / name)
        rng = random.Random(7)
        priorities = [rng.choice((0, 0, 0, 1, 2)) for _ in range(cases)]
        with store.write("lead") as tx:
            cursor = tx.conn.connection.dbapi_connection.cursor()
            ids = dict(cursor.execute("SELECT name, id FROM users").fetchall())
            project_id = cursor.execute("SELECT id FROM projects WHERE name = %s", (PROJECT,)).fetchone()[0]
            password_hash = cursor.execute("SELECT password_hash FROM users WHERE name = 'lead'").fetchone()[0]
            cursor.execute("UPDATE users SET password_hash = %s WHERE name <> 'lead'", (password_hash,))
            for name in ids:
                if name != "lead":
                    tx.record("user.password", details={"user": name, "reset_by_lead": True})
            with cursor.copy("COPY cases (id, project_id, study_uid, series_uid, modality, image_location, "
                             "priority, state, tier, round, assigned_count, claimable, waiting_for, added_at) "
                             "FROM STDIN") as copy:
                for case in range(1, cases + 1):
                    copy.write_row((case, project_id, study_uid, series_uid(uid_root, case), "CT", str(location),
                                    priorities[case - 1], "assigned", 0, 1, 2, False, None, tx.now))
            # as assign_cases gives them: by priority then age, the two least-loaded annotators in turn
            order = sorted(range(1, cases + 1), key=lambda c: (-priorities[c - 1], c))
            pairs = {}
            with cursor.copy("COPY assignments (case_id, user_id, slot, project_id, priority, is_open, assigned_at, "
                             "assigned_by) FROM STDIN") as copy:
                for k, case in enumerate(order):
                    pairs[case] = [annotators[(2 * k + slot) % len(annotators)] for slot in (0, 1)]
                    for slot, name in enumerate(pairs[case], start=1):
                        copy.write_row((case, ids[name], slot, project_id, priorities[case - 1], True, tx.now,
                                        ids["lead"]))
            with cursor.copy("COPY case_images (case_id, name, sha256) FROM STDIN") as copy:
                for case in range(1, cases + 1):
                    for name, sha256 in kept:
                        copy.write_row((case, name, sha256))
            cursor.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), %s)", (cases,))
            for case in range(1, cases + 1):
                tx.record("case.add", project=PROJECT, case=case, details={
                    "study_uid": study_uid, "series_uid": series_uid(uid_root, case), "modality": "CT",
                    "images": str(location), "priority": priorities[case - 1]})
            for case in order:
                tx.record("case.assign", project=PROJECT, case=case,
                          details={"annotators": pairs[case], "quota": 2})
    import psycopg

    with psycopg.connect(store_url, autocommit=True) as conn:  # statistics, as a store in use has them
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- clients
def client(mode: str, target: str, files: str, name: str, work: str, template: str, uid_root: str, number: int,
           rounds: int, ready: Any, go: Any, results: Any) -> None:
    """One annotator's process: sign in (or open the store), one untimed round, then ``rounds`` timed ones."""
    work_folder = Path(work)
    work_folder.mkdir(parents=True, exist_ok=True)
    try:
        if mode == "http":
            os.environ["DICOM_ANNOTATOR_CONFIG"] = str(work_folder / "config")
            from DICOMAnnotatorLib.server import RemoteService, login

            login(target, name, PASSWORD)
            service = RemoteService(target)
        else:
            from DICOMAnnotatorLib.review import LocalService, ReviewStore

            service = LocalService(ReviewStore(target, files=files, create=False), name)
        import pydicom

        seg_bytes = bytearray(Path(template).read_bytes())
        header = pydicom.dcmread(template, stop_before_pixels=True)
        # where the case's series UID and the SEG's own UIDs go: patched in place each round, so that a client's
        # untimed work between calls stays small beside the server's (they share the machine's cores)
        template_series = series_uid(uid_root, 0)
        places = {uid: _offsets(seg_bytes, uid.encode()) for uid in
                  (template_series, str(header.SOPInstanceUID), str(header.SeriesInstanceUID))}
        times: dict[str, list[float]] = {call: [] for call in CALLS}

        def one_round(serial: int, timed: bool) -> None:
            def call(label: str, function: Callable[..., Any], *args: Any) -> Any:
                start = time.perf_counter()
                answer = function(*args)
                if timed:
                    times[label].append((time.perf_counter() - start) * 1000)
                return answer

            found = call("next", service.next_case, PROJECT)
            case = found["case"]
            fetched = work_folder / f"case-{case}"
            call("fetch", service.fetch_case, case, fetched)
            seg = work_folder / f"case-{case}.seg.dcm"
            for uid, offsets in places.items():
                new = found["series"] if uid == template_series else renewed_uid(uid, number * 1_000_000 + serial)
                for offset in offsets:
                    seg_bytes[offset:offset + len(new)] = new.encode()
            seg.write_bytes(seg_bytes)
            call("submit", service.submit, case, seg)
            seg.unlink()
            shutil.rmtree(fetched)

        one_round(0, timed=False)
        ready.put(name)
        go.wait()
        for serial in range(1, rounds + 1):
            one_round(serial, timed=True)
        results.put({"name": name, "times": times, "finished": time.perf_counter()})
    except BaseException as error:  # reported to the parent, which stops the run
        ready.put(name)
        results.put({"name": name, "error": f"{type(error).__name__}: {error}"})


def _offsets(data: bytearray, value: bytes) -> list[int]:
    """Every position of ``value`` in ``data``."""
    found, start = [], data.find(value)
    while start >= 0:
        found.append(start)
        start = data.find(value, start + len(value))
    if not found:
        raise ValueError(f"{value.decode()} is not in the template SEG")
    return found


def run_clients(mode: str, target: str, files: Path, annotators: list[str], work: Path, template: Path,
                uid_root: str, rounds: int, first: int) -> dict[str, Any]:
    """Every annotator's client at once; their timings and the wall time from the common start. Clients are
    numbered from ``first`` on, and each run must use numbers of its own: they make the SEGs' UIDs."""
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    processes = [context.Process(target=client, args=(
        mode, target, str(files), name, str(work / f"{mode}-{number}-{name}"), str(template), uid_root, number,
        rounds, ready, go, results)) for number, name in enumerate(annotators, start=first)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=600)
    started = time.perf_counter()
    go.set()
    answers = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
    failed = [a for a in answers if "error" in a]
    if failed:
        raise RuntimeError(f"{mode} client {failed[0]['name']} failed: {failed[0]['error']}")
    times = {call: [t for a in answers for t in a["times"][call]] for call in CALLS}
    return {"times": times, "seconds": max(a["finished"] for a in answers) - started, "load": os.getloadavg()}


def write_floor(files: Path, template: Path, samples: int) -> list[float]:
    """Milliseconds to write the SEG's bytes into the files folder and fsync them (what keeping it costs)."""
    data = template.read_bytes()
    times = []
    for n in range(samples):
        target = files / f"floor-{n}"
        start = time.perf_counter()
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        times.append((time.perf_counter() - start) * 1000)
        target.unlink()
    return times


# ----------------------------------------------------------------------------- report
def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(args: argparse.Namespace, built: float, seg_mb: float, images: list[Path],
           runs: dict[str, dict[str, Any]], floor: list[float], load: tuple[float, float, float]) -> str:
    image_mb = sum(path.stat().st_size for path in images) / (1 << 20)
    lines = [f"{args.cases} cases, {args.clients} clients x {args.rounds} timed rounds, SEG {seg_mb:.1f} MB, "
             f"{len(images)} images of 512x512 ({image_mb:.1f} MB) per fetch; store built in {built:.1f} s; "
             f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores "
             "(milliseconds)", "",
             "| mode | call | calls | p50 | p95 | max | p50 HTTP/local | p95 HTTP/local |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for mode in runs:
        for call in CALLS:
            values = runs[mode]["times"][call]
            cells = [mode, call, str(len(values)), f"{statistics.median(values):.1f}", f"{percentile(values, 95):.1f}",
                     f"{max(values):.1f}"]
            counterpart = mode.replace("http", "local")
            if mode.startswith("http") and counterpart in runs:
                local = runs[counterpart]["times"][call]
                cells += [f"{statistics.median(values) / statistics.median(local):.2f}x",
                          f"{percentile(values, 95) / percentile(local, 95):.2f}x"]
            else:
                cells += ["", ""]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| floor | write {seg_mb:.0f} MB + fsync into the files folder | {len(floor)} | "
                 f"{statistics.median(floor):.1f} | {percentile(floor, 95):.1f} | {max(floor):.1f} |  |  |")
    lines.append("")
    for mode, run in runs.items():
        rounds = len(run["times"]["submit"])
        lines.append(f"{mode}: {rounds} rounds (next + fetch + submit) in {run['seconds']:.1f} s: "
                     f"{rounds / run['seconds']:.2f} submissions/s, {3 * rounds / run['seconds']:.1f} calls/s, "
                     f"{rounds * seg_mb / run['seconds']:.0f} MB/s of SEGs kept; load average at its end "
                     f"{' '.join(f'{value:.2f}' for value in run['load'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20, help="concurrent annotators (processes)")
    parser.add_argument("--rounds", type=int, default=10, help="timed next/fetch/submit rounds per client")
    parser.add_argument("--seg-mb", type=float, default=25.0, help="size of the submitted SEG")
    parser.add_argument("--modes", default="http,local", help="http, local or both")
    parser.add_argument("--files", type=Path, help="the store's files folder (default: a new one beside the "
                                                   "database, on the disk); must not exist")
    parser.add_argument("--alone-rounds", type=int, default=5, help="timed rounds of one client by itself, "
                        "before the concurrent run of each mode (0: none): the calls' latency without a queue")
    parser.add_argument("--quick", action="store_true", help="10,000 cases, 6 clients x 3 rounds")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.clients, args.rounds = 10_000, 6, 3
    if args.clients < 2:
        parser.error("--clients must be at least 2 (each case has two annotators)")
    if not set(args.modes.split(",")) <= set(CLIENT_MODES):
        parser.error(f"--modes takes {' and/or '.join(CLIENT_MODES)}, comma-separated")
    from postgres_server import PostgresServer, find_program
    from team_server import TeamServer

    initdb, pg_ctl = find_program("initdb"), find_program("pg_ctl")
    if not initdb or not pg_ctl:
        sys.exit("error: PostgreSQL's initdb and pg_ctl are needed (Debian: apt-get install postgresql)")
    load = os.getloadavg()
    annotators = [f"annotator{n:02d}" for n in range(1, args.clients + 1)]
    uid_root = f"{UID_ROOT}{random.Random().randrange(10**8, 10**9)}"
    study_uid = f"{uid_root}.1"
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="team-bench-") as folder, \
            tempfile.TemporaryDirectory(prefix="team-bench-work-", dir=shm) as scratch:
        base, work = Path(folder), Path(scratch)  # the clients' files in memory: their disk is not the server's
        files = args.files or base / "server-files"
        if files.exists():
            parser.error(f"--files {files} exists; give a new folder")
        images = write_small_series(work / "images", study_uid, series_uid(uid_root, 0))
        template = write_template_seg(work, study_uid, series_uid(uid_root, 0), args.seg_mb)
        seg_mb = template.stat().st_size / (1 << 20)
        postgres = PostgresServer(initdb, pg_ctl, durable=True).start()
        try:
            store_url = postgres.new_database()
            built = build(store_url, files, args.cases, annotators, images, study_uid, uid_root)
            print(f"built {args.cases} cases in {built:.1f} s", file=sys.stderr)
            runs: dict[str, dict[str, Any]] = {}
            modes = args.modes.split(",")
            for index, mode in enumerate(modes):
                server = TeamServer(store_url, base) if mode == "http" else None
                if server is not None:
                    server.files = files
                    server.start()
                target = server.url if server is not None else store_url
                try:
                    if args.alone_rounds:
                        runs[f"{mode} alone"] = run_clients(mode, target, files, annotators[:1], work, template,
                                                            uid_root, args.alone_rounds,
                                                            first=1 + len(modes) * args.clients + index)
                    runs[mode] = run_clients(mode, target, files, annotators, work, template, uid_root, args.rounds,
                                             first=1 + index * args.clients)
                finally:
                    if server is not None:
                        server.stop()
                print(f"{mode}: done in {runs[mode]['seconds']:.1f} s", file=sys.stderr)
            floor = write_floor(files, template, 10)
            summary = report(args, built, seg_mb, images, runs, floor, load)
        finally:
            postgres.stop()
            if args.files:
                shutil.rmtree(args.files, ignore_errors=True)
    print(summary)


if __name__ == "__main__":
    main()
