"""The reviewer's Logic on real MRML nodes: submissions side by side, agreement, an edited consensus, exports."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import dciodvfy_errors
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.review import ReviewSession
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.seg.writer import write_seg
from scipy import ndimage
from synthetic_annotators import LIVER

pytestmark = pytest.mark.bridge


@pytest.fixture
def case(write_phantom, tmp_path):
    """A phantom series and three submissions of its liver: exact, grown by one voxel, shrunk by one."""
    folder, geometry, _, labels = write_phantom()
    series = ReferenceSeries.from_paths(folder)
    truth = labels == 1
    drawn = {"Ann^One": truth, "Ann^Two": ndimage.binary_dilation(truth), "Ann^Three": ndimage.binary_erosion(truth)}
    submissions = []
    for name, mask in drawn.items():
        segmentation = Segmentation(geometry, [LIVER], {1: mask}, reference=series, author=name)
        submissions.append((name, write_seg(segmentation, tmp_path / f"{name}.dcm")))
    return series, submissions, truth


def test_submissions_become_nodes_with_agreement(case):
    series, submissions, truth = case
    session = ReviewSession(bridge.create_headless_scene(), series, submissions, reviewer="Rev^Iewer")
    assert sorted(node.GetName() for node in session.nodes.values()) == [
        "Submission: Ann^One", "Submission: Ann^Three", "Submission: Ann^Two"]
    session.show_only("Ann^Two")
    assert [n.GetDisplayNode().GetVisibility() for n in session.nodes.values()] == [0, 1, 0]
    session.show_only(None)
    assert all(n.GetDisplayNode().GetVisibility() for n in session.nodes.values())
    with pytest.raises(InputError, match="No submission by 'Nobody'"):
        session.show_only("Nobody")
    rows = {(r.annotator_a, r.annotator_b): r for r in session.agreement_rows()}
    assert set(rows) == {("Ann^One", "Ann^Two"), ("Ann^One", "Ann^Three"), ("Ann^Two", "Ann^Three")}
    assert rows[("Ann^One", "Ann^Two")].dice > rows[("Ann^Two", "Ann^Three")].dice


def test_consensus_is_edited_in_its_node_then_exported(case, tmp_path):
    series, submissions, truth = case
    session = ReviewSession(bridge.create_headless_scene(), series, submissions, reviewer="Rev^Iewer")
    with pytest.raises(InputError, match="Build the consensus first"):
        session.consensus()
    result = session.build_consensus("majority")
    assert np.array_equal(result.segmentation.mask(1), truth)  # the majority of grown, exact and shrunk
    session.build_consensus("staple")
    assert session.scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 4  # the rebuilt one replaced

    edited = truth.copy()
    edited[np.nonzero(truth)[0].min()] = False  # the reviewer erases the top slice of the liver
    bridge.segmentation_to_node(Segmentation(series.geometry, [LIVER], {1: edited}, reference=series),
                                     session.scene, session.volume_node, node=session.consensus_node)
    written = session.export(tmp_path / "out", ("seg", "nifti", "models"))
    assert dciodvfy_errors(written["seg"]) == []
    final = read_seg(written["seg"], series)
    assert np.array_equal(final.mask(1), edited) and final.author == "Rev^Iewer"
    assert (tmp_path / "out" / "nifti" / "labels.nii.gz").is_file()
    assert [p.name for p in (tmp_path / "out" / "models").iterdir()] == ["01-Liver.stl"]
