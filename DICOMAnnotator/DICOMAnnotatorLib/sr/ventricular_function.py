"""Ejection fraction of a ventricle from its end-diastolic and end-systolic structures, by the protocol's method.

EF = (EDV - ESV) / EDV x 100 %. The volumes come from the two segments the protocol's
``ejection_fraction`` names (:class:`..protocols.EjectionFractionRule`):

- ``area-length`` (single plane; DICOM's "Area-Length Single Plane", DCM 125205, CID 12227): each outline,
  drawn on one frame of a 2D loop, is taken as an ellipsoid of revolution, V = 8 A^2 / (3 pi L), with A the
  outline's area and L its length, here its longest chord (the apex to the mitral annulus in an apical view;
  the ASE/EACVI chamber quantification recommendations, Lang et al. 2015). On an uncalibrated image the
  volumes are in cubic pixels; the EF, a ratio, is the same.
- ``volumes``: the two segments' own volumes (3D echo, a cine MR stack per phase).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..protocols import EjectionFractionMethod, Protocol
from .measurements import SegmentMeasurements


@dataclass(frozen=True)
class EjectionFraction:
    """End-diastolic and end-systolic volumes (ml; cubic pixels where ``calibrated`` is False) and the EF.

    ``end_diastolic_slice`` and ``end_systolic_slice`` are the slices (frames of a loop, 0-based) the two outlines
    lie on (area-length), so that the report can say which images each volume was measured on; None for volumes.
    """

    method: EjectionFractionMethod
    end_diastolic_volume: float
    end_systolic_volume: float
    calibrated: bool = True
    end_diastolic_slice: int | None = None
    end_systolic_slice: int | None = None

    @property
    def percent(self) -> float:
        return 100.0 * (self.end_diastolic_volume - self.end_systolic_volume) / self.end_diastolic_volume

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method.value, "end_diastolic_volume": self.end_diastolic_volume,
                "end_systolic_volume": self.end_systolic_volume, "volume_unit": "ml" if self.calibrated else "px3",
                "ejection_fraction_percent": self.percent}


def area_length_volume(area: float, length: float) -> float:
    """The single-plane area-length volume 8 A^2 / (3 pi L), in the cube of the unit of ``length``."""
    return 8.0 * area ** 2 / (3.0 * math.pi * length)


def ejection_fraction(measurements: Sequence[SegmentMeasurements], protocol: Protocol) -> EjectionFraction:
    """The EF of the protocol's end-diastolic and end-systolic segments, from their measurements (segment number =
    structure label value)."""
    rule = protocol.ejection_fraction
    if rule is None:
        raise InputError(f"Protocol '{protocol.id}' names no ejection fraction (its \"ejection_fraction\" field)")
    ed = _one_measurement(measurements, protocol, rule.end_diastolic)
    es = _one_measurement(measurements, protocol, rule.end_systolic)
    if rule.method is EjectionFractionMethod.VOLUMES:
        if ed.volume_ml is None or es.volume_ml is None:
            raise InputError(f"The ejection fraction of protocol '{protocol.id}' is from volumes, but "
                             f"'{rule.end_diastolic}' and '{rule.end_systolic}' are outlines on a 2D image; the "
                             "area-length method measures those")
        volumes = ed.volume_ml, es.volume_ml
        calibrated = True
        slices = None, None
    else:
        if ed.area is None or es.area is None:
            raise InputError(f"The ejection fraction of protocol '{protocol.id}' is by area-length, which measures "
                             "outlines on one frame of a 2D loop; these segments are volumes")
        scale = 1e-3 if ed.calibrated else 1.0  # mm3 to ml
        volumes = tuple(area_length_volume(m.area, m.max_diameter_mm) * scale for m in (ed, es))
        calibrated = ed.calibrated
        slices = ed.slice_index, es.slice_index
    if not volumes[0] > 0:
        raise InputError(f"'{rule.end_diastolic}' has no volume; the ejection fraction divides by it")
    return EjectionFraction(rule.method, volumes[0], volumes[1], calibrated, *slices)


def _one_measurement(measurements: Sequence[SegmentMeasurements], protocol: Protocol,
                     label: str) -> SegmentMeasurements:
    """The measurement of the structure ``label``: one frame's outline, or one volume."""
    number = protocol.structure(label).label_value
    found = [m for m in measurements if m.number == number and m.voxel_count]
    if not found:
        raise InputError(f"'{label}' (segment {number}) is empty; outline it to measure the ejection fraction")
    if len(found) > 1:
        frames = ", ".join(str(m.slice_index + 1) for m in found if m.slice_index is not None)
        raise InputError(f"'{label}' (segment {number}) lies on frames {frames}; outline it on its one frame")
    return found[0]
