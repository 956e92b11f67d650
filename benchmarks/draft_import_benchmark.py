"""``draft import`` of a 104-structure TotalSegmentator-style label map against writing the same SEG with highdicom.

The data: a CT series of single-frame files (512x512x300 by default), a 104-label map laid out as
TotalSegmentator's ``--ml`` file (uint8 NIfTI saved by nibabel, its class map in a Caret XML header
extension), about 30% of the voxels labelled (one ellipsoid per label, in a grid of cells), and a
protocol whose 104 volume structures have the class map's names.

- ours: the whole command, as a user runs it: ``dicom-annotator draft import CASE segmentations.nii
  --algorithm TotalSegmentator --algorithm-version 2`` on a SQLite store holding the case: it reads the
  series and the NIfTI with its header's class map, maps the 104 labels onto the protocol by name, writes
  a BINARY SEG of 104 AUTOMATIC segments, and keeps it in the store (hashed, copied, recorded, audited).
- highdicom, used plainly: a Python process that reads the NIfTI with nibabel and its class map, reads
  the 300 CT files with pydicom and builds ``hd.seg.Segmentation`` from the label map (highdicom takes an
  array of segment numbers for BINARY) with the same 104 AUTOMATIC descriptions, then saves it. It does
  not map names to codes (its descriptions are made in the order of the class map) and keeps no store.

Both run as new processes (interpreter start and imports included); the time is wall-clock, the memory
the process's peak resident set.

    .venv/bin/python benchmarks/draft_import_benchmark.py [--quick] [--repeat N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STRUCTURES = 104
ALGORITHM = ("TotalSegmentator", "2.4.0")
CATEGORY = {"code_value": "91723000", "coding_scheme_designator": "SCT", "code_meaning": "Anatomical Structure"}


def class_map() -> dict[int, str]:
    """TotalSegmentator-style names (lower case, underscores) for label values 1..104."""
    return {value: f"structure_{value:03d}" for value in range(1, STRUCTURES + 1)}


def protocol() -> dict:
    """A protocol of 104 volume structures named as the class map (local codes, scheme 99BENCH)."""
    structures = [{"label": name.replace("_", " ").capitalize(), "kind": "volume", "label_value": value,
                   "category": CATEGORY,
                   "type": {"code_value": f"S{value:03d}", "coding_scheme_designator": "99BENCH",
                            "code_meaning": name.replace("_", " ")}}
                  for value, name in class_map().items()]
    return {"id": "whole-body-104", "version": "1.0.0", "title": "104 structures (benchmark)", "modality": "CT",
            "body_part": "WHOLEBODY", "annotators_per_case": 1, "structures": structures}


def labelmap(shape_kji: tuple[int, int, int]) -> np.ndarray:
    """One ellipsoid per label in a grid of 8 slabs x 4 x 4 cells (the first 104 cells), about 30% labelled."""
    labels = np.zeros(shape_kji, dtype=np.uint8)
    cells = [(z, y, x) for z in range(8) for y in range(4) for x in range(4)][:STRUCTURES]
    size = np.array(shape_kji) / np.array([8, 4, 4])
    k, j, i = np.ogrid[:int(size[0]) + 1, :int(size[1]) + 1, :int(size[2]) + 1]
    for value, cell in enumerate(cells, start=1):
        start = (np.array(cell) * size).astype(int)
        radius = 0.45 * size
        centre = size / 2
        blob = sum(((axis - c) / r) ** 2 for axis, c, r in zip((k, j, i), centre, radius, strict=True))
        box = tuple(slice(s, min(s + blob.shape[axis], shape_kji[axis])) for axis, s in enumerate(start))
        inside = blob[tuple(slice(0, b.stop - b.start) for b in box)] <= 1
        labels[box][inside] = value
    return labels


def make_data(folder: Path, shape_kji: tuple[int, int, int]) -> None:
    """The CT series (folder/ct), TotalSegmentator's file (folder/segmentations.nii) and a store holding the case."""
    import nibabel as nib
    from DICOMAnnotatorLib.cli.main import main as command
    from DICOMAnnotatorLib.imaging import phantoms
    from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry

    geometry = VolumeGeometry.from_axes(shape_kji[::-1], (-179.2, -179.2, -150.0), (0.7, 0.7, 1.0), np.eye(3))
    phantoms.write_datasets(phantoms.ct_datasets(geometry, np.full(shape_kji, 40, np.int16)), folder / "ct")
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(geometry.affine)
    image = nib.Nifti1Image(np.ascontiguousarray(labelmap(shape_kji).transpose(2, 1, 0)), ras)
    entries = "".join(f'<Label Key="{v}" Red="1" Green="0" Blue="0" Alpha="1"><![CDATA[{name}]]></Label>\n'
                      for v, name in class_map().items())
    table = f'<?xml version="1.0" encoding="UTF-8"?><CaretExtension><VolumeInformation Index="0"><LabelTable>\n' \
            f"{entries}</LabelTable></VolumeInformation></CaretExtension>\n"
    image.header.extensions.append(nib.nifti1.Nifti1Extension(0, table.encode()))
    nib.save(image, str(folder / "segmentations.nii"))
    (folder / "protocol.json").write_text(json.dumps(protocol()), encoding="utf-8")
    store = f"sqlite:///{folder / 'review.db'}"
    for args in (["user", "add", "lead", "--role", "lead"],
                 ["project", "create", "body", "--protocol", str(folder / "protocol.json"), "--user", "lead"],
                 ["case", "add", "body", str(folder / "ct"), "--user", "lead"]):
        with contextlib.redirect_stdout(sys.stderr):  # the table alone on stdout
            status = command([*args, "--store", store])
        if status != 0:
            raise SystemExit(f"error: preparing the store failed at {args[:2]}")


