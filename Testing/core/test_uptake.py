"""SUV statistics of a segmentation drawn on the CT, measured on the PET of the same frame of reference.

The PET (4 mm voxels) and the CT (1 x 1 x 2 mm, another origin) share a frame of reference but not a
grid. The lesion is the box x, y in [-10, 6) mm and z in [-6, 10) mm: on the PET exactly the 4 x 4 x 4
voxels i, j = 8..11, k = 4..7, of 8000 Bq/ml but for one interior voxel of 16000 Bq/ml, in a background
of 1000 Bq/ml. Decay Correction ADMIN, 370 MBq, 70 kg: factor 70000 / 370e6 = 1.891892e-4 g/ml per Bq/ml.

- SUVmax = 16000 x 1.891892e-4 = 3.027027
- SUVmean = (63 x 8000 + 16000) / 64 = 8125 Bq/ml -> 1.537162
- MTV = 64 voxels x 0.064 ml = 4.096 ml; TLG = 1.537162 x 4.096 = 6.296216 g
- SUVpeak: the 1 cm^3 sphere (radius 6.2035 mm) on 4 mm voxels holds the centre, its 6 face and 12 edge
  neighbours (4 and 5.66 mm; corners at 6.93 mm are out): around the hot voxel, all in the lesion,
  (18 x 8000 + 16000) / 19 = 8421.05 Bq/ml -> 1.593172.
"""

from __future__ import annotations

import json

import highdicom as hd
import pydicom
import pytest
from conftest import assert_one_line_error, dciodvfy_errors, run
from DICOMAnnotatorLib.errors import GeometryMismatchError
from DICOMAnnotatorLib.imaging import (
    ReferenceSeries,
    Segmentation,
    SegmentDescription,
    series_suv_scale,
    uptake_statistics,
)
from pet_cases import write_case
from pydicom.uid import generate_uid

FACTOR = 70000 / 370e6
HAND = {"suv_max": 3.027027, "suv_mean": 1.537162, "suv_peak": 1.593172, "mtv_ml": 4.096, "tlg_g": 6.296216}


def test_suv_statistics_equal_the_worked_example(tmp_path):
    segmentation, pet = write_case(tmp_path)
    [lesion] = uptake_statistics(segmentation, pet, series_suv_scale(pet))
    measured = lesion.to_json()
    assert (measured.pop("number"), measured.pop("label")) == (1, "Lesion")
    assert measured == pytest.approx(HAND, rel=1e-5)
    with_empty = Segmentation(segmentation.geometry, [*segmentation.segments, SegmentDescription(2, "Empty")],
                              {1: segmentation.mask(1)}, reference=segmentation.reference)
    empty = uptake_statistics(with_empty, pet, series_suv_scale(pet))[1]
    assert empty.to_json() == {"number": 2, "label": "Empty", "suv_max": None, "suv_mean": None, "suv_peak": None,
                               "mtv_ml": 0.0, "tlg_g": 0.0}


