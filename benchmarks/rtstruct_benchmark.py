"""RT Structure Set export and import: DICOMAnnotatorLib versus rt-utils and plain pydicom + scikit-image.

Data: a CT series of 512x512x300 (square pixels of 0.8 mm, 1.5 mm slices; written as 300 DICOM
files) and 20 ellipsoid ROIs of different sizes (a uint8 label map). Each contender runs in its own
process (time and peak memory of that process), from the series folder and the label map (export) or
the RTSTRUCT file (import), and ends with what a user then holds: a written RTSTRUCT, or one full mask
per ROI. Masks are compared with the truth afterwards, outside the timing.

- ours: ``ReferenceSeries`` + ``Segmentation.from_labelmap`` + ``write_rtstruct``; ``read_rtstruct``
  and each ROI's full mask.
- rt-utils: ``RTStructBuilder.create_new`` + ``add_roi`` per ROI + ``save``; ``create_from`` +
  ``get_roi_mask_by_name`` per ROI.
- pydicom + scikit-image, as a user would write it: ``find_contours`` at 0.5 on each slice of each ROI,
  mapped to patient mm by the slice's position and orientation, in a pydicom dataset; and
  ``skimage.draw.polygon`` per contour, even-odd across a slice's contours.

Import is timed on the RTSTRUCT each writer wrote (each reads every file).

    .venv/bin/python benchmarks/rtstruct_benchmark.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from process_measure import in_new_process  # noqa: E402

SPACING = (0.8, 0.8, 1.5)  # i, j, k (mm)


def make_labels(shape, rois: int, seed: int = 21) -> np.ndarray:
    """``rois`` ellipsoids of radii 8 to 60 voxels in plane (later ones drawn over earlier ones)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    for roi in range(1, rois + 1):
        radii = np.array([rng.uniform(4, 30), *rng.uniform(8, 60, size=2)]) * np.array(shape) / (300, 512, 512)
        centre = [rng.uniform(r + 1, n - r - 1) for r, n in zip(radii, shape, strict=True)]
        box = tuple(slice(max(int(c - r) - 1, 0), min(int(c + r) + 2, n)) for c, r, n in zip(centre, radii, shape,
                                                                                             strict=True))
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(np.ogrid[box], centre, radii, strict=True)) <= 1
        labels[box][inside] = roi
    return labels


def write_case(shape, rois: int, folder: Path) -> None:
    from DICOMAnnotatorLib.imaging import ct_datasets, phantom_geometry, write_datasets

    geometry = phantom_geometry(size=(shape[2], shape[1], shape[0]), spacing=SPACING, origin=(-204.4, -204.4, -200))
    write_datasets(ct_datasets(geometry, np.zeros(shape, np.int16)), folder / "ct")
    np.save(folder / "labels.npy", make_labels(shape, rois))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------------- export
def export_ours(folder: Path, queue) -> None:
    from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, SegmentDescription
    from DICOMAnnotatorLib.rtstruct import write_rtstruct

    labels = np.load(folder / "labels.npy")
    start = time.perf_counter()
    series = ReferenceSeries.from_paths(folder / "ct")
    segments = [SegmentDescription(n, f"ROI {n}") for n in range(1, int(labels.max()) + 1)]
    write_rtstruct(Segmentation.from_labelmap(series.geometry, labels, segments, reference=series),
                   folder / "ours.dcm", force=True)
    queue.put((time.perf_counter() - start, _peak_mb()))


def export_rt_utils(folder: Path, queue) -> None:
    from rt_utils import RTStructBuilder

    labels = np.load(folder / "labels.npy")
    start = time.perf_counter()
    structure_set = RTStructBuilder.create_new(dicom_series_path=str(folder / "ct"))
    for n in range(1, int(labels.max()) + 1):
        structure_set.add_roi(mask=np.transpose(labels == n, (1, 2, 0)), name=f"ROI {n}")
    structure_set.save(str(folder / "rt_utils.dcm"))
    queue.put((time.perf_counter() - start, _peak_mb()))


