"""Every kind of SR we write is the report highdicom builds for the same content, and three readers read it.

``sr.writer`` encodes the TID 1500 document itself (for speed); highdicom 0.28's template classes
(``highdicom_sr.py``) are the reference. For each kind of report the project writes (segment
volumes with labels, codes and finding sites; 3D marks of every graphic type with a SEG and
alone; multi-frame sources with a FRACTIONAL SEG and an empty segment; text in Latin-1; the
consensus SR of two annotators), the two documents are compared element by element and item by
item apart from new UIDs and creation times; ``sr info`` reads both the same; dciodvfy finds no
error; and highdicom's reader, dcmqi's ``tid1500reader`` (DCMTK's TID 1500 classes) and dcmjs
(``Testing/interop/node/read_sr.js``) read back the groups, measurements, labels and regions.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from conftest import dciodvfy_errors, node_script, third_party_file
from DICOMAnnotatorLib.agreement.annotations import compare_annotations, consensus_content, read_annotations
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.dicom.headers import read_header
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.images import open_grid, open_images
from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.imaging.suv import series_suv_scale
from DICOMAnnotatorLib.imaging.uptake import uptake_statistics
from DICOMAnnotatorLib.protocols.loading import load_protocol
from DICOMAnnotatorLib.review.consensus_step import write_consensus_sr
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.seg.writer import write_seg
from DICOMAnnotatorLib.sr.labels import read_labels
from DICOMAnnotatorLib.sr.marks import read_marks
from DICOMAnnotatorLib.sr.measurements import measure_on_series, measure_segmentation, with_uptake
from DICOMAnnotatorLib.sr.reader import sr_summary
from DICOMAnnotatorLib.sr.ventricular_function import ejection_fraction
from DICOMAnnotatorLib.sr.writer import build_sr, write_sr
from highdicom_sr import highdicom_sr
from pet_cases import write_case
from pydicom.data import get_testdata_file
from sr_cases import dcmqi_read_sr, phantom_case, write_json

#: New in every document, or the moment it was made: not compared.
NOT_COMPARED = {"SOPInstanceUID", "SeriesInstanceUID", "InstanceCreationDate", "InstanceCreationTime", "ContentDate",
                "ContentTime"}
TRACKING_UID = ("112040", "DCM")
KINDS = ["volumes", "marks", "marks-alone", "multiframe-fractional", "latin-1", "consensus", "radiograph", "cine",
         "ultrasound-marks-alone", "pet-suv", "ejection-fraction"]
RIGHT = Code("24028007", "SCT", "Right")
CENTRAL = Code("26216008", "SCT", "Central")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """The build_sr arguments of each kind of report, and the file our writer wrote from them."""
    folder = tmp_path_factory.mktemp("sr-kinds")
    made = {"volumes": _volumes(folder / "volumes"), "marks": _marks(folder / "marks", with_seg=True),
            "marks-alone": _marks(folder / "marks-alone", with_seg=False),
            "multiframe-fractional": _multiframe(folder / "multiframe"), "latin-1": _latin1(folder / "latin-1"),
            "consensus": _consensus(folder / "consensus"), "radiograph": _radiograph(folder / "radiograph"),
            "cine": _cine(folder / "cine"), "ultrasound-marks-alone": _ultrasound_marks(folder / "ultrasound"),
            "pet-suv": _pet_suv(folder / "pet-suv"),
            "ejection-fraction": _ejection_fraction(folder / "ejection-fraction")}
    return {kind: (inputs, written if written is not None else write_sr(build_sr(**inputs), folder / f"{kind}.dcm"))
            for kind, (inputs, written) in made.items()}


def _measured(series_folder: Path, seg_path: Path) -> dict:
    series = ReferenceSeries.from_paths(series_folder)
    segmentation = read_seg(seg_path, series)
    return {"segmentation": segmentation, "seg": read_header(seg_path),
            "measurements": measure_segmentation(segmentation, series.read_voxels())}


def _volumes(folder: Path) -> tuple[dict, None]:
    """Segments with finding sites (a laterality, a topographical modifier), tracking IDs, labels on a segment
    and on the case, a protocol."""
    geometry = phantoms.phantom_geometry()
    hu, labels = phantoms.phantom_volume(geometry)
    phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), folder / "ct")
    series = ReferenceSeries.from_paths(folder / "ct")
    liver, lesion, vertebra = phantoms.PHANTOM_SEGMENTS
    segments = [dataclasses.replace(liver, anatomic_region=Code("10200004", "SCT", "Liver"),
                                    anatomic_region_modifier=RIGHT),
                dataclasses.replace(lesion, anatomic_region_modifier=CENTRAL, tracking_id="lesion 1",
                                    tracking_uid=pydicom.uid.generate_uid()),
                vertebra]
    segmentation = Segmentation.from_labelmap(series.geometry, labels, segments, reference=series, author="Reader^Anna")
    write_seg(segmentation, folder / "seg.dcm")
    inputs = _measured(folder / "ct", folder / "seg.dcm")
    protocol = load_protocol("liver-lesions-ct")
    labels_file = write_json(folder / "labels.json", {"labels": [
        {"segment": "Liver lesion", "name": "Liver lesion type", "value": "Cyst"}]})
    case_label = write_json(folder / "case.json", {"labels": [
        {"segment": 3, "name": ["246112005", "SCT", "Severity"], "value": ["255604002", "SCT", "Mild"]},
        {"name": ["121073", "DCM", "Impression"], "value": ["17621005", "SCT", "Normal"]}]})
    segments = inputs["segmentation"].segments
    return {**inputs, "labels": [*read_labels(labels_file, segments, [], protocol),
                                 *read_labels(case_label, segments)], "protocol_id": protocol.id}, None


def _marks(folder: Path, *, with_seg: bool) -> tuple[dict, None]:
    """Every graphic type, in pixels and in mm, from a protocol's landmarks and from codes, with labels on them."""
    series_folder, seg_path = phantom_case(folder)
    series = ReferenceSeries.from_paths(series_folder)
    instance = series.slices[5].sop_instance_uid
    protocol = load_protocol("vertebral-fractures-ct")
    lesion = ["52988006", "SCT", "Lesion"]
    marks_file = write_json(folder / "marks.json", {"marks": [
        {"kind": "point", "label": "T4", "points_mm": [[1.5, -2.0, 3.25]]},
        {"kind": "point", "label": "T5", "instance": instance, "points": [[10, 10]]},
        {"kind": "box", "label": lesion, "instance": instance, "points": [[10, 10], [20, 25]]},
        {"kind": "polygon", "label": lesion, "instance": instance, "points": [[1, 1], [9, 2], [5, 8]]},
        {"kind": "polyline", "label": lesion, "instance": instance, "points": [[1, 1], [9, 2], [5, 8]]},
        {"kind": "ellipse", "label": lesion, "instance": instance, "points": [[2, 5], [12, 5], [7, 3], [7, 7]]},
    ]})
    marks = read_marks(marks_file, series, protocol)
    inputs = _measured(series_folder, seg_path) if with_seg else {"segmentation": None, "seg": None,
                                                                   "measurements": [], "reference": series}
    segments = inputs["segmentation"].segments if with_seg else []
    grade = write_json(folder / "grade.json", {"labels": [
        {"mark": 0, "name": "Genant fracture grade", "value": "Mild"}]})
    coded = write_json(folder / "coded.json", {"labels": [
        {"mark": 2, "name": ["246112005", "SCT", "Severity"], "value": ["255604002", "SCT", "Mild"]}]})
    return {**inputs, "marks": marks, "creator": "Doe^Jane", "protocol_id": protocol.id,
            "labels": [*read_labels(grade, segments, marks, protocol), *read_labels(coded, segments, marks)]}, None


