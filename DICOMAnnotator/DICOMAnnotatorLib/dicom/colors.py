"""Segment display colours: RGB to and from DICOM's scaled CIELab values (Recommended Display CIELab Value).

Written here rather than taken from highdicom so that reading or writing a SEG does not import
highdicom (a quarter of a second). The conversion is the textbook one (sRGB with its gamma to
XYZ under the D65 white point, then CIE 1976 L*a*b*, and back); DICOM scales L* 0..100 and a*, b*
-128..127 to 0..65535 (PS3.3 C.10.7.1.1). A test checks both directions against highdicom's.
"""

from __future__ import annotations

from collections.abc import Sequence

_WHITE_D65 = (0.95047, 1.0, 1.08883)
_XYZ_TO_LINEAR_RGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))
_LINEAR_RGB_TO_XYZ = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
#: CIE's (6/29)^3: below it, f(t) is the linear part of the L*a*b* curve.
_EPSILON = 216 / 24389


def rgb_to_dicom_lab(rgb: Sequence[int]) -> tuple[int, int, int]:
    """The DICOM CIELab triplet (each 0..65535) of an RGB colour (each 0..255)."""
    linear = [_inverse_gamma(c / 255.0) for c in rgb]
    xyz = [sum(m * c for m, c in zip(row, linear, strict=True)) for row in _LINEAR_RGB_TO_XYZ]
    fx, fy, fz = (_f(c / white) for c, white in zip(xyz, _WHITE_D65, strict=True))
    l_star, a_star, b_star = 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)
    return (round(l_star * 0xFFFF / 100.0), round((a_star + 128.0) * 0xFFFF / 255.0),
            round((b_star + 128.0) * 0xFFFF / 255.0))


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


def _f(t: float) -> float:
    return t ** (1 / 3) if t >= _EPSILON else t * 841 / 108 + 4 / 29


def _inverse_gamma(c: float) -> float:
    return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92
