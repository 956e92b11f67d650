"""Slicer's slice and 3D views of an annotated case, rendered offscreen with slicer-core (views.py).

The extension's screenshots come from these views; the test checks that they show the case: the
drawn segments in their protocol colours where the phantom has them, the CT around them.
"""

from __future__ import annotations

import numpy as np
import pytest
import slicer
from DICOMAnnotatorLib.mrml import bridge
from views import OffscreenViews, annotated_phantom_case

pytestmark = pytest.mark.bridge


@pytest.fixture
def case(tmp_path):
    desk, labels = annotated_phantom_case(tmp_path, size=(96, 72, 24), spacing=(0.6, 0.4667, 2.5))
    return desk.session, labels


def ras_of(session, index_ijk) -> list[float]:
    return bridge.ras_point(session.series.geometry.index_to_lps([index_ijk])[0])


def test_slice_view_shows_the_segments_in_their_colours_over_the_ct(case):
    session, labels = case
    lesion = np.argwhere(labels == 2)
    k = int(round(lesion[:, 0].mean()))
    lesion_centre = ras_of(session, [lesion[:, 2].mean(), lesion[:, 1].mean(), k])
    liver_only = np.argwhere(labels[k] == 1)
    distance = np.hypot(liver_only[:, 0] - lesion[:, 1].mean(), liver_only[:, 1] - lesion[:, 2].mean())
    far = liver_only[np.argmax(distance)]
    liver_point = ras_of(session, [far[1], far[0], k])
    vertebra = np.argwhere(labels[k] == 3).mean(axis=0)  # not drawn: the CT alone, bone white in the liver window
    vertebra_point = ras_of(session, [vertebra[1], vertebra[0], k])
    view = OffscreenViews(session.scene).slice_view(session.volume_node, (320, 240), offset_mm=lesion_centre[2])
    pixels = view.pixels().astype(int)

    colours = {d.label: np.array(d.color) for d in session.protocol.segment_descriptions()}
    for label, point in (("Liver lesion", lesion_centre), ("Liver", liver_point)):
        row, column = view.pixel_of(point)
        patch = pixels[row - 1:row + 2, column - 1:column + 2].reshape(-1, 3).mean(axis=0)
        strongest = int(np.argmax(colours[label]))
        assert patch[strongest] > np.delete(patch, strongest).max() + 20, f"{label} at {row},{column}: {patch}"
    row, column = view.pixel_of(vertebra_point)
    assert pixels[row - 1:row + 2, column - 1:column + 2].min() > 200, f"the CT's vertebra at {row},{column}: white"
    assert pixels[2, 2].max() < 20, "outside the body: black"


def test_show_3d_makes_closed_surfaces_that_the_three_d_view_shows_and_removes_them(tmp_path):
    desk, _ = annotated_phantom_case(tmp_path, size=(96, 72, 24), spacing=(0.6, 0.4667, 2.5))
    node = desk.session.segmentation_node
    surface = slicer.vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName()
    views = OffscreenViews(desk.scene)
    assert not node.GetSegmentation().ContainsRepresentation(surface), "no surfaces until asked for"
    assert liver_red_pixels(views.three_d_view((320, 240)).pixels()) == 0, "an empty 3D view"

    desk.show_3d(True)
    assert node.GetSegmentation().ContainsRepresentation(surface)
    assert node.GetDisplayNode().GetVisibility3D()
    assert node.GetDisplayNode().GetPreferredDisplayRepresentationName3D() == surface
    view = views.three_d_view((320, 240))  # its camera on the surfaces
    pixels = view.pixels().astype(int)
    background = pixels[0, 0]
    assert background[2] > background[0], "the view's blue background"
    assert liver_red_pixels(pixels) > 0.05 * pixels.shape[0] * pixels.shape[1], "the liver's surface fills part of it"

    lesion = node.GetSegmentation().GetSegmentIdBySegmentName("Liver lesion")
    erased = slicer.vtkOrientedImageData()  # a stroke erasing the lesion, applied as the editor's effects apply one
    erased.DeepCopy(node.GetBinaryLabelmapInternalRepresentation(lesion))
    erased.GetPointData().GetScalars().Fill(0)
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    assert node.GetClosedSurfaceInternalRepresentation(lesion).GetNumberOfPoints() > 0
    assert logic.SetBinaryLabelmapToSegment(erased, node, lesion, logic.MODE_REPLACE)
    assert node.GetClosedSurfaceInternalRepresentation(lesion).GetNumberOfPoints() == 0, "made again after the stroke"

    desk.show_3d(False)
    assert not node.GetSegmentation().ContainsRepresentation(surface), "the surfaces are removed"
    assert node.GetSegmentation().ContainsRepresentation(
        slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()), "what was drawn stays"
    assert liver_red_pixels(view.pixels()) == 0, "the 3D view is empty again"


def liver_red_pixels(pixels: np.ndarray) -> int:
    pixels = pixels.astype(int)
    return int((pixels[..., 0] > pixels[..., 2] + 40).sum())