def _multiframe(folder: Path) -> tuple[dict, None]:
    """An enhanced multi-frame CT (sources referenced by frame), a FRACTIONAL SEG with an empty segment."""
    series_folder, seg_path = phantom_case(folder, enhanced=True, fractional=True, empty_segment=True)
    return {**_measured(series_folder, seg_path), "series_number": 77, "series_description": "SR of frames"}, None


def _latin1(folder: Path) -> tuple[dict, None]:
    """A source in ISO_IR 100: names and code meanings with accents are written in Latin-1, as pydicom writes."""
    geometry = phantoms.phantom_geometry()
    hu, labels = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, hu)
    for ds in datasets:
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientName = "Müller^Jörg"
    phantoms.write_datasets(datasets, folder / "ct")
    series = ReferenceSeries.from_paths(folder / "ct")
    segmentation = Segmentation.from_labelmap(series.geometry, labels, phantoms.PHANTOM_SEGMENTS, reference=series,
                                              author="Zoë^Renée")
    write_seg(segmentation, folder / "seg.dcm")
    inputs = _measured(folder / "ct", folder / "seg.dcm")
    labels_file = write_json(folder / "labels.json", {"labels": [
        {"segment": 2, "name": ["C1", "99LOCAL", "Sévérité"], "value": ["C2", "99LOCAL", "Modérée"]}]})
    return {**inputs, "labels": read_labels(labels_file, inputs["segmentation"].segments)}, None