def _sorted_headers(folder: Path):
    import pydicom

    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((folder / "ct").iterdir())]
    normal = np.cross(*np.reshape(np.asarray(headers[0].ImageOrientationPatient, float), (2, 3)))
    return sorted(headers, key=lambda ds: float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))))


def export_skimage(folder: Path, queue) -> None:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid
    from skimage.measure import find_contours

    labels = np.load(folder / "labels.npy")
    start = time.perf_counter()
    headers = _sorted_headers(folder)
    first = headers[0]
    row_direction, column_direction = np.reshape(np.asarray(first.ImageOrientationPatient, float), (2, 3))
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality, ds.PatientID, ds.StudyInstanceUID = "RTSTRUCT", first.PatientID, first.StudyInstanceUID
    rois, roi_contours, observations = [], [], []
    for n in range(1, int(labels.max()) + 1):
        observation = Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = n, n
        observation.RTROIInterpretedType, observation.ROIInterpreter = "", ""
        observations.append(observation)
        roi = Dataset()
        roi.ROINumber, roi.ROIName, roi.ReferencedFrameOfReferenceUID = n, f"ROI {n}", first.FrameOfReferenceUID
        rois.append(roi)
        contours = []
        for k in np.flatnonzero((labels == n).any(axis=(1, 2))):
            position = np.asarray(headers[k].ImagePositionPatient, float)
            for points in find_contours((labels[k] == n).astype(np.uint8), 0.5):
                mm = (position + points[:, 1:2] * column_spacing * row_direction
                      + points[:, 0:1] * row_spacing * column_direction)
                image = Dataset()
                image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = (headers[k].SOPClassUID,
                                                                               headers[k].SOPInstanceUID)
                contour = Dataset()
                contour.ContourImageSequence = [image]
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(mm)
                contour.ContourData = [round(float(v), 4) for v in mm.ravel()]
                contours.append(contour)
        roi_contour = Dataset()
        roi_contour.ReferencedROINumber = n
        roi_contour.ContourSequence = contours
        roi_contours.append(roi_contour)
    ds.StructureSetROISequence = rois
    ds.ROIContourSequence = roi_contours
    ds.RTROIObservationsSequence = observations
    series, study, frame = Dataset(), Dataset(), Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = []
    for header in headers:
        image = Dataset()
        image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = header.SOPClassUID, header.SOPInstanceUID
        series.ContourImageSequence.append(image)
    study.ReferencedSOPClassUID, study.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.1", first.StudyInstanceUID
    study.RTReferencedSeriesSequence = [series]
    frame.FrameOfReferenceUID, frame.RTReferencedStudySequence = first.FrameOfReferenceUID, [study]
    ds.ReferencedFrameOfReferenceSequence = [frame]
    pydicom.dcmwrite(folder / "skimage.dcm", ds, enforce_file_format=True)
    queue.put((time.perf_counter() - start, _peak_mb()))


# ----------------------------------------------------------------------------------------- import
def import_ours(folder: Path, name: str, queue) -> None:
    from DICOMAnnotatorLib.imaging import ReferenceSeries
    from DICOMAnnotatorLib.rtstruct import read_rtstruct

    start = time.perf_counter()
    segmentation = read_rtstruct(folder / name, ReferenceSeries.from_paths(folder / "ct")).segmentation
    masks = {d.label: segmentation.mask(d.number) for d in segmentation.segments}
    seconds, peak = time.perf_counter() - start, _peak_mb()
    queue.put((seconds, peak, _differences(folder, masks)))


def import_rt_utils(folder: Path, name: str, queue) -> None:
    from rt_utils import RTStructBuilder

    start = time.perf_counter()
    structure_set = RTStructBuilder.create_from(str(folder / "ct"), str(folder / name))
    masks = {roi: np.transpose(structure_set.get_roi_mask_by_name(roi), (2, 0, 1))
             for roi in structure_set.get_roi_names()}
    seconds, peak = time.perf_counter() - start, _peak_mb()
    queue.put((seconds, peak, _differences(folder, masks)))