def write_highdicom(folder: Path, output: Path) -> None:
    """highdicom's plain use: nibabel, pydicom, hd.seg.Segmentation from the label map, save."""
    import highdicom as hd
    import nibabel as nib
    import pydicom
    from highdicom.sr.coding import CodedConcept

    image = nib.load(str(folder / "segmentations.nii"))
    labels = np.asarray(image.dataobj).transpose(2, 1, 0)  # (slices, rows, columns)
    sources = sorted((pydicom.dcmread(path) for path in (folder / "ct").glob("*.dcm")),
                     key=lambda ds: float(ds.ImagePositionPatient[2]))
    algorithm = hd.AlgorithmIdentificationSequence(ALGORITHM[0], CodedConcept("123110", "DCM",
                                                                              "Artificial Intelligence"), ALGORITHM[1])
    descriptions = [hd.seg.SegmentDescription(
        segment_number=value, segment_label=name.replace("_", " ").capitalize(),
        segmented_property_category=CodedConcept("91723000", "SCT", "Anatomical Structure"),
        segmented_property_type=CodedConcept(f"S{value:03d}", "99BENCH", name.replace("_", " ")),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm)
        for value, name in class_map().items()]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=labels, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=1001,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="benchmark", manufacturer_model_name="benchmark",
        software_versions="1", device_serial_number="1")
    seg.save_as(output)


def run_measured(command: list[str]) -> tuple[dict, str]:
    """Wall-clock seconds, CPU seconds (user + system) and peak resident MB of ``command`` as a new process (from a
    small parent), and what it printed. On a shared machine the CPU time moves much less than the wall-clock time
    between runs."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode:
        return {"failed": (result.stderr or result.stdout)[-500:]}, result.stdout
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ({"seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024},
            result.stdout)


def measure(contender: str, folder: Path) -> dict:
    """One run of ``contender`` in a fresh measuring process (so that its peak memory is its own)."""
    return json.loads(subprocess.run([sys.executable, __file__, "--measure", contender, "--keep", str(folder)],
                                     capture_output=True, text=True, check=True).stdout)


def _measure_here(contender: str, folder: Path) -> dict:
    if contender == "ours":
        command = [str(Path(sys.executable).with_name("dicom-annotator")), "draft", "import", "1",
                   str(folder / "segmentations.nii"), "--algorithm", ALGORITHM[0], "--algorithm-version", ALGORITHM[1],
                   "--store", f"sqlite:///{folder / 'review.db'}", "--user", "lead", "--json"]
        result, printed = run_measured(command)
        if "failed" not in result:
            result["seg_mb"] = Path(json.loads(printed)["seg"]).stat().st_size / 2**20
        return result
    output = folder / "highdicom.dcm"
    result, _ = run_measured([sys.executable, __file__, "--write-highdicom", str(output), "--keep", str(folder)])
    if "failed" not in result:
        result["seg_mb"] = output.stat().st_size / 2**20
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 256x256x100 CT instead of 512x512x300")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender (default 1)")
    parser.add_argument("--keep", type=Path, help="make (or reuse) the data in this folder")
    parser.add_argument("--measure", choices=("ours", "highdicom"), help=argparse.SUPPRESS)
    parser.add_argument("--write-highdicom", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_highdicom:
        write_highdicom(args.keep, args.write_highdicom)
        return 0
    if args.measure:
        print(json.dumps(_measure_here(args.measure, args.keep)))
        return 0
    shape = (100, 256, 256) if args.quick else (300, 512, 512)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="draft-import-benchmark-"))
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "review.db").exists():
        print(f"CT {shape[2]}x{shape[1]}x{shape[0]}, {STRUCTURES} labels, in {folder}; making the data...",
              file=sys.stderr, flush=True)
        make_data(folder, shape)
    rows = []
    for run in range(args.repeat):
        for contender in ("ours", "highdicom"):
            result = measure(contender, folder)
            rows.append({"run": run + 1, "contender": contender, **result})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| contender | runs | median seconds | median CPU seconds | peak MB | SEG MB | time vs ours "
          "| CPU time vs ours |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    medians = {}
    for contender in ("ours", "highdicom"):
        done = [r for r in rows if r["contender"] == contender and "failed" not in r]
        if not done:
            print(f"| {contender} | failed: {rows[-1].get('failed', '')[:80]} | | | | | | |")
            continue
        medians[contender] = (statistics.median(r["seconds"] for r in done),
                              statistics.median(r["cpu_seconds"] for r in done), max(r["peak_mb"] for r in done))
        wall, cpu, peak = medians[contender]
        ours = medians.get("ours")
        ratios = (f"{wall / ours[0]:.1f}x", f"{cpu / ours[1]:.1f}x") if ours else ("-", "-")
        print(f"| {contender} | {len(done)} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | {done[-1]['seg_mb']:.1f} | "
              f"{ratios[0]} | {ratios[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