def _consensus(folder: Path) -> tuple[dict, Path]:
    """Two annotators' landmarks and answers merged, beside a consensus SEG (what `case consensus` writes)."""
    series_folder, seg_path = phantom_case(folder)
    series = ReferenceSeries.from_paths(series_folder)
    protocol = load_protocol("vertebral-fractures-ct")
    paths = []
    for who, shift, grade in (("a", 0.0, "Mild"), ("b", 2.0, "Moderate")):
        marks_file = write_json(folder / f"{who}-marks.json", {"marks": [
            {"kind": "point", "label": "T4", "points_mm": [[1.5 + shift, -2.0, 3.25]]}]})
        marks = read_marks(marks_file, series, protocol)
        labels_file = write_json(folder / f"{who}-labels.json", {"labels": [
            {"mark": 0, "name": "Genant fracture grade", "value": grade}]})
        sr = build_sr(None, None, [], marks=marks, labels=read_labels(labels_file, [], marks, protocol),
                      creator=f"{who}^test", protocol_id=protocol.id, reference=series)
        paths.append(write_sr(sr, folder / f"{who}-sr.dcm"))
    agreement = compare_annotations([read_annotations(p) for p in paths], ["a", "b"], threshold=0.5)
    written = write_consensus_sr(agreement, folder / "consensus-sr.dcm", seg=seg_path, reference=series,
                                 protocol=protocol, creator="Lead^Lee")
    inputs = _measured(series_folder, seg_path)
    segments = {d.tracking_id or d.label: d.number for d in inputs["segmentation"].segments}
    marks, labels = consensus_content(agreement, protocol, segments=segments)
    return {**inputs, "marks": marks, "labels": labels, "creator": "Lead^Lee", "protocol_id": protocol.id,
            "series_description": "SR consensus of 2"}, written


def _planar_case(folder: Path, image_path: Path, labels: np.ndarray, marks: list[dict]) -> dict:
    """A SEG of ``labels`` (label value v = phantom segment v) on a 2D image or cine, measured, with ``marks``."""
    folder.mkdir(parents=True)
    image = open_grid([image_path])
    segmentation = Segmentation.from_labelmap(image.geometry, labels, phantoms.PHANTOM_SEGMENTS[:int(labels.max())],
                                              reference=image, author="Reader^Anna")
    write_seg(segmentation, folder / "seg.dcm")
    segmentation = read_seg(folder / "seg.dcm", image)
    marks = read_marks(write_json(folder / "marks.json", {"marks": marks}), image)
    return {"segmentation": segmentation, "seg": read_header(folder / "seg.dcm"), "marks": marks,
            "measurements": measure_on_series(segmentation, image)}


def _radiograph(folder: Path) -> tuple[dict, None]:
    """highdicom's DX image (calibrated at the detector: Imager Pixel Spacing): a SEG and marks of every kind,
    areas and lengths in mm, a label on a mark."""
    dx = third_party_file("highdicom/dx_image.dcm")
    labels = np.zeros((1, 169, 211), dtype=np.uint8)
    labels[0, 20:60, 30:90], labels[0, 100:120, 100:150] = 1, 2
    lesion = ["52988006", "SCT", "Lesion"]
    inputs = _planar_case(folder, dx, labels, [
        {"kind": "point", "label": lesion, "points": [[10.5, 20.5]]},
        {"kind": "box", "label": lesion, "points": [[10, 10], [40, 30]]},
        {"kind": "polygon", "label": lesion, "points": [[1, 1], [90, 2], [50, 80]]},
        {"kind": "polyline", "label": lesion, "points": [[1, 1], [90, 2], [50, 80]]},
        {"kind": "ellipse", "label": lesion, "points": [[20, 50], [120, 50], [70, 30], [70, 70]]}])
    coded = write_json(folder / "coded.json", {"labels": [
        {"mark": 1, "name": ["246112005", "SCT", "Severity"], "value": ["255604002", "SCT", "Mild"]}]})
    return {**inputs, "labels": read_labels(coded, inputs["segmentation"].segments, inputs["marks"]),
            "creator": "Doe^Jane"}, None


