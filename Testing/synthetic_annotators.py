"""Synthetic annotators of known quality around a known truth, for consensus and agreement tests."""

from __future__ import annotations

import numpy as np
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
from scipy import ndimage

GRID = VolumeGeometry.from_axes((48, 40, 32), (0, 0, 0), (0.8, 0.9, 2.0), np.eye(3))
ANATOMY = Code("123037004", "SCT", "Anatomical Structure")
LIVER = SegmentDescription(1, "Liver", ANATOMY, Code("10200004", "SCT", "Liver"))
LESION = SegmentDescription(2, "Lesion", Code("49755003", "SCT", "Morphologically Altered Structure"),
                            Code("52988006", "SCT", "Lesion"))


def ellipsoid(centre, radii):
    k, j, i = np.indices(GRID.array_shape)
    squares = sum(((axis - c) / r) ** 2 for axis, c, r in zip((k, j, i), centre, radii, strict=True))
    return squares <= 1


TRUTH = ellipsoid((16, 20, 24), (9, 12, 15))


def annotator(flip_probability, seed, descriptions=(LIVER,), extra=None):
    """The truth with boundary-shell voxels flipped at random: lower probability = better annotator."""
    rng = np.random.default_rng(seed)
    shell = ndimage.binary_dilation(TRUTH, iterations=2) & ~ndimage.binary_erosion(TRUTH, iterations=2)
    mask = TRUTH ^ (shell & (rng.random(GRID.array_shape) < flip_probability))
    masks = {descriptions[0].number: mask}
    if extra is not None:
        masks[descriptions[1].number] = extra
    return Segmentation(GRID, list(descriptions), masks)
