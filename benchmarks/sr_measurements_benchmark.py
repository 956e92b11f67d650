"""SR measurements: DICOMAnnotatorLib versus SimpleITK's label statistics, plus a whole ``sr export``.

Each contender runs in its own process (time and peak memory of that process) on the same
synthetic data: S ellipsoid segments (about 5% of the voxels in all) on a 512x512x300 CT grid
with CT numbers. Figures computed by both, per segment: volume, maximum 3D (Feret) diameter
between voxel centres, mean/min/max/standard deviation of the CT numbers. SimpleITK uses
LabelShapeStatisticsImageFilter (ComputeFeretDiameterOn) and LabelStatisticsImageFilter on
the label map, which is how a Slicer or ITK user gets these numbers.

    .venv/bin/python benchmarks/sr_measurements_benchmark.py [--quick] [--segments 1 10] [--export]

``--export`` also times the whole command (``sr export`` on a CT series written as 300 DICOM
files and a BINARY SEG: reading the series and SEG, measuring, writing the SR), and the SR
writing alone from measurements already made against dcmqi's ``tid1500writer`` (the TID 1500
writer a user would otherwise call) given the same measurements, SEG and image files. The peak
memory of "ours (build_sr + write_sr)" is that of its whole process, which also read the series.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SPACING = (0.7, 0.7, 1.0)  # i, j, k (mm)


def make_case(shape, segments: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CT numbers (int16) and a label map (uint8) with ``segments`` ellipsoids of ~5%/S of the volume each."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    radius_scale = (0.05 * np.prod(shape) / segments / (4 / 3 * np.pi)) ** (1 / 3)
    for segment in range(1, segments + 1):
        radii = radius_scale * np.array([0.8, 1.1, 1.15])
        centre = [rng.uniform(r + 2, n - r - 2) for r, n in zip(radii, shape, strict=True)]
        box = tuple(slice(max(int(c - r) - 1, 0), min(int(c + r) + 2, n)) for c, r, n in zip(centre, radii, shape,
                                                                                             strict=True))
        grid = np.ogrid[box]
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)) <= 1
        labels[box][inside] = segment
    hu = rng.integers(-20, 100, size=shape, dtype=np.int16)
    hu += labels * np.int16(20)
    return hu, labels


def geometry(shape):
    from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry

    return VolumeGeometry.from_axes(shape[::-1], (0, 0, 0), SPACING, np.eye(3))


def run_ours(shape, segments, queue):
    hu, labels = make_case(shape, segments)
    from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
    from DICOMAnnotatorLib.sr.measurements import measure_segmentation

    start = time.perf_counter()
    descriptions = [SegmentDescription(n, f"Segment {n}") for n in range(1, segments + 1)]
    segmentation = Segmentation.from_labelmap(geometry(shape), labels, descriptions)
    result = {m.number: (m.volume_ml, m.max_diameter_mm, m.intensity.mean) for m in
              measure_segmentation(segmentation, hu)}
    queue.put((time.perf_counter() - start, _peak_mb(), result))


def run_simpleitk(shape, segments, queue):
    hu, labels = make_case(shape, segments)
    import SimpleITK as sitk

    start = time.perf_counter()
    label_image = geometry(shape).apply_to_sitk(sitk.GetImageFromArray(labels))
    image = geometry(shape).apply_to_sitk(sitk.GetImageFromArray(hu))
    shape_filter = sitk.LabelShapeStatisticsImageFilter()
    shape_filter.ComputeFeretDiameterOn()
    shape_filter.Execute(label_image)
    statistics = sitk.LabelStatisticsImageFilter()
    statistics.Execute(image, label_image)
    result = {n: (shape_filter.GetPhysicalSize(n) / 1000, shape_filter.GetFeretDiameter(n), statistics.GetMean(n))
              for n in range(1, segments + 1)}
    _ = [(statistics.GetMinimum(n), statistics.GetMaximum(n), statistics.GetSigma(n)) for n in range(1, segments + 1)]
    queue.put((time.perf_counter() - start, _peak_mb(), result))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(target, shape, segments):
    queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=target, args=(shape, segments, queue))
    process.start()
    seconds, peak, result = queue.get()
    process.join()
    return seconds, peak, result


def write_case(shape, segments, folder: Path) -> None:
    """The case as a DICOM CT series (one file per slice) and a BINARY SEG."""
    from DICOMAnnotatorLib.imaging import phantoms
    from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
    from DICOMAnnotatorLib.imaging.series import ReferenceSeries
    from DICOMAnnotatorLib.seg.writer import write_seg

    hu, labels = make_case(shape, segments)
    phantoms.write_datasets(phantoms.ct_datasets(geometry(shape), hu), folder / "ct")
    series = ReferenceSeries.from_paths(folder / "ct")
    descriptions = [SegmentDescription(n, f"Segment {n}") for n in range(1, segments + 1)]
    write_seg(Segmentation.from_labelmap(series.geometry, labels, descriptions, reference=series), folder / "seg.dcm")


def timed_command(command: list[str]) -> tuple[float, float]:
    """Seconds and peak resident MB of one command."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, int(result.stderr.strip().splitlines()[-1]) / 1024


