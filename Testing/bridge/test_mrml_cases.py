"""The modules' whole flow on real MRML (slicer-core) and a real store: annotate, submit, merge, review, sign, export.

This is what the DICOMAnnotator and DICOMAnnotatorReview Logic classes do when a clinician
clicks through them; the Widgets only call these steps.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from conftest import dciodvfy_errors
from DICOMAnnotatorLib import review
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.cases import AnnotatorDesk, ReviewerDesk
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review.sample_project import create_sample_project
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.sr.reader import sr_summary
from scipy import ndimage

pytestmark = pytest.mark.bridge


@pytest.fixture
def project(write_phantom, tmp_path):
    """A liver-lesions-ct project (2 annotators, reviewer then radiologist) with one phantom case, assigned."""
    folder, _, _, labels = write_phantom()
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "liver", load_protocol("liver-lesions-ct"), folder)
    return url, labels


def _draw(session, masks):
    """Paint masks {structure label: mask} into the session's segmentation node, as the Segment Editor would."""
    descriptions = [d for d in session.protocol.segment_descriptions() if d.label in masks]
    drawn = Segmentation(session.series.geometry, descriptions,
                         {d.number: masks[d.label] for d in descriptions}, reference=session.series)
    bridge.segmentation_to_node(drawn, session.scene, session.volume_node, node=session.segmentation_node)


def test_annotate_review_sign_and_export(project, tmp_path):
    url, labels = project
    liver, lesion = labels == 1, labels == 2
    cyst = load_protocol("liver-lesions-ct").structure("Liver lesion type").values[0]

    # ann draws, keeps a draft, closes the scene, and resumes it in a new scene.
    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("liver")
    assert [d.label for d in session.segmentation().segments] == ["Liver", "Liver lesion"]
    _draw(session, {"Liver": liver, "Liver lesion": lesion})
    session.set_label("Liver lesion", "Liver lesion type", cyst)
    ann.save_draft()
    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("liver")
    assert np.array_equal(session.segmentation().mask(1), liver) and session.labels
    files, sr_path, case = ann.submit()
    assert case.state is review.CaseState.IN_PROGRESS
    assert ann.session is None and ann.scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0, \
        "a submitted case is closed: its nodes left the scene"
    with pytest.raises(InputError, match="Open a case first"):
        ann.save_draft()
    assert dciodvfy_errors(files.seg) == [] and dciodvfy_errors(sr_path) == []
    report = sr_summary(sr_path)
    assert {m["segment"] for m in report["measurements"]} == {1, 2}
    written = read_seg(files.seg, session.series)  # the SR measured the segments the SEG holds
    assert {m["segment"]: m["value"] for m in report["measurements"] if m["name"][0] == "118565006"} == \
        {d.number: pytest.approx(written.volume_ml(d.number), rel=1e-12) for d in written.segments}
    assert [g["tracking_id"] for g in report["measurements"][::6]] == [d.label for d in written.segments]
    assert report["labels"][0]["value"] == cyst.as_list()

    # ben draws a slightly larger liver and no lesion label.
    ben = AnnotatorDesk(bridge.create_headless_scene(), url, "ben", tmp_path / "ben")
    _draw(ben.open_next_case("liver"), {"Liver": ndimage.binary_dilation(liver), "Liver lesion": lesion})
    assert ben.submit()[2].state is review.CaseState.SUBMITTED
    with pytest.raises(review.EmptyQueueError):
        AnnotatorDesk(bridge.create_headless_scene(), url, "ben", tmp_path / "ben").open_next_case("liver")

    # rev compares, merges with STAPLE, trims the consensus, records it and approves tier 1.
    rev = ReviewerDesk(bridge.create_headless_scene(), url, "rev", tmp_path / "rev")
    compare = rev.open_next_case("liver")
    assert rev.action == "consensus" and sorted(compare.names) == ["ann", "ben"]
    assert {row.segment for row in compare.agreement_rows()} == {"Liver", "Liver lesion"}
    compare.build_consensus("staple")
    trimmed = compare.consensus().mask(1)
    trimmed[np.nonzero(trimmed)[0].max()] = False
    _draw_consensus(compare, trimmed)
    assert rev.record_consensus().state is review.CaseState.IN_REVIEW
    with review.ReviewStore(url) as store:
        recorded = review.show_case(store, rev.case.id, "rev")["consensus"][0]["agreement"]
    assert [(label["target"], label["answers"]) for label in recorded["annotations"]["labels"]] == \
        [("Liver lesion", [cyst.as_list(), None])], "the SRs' answers are compared with the segments"
    with review.ReviewStore(url) as store:
        consensus_sr = review.show_case(store, rev.case.id, "rev")["consensus"][0]["sr"]
    assert dciodvfy_errors(consensus_sr) == []
    merged_report = sr_summary(consensus_sr)
    assert [(label["segment"], label["value"]) for label in merged_report["labels"]] == [(2, cyst.as_list())]
    assert {m["segment"] for m in merged_report["measurements"]} == {1, 2}, "the consensus SEG's segments measured"
    assert rev.approve().tier == 2

    # rad sees the recorded consensus, approves and signs; the signed file is the one rev recorded.
    rad = ReviewerDesk(bridge.create_headless_scene(), url, "rad", tmp_path / "rad")
    final_review = rad.open_next_case("liver")
    assert rad.action == "review" and np.array_equal(final_review.consensus().mask(1), trimmed)
    with pytest.raises(review.IllegalTransitionError, match="possible only when a case is approved"):
        rad.sign("Approved")  # not yet approved at the radiologist's tier
    assert rad.approve("Good").state is review.CaseState.APPROVED
    signature = rad.sign("Approved as reference standard")
    assert read_seg(signature.path, final_review.series).author == "rev"
    exported = final_review.export(tmp_path / "export", ("seg", "nifti", "models"))
    assert np.array_equal(read_seg(exported["seg"], final_review.series).mask(1), trimmed)
    with review.ReviewStore(url) as store, store.read() as conn:
        assert review.verify_chain(conn).intact


