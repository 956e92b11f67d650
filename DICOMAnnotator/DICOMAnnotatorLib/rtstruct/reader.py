"""An RT Structure Set's ROIs as masks on the image series their contours were drawn on.

Each ROI (PS3.3 C.8.8.5 Structure Set ROI, C.8.8.6 ROI Contour) becomes a segment with the ROI's
number, name, display colour, generation algorithm and, where RT ROI Observations code them (C.8.8.8),
its type (RT ROI Identification Code Sequence, with its Segmented Property Type Modifier) and category
(Segmented Property Category Code Sequence); an uncoded ROI is "Tissue". CLOSED_PLANAR contours are
filled on the slice they lie on: a voxel is inside when its centre is, with the even-odd rule across the slice's
contours (:func:`.polygons.fill_slice`). POINT and open contours outline nothing; an ROI of only
those is kept, empty, and counted. The contours must be in the series' frame of reference and lie
in its slice planes (within a quarter of the slice spacing); otherwise the import is refused, naming
the ROI, rather than moving contours to a slice they are not on.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import RTStructureSetStorage

from ..dicom import TISSUE, Code
from ..errors import InputError
from ..imaging import DEFAULT_COLOR, AlgorithmType, ReferenceSeries, Segmentation, SegmentDescription
from .polygons import fill_slice
from .summary import RoiSummary

log = logging.getLogger(__name__)

#: How far (in slices) a contour may lie from a slice plane and still be that slice's.
PLANE_TOLERANCE = 0.25
_CONTOUR_DATA = 0x30060050


@dataclass(frozen=True)
class StructureSetImport:
    """The ROIs of an RT Structure Set as one segmentation on the series, with what each ROI held."""

    segmentation: Segmentation
    rois: tuple[RoiSummary, ...]


def read_rtstruct(path: str | os.PathLike[str], series: ReferenceSeries) -> StructureSetImport:
    """The ROIs of the RT Structure Set at ``path`` as masks on ``series``."""
    path = Path(path)
    ds = _read(path)
    try:
        return _import(path, ds, series)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:  # a required attribute missing
        raise InputError(f"{path} is not a well-formed RT Structure Set ({type(exc).__name__}: {exc}); "
                         "check it with dciodvfy") from exc


def _import(path: Path, ds: Dataset, series: ReferenceSeries) -> StructureSetImport:
    rois = {int(item.ROINumber): item for item in ds.get("StructureSetROISequence") or []}
    if not rois:
        raise InputError(f"{path} lists no ROI (Structure Set ROI Sequence is empty)")
    for number, item in rois.items():
        if number < 1:
            raise InputError(f"{path}: ROI '{item.get('ROIName', '')}' has ROI Number {number}; numbers start at 1")
        frame = str(item.get("ReferencedFrameOfReferenceUID", ""))
        if frame != series.frame_of_reference_uid:
            raise InputError(
                f"{path}: ROI {number} ('{item.get('ROIName', '')}') is in frame of reference {frame or 'none'}, "
                f"{series.description} in {series.frame_of_reference_uid or 'none'}; give the series it was drawn on")
    contours = {int(item.ReferencedROINumber): item for item in ds.get("ROIContourSequence") or []}
    observations = {int(item.ReferencedROINumber): item for item in ds.get("RTROIObservationsSequence") or []}
    to_index = np.linalg.inv(series.geometry.affine)
    descriptions, cropped, summaries = [], {}, []
    for number, item in sorted(rois.items()):
        name = str(item.get("ROIName", "") or "").strip() or f"ROI {number}"
        roi_contours = contours.get(number)
        descriptions.append(_description(number, name, item, roi_contours, observations.get(number)))
        polygons, others = _polygons(roi_contours, to_index, series, f"{path}: ROI {number} ('{name}')")
        summaries.append(RoiSummary(number, name, sum(len(p) for p in polygons.values()), others))
        if polygons:
            cropped[number] = _fill(polygons, series)
        if others:
            log.info("ROI %d of %s has %d POINT or open contours, which outline no voxels", number, path, others)
    segmentation = Segmentation.from_cropped_masks(series.geometry, descriptions, cropped, reference=series,
                                                   author=str(ds.get("OperatorsName", "") or "") or None)
    return StructureSetImport(segmentation, tuple(summaries))


def _read(path: Path) -> Dataset:
    """The file, also without a Part 10 header (older RT systems wrote bare datasets, as pydicom's test file)."""
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception as exc:  # pydicom raises many types for files that are not DICOM at all
            raise InputError(f"{path} is not a DICOM file; give an RT Structure Set") from exc
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"{path} could not be read as DICOM ({exc}); the file may be truncated") from exc
    if str(ds.get("SOPClassUID", "")) != RTStructureSetStorage:
        raise InputError(f"{path} is a {ds.get('Modality', 'DICOM')} object, not an RT Structure Set; "
                         "give an RTSTRUCT file")
    return ds