def run_our_writer(folder, queue):
    """build_sr + write_sr from measurements already made (what dcmqi's tid1500writer does)."""
    import pydicom
    from DICOMAnnotatorLib.imaging.series import ReferenceSeries
    from DICOMAnnotatorLib.seg.reader import read_seg
    from DICOMAnnotatorLib.sr.measurements import measure_segmentation
    from DICOMAnnotatorLib.sr.writer import build_sr, write_sr

    series = ReferenceSeries.from_paths(folder / "ct")
    segmentation = read_seg(folder / "seg.dcm", series)
    measured = measure_segmentation(segmentation, series.read_voxels())
    header = pydicom.dcmread(folder / "seg.dcm", stop_before_pixels=True)
    start = time.perf_counter()
    write_sr(build_sr(segmentation, header, measured), folder / "ours-writer.dcm", force=True)
    queue.put((time.perf_counter() - start, _peak_mb(), None))


def dcmqi_writer_input(folder: Path) -> Path:
    """dcmqi's metadata JSON for the measurements in our SR (so both write the same figures)."""
    import pydicom
    from DICOMAnnotatorLib.sr.reader import sr_summary

    def code(triple):
        return {"CodeValue": triple[0], "CodingSchemeDesignator": triple[1], "CodeMeaning": triple[2]}

    series_uid = str(pydicom.dcmread(next((folder / "ct").iterdir()), stop_before_pixels=True).SeriesInstanceUID)
    seg_uid = str(pydicom.dcmread(folder / "seg.dcm", stop_before_pixels=True).SOPInstanceUID)
    groups: dict[int, dict] = {}
    for m in sr_summary(folder / "sr.dcm")["measurements"]:
        group = groups.setdefault(m["segment"], {
            "TrackingIdentifier": m["tracking_id"], "TrackingUniqueIdentifier": m["tracking_uid"],
            "ReferencedSegment": m["segment"], "SourceSeriesForImageSegmentation": series_uid,
            "segmentationSOPInstanceUID": seg_uid, "Finding": code(m["finding"]), "measurementItems": []})
        item = {"value": str(m["value"]), "quantity": code(m["name"]), "units": code(m["unit"])}
        if m["derivation"]:
            item["derivationModifier"] = code(m["derivation"])
        group["measurementItems"].append(item)
    metadata = {"SeriesDescription": "SR", "SeriesNumber": "2001", "InstanceNumber": "1",
                "compositeContext": ["seg.dcm"], "imageLibrary": sorted(p.name for p in (folder / "ct").iterdir()),
                "observerContext": {"ObserverType": "PERSON", "PersonObserverName": "Reader^A"},
                "procedureReported": code(["25045-6", "LN", "CT unspecified body region"]),
                "VerificationFlag": "UNVERIFIED", "CompletionFlag": "COMPLETE", "activitySession": "1",
                "timePoint": "1", "Measurements": list(groups.values())}
    path = folder / "dcmqi-metadata.json"
    path.write_text(json.dumps(metadata), encoding="utf-8")
    return path


def export_rows(shape, segments) -> list[dict]:
    """The whole ``sr export`` command, and SR writing alone: ours and dcmqi's tid1500writer."""
    tools = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_case(shape, segments, folder)
        whole = timed_command([str(tools / "dicom-annotator"), "sr", "export", str(folder / "seg.dcm"),
                               "--series", str(folder / "ct"), "-o", str(folder / "sr.dcm")])
        queue = multiprocessing.get_context("spawn").Queue()
        process = multiprocessing.get_context("spawn").Process(target=run_our_writer, args=(folder, queue))
        process.start()
        ours = queue.get()
        process.join()
        dcmqi = timed_command([str(tools / "tid1500writer"), "--inputMetadata", str(dcmqi_writer_input(folder)),
                               "--inputImageLibraryDirectory", str(folder / "ct"),
                               "--inputCompositeContextDirectory", str(folder), "--outputDICOM",
                               str(folder / "dcmqi.dcm")])
    return [
        {"task": "sr export", "segments": segments, "contender": "ours (whole command)",
         "seconds": round(whole[0], 2), "peak_mb": round(whole[1]), "ratio": None},
        {"task": "write SR", "segments": segments, "contender": "ours (build_sr + write_sr)",
         "seconds": round(ours[0], 2), "peak_mb": round(ours[1]), "ratio": 1.0},
        {"task": "write SR", "segments": segments, "contender": "dcmqi tid1500writer",
         "seconds": round(dcmqi[0], 2), "peak_mb": round(dcmqi[1]), "ratio": round(dcmqi[0] / ours[0], 2)},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="256x256x100 instead of 512x512x300")
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--export", action="store_true", help="also time the whole sr export command")
    args = parser.parse_args()
    shape = (100, 256, 256) if args.quick else (300, 512, 512)
    rows = []
    for segments in args.segments:
        ours = measure(run_ours, shape, segments)
        theirs = measure(run_simpleitk, shape, segments)
        for n, (volume, diameter, mean) in ours[2].items():  # the same figures, or the comparison is void
            expected = theirs[2][n]
            assert abs(volume - expected[0]) < 1e-6 * expected[0] and abs(diameter - expected[1]) < 1e-6 * expected[1]
            assert abs(mean - expected[2]) < 1e-6 * max(abs(expected[2]), 1)
        for name, (seconds, peak, _) in (("ours", ours), ("SimpleITK", theirs)):
            rows.append({"task": "measure", "segments": segments, "contender": name, "seconds": round(seconds, 2),
                         "peak_mb": round(peak), "ratio": round(seconds / ours[0], 1)})
        if args.export:
            rows += export_rows(shape, segments)
    print("| task | segments | contender | seconds | peak MB | time ratio to ours |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ratio = f"{row['ratio']}x" if row["ratio"] is not None else "-"
        cells = [row["task"], row["segments"], row["contender"], row["seconds"], row["peak_mb"], ratio]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")
    print(json.dumps(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
