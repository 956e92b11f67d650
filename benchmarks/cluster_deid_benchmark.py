"""De-identification of a folder of 3,000 files: local worker processes versus a 2-worker Dask cluster.

    .venv/bin/python benchmarks/cluster_deid_benchmark.py [--files 3000] [--size 128] [--repeat 2]

Data: generated CT series (100 slices each, ``--size`` square, one file per slice) with patient
identifiers, ``--files`` files in all. Contenders, each a ``dicom-annotator deidentify`` process on the
same input with the same key, into a fresh folder: ``--jobs 1``, ``--jobs 2`` (local processes, the
default way) and ``--scheduler`` on a ``distributed.LocalCluster`` of 2 single-threaded worker processes
started once beforehand (a standing cluster, as a team would run it; its start is not timed). The
figure is the wall time of the whole command, best of ``--repeat``; every output tree is checked
to be byte-identical to the ``--jobs 1`` one.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEY = "benchmark-key-0123456789abcdef"
SLICES = 100


def write_input(folder: Path, files: int, size: int) -> None:
    from DICOMAnnotatorLib.imaging import ct_datasets, phantom_geometry, phantom_volume, write_datasets

    geometry = phantom_geometry(size=(size, size, SLICES))
    hu, _ = phantom_volume(geometry)
    for number in range((files + SLICES - 1) // SLICES):
        datasets = ct_datasets(geometry, hu, patient_name=f"Doe^Jane{number}", patient_id=f"MRN{number:06d}")
        write_datasets(datasets[:files - number * SLICES], folder / f"series{number:03d}")


def run(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} failed: {result.stderr[-2000:]}")
    return seconds


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from distributed import LocalCluster

    work = Path(tempfile.mkdtemp(prefix="cluster-deid-"))
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=40)
    try:
        write_input(work / "in", args.files, args.size)
        command = [str(Path(sys.executable).with_name("dicom-annotator")), "deidentify", str(work / "in"), "{out}",
                   "--key", KEY]
        contenders = {"local, --jobs 1": ["--jobs", "1"], "local, --jobs 2": ["--jobs", "2"],
                      "Dask cluster, 2 workers (--scheduler)": ["--scheduler", cluster.scheduler_address]}
        best: dict[str, float] = {}
        reference = None
        for _ in range(args.repeat):
            for name, extra in contenders.items():
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                seconds = run([part.replace("{out}", str(out)) for part in command] + extra)
                best[name] = min(best.get(name, seconds), seconds)
                written = tree(out)
                reference = reference or written
                assert written == reference, f"{name} wrote other bytes than --jobs 1"
        base = best["local, --jobs 2"]
        print(f"{args.files} files of {args.size}x{args.size} (best of {args.repeat}); outputs byte-identical")
        print("| contender | seconds | files/s | time ratio to local --jobs 2 |")
        print("| --- | --- | --- | --- |")
        for name, seconds in best.items():
            print(f"| {name} | {seconds:.1f} | {args.files / seconds:.0f} | {seconds / base:.2f}x |")
    finally:
        cluster.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
