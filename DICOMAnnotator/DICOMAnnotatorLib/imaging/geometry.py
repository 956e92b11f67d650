"""The voxel grid of a volume: size, spacing and the voxel-to-patient (LPS) affine.

Conventions (the same as Slicer, ITK and the CLI's JSON): index ``(i, j, k)`` is
(column, row, slice); ``size`` and ``spacing`` are in that order; numpy arrays are indexed
``[k, j, i]`` (``array_shape``), as SimpleITK's ``GetArrayFromImage`` and highdicom do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GeometryMismatchError

#: Two grids are the same when every corner voxel centre lies within this distance (mm).
GRID_TOLERANCE_MM = 1e-3

#: Converts LPS (DICOM, ITK) to RAS (Slicer) and back: it is its own inverse.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True, eq=False)
class VolumeGeometry:
    """A regular 3D voxel grid in patient space."""

    size: tuple[int, int, int]
    affine: np.ndarray

    #: Whether the affine maps to patient coordinates (LPS mm); :class:`ImageGrid`'s does not.
    in_patient_space = True

    def __post_init__(self) -> None:
        size = tuple(int(n) for n in self.size)
        if len(size) != 3 or min(size) < 1:
            raise ValueError(f"A volume needs 3 positive dimensions, found size {self.size}")
        affine = np.array(self.affine, dtype=float)
        if affine.shape != (4, 4) or not np.allclose(affine[3], [0, 0, 0, 1]):
            raise ValueError(f"The affine must be a 4x4 homogeneous matrix, found {self.affine!r}")
        if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
            raise ValueError("The affine is singular: two voxel axes are parallel or a spacing is zero")
        affine.setflags(write=False)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "affine", affine)

    @classmethod
    def from_axes(
        cls,
        size: Sequence[int],
        origin: Sequence[float],
        spacing: Sequence[float],
        directions: Sequence[Sequence[float]],
    ) -> VolumeGeometry:
        """From origin (LPS mm), spacing (i, j, k) and the three unit axis directions i, j, k."""
        affine = np.eye(4)
        for axis in range(3):
            affine[:3, axis] = np.asarray(directions[axis], dtype=float) * float(spacing[axis])
        affine[:3, 3] = origin
        return cls(tuple(size), affine)

    @property
    def array_shape(self) -> tuple[int, int, int]:
        """The numpy shape ``(slices, rows, columns)`` of a voxel array on this grid."""
        return self.size[2], self.size[1], self.size[0]

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    @property
    def origin(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in self.affine[:3, 3])

    @property
    def directions(self) -> np.ndarray:
        """3x3 matrix whose columns are the unit directions of the i, j and k axes (LPS)."""
        return self.affine[:3, :3] / np.asarray(self.spacing)

    @property
    def voxel_volume_mm3(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    @property
    def ras_affine(self) -> np.ndarray:
        """The IJK-to-RAS matrix Slicer volume nodes use."""
        return LPS_TO_RAS @ self.affine

    def index_to_lps(self, indices: np.ndarray) -> np.ndarray:
        """Patient coordinates (N x 3) of voxel indices (N x 3, in i, j, k order)."""
        indices = np.atleast_2d(np.asarray(indices, dtype=float))
        return indices @ self.affine[:3, :3].T + self.affine[:3, 3]

    def corner_points(self) -> np.ndarray:
        """The 8 corner voxel centres in LPS mm."""
        i, j, k = (n - 1 for n in self.size)
        corners = np.array([[a, b, c] for a in (0, i) for b in (0, j) for c in (0, k)], dtype=float)
        return self.index_to_lps(corners)

    def max_distance_to(self, other: VolumeGeometry) -> float:
        """Largest distance (mm) between matching corner voxel centres; inf when sizes differ."""
        if self.size != other.size:
            return float("inf")
        return float(np.max(np.linalg.norm(self.corner_points() - other.corner_points(), axis=1)))

    def same_grid(self, other: VolumeGeometry, tolerance_mm: float = GRID_TOLERANCE_MM) -> bool:
        return self.max_distance_to(other) <= tolerance_mm

    def require_same_grid(self, other: VolumeGeometry, what: str, tolerance_mm: float = GRID_TOLERANCE_MM) -> None:
        """Raise a GeometryMismatchError naming ``what`` and the difference found."""
        if self.size != other.size:
            raise GeometryMismatchError(
                f"{what} has size {list(other.size)} but the series has size {list(self.size)} "
                "(columns, rows, slices); resample it onto the series before using it"
            )
        distance = self.max_distance_to(other)
        if distance > tolerance_mm:
            raise GeometryMismatchError(
                f"{what} does not lie on the series geometry: corners differ by up to {distance:.4g} mm "
                f"(tolerance {tolerance_mm} mm); check origin, spacing and direction, or resample it"
            )

    def to_json(self) -> dict[str, Any]:
        """The CLI's geometry fields: ``size``, ``spacing`` and the row-major LPS ``affine``."""
        return {
            "size": list(self.size),
            "spacing": [round(v, 6) for v in self.spacing],
            "affine": [[round(float(v), 6) for v in row] for row in self.affine],
        }

    # SimpleITK images carry the same grid as origin + spacing + direction.
    @classmethod
    def from_sitk(cls, image: Any) -> VolumeGeometry:
        if image.GetDimension() != 3:
            raise ValueError(f"Expected a 3D image, found {image.GetDimension()}D")
        directions = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
        return cls.from_axes(image.GetSize(), image.GetOrigin(), image.GetSpacing(), directions.T)

    def apply_to_sitk(self, image: Any) -> Any:
        """Set this grid's origin, spacing and direction on a SimpleITK image of the same size."""
        if tuple(image.GetSize()) != self.size:
            raise ValueError(f"Image size {image.GetSize()} differs from the grid size {self.size}")
        image.SetOrigin(self.origin)
        image.SetSpacing(self.spacing)
        image.SetDirection(tuple(float(v) for v in self.directions.flatten()))
        return image


