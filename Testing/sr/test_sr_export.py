"""SR export: what we write is valid (dciodvfy), highdicom reads it back, and our reader returns what we measured."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from conftest import third_party_file
from DICOMAnnotatorLib.errors import InputError, OutputExistsError
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.sr.measurements import measure_segmentation
from DICOMAnnotatorLib.sr.reader import sr_summary
from DICOMAnnotatorLib.sr.writer import export_sr
from pydicom.sr.codedict import codes
from sr_cases import dciodvfy_errors, dcmqi_read_sr, phantom_case, write_json

LESION_TYPE_CYST = {"segment": "Liver lesion", "name": "Liver lesion type", "value": "Cyst"}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return phantom_case(tmp_path_factory.mktemp("sr-case"))


@pytest.fixture(scope="module")
def enhanced_case(tmp_path_factory):
    return phantom_case(tmp_path_factory.mktemp("sr-enhanced"), enhanced=True)


def test_measurements_round_trip_and_highdicom_reads_them(case, tmp_path):
    series_folder, seg_path = case
    output = tmp_path / "sr.dcm"
    export_sr(seg_path, series_folder, output, protocol="liver-lesions-ct",
              labels_path=write_json(tmp_path / "labels.json", {"labels": [LESION_TYPE_CYST]}))
    assert dciodvfy_errors(output) == []

    series = ReferenceSeries.from_paths(series_folder)
    segmentation = read_seg(seg_path, series)
    expected = {m.number: m for m in measure_segmentation(segmentation, series.read_voxels())}
    seg = pydicom.dcmread(seg_path, stop_before_pixels=True)

    sr = hd.sr.srread(output)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.SeriesDescription == "SR liver-lesions-ct Reader^Anna"
    evidence = {item.ReferencedSOPInstanceUID
                for study in sr.CurrentRequestedProcedureEvidenceSequence
                for series_item in study.ReferencedSeriesSequence for item in series_item.ReferencedSOPSequence}
    assert evidence == {seg.SOPInstanceUID, *(ds.SOPInstanceUID for ds in series.datasets)}
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 3
    uids = set()
    for group, description in zip(groups, segmentation.segments, strict=True):
        measured = expected[description.number]
        segment_item = group.referenced_segment[0]
        assert segment_item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == seg.SOPInstanceUID
        assert segment_item.ReferencedSOPSequence[0].ReferencedSegmentNumber == description.number
        sources = {item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for item in group.referenced_segment[1:]}
        box = segmentation.bounding_box(description.number)
        assert sources == {series.slices[k].sop_instance_uid for k in range(box[0].start, box[0].stop)}
        assert group.finding_type.value == description.type.value
        assert group.tracking_identifier == description.label
        uids.add(str(group.tracking_uid))
        values = {(m.name.value, m.derivation.value if m.derivation else None): (m.value, m.unit.value)
                  for m in group.get_measurements()}
        assert values[("118565006", None)] == (pytest.approx(measured.volume_ml, rel=1e-9), "ml")
        assert values[("81827009", "56851009")] == (pytest.approx(measured.max_diameter_mm, rel=1e-9), "mm")
        hounsfield = {derivation: value for (name, derivation), (value, unit) in values.items()
                      if name == "112031" and unit == "[hnsf'U]"}
        statistics = measured.intensity
        assert hounsfield == {"373098007": pytest.approx(statistics.mean, rel=1e-9),
                              "255605001": statistics.minimum, "56851009": statistics.maximum,
                              "386136009": pytest.approx(statistics.std, rel=1e-9)}
    assert len(uids) == 3
    lesion = groups[1]
    assert [site.value.value for site in lesion.finding_sites] == ["10200004"]  # Liver, the segment's anatomic region

    summary = sr_summary(output)
    volumes = {m["segment"]: m["value"] for m in summary["measurements"] if m["name"][0] == "118565006"}
    assert volumes == {n: pytest.approx(m.volume_ml, rel=1e-9) for n, m in expected.items()}
    assert summary["labels"] == [{"segment": 2, "tracking_id": "Liver lesion", "tracking_uid": str(lesion.tracking_uid),
                                  "name": ["122133", "DCM", "Lesion Morphology"],
                                  "value": ["367643001", "SCT", "Cyst"]}]


def test_marks_and_labels_on_marks_and_the_case(case, tmp_path):
    series_folder, seg_path = case
    series = ReferenceSeries.from_paths(series_folder)
    instance = series.slices[5].sop_instance_uid
    marks = write_json(tmp_path / "marks.json", {"marks": [
        {"kind": "point", "label": "T4", "points_mm": [[1.5, -2.0, 3.25]]},
        {"kind": "box", "label": "T5", "instance": instance, "points": [[10, 10], [20, 25]]},
    ]})
    labels = write_json(tmp_path / "labels.json", {"labels": [
        {"mark": 0, "name": "Genant fracture grade", "value": "Mild"},
        {"mark": 1, "name": ["246112005", "SCT", "Severity"], "value": ["255604002", "SCT", "Mild"]},
    ]})
    output = tmp_path / "sr.dcm"
    # The vertebral fracture protocol has landmark structures and a classification applying to them.
    with pytest.raises(InputError, match=r"marks\[1\] is a box, but 'T5' is a landmark structure"):
        export_sr(seg_path, series_folder, output, protocol="vertebral-fractures-ct", marks_path=marks,
                  labels_path=labels)
    write_json(marks, {"marks": [
        {"kind": "point", "label": "T4", "points_mm": [[1.5, -2.0, 3.25]]},
        {"kind": "point", "label": "T5", "instance": instance, "points": [[10, 10]]},
        {"kind": "box", "label": ["52988006", "SCT", "Lesion"], "instance": instance, "points": [[10, 10], [20, 25]]},
    ]})
    write_json(labels, {"labels": [
        {"mark": 0, "name": "Genant fracture grade", "value": "Mild"},
        {"mark": 1, "name": ["246112005", "SCT", "Severity"], "value": ["255604002", "SCT", "Mild"]},
    ]})
    export_sr(seg_path, series_folder, output, protocol="vertebral-fractures-ct", marks_path=marks,
              labels_path=labels, creator="Doe^Jane")
    assert dciodvfy_errors(output) == []

    report = hd.sr.srread(output).content
    planar = report.get_planar_roi_measurement_groups()
    assert [(g.tracking_identifier, g.roi.graphic_type.value) for g in planar] == [
        ("T4", "POINT"), ("T5", "POINT"), ("Lesion", "POLYGON")]
    assert planar[0].finding_type.meaning == "T4 vertebra"
    assert planar[0].roi.value.tolist() == [[1.5, -2.0, 3.25]]
    # Pixel (10, 10) of slice 5 is the centre of voxel (9.5, 9.5, 5) in DICOM's pixel convention.
    expected_point = series.geometry.index_to_lps(np.array([[9.5, 9.5, 5]]))
    assert planar[1].roi.value == pytest.approx(expected_point, abs=1e-4)
    corners = series.geometry.index_to_lps(np.array([[9.5, 9.5, 5], [19.5, 9.5, 5], [19.5, 24.5, 5], [9.5, 24.5, 5],
                                                     [9.5, 9.5, 5]]))
    assert planar[2].roi.value == pytest.approx(corners, abs=1e-4)
    assert planar[2].roi.ReferencedFrameOfReferenceUID == series.frame_of_reference_uid
    # (highdicom's get_qualitative_evaluations() also returns the finding category, which is not one)
    evaluations = [[(q.name.meaning, q.value.meaning) for q in g.get_qualitative_evaluations()
                    if q.name.meaning != "Finding category"] for g in planar]
    assert evaluations == [[("Severity", "Mild")], [("Severity", "Mild")], []]
    person = report.get_observer_contexts(observer_type=codes.DCM.Person)[0]
    assert person[1].value == "Doe^Jane"

    summary = sr_summary(output)
    assert [(r["tracking_id"], r["graphic_type"], len(r["points_mm"])) for r in summary["regions"]] == [
        ("T4", "POINT", 1), ("T5", "POINT", 1), ("Lesion", "POLYGON", 5)]
    assert [label["tracking_id"] for label in summary["labels"]] == ["T4", "T5"]


def test_case_labels_and_codes_without_a_protocol(case, tmp_path):
    series_folder, seg_path = case
    labels = write_json(tmp_path / "labels.json", {"labels": [
        {"segment": 3, "name": ["246112005", "SCT", "Severity"], "value": ["255604002", "SCT", "Mild"]},
        {"name": {"code_value": "121073", "coding_scheme_designator": "DCM", "code_meaning": "Impression"},
         "value": ["17621005", "SCT", "Normal"]},
    ]})
    output = tmp_path / "sr.dcm"
    export_sr(seg_path, series_folder, output, labels_path=labels)
    assert dciodvfy_errors(output) == []
    report = hd.sr.srread(output).content
    (case_group,) = report.get_image_measurement_groups()
    assert case_group.tracking_identifier == "Case"
    assert [(q.name.meaning, q.value.meaning) for q in case_group.get_qualitative_evaluations()] == [
        ("Impression", "Normal")]
    vertebra = report.get_volumetric_roi_measurement_groups()[2]
    assert ("Severity", "Mild") in [(q.name.meaning, q.value.meaning) for q in vertebra.get_qualitative_evaluations()]

    # dcmqi reads the same report with DCMTK's TID 1500 classes.
    dcmqi = dcmqi_read_sr(output, tmp_path)["Measurements"]
    seg = pydicom.dcmread(seg_path, stop_before_pixels=True)
    summary = sr_summary(output)
    assert [group.get("ReferencedSegment") for group in dcmqi] == [1, 2, 3, None]
    assert {group.get("segmentationSOPInstanceUID") for group in dcmqi[:3]} == {seg.SOPInstanceUID}
    assert [group["TrackingUniqueIdentifier"] for group in dcmqi[:3]] == list(
        dict.fromkeys(m["tracking_uid"] for m in summary["measurements"]))
    theirs = [(group["ReferencedSegment"], item["quantity"]["CodeValue"],
               item.get("derivationModifier", {}).get("CodeValue"), float(item["value"]))
              for group in dcmqi[:3] for item in group["measurementItems"]]
    ours = [(m["segment"], m["name"][0], m["derivation"][0] if m["derivation"] else None, m["value"])
            for m in summary["measurements"]]
    assert theirs == [(n, name, derivation, pytest.approx(value, rel=1e-12)) for n, name, derivation, value in ours]
    evaluations = {(e["conceptCode"]["CodeMeaning"], e["conceptValue"]["CodeMeaning"])
                   for e in dcmqi[2]["qualitativeEvaluations"]}
    assert ("Severity", "Mild") in evaluations
    assert dcmqi[3]["TrackingIdentifier"] == "Case"


def test_multiframe_source_and_fractional_seg(enhanced_case, tmp_path_factory, tmp_path):
    series_folder, seg_path = enhanced_case
    series = ReferenceSeries.from_paths(series_folder)
    (instance,) = {source.sop_instance_uid for source in series.slices}
    marks = write_json(tmp_path / "marks.json", {"marks": [
        {"kind": "point", "label": "T4", "instance": instance, "frame": 3, "points": [[4, 6]]}]})
    output = tmp_path / "sr.dcm"
    export_sr(seg_path, series_folder, output, marks_path=marks)
    assert dciodvfy_errors(output) == []
    segmentation = read_seg(seg_path, series)
    report = hd.sr.srread(output).content
    (k,) = [k for k, source in enumerate(series.slices) if source.frame_number == 3]
    point = report.get_planar_roi_measurement_groups()[0].roi.value
    assert point == pytest.approx(series.geometry.index_to_lps(np.array([[3.5, 5.5, k]])), abs=1e-4)
    lesion = report.get_volumetric_roi_measurement_groups()[1]
    (source,) = lesion.referenced_segment[1:]  # one multi-frame instance, its frames listed
    box = segmentation.bounding_box(2)
    frames = source.ReferencedSOPSequence[0].ReferencedFrameNumber
    assert [int(f) for f in frames] == [series.slices[k].frame_number for k in range(box[0].start, box[0].stop)]

    fractional_series, fractional_seg = phantom_case(tmp_path_factory.mktemp("sr-fractional"), fractional=True)
    output = tmp_path / "fractional.dcm"
    export_sr(fractional_seg, fractional_series, output)
    assert dciodvfy_errors(output) == []
    fractional = read_seg(fractional_seg, ReferenceSeries.from_paths(fractional_series))
    volumes = [m["value"] for m in sr_summary(output)["measurements"] if m["name"][0] == "118565006"]
    assert volumes == [pytest.approx(fractional.volume_ml(n), rel=1e-6) for n in (1, 2, 3)]
    assert volumes[0] == pytest.approx(0.8 * segmentation.volume_ml(1), rel=1e-3)  # weighted by the fractions


def test_empty_segment_has_zero_volume_and_references_the_series(tmp_path):
    series_folder, seg_path = phantom_case(tmp_path, empty_segment=True)
    output = tmp_path / "sr.dcm"
    export_sr(seg_path, series_folder, output)
    assert dciodvfy_errors(output) == []
    empty = hd.sr.srread(output).content.get_volumetric_roi_measurement_groups()[3]
    assert [(m.name.meaning, m.value) for m in empty.get_measurements()] == [("Volume", 0.0)]
    assert empty.referenced_segment[1].ValueType == "UIDREF"  # Source Series for Segmentation: no image has voxels
    assert empty.referenced_segment[1].UID == ReferenceSeries.from_paths(series_folder).series_instance_uid


@pytest.mark.parametrize(("labels", "message"), [
    ([{"segment": 2, "name": "Liver lesion type", "value": "Banana"}],
     r"'Banana' is not an allowed value of 'Liver lesion type'; allowed: Cyst; Abscess"),
    ([{"segment": 1, "name": "Liver lesion type", "value": "Cyst"}],
     r"is not a classification of protocol 'liver-lesions-ct' for segment 1 \('Liver'\)"),
    ([{"segment": 9, "name": "Liver lesion type", "value": "Cyst"}], r"segment 9 is not a segment of the SEG"),
    ([LESION_TYPE_CYST, {**LESION_TYPE_CYST, "value": "Abscess"}],
     r"answers 'Lesion Morphology' for segment 2 .* second time"),
    ([{"segment": 2, "mark": 0, "name": "x", "value": "y"}], r"names both a segment and a mark"),
    ([{"mark": 0, "name": "x", "value": "y"}], r"give the 0-based index of one of the 0 marks"),
    ([{"segment": 3, "name": "Liver lesion type", "value": "Cyst"}],
     r"segment 3 \('Vertebra'\) is no structure of protocol 'liver-lesions-ct'"),
    ([{"name": "Liver lesion type", "value": "Cyst"}], r"for the case; its classifications for it: none"),
])
def test_labels_are_checked_against_the_protocol(case, tmp_path, labels, message):
    series_folder, seg_path = case
    path = write_json(tmp_path / "labels.json", {"labels": labels})
    with pytest.raises(InputError, match=message):
        export_sr(seg_path, series_folder, tmp_path / "sr.dcm", protocol="liver-lesions-ct", labels_path=path)
    assert not (tmp_path / "sr.dcm").exists()


def test_text_labels_need_a_protocol(case, tmp_path):
    series_folder, seg_path = case
    path = write_json(tmp_path / "labels.json", {"labels": [LESION_TYPE_CYST]})
    with pytest.raises(InputError, match=r"labels\[0\].name is the text 'Liver lesion type'; without --protocol"):
        export_sr(seg_path, series_folder, tmp_path / "sr.dcm", labels_path=path)


@pytest.mark.parametrize(("mark", "message"), [
    ({"kind": "point", "label": "T4", "instance": "1.2.3", "points": [[1, 2]]},
     r"instance 1.2.3, which is not an image"),
    ({"kind": "ellipse", "label": "T4", "points_mm": [[0, 0, 0]] * 3}, r"marks\[0\]: ellipse needs 4 points, found 3"),
    ({"kind": "box", "label": "T4", "points_mm": [[0, 0, 0], [5, 5, 5]]}, r"not in one image plane"),
    ({"kind": "polygon", "label": "T4", "points_mm": [[0, 0, 0], [5, 0, 0], [5, 5, 0], [0, 5, 3]]},
     r"marks\[0\]: the points of a polygon must lie in one plane"),
    ({"kind": "circle", "label": "T4", "points_mm": [[0, 0, 0]]}, r"kind is 'circle'"),
    ({"kind": "point", "label": "T4", "points_mm": [[0, 0]]}, r"points_mm must be a non-empty list of \[number"),
    ({"kind": "point", "label": 7, "points_mm": [[0, 0, 0]]}, r"label: give a structure label or a code"),
])
def test_marks_are_checked(case, tmp_path, mark, message):
    series_folder, seg_path = case
    path = write_json(tmp_path / "marks.json", {"marks": [mark]})
    with pytest.raises(InputError, match=message):
        export_sr(seg_path, series_folder, tmp_path / "sr.dcm", marks_path=path)
    assert not (tmp_path / "sr.dcm").exists()


def test_a_mark_over_the_edge_of_the_volume_is_kept_as_drawn(case, tmp_path):
    """SCOORD3D may lie anywhere in the frame of reference (PS3.3 C.18.9.1): a line from inside the volume
    to beyond its edge (as a box drawn over an image's edge in Slicer) is written with both its points."""
    series_folder, seg_path = case
    series = ReferenceSeries.from_paths(series_folder)
    inside, beyond = series.geometry.index_to_lps(np.array([[5.0, 5.0, 3.0], [-20.0, 5.0, 3.0]])).tolist()
    path = write_json(tmp_path / "marks.json", {"marks": [{"kind": "polyline", "label": "T4",
                                                            "points_mm": [inside, beyond]}]})
    export_sr(seg_path, series_folder, tmp_path / "sr.dcm", marks_path=path)
    [region] = sr_summary(tmp_path / "sr.dcm")["regions"]
    assert np.allclose(region["points_mm"], [inside, beyond], atol=1e-4)


def test_existing_output_is_kept_without_force(case, tmp_path):
    series_folder, seg_path = case
    output = tmp_path / "sr.dcm"
    output.write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        export_sr(seg_path, series_folder, output)
    assert output.read_bytes() == b"keep"
    export_sr(seg_path, series_folder, output, force=True)
    assert sr_summary(output)["measurements"]


@pytest.mark.parametrize("enhanced", [False, True])
def test_image_library_lists_every_source_instance_once(case, enhanced_case, tmp_path, enhanced):
    series_folder, seg_path = enhanced_case if enhanced else case
    series = ReferenceSeries.from_paths(series_folder)
    export_sr(seg_path, series_folder, tmp_path / "sr.dcm")
    items = pydicom.dcmread(tmp_path / "sr.dcm").ContentSequence
    names = [item.ConceptNameCodeSequence[0].CodeValue for item in items]
    library = items[names.index(codes.DCM.ImageLibrary.value)]
    assert names.index(codes.DCM.ImageLibrary.value) < names.index(codes.DCM.ImagingMeasurements.value)
    (group,) = library.ContentSequence
    shared = {i.ConceptNameCodeSequence[0].CodeValue: i for i in group.ContentSequence if i.ValueType != "IMAGE"}
    assert shared[codes.DCM.Modality.value].ConceptCodeSequence[0].CodeValue == "CT"
    assert shared[codes.DCM.FrameOfReferenceUID.value].UID == series.frame_of_reference_uid
    images = [i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in group.ContentSequence
              if i.ValueType == "IMAGE"]
    assert images == [ds.SOPInstanceUID for ds in series.datasets]


@pytest.mark.shared_data
def test_dcmqi_seg_on_a_real_ct_with_an_empty_character_set(tmp_path):
    """The GE CT slices of dcmqi carry an empty Specific Character Set; the SR must still be written."""
    folder = third_party_file("dcmqi/segmentations")
    export_sr(folder / "liver.dcm", folder / "ct-3slice", tmp_path / "sr.dcm")
    assert dciodvfy_errors(tmp_path / "sr.dcm") == []
    (volume,) = [m["value"] for m in sr_summary(tmp_path / "sr.dcm")["measurements"] if m["name"][0] == "118565006"]
    liver = read_seg(folder / "liver.dcm", ReferenceSeries.from_paths(folder / "ct-3slice"))
    assert volume == pytest.approx(liver.volume_ml(1), rel=1e-9)
