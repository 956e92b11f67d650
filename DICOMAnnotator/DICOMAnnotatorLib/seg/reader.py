"""DICOM SEG to :class:`Segmentation`, voxel-exact on the series it segments.

Any conformant SEG is accepted, not only ours: BINARY, FRACTIONAL and LABELMAP, frames in any
order, sparse frames (empty ones omitted), overlapping segments, and frames that cover only
part of the series. Each frame is placed by its Plane Position on the series grid (or, when a
producer left positions out, by the source instance it was derived from), and refused with the
frame named when it does not lie on a slice of that grid.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..errors import GeometryMismatchError, InputError, SegmentationError
from ..imaging import MaskKind, Provenance, ReferenceSeries, Segmentation, VolumeGeometry
from .descriptions import segment_description_from_dataset
from .file import SegFile, SegFrame
from .grid import PLANE_TOLERANCE_MM, SeriesFromSegs


def read_seg(path: str | os.PathLike[str], series: ReferenceSeries | None = None) -> Segmentation:
    """One SEG on ``series`` (or, without it, on the grid its own frames describe)."""
    return read_segs([path], series)[0]


def read_segs(paths: Sequence[str | os.PathLike[str]], series: ReferenceSeries | None = None) -> list[Segmentation]:
    """Several SEGs of one series, all on the same grid (``series``, or the grid rebuilt from the SEGs)."""
    segs = [SegFile(path) for path in paths]
    for seg in segs:
        if seg.is_whole_slide:
            raise InputError(f"{seg.path} is a whole-slide microscopy SEG (tiles of a slide's total pixel matrix); "
                             "seg info reads it, but whole-slide SEGs cannot be placed on an image volume here")
    reference = series if series is not None else SeriesFromSegs(segs)
    return [_to_segmentation(seg, reference) for seg in segs]


def _to_segmentation(seg: SegFile, reference) -> Segmentation:
    _require_same_series(seg, reference)
    geometry: VolumeGeometry = reference.geometry
    placement = _FramePlacement(seg, geometry, _source_index(reference))
    fractional = seg.segmentation_type == "FRACTIONAL"
    planes = {n: _SegmentPlanes(np.float32 if fractional else bool) for n in seg.segment_numbers}

    def add(number: int, k: int, plane: np.ndarray) -> None:
        if number not in planes:
            raise InputError(f"A frame of {seg.path} belongs to segment {number}, which its Segment Sequence does "
                             f"not describe (it has {sorted(planes)}); the SEG is not conformant")
        planes[number].add(k, plane)

    for frame, pixels in seg.iter_frame_pixels():
        k, plane = placement.place(frame, pixels)
        if seg.segmentation_type == "LABELMAP":
            for number in np.unique(plane[plane != 0]).tolist():
                add(number, k, plane == number)
        elif fractional:
            add(frame.segment_number, k, plane.astype(np.float32) / seg.maximum_fractional_value)
        else:
            add(frame.segment_number, k, plane != 0)
    descriptions = [segment_description_from_dataset(item, str(seg.path)) for item in seg.segment_items]
    cropped = {number: p.box_and_values() for number, p in planes.items() if p.planes}
    return Segmentation.from_cropped_masks(
        geometry, descriptions, cropped, kind=MaskKind.FRACTIONAL if fractional else MaskKind.BINARY,
        reference=reference, author=seg.content_creator,
        provenance=Provenance(derived_from=(str(seg.path),), method=f"DICOM SEG {seg.dataset.SOPInstanceUID}"),
    )


class _SegmentPlanes:
    """One segment's decoded frames, each kept cropped to its labelled rows and columns.

    A SEG frame covers the whole image while a segment usually covers a small part of it;
    keeping only the labelled rectangle makes memory follow the segment, not the frame count.
    """

    def __init__(self, dtype) -> None:
        self.dtype = dtype
        self.planes: dict[int, tuple[int, int, np.ndarray]] = {}  # k -> (first row, first column, values)

    def add(self, k: int, plane: np.ndarray) -> None:
        rows, columns = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
        if not len(rows):
            return
        if k in self.planes:  # a second frame of the segment on this slice (allowed, if unusual): merge
            plane = np.maximum(plane, self._full_plane(k, plane.shape))
            rows, columns = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
        j0, j1, i0, i1 = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
        self.planes[k] = (int(j0), int(i0), np.array(plane[j0:j1, i0:i1], dtype=self.dtype))

    def _full_plane(self, k: int, shape: tuple[int, int]) -> np.ndarray:
        j0, i0, values = self.planes[k]
        full = np.zeros(shape, dtype=self.dtype)
        full[j0:j0 + values.shape[0], i0:i0 + values.shape[1]] = values
        return full

    def box_and_values(self) -> tuple[tuple[slice, slice, slice], np.ndarray]:
        """The union box (k, j, i) of every plane and the values inside it."""
        ks = sorted(self.planes)
        j0 = min(j for j, _, _ in self.planes.values())
        i0 = min(i for _, i, _ in self.planes.values())
        j1 = max(j + v.shape[0] for j, _, v in self.planes.values())
        i1 = max(i + v.shape[1] for _, i, v in self.planes.values())
        values = np.zeros((ks[-1] - ks[0] + 1, j1 - j0, i1 - i0), dtype=self.dtype)
        for k, (j, i, plane) in self.planes.items():
            values[k - ks[0], j - j0:j - j0 + plane.shape[0], i - i0:i - i0 + plane.shape[1]] = plane
        return (slice(ks[0], ks[-1] + 1), slice(j0, j1), slice(i0, i1)), values


def _source_index(reference) -> dict[tuple[str, int | None], int]:
    """Source instance and frame to slice k: a series' or 2D image's slices, or what SEGs say of their series."""
    if isinstance(reference, SeriesFromSegs):
        return reference.source_index
    return {(s.sop_instance_uid, s.frame_number): k for k, s in enumerate(reference.slices)}


def _require_same_series(seg: SegFile, reference) -> None:
    referenced = seg.referenced_series_uids
    if referenced and reference.series_instance_uid not in referenced:
        raise GeometryMismatchError(
            f"{seg.path} segments series {', '.join(referenced)}, not the given {reference.description}; "
            "give the series the SEG was made on"
        )
    if seg.frame_of_reference_uid and reference.frame_of_reference_uid \
            and seg.frame_of_reference_uid != reference.frame_of_reference_uid:
        if referenced:  # the right series by its UID, so the user did give it: one of the two was changed since
            advice = ("the SEG names this very series, so one of the two was changed after the SEG was made (new "
                      "UIDs from separate de-identification, for one); use the SEG and series as they were made, "
                      "or de-identify them together")
        else:
            advice = "give the series the SEG was made on"
        raise GeometryMismatchError(
            f"{seg.path} is in frame of reference {seg.frame_of_reference_uid}, {reference.description} in "
            f"{reference.frame_of_reference_uid}; {advice}"
        )


class _FramePlacement:
    """Where each SEG frame lies on the grid: slice k and the in-plane offset of its first pixel."""

    def __init__(self, seg: SegFile, geometry: VolumeGeometry, source_index: dict[tuple[str, int | None], int]):
        self.seg, self.geometry, self.source_index = seg, geometry, source_index
        self.inverse = np.linalg.inv(geometry.affine)
        if not geometry.in_patient_space:  # a 2D image or cine: frames are placed by the source frame they name
            return
        directions = geometry.directions
        if seg.row_direction is not None and (
                not np.allclose(seg.row_direction, directions[:, 0], atol=1e-4)
                or not np.allclose(seg.column_direction, directions[:, 1], atol=1e-4)):
            theirs = np.round(np.r_[seg.row_direction, seg.column_direction], 4).tolist()
            ours = np.round(np.r_[directions[:, 0], directions[:, 1]], 4).tolist()
            raise GeometryMismatchError(
                f"The frames of {seg.path} are oriented {theirs}, the series {ours}; the SEG was made on other "
                "(resampled) planes and cannot be placed voxel for voxel")
        if seg.pixel_spacing is not None and not np.allclose(
                (seg.pixel_spacing[1], seg.pixel_spacing[0]), geometry.spacing[:2], atol=1e-3):
            raise GeometryMismatchError(
                f"{seg.path} has pixel spacing {list(seg.pixel_spacing)} mm, the series "
                f"{[geometry.spacing[1], geometry.spacing[0]]} mm (row, column); give the series the SEG was made on")

    def place(self, frame: SegFrame, pixels: np.ndarray) -> tuple[int, np.ndarray]:
        """The slice index of ``frame`` and its pixels cut or padded to the grid's rows and columns."""
        if frame.position is not None:
            index = (self.inverse @ np.append(frame.position, 1.0))[:3]
            rounded = np.round(index)
            if (np.abs(index - rounded) * np.array(self.geometry.spacing)).max() > PLANE_TOLERANCE_MM:
                raise GeometryMismatchError(
                    f"Frame {frame.index + 1} of {self.seg.path} at {np.round(frame.position, 3).tolist()} mm lies "
                    f"between the voxels of the series (index {np.round(index, 3).tolist()}); the SEG was made on "
                    "another grid")
            i0, j0, k = (int(v) for v in rounded)
        else:
            key = (frame.source_sop_instance_uid, frame.source_frame_number)
            if key not in self.source_index:
                raise InputError(f"Frame {frame.index + 1} of {self.seg.path} has no plane position and its source "
                                 f"image {key[0]} is not in the series; give the series the SEG was made on")
            i0, j0, k = 0, 0, self.source_index[key]
        columns, rows, slices = self.geometry.size
        if not 0 <= k < slices:
            raise SegmentationError(
                f"Frame {frame.index + 1} of {self.seg.path} lies at slice {k}, outside the {slices} slices of the "
                "series; give the whole series the SEG was made on")
        plane = np.zeros((rows, columns), dtype=pixels.dtype)
        src_rows = slice(max(0, -j0), min(pixels.shape[0], rows - j0))
        src_cols = slice(max(0, -i0), min(pixels.shape[1], columns - i0))
        inside = pixels[src_rows, src_cols]
        if np.count_nonzero(inside) != np.count_nonzero(pixels):
            raise GeometryMismatchError(f"Frame {frame.index + 1} of {self.seg.path} has labelled pixels outside the "
                                        "series' images; the SEG was made on another grid")
        plane[src_rows.start + j0:src_rows.stop + j0, src_cols.start + i0:src_cols.stop + i0] = inside
        return k, plane
