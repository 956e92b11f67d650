"""De-identification throughput: DICOMAnnotatorLib versus dicognito, deid and a bare pydicom loop.

    .venv/bin/python benchmarks/deid_benchmark.py [--slices 300] [--size 512] [--repeat 3]

Data: one generated CT series (default 300 slices of 512x512, 16-bit, one file per slice) whose
headers carry what real ones do: names, IDs, dates and times, institution, operators, a
referenced-image sequence and private attributes. Each contender runs as its own process, in
one run, on the same files, writing to its own fresh folder; the figure is files per second of
the whole process (start-up and imports included, as a user sees it), its peak memory, and
the rate after start-up: (files - 1) / (time for all files - time for one file), which is what
a folder of thousands of files approaches. The best of ``--repeat`` runs is kept.
``pydicom`` is the floor: read and write each file, nothing else. Ours runs the full Basic
Profile and screens every slice for burned-in text (``deid/text_screen.py``; it finds none on this
series, so no OCR runs); "ours (--pixels keep)" skips the screen, so the two rows give its cost.
Extras: ``pip install -e .[benchmark]`` installs dicognito and deid.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KEY = "benchmark-key-0123456789abcdef"

PYDICOM_LOOP = """
import sys
from pathlib import Path
from pydicom import dcmread
source, output = Path(sys.argv[1]), Path(sys.argv[2])
output.mkdir(parents=True, exist_ok=True)
for path in sorted(source.rglob("*.dcm")):
    dcmread(path).save_as(output / path.name)
"""

DEID_RUN = """
import sys
from pathlib import Path
from deid.dicom import replace_identifiers
source, output = Path(sys.argv[1]), Path(sys.argv[2])
output.mkdir(parents=True, exist_ok=True)
replace_identifiers(dicom_files=[str(p) for p in sorted(source.rglob("*.dcm"))], save=True,
                    output_folder=str(output), overwrite=True)
"""


def contenders(python: str) -> dict[str, list[str]]:
    ours = [python, "-m", "DICOMAnnotatorLib.cli.main", "deidentify", "{src}", "{out}", "--key", KEY]
    return {
        "ours (--jobs 1)": [*ours, "--jobs", "1"],
        "ours (--jobs 2)": [*ours, "--jobs", "2"],
        "ours (--jobs 2, --pixels keep)": [*ours, "--jobs", "2", "--pixels", "keep"],
        "dicognito": [python, "-m", "dicognito", "--quiet", "--output-directory", "{out}", "{src}"],
        "deid (default recipe)": [python, "-c", DEID_RUN, "{src}", "{out}"],
        "pydicom read+write": [python, "-c", PYDICOM_LOOP, "{src}", "{out}"],
    }


def make_series(folder: Path, slices: int, size: int) -> int:
    """A CT series with realistic identifying headers; returns the number of files."""
    sys.path.insert(0, str(REPO / "DICOMAnnotator"))
    from DICOMAnnotatorLib.imaging import phantoms
    from pydicom.dataset import Dataset

    geometry = phantoms.phantom_geometry(size=(size, size, slices), spacing=(0.7, 0.7, 1.0))
    block = phantoms.phantom_geometry(size=(size, size, 16), spacing=(0.7, 0.7, 1.0))
    hu_block, _ = phantoms.phantom_volume(block)
    hu = np.concatenate([hu_block] * (slices // 16 + 1))[:slices]
    datasets = phantoms.ct_datasets(geometry, hu, patient_name="Benchmark^Patient^M", patient_id="BM-000123")
    for ds in datasets:
        ds.PatientBirthDate, ds.PatientSex, ds.PatientAge = "19600101", "M", "063Y"
        ds.AccessionNumber, ds.StudyID = "ACC0001234", "77"
        ds.InstitutionName, ds.InstitutionAddress = "General Hospital", "1 Main Street"
        ds.ReferringPhysicianName, ds.OperatorsName = "Referrer^Rae", "Operator^Otto"
        ds.StationName, ds.DeviceSerialNumber = "CT01", "SN000042"
        ds.SeriesDate = ds.AcquisitionDate = ds.StudyDate
        ds.AcquisitionTime = ds.SeriesTime = ds.StudyTime
        ds.StudyDescription, ds.SeriesDescription = "CT ABDOMEN", "Portal venous 1.0"
        reference = Dataset()
        reference.ReferencedSOPClassUID = ds.SOPClassUID
        reference.ReferencedSOPInstanceUID = datasets[0].SOPInstanceUID
        ds.ReferencedImageSequence = [reference]
        block = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
        block.add_new(0x23, "DS", "39.375")
        block.add_new(0x9E, "LO", "internal")
    return len(phantoms.write_datasets(datasets, folder))


def run(command: list[str], source: Path, output: Path) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one process (and its children)."""
    if output.exists():
        shutil.rmtree(output)
    argv = [part.format(src=source, out=output) for part in command]
    env = {**os.environ, "PYTHONPATH": str(REPO / "DICOMAnnotator")}
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:4]} failed ({process.returncode}): {process.stderr.read().decode()[-800:]}")
    # wait4 reports the process's peak, folded with the peaks of the workers it waited for.
    return seconds, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="names of contenders to run (default: all)")
    parser.add_argument("--make", metavar="DIR", help=argparse.SUPPRESS)  # internal: write the series only
    args = parser.parse_args(argv)
    if args.make:
        make_series(Path(args.make), args.slices, args.size)
        return 0
    with tempfile.TemporaryDirectory(prefix="deid-bench-") as temporary:
        source = Path(temporary) / "series"
        # Made in another process, so that this one stays small: a child's peak memory counts
        # the pages of the parent it was forked from.
        subprocess.run([sys.executable, __file__, "--make", str(source), "--slices", str(args.slices),
                        "--size", str(args.size)], check=True)
        files = len(list(source.glob("*.dcm")))
        single = Path(temporary) / "one"
        single.mkdir()
        shutil.copy(next(source.glob("*.dcm")), single)
        results = []
        for name, command in contenders(sys.executable).items():
            if args.only and name not in args.only:
                continue
            whole, peak = min(run(command, source, Path(temporary) / "out") for _ in range(args.repeat))
            start = min(run(command, single, Path(temporary) / "out")[0] for _ in range(args.repeat))
            results.append((name, whole, start, peak))
            print(f"{name}: {files / whole:.0f} files/s ({whole:.2f} s, start-up {start:.2f} s, {peak:.0f} MB)",
                  file=sys.stderr)
    print(f"\n{files} files ({args.size}x{args.size} CT slices), best of {args.repeat}\n")
    print("| contender | seconds | files/s | start-up s | files/s after start-up | peak MB "
          "| vs dicognito (whole run) | vs dicognito (after start-up) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rates = {name: (files / whole, (files - 1) / max(whole - start, 1e-6)) for name, whole, start, _ in results}
    reference = rates.get("dicognito")
    for name, whole, start, peak in results:
        whole_rate, steady_rate = rates[name]
        ratios = (f"{whole_rate / reference[0]:.2f}x | {steady_rate / reference[1]:.2f}x" if reference
                  else "n/a | n/a")
        print(f"| {name} | {whole:.2f} | {whole_rate:.0f} | {start:.2f} | {steady_rate:.0f} | {peak:.0f} | {ratios} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