def _draw_consensus(session, liver_mask):
    descriptions = [d for d in session.consensus().segments if d.label == "Liver"]
    bridge.segmentation_to_node(
        Segmentation(session.series.geometry, descriptions, {descriptions[0].number: liver_mask},
                     reference=session.series), session.scene, session.volume_node, node=session.consensus_node)


def test_annotator_cannot_open_review_work_or_submit_without_a_case(project, tmp_path):
    url, _ = project
    desk = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    with pytest.raises(InputError, match="Open a case first"):
        desk.submit()
    session = desk.open_next_case("liver")
    with pytest.raises(InputError, match="Required structure"):
        desk.submit()
    assert pydicom.dcmread(session.series.datasets[0].filename).Modality == "CT"


def test_landmark_protocol_submits_srs_and_reviews_their_marks(write_phantom, tmp_path):
    """Vertebral fractures: landmarks as markups, graded; SR-only submissions, compared, merged, reviewed, signed."""
    folder, *_ = write_phantom()
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "spine", load_protocol("vertebral-fractures-ct"), folder)
    grades = {v.meaning: v for v in load_protocol("vertebral-fractures-ct").structure("Genant fracture grade").values}

    # ann places L1 and L2 and grades them, keeps a draft, resumes it and submits; ben places L1 3 mm away
    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("spine")
    session.markups_node("L1").AddControlPointWorld(1.0, 2.0, 3.0)  # RAS
    session.markups_node("L2").AddControlPointWorld(1.0, 2.0, 13.0)
    session.set_label("L1", "Genant fracture grade", grades["Mild"])
    session.set_label("L2", "Genant fracture grade", grades["None"])
    ann.save_draft()
    resumed = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = resumed.open_next_case("spine")
    assert session.marks()[0] == {"kind": "point", "label": "L1", "points_mm": [[-1.0, -2.0, 3.0]]}
    assert session.labels[("L1", "Genant fracture grade")] == grades["Mild"]
    files, ann_sr, case = resumed.submit()
    assert not files.seg.exists() and case.state is review.CaseState.IN_PROGRESS
    assert dciodvfy_errors(ann_sr) == []
    assert sorted(r["tracking_id"] for r in sr_summary(ann_sr)["regions"]) == ["L1", "L2"]
    ben = AnnotatorDesk(bridge.create_headless_scene(), url, "ben", tmp_path / "ben")
    session = ben.open_next_case("spine")
    session.markups_node("L1").AddControlPointWorld(4.0, 2.0, 3.0)
    session.set_label("L1", "Genant fracture grade", grades["Moderate"])
    assert ben.submit()[2].state is review.CaseState.SUBMITTED

    # rad compares the two annotators' marks and answers, records the consensus SR, approves and signs
    rad = ReviewerDesk(bridge.create_headless_scene(), url, "rad", tmp_path / "rad")
    compare = rad.open_next_case("spine")
    assert compare.names == ["ann", "ben"] and not compare.editable_consensus
    points = compare.nodes["ann"][0]
    assert points.GetNumberOfControlPoints() == 2 and points.GetNthControlPointLabel(0) == "L1"
    table = compare.agreement_table()
    assert ["L1", "ann", "ben", "3.0 mm apart"] in table and ["L2", "ben", "", "not marked"] in table
    assert ["L1: Severity", "ann / ben", "Mild / Moderate", "disagree"] in table
    compare.show_only("ben")
    assert not points.GetDisplayNode().GetVisibility()
    assert rad.record_consensus().state is review.CaseState.IN_REVIEW
    consensus_points = compare.consensus_node[0]
    position = [0.0, 0.0, 0.0]
    consensus_points.GetNthControlPointPositionWorld(0, position)
    assert position == pytest.approx([2.5, 2.0, 3.0]), "L1 at the mean of the two"
    assert rad.approve().state is review.CaseState.APPROVED
    signature = rad.sign("Reference standard")
    assert dciodvfy_errors(signature.path) == []
    exported = compare.export(tmp_path / "export", ("seg",))
    assert sorted(r["tracking_id"] for r in sr_summary(exported["sr"])["regions"]) == ["L1", "L2"], \
        "L2, marked by one annotator of two, reaches the protocol's threshold of 0.5"
    with review.ReviewStore(url) as store, store.read() as conn:
        assert review.verify_chain(conn).intact


