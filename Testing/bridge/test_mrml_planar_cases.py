"""Cases of 2D images and cine loops at the desks, on real MRML (slicer-core) and a real store.

A radiograph opens as a one-slice volume and an ultrasound cine as a sequence whose browser shows one frame
(Slicer's DICOMScalarVolumePlugin and DICOMImageSequencePlugin); what is painted on a frame stays with that frame
when the view moves (by the desk or by the browser), and the submitted SEG holds one frame per painted cine frame
and segment, each naming its instance and frame. Reviewers see each annotator's submission on the same frames.
"""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from conftest import dciodvfy_errors, third_party_file
from DICOMAnnotatorLib import review
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.imaging import ImageGrid, Segmentation, open_images
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.cases import AnnotatorDesk, ReviewerDesk
from DICOMAnnotatorLib.mrml.planar import CineNodes
from DICOMAnnotatorLib.protocols import Protocol, load_protocol
from DICOMAnnotatorLib.review.sample_project import create_sample_project
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.sr.reader import sr_summary
from planar_cases import exam_folder, fracture_protocol
from pydicom.data import get_testdata_file

pytestmark = pytest.mark.bridge


def case_folder(tmp_path, source) -> str:
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(source, folder / "image.dcm")
    return str(folder)


def paint(session, masks: dict[str, np.ndarray]) -> None:
    """Paint 2D masks {structure label: [rows, columns]} on the image or frame in view, as the Segment Editor would
    (the other segments keep what they hold)."""
    image = session.views.image
    grid = ImageGrid.of_pixels(image.columns, image.rows, 1, image.calibration.spacing)
    descriptions = [d for d in session.protocol.segment_descriptions() if d.label in masks]
    drawn = Segmentation(grid, descriptions, {d.number: masks[d.label][np.newaxis] for d in descriptions})
    bridge.segmentation_to_node(drawn, session.scene, session.volume_node, node=session.segmentation_node)


def in_view(session, node, label: str) -> np.ndarray:
    """What ``node`` shows of segment ``label`` on the image or frame in view."""
    shown = bridge.segmentation_from_nodes(node, session.volume_node)
    return next(shown.mask(d.number)[0] for d in shown.segments if d.label == label)


def box(rows, columns, shape) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[rows[0]:rows[1], columns[0]:columns[1]] = True
    return mask