def _ybr_cine(folder: Path) -> Path:
    """pydicom's YBR ultrasound cine, copied into ``folder``."""
    folder.mkdir(parents=True)
    cine = folder / "cine.dcm"
    ds = pydicom.dcmread(get_testdata_file("examples_ybr_color.dcm"))
    del ds.EthnicGroup  # PS3.3 retired it from the Patient module after 2020: highdicom no longer copies it, we do
    ds.save_as(cine)
    return cine


def _cine(folder: Path) -> tuple[dict, None]:
    """pydicom's YBR ultrasound cine: one segment on frames 4 and 11 (a group per frame), marks on frames, one in
    its calibrated region (mm) and one beside it (pixels)."""
    cine = _ybr_cine(folder)
    labels = np.zeros((30, 240, 320), dtype=np.uint8)
    labels[3, 50:80, 100:140], labels[10, 70:90, 100:140], labels[10, 100:110, 200:220] = 1, 1, 2
    return _planar_case(folder / "report", cine, labels, [
        {"kind": "polygon", "label": "LV", "frame": 4, "points": [[100, 50], [140, 50], [140, 80], [100, 80]]},
        {"kind": "polyline", "label": "outside the region", "frame": 11, "points": [[10, 10], [40, 50]]}]), None


def _ejection_fraction(folder: Path) -> tuple[dict, None]:
    """The echocardiography protocol on pydicom's YBR cine: the end-diastolic outline on frame 4, the end-systolic
    one on frame 11, and the EF of the two by area-length (``sr export --protocol`` adds it)."""
    cine = _ybr_cine(folder)
    protocol = load_protocol("lv-function-echo-us")
    image = open_grid([cine])
    labels = np.zeros(image.geometry.array_shape, dtype=np.uint8)
    labels[3, 50:90, 100:160], labels[10, 60:90, 110:150] = 1, 2
    segmentation = Segmentation.from_labelmap(image.geometry, labels, protocol.segment_descriptions(),
                                              reference=image, author="Reader^Anna")
    write_seg(segmentation, folder / "seg.dcm")
    segmentation = read_seg(folder / "seg.dcm", image)
    measured = measure_on_series(segmentation, image)
    return {"segmentation": segmentation, "seg": read_header(folder / "seg.dcm"), "measurements": measured,
            "protocol_id": protocol.id, "ejection_fraction": ejection_fraction(measured, protocol)}, None


def _ultrasound_marks(folder: Path) -> tuple[dict, None]:
    """pydicom's palette ultrasound image: marks alone (no SEG) in its calibrated region."""
    folder.mkdir(parents=True)
    image = open_images([get_testdata_file("examples_palette.dcm")])
    marks = read_marks(write_json(folder / "marks.json", {"marks": [
        {"kind": "box", "label": "cyst", "points": [[200, 100], [260, 140]]},
        {"kind": "point", "label": "apex", "points": [[300.5, 80.5]]}]}), image)
    return {"segmentation": None, "seg": None, "measurements": [], "reference": image, "marks": marks}, None


def _pet_suv(folder: Path) -> tuple[dict, None]:
    """A lesion drawn on the CT of a PET/CT and an empty segment: CT volume, diameter and HU, and SUVbw max, mean and
    peak, MTV and TLG measured on the PET (the empty one: MTV and TLG of 0 alone)."""
    segmentation, pet = write_case(folder)
    with_empty = Segmentation(segmentation.geometry, [*segmentation.segments, SegmentDescription(2, "Empty")],
                              {1: segmentation.mask(1)}, reference=segmentation.reference)
    write_seg(with_empty, folder / "seg2.dcm")
    measured = _measured(folder / "ct", folder / "seg2.dcm")
    uptake = uptake_statistics(measured["segmentation"], pet, series_suv_scale(pet))
    return {**measured, "measurements": with_uptake(measured["measurements"], uptake), "measured_series": [pet]}, None


