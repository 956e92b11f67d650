"""What one pixel of a 2D image measures, and how the image says so.

A projection image is not a slice of the patient: the X-ray beam fans out from its focal spot, so
an object is magnified on the detector by the ratio of the source-detector to the source-object
distance. DICOM states which distance a pixel stands for (PS3.3 10.7.1.3, C.8.11.4.1.1, C.8.11.7):

- ``pixel_spacing``: Pixel Spacing calibrated in the patient, by geometry or with a fiducial of known
  size (Pixel Spacing Calibration Type), or given without Imager Pixel Spacing (secondary captures,
  nuclear medicine images): taken as the producer states it;
- ``imager_pixel_spacing``: the spacing at the detector's front plane (Imager Pixel Spacing, or a Pixel
  Spacing equal to it): objects in the patient measure larger than they are, by the magnification;
- ``magnification_corrected``: Imager Pixel Spacing divided by the Estimated Radiographic Magnification
  Factor (or a Pixel Spacing equal to that quotient): right for objects in the plane the estimate
  was made for (the breast support plane of a mammogram, the isocentre), not at other depths;
- ``ultrasound_regions``: the Physical Delta X and Y of the Sequence of Ultrasound Regions (C.8.5.5.1),
  valid inside each region only (a Doppler strip beside the image has seconds and cm/s as units);
- ``none``: no spacing at all: measurements are in pixels, never mm;
- ``patient`` is the calibration of volumes (patient coordinates), set by the reference series.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from ..dicom import header_value

#: Physical Units X/Y Direction (0018,6024/6026) value for centimetres (PS3.3 C.8.5.5.1.15).
ULTRASOUND_CENTIMETRES = 3
#: Region Spatial Format (0018,6012) value of a 2D (tissue or colour flow) region.
ULTRASOUND_2D = 1
#: Two spacings are the same within this relative difference.
SPACING_TOLERANCE = 1e-4


class Calibration(enum.Enum):
    """How the spacing of a 2D image's pixels was established (the values of ``series info``'s ``calibration``)."""

    PATIENT = "patient"
    PIXEL_SPACING = "pixel_spacing"
    IMAGER_PIXEL_SPACING = "imager_pixel_spacing"
    MAGNIFICATION_CORRECTED = "magnification_corrected"
    ULTRASOUND_REGIONS = "ultrasound_regions"
    NONE = "none"


@dataclass(frozen=True)
class UltrasoundRegion:
    """A 2D region of an ultrasound image in cm: its pixel bounds (inclusive) and the mm per column and row."""

    columns: tuple[int, int]
    rows: tuple[int, int]
    spacing: tuple[float, float]  # mm between columns, between rows

    def contains(self, points: np.ndarray) -> bool:
        """Whether every point (column, row in SCOORD pixel coordinates) lies inside the region."""
        points = np.asarray(points, dtype=float)
        return bool(np.all((points[:, 0] >= self.columns[0]) & (points[:, 0] <= self.columns[1] + 1)
                           & (points[:, 1] >= self.rows[0]) & (points[:, 1] <= self.rows[1] + 1)))

    @property
    def area(self) -> int:
        return (self.columns[1] - self.columns[0] + 1) * (self.rows[1] - self.rows[0] + 1)


@dataclass(frozen=True)
class PixelCalibration:
    """The calibration of one image: its kind, spacing (mm between columns, between rows; None when
    uncalibrated) and, for ultrasound, the regions it holds in."""

    kind: Calibration
    spacing: tuple[float, float] | None
    regions: tuple[UltrasoundRegion, ...] = ()

    @property
    def is_calibrated(self) -> bool:
        return self.spacing is not None

    def spacing_at(self, points: np.ndarray) -> tuple[float, float] | None:
        """The spacing that holds for a mark with these pixel points: an ultrasound region's where the
        image has regions (None when the mark leaves every calibrated region), else the image's."""
        if self.kind is not Calibration.ULTRASOUND_REGIONS:
            return self.spacing
        return next((region.spacing for region in self.regions if region.contains(points)), None)


def calibration_of(ds: Dataset) -> PixelCalibration:
    """The calibration of the 2D image ``ds`` (a header), by the rules of this module's docstring."""
    regions = _ultrasound_regions(ds)
    if regions:
        largest = max(regions, key=lambda region: region.area)
        return PixelCalibration(Calibration.ULTRASOUND_REGIONS, largest.spacing, tuple(regions))
    pixel = _spacing(ds, "PixelSpacing")
    imager = _spacing(ds, "ImagerPixelSpacing")
    magnification = _positive(header_value(ds, "EstimatedRadiographicMagnificationFactor"))
    calibration_type = str(header_value(ds, "PixelSpacingCalibrationType", "") or "").strip()
    if pixel is not None and (calibration_type or imager is None):
        return PixelCalibration(Calibration.PIXEL_SPACING, pixel)
    if imager is None:
        return PixelCalibration(Calibration.NONE, None)
    corrected = (imager[0] / magnification, imager[1] / magnification) if magnification else None
    if pixel is not None and not _same(pixel, imager):
        if corrected is not None and _same(pixel, corrected):
            return PixelCalibration(Calibration.MAGNIFICATION_CORRECTED, pixel)
        return PixelCalibration(Calibration.PIXEL_SPACING, pixel)
    if corrected is not None and not _same(corrected, imager):
        return PixelCalibration(Calibration.MAGNIFICATION_CORRECTED, corrected)
    return PixelCalibration(Calibration.IMAGER_PIXEL_SPACING, imager)


def _spacing(ds: Dataset, keyword: str) -> tuple[float, float] | None:
    """A spacing attribute (row spacing, column spacing in DICOM) as (column mm, row mm); None when absent or bad."""
    value = header_value(ds, keyword)
    try:
        between_rows, between_columns = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not (between_rows > 0 and between_columns > 0 and np.isfinite([between_rows, between_columns]).all()):
        return None
    return between_columns, between_rows


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 and np.isfinite(number) else None


def _same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return bool(np.allclose(a, b, rtol=SPACING_TOLERANCE, atol=0))


def _ultrasound_regions(ds: Dataset) -> list[UltrasoundRegion]:
    """The 2D regions of the Sequence of Ultrasound Regions whose both axes are in centimetres."""
    regions = []
    for item in ds.get("SequenceOfUltrasoundRegions") or []:
        units = (item.get("PhysicalUnitsXDirection"), item.get("PhysicalUnitsYDirection"))
        if item.get("RegionSpatialFormat") != ULTRASOUND_2D or units != (ULTRASOUND_CENTIMETRES,) * 2:
            continue
        delta_x, delta_y = _positive(item.get("PhysicalDeltaX")), _positive(item.get("PhysicalDeltaY"))
        if delta_x is None or delta_y is None:
            continue
        bounds = [item.get(k) for k in ("RegionLocationMinX0", "RegionLocationMaxX1", "RegionLocationMinY0",
                                        "RegionLocationMaxY1")]
        if any(b is None for b in bounds):
            continue
        x0, x1, y0, y1 = (int(b) for b in bounds)
        regions.append(UltrasoundRegion((x0, x1), (y0, y1), (abs(delta_x) * 10.0, abs(delta_y) * 10.0)))
    return regions