@pytest.mark.shared_data
def test_a_radiograph_is_annotated_submitted_in_mm_and_reviewed(tmp_path):
    """highdicom's DX image (211 x 169 pixels, Imager Pixel Spacing 1.2 mm): a one-slice volume; a fracture painted
    and its site marked, kept as a draft, resumed, submitted as SEG + SR in mm; two annotators merged and approved."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "dx", fracture_protocol(), case_folder(tmp_path, third_party_file(
        "highdicom/dx_image.dcm")))
    [image] = open_images(third_party_file("highdicom/dx_image.dcm")).images
    fracture = box((60, 90), (80, 120), (image.rows, image.columns))

    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("dx")
    assert session.volume_node.GetImageData().GetDimensions() == (211, 169, 1)
    assert session.volume_node.GetClassName() == "vtkMRMLScalarVolumeNode"
    paint(session, {"Fracture": fracture})
    session.markups_node("Fracture site").AddControlPointWorld(*bridge.ras_point(session.views.lps_of([100.5, 75.5],
                                                                                                      0)))
    ann.save_draft()
    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("dx")
    assert np.array_equal(session.segmentation().mask(1)[0], fracture), "the draft resumed on its image"
    assert session.marks() == [{"kind": "point", "label": "Fracture site", "instance": image.sop_instance_uid,
                                "points": [[pytest.approx(100.5), pytest.approx(75.5)]]}]
    files, sr_path, case = ann.submit()
    assert case.state is review.CaseState.IN_PROGRESS
    assert dciodvfy_errors(files.seg) == [] and dciodvfy_errors(sr_path) == []
    assert np.array_equal(read_seg(files.seg, image).mask(1)[0], fracture)
    written = pydicom.dcmread(files.seg)
    [source] = written.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence
    assert source.ReferencedSOPInstanceUID == image.sop_instance_uid
    report = sr_summary(sr_path)
    area = next(m for m in report["measurements"] if m["name"][2] == "Area")
    assert area["unit"][0] == "mm2" and area["value"] == pytest.approx(30 * 40 * 1.2 * 1.2012, rel=1e-6)
    [site] = report["regions"]
    assert site["graphic_type"] == "POINT" and site["points"] == [[pytest.approx(100.5), pytest.approx(75.5)]]

    ben = AnnotatorDesk(bridge.create_headless_scene(), url, "ben", tmp_path / "ben")
    paint(ben.open_next_case("dx"), {"Fracture": box((62, 92), (80, 120), fracture.shape)})
    assert ben.submit()[2].state is review.CaseState.SUBMITTED

    rad = ReviewerDesk(bridge.create_headless_scene(), url, "rad", tmp_path / "rad")
    compare = rad.open_next_case("dx")
    assert rad.action == "consensus" and sorted(compare.names) == ["ann", "ben"]
    assert np.array_equal(in_view(compare, compare.nodes["ann"], "Fracture"), fracture)
    assert in_view(compare, compare.nodes["ben"], "Fracture").sum() == fracture.sum()
    assert compare.agreement_rows()[0].dice == pytest.approx(2 * 28 * 40 / (2 * 30 * 40))
    assert rad.record_consensus("majority").state is review.CaseState.IN_REVIEW
    assert rad.approve().state is review.CaseState.APPROVED
    assert read_seg(rad.sign("Reference standard").path, image).voxel_count(1) == 28 * 40


def test_a_cine_is_painted_frame_by_frame_and_its_seg_names_each_frame(tmp_path):
    """pydicom's ultrasound cine (YBR_FULL_422, 30 frames of 320 x 240): the end-diastolic outline on frame 3 and
    the end-systolic one on frame 12, each kept with its frame as the view moves (by the desk or the sequence
    browser); the SEG has one frame for each, naming the cine and that frame; the reviewer sees both submissions
    on each frame and edits the consensus frame by frame."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "echo", load_protocol("lv-function-echo-us"), case_folder(
        tmp_path, get_testdata_file("examples_ybr_color.dcm")))
    [cine] = open_images(get_testdata_file("examples_ybr_color.dcm")).images
    shape = (cine.rows, cine.columns)
    diastole, systole = box((60, 160), (100, 200), shape), box((80, 140), (120, 180), shape)

    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("echo")
    nodes = session.views.cine_nodes()
    assert isinstance(nodes, CineNodes) and nodes.sequence.GetNumberOfDataNodes() == 30
    assert session.volume_node is nodes.proxy and session.volume_node.GetClassName() == "vtkMRMLVectorVolumeNode"
    session.views.show(frame=2)
    paint(session, {"LV endocardium ED": diastole})
    nodes.browser.SetSelectedItemNumber(11)  # the browser's slider: the desk follows it
    assert session.views.frame_index == 11 and not in_view(session, session.segmentation_node,
                                                             "LV endocardium ED").any()
    paint(session, {"LV endocardium ES": systole})
    session.views.show(frame=2)
    assert np.array_equal(in_view(session, session.segmentation_node, "LV endocardium ED"), diastole)
    assert not in_view(session, session.segmentation_node, "LV endocardium ES").any()
    ann.save_draft()
    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("echo")
    drawn = session.segmentation()
    assert drawn.geometry.size == (320, 240, 30)
    assert [int(k) for k in np.flatnonzero(drawn.mask(1).any(axis=(1, 2)))] == [2]
    assert [int(k) for k in np.flatnonzero(drawn.mask(2).any(axis=(1, 2)))] == [11]
    files, sr_path, _ = ann.submit()
    assert [ann.scene.GetNumberOfNodesByClass(kind) for kind in (
        "vtkMRMLVolumeNode", "vtkMRMLSequenceNode", "vtkMRMLSequenceBrowserNode", "vtkMRMLDisplayNode",
        "vtkMRMLSegmentationNode")] == [0] * 5, "the submitted case's nodes left the scene, display nodes too"
    assert dciodvfy_errors(files.seg) == [] and dciodvfy_errors(sr_path) == []
    written = pydicom.dcmread(files.seg)
    frames = []
    for frame in written.PerFrameFunctionalGroupsSequence:
        [source] = frame.DerivationImageSequence[0].SourceImageSequence
        frames.append((int(frame.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
                       source.ReferencedSOPInstanceUID, int(source.ReferencedFrameNumber)))
    assert frames == [(1, cine.sop_instance_uid, 3), (2, cine.sop_instance_uid, 12)]
    stored = read_seg(files.seg, cine)
    assert np.array_equal(stored.mask(1)[2], diastole) and np.array_equal(stored.mask(2)[11], systole)
    areas = [m for m in sr_summary(sr_path)["measurements"] if m["name"][2] == "Area"]
    pixel_area = cine.geometry.spacing[0] * cine.geometry.spacing[1]  # its ultrasound region's physical deltas
    assert cine.geometry.calibrated and [(m["value"], m["unit"][0]) for m in areas] == [
        (pytest.approx(100 * 100 * pixel_area), "mm2"), (pytest.approx(60 * 60 * pixel_area), "mm2")]
    # the protocol's ejection fraction, by area-length from each outline's area and length (V = 8 A^2 / (3 pi L))
    reported = sr_summary(sr_path)["measurements"]
    lengths = [m["value"] for m in reported if m["name"][2] == "Diameter"]
    volumes = [8 * m["value"] ** 2 / (3 * np.pi * length) / 1000 for m, length in zip(areas, lengths, strict=True)]
    function = [m for m in reported if m["tracking_id"] == "Left ventricular function"]
    assert [(m["name"][2], m["unit"][0]) for m in function] == [
        ("Left Ventricular End Diastolic Volume", "ml"), ("Left Ventricular End Systolic Volume", "ml"),
        ("Left Ventricular Ejection Fraction by US", "%")]
    assert [m["value"] for m in function] == pytest.approx([*volumes, 100 * (volumes[0] - volumes[1]) / volumes[0]])

    ben = AnnotatorDesk(bridge.create_headless_scene(), url, "ben", tmp_path / "ben")
    session = ben.open_next_case("echo")
    session.views.show(frame=2)
    paint(session, {"LV endocardium ED": box((60, 160), (104, 200), shape)})
    session.views.show(frame=11)
    paint(session, {"LV endocardium ES": systole})
    session.views.show(frame=13)  # a stray end-systolic outline on another frame: no ejection fraction
    paint(session, {"LV endocardium ES": systole})
    with pytest.raises(InputError, match="'LV endocardium ES' .*lies on frames 12, 14"):
        ben.submit()
    with review.ReviewStore(url) as store:
        assert review.show_case(store, ben.case.id, "ben")["submissions"] == [], "nothing of ben's recorded"
    assert not any((tmp_path / "ben" / "submissions").rglob("*.*")), "the refused Submit left nothing"
    paint(session, {"LV endocardium ES": np.zeros_like(systole)})  # erased, Submit is pressed again
    ben.submit()

    rad = ReviewerDesk(bridge.create_headless_scene(), url, "rad", tmp_path / "rad")
    compare = rad.open_next_case("echo")
    compare.views.show(frame=2)
    assert np.array_equal(in_view(compare, compare.nodes["ann"], "LV endocardium ED"), diastole)
    assert in_view(compare, compare.nodes["ben"], "LV endocardium ED").sum() == 100 * 96
    compare.build_consensus("majority")
    trimmed = box((60, 150), (100, 200), shape)  # the reviewer trims the end-diastolic outline on its frame
    descriptions = [d for d in compare.consensus().segments if d.label == "LV endocardium ED"]
    grid = ImageGrid.of_pixels(cine.columns, cine.rows, 1, cine.calibration.spacing)
    bridge.segmentation_to_node(Segmentation(grid, descriptions, {descriptions[0].number: trimmed[np.newaxis]}),
                                compare.scene, compare.volume_node, node=compare.consensus_node)
    # an end-systolic outline left on two frames gives no ejection fraction: refused by name, nothing recorded
    systolic = [d for d in compare.consensus().segments if d.label == "LV endocardium ES"]
    compare.views.show(frame=13)
    bridge.segmentation_to_node(Segmentation(grid, systolic, {systolic[0].number: systole[np.newaxis]}),
                                compare.scene, compare.volume_node, node=compare.consensus_node)
    with pytest.raises(InputError, match="'LV endocardium ES' .*lies on frames 12, 14"):
        rad.record_consensus()
    with review.ReviewStore(url) as store:
        shown = review.show_case(store, rad.case.id, "rad")
    assert shown["consensus"] == [] and shown["state"] == "submitted"
    bridge.segmentation_to_node(Segmentation(grid, systolic, {systolic[0].number: np.zeros_like(systole)[np.newaxis]}),
                                compare.scene, compare.volume_node, node=compare.consensus_node)
    compare.views.show(frame=11)
    assert np.array_equal(in_view(compare, compare.consensus_node, "LV endocardium ES"), systole)
    assert rad.record_consensus().state is review.CaseState.IN_REVIEW
    with review.ReviewStore(url) as store:
        recorded = review.show_case(store, rad.case.id, "rad")["consensus"][0]
    merged = read_seg(recorded["seg"], cine)
    assert np.array_equal(merged.mask(1)[2], trimmed) and np.array_equal(merged.mask(2)[11], systole)
    # the consensus SR carries the consensus outlines' ejection fraction, as each annotator's does
    function = [m for m in sr_summary(recorded["sr"])["measurements"]
                if m["tracking_id"] == "Left ventricular function"]
    edv, esv, ef = (m["value"] for m in function)
    assert [m["unit"][0] for m in function] == ["ml", "ml", "%"] and ef == pytest.approx(100 * (edv - esv) / edv)


def test_an_exams_views_are_chosen_one_at_a_time_marked_with_boxes_and_reviewed(tmp_path):
    """Several 2D images in one case: each shown on its own, boxes placed on one stay with it and are submitted in
    its pixels; the reviewer sees each annotator's boxes on their own view, compares boxes of one view only (the
    same pixels on another view are another place) and records their mean; segments are refused (a SEG has one
    grid)."""
    folder = exam_folder(tmp_path / "exam", get_testdata_file("examples_palette.dcm"))
    url = f"sqlite:///{tmp_path / 'review.db'}"
    protocol = load_protocol("breast-lesions-mg")
    create_sample_project(url, "mg", protocol, folder)
    series = open_images(folder)
    uids = [image.sop_instance_uid for image in series.images]

    def place_box(session, centre_pixel, image):
        session.views.show(image=image)
        roi = session.markups_node("Mass")
        roi.SetXYZ(*bridge.ras_point(session.views.lps_of(centre_pixel, image)))
        roi.SetRadiusXYZ(*(5.0 * np.array(series.images[image].geometry.spacing[:2])), 0.5)  # 10 x 10 pixels
        session.set_label("Mass", "BI-RADS assessment", protocol.structure("BI-RADS assessment").values[1])

    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("mg")
    first = session.volume_node
    place_box(session, [20.0, 30.0], 0)
    session.views.show(image=1)
    assert session.volume_node is not first
    assert not session.markups_node("Mass").GetNumberOfControlPoints(), "the second view has boxes of its own"
    place_box(session, [30.0, 40.0], 1)
    marks = session.marks()
    assert [(m["instance"], m["kind"]) for m in marks] == [(uids[0], "box"), (uids[1], "box")]
    assert np.allclose(marks[1]["points"], [[25.0, 35.0], [35.0, 45.0]]), "the box's corners in its view's pixels"
    ann.save_draft()
    resumed = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = resumed.open_next_case("mg")
    assert session.marks() == marks
    files, sr_path, _ = resumed.submit()
    assert not files.seg.exists() and dciodvfy_errors(sr_path) == []
    assert [r["instance"] for r in sr_summary(sr_path)["regions"]] == uids
    ben = AnnotatorDesk(bridge.create_headless_scene(), url, "ben", tmp_path / "ben")
    session = ben.open_next_case("mg")
    place_box(session, [32.0, 40.0], 1)  # ann's second box, 2 pixels to the right
    place_box(session, [30.0, 40.0], 0)  # where ann's second box is, but on the first view
    ben.submit()

    rad = ReviewerDesk(bridge.create_headless_scene(), url, "rad", tmp_path / "rad")
    compare = rad.open_next_case("mg")
    table = compare.agreement_table()
    assert ["Mass", "ann", "ben", "IoU 0.67"] in table, table  # 8 x 10 of 10 x 10 boxes: 80 / 120
    assert [row[:2] for row in table if row[3] == "not marked"] == [["Mass", "ben"], ["Mass", "ann"]]
    visible = {name: [node.GetDisplayNode().GetVisibility() for node in nodes] for name, nodes in compare.nodes.items()}
    assert visible == {"ann": [1, 0], "ben": [1, 0]}, "on the first view, its boxes only (each SR lists views in order)"
    compare.views.show(image=1)
    visible = {name: [node.GetDisplayNode().GetVisibility() for node in nodes] for name, nodes in compare.nodes.items()}
    assert visible == {"ann": [0, 1], "ben": [0, 1]}
    assert rad.record_consensus().state is review.CaseState.IN_REVIEW
    with review.ReviewStore(url) as store:
        consensus_sr = review.show_case(store, rad.case.id, "rad")["consensus"][0]["sr"]
    assert dciodvfy_errors(consensus_sr) == []
    regions = {(r["instance"], tuple(np.round(np.min(r["points"], axis=0), 3))) for r in sr_summary(consensus_sr)[
        "regions"]}
    assert regions == {(uids[0], (15.0, 25.0)), (uids[0], (25.0, 35.0)), (uids[1], (26.0, 35.0))}, \
        "the matched boxes at their mean; each lone box (half the annotators) where it was"

    with pytest.raises(InputError, match="lie on one image, but series .* holds 2 images"):
        from DICOMAnnotatorLib.mrml.annotation import AnnotationSession

        AnnotationSession(bridge.create_headless_scene(), series, fracture_protocol(), user="ann")


@pytest.mark.shared_data
def test_a_window_preset_applies_to_every_image_of_an_exam(tmp_path):
    """Two radiographs in one case (highdicom's DX image twice) under a marks protocol with a window of its own."""
    folder = exam_folder(tmp_path / "exam", third_party_file("highdicom/dx_image.dcm"))
    data = load_protocol("breast-lesions-mg").to_dict()
    data.update(id="exam-window-test", modality="DX", window_presets=[{"name": "Bone", "center": 600, "width": 2000}])
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "exam", Protocol.from_dict(data), folder)
    session = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann").open_next_case("exam")
    windows = [(node.GetScalarVolumeDisplayNode().GetWindow(), node.GetScalarVolumeDisplayNode().GetLevel())
               for node in session.views.volume_nodes()]
    assert windows == [(2000.0, 600.0)] * 2, "the first preset on both views when the case opens"