# ------------------------------------------------------------------ the same document as highdicom's
def _differences(ours: pydicom.Dataset, theirs: pydicom.Dataset, where: str = "") -> list[str]:
    found = []
    keywords = ({e.keyword for e in ours} | {e.keyword for e in theirs}) - NOT_COMPARED
    tracking_uid = "ConceptNameCodeSequence" in ours and _name(ours) == TRACKING_UID
    for keyword in sorted(keywords - ({"UID"} if tracking_uid else set())):
        if keyword not in ours or keyword not in theirs:
            found.append(f"{where}{keyword}: only in {'ours' if keyword in ours else 'highdicom'}")
            continue
        a, b = ours[keyword], theirs[keyword]
        if a.VR != b.VR:
            found.append(f"{where}{keyword}: VR {a.VR} != {b.VR}")
        elif a.VR == "SQ":
            if len(a.value) != len(b.value):
                found.append(f"{where}{keyword}: {len(a.value)} items, highdicom {len(b.value)}")
            for n, (x, y) in enumerate(zip(a.value, b.value, strict=False)):
                found.extend(_differences(x, y, f"{where}{keyword}[{n}]."))
        elif a.VR == "DS" and str(a.value) != str(b.value):  # the text written, not the float it came from
            found.append(f"{where}{keyword}: {a.value!r} != {b.value!r}")
        elif a.VR == "FL" and not np.array_equal(np.float32(a.value), np.float32(b.value)):  # as highdicom's is written
            found.append(f"{where}{keyword}: {a.value!r} != {b.value!r}")
        elif a.VR not in ("DS", "FL") and a.value != b.value:
            found.append(f"{where}{keyword}: {a.value!r} != {b.value!r}")
    return found


def _name(item: pydicom.Dataset) -> tuple[str, str]:
    code = item.ConceptNameCodeSequence[0]
    return str(code.CodeValue), str(code.CodingSchemeDesignator)


def _without_uids(summary: dict) -> dict:
    """``sr info`` of a report apart from what is new in every document (its UID, new tracking UIDs)."""
    text = json.dumps({**summary, "sop_instance_uid": None})
    for uid in {entry["tracking_uid"] for key in ("measurements", "labels", "regions") for entry in summary[key]}:
        text = text.replace(uid or "null", "tracking-uid")
    return json.loads(text)


@pytest.mark.parametrize("kind", KINDS)
def test_report_is_highdicoms_item_by_item(reports, kind, tmp_path):
    inputs, path = reports[kind]
    ours = pydicom.dcmread(path)
    theirs = highdicom_sr(**inputs)
    equipment = theirs.ContributingEquipmentSequence
    assert [item.ManufacturerModelName for item in equipment] == ["highdicom"]
    del theirs.ContributingEquipmentSequence  # highdicom names itself; we are the Manufacturer
    assert _differences(ours, theirs) == []
    for keyword in ("MediaStorageSOPClassUID", "TransferSyntaxUID"):
        assert ours.file_meta[keyword].value == theirs.file_meta[keyword].value
    # `sr info` reads ours as it reads the report highdicom wrote (the JSON of the CLI contract)
    theirs.save_as(tmp_path / "highdicom.dcm", enforce_file_format=True)
    assert _without_uids(sr_summary(path)) == _without_uids(sr_summary(tmp_path / "highdicom.dcm"))


