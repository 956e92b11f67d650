"""One DICOM image series as a regular 3D volume: sorted slices, geometry, voxels.

Annotations are only as good as the geometry they sit on. ``ReferenceSeries`` therefore
refuses, with an error that says why and where, every series it cannot represent exactly
as one regular grid: mixed series, orientations or sizes, missing or duplicated slices,
gantry tilt, Siemens mosaics, whole-slide images, and multi-frame images without per-frame
plane positions. Headers are read without pixel data; voxels are read on demand.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ..dicom import header_value, is_mosaic, mosaic_image_count, native_pixel_data, pixel_decoding_error
from ..errors import InputError, SeriesError
from .geometry import VolumeGeometry
from .instances import path_of, read_file, series_headers

#: Slice positions may differ from a regular grid by this much (mm) plus the relative part.
SLICE_POSITION_TOLERANCE_MM = 0.01
SLICE_POSITION_TOLERANCE_RELATIVE = 0.005
#: Direction cosines of two slices are the same orientation within this tolerance.
ORIENTATION_TOLERANCE = 1e-4

@dataclass(frozen=True)
class SliceSource:
    """Where one slice of the volume comes from: an instance, and a frame for multi-frame images."""

    path: Path | None
    sop_class_uid: str
    sop_instance_uid: str
    frame_number: int | None  # 1-based; None for single-frame instances
    position: tuple[float, float, float]


@dataclass(frozen=True)
class _FrameGeometry:
    """The plane of one frame as read from its header, before the series is checked."""

    source: SliceSource
    rows: int
    columns: int
    row_direction: np.ndarray  # direction of increasing column index (i)
    column_direction: np.ndarray  # direction of increasing row index (j)
    pixel_spacing: tuple[float, float]  # (between rows, between columns) as in DICOM
    slice_thickness: float | None
    rescale: tuple[float, float]  # slope, intercept

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_direction, self.column_direction)


class ReferenceSeries:
    """The sorted source instances of one image series, with their exact geometry.

    Build it with :meth:`from_paths` (files and folders) or :meth:`from_datasets`
    (datasets already read). ``slices[k]`` is the instance (and frame) of slice ``k``.
    """

    def __init__(self, datasets: Sequence[Dataset], *, name: str | None = None) -> None:
        if not datasets:
            raise SeriesError(f"{name or 'The series'} holds no DICOM image; give a folder or files of one series")
        self._name = name
        self._datasets: dict[str, Dataset] = {}
        frames: list[_FrameGeometry] = []
        series_uids = {str(header_value(ds, "SeriesInstanceUID", "")) for ds in datasets}
        if len(series_uids) != 1:
            raise SeriesError(
                f"{self.description} mixes {len(series_uids)} series ({', '.join(sorted(series_uids))}); "
                "pick one with --series-uid"
            )
        for ds in datasets:
            if "SpecificCharacterSet" in ds and not ds.SpecificCharacterSet:
                # Present but empty means the default repertoire, as when absent; writers that copy it
                # into derived objects (highdicom) refuse the empty value.
                del ds.SpecificCharacterSet
            uid = str(header_value(ds, "SOPInstanceUID"))
            if uid in self._datasets:
                raise SeriesError(
                    f"{self.description} contains instance {uid} twice ({path_of(ds)}); remove the copy"
                )
            self._datasets[uid] = ds
            frames.extend(_frames_of(ds))
        self.series_instance_uid = series_uids.pop()
        first = datasets[0]
        self.study_instance_uid = str(first.get("StudyInstanceUID", ""))
        self.frame_of_reference_uid = str(first.get("FrameOfReferenceUID", ""))
        self.modality = str(first.get("Modality", ""))
        self.samples_per_pixel = self._samples_per_pixel()
        self._check_uniform(frames)
        self.geometry, sorted_frames = _regular_grid(frames, self.description)
        self.slices: tuple[SliceSource, ...] = tuple(f.source for f in sorted_frames)
        self._rescale = [f.rescale for f in sorted_frames]
        self._voxels: np.ndarray | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_paths(cls, paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *,
                   series_uid: str | None = None) -> ReferenceSeries:
        """Read one series from a folder (searched recursively) or a list of files.

        In folders, files that are not DICOM and non-image instances (SEG, SR, ...) are
        passed over; a file named explicitly must be a DICOM image.
        """
        name, headers = series_headers(paths, series_uid=series_uid)
        return cls(headers, name=name)

    @classmethod
    def from_datasets(cls, datasets: Iterable[Dataset], *, name: str | None = None) -> ReferenceSeries:
        """From datasets already in memory (with or without pixel data)."""
        return cls(list(datasets), name=name)

    # ----------------------------------------------------------------- properties
    @property
    def description(self) -> str:
        uid = getattr(self, "series_instance_uid", None)
        if self._name and uid:
            return f"series {uid} ({self._name})"
        if uid:
            return f"series {uid}"
        return self._name or "the series"

    @property
    def datasets(self) -> list[Dataset]:
        """The instances' headers, in slice order (each multi-frame instance once)."""
        seen: dict[str, Dataset] = {}
        for source in self.slices:
            seen.setdefault(source.sop_instance_uid, self._datasets[source.sop_instance_uid])
        return list(seen.values())

    @property
    def instance_count(self) -> int:
        return len(self._datasets)

    @property
    def is_colour(self) -> bool:
        """Whether the pixels are colour (RGB or YBR: three samples per pixel) rather than one value each."""
        return self.samples_per_pixel > 1

    @property
    def is_multiframe(self) -> bool:
        return any(s.frame_number is not None for s in self.slices)

    def to_json(self) -> dict[str, Any]:
        """The ``series info`` object of the CLI contract."""
        return {
            "series_instance_uid": self.series_instance_uid,
            "modality": self.modality,
            **self.geometry.to_json(),
            "instances": self.instance_count,
            "samples_per_pixel": self.samples_per_pixel,
            "kind": "volume",
            "calibration": "patient",
        }

    # ----------------------------------------------------------------- voxels
    def read_voxels(self) -> np.ndarray:
        """The volume as a read-only array ``[k, j, i]`` in modality units (e.g. HU for CT).

        Integer data stays integer when every slope is 1 and every intercept whole;
        otherwise the result is float32. A colour series (:attr:`is_colour`) is ``[k, j, i, c]``
        with its samples as stored, converted to RGB where they were YBR (colour samples carry
        no rescale to modality units; Photometric Interpretation, PS3.3 C.7.6.3.1.2, says which
        colour they are). The volume is decoded once and kept: the viewer's volume and the
        measurements at Submit come from the same pass over the files, and uncompressed pixel data
        is read from where the header reader found it, without parsing each header again.
        """
        if self._voxels is None:
            self._voxels = self._read_colour_voxels() if self.is_colour else self._decode_voxels()
            self._voxels.flags.writeable = False
        return self._voxels

    def _decode_voxels(self) -> np.ndarray:
        integral = all(s == 1 and float(b).is_integer() for s, b in self._rescale)
        # int16 straight away when the stored range plus the intercept fits it (CT), else int32, narrowed after
        dtype = (np.int16 if integral and self._fits_int16() else np.int32) if integral else np.float32
        volume = np.empty(self.geometry.array_shape, dtype=dtype)
        for k, frame in enumerate(self._frames_in_order()):
            slope, intercept = self._rescale[k]
            if integral:  # summed in int32 chunk by chunk into the slice (no whole-slice temporaries)
                np.add(frame, np.int32(intercept), out=volume[k], dtype=np.int32, casting="unsafe")
            else:
                volume[k] = frame * slope + intercept
        if dtype == np.int32 and volume.size and volume.min() >= -32768 and volume.max() <= 32767:
            return volume.astype(np.int16)
        return volume

    def _read_colour_voxels(self) -> np.ndarray:
        bits = max(int(header_value(ds, "BitsAllocated", 8) or 8) for ds in self._datasets.values())
        dtype = np.uint8 if bits <= 8 else np.uint16
        volume = np.empty((*self.geometry.array_shape, self.samples_per_pixel), dtype=dtype)
        for k, frame in enumerate(self._frames_in_order()):
            volume[k] = frame
        return volume

    def _frames_in_order(self) -> Iterator[np.ndarray]:
        """The pixels of each slice in slice order, keeping one multi-frame instance decoded at a time."""
        cache: dict[str, np.ndarray] = {}
        for source in self.slices:
            pixels = cache.get(source.sop_instance_uid)
            if pixels is None:
                pixels = self._pixel_array(source)
                if source.frame_number is not None:
                    cache = {source.sop_instance_uid: pixels}
            yield pixels if source.frame_number is None else pixels[source.frame_number - 1]

    def _fits_int16(self) -> bool:
        """Whether every stored value of every slice (Bits Stored, Pixel Representation) plus intercept fits int16."""
        for ds, (_, intercept) in zip((self._datasets[s.sop_instance_uid] for s in self.slices), self._rescale,
                                      strict=True):
            bits = int(header_value(ds, "BitsStored") or header_value(ds, "BitsAllocated") or 16)
            signed = int(header_value(ds, "PixelRepresentation") or 0)
            low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            if low + int(intercept) < -32768 or high + int(intercept) > 32767:
                return False
        return True

    def _pixel_array(self, source: SliceSource) -> np.ndarray:
        ds = self._datasets[source.sop_instance_uid]
        pixels = _native_pixels(ds) if "PixelData" not in ds else None
        if pixels is None:
            if "PixelData" not in ds:
                if source.path is None:
                    raise InputError(f"Instance {source.sop_instance_uid} of {self.description} has no pixel data")
                ds = read_file(source.path, stop_before_pixels=False)
            try:
                pixels = ds.pixel_array
            except Exception as exc:  # pydicom raises many types for undecodable pixel data
                where = source.path or f"instance {source.sop_instance_uid}"
                raise pixel_decoding_error(f"the pixel data of {where}",
                                           str(ds.file_meta.get("TransferSyntaxUID", "")), exc) from exc
        frame_shape = (int(ds.Rows), int(ds.Columns)) + ((self.samples_per_pixel,) if self.is_colour else ())
        if source.frame_number is not None:  # pydicom drops the frame axis of a one-frame image
            frame_shape = (-1, *frame_shape)
        return pixels.reshape(frame_shape)

    def __repr__(self) -> str:
        return f"ReferenceSeries({self.series_instance_uid}, {self.modality}, size={list(self.geometry.size)})"

    def _samples_per_pixel(self) -> int:
        """Samples Per Pixel of every instance: 1 (greyscale or palette) or 3 (colour), never mixed."""
        found = {int(header_value(ds, "SamplesPerPixel", 1) or 1) for ds in self._datasets.values()}
        if len(found) > 1:
            raise SeriesError(f"{self.description} mixes greyscale and colour images ({sorted(found)} samples per "
                              "pixel); split the series")
        samples = found.pop()
        if samples not in (1, 3):
            raise SeriesError(f"{self.description} has {samples} samples per pixel; DICOM images have 1 or 3")
        return samples

    def _check_uniform(self, frames: list[_FrameGeometry]) -> None:
        first = frames[0]
        for frame in frames[1:]:
            where = _where(frame.source)
            if (frame.rows, frame.columns) != (first.rows, first.columns):
                raise SeriesError(
                    f"{self.description} mixes image sizes: {where} is {frame.columns}x{frame.rows}, "
                    f"{_where(first.source)} is {first.columns}x{first.rows}; split the series"
                )
            if (np.abs(frame.row_direction - first.row_direction).max() > ORIENTATION_TOLERANCE
                    or np.abs(frame.column_direction - first.column_direction).max() > ORIENTATION_TOLERANCE):
                raise SeriesError(
                    f"{self.description} mixes image orientations ({where} differs from "
                    f"{_where(first.source)}), as in a localizer or a multi-stack series; split the series"
                )
            if not np.allclose(frame.pixel_spacing, first.pixel_spacing, atol=1e-4, rtol=1e-4):
                raise SeriesError(
                    f"{self.description} mixes pixel spacings: {where} has {list(frame.pixel_spacing)}, "
                    f"{_where(first.source)} has {list(first.pixel_spacing)}; split the series"
                )
        frames_of_reference = {str(header_value(ds, "FrameOfReferenceUID", "")) for ds in self._datasets.values()}
        if len(frames_of_reference) > 1:
            raise SeriesError(
                f"{self.description} mixes {len(frames_of_reference)} frames of reference; "
                "its instances do not share one patient coordinate system"
            )