def test_pet_suv_command_measures_a_seg_of_the_ct(tmp_path):
    write_case(tmp_path)
    result = run("pet", "suv", tmp_path / "pet", "--seg", tmp_path / "seg.dcm", "--seg-series", tmp_path / "ct",
                 "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["factor"] == pytest.approx(FACTOR)
    [measured] = payload["segments"]
    assert (measured.pop("number"), measured.pop("label")) == (1, "Lesion")
    assert measured == pytest.approx(HAND, rel=1e-5)


def test_a_segmentation_of_another_frame_of_reference_is_refused(tmp_path):
    segmentation, pet = write_case(tmp_path, ct_frame=generate_uid())
    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        uptake_statistics(segmentation, pet, series_suv_scale(pet))
    result = run("pet", "suv", tmp_path / "pet", "--seg", tmp_path / "seg.dcm", "--seg-series", tmp_path / "ct")
    assert_one_line_error(result, "frame of reference", "register them first")


def test_pet_suv_sr_holds_the_statistics_with_their_codes(tmp_path):
    """``--sr``: the SUVlbm statistics in a TID 1500 SR on the SEG, valid, read back by highdicom with the PS3.16
    codes (SUVlbm(Janma) 126405 in g/ml{SUVlbm(Janma)}, Peak Value Within ROI, Metabolic Volume, Total Lesion
    Glycolysis). Janmahasatian's lean body mass of 70 kg, 1.75 m, a man: 55.8571 kg (test_suv.py), so
    SUVmax = 16000 x 55857.1 / 370e6 = 2.415443."""
    _, pet = write_case(tmp_path)
    report = tmp_path / "sr.dcm"
    result = run("pet", "suv", tmp_path / "pet", "--type", "lbm", "--seg", tmp_path / "seg.dcm", "--seg-series",
                 tmp_path / "ct", "--sr", report, "--json")
    assert result.returncode == 0, result.stderr
    [printed] = json.loads(result.stdout)["segments"]
    assert printed["suv_max"] == pytest.approx(2.415443, rel=1e-5)
    assert dciodvfy_errors(report) == []
    [group] = hd.sr.srread(report).content.get_volumetric_roi_measurement_groups()
    measured = {(m.name.value, m.derivation.value if m.derivation else None): (m.value, m.unit.value)
                for m in group.get_measurements()}
    lbm = "g/ml{SUVlbm(Janma)}"
    assert {key: value for key, value in measured.items() if key[0].startswith("126")} == {
        ("126405", "56851009"): (pytest.approx(printed["suv_max"]), lbm),
        ("126405", "373098007"): (pytest.approx(printed["suv_mean"]), lbm),
        ("126405", "126031"): (pytest.approx(printed["suv_peak"]), lbm),
        ("126032", None): (pytest.approx(printed["mtv_ml"]), "ml"),
        ("126033", None): (pytest.approx(printed["tlg_g"]), "g")}
    assert ("118565006", None) in measured  # the segment's volume on the CT is kept
    # the SUVs name the PET images they were measured on (the lesion's PET slices k = 4..7), which the Image
    # Library lists beside the CT, and the evidence holds
    lesion_slices = [pet.slices[k].sop_instance_uid for k in range(4, 8)]
    for m in group.get_measurements():
        on_pet = [image.referenced_sop_instance_uid for image in m.referenced_images]
        assert on_pet == (lesion_slices if m.name.value.startswith("126") else []), m.name
    ct = ReferenceSeries.from_paths(tmp_path / "ct")
    written = pydicom.dcmread(report)
    library = next(item for item in written.ContentSequence if item.ConceptNameCodeSequence[0].CodeValue == "111028")
    listed = [([entry.ConceptCodeSequence[0].CodeValue for entry in g.ContentSequence if entry.ValueType == "CODE"],
               [entry.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for entry in g.ContentSequence
                if entry.ValueType == "IMAGE"]) for g in library.ContentSequence]
    assert listed == [(["CT"], [s.sop_instance_uid for s in ct.slices]),
                      (["PT"], [s.sop_instance_uid for s in pet.slices])]
    evidence = {item.ReferencedSOPInstanceUID for study in written.CurrentRequestedProcedureEvidenceSequence
                for series in study.ReferencedSeriesSequence for item in series.ReferencedSOPSequence}
    assert {s.sop_instance_uid for s in pet.slices} <= evidence


def test_pet_suv_sr_needs_a_seg_and_a_new_output(tmp_path):
    write_case(tmp_path)
    assert_one_line_error(run("pet", "suv", tmp_path / "pet", "--sr", tmp_path / "sr.dcm"), "--sr", "--seg")
    (tmp_path / "sr.dcm").write_bytes(b"keep")
    result = run("pet", "suv", tmp_path / "pet", "--seg", tmp_path / "seg.dcm", "--seg-series", tmp_path / "ct",
                 "--sr", tmp_path / "sr.dcm")
    assert_one_line_error(result, "already exists")
    assert (tmp_path / "sr.dcm").read_bytes() == b"keep"


def test_an_enhanced_pet_gives_the_same_statistics_and_its_frames_are_the_sources(tmp_path):
    """The case's PET as one Enhanced PET instance (ADMIN: Decay Correction DateTime at the injection): the worked
    example's statistics, and the SR names that instance with the lesion's frames 5 to 8."""
    _, pet = write_case(tmp_path, enhanced=True)
    assert len(pet.datasets) == 1
    report = tmp_path / "sr.dcm"
    result = run("pet", "suv", tmp_path / "pet", "--seg", tmp_path / "seg.dcm", "--seg-series", tmp_path / "ct",
                 "--sr", report, "--json")
    assert result.returncode == 0, result.stderr
    [measured] = json.loads(result.stdout)["segments"]
    assert {key: measured[key] for key in HAND} == pytest.approx(HAND, rel=1e-5)
    [group] = hd.sr.srread(report).content.get_volumetric_roi_measurement_groups()
    suv_max = next(m for m in group.get_measurements() if m.name.value == "126401")
    assert [(image.referenced_sop_instance_uid, image.referenced_frame_numbers) for image in
            suv_max.referenced_images] == [(pet.slices[0].sop_instance_uid, [5, 6, 7, 8])]
    assert dciodvfy_errors(report) == []
