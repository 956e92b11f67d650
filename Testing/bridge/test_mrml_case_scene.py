"""Cases share one MRML scene, as in one Slicer session: each case's nodes are its own (slicer-core).

Slicer keeps one scene for the whole session, so the desks open case after case in it. A case's
nodes live in its subject-hierarchy folder under its study and leave the scene when it closes; a
second case, or the same case reopened, starts from its own nodes only (before, the point lists
were found by attribute anywhere in the scene: a resumed landmark became two identical marks).
"""

from __future__ import annotations

import numpy as np
import pytest
import slicer
import vtk
from DICOMAnnotatorLib import review
from DICOMAnnotatorLib.errors import GeometryMismatchError
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.cases import AnnotatorDesk, ReviewerDesk
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review.sample_project import LEAD, create_sample_project
from DICOMAnnotatorLib.sr.reader import sr_summary

pytestmark = pytest.mark.bridge

DATA_CLASSES = ("vtkMRMLScalarVolumeNode", "vtkMRMLSegmentationNode", "vtkMRMLMarkupsNode")


@pytest.fixture
def spine_project(write_phantom, tmp_path):
    """A vertebral-fractures-ct project with two phantom cases, both assigned to ann and ben."""
    first, *_ = write_phantom(name="first")
    second, *_ = write_phantom(name="second")
    url = f"sqlite:///{tmp_path / 'review.db'}"
    case_ids = [create_sample_project(url, "spine", load_protocol("vertebral-fractures-ct"), first)]
    series = ReferenceSeries.from_paths(second)
    with review.ReviewStore(url) as store:
        case_ids += review.add_cases(store, "spine", [review.SeriesRef(
            series.study_instance_uid, series.series_instance_uid, series.modality, str(second))], actor=LEAD)
        review.assign_cases(store, "spine", actor=LEAD)
    return url, case_ids


def node_names(scene) -> list[str]:
    """Every data node in the scene (volumes, segmentations, markups) by class and name."""
    nodes = [scene.GetNthNodeByClass(n, class_name)
             for class_name in DATA_CLASSES for n in range(scene.GetNumberOfNodesByClass(class_name))]
    return sorted(f"{node.GetClassName()}:{node.GetName()}" for node in nodes)


def display_node_count(scene) -> int:
    return scene.GetNumberOfNodesByClass("vtkMRMLDisplayNode")


def test_two_cases_and_a_reopened_one_in_one_scene_keep_their_own_landmarks(spine_project, tmp_path):
    url, (first_id, second_id) = spine_project
    scene = bridge.create_headless_scene()
    empty = (node_names(scene), display_node_count(scene))
    desk = AnnotatorDesk(scene, url, "ann", tmp_path / "ann")
    grades = {v.meaning: v for v in load_protocol("vertebral-fractures-ct").structure("Genant fracture grade").values}

    session = desk.open_next_case("spine")
    assert desk.case.id == first_id
    session.markups_node("L1").AddControlPointWorld(1.0, 2.0, 3.0)
    desk.save_draft()
    desk.close_case()
    assert (node_names(scene), display_node_count(scene)) == empty, "a closed case leaves nothing in the scene"

    # The same case reopened in the same scene: its draft's one landmark, not two.
    session = desk.open_next_case("spine")
    assert desk.case.id == first_id
    assert session.markups_node("L1").GetNumberOfControlPoints() == 1
    assert {item.label: item.count for item in session.checklist()}["L1"] == 1
    # Next case while it is open (Slicer's "Next case" button): kept as a draft, closed, reopened once more.
    session = desk.open_next_case("spine")
    assert session.markups_node("L1").GetNumberOfControlPoints() == 1
    assert scene.GetNumberOfNodesByClass("vtkMRMLMarkupsFiducialNode") == len(session.markups)
    session.markups_node("L2").AddControlPointWorld(1.0, 2.0, 13.0)
    session.set_label("L1", "Genant fracture grade", grades["Mild"])
    session.set_label("L2", "Genant fracture grade", grades["None"])
    desk.submit()
    assert (node_names(scene), display_node_count(scene)) == empty

    # The second case in the same scene starts with no landmark; its SR holds only its own mark.
    session = desk.open_next_case("spine")
    assert desk.case.id == second_id
    assert all(node.GetNumberOfControlPoints() == 0 for node in session.markups.values())
    assert {item.label: item.count for item in session.checklist()}["L1"] == 0
    session.markups_node("L1").AddControlPointWorld(5.0, 6.0, 7.0)
    session.set_label("L1", "Genant fracture grade", grades["Moderate"])
    _, sr_path, _ = desk.submit()
    [region] = sr_summary(sr_path)["regions"]
    assert region["tracking_id"] == "L1" and np.allclose(region["points_mm"], [[-5.0, -6.0, 7.0]])
    assert (node_names(scene), display_node_count(scene)) == empty


