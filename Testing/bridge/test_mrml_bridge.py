"""The MRML bridge on real MRML nodes from the slicer-core wheel: exact voxel round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from DICOMAnnotatorLib import (
    mrml_bridge,  # noqa: E402  (the test command installs slicer-core: never skipped)
    sample_data,
)
from DICOMAnnotatorLib.codes import Code
from DICOMAnnotatorLib.errors import GeometryMismatchError
from DICOMAnnotatorLib.geometry import LPS_TO_RAS
from DICOMAnnotatorLib.reference_series import ReferenceSeries
from DICOMAnnotatorLib.segmentation import Segmentation, SegmentDescription

pytestmark = pytest.mark.bridge


def load(write_phantom, orientation, enhanced=False):
    folder, _geometry, hu, labels = write_phantom(orientation, enhanced=enhanced, size=(40, 30, 12))
    series = ReferenceSeries.from_paths(folder)
    segmentation = Segmentation.from_labelmap(series.geometry, labels, sample_data.PHANTOM_SEGMENTS,
                                              reference=series, author="Doe^Jane")
    return series, segmentation, hu


def ijk_to_ras(node):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


@pytest.mark.parametrize(("orientation", "enhanced"), [
    ("axial", False), ("sagittal", False), ("oblique", False), ("coronal", True),
])
def test_round_trip_is_voxel_exact(write_phantom, orientation, enhanced):
    series, segmentation, hu = load(write_phantom, orientation, enhanced)
    scene = mrml_bridge.create_headless_scene()
    volume = mrml_bridge.volume_node_from_series(scene, series)
    np.testing.assert_allclose(ijk_to_ras(volume), LPS_TO_RAS @ series.geometry.affine, atol=1e-9)
    np.testing.assert_array_equal(mrml_bridge._array(volume), hu)
    node = mrml_bridge.segmentation_to_node(segmentation, scene, volume)
    assert node.GetSegmentation().GetNumberOfSegments() == 3
    back = mrml_bridge.segmentation_from_nodes(node, volume, reference=series, author="Doe^Jane")
    assert back.reference is series and back.author == "Doe^Jane"
    for original, returned in zip(segmentation.segments, back.segments, strict=True):
        assert returned == original
        np.testing.assert_array_equal(back.mask(returned.number), segmentation.mask(original.number))


def test_overlapping_segments_keep_their_voxels(write_phantom):
    series, segmentation, _ = load(write_phantom, "axial")
    organ = segmentation.mask(1) | segmentation.mask(2)  # the liver includes its lesion
    overlapping = Segmentation(series.geometry, segmentation.segments[:2], {1: organ, 2: segmentation.mask(2)},
                               reference=series)
    assert mrml_bridge._non_overlapping_layers(overlapping) == [[1], [2]]
    scene = mrml_bridge.create_headless_scene()
    volume = mrml_bridge.volume_node_from_series(scene, series)
    node = mrml_bridge.segmentation_to_node(overlapping, scene, volume)
    back = mrml_bridge.segmentation_from_nodes(node, volume)
    np.testing.assert_array_equal(back.mask(1), organ)
    np.testing.assert_array_equal(back.mask(2), segmentation.mask(2))


def test_ensure_segments_is_idempotent_and_keeps_painted_voxels(write_phantom):
    series, segmentation, _ = load(write_phantom, "oblique")
    scene = mrml_bridge.create_headless_scene()
    volume = mrml_bridge.volume_node_from_series(scene, series)
    node = mrml_bridge.segmentation_to_node(segmentation, scene, volume)
    recoloured = [SegmentDescription(d.number, d.label + " (v2)", d.category, d.type, color=(1, 2, 3))
                  for d in segmentation.segments]
    first = mrml_bridge.ensure_segments(node, recoloured)
    second = mrml_bridge.ensure_segments(node, recoloured)
    assert first == second and node.GetSegmentation().GetNumberOfSegments() == 3
    back = mrml_bridge.segmentation_from_nodes(node, volume)
    assert [d.label for d in back.segments] == ["Liver (v2)", "Liver lesion (v2)", "Vertebra (v2)"]
    assert back.segment(1).color == (1, 2, 3)
    for number in (1, 2, 3):
        np.testing.assert_array_equal(back.mask(number), segmentation.mask(number))
    extra = SegmentDescription(7, "Spleen", type=Code("78961009", "SCT", "Spleen"))
    mrml_bridge.ensure_segments(node, [*recoloured, extra])
    assert node.GetSegmentation().GetNumberOfSegments() == 4


def test_terminology_tag_round_trip_and_slicer_format():
    description = SegmentDescription(
        4, "Lesion", Code("49755003", "SCT", "Morphologically Altered Structure"), Code("52988006", "SCT", "Lesion"),
        anatomic_region=Code("10200004", "SCT", "Liver"), color=(10, 20, 30))
    tag = mrml_bridge.terminology_tag(description)
    assert tag == ("DICOMAnnotator~SCT^49755003^Morphologically Altered Structure~SCT^52988006^Lesion~^^"
                   "~DICOMAnnotator~SCT^10200004^Liver~^^")
    assert mrml_bridge.description_from_terminology(tag, 4, "Lesion", (10, 20, 30)) == description
    generic = mrml_bridge.description_from_terminology("", 2, "Painted", (0, 0, 0))
    assert generic.type == Code("85756007", "SCT", "Tissue")


def test_geometry_mismatch_is_refused(write_phantom):
    series, segmentation, _ = load(write_phantom, "axial")
    other, _, _ = load(write_phantom, "sagittal")
    scene = mrml_bridge.create_headless_scene()
    volume = mrml_bridge.volume_node_from_series(scene, other)
    with pytest.raises(GeometryMismatchError, match="does not lie on the series geometry|has size"):
        mrml_bridge.segmentation_to_node(segmentation, scene, volume)
    with pytest.raises(GeometryMismatchError):
        mrml_bridge.segmentation_from_nodes(scene.AddNewNodeByClass("vtkMRMLSegmentationNode"), volume,
                                            reference=series)


def test_core_imports_no_slicer_qt_ctk_or_vtk():
    package = Path(mrml_bridge.__file__).parent
    modules = sorted(
        "DICOMAnnotatorLib." + ".".join(p.relative_to(package).with_suffix("").parts).replace(".__init__", "")
        for p in package.rglob("*.py") if p.name != "mrml_bridge.py"
    )
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n    importlib.import_module(name.rstrip('.'))\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('slicer', 'qt', 'ctk', 'vtk', 'vtkmodules'))\n"
            "print(','.join(bad))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