@dataclass(frozen=True, eq=False)
class ImageGrid(VolumeGeometry):
    """The pixel grid of a 2D image, or of the frames of a cine loop (k counts frames): not a place in the patient.

    Its affine maps (column, row, frame) to millimetres in the image plane as the image's calibration
    states them (:mod:`.calibration`), or to pixels when it states none (``calibrated`` False); frames are
    1 apart. Two such grids are the same when their sizes are: the pixels are the grid, and a 2D
    label-map file (a PNG, a NIfTI slice) carries no position of its own to compare.
    """

    calibrated: bool = True
    in_patient_space = False

    @classmethod
    def of_pixels(cls, columns: int, rows: int, frames: int, spacing: tuple[float, float] | None) -> ImageGrid:
        """The grid of ``frames`` frames of ``columns`` x ``rows`` pixels, ``spacing`` (column mm, row mm) apart."""
        column_mm, row_mm = spacing if spacing is not None else (1.0, 1.0)
        return cls((columns, rows, frames), np.diag([column_mm, row_mm, 1.0, 1.0]), spacing is not None)

    def max_distance_to(self, other: VolumeGeometry) -> float:
        return 0.0 if self.size == other.size else float("inf")

    def require_same_grid(self, other: VolumeGeometry, what: str, tolerance_mm: float = GRID_TOLERANCE_MM) -> None:
        if self.size != other.size:
            frames = f" x {self.size[2]} frames" if self.size[2] > 1 else ""
            raise GeometryMismatchError(
                f"{what} has size {list(other.size[:2]) if other.size[2] == 1 else list(other.size)} but the image "
                f"has {self.size[0]} columns x {self.size[1]} rows{frames}; give a label map of the image's size "
                "(2D for one image, 3D with slice k = frame k+1 for a cine)"
            )

    def to_json(self) -> dict[str, Any]:
        """``size`` and ``spacing`` (column mm, row mm; null when uncalibrated), without an affine: no patient space."""
        return {"size": list(self.size),
                "spacing": [round(v, 6) for v in self.spacing[:2]] if self.calibrated else None}
