"""The source series as SEG files describe it, for work on SEGs without their images.

``consensus`` and ``agreement`` are called with SEG files alone (shared/CLI.md). A SEG knows
its frames' plane, orientation and pixel spacing, the frame of reference, the referenced
series and (per frame) which source instance it was derived from; from several SEGs of one
series this rebuilds the voxel grid that covers all their frames and header-only stand-ins
for the referenced source instances, so that a new SEG (the consensus) can reference them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pydicom

from ..dicom import copy_patient_and_study
from ..errors import GeometryMismatchError, InputError
from ..imaging import SliceSource, VolumeGeometry
from .file import SegFile

#: How far (mm) frame planes may stray from the rebuilt grid; DS values carry 16 characters.
PLANE_TOLERANCE_MM = 1e-2

#: Modality of the common image storage classes, for the header-only stand-ins.
MODALITY_OF_SOP_CLASS = {
    "1.2.840.10008.5.1.4.1.1.2": "CT", "1.2.840.10008.5.1.4.1.1.4": "MR", "1.2.840.10008.5.1.4.1.1.128": "PT",
    "1.2.840.10008.5.1.4.1.1.20": "NM", "1.2.840.10008.5.1.4.1.1.7": "OT",
}

#: Patient and study attributes a derived object copies from its source (PS3.3 C.7.1.1, C.7.2.1, C.7.2.2).
class SeriesFromSegs:
    """The grid and referenced instances of one series, rebuilt from SEG files of it.

    Quacks like :class:`~DICOMAnnotatorLib.imaging.series.ReferenceSeries` where SEG reading
    and writing need it: ``geometry``, ``datasets`` (header-only stand-ins of the referenced
    source instances), the UIDs, and ``source_index`` (source instance and frame to slice k).
    """

    def __init__(self, segs: Sequence[SegFile]) -> None:
        if not segs:
            raise InputError("No SEG files given")
        first = segs[0]
        self._template = first.dataset
        self.description = f"the series referenced by {first.path}"
        self.series_instance_uid = _common(segs, lambda s: tuple(s.referenced_series_uids)[:1], "referenced series")[0]
        self.frame_of_reference_uid = _common(segs, lambda s: s.frame_of_reference_uid, "frame of reference")
        self.study_instance_uid = str(first.dataset.get("StudyInstanceUID", ""))
        self.geometry = _grid_of(segs)
        self.source_index: dict[tuple[str, int | None], int] = {}
        self._source_classes: dict[str, str] = {}
        inverse = np.linalg.inv(self.geometry.affine)
        for seg in segs:
            for frame in seg.frames:
                if frame.source_sop_instance_uid is None or frame.position is None:
                    continue
                k = int(round((inverse @ np.append(frame.position, 1.0))[2]))
                key = (frame.source_sop_instance_uid, frame.source_frame_number)
                if self.source_index.setdefault(key, k) != k:
                    raise GeometryMismatchError(
                        f"Source instance {key[0]} is placed at two different slices by {seg.path}; the SEGs disagree")
                self._source_classes[key[0]] = frame.source_sop_class_uid or "1.2.840.10008.5.1.4.1.1.7"
        self.modality = MODALITY_OF_SOP_CLASS.get(next(iter(self._source_classes.values()), ""), "OT")

    def slice_sources(self) -> dict[int, SliceSource]:
        """Slice index -> the source instance (and frame) the SEG frames there were derived from."""
        g = self.geometry
        return {k: SliceSource(path=None, sop_class_uid=self._source_classes[uid], sop_instance_uid=uid,
                               frame_number=frame,
                               position=tuple(float(v) for v in g.index_to_lps(np.array([[0, 0, k]]))[0]))
                for (uid, frame), k in self.source_index.items()}

    @property
    def is_multiframe(self) -> bool:
        return any(frame is not None for _, frame in self.source_index)

    @property
    def datasets(self) -> list[pydicom.Dataset]:
        """Header-only stand-ins of the referenced single-frame source instances, in slice order."""
        if self.is_multiframe:
            raise InputError(f"{self.description} is a multi-frame image, which the SEG alone cannot describe; "
                             "give the image series with --series")
        if not self.source_index:
            raise InputError(f"The frames of the SEGs name no source images ({self.description}); "
                             "give the image series with --series")
        return [self._stand_in(uid, k) for (uid, _), k in sorted(self.source_index.items(), key=lambda item: item[1])]

    def _stand_in(self, sop_instance_uid: str, k: int) -> pydicom.Dataset:
        ds = pydicom.Dataset()
        if "SpecificCharacterSet" in self._template:
            ds.SpecificCharacterSet = self._template.SpecificCharacterSet
        copy_patient_and_study(self._template, ds)
        g = self.geometry
        ds.SOPClassUID = self._source_classes[sop_instance_uid]
        ds.SOPInstanceUID = sop_instance_uid
        ds.SeriesInstanceUID = self.series_instance_uid
        ds.Modality = self.modality
        ds.FrameOfReferenceUID = self.frame_of_reference_uid
        ds.Rows, ds.Columns = g.size[1], g.size[0]
        ds.PixelSpacing = [g.spacing[1], g.spacing[0]]
        ds.SliceThickness = g.spacing[2]
        ds.ImageOrientationPatient = [float(v) for v in np.concatenate([g.directions[:, 0], g.directions[:, 1]])]
        ds.ImagePositionPatient = [float(v) for v in g.index_to_lps(np.array([[0, 0, k]]))[0]]
        return ds


def _common(segs: Sequence[SegFile], value, what: str):
    values = {seg.path: value(seg) for seg in segs}
    distinct = set(values.values())
    if len(distinct) != 1 or not next(iter(distinct)):
        listing = "; ".join(f"{path}: {v or 'none'}" for path, v in values.items())
        raise GeometryMismatchError(f"The SEGs must share one {what} to be compared ({listing})")
    return distinct.pop()


def _grid_of(segs: Sequence[SegFile]) -> VolumeGeometry:
    """The grid spanning every frame of the SEGs: their planes, pixel spacing and in-plane origin."""
    first = segs[0]
    for seg in segs:
        if seg.row_direction is None or seg.pixel_spacing is None:
            raise InputError(f"{seg.path} has no plane orientation or pixel spacing; give the image series "
                             "with --series")
        if (not np.allclose(seg.row_direction, first.row_direction, atol=1e-4)
                or not np.allclose(seg.column_direction, first.column_direction, atol=1e-4)
                or not np.allclose(seg.pixel_spacing, first.pixel_spacing, atol=1e-3)
                or (seg.rows, seg.columns) != (first.rows, first.columns)):
            raise GeometryMismatchError(f"{seg.path} and {first.path} are not on the same image planes "
                                        "(orientation, pixel spacing or frame size differ)")
    row, column = first.row_direction, first.column_direction
    normal = np.cross(row, column)
    positions = np.array([f.position for seg in segs for f in seg.frames if f.position is not None])
    if not len(positions):
        raise InputError(f"The frames of {first.path} have no plane positions; give the image series with --series")
    in_plane = positions @ np.stack([row, column]).T
    if np.ptp(in_plane, axis=0).max() > PLANE_TOLERANCE_MM:
        raise GeometryMismatchError(f"The frames of {', '.join(str(s.path) for s in segs)} are shifted in plane "
                                    "against each other; give the image series with --series")
    depths = positions @ normal
    distinct = np.unique(np.round(depths, 3))
    spacing = next((s.spacing_between_slices for s in segs if s.spacing_between_slices), None)
    if spacing is None:
        gaps = np.diff(distinct)
        spacing = float(gaps.min()) if len(gaps) else (first.slice_thickness or 1.0)
    steps = (distinct - distinct[0]) / spacing
    if np.abs(steps - np.round(steps)).max() * spacing > PLANE_TOLERANCE_MM:
        raise GeometryMismatchError(f"The frame planes of the SEGs are not evenly spaced at {spacing:g} mm; give the "
                                    "image series with --series")
    origin = in_plane[0, 0] * row + in_plane[0, 1] * column + distinct[0] * normal
    spacing_i, spacing_j = first.pixel_spacing[1], first.pixel_spacing[0]
    size = (first.columns, first.rows, int(round(steps[-1])) + 1)
    return VolumeGeometry.from_axes(size, origin, (spacing_i, spacing_j, spacing), (row, column, normal))
