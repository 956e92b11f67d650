"""The SEG files the interoperability tests hand to other tools, and what each must contain.

Every case is a real SEG written by ``seg.writer.write_seg`` on a real phantom CT series
(single-frame axial, single-frame oblique, or one Enhanced CT multi-frame instance). The
expectation is kept as the SEG numbering (1..N in segment order) with stored values: 0/1 for
BINARY and LABELMAP, 0..255 for FRACTIONAL (Maximum Fractional Value 255), so that a reader's
result compares exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.segmentation import MaskKind, Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.writer import write_seg
from pydicom import Dataset
from scipy import ndimage

AUTHOR = "Doe^Jane"
FRACTIONAL_MAX = 255
SOURCES = ("axial", "oblique", "enhanced")
#: Variants of the phantom's segments: what a conformant writer must handle beyond the plain case.
VARIANTS = ("overlap", "empty", "blank", "renumbered", "single")
#: A segment that overlaps the liver and its lesion (a reader must keep both voxels).
REGION = SegmentDescription(4, "Liver region", Code("123037004", "SCT", "Anatomical Structure"),
                            Code("10200004", "SCT", "Liver"), color=(0, 151, 206))
#: A segment of the protocol that the annotator left empty.
EMPTY = SegmentDescription(4, "Spleen", Code("123037004", "SCT", "Anatomical Structure"),
                           Code("78961009", "SCT", "Spleen"), color=(157, 108, 162))
#: Segment numbers that are not 1..N (a protocol's numbering); the SEG holds 1..N in this order.
SPARSE_NUMBERS = (2, 5, 9)


@dataclass(frozen=True)
class SegCase:
    """One SEG we wrote: its file, its source series and the segments and voxels it must hold."""

    name: str
    seg_type: str  # binary | fractional | labelmap
    path: Path
    series: ReferenceSeries
    segments: tuple[SegmentDescription, ...]  # numbered 1..N as in the SEG
    values: dict[int, np.ndarray]  # SEG segment number -> stored values on the series grid [k, j, i]

    @property
    def geometry(self) -> VolumeGeometry:
        return self.series.geometry

    @property
    def source_files(self) -> list[Path]:
        return sorted({s.path for s in self.series.slices})


def case_names() -> list[str]:
    """``<source or variant>-<type>``: every BINARY and FRACTIONAL case, and LABELMAP where segments do not overlap."""
    names = []
    for seg_type in ("binary", "fractional", "labelmap"):
        for name in (*SOURCES, *VARIANTS):
            if not (seg_type == "labelmap" and name == "overlap"):
                names.append(f"{name}-{seg_type}")
    return names


def session_cases(tmp_path_factory) -> dict[str, SegCase]:
    """The cases, written once per test session (several test modules read them)."""
    if not _WRITTEN:
        _WRITTEN.update(write_cases(tmp_path_factory.mktemp("seg-cases")))
    return _WRITTEN


_WRITTEN: dict[str, SegCase] = {}


def write_cases(folder: Path) -> dict[str, SegCase]:
    """Write the phantom series and every case's SEG under ``folder``."""
    series = {}
    for source in SOURCES:
        orientation = "axial" if source == "enhanced" else source
        geometry = phantoms.phantom_geometry(orientation=orientation)
        hu, labels = phantoms.phantom_volume(geometry)
        phantoms.write_datasets(phantoms.ct_datasets(geometry, hu, enhanced=source == "enhanced"),
                                   folder / source)
        series[source] = (ReferenceSeries.from_paths(folder / source), labels)
    cases = {}
    for name in case_names():
        variant, seg_type = name.rsplit("-", 1)
        reference, labels = series[variant if variant in SOURCES else "axial"]
        segmentation = _segmentation(variant, reference, labels)
        if seg_type == "fractional":
            segmentation = probabilities(segmentation)
        path = write_seg(segmentation, folder / f"{name}.dcm", segmentation_type=seg_type)
        cases[name] = SegCase(name, seg_type, path, reference, *_expected(segmentation))
    return cases