def test_a_case_lives_in_its_folder_under_its_study(spine_project, tmp_path):
    url, (first_id, _) = spine_project
    scene = bridge.create_headless_scene()
    session = AnnotatorDesk(scene, url, "ann", tmp_path / "ann").open_next_case("spine")
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    study = hierarchy.GetItemByUID(slicer.vtkMRMLSubjectHierarchyConstants.GetDICOMUIDName(),
                                   session.series.study_instance_uid)
    assert hierarchy.GetItemLevel(study) == "Study"
    assert hierarchy.GetItemLevel(hierarchy.GetItemParent(study)) == "Patient"
    folder = hierarchy.GetItemParent(hierarchy.GetItemByDataNode(session.segmentation_node))
    assert hierarchy.GetItemName(folder) == f"Case {first_id} (round 1)"
    assert hierarchy.GetItemParent(folder) == study
    children = vtk.vtkIdList()
    hierarchy.GetItemChildren(folder, children)
    held = {hierarchy.GetItemDataNode(children.GetId(n)).GetName() for n in range(children.GetNumberOfIds())}
    assert held == {session.volume_node.GetName(), session.segmentation_node.GetName(), *session.markups}


def test_reviewing_case_after_case_in_one_scene_leaves_only_the_open_one(spine_project, tmp_path):
    url, case_ids = spine_project
    grade = load_protocol("vertebral-fractures-ct").structure("Genant fracture grade").values[0]
    for case_id, name in [(case_id, name) for case_id in case_ids for name in ("ann", "ben")]:
        desk = AnnotatorDesk(bridge.create_headless_scene(), url, name, tmp_path / name)
        session = desk.open_next_case("spine")
        assert desk.case.id == case_id
        session.markups_node("L1").AddControlPointWorld(1.0, 2.0, 3.0)
        session.set_label("L1", "Genant fracture grade", grade)
        desk.submit()
    scene = bridge.create_headless_scene()
    empty = node_names(scene)
    rad = ReviewerDesk(scene, url, "rad", tmp_path / "rad")
    first = rad.open_next_case("spine")
    rad.record_consensus()
    rad.approve()
    second = rad.open_next_case("spine")
    assert first.nodes == {} and first.consensus_node is None, "the first case was closed"
    alone = bridge.create_headless_scene()
    ReviewerDesk(alone, url, "rad", tmp_path / "rad-alone").open_next_case("spine")
    assert node_names(scene) == node_names(alone), "the scene holds the open case's nodes only"
    assert second.consensus_node is None or all(node.GetScene() is not None for node in second.consensus_node)
    rad.close_case()
    assert node_names(scene) == empty


def test_a_case_that_fails_to_open_leaves_nothing_behind(spine_project, tmp_path):
    """A loaded volume that does not match the series is refused, and removed with everything else."""
    url, _ = spine_project
    scene = bridge.create_headless_scene()
    empty = (node_names(scene), display_node_count(scene))

    def wrong_volume(case):
        geometry = VolumeGeometry.from_axes(size=(4, 4, 4), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                                            directions=np.eye(3))
        node = bridge.volume_node_from_array(scene, geometry, np.zeros(geometry.array_shape, np.int16), "Wrong")
        node.CreateDefaultDisplayNodes()
        return node

    desk = AnnotatorDesk(scene, url, "ann", tmp_path / "ann")
    with pytest.raises(GeometryMismatchError):
        desk.open_next_case("spine", load_volume=wrong_volume)
    assert (node_names(scene), display_node_count(scene)) == empty
    assert desk.case is None and desk.session is None


def test_a_box_draft_resumes_as_the_same_box(write_phantom, tmp_path):
    folder, geometry, *_ = write_phantom()
    url = f"sqlite:///{tmp_path / 'review.db'}"
    create_sample_project(url, "mg", load_protocol("breast-lesions-mg"), folder)
    scene = bridge.create_headless_scene()
    desk = AnnotatorDesk(scene, url, "ann", tmp_path / "ann")
    roi = desk.open_next_case("mg").markups_node("Mass")
    centre = bridge.ras_point(geometry.index_to_lps([[10, 12, 3.3]])[0])
    roi.SetXYZ(*centre)
    roi.SetRadiusXYZ(10.0, 8.0, 2.5)
    marks = desk.session.marks()
    desk.save_draft()
    desk.close_case()
    resumed = desk.open_next_case("mg")
    _assert_same_marks(resumed.marks(), marks)
    assert scene.GetNumberOfNodesByClass("vtkMRMLMarkupsROINode") == len(resumed.markups), "no box twice"


def _assert_same_marks(found: list[dict], expected: list[dict]) -> None:
    assert [(m["kind"], m["label"]) for m in found] == [(m["kind"], m["label"]) for m in expected]
    for got, want in zip(found, expected, strict=True):
        assert np.allclose(got["points_mm"], want["points_mm"], atol=1e-6)
