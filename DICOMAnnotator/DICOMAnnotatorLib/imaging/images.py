"""2D images and cine loops: the images of a series that are not slices of a volume.

Radiographs (CR, DX, MG "for presentation" or "for processing", RF, XA), secondary captures and
ultrasound have no place in the patient's coordinates (no Image Position and Orientation
(Patient)): each is a 2D grid of pixels with its calibration stated (:mod:`.calibration`), and a
multi-frame one (an ultrasound or angiography cine) a stack of such frames in time. Each instance
is a :class:`PlanarImage`, with the interface of :class:`~.series.ReferenceSeries` that
segmentations, SEG and SR need: a grid (:class:`~.geometry.ImageGrid`, k counting frames), the
source (instance and frame) of each slice k, the headers and the pixels. A series of several such
images (a mammography exam's four views, an echo's loops) is a :class:`PlanarSeries`, annotated as
one case: marks name the instance and frame they are on.

:func:`open_images` opens whatever a folder or list of files holds: a :class:`ReferenceSeries` when
every instance has a plane in the patient, otherwise a :class:`PlanarSeries`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ..dicom import header_value, pixel_decoding_error
from ..errors import InputError, SeriesError
from .calibration import PixelCalibration, calibration_of
from .geometry import ImageGrid
from .instances import path_of, read_file, series_headers
from .series import ReferenceSeries, SliceSource


class PlanarImage:
    """One 2D image or cine loop (one instance): ``slices[k]`` is frame k+1 (or the image itself)."""

    def __init__(self, ds: Dataset, *, name: str | None = None) -> None:
        self._header = ds
        self.path = path_of(ds)
        self.sop_instance_uid = str(header_value(ds, "SOPInstanceUID"))
        self.sop_class_uid = str(header_value(ds, "SOPClassUID"))
        self.series_instance_uid = str(header_value(ds, "SeriesInstanceUID", ""))
        self.study_instance_uid = str(ds.get("StudyInstanceUID", ""))
        self.modality = str(ds.get("Modality", ""))
        #: 2D images have no patient coordinates: marks are SCOORD on the image, never SCOORD3D, and a SEG
        #: on them names its source images rather than a frame of reference.
        self.frame_of_reference_uid = ""
        self._name = name
        self.rows, self.columns = int(header_value(ds, "Rows")), int(header_value(ds, "Columns"))
        self.frame_count = int(header_value(ds, "NumberOfFrames", 1) or 1)
        if self.rows < 1 or self.columns < 1 or self.frame_count < 1:
            raise SeriesError(f"{self.description} has {self.columns} columns, {self.rows} rows and "
                              f"{self.frame_count} frames; an image needs at least one of each")
        self.samples_per_pixel = int(header_value(ds, "SamplesPerPixel", 1) or 1)
        if self.samples_per_pixel not in (1, 3):
            raise SeriesError(f"{self.description} has {self.samples_per_pixel} samples per pixel; "
                              "DICOM images have 1 or 3")
        self.photometric_interpretation = str(header_value(ds, "PhotometricInterpretation", "") or "")
        self.calibration: PixelCalibration = calibration_of(ds)
        self.geometry = ImageGrid.of_pixels(self.columns, self.rows, self.frame_count, self.calibration.spacing)
        multiframe = self.frame_count > 1 or "NumberOfFrames" in ds
        self.slices: tuple[SliceSource, ...] = tuple(
            SliceSource(path=self.path, sop_class_uid=self.sop_class_uid, sop_instance_uid=self.sop_instance_uid,
                        frame_number=k + 1 if multiframe else None, position=(0.0, 0.0, float(k)))
            for k in range(self.frame_count))
        self._pixels: np.ndarray | None = None

    # ----------------------------------------------------------------- what it is
    @property
    def kind(self) -> str:
        """``image`` (one frame) or ``cine`` (several)."""
        return "cine" if self.frame_count > 1 else "image"

    @property
    def description(self) -> str:
        where = f" ({self._name})" if self._name else f" ({self.path})" if self.path else ""
        return f"image {self.sop_instance_uid}{where}"

    @property
    def datasets(self) -> list[Dataset]:
        return [self._header]

    @property
    def instance_count(self) -> int:
        return 1

    @property
    def is_colour(self) -> bool:
        """Whether the pixels are shown in colour: three samples (RGB, YBR) or a palette."""
        return self.samples_per_pixel == 3 or self.photometric_interpretation == "PALETTE COLOR"

    @property
    def is_multiframe(self) -> bool:
        return any(source.frame_number is not None for source in self.slices)

    def slice_of(self, frame: int | None, where: str) -> int:
        """Slice k of ``frame`` (1-based; None or 1 for a single-frame image); InputError past the end."""
        if frame is None:
            if self.frame_count > 1:
                raise InputError(f"{where} is on {self.description}, a cine of {self.frame_count} frames; "
                                 "name its frame (1-based)")
            return 0
        if isinstance(frame, bool) or not isinstance(frame, int) or not 1 <= frame <= self.frame_count:
            raise InputError(f"{where} names frame {frame!r} of {self.description}, which has "
                             f"{self.frame_count} frame(s); give a frame from 1 to {self.frame_count}")
        return frame - 1

    def to_json(self) -> dict[str, Any]:
        """The ``series info`` object of the CLI contract for one image or cine."""
        return {"kind": self.kind, "series_instance_uid": self.series_instance_uid, "modality": self.modality,
                **self.geometry.to_json(), "calibration": self.calibration.kind.value, "instances": 1,
                "samples_per_pixel": 3 if self.is_colour else 1, "sop_instance_uid": self.sop_instance_uid,
                "photometric_interpretation": self.photometric_interpretation}

    # ----------------------------------------------------------------- pixels
    def read_voxels(self) -> np.ndarray:
        """The frames as a read-only array ``[k, j, i]`` (``[k, j, i, 3]`` in RGB for colour images).

        Greyscale values are in modality units where the image has a rescale; colour is decoded to
        RGB whatever it was stored as (RGB, YBR_FULL, YBR_FULL_422 as pydicom converts them; a
        palette through its lookup tables, PS3.3 C.7.6.3.1.5, scaled to 8 bits), so that what is shown
        and exported is what the producer meant to display.
        """
        if self._pixels is None:
            self._pixels = self._decode()
            self._pixels.flags.writeable = False
        return self._pixels

    def _decode(self) -> np.ndarray:
        if self.path is None:
            raise InputError(f"{self.description} was not read from a file; its pixels are not available")
        ds = read_file(self.path, stop_before_pixels=False)
        try:
            pixels = ds.pixel_array
            if self.photometric_interpretation == "PALETTE COLOR":
                from pydicom.pixels import apply_color_lut

                pixels = apply_color_lut(pixels, ds)
                if pixels.dtype != np.uint8:  # 16-bit table entries: keep the 8 most significant bits
                    pixels = (pixels >> 8).astype(np.uint8)
        except Exception as exc:  # pydicom raises many types for undecodable pixel data
            raise pixel_decoding_error(f"the pixel data of {self.path}", str(ds.file_meta.get("TransferSyntaxUID", "")),
                                       exc) from exc
        shape = (self.frame_count, self.rows, self.columns) + ((3,) if self.is_colour else ())
        pixels = np.asarray(pixels).reshape(shape)
        if self.is_colour:
            return pixels
        slope = float(header_value(ds, "RescaleSlope", 1) or 1)
        intercept = float(header_value(ds, "RescaleIntercept", 0) or 0)
        if slope == 1 and intercept == 0:
            return pixels
        return (pixels * slope + intercept).astype(np.float32)

    def __repr__(self) -> str:
        return f"PlanarImage({self.sop_instance_uid}, {self.modality}, {self.kind}, size={list(self.geometry.size)})"


class PlanarSeries:
    """The 2D images and cine loops of one series, in instance number order, annotated as one case."""

    def __init__(self, datasets: Sequence[Dataset], *, name: str | None = None) -> None:
        if not datasets:
            raise SeriesError(f"{name or 'The series'} holds no DICOM image; give a folder or files of one series")
        ordered = sorted(datasets, key=lambda ds: (int(header_value(ds, "InstanceNumber", 0) or 0),
                                                    str(header_value(ds, "SOPInstanceUID"))))
        self._name = name
        self.series_instance_uid = str(header_value(ordered[0], "SeriesInstanceUID", ""))
        self.images = [PlanarImage(ds, name=name if len(datasets) == 1 else None) for ds in ordered]
        uids = [image.sop_instance_uid for image in self.images]
        twice = sorted({uid for uid in uids if uids.count(uid) > 1})
        if twice:
            raise SeriesError(f"{self.description} contains instance {twice[0]} twice; remove the copy")
        first = self.images[0]
        self.study_instance_uid = first.study_instance_uid
        self.modality = first.modality
        self.frame_of_reference_uid = ""

    @property
    def description(self) -> str:
        uid = self.series_instance_uid
        return f"series {uid} ({self._name})" if self._name else f"series {uid}"

    @property
    def kind(self) -> str:
        return "cine" if any(image.kind == "cine" for image in self.images) else "image"

    @property
    def datasets(self) -> list[Dataset]:
        return [image.datasets[0] for image in self.images]

    @property
    def instance_count(self) -> int:
        return len(self.images)

    @property
    def is_colour(self) -> bool:
        """Whether an image of the series is shown in colour (no window presets apply to it)."""
        return any(image.is_colour for image in self.images)

    @property
    def slices(self) -> tuple[SliceSource, ...]:
        """Every frame of every image, image by image."""
        return tuple(source for image in self.images for source in image.slices)

    def single_image(self, purpose: str) -> PlanarImage:
        """The one image of the series; SeriesError when it has several (a SEG or label map lies on one image)."""
        if len(self.images) == 1:
            return self.images[0]
        listed = ", ".join(image.sop_instance_uid for image in self.images)
        raise SeriesError(f"{self.description} holds {len(self.images)} images ({listed}); {purpose} lies on one "
                          "image: give that image's file")

    def to_json(self) -> dict[str, Any]:
        """``series info``: the first image's fields (the only image's, usually), the count and every image."""
        summary = {**self.images[0].to_json(), "kind": self.kind, "instances": len(self.images)}
        del summary["sop_instance_uid"]
        if len(self.images) > 1:
            summary["images"] = [image.to_json() for image in self.images]
        return summary

    def __repr__(self) -> str:
        return f"PlanarSeries({self.series_instance_uid}, {self.modality}, {len(self.images)} images)"


def has_patient_plane(ds: Dataset) -> bool:
    """Whether an image header places its frames in the patient (a slice of a volume) rather than on a 2D grid."""
    frames = int(header_value(ds, "NumberOfFrames", 1) or 1)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None:
        shared = ds.get("SharedFunctionalGroupsSequence") or [Dataset()]
        first = per_frame[0] if len(per_frame) else Dataset()
        return bool(first.get("PlanePositionSequence") or shared[0].get("PlanePositionSequence"))
    return frames == 1 and "ImagePositionPatient" in ds and "ImageOrientationPatient" in ds


def open_images(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *,
                series_uid: str | None = None) -> ReferenceSeries | PlanarSeries:
    """The series in ``paths``: a volume when every image lies in the patient, else its 2D images and cines.

    Images with a plane in the patient mixed with images without (a localizer in a CT series) are
    left to :class:`ReferenceSeries`, which names the odd one, and so are whole-slide microscopy images
    (tiles placed on a slide, neither a volume nor one 2D image), which it refuses by name.
    """
    name, headers = series_headers(paths, series_uid=series_uid)
    if any(has_patient_plane(ds) or "TotalPixelMatrixRows" in ds for ds in headers):
        return ReferenceSeries(headers, name=name)
    return PlanarSeries(headers, name=name)


def open_grid(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *, series_uid: str | None = None,
              purpose: str = "a segmentation") -> ReferenceSeries | PlanarImage:
    """What a segmentation (a label map, a SEG, an RT Structure Set) lies on: the volume, or the one 2D image or
    cine loop of the series (``purpose`` names what, in the refusal of a series of several images)."""
    opened = open_images(paths, series_uid=series_uid)
    return opened.single_image(purpose) if isinstance(opened, PlanarSeries) else opened