# ------------------------------------------------------------------ valid, and read back by three readers
@pytest.mark.parametrize("kind", KINDS)
def test_valid_and_read_by_highdicom_dcmqi_and_dcmjs(reports, kind, tmp_path):
    inputs, path = reports[kind]
    assert dciodvfy_errors(path) == []
    summary = sr_summary(path)
    expected = _groups(summary)

    report = hd.sr.srread(path).content
    highdicoms = [*report.get_volumetric_roi_measurement_groups(), *report.get_planar_roi_measurement_groups(),
                  *report.get_image_measurement_groups()]
    assert sorted((g.tracking_identifier, str(g.tracking_uid), sorted(
        (m.name.value, m.derivation.value if m.derivation else None, _rounded(m.value), m.unit.value)
        for m in g.get_measurements())) for g in highdicoms) == sorted(
        (tracking_id, uid, sorted((m[0], m[1], m[2], m[3]) for m in measured))
        for (tracking_id, uid), (measured, _, _) in expected.items())

    dcmjs = json.loads(node_script("read_sr.js", path))
    assert dcmjs["template"] == "1500" and dcmjs["title"] == ["126000", "DCM", "Imaging Measurement Report"]
    all_series = [inputs["segmentation"].reference if inputs["segmentation"] else inputs["reference"],
                  *inputs.get("measured_series", [])]
    source_uids = [str(ds.SOPInstanceUID) for series in all_series for ds in series.datasets]
    assert dcmjs["library"] == source_uids
    assert set(dcmjs["evidence"]) == {*source_uids, *([str(inputs["seg"].SOPInstanceUID)] if inputs["seg"] else [])}
    found = {(g["trackingId"], g["trackingUid"]): (
        sorted((m["name"][0], m["derivation"][0] if m["derivation"] else None, _rounded(m["value"]), m["unit"][0])
               for m in g["measurements"]),
        sorted((e["name"][0], e["value"][0]) for e in g["evaluations"]),
        [(r["graphicType"], len(r["points"]) // r["dimensions"]) for r in g["regions"]]) for g in dcmjs["groups"]}
    assert found == {key: (sorted(measured), labels, regions) for key, (measured, labels, regions) in expected.items()}

    dcmqi = dcmqi_read_sr(path, tmp_path)["Measurements"]
    assert {(g["TrackingIdentifier"], g["TrackingUniqueIdentifier"]) for g in dcmqi} == set(expected)
    for group in dcmqi:
        measured = expected[group["TrackingIdentifier"], group["TrackingUniqueIdentifier"]][0]
        theirs = sorted((item["quantity"]["CodeValue"], item.get("derivationModifier", {}).get("CodeValue"),
                         _rounded(float(item["value"])), item["units"]["CodeValue"])
                        for item in group["measurementItems"])
        assert theirs == sorted(measured)


def _groups(summary: dict) -> dict[tuple[str, str], tuple[list, list, list]]:
    """Per (tracking identifier, UID): measurements, labels and regions as ``sr info`` reads them."""
    groups: dict[tuple[str, str], tuple[list, list, list]] = {}
    for key in ("measurements", "labels", "regions"):
        for entry in summary[key]:
            group = groups.setdefault((entry["tracking_id"], entry["tracking_uid"]), ([], [], []))
            if key == "measurements":
                group[0].append((entry["name"][0], entry["derivation"][0] if entry["derivation"] else None,
                                 _rounded(entry["value"]), entry["unit"][0]))
            elif key == "labels":
                group[1].append((entry["name"][0], entry["value"][0]))
            else:
                group[2].append((entry["graphic_type"], len(entry.get("points_mm") or entry["points"])))
    for _, labels, _ in groups.values():
        labels.sort()
    return groups


def _rounded(value: float) -> float:
    """A measured value to 12 significant digits: readers take the exact Floating Point Value or the
    16-character Numeric Value text (``sr info`` the latter)."""
    return float(f"{value:.12g}")


def test_a_report_with_nothing_to_hold_is_refused(reports):
    from DICOMAnnotatorLib.errors import SegmentationError

    inputs, _ = reports["marks-alone"]
    with pytest.raises(SegmentationError, match="no measurement group"):
        build_sr(None, None, [], reference=inputs["reference"])


def test_marks_survive_the_float32_of_scoord3d(reports):
    """SCOORD3D Graphic Data is FL: what readers get back is the mark's points to float32 precision."""
    inputs, path = reports["marks-alone"]
    regions = sr_summary(path)["regions"]
    for mark, region in zip(inputs["marks"], regions, strict=True):
        np.testing.assert_allclose(region["points_mm"], mark.points_mm, rtol=1e-6, atol=1e-5)


def test_the_modalities_written_without_pydicoms_cid_table_are_cid_29s():
    from DICOMAnnotatorLib.sr.templates import ANNOTATED_MODALITIES
    from pydicom.sr.codedict import codes

    cid29 = {getattr(codes.cid29, name).value: getattr(codes.cid29, name).meaning for name in codes.cid29.dir()}
    assert {value: cid29[value] for value in ANNOTATED_MODALITIES} == ANNOTATED_MODALITIES
