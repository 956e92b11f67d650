"""DICOM SEG write and read: DICOMAnnotatorLib versus highdicom's plain use, dcmqi and pydicom-seg.

The data: a CT series of single-frame files (512x512x300 by default) and a label map of 1, 10
or 50 segments (ellipsoids, about 5% of the voxels in all). Each contender runs in its own
process, from the same files on disk, so that its time and peak resident memory are its own:

- write: source series folder + label map -> BINARY SEG file.
  ours: ReferenceSeries.from_paths + Segmentation.from_labelmap + write_seg.
  highdicom: pydicom.dcmread of every source file + hd.seg.Segmentation with the full
  one-hot 4D array (slices, rows, columns, segments) + save_as (the way its documentation
  shows for several segments).
  dcmqi: itkimage2segimage on the label map as NRRD with its JSON meta information.
  pydicom-seg (pydicom-seg-rb): MultiClassWriter on the label map as a SimpleITK image.
- read: the SEG ours wrote (+ the series folder for ours) -> every segment's voxels.
  ours: read_seg on ReferenceSeries.from_paths (voxels placed on the series grid).
  highdicom: segread + get_volume(combine_segments=False).
  dcmqi: segimage2itkimage to NRRD files (its only output).
  pydicom-seg: SegmentReader (one array per segment).

    .venv/bin/python benchmarks/seg_benchmark.py [--quick] [--segments 1 10 50] [--keep DIR]
    .venv/bin/python benchmarks/seg_benchmark.py --type labelmap --segments 10 50   # ours against highdicom

Peak memory is the process's maximum resident set (for dcmqi, its own process); the Python
contenders' figure includes the interpreter, their imports and the label map they start from.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from consensus_agreement_benchmark import make_annotations
from process_measure import in_new_process

SPACING_IJK = (0.7, 0.7, 1.0)
ORIGIN = (-179.2, -179.2, -150.0)
AUTHOR = "Doe^Jane"
CATEGORY = ("123037004", "SCT", "Anatomical Structure")
TYPE = ("85756007", "SCT", "Tissue")


# --------------------------------------------------------------------- data
def make_data(folder: Path, shape_kji: tuple[int, int, int], segment_counts: list[int]) -> None:
    """The CT series (folder/ct) and per segment count a label map (.npy and .nrrd) with dcmqi meta JSON."""
    import SimpleITK as sitk
    from DICOMAnnotatorLib.imaging import phantoms

    geometry = _geometry(shape_kji)
    for segments in segment_counts:
        labels = np.zeros(shape_kji, dtype=np.uint8)
        for number, (box, mask) in make_annotations(shape_kji, 1, segments, seed=segments)[0].items():
            labels[box][mask] = number
        np.save(folder / f"labels-{segments}.npy", labels)
        image = sitk.GetImageFromArray(labels)
        geometry.apply_to_sitk(image)
        sitk.WriteImage(image, str(folder / f"labels-{segments}.nrrd"), useCompression=True)
        (folder / f"meta-{segments}.json").write_text(json.dumps(dcmqi_meta(segments), indent=1))
    hu = np.full(shape_kji, 40, dtype=np.int16)  # the SEG contenders never look at the CT numbers
    phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), folder / "ct")


def _geometry(shape_kji):
    from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry

    return VolumeGeometry.from_axes(shape_kji[::-1], ORIGIN, SPACING_IJK, np.eye(3))


def dcmqi_meta(segments: int) -> dict:
    """dcmqi's meta information (also pydicom-seg's template) for segments 1..N."""
    def code(triple):
        return dict(zip(("CodeValue", "CodingSchemeDesignator", "CodeMeaning"), triple, strict=True))

    return {
        "ContentCreatorName": AUTHOR, "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
        "ClinicalTrialCoordinatingCenterName": "", "SeriesDescription": "SEG benchmark", "SeriesNumber": "1001",
        "InstanceNumber": "1", "ContentLabel": "ANNOTATION", "ContentDescription": "benchmark",
        "BodyPartExamined": "",
        "segmentAttributes": [[{
            "labelID": n, "SegmentLabel": f"S{n}", "SegmentDescription": f"S{n}", "SegmentAlgorithmType": "MANUAL",
            "SegmentedPropertyCategoryCodeSequence": code(CATEGORY),
            "SegmentedPropertyTypeCodeSequence": code(TYPE),
            "recommendedDisplayRGBValue": [(37 * n) % 256, (91 * n) % 256, (151 * n) % 256],
        } for n in range(1, segments + 1)]],
    }


def _segment_descriptions(segments: int):
    from DICOMAnnotatorLib.dicom.codes import Code
    from DICOMAnnotatorLib.imaging.segmentation import SegmentDescription

    return [SegmentDescription(n, f"S{n}", category=Code(*CATEGORY), type=Code(*TYPE),
                               color=((37 * n) % 256, (91 * n) % 256, (151 * n) % 256))
            for n in range(1, segments + 1)]


def _source_files(folder: Path) -> list[Path]:
    return sorted((folder / "ct").glob("*.dcm"))


# --------------------------------------------------------------------- write contenders
def write_ours(folder: Path, segments: int, labels: np.ndarray, output: Path, seg_type: str = "binary") -> dict:
    from DICOMAnnotatorLib.imaging.segmentation import Segmentation
    from DICOMAnnotatorLib.imaging.series import ReferenceSeries
    from DICOMAnnotatorLib.seg.writer import write_seg

    series = ReferenceSeries.from_paths(folder / "ct")
    segmentation = Segmentation.from_labelmap(series.geometry, labels, _segment_descriptions(segments),
                                              reference=series, author=AUTHOR)
    write_seg(segmentation, output, segmentation_type=seg_type)
    return {}


def write_highdicom(folder: Path, segments: int, labels: np.ndarray, output: Path, seg_type: str = "binary") -> dict:
    import highdicom as hd
    import pydicom
    from highdicom.sr.coding import CodedConcept
    from pydicom.uid import ExplicitVRLittleEndian, RLELossless

    sources = [pydicom.dcmread(path) for path in _source_files(folder)]
    sources.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    if seg_type == "labelmap":  # the label map itself, RLE-compressed as ours
        pixels = labels
    else:
        pixels = np.stack([labels == n for n in range(1, segments + 1)], axis=-1)  # (slices, rows, columns, segments)
    descriptions = [hd.seg.SegmentDescription(
        segment_number=n, segment_label=f"S{n}", segmented_property_category=CodedConcept(*CATEGORY),
        segmented_property_type=CodedConcept(*TYPE), algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
        for n in range(1, segments + 1)]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type=seg_type.upper(),
        transfer_syntax_uid=RLELossless if seg_type == "labelmap" else ExplicitVRLittleEndian,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=1001,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="benchmark", manufacturer_model_name="benchmark",
        software_versions="1", device_serial_number="1", content_creator_name=AUTHOR)
    seg.save_as(output)
    return {}


def write_dcmqi(folder: Path, segments: int, labels: np.ndarray, output: Path, seg_type: str = "binary") -> dict:
    _run([_program("itkimage2segimage"), "--inputImageList", str(folder / f"labels-{segments}.nrrd"),
          "--inputDICOMDirectory", str(folder / "ct"), "--inputMetadata", str(folder / f"meta-{segments}.json"),
          "--outputDICOM", str(output)])
    return {}


def write_pydicom_seg(folder: Path, segments: int, labels: np.ndarray, output: Path,
                      seg_type: str = "binary") -> dict:
    import pydicom
    import pydicom_seg_rb
    import SimpleITK as sitk

    sources = [pydicom.dcmread(path, stop_before_pixels=True) for path in _source_files(folder)]
    image = sitk.GetImageFromArray(labels)
    _geometry(labels.shape).apply_to_sitk(image)
    template = pydicom_seg_rb.template.from_dcmqi_metainfo(dcmqi_meta(segments))
    writer = pydicom_seg_rb.MultiClassWriter(template, inplane_cropping=False, skip_empty_slices=True)
    writer.write(image, sources).save_as(output)
    return {}


# --------------------------------------------------------------------- read contenders
def read_ours(folder: Path, seg: Path, scratch: Path) -> dict:
    from DICOMAnnotatorLib.imaging.series import ReferenceSeries
    from DICOMAnnotatorLib.seg.reader import read_seg

    segmentation = read_seg(seg, ReferenceSeries.from_paths(folder / "ct"))
    return {"voxels": sum(segmentation.voxel_count(s.number) for s in segmentation.segments)}


def read_highdicom(folder: Path, seg: Path, scratch: Path) -> dict:
    import highdicom as hd

    volume = hd.seg.segread(seg).get_volume(combine_segments=False)
    return {"voxels": int(np.count_nonzero(volume.array))}


def read_dcmqi(folder: Path, seg: Path, scratch: Path) -> dict:
    _run([_program("segimage2itkimage"), "--inputDICOM", str(seg), "--outputDirectory", str(scratch),
          "--outputType", "nrrd"])
    return {}


def read_pydicom_seg(folder: Path, seg: Path, scratch: Path) -> dict:
    import pydicom
    import pydicom_seg_rb

    result = pydicom_seg_rb.SegmentReader().read(pydicom.dcmread(seg))
    return {"voxels": sum(int(np.count_nonzero(result.segment_data(n))) for n in result.available_segments)}


def _program(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr[-1000:] or result.stdout[-1000:]}")


WRITERS = {"ours": write_ours, "highdicom": write_highdicom, "dcmqi": write_dcmqi, "pydicom-seg": write_pydicom_seg}
LABELMAP_WRITERS = ("ours", "highdicom")
READERS = {"ours": read_ours, "highdicom": read_highdicom, "dcmqi": read_dcmqi, "pydicom-seg": read_pydicom_seg}


# --------------------------------------------------------------------- measurement
def _child(task: str, contender: str, folder: Path, segments: int, seg_type: str, queue) -> None:
    try:
        scratch = Path(tempfile.mkdtemp(dir=folder))
        if task == "write":
            # dcmqi gets no label map in this process: a program started from a process inherits
            # that process's peak memory in its own figure (Linux keeps it across exec)
            labels = None if contender == "dcmqi" else np.load(folder / f"labels-{segments}.npy")
            output = folder / f"{contender}-{segments}.dcm"
            output.unlink(missing_ok=True)
            start = time.perf_counter()
            summary = WRITERS[contender](folder, segments, labels, output, seg_type)
            summary["file_mb"] = output.stat().st_size / 2**20
        else:
            start = time.perf_counter()
            summary = READERS[contender](folder, folder / f"ours-{segments}.dcm", scratch)
        elapsed = time.perf_counter() - start
        peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        shutil.rmtree(scratch)
        queue.put({"seconds": elapsed, "peak_mb": peak_kb / 1024, **summary})
    except Exception as error:  # reported in the table rather than ending the run
        queue.put({"failed": f"{type(error).__name__}: {str(error)[:200]}"})


def _make_data_child(folder: Path, shape_kji, segment_counts: list[int], queue) -> None:
    try:
        make_data(folder, shape_kji, segment_counts)
        queue.put({})
    except Exception as error:
        queue.put({"failed": f"{type(error).__name__}: {error}"})


def measure(task: str, contender: str, folder: Path, segments: int, seg_type: str) -> dict:
    return in_new_process(_child, task, contender, folder, segments, seg_type)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 256x256x100 CT instead of 512x512x300")
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--contenders", nargs="+", default=list(WRITERS), choices=list(WRITERS))
    parser.add_argument("--keep", type=Path, help="make the data in this folder and keep it (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--type", choices=("binary", "labelmap"), default="binary",
                        help="the SEG type written (LABELMAP: ours against highdicom, the only other writer of it)")
    args = parser.parse_args()
    if args.type == "labelmap":
        args.contenders = [c for c in args.contenders if c in LABELMAP_WRITERS]
    shape = (100, 256, 256) if args.quick else (300, 512, 512)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="seg-benchmark-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        print(f"CT {shape[2]}x{shape[1]}x{shape[0]} in {folder}; making the data...", file=sys.stderr, flush=True)
        # in another process, so that this one stays small and the measured ones start small
        made = in_new_process(_make_data_child, folder, shape, args.segments)
        if "failed" in made:
            raise SystemExit(f"error: making the data failed: {made['failed']}")
        rows = []
        print("| task | segments | contender | seconds | peak MB | SEG MB | time vs ours | memory vs ours |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for segments in args.segments:
            for task in ("write", "read"):
                ours = None
                for contender in ["ours", *(c for c in args.contenders if c != "ours")]:
                    result = measure(task, contender, folder, segments, args.type)
                    rows.append({"task": task, "segments": segments, "contender": contender, **result})
                    if "failed" in result:
                        print(f"| {task} | {segments} | {contender} | failed: {result['failed']} | | | | |", flush=True)
                        continue
                    ours = ours or result
                    size = f"{result['file_mb']:.1f}" if "file_mb" in result else ""
                    print(f"| {task} | {segments} | {contender} | {result['seconds']:.2f} | {result['peak_mb']:.0f} | "
                          f"{size} | {result['seconds'] / ours['seconds']:.1f}x | "
                          f"{result['peak_mb'] / ours['peak_mb']:.1f}x |", flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