def _segmentation(variant: str, series: ReferenceSeries, labels: np.ndarray) -> Segmentation:
    geometry = series.geometry
    segments = list(phantoms.PHANTOM_SEGMENTS)
    masks = {s.number: labels == s.number for s in segments}
    if variant == "overlap":
        region = np.zeros_like(masks[1])
        k, j, i = (n // 2 for n in geometry.array_shape)
        region[k - 4:k + 4, :j + 4, :i] = True
        segments.append(REGION)
        masks[REGION.number] = region
        assert np.any(region & masks[1]) and np.any(region & masks[2]), "the region must overlap liver and lesion"
    elif variant == "empty":
        segments.append(EMPTY)
    elif variant == "blank":  # nothing labelled yet: the SEG still needs a frame per segment
        masks = {}
    elif variant == "single":  # one segment: highdicom names it once, in the shared functional groups
        segments, masks = segments[:1], {1: masks[1]}
    elif variant == "renumbered":
        segments = [dataclasses.replace(s, number=n) for s, n in zip(segments, SPARSE_NUMBERS, strict=True)]
        masks = {n: masks[old] for old, n in zip((1, 2, 3), SPARSE_NUMBERS, strict=True)}
    return Segmentation(geometry, segments, masks, reference=series, author=AUTHOR)


def probabilities(segmentation: Segmentation) -> Segmentation:
    """A FRACTIONAL segmentation from a binary one: smooth edges, values on the 1/255 steps a SEG stores."""
    masks = {}
    for description, mask in segmentation.iter_masks():
        smooth = ndimage.gaussian_filter(mask.astype(np.float32), sigma=1.0)
        masks[description.number] = np.round(smooth * FRACTIONAL_MAX) / FRACTIONAL_MAX
    return Segmentation(segmentation.geometry, segmentation.segments, masks, kind=MaskKind.FRACTIONAL,
                        reference=segmentation.reference, author=segmentation.author)


def _expected(segmentation: Segmentation) -> tuple[tuple[SegmentDescription, ...], dict[int, np.ndarray]]:
    """Segments renumbered 1..N in order, with the values a SEG stores for them."""
    segments, values = [], {}
    for number, (description, mask) in enumerate(segmentation.iter_masks(), start=1):
        segments.append(dataclasses.replace(description, number=number))
        if segmentation.kind is MaskKind.FRACTIONAL:
            values[number] = np.round(mask * FRACTIONAL_MAX).astype(np.uint8)
        else:
            values[number] = mask.astype(np.uint8)
    return tuple(segments), values


def code_triple(code: Code | None) -> tuple[str, str, str] | None:
    return None if code is None else (code.value, code.scheme, code.meaning)


def description_codes(segments: Iterable[SegmentDescription]) -> dict[int, tuple]:
    """``{number: (label, category, type, anatomic region)}``, the form every reader's result is put in."""
    return {s.number: (s.label, code_triple(s.category), code_triple(s.type), code_triple(s.anatomic_region))
            for s in segments}


def dataset_codes(items: Iterable[Dataset]) -> dict[int, tuple]:
    """The same form from the items of a SEG's Segment Sequence, as pydicom reads them."""
    return {int(item.SegmentNumber): (str(item.SegmentLabel), _item_code(item, "SegmentedPropertyCategoryCodeSequence"),
                                      _item_code(item, "SegmentedPropertyTypeCodeSequence"),
                                      _item_code(item, "AnatomicRegionSequence"))
            for item in items}


def _item_code(item: Dataset, keyword: str) -> tuple[str, str, str] | None:
    sequence = item.get(keyword)
    if not sequence:
        return None
    return str(sequence[0].CodeValue), str(sequence[0].CodingSchemeDesignator), str(sequence[0].CodeMeaning)


def on_grid(array: np.ndarray, affine: np.ndarray, geometry: VolumeGeometry) -> np.ndarray:
    """``array`` (whose index -> LPS mapping is ``affine``) placed voxel for voxel on ``geometry`` ([k, j, i]).

    A reader that put a frame on another slice, flipped an axis or shifted by a voxel fails
    here or in the comparison: only signed axis permutations and whole-voxel offsets are
    accepted (any spacing across an axis of one plane), and labelled voxels must fall inside
    the grid.
    """
    to_grid = np.linalg.inv(geometry.affine) @ np.asarray(affine, dtype=float)
    rotation, offset = to_grid[:3, :3], to_grid[:3, 3]
    for axis in np.flatnonzero(np.array(array.shape) == 1):
        # one plane has no spacing across it: only its direction counts
        rotation[:, axis] /= np.abs(rotation[:, axis]).max()
    permutation, whole = np.round(rotation), np.round(offset)
    if not (np.allclose(rotation, permutation, atol=1e-3) and np.allclose(offset, whole, atol=1e-3)
            and np.array_equal(np.abs(permutation).sum(axis=0), [1, 1, 1])):
        raise AssertionError(f"The reader's grid is not the series grid: array index -> ijk is\n{np.round(to_grid, 4)}")
    index = np.indices(array.shape).reshape(3, -1)
    ijk = (permutation @ index + whole[:, None]).astype(np.int64)
    values = array.reshape(-1)
    inside = np.all((ijk >= 0) & (ijk < np.array(geometry.size)[:, None]), axis=0)
    assert not np.any(values[~inside]), "the reader placed labelled voxels outside the series"
    result = np.zeros(geometry.array_shape, dtype=array.dtype)
    result[ijk[2, inside], ijk[1, inside], ijk[0, inside]] = values[inside]
    return result


def sitk_affine(image) -> np.ndarray:
    """The index -> LPS affine of ``sitk.GetArrayFromImage(image)`` (array axes z, y, x)."""
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = (direction * np.array(image.GetSpacing()))[:, ::-1]
    affine[:3, 3] = image.GetOrigin()
    return affine


def assert_same_values(case: SegCase, found: dict[int, np.ndarray], reader: str) -> None:
    """Every segment's stored values as ``reader`` read them equal what we wrote, voxel for voxel."""
    assert sorted(found) == sorted(case.values), f"{reader} found segments {sorted(found)} in {case.name}"
    for number, expected in case.values.items():
        got = np.asarray(found[number])
        differing = int(np.count_nonzero(got.astype(np.int32) != expected))
        assert differing == 0, (f"{reader}: segment {number} of {case.name} differs in {differing} voxels "
                                f"({int(np.count_nonzero(expected))} labelled, {int(np.count_nonzero(got))} read)")