# --------------------------------------------------------------------- reading files
def _native_pixels(ds: Dataset) -> np.ndarray | None:
    """The pixels of a greyscale image whose native pixel data :func:`..dicom.native_pixel_data` reads from its file,
    as pydicom's ``pixel_array`` gives them (bits above Bits Stored cleared, or sign-extended when
    signed); None when the image is anything else (pydicom then decodes it)."""
    bits = int(header_value(ds, "BitsAllocated", 0) or 0)
    if int(header_value(ds, "SamplesPerPixel", 1) or 1) != 1 or bits not in (8, 16, 32):
        return None
    data = native_pixel_data(ds)
    if data is None:
        return None
    rows, columns = int(header_value(ds, "Rows")), int(header_value(ds, "Columns"))
    frames = int(header_value(ds, "NumberOfFrames", 1) or 1)
    signed = int(header_value(ds, "PixelRepresentation", 0) or 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    if len(data) < rows * columns * frames * dtype.itemsize:
        return None
    pixels = np.frombuffer(data, dtype=dtype, count=rows * columns * frames)
    pixels = pixels.reshape((frames, rows, columns) if frames > 1 else (rows, columns))
    unused = bits - int(header_value(ds, "BitsStored", bits) or bits)
    if unused > 0:
        pixels = (pixels << unused) >> unused
    return pixels


def _where(source: SliceSource) -> str:
    name = str(source.path) if source.path else f"instance {source.sop_instance_uid}"
    return name if source.frame_number is None else f"{name} frame {source.frame_number}"


# --------------------------------------------------------------------- frame geometry
def _frames_of(ds: Dataset) -> list[_FrameGeometry]:
    """The plane of every frame of one instance (one entry for single-frame images)."""
    path = path_of(ds)
    where = str(path) if path else f"instance {header_value(ds, 'SOPInstanceUID')}"
    if is_mosaic(ds):
        count = mosaic_image_count(ds)
        raise SeriesError(
            f"{where} is a Siemens mosaic: {f'{count} slices' if count else 'several slices'} tiled into one "
            f"{header_value(ds, 'Columns')}x{header_value(ds, 'Rows')} image, placed at the corner of the tile grid "
            "rather than of a slice, so its geometry is not that of any slice; convert it to one image per slice "
            "first (export it from the scanner without mosaic, or convert it with dcm2niix)"
        )
    if "TotalPixelMatrixRows" in ds:
        raise SeriesError(
            f"{where} is a whole-slide microscopy image (tiles of a slide's total pixel matrix, placed on the slide "
            "rather than in the patient); only image volumes in patient coordinates can be annotated here"
        )
    frame_count = int(header_value(ds, "NumberOfFrames", 1) or 1)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if frame_count > 1 or per_frame is not None:
        if per_frame is None or len(per_frame) != frame_count:
            raise SeriesError(
                f"{where} is a multi-frame image without per-frame plane positions "
                "(no Per-frame Functional Groups Sequence); only enhanced multi-frame images "
                "with per-frame geometry can be annotated as volumes"
            )
        shared = ds.get("SharedFunctionalGroupsSequence", [Dataset()])[0]
        return [
            _frame_geometry(ds, path, where, number, _merged_groups(shared, per_frame[number - 1]))
            for number in range(1, frame_count + 1)
        ]
    return [_frame_geometry(ds, path, where, None, ds)]


def _merged_groups(shared: Dataset, frame: Dataset) -> dict[str, Any]:
    """Functional group macros of one frame: its own, else the shared ones."""
    groups: dict[str, Any] = {}
    for keyword in ("PlanePositionSequence", "PlaneOrientationSequence", "PixelMeasuresSequence",
                    "PixelValueTransformationSequence"):
        item = frame.get(keyword) or shared.get(keyword)
        if item:
            groups[keyword] = item[0]
    return groups


def _frame_geometry(ds: Dataset, path: Path | None, where: str, frame_number: int | None,
                    groups: Dataset | dict[str, Any]) -> _FrameGeometry:
    if frame_number is None:
        position, orientation, spacing, thickness = (
            header_value(ds, "ImagePositionPatient"), header_value(ds, "ImageOrientationPatient"),
            header_value(ds, "PixelSpacing"), header_value(ds, "SliceThickness"))
        rescale_source: Any = ds
        where_frame = where
    else:
        plane = groups.get("PlanePositionSequence")
        orient = groups.get("PlaneOrientationSequence")
        measures = groups.get("PixelMeasuresSequence")
        position = plane.get("ImagePositionPatient") if plane else None
        orientation = orient.get("ImageOrientationPatient") if orient else None
        spacing = measures.get("PixelSpacing") if measures else None
        thickness = measures.get("SliceThickness") if measures else None
        rescale_source = groups.get("PixelValueTransformationSequence") or ds
        where_frame = f"{where} frame {frame_number}"
    if position is None or orientation is None:
        raise SeriesError(
            f"{where_frame} has no patient position or orientation (ImagePositionPatient / "
            "ImageOrientationPatient), so its place in 3D is unknown; a projection or secondary "
            "capture image cannot be annotated as a volume"
        )
    if spacing is None:
        raise SeriesError(
            f"{where_frame} has no PixelSpacing, so distances and volumes in mm cannot be measured; "
            "fix the header or use a calibrated series"
        )
    orientation = np.array([float(v) for v in orientation])
    if orientation.shape != (6,):
        raise SeriesError(f"{where_frame} has an ImageOrientationPatient of {orientation.size} values, not 6")
    row_direction, column_direction = orientation[:3], orientation[3:]
    for vector in (row_direction, column_direction):
        if abs(np.linalg.norm(vector) - 1) > 1e-3:
            raise SeriesError(f"{where_frame} has non-unit direction cosines {list(orientation)}")
    if abs(float(np.dot(row_direction, column_direction))) > 1e-3:
        raise SeriesError(f"{where_frame} has non-orthogonal direction cosines {list(orientation)}")
    pixel_spacing = (float(spacing[0]), float(spacing[1]))
    if min(pixel_spacing) <= 0:
        raise SeriesError(f"{where_frame} has a non-positive PixelSpacing {list(pixel_spacing)}")
    source = SliceSource(
        path=path,
        sop_class_uid=str(header_value(ds, "SOPClassUID")),
        sop_instance_uid=str(header_value(ds, "SOPInstanceUID")),
        frame_number=frame_number,
        position=tuple(float(v) for v in position),
    )
    return _FrameGeometry(
        source=source,
        rows=int(header_value(ds, "Rows")),
        columns=int(header_value(ds, "Columns")),
        row_direction=row_direction / np.linalg.norm(row_direction),
        column_direction=column_direction / np.linalg.norm(column_direction),
        pixel_spacing=pixel_spacing,
        slice_thickness=float(thickness) if thickness not in (None, "") else None,
        rescale=(float(header_value(rescale_source, "RescaleSlope", 1) or 1),
                 float(header_value(rescale_source, "RescaleIntercept", 0) or 0)),
    )


def _regular_grid(frames: list[_FrameGeometry], description: str) -> tuple[VolumeGeometry, list[_FrameGeometry]]:
    """Sort frames along the slice normal and check they form one regular grid."""
    first = frames[0]
    normal = first.normal
    distances = np.array([float(np.dot(normal, f.source.position)) for f in frames])
    order = np.argsort(distances, kind="stable")
    frames = [frames[i] for i in order]
    distances = distances[order]
    if len(frames) == 1:
        spacing_k = first.slice_thickness or 1.0
    else:
        steps = np.diff(distances)
        duplicate = int(np.argmin(steps))
        if steps[duplicate] < SLICE_POSITION_TOLERANCE_MM:
            raise SeriesError(
                f"{description} has two slices at the same position {distances[duplicate]:.3f} mm along the "
                f"slice normal ({_where(frames[duplicate].source)} and {_where(frames[duplicate + 1].source)}): "
                "duplicated instances, several acquisitions or time points in one series; split or clean it"
            )
        spacing_k = statistics.median(steps.tolist())  # not np.median, which imports numpy.ma (20 ms)
        tolerance = SLICE_POSITION_TOLERANCE_MM + SLICE_POSITION_TOLERANCE_RELATIVE * spacing_k
        worst = int(np.argmax(np.abs(steps - spacing_k)))
        if abs(steps[worst] - spacing_k) > tolerance:
            gap = steps[worst] / spacing_k
            kind = "missing slices" if gap > 1.5 else "non-uniform slice spacing"
            raise SeriesError(
                f"{description} has {kind}: slices are {steps[worst]:.4g} mm apart between "
                f"{_where(frames[worst].source)} and {_where(frames[worst + 1].source)}, "
                f"where the series spacing is {spacing_k:.4g} mm; complete the series or resample it"
            )
        # Slices must stack along the normal: any in-plane drift is gantry tilt or shear.
        offsets = np.array([f.source.position for f in frames]) - np.asarray(frames[0].source.position)
        in_plane = offsets - np.outer(distances - distances[0], normal)
        drift = float(np.max(np.linalg.norm(in_plane, axis=1)))
        if drift > tolerance:
            raise SeriesError(
                f"{description} is tilted or sheared: slice positions drift {drift:.3g} mm off the slice "
                f"normal (gantry tilt {_tilt_degrees(frames):.2f} degrees); resample it to an orthogonal "
                "grid before annotating"
            )
    geometry = VolumeGeometry.from_axes(
        size=(first.columns, first.rows, len(frames)),
        origin=frames[0].source.position,
        spacing=(first.pixel_spacing[1], first.pixel_spacing[0], spacing_k),
        directions=(first.row_direction, first.column_direction, normal),
    )
    return geometry, frames


def _tilt_degrees(frames: list[_FrameGeometry]) -> float:
    """Angle between the stacking direction and the slice normal, for messages."""
    step = np.asarray(frames[-1].source.position) - np.asarray(frames[0].source.position)
    cosine = abs(float(np.dot(step, frames[0].normal))) / float(np.linalg.norm(step))
    return float(np.degrees(np.arccos(min(1.0, cosine))))
