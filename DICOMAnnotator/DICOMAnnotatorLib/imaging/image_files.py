"""Label-map and mask files (NIfTI, NRRD, MHA...) read and written through SimpleITK.

A label-map file must lie on the series geometry (within 1e-3 mm); anything else is
refused with the mismatch named, never silently resampled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError
from .geometry import ImageGrid, VolumeGeometry


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, VolumeGeometry]:
    """The voxels (``[k, j, i]``) and the grid of an image file SimpleITK can read."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a label-map file (.nii.gz, .nrrd, .mha)")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"{path} could not be read as an image ({str(exc).strip().splitlines()[-1]})") from exc
    if image.GetDimension() not in (2, 3) or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{path} is a {image.GetDimension()}D image with {image.GetNumberOfComponentsPerPixel()} "
            "component(s); a label map must be a single-component image, 3D (2D on a 2D image)"
        )
    if image.GetDimension() == 2:  # a label map of a 2D image: one slice
        columns, rows = image.GetSize()
        return sitk.GetArrayFromImage(image)[np.newaxis], ImageGrid.of_pixels(columns, rows, 1, image.GetSpacing())
    return sitk.GetArrayFromImage(image), VolumeGeometry.from_sitk(image)


def read_on_grid(path: str | os.PathLike[str], geometry: VolumeGeometry) -> np.ndarray:
    """The voxels of an image file that must lie on ``geometry`` (the series grid)."""
    voxels, file_geometry = read_image(path)
    geometry.require_same_grid(file_geometry, str(path))
    return voxels


def write_image(voxels: np.ndarray, geometry: VolumeGeometry, path: str | os.PathLike[str], *,
                force: bool = False, channels: bool = False) -> Path:
    """Write voxels on ``geometry``; the file type follows the extension; compressed where possible.

    ``voxels`` is ``[k, j, i]``, or ``[k, j, i, c]`` for a colour series (each voxel's samples become
    the components of a vector image: a NIfTI vector intent, which ITK, Slicer and nibabel read).
    On a single 2D image (an :class:`ImageGrid` of one frame) the file is 2D, columns x rows.
    With ``channels``, ``voxels`` is ``[channel, k, j, i]``: several images on the grid (e.g. a model's
    probability per label), written as one 4D image with the channel along the fourth axis.
    """
    import SimpleITK as sitk

    # [k, j, i, c] is a colour (vector) image, written with its samples as the components of each voxel
    vector = not channels and voxels.ndim == len(geometry.array_shape) + 1
    if channels:
        image = sitk.JoinSeries([geometry.apply_to_sitk(sitk.GetImageFromArray(np.ascontiguousarray(channel)))
                                 for channel in voxels])
    elif isinstance(geometry, ImageGrid) and geometry.size[2] == 1:
        image = sitk.GetImageFromArray(np.ascontiguousarray(voxels[0]), isVector=vector)
        image.SetSpacing(geometry.spacing[:2])
    else:
        image = geometry.apply_to_sitk(sitk.GetImageFromArray(np.ascontiguousarray(voxels), isVector=vector))
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    with atomic_path(path, force=force) as temporary:
        # SimpleITK picks the writer from the extension, so the temporary name keeps it.
        named = temporary.with_name(temporary.name + suffix)
        try:
            sitk.WriteImage(image, str(named), useCompression=True)
            named.replace(temporary)
        finally:
            named.unlink(missing_ok=True)
    return path