def test_box_protocol_submits_roi_boxes_on_their_image_plane_and_compares_them(write_phantom, tmp_path):
    """Mammography boxes: an ROI drawn in a slice view has a thickness; its rectangle goes on the nearest slice."""
    folder, geometry, *_ = write_phantom()
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "mg", load_protocol("breast-lesions-mg"), folder)
    birads = load_protocol("breast-lesions-mg").structure("BI-RADS assessment").values[1]
    centre = bridge.ras_point(geometry.index_to_lps([[10, 12, 3.3]])[0])
    for name, shift in (("ann", 0.0), ("ben", 5.0)):
        desk = AnnotatorDesk(bridge.create_headless_scene(), url, name, tmp_path / name)
        session = desk.open_next_case("mg")
        roi = session.markups_node("Mass")
        roi.SetXYZ(centre[0] + shift, centre[1], centre[2])
        roi.SetRadiusXYZ(10.0, 10.0, 2.5)  # 5 mm thick
        session.set_label("Mass", "BI-RADS assessment", birads)
        files, sr_path, _ = desk.submit()
        assert not files.seg.exists() and dciodvfy_errors(sr_path) == []
        [region] = sr_summary(sr_path)["regions"]
        corners = np.array(region["points_mm"])
        assert region["graphic_type"] == "POLYGON" and len(corners) == 5
        assert np.allclose(corners[:, 2], geometry.index_to_lps([[0, 0, 3]])[0][2]), "on slice 3, the nearest"
    rad = ReviewerDesk(bridge.create_headless_scene(), url, "rad", tmp_path / "rad")
    compare = rad.open_next_case("mg")
    assert ["Mass", "ann", "ben", "IoU 0.60"] in compare.agreement_table()  # 20x20 mm boxes 5 mm apart: 300/500
    assert compare.nodes["ann"][0].GetClassName() == "vtkMRMLMarkupsClosedCurveNode"


def test_the_annotator_starts_from_the_ai_draft_and_the_store_measures_the_corrections(project, tmp_path):
    """A FRACTIONAL AI draft (nnU-Net probabilities) loads as the starting segmentation; the submission's
    corrections and the time from opening the case are recorded."""
    import json

    url, labels = project
    liver, lesion = labels == 1, labels == 2
    grown = ndimage.binary_dilation(liver)
    probabilities = np.stack([~grown, grown & ~lesion, lesion]).astype(np.float32) * 0.9 + 0.05
    np.savez_compressed(tmp_path / "case.npz", probabilities=probabilities)
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "liver": 1, "tumour": 2}}))
    with review.ReviewStore(url) as store:
        review.import_draft(store, 1, "lead", tmp_path / "case.npz", algorithm="nnUNet", algorithm_version="2",
                            label_table=tmp_path / "dataset.json", labels={"tumour": "Liver lesion"})

    ann = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", tmp_path / "ann")
    session = ann.open_next_case("liver")
    drawn = session.segmentation()
    masks = {d.label: drawn.mask(d.number) for d in drawn.segments}
    assert np.array_equal(masks["Liver"], grown & ~lesion) and np.array_equal(masks["Liver lesion"], lesion)
    assert {d.algorithm_type.value for d in drawn.segments} == {"MANUAL"}, "the annotator's segments from here on"

    _draw(session, {"Liver": liver, "Liver lesion": lesion})  # the annotator trims what the model grew
    ann.submit()
    with review.ReviewStore(url) as store:
        status = review.project_status(store, "liver")["drafts"]["segments"]
    recorded = {entry["segment"]: entry for entry in status}
    assert recorded["Liver"]["voxels_removed"] == int((grown & ~lesion & ~liver).sum())
    assert recorded["Liver"]["voxels_added"] == 0 and recorded["Liver lesion"]["mean_dice"] == 1.0
    assert recorded["Liver"]["mean_seconds_open_to_submit"] > 0
