"""Segment display colours: DICOM's scaled CIELab values (Recommended Display CIELab Value) to RGB.

Written here rather than taken from highdicom so that reading a SEG does not import highdicom
(a quarter of a second). The conversion is the textbook one (CIE 1976 L*a*b* to XYZ under the
D65 white point, then to sRGB with its gamma); DICOM scales L* 0..100 and a*, b* -128..127 to
0..65535 (PS3.3 C.10.7.1.1). A test checks it against highdicom's.
"""

from __future__ import annotations

from collections.abc import Sequence

_WHITE_D65 = (0.95047, 1.0, 1.08883)
_XYZ_TO_LINEAR_RGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


def dicom_lab_to_rgb(value: Sequence[int]) -> tuple[int, int, int]:
    """RGB (0..255, clipped to the sRGB gamut) of a DICOM CIELab triplet."""
    l_star = value[0] * 100.0 / 0xFFFF
    a_star = value[1] * 255.0 / 0xFFFF - 128.0
    b_star = value[2] * 255.0 / 0xFFFF - 128.0
    fy = (l_star + 16) / 116
    xyz = [white * _inverse_f(f) for white, f in zip(_WHITE_D65, (fy + a_star / 500, fy, fy - b_star / 200),
                                                       strict=True)]
    linear = [sum(m * c for m, c in zip(row, xyz, strict=True)) for row in _XYZ_TO_LINEAR_RGB]
    return tuple(min(255, max(0, round(255 * _gamma(c)))) for c in linear)


def _inverse_f(f: float) -> float:
    cube = f ** 3
    return cube if cube > 0.008856 else (f - 16.0 / 116) / 7.787


def _gamma(c: float) -> float:
    return 1.055 * c ** (1 / 2.4) - 0.055 if c > 0.0031308 else 12.92 * c
