"""SUVbw, SUVlbm and SUVbsa of PET series: hand-worked examples, a second computation, clean refusals.

No PET series with its Radiopharmaceutical Information Sequence is in the third-party test data (the
one PT image there, TCIA's pseudo-PHI RGB capture in presidio's test data, has neither Units nor
radiopharmaceutical, and is used as such a case); the PET series are generated
(``imaging.phantoms.pet_datasets``), with the injection, times and weight each example needs.

The worked example, fluorine-18 (half life 6586.2 s), 370 MBq injected at 10:00:00, 70 kg, a voxel of
5000 Bq/ml:
- START, scan from 11:00:00: 3600 s elapsed = 3600 / 6586.2 = 0.546597 half lives;
  2^-0.546597 = 0.684633, so 370 MBq x 0.684633 = 253.314 MBq remain;
  SUV = 5000 x 70000 g / 253.314e6 Bq = 1.38168 (factor 2.76337e-4 g/ml per Bq/ml).
- ADMIN: SUV = 5000 x 70000 / 370e6 = 0.945946 (factor 1.891892e-4).
- NONE, slices acquired at 11:00, 11:01, 11:02, 11:03: each its own decay; at 11:02:00,
  3720 / 6586.2 = 0.564817 half lives, 2^-0.564817 = 0.676041, 250.135 MBq, SUV 1.39924.

With Patient's Size 1.75 m (START, 253.314 MBq at the scan start as above):
- SUVlbm (Janmahasatian): BMI = 70 / 1.75^2 = 22.857143 kg/m2; a man: 9270 x 70 / (6680 + 216 x 22.857143)
  = 648900 / 11617.143 = 55.8571 kg, SUV = 5000 x 55857.1 g / 253.314e6 Bq = 1.10253; a woman:
  648900 / (8780 + 244 x 22.857143) = 648900 / 14357.143 = 45.1970 kg, SUV 0.892114.
- SUVbsa (Du Bois): 0.007184 x 70^0.425 x 175^0.725 = 0.007184 x 6.083684 x 42.286582 = 1.848143 m2
  = 18481.43 cm2, SUV = 5000 x 18481.43 / 253.314e6 = 0.364793 cm2/ml.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import assert_one_line_error, dciodvfy_errors, run, third_party_file
from DICOMAnnotatorLib.imaging import (
    PetAcquisition,
    ReferenceSeries,
    pet_datasets,
    phantom_geometry,
    series_suv_scale,
    write_datasets,
)

INJECTION = datetime(2026, 1, 5, 10, 0, 0)
SCAN_START = datetime(2026, 1, 5, 11, 0, 0)
ACTIVITY = 5000.0  # Bq/ml in every voxel
MINUTES = (0.0, 60.0, 120.0, 180.0)  # acquisition of each slice after the scan start

#: The worked example's SUV of the 5000 Bq/ml voxel, per decay correction (per slice for NONE).
HAND_SUV = {
    "START": [1.38168] * 4,
    "ADMIN": [0.945946] * 4,
    "NONE": [1.38168, 1.39044, 1.39924, 1.40811],
}


def write_pet(folder: Path, decay_correction: str = "START", change=None, activity: float = ACTIVITY,
              enhanced: bool = False, **acquisition) -> Path:
    """A 4-slice PET of ``activity`` in every voxel (in the acquisition's Units: Bq/ml, or counts for CNTS); with
    ``enhanced`` one Enhanced PET instance of 4 frames."""
    geometry = phantom_geometry(size=(8, 6, 4))
    acquisition = PetAcquisition(**{"injection": INJECTION, "scan_start": SCAN_START, "frame_seconds": MINUTES,
                                    "decay_correction": decay_correction, **acquisition})
    datasets = pet_datasets(geometry, np.full(geometry.array_shape, activity), acquisition, enhanced=enhanced)
    for ds in datasets:
        if change:
            change(ds)
    write_datasets(datasets, folder)
    return folder


def seconds_of_day(text: str) -> float:
    """A DICOM TM (HHMMSS.FFFFFF) as seconds, read by hand rather than by pydicom's or the core's parser."""
    return int(text[0:2]) * 3600 + int(text[2:4]) * 60 + float(text[4:])


def independent_suv(path: Path) -> np.ndarray:
    """SUVbw of one file from its own header by the exponential decay law (e^(-ln 2 t / T)), with the
    activity from pydicom's pixels and Rescale Slope: a computation sharing nothing with the core's."""
    ds = pydicom.dcmread(path)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    injection = seconds_of_day(item.RadiopharmaceuticalStartTime)
    reference = {"START": ds.SeriesTime, "ADMIN": item.RadiopharmaceuticalStartTime,
                 "NONE": ds.AcquisitionTime}[ds.DecayCorrection]
    elapsed = seconds_of_day(reference) - injection
    remaining = float(item.RadionuclideTotalDose) * math.exp(-math.log(2) * elapsed / float(item.RadionuclideHalfLife))
    activity = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return activity * float(ds.PatientWeight) * 1000 / remaining


@pytest.mark.parametrize("decay_correction", ["START", "ADMIN", "NONE"])
def test_suv_equals_the_worked_example_and_an_independent_computation(tmp_path, decay_correction):
    folder = write_pet(tmp_path / "pet", decay_correction)
    series = ReferenceSeries.from_paths(folder)
    scale = series_suv_scale(series)
    activity = series.read_voxels()
    suv = [float(activity[k].mean()) * scale.factors[k] for k in range(4)]
    assert suv == pytest.approx(HAND_SUV[decay_correction], rel=1e-5)
    for k, source in enumerate(series.slices):
        assert np.allclose(activity[k] * scale.factors[k], independent_suv(source.path), rtol=1e-6)  # float32 voxels
    assert scale.decay_corrected_to == {"START": SCAN_START, "ADMIN": INJECTION, "NONE": None}[decay_correction]


def test_pet_suv_command_prints_the_contract_object(tmp_path):
    folder = write_pet(tmp_path / "pet", "NONE")
    assert dciodvfy_errors(folder / "0001.dcm") == []
    result = run("pet", "suv", folder, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["suv_type"] == "bw" and payload["units"] == "g/ml" and payload["factor"] is None
    assert payload["decay_correction"] == "NONE" and payload["decay_corrected_to"] is None
    assert payload["injected_dose_bq"] == 370e6 and payload["patient_weight_kg"] == 70
    assert payload["injection_time"] == "2026-01-05T10:00:00"
    assert [ACTIVITY * f for f in payload["factors"]] == pytest.approx(HAND_SUV["NONE"], rel=1e-5)

    result = run("pet", "suv", write_pet(tmp_path / "start", "START"), "--json")
    payload = json.loads(result.stdout)
    assert ACTIVITY * payload["factor"] == pytest.approx(HAND_SUV["START"][0], rel=1e-5)
    assert payload["decay_corrected_to"] == "2026-01-05T11:00:00" and "factors" not in payload


def test_series_time_after_the_acquisition_uses_the_earliest_acquisition(tmp_path):
    """A series re-made after the scan keeps Acquisition Times, not its Series Time (QIBA)."""
    def later_series_time(ds):
        ds.SeriesTime = "130000"

    scale = series_suv_scale(ReferenceSeries.from_paths(write_pet(tmp_path / "pet", change=later_series_time)))
    assert scale.decay_corrected_to == SCAN_START
    assert ACTIVITY * scale.factor == pytest.approx(HAND_SUV["START"][0], rel=1e-5)


def test_start_time_on_the_series_date_when_no_start_date_time(tmp_path):
    def time_only(ds):
        del ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime

    scale = series_suv_scale(ReferenceSeries.from_paths(write_pet(tmp_path / "pet", change=time_only)))
    assert scale.injection_time == INJECTION
    assert ACTIVITY * scale.factor == pytest.approx(HAND_SUV["START"][0], rel=1e-5)


def _no_injection_time(ds):
    item = ds.RadiopharmaceuticalInformationSequence[0]
    del item.RadiopharmaceuticalStartDateTime, item.RadiopharmaceuticalStartTime


def _no_decay_correction(ds):
    del ds.DecayCorrection


def _no_acquisition_times(ds):
    del ds.AcquisitionTime


def _contradicting_decay(ds):
    ds.CorrectedImage = ["ATTN"]


def _size(metres, sex="M"):
    def change(ds):
        ds.PatientSize, ds.PatientSex = metres, sex
    return change


@pytest.mark.parametrize(("suv_type", "sex", "suv", "body", "body_per_gram_of_weight"), [
    ("lbm", "M", 1.10253, {"lean_body_mass_kg": 55.8571}, 55857.1 / 70000),
    ("lbm", "F", 0.892114, {"lean_body_mass_kg": 45.1970}, 45197.0 / 70000),
    ("bsa", "O", 0.364793, {"body_surface_area_m2": 1.848143}, 18481.43 / 70000),
])
def test_suvlbm_and_suvbsa_equal_the_worked_examples(tmp_path, suv_type, sex, suv, body, body_per_gram_of_weight):
    folder = write_pet(tmp_path / "pet", change=_size("1.75", sex))
    result = run("pet", "suv", folder, "--type", suv_type, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert ACTIVITY * payload["factor"] == pytest.approx(suv, rel=1e-5)
    assert payload["suv_type"] == suv_type and payload["units"] == {"lbm": "g/ml", "bsa": "cm2/ml"}[suv_type]
    assert payload["patient_size_m"] == 1.75 and payload.get("patient_sex") == (sex if suv_type == "lbm" else None)
    assert {key: payload[key] for key in body} == pytest.approx(body, rel=1e-5)
    # a second computation: the independent SUVbw of the file, scaled by the body quantity over the weight
    independent = independent_suv(folder / "0001.dcm") * body_per_gram_of_weight
    assert np.allclose(independent, suv, rtol=1e-5)


@pytest.mark.parametrize(("suv_type", "change", "fragments"), [
    ("lbm", None, ["no Patient's Size (0010,1020)", "SUVlbm"]),
    ("bsa", None, ["no Patient's Size (0010,1020)", "SUVbsa"]),
    ("lbm", _size("1.75", "O"), ["Patient's Sex (0010,0040) O", "M or F"]),
    ("lbm", _size("1.75", ""), ["Patient's Sex (0010,0040) missing"]),
    ("bsa", _size("175"), ["Patient's Size 175", "metres"]),
])
def test_suvlbm_and_suvbsa_without_size_or_sex_are_refused_by_name(tmp_path, suv_type, change, fragments):
    folder = write_pet(tmp_path / "pet", change=change)
    assert_one_line_error(run("pet", "suv", folder, "--type", suv_type), "series", *fragments)


@pytest.mark.parametrize(("settings", "change", "fragments"), [
    ({"units": "CNTS"}, None, ["Units CNTS", "BQML", "(7053,1009)", "(7053,1000)"]),
    ({"units": "GML"}, None, ["Units GML", "BQML"]),
    ({}, _no_injection_time, ["no injection time", "Radiopharmaceutical Start DateTime"]),
    ({"dose_bq": 0.0}, None, ["Radionuclide Total Dose", "zero"]),
    ({"weight_kg": None}, None, ["no Patient's Weight"]),
    ({}, _no_decay_correction, ["Decay Correction (0054,1102) missing"]),
    ({}, _contradicting_decay, ["lacks DECY", "Decay Correction is START"]),
    ({"decay_correction": "NONE"}, _no_acquisition_times, ["NONE", "Acquisition Date and Time"]),
    ({"injection": datetime(2026, 1, 5, 12, 0, 0)}, None, ["injection", "is after the scan"]),
])
def test_pet_without_what_suv_needs_is_refused_by_name(tmp_path, settings, change, fragments):
    folder = write_pet(tmp_path / "pet", settings.pop("decay_correction", "START"), change, **settings)
    assert_one_line_error(run("pet", "suv", folder), "series", *fragments)


@pytest.mark.shared_data
def test_a_real_pet_capture_without_units_or_radiopharmaceutical_is_refused():
    """TCIA Pseudo-PHI-DICOM-Data (Rutherford et al. 2021, doi:10.7937/s17z-r072, CC BY 4.0), from
    presidio's test data (MIT): a PT secondary capture in RGB without Units or radiopharmaceutical."""
    path = third_party_file("presidio/presidio-image-redactor/tests/test_data/RGB_ORIGINAL.dcm")
    assert_one_line_error(run("pet", "suv", path), "Units missing", "BQML")


#: Philips' calibration in the examples: counts x 2.5 = Bq/ml, so 2000 counts are the worked example's 5000 Bq/ml.
BQML_PER_COUNT = 2.5
COUNTS = ACTIVITY / BQML_PER_COUNT


def philips(activity_concentration: float | None = None, suv: float | None = None, only_first: bool = False):
    """Philips' PET private group with its Activity Concentration (7053,1009) and SUV (7053,1000) Scale Factors."""
    def change(ds):
        if only_first and ds.InstanceNumber != 1:
            return
        block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
        if suv is not None:
            block.add_new(0x00, "DS", f"{suv:.10g}")
        if activity_concentration is not None:
            block.add_new(0x09, "DS", f"{activity_concentration:.10g}")
    return change


@pytest.mark.parametrize("decay_correction", ["START", "ADMIN", "NONE"])
def test_philips_counts_are_converted_to_bq_per_ml_then_decay_corrected(tmp_path, decay_correction):
    """2000 counts x 2.5 (7053,1009) = 5000 Bq/ml: the worked example's SUVs in every decay correction mode, and
    the independent computation's on the Bq/ml of pydicom's pixels times the factor read by hand."""
    folder = write_pet(tmp_path / "pet", decay_correction, philips(BQML_PER_COUNT, suv=1e-3), activity=COUNTS,
                       units="CNTS")
    assert dciodvfy_errors(folder / "0001.dcm") == []
    series = ReferenceSeries.from_paths(folder)
    scale = series_suv_scale(series)
    counts = series.read_voxels()
    assert [float(counts[k].mean()) * scale.factors[k] for k in range(4)] == pytest.approx(
        HAND_SUV[decay_correction], rel=1e-5)
    for k, source in enumerate(series.slices):
        by_hand = float(pydicom.dcmread(source.path)[0x7053, 0x1009].value)
        assert np.allclose(counts[k] * scale.factors[k], independent_suv(source.path) * by_hand, rtol=1e-6)
    payload = json.loads(run("pet", "suv", folder, "--json").stdout)
    assert (payload["source_units"], payload["counts_conversion"], payload["counts_scale"]) == (
        "CNTS", "activity_concentration", BQML_PER_COUNT)
    assert payload["decay_correction"] == decay_correction


def test_philips_counts_with_only_the_suv_scale_factor_are_the_scanners_suvbw(tmp_path):
    """(7053,1000) alone: counts x factor is the scanner's SUVbw; SUVlbm is it times the lean body mass over the
    weight (55.8571 / 70 for the worked example's man)."""
    per_count = HAND_SUV["START"][0] / COUNTS
    folder = write_pet(tmp_path / "pet", "START", lambda ds: (philips(suv=per_count)(ds), _size("1.75")(ds)),
                       activity=COUNTS, units="CNTS")
    bw = json.loads(run("pet", "suv", folder, "--json").stdout)
    assert COUNTS * bw["factor"] == pytest.approx(HAND_SUV["START"][0], rel=1e-9)
    assert (bw["counts_conversion"], bw["counts_scale"]) == ("suv", pytest.approx(per_count))
    lbm = json.loads(run("pet", "suv", folder, "--type", "lbm", "--json").stdout)
    assert COUNTS * lbm["factor"] == pytest.approx(1.10253, rel=1e-5)


def test_philips_counts_with_a_factor_on_some_images_only_are_refused(tmp_path):
    folder = write_pet(tmp_path / "pet", "START", philips(BQML_PER_COUNT, only_first=True), activity=COUNTS,
                       units="CNTS")
    assert_one_line_error(run("pet", "suv", folder), "series", "CNTS", "(7053,1009)", "every image")


def independent_enhanced_suv(path: Path) -> np.ndarray:
    """SUVbw of every frame of an Enhanced PET from its own header by the exponential decay law: the dose decayed
    to the Decay Correction DateTime, or (Decay Corrected NO) to each frame's Frame Acquisition DateTime, and the
    activity from pydicom's pixels and each frame's Rescale Slope."""
    ds = pydicom.dcmread(path)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    injection = seconds_of_day(item.RadiopharmaceuticalStartDateTime[8:])
    frames = []
    for groups, pixels in zip(ds.PerFrameFunctionalGroupsSequence, ds.pixel_array, strict=True):
        reference = ds.DecayCorrectionDateTime if ds.DecayCorrected == "YES" \
            else groups.FrameContentSequence[0].FrameAcquisitionDateTime
        elapsed = seconds_of_day(reference[8:]) - injection
        remaining = float(item.RadionuclideTotalDose) * math.exp(-math.log(2) * elapsed / float(
            item.RadionuclideHalfLife))
        activity = pixels * float(groups.PixelValueTransformationSequence[0].RescaleSlope)
        frames.append(activity * float(ds.PatientWeight) * 1000 / remaining)
    return np.stack(frames)


@pytest.mark.parametrize("decay_correction", ["START", "ADMIN", "NONE"])
def test_enhanced_pet_frames_equal_the_worked_example_and_an_independent_computation(tmp_path, decay_correction):
    """One Enhanced PET instance: Decay Corrected YES with the Decay Correction DateTime at the scan start or the
    injection, or NO with each frame's Frame Acquisition DateTime (11:00 to 11:03) in its per-frame Frame Content:
    the same SUVs as the worked example's four slices."""
    folder = write_pet(tmp_path / "pet", decay_correction, enhanced=True)
    series = ReferenceSeries.from_paths(folder)
    assert [source.frame_number for source in series.slices] == [1, 2, 3, 4]
    scale = series_suv_scale(series)
    activity = series.read_voxels()
    assert [float(activity[k].mean()) * scale.factors[k] for k in range(4)] == pytest.approx(
        HAND_SUV[decay_correction], rel=1e-5)
    assert np.allclose(activity * np.asarray(scale.factors)[:, None, None],
                       independent_enhanced_suv(next(folder.iterdir())), rtol=1e-6)
    payload = json.loads(run("pet", "suv", folder, "--json").stdout)
    assert payload["decay_correction"] == decay_correction
    assert payload["decay_corrected_to"] == {"START": "2026-01-05T11:00:00", "ADMIN": "2026-01-05T10:00:00",
                                             "NONE": None}[decay_correction]
    factors = payload["factors"] if decay_correction == "NONE" else [payload["factor"]] * 4
    assert [ACTIVITY * f for f in factors] == pytest.approx(HAND_SUV[decay_correction], rel=1e-5)


def _without_frame_time(ds):
    del ds.PerFrameFunctionalGroupsSequence[2].FrameContentSequence[0].FrameAcquisitionDateTime


def _without_correction_time(ds):
    del ds.DecayCorrectionDateTime


def _not_attenuation_corrected(ds):
    ds.AttenuationCorrected = "NO"


@pytest.mark.parametrize(("decay_correction", "change", "fragments"), [
    ("NONE", _without_frame_time, ["Decay Corrected NO", "frames 3", "Frame Acquisition DateTime (0018,9074)"]),
    ("START", _without_correction_time, ["Decay Correction DateTime (0018,9701)"]),
    ("START", _not_attenuation_corrected, ["Attenuation Corrected (0018,9759) NO"]),
])
def test_enhanced_pet_without_its_decay_times_is_refused_by_name(tmp_path, decay_correction, change, fragments):
    folder = write_pet(tmp_path / "pet", decay_correction, change, enhanced=True)
    assert_one_line_error(run("pet", "suv", folder), "series", *fragments)
