"""Ejection fraction by the method the protocol names, on worked examples.

Area-length, single plane: V = 8 A^2 / (3 pi L). An outline of 2000 mm2 and 80 mm long:
8 x 2000^2 / (3 x pi x 80) = 32e6 / 753.982 = 42441.3 mm3 = 42.4413 ml.

On pydicom's YBR ultrasound cine (square pixels of side s), with the shipped echocardiography protocol: the
end-diastolic outline a 40 x 60 pixel rectangle on frame 4, the end-systolic one 30 x 40 on frame 11. Their
lengths are the longest chords between pixel centres, s x sqrt(39^2 + 59^2) = 70.724819 s and
s x sqrt(29^2 + 39^2) = 48.600412 s, so the volumes are 8 / (3 pi) s^3 times
2400^2 / 70.724819 = 81442.41 and 1200^2 / 48.600412 = 29629.38, and
EF = (81442.41 - 29629.38) / 81442.41 = 63.6192 %, whatever s is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
from conftest import assert_one_line_error, dciodvfy_errors, run
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.imaging.images import open_grid
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.protocols import EjectionFractionMethod, Protocol, load_protocol
from DICOMAnnotatorLib.seg import write_seg
from DICOMAnnotatorLib.sr import area_length_volume, ejection_fraction, measure_on_series
from DICOMAnnotatorLib.sr.measurements import SegmentMeasurements
from pydicom.data import get_testdata_file

ECHO = load_protocol("lv-function-echo-us")


def test_area_length_volume_equals_the_worked_example():
    assert area_length_volume(2000.0, 80.0) / 1000 == pytest.approx(42.4413, rel=1e-5)


def outlines(frames_of_ed=(3,)) -> list:
    image = open_grid([get_testdata_file("examples_ybr_color.dcm")])
    labels = np.zeros(image.geometry.array_shape, dtype=np.uint8)
    for frame in frames_of_ed:
        labels[frame, 50:90, 100:160] = 1
    labels[10, 60:90, 110:150] = 2
    segmentation = Segmentation.from_labelmap(image.geometry, labels, ECHO.segment_descriptions(), reference=image)
    return measure_on_series(segmentation, image), image.geometry


def test_ejection_fraction_of_two_outlines_on_a_cine_equals_the_worked_example():
    measured, geometry = outlines()
    result = ejection_fraction(measured, ECHO)
    assert result.method is EjectionFractionMethod.AREA_LENGTH
    assert result.percent == pytest.approx(63.6192, rel=1e-5)
    side = geometry.spacing[0]
    assert geometry.spacing[1] == pytest.approx(side)
    cube = side ** 3 / 1000 if result.calibrated else 1.0  # mm3 to ml, or cubic pixels
    assert result.end_diastolic_volume == pytest.approx(8 / (3 * math.pi) * 81442.41 * cube, rel=1e-6)
    assert result.to_json()["ejection_fraction_percent"] == pytest.approx(63.6192, rel=1e-5)


def test_an_outline_on_two_frames_or_the_wrong_method_is_refused_by_name():
    measured, _ = outlines(frames_of_ed=(3, 5))
    with pytest.raises(InputError, match="'LV endocardium ED' \\(segment 1\\) lies on frames 4, 6"):
        ejection_fraction(measured, ECHO)
    data = ECHO.to_dict()
    data["ejection_fraction"]["method"] = "volumes"
    measured, _ = outlines()
    with pytest.raises(InputError, match="from volumes.*outlines on a 2D image"):
        ejection_fraction(measured, Protocol.from_dict(data))
    with pytest.raises(InputError, match="names no ejection fraction"):
        ejection_fraction(measured, load_protocol("liver-lesions-ct"))


def test_ejection_fraction_from_volumes():
    """EDV 120 ml, ESV 50 ml: (120 - 50) / 120 = 58.3333 %."""
    data = ECHO.to_dict()
    data["ejection_fraction"]["method"] = "volumes"
    measured = [SegmentMeasurements(1, 100, 120.0, None, None), SegmentMeasurements(2, 50, 50.0, None, None)]
    result = ejection_fraction(measured, Protocol.from_dict(data))
    assert (result.end_diastolic_volume, result.end_systolic_volume) == (120.0, 50.0)
    assert result.percent == pytest.approx(58.3333, rel=1e-5)


def _echo_case(folder: Path, end_systolic_frames=(10,)) -> tuple[Path, Path]:
    """pydicom's YBR cine and a SEG of the echocardiography protocol's two outlines (as the worked example)."""
    image = open_grid([get_testdata_file("examples_ybr_color.dcm")])
    labels = np.zeros(image.geometry.array_shape, dtype=np.uint8)
    labels[3, 50:90, 100:160] = 1
    for frame in end_systolic_frames:
        labels[frame, 60:90, 110:150] = 2
    segmentation = Segmentation.from_labelmap(image.geometry, labels, ECHO.segment_descriptions(), reference=image,
                                              author="Reader^Anna")
    write_seg(segmentation, folder / "seg.dcm")
    return Path(get_testdata_file("examples_ybr_color.dcm")), folder / "seg.dcm"


def test_sr_export_with_the_echo_protocol_reports_edv_esv_and_ef(tmp_path):
    """The worked example's EF in the report: LOINC codes of PS3.16 CID 12200, %, the method, the frames."""
    cine, seg = _echo_case(tmp_path)
    output = tmp_path / "sr.dcm"
    exported = run("sr", "export", str(seg), "--series", str(cine), "-o", str(output), "--protocol", ECHO.id)
    assert exported.returncode == 0, exported.stderr
    assert "Left Ventricular Ejection Fraction by US (Area-Length Single Plane)" in exported.stdout
    assert "63.6192 %" in exported.stdout
    assert dciodvfy_errors(output) == []
    info = run("sr", "info", str(output), "--json")
    function = [m for m in json.loads(info.stdout)["measurements"] if m["tracking_id"] == "Left ventricular function"]
    volume_unit = "ml" if open_grid([cine]).geometry.calibrated else "{pixel^3}"
    area_length = ["125205", "DCM", "Area-Length Single Plane"]
    assert [(m["name"], m["unit"][0], m["method"]) for m in function] == [
        (["18026-5", "LN", "Left Ventricular End Diastolic Volume"], volume_unit, area_length),
        (["18148-7", "LN", "Left Ventricular End Systolic Volume"], volume_unit, area_length),
        (["18043-0", "LN", "Left Ventricular Ejection Fraction by US"], "%", area_length)]
    assert function[2]["value"] == pytest.approx(63.6192, rel=1e-5)
    assert function[0]["value"] / function[1]["value"] == pytest.approx(81442.41 / 29629.38, rel=1e-6)
    # each volume names the frame its outline is on
    report = hd.sr.srread(output).content
    group = next(g for g in report.get_image_measurement_groups()
                 if g.tracking_identifier == "Left ventricular function")
    assert [[image.referenced_frame_numbers for image in m.referenced_images] for m in group.get_measurements()] == [
        [[4]], [[11]], [[4, 11]]]


def test_sr_export_refuses_an_outline_on_two_frames_by_name(tmp_path):
    cine, seg = _echo_case(tmp_path, end_systolic_frames=(10, 12))
    output = tmp_path / "sr.dcm"
    refused = run("sr", "export", str(seg), "--series", str(cine), "-o", str(output), "--protocol", ECHO.id)
    assert_one_line_error(refused, "'LV endocardium ES' (segment 2) lies on frames 11, 13")
    assert not output.exists()
    # without the protocol there is no EF to measure, and the report is written
    assert run("sr", "export", str(seg), "--series", str(cine), "-o", str(output)).returncode == 0