def import_skimage(folder: Path, name: str, queue) -> None:
    import pydicom
    from skimage.draw import polygon

    start = time.perf_counter()
    headers = _sorted_headers(folder)
    first = headers[0]
    origin = np.asarray(first.ImagePositionPatient, float)
    row_direction, column_direction = np.reshape(np.asarray(first.ImageOrientationPatient, float), (2, 3))
    normal = np.cross(row_direction, column_direction)
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    slice_positions = np.array([np.dot(normal, np.asarray(ds.ImagePositionPatient, float)) for ds in headers])
    shape = (len(headers), int(first.Rows), int(first.Columns))
    ds = pydicom.dcmread(folder / name)
    names = {int(roi.ROINumber): roi.ROIName for roi in ds.StructureSetROISequence}
    masks = {}
    for roi_contour in ds.ROIContourSequence:
        mask = np.zeros(shape, bool)
        for contour in roi_contour.ContourSequence:
            points = np.asarray(contour.ContourData, float).reshape(-1, 3) - origin
            k = int(np.argmin(np.abs(slice_positions - np.dot(normal, points[0] + origin))))
            rows, columns = polygon(points @ column_direction / row_spacing, points @ row_direction / column_spacing,
                                    shape[1:])
            mask[k, rows, columns] ^= True
        masks[names[int(roi_contour.ReferencedROINumber)]] = mask
    seconds, peak = time.perf_counter() - start, _peak_mb()
    queue.put((seconds, peak, _differences(folder, masks)))


def _differences(folder: Path, masks: dict[str, np.ndarray]) -> int:
    """Voxels where the masks differ from the truth, over all ROIs (after the timing)."""
    labels = np.load(folder / "labels.npy")
    return int(sum(np.count_nonzero(masks[f"ROI {n}"] != (labels == n)) for n in range(1, int(labels.max()) + 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256x256x100 and 5 ROIs")
    args = parser.parse_args()
    shape, rois = ((100, 256, 256), 5) if args.quick else ((300, 512, 512), 20)
    with tempfile.TemporaryDirectory(prefix="rtstruct-benchmark-") as temporary:
        folder = Path(temporary)
        write_case(shape, rois, folder)
        labelled = int(np.count_nonzero(np.load(folder / "labels.npy")))
        print(f"{shape[2]}x{shape[1]}x{shape[0]}, {rois} ROIs, {labelled} labelled voxels\n")
        print("| task | contender | seconds | peak MB | time ratio to ours | voxels differing from the truth |")
        print("| --- | --- | --- | --- | --- | --- |")
        exports = {"ours": export_ours, "rt-utils": export_rt_utils, "pydicom + scikit-image": export_skimage}
        ours = None
        for contender, target in exports.items():
            result = in_new_process(target, folder)
            if isinstance(result, dict):
                print(f"| export | {contender} | failed: {result['failed']} | | | |", flush=True)
                continue
            seconds, peak = result
            ours = ours or seconds
            print(f"| export | {contender} | {seconds:.2f} | {peak:.0f} | {seconds / ours:.1f}x | |", flush=True)
        for written in ("ours.dcm", "rt_utils.dcm", "skimage.dcm"):
            imports = {"ours": import_ours, "rt-utils": import_rt_utils, "pydicom + scikit-image": import_skimage}
            ours = None
            for contender, target in imports.items():
                result = in_new_process(target, folder, written)
                if isinstance(result, dict):
                    print(f"| import {written} | {contender} | failed: {result['failed']} | | | |", flush=True)
                    continue
                seconds, peak, differing = result
                ours = ours or seconds
                print(f"| import {written} | {contender} | {seconds:.2f} | {peak:.0f} | {seconds / ours:.1f}x "
                      f"| {differing} |", flush=True)


if __name__ == "__main__":
    main()