def _description(number: int, name: str, roi: Dataset, contours: Dataset | None,
                 observation: Dataset | None) -> SegmentDescription:
    algorithm = str(roi.get("ROIGenerationAlgorithm", "") or "MANUAL").upper()
    algorithm_type = AlgorithmType(algorithm) if algorithm in AlgorithmType.__members__ else AlgorithmType.MANUAL
    algorithm_name = str(roi.get("ROIGenerationDescription", "") or "") or None
    if algorithm_type is not AlgorithmType.MANUAL and not algorithm_name:
        algorithm_name = "unnamed (RT Structure Set)"
    color = contours.get("ROIDisplayColor") if contours is not None else None
    identification = _first(observation, "RTROIIdentificationCodeSequence")
    category = _first(observation, "SegmentedPropertyCategoryCodeSequence")
    modifier = _first(identification, "SegmentedPropertyTypeModifierCodeSequence")
    return SegmentDescription(
        number=number, label=name, type=Code.from_dataset(identification) if identification is not None else TISSUE,
        category=Code.from_dataset(category) if category is not None else TISSUE,
        type_modifier=Code.from_dataset(modifier) if modifier is not None else None,
        color=tuple(int(c) for c in color) if color is not None and len(color) == 3 else DEFAULT_COLOR,
        algorithm_type=algorithm_type, algorithm_name=algorithm_name)


def _first(item: Dataset | None, keyword: str) -> Dataset | None:
    """The first item of the sequence ``keyword`` of ``item``, or None."""
    sequence = item.get(keyword) if item is not None else None
    return sequence[0] if sequence else None


def _polygons(roi_contours: Dataset | None, to_index: np.ndarray, series: ReferenceSeries,
              where: str) -> tuple[dict[int, list[np.ndarray]], int]:
    """The ROI's closed planar contours by slice, as (i, j) vertices; and how many other contours it has."""
    by_slice: dict[int, list[np.ndarray]] = {}
    others = 0
    slices = series.geometry.size[2]
    for number, contour in enumerate((roi_contours.get("ContourSequence") or []) if roi_contours else [], start=1):
        if str(contour.get("ContourGeometricType", "")).upper() != "CLOSED_PLANAR":
            others += 1
            continue
        points = _contour_points(contour).reshape(-1, 3)
        indices = points @ to_index[:3, :3].T + to_index[:3, 3]
        k = float(np.round(indices[:, 2].mean()))
        if np.abs(indices[:, 2] - k).max() > PLANE_TOLERANCE:
            raise InputError(f"{where}: contour {number} does not lie in a slice plane of {series.description} "
                             f"(it spans slice positions {indices[:, 2].min():.2f} to {indices[:, 2].max():.2f}); "
                             "give the series the contours were drawn on")
        if not 0 <= k < slices:
            raise InputError(f"{where}: contour {number} lies outside {series.description} (slice position "
                             f"{k:.0f} of 0..{slices - 1}); give the series the contours were drawn on")
        by_slice.setdefault(int(k), []).append(indices[:, :2])
    return by_slice, others


def _contour_points(contour: Dataset) -> np.ndarray:
    """Contour Data as floats, parsed from the element's bytes when pydicom has not converted it yet."""
    element = contour.get_item(_CONTOUR_DATA)
    value = element.value if element is not None else None
    if isinstance(value, bytes):
        text = value.decode("ascii").strip(" \0")
        return np.array(text.split("\\"), dtype=float) if text else np.zeros(0)
    return np.asarray([] if value is None else list(contour.ContourData), dtype=float)


def _fill(polygons: dict[int, list[np.ndarray]], series: ReferenceSeries) -> tuple[tuple[slice, ...], np.ndarray]:
    """The ROI's mask inside the box around its contours: ``((k, j, i) slices, mask)``."""
    rows, columns = series.geometry.size[1], series.geometry.size[0]
    points = np.concatenate([p for slice_polygons in polygons.values() for p in slice_polygons])
    i0, j0 = (int(np.clip(np.floor(v), 0, n)) for v, n in zip(points.min(axis=0), (columns, rows), strict=True))
    i1, j1 = (int(np.clip(np.ceil(v) + 1, 0, n)) for v, n in zip(points.max(axis=0), (columns, rows), strict=True))
    k0, k1 = min(polygons), max(polygons) + 1
    mask = np.zeros((k1 - k0, j1 - j0, i1 - i0), dtype=bool)
    offset = np.array([i0, j0], dtype=float)
    for k, slice_polygons in polygons.items():
        mask[k - k0] = fill_slice([p - offset for p in slice_polygons], j1 - j0, i1 - i0)
    return (slice(k0, k1), slice(j0, j1), slice(i0, i1)), mask
