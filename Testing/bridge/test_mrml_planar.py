"""2D images and cine loops in MRML (slicer-core), laid out as Slicer's DICOM plugins load them: a 2D image a
one-slice volume (vector volume when colour), a cine a sequence of one-slice frames indexed by time from Frame
Time, played by a browser at the loop's rate (Slicer's Modules/Scripted/DICOMPlugins/DICOMImageSequencePlugin.py).
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from conftest import third_party_file
from DICOMAnnotatorLib.imaging.images import open_images
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.planar import (
    FRAME_ATTRIBUTE,
    CineNodes,
    cine_sequence,
    frame_index_values,
    frames_per_second,
    image_volume_node,
    open_planar_series,
)
from pydicom.data import get_testdata_file
from vtk.util import numpy_support

pytestmark = pytest.mark.bridge


def voxels_of(node) -> np.ndarray:
    """A volume node's voxels as ``[k, j, i]`` (``[k, j, i, c]`` with several components), read through VTK."""
    image = node.GetImageData()
    i, j, k = image.GetDimensions()
    scalars = image.GetPointData().GetScalars()
    components = scalars.GetNumberOfComponents()
    values = numpy_support.vtk_to_numpy(scalars).reshape((k, j, i, components))
    return values[..., 0] if components == 1 else values


def ijk_to_ras(node) -> np.ndarray:
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


@pytest.mark.shared_data
def test_a_radiograph_is_a_one_slice_volume_on_its_calibration():
    """highdicom's DX image: Imager Pixel Spacing gives the columns' and rows' mm; IJK-to-RAS is Slicer's
    diag(-column mm, -row mm, 1) of a 2D image, its pixels as decoded."""
    [image] = open_images([third_party_file("highdicom/dx_image.dcm")]).images
    scene = bridge.create_headless_scene()
    node = image_volume_node(scene, image)
    assert node.GetClassName() == "vtkMRMLScalarVolumeNode"
    assert node.GetImageData().GetDimensions() == (image.columns, image.rows, 1)
    column_mm, row_mm = image.calibration.spacing
    np.testing.assert_allclose(ijk_to_ras(node), np.diag([-column_mm, -row_mm, 1.0, 1.0]))
    np.testing.assert_array_equal(voxels_of(node), image.read_voxels())
    assert node.GetAttribute("DICOM.instanceUIDs") == image.sop_instance_uid
    assert node.GetAttribute(FRAME_ATTRIBUTE) is None


def test_a_palette_image_is_a_vector_volume_in_rgb():
    [image] = open_images([get_testdata_file("examples_palette.dcm")]).images
    node = image_volume_node(bridge.create_headless_scene(), image)
    assert node.GetClassName() == "vtkMRMLVectorVolumeNode"
    shown = voxels_of(node)
    assert shown.shape == (1, image.rows, image.columns, 3)
    np.testing.assert_array_equal(shown, image.read_voxels())


def test_a_cine_is_a_sequence_of_its_frames_in_time_played_at_its_rate():
    """pydicom's YBR cine: 30 frames, Frame Time 33.333 ms, so times 0, 0.033, ... 0.967 s and 30 frames/s."""
    series = open_images([get_testdata_file("examples_ybr_color.dcm")])
    [image] = series.images
    scene = bridge.create_headless_scene()
    [cine] = open_planar_series(scene, series)
    assert isinstance(cine, CineNodes)
    sequence, browser = cine.sequence, cine.browser
    assert (sequence.GetIndexName(), sequence.GetIndexUnit(), sequence.GetNumberOfDataNodes()) == ("time", "s", 30)
    assert [sequence.GetNthIndexValue(n) for n in (0, 1, 29)] == ["0.000", "0.033", "0.967"]
    assert browser.GetPlaybackRateFps() == pytest.approx(1000 / 33.333)
    frames = image.read_voxels()
    for n in (0, 10, 29):
        frame = sequence.GetNthDataNode(n)
        assert frame.GetClassName() == "vtkMRMLVectorVolumeNode"
        assert frame.GetAttribute(FRAME_ATTRIBUTE) == str(n + 1)
        assert frame.GetAttribute("DICOM.instanceUIDs") == image.sop_instance_uid
        np.testing.assert_array_equal(voxels_of(frame)[0], frames[n])
    np.testing.assert_array_equal(voxels_of(cine.proxy)[0], frames[0])
    browser.SetSelectedItemNumber(10)
    np.testing.assert_array_equal(voxels_of(cine.proxy)[0], frames[10])
    assert scene.GetNodesByClass("vtkMRMLVectorVolumeNode").GetNumberOfItems() == 1  # the proxy; no frame left over


def test_frame_index_and_rate_without_frame_time_or_with_a_vector():
    header = pydicom.Dataset()
    assert frame_index_values(header, 3) == ("frame", "", ["1", "2", "3"])
    assert frames_per_second(header) == 10.0
    header.FrameTimeVector = [0, 40, 60]
    header.RecommendedDisplayFrameRate = 25
    assert frame_index_values(header, 3) == ("time", "s", ["0.000", "0.040", "0.100"])
    assert frames_per_second(header) == 25.0


def test_a_cine_named_by_the_caller():
    [image] = open_images([get_testdata_file("examples_ybr_color.dcm")]).images
    cine = cine_sequence(bridge.create_headless_scene(), image, "Apical 4 chamber")
    assert cine.sequence.GetName() == "Apical 4 chamber" and cine.browser.GetName() == "Apical 4 chamber browser"
