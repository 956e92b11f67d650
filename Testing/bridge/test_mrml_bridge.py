"""The MRML bridge on real MRML nodes from the slicer-core wheel: exact voxel and code round trips.

The test command installs slicer-core, so these tests never skip: a missing wheel is a failure.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import slicer
import vtk
from DICOMAnnotatorLib.dicom.codes import TISSUE, Code
from DICOMAnnotatorLib.errors import GeometryMismatchError, SegmentationError
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.geometry import LPS_TO_RAS
from DICOMAnnotatorLib.imaging.segmentation import AlgorithmType, Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.mrml import bridge

pytestmark = pytest.mark.bridge

LESION = SegmentDescription(
    4, "Lesion", Code("49755003", "SCT", "Morphologically Altered Structure"), Code("52988006", "SCT", "Lesion"),
    type_modifier=Code("7771000", "SCT", "Left"), anatomic_region=Code("10200004", "SCT", "Liver"),
    anatomic_region_modifier=Code("255503000", "SCT", "Entire"), color=(10, 20, 30),
    algorithm_type=AlgorithmType.SEMIAUTOMATIC, algorithm_name="Grow from seeds", tracking_id="lesion-1",
    tracking_uid="2.25.1234",
)


def load(write_phantom, orientation="axial", enhanced=False):
    """A phantom series written to DICOM files and read back, with its segmentation and voxels."""
    folder, _geometry, hu, labels = write_phantom(orientation, enhanced=enhanced, size=(40, 30, 12))
    series = ReferenceSeries.from_paths(folder)
    assert series.is_multiframe == enhanced
    segmentation = Segmentation.from_labelmap(series.geometry, labels, phantoms.PHANTOM_SEGMENTS,
                                              reference=series, author="Doe^Jane")
    return series, segmentation, hu


def ijk_to_ras(node):
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def tag(segment, name):
    value = vtk.mutable("")
    return str(value) if segment.GetTag(name, value) else None


def import_layer(node, ids, image_to_ras, voxels, extent_start=(0, 0, 0)):
    """Put a label map of any lattice into the node as one layer, the way another tool would."""
    image = slicer.vtkOrientedImageData()
    k, j, i = voxels.shape
    s = extent_start
    image.SetExtent(s[0], s[0] + i - 1, s[1], s[1] + j - 1, s[2], s[2] + k - 1)
    image.GetPointData().SetScalars(bridge._vtk_array(voxels.astype(np.uint8)))
    image.SetGeometryFromImageToWorldMatrix(bridge._vtk_matrix(image_to_ras))
    array = vtk.vtkStringArray()
    for segment_id in ids:
        array.InsertNextValue(segment_id)
    assert bridge.segmentations_logic(node.GetScene()).ImportLabelmapToSegmentationNode(image, node, array)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize(("orientation", "enhanced"), [
    ("axial", False), ("sagittal", False), ("oblique", False), ("coronal", True),
])
def test_round_trip_is_voxel_exact(write_phantom, orientation, enhanced):
    series, segmentation, hu = load(write_phantom, orientation, enhanced)
    scene = bridge.create_headless_scene()
    volume = bridge.volume_node_from_series(scene, series)
    np.testing.assert_allclose(ijk_to_ras(volume), LPS_TO_RAS @ series.geometry.affine, atol=1e-9)
    np.testing.assert_array_equal(bridge._array(volume), hu)
    assert bridge.geometry_from_volume_node(volume).max_distance_to(series.geometry) < 1e-9
    assert volume.GetAttribute("DICOM.instanceUIDs").split() == list(dict.fromkeys(
        s.sop_instance_uid for s in series.slices))

    node = bridge.segmentation_to_node(segmentation, scene, volume)
    slicer_segmentation = node.GetSegmentation()
    assert slicer_segmentation.GetNumberOfSegments() == 3
    assert slicer_segmentation.GetNumberOfLayers() == 1  # non-overlapping segments share one layer
    assert [slicer_segmentation.GetNthSegmentID(n) for n in range(3)] == ["segment_1", "segment_2", "segment_3"]
    for description in segmentation.segments:
        segment = slicer_segmentation.GetSegment(f"segment_{description.number}")
        assert segment.GetName() == description.label
        assert tuple(round(c * 255) for c in segment.GetColor()) == description.color
        assert tag(segment, "TerminologyEntry") == bridge.terminology_tag(description)
        assert tag(segment, bridge.SEGMENT_NUMBER_TAG) == str(description.number)

    back = bridge.segmentation_from_nodes(node, volume, reference=series, author="Doe^Jane", protocol_id="p1")
    assert back.reference is series and back.geometry is series.geometry
    assert back.author == "Doe^Jane" and back.protocol_id == "p1"
    assert back.segments == segmentation.segments  # numbers, labels, codes, colours, algorithm
    for description in segmentation.segments:
        np.testing.assert_array_equal(back.mask(description.number), segmentation.mask(description.number))


def test_overlapping_segments_keep_their_voxels(write_phantom):
    series, segmentation, _ = load(write_phantom)
    organ = segmentation.mask(1) | segmentation.mask(2)  # the liver includes its lesion
    overlapping = Segmentation(series.geometry, segmentation.segments, {
        1: organ, 2: segmentation.mask(2), 3: segmentation.mask(3)}, reference=series)
    assert bridge._non_overlapping_layers(overlapping) == [[1, 3], [2]]
    scene = bridge.create_headless_scene()
    volume = bridge.volume_node_from_series(scene, series)
    node = bridge.segmentation_to_node(overlapping, scene, volume)
    assert node.GetSegmentation().GetNumberOfLayers() == 2
    back = bridge.segmentation_from_nodes(node, volume, reference=series)
    assert back.has_overlaps()
    for number in (1, 2, 3):
        np.testing.assert_array_equal(back.mask(number), overlapping.mask(number))


def test_all_description_fields_and_empty_segments_round_trip(write_phantom):
    series, segmentation, _ = load(write_phantom, "oblique")
    with_lesion = Segmentation(series.geometry, [*segmentation.segments, LESION],
                               {1: segmentation.mask(1)}, reference=series)  # 2, 3 and 4 stay empty
    scene = bridge.create_headless_scene()
    node = bridge.segmentation_to_node(with_lesion, scene, name="No volume")  # grid from the segmentation
    volume = bridge.volume_node_from_array(scene, series.geometry, np.zeros(series.geometry.array_shape), "CT")
    back = bridge.segmentation_from_nodes(node, volume)
    assert node.GetName() == "No volume"
    assert back.segments == with_lesion.segments
    assert [back.voxel_count(n) for n in (1, 2, 3, 4)] == [with_lesion.voxel_count(1), 0, 0, 0]
    np.testing.assert_array_equal(back.mask(1), segmentation.mask(1))


# ----------------------------------------------------------------------------- segments made elsewhere
def test_segments_painted_without_our_tags_get_tissue_and_free_numbers(write_phantom):
    series, segmentation, _ = load(write_phantom)
    scene = bridge.create_headless_scene()
    volume = bridge.volume_node_from_series(scene, series)
    node = bridge.segmentation_to_node(segmentation, scene, volume)
    painted = np.zeros(series.geometry.array_shape, dtype=np.uint8)
    painted[1:3, 2:5, 3:9] = 1
    # A segment from another tool: Slicer's default terminology (Tissue), no number tag.
    node.GetSegmentation().AddEmptySegment("other", "Painted")
    import_layer(node, ["other"], series.geometry.ras_affine, painted)
    # A copy of segment 2 carries its number tag: the copy must get a number of its own.
    copy = node.GetSegmentation().AddEmptySegment("copy", "Lesion copy")
    node.GetSegmentation().GetSegment(copy).SetTag(bridge.SEGMENT_NUMBER_TAG, "2")
    back = bridge.segmentation_from_nodes(node, volume)
    assert [d.number for d in back.segments] == [1, 2, 3, 4, 5]
    other = back.segment(4)
    colour = tuple(round(c * 255) for c in node.GetSegmentation().GetSegment("other").GetColor())
    assert (other.label, other.category, other.type, other.color) == ("Painted", TISSUE, TISSUE, colour)
    assert back.segment(5).label == "Lesion copy"
    np.testing.assert_array_equal(back.mask(4), painted.astype(bool))
    np.testing.assert_array_equal(back.mask(2), segmentation.mask(2))


def test_layers_on_other_extents_and_lattices_land_on_the_volume_grid(write_phantom):
    series, _, _ = load(write_phantom, "oblique")
    geometry = series.geometry
    scene = bridge.create_headless_scene()
    volume = bridge.volume_node_from_series(scene, series)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    segmentation = node.GetSegmentation()
    rng = np.random.default_rng(7)
    expected = {}

    # Same lattice, cropped extent (as the Segment Editor stores a small painted region).
    block = rng.random((5, 8, 10)) > 0.5
    segmentation.AddEmptySegment("cropped", "Cropped")
    import_layer(node, ["cropped"], geometry.ras_affine, block, extent_start=(5, 3, 2))
    expected["Cropped"] = np.zeros(geometry.array_shape, dtype=bool)
    expected["Cropped"][2:7, 3:11, 5:15] = block

    # A lattice twice as fine: Slicer resamples it (nearest neighbour hits the fine voxel 2i exactly).
    coarse = rng.random(geometry.array_shape) > 0.7
    fine = coarse.repeat(2, axis=0).repeat(2, axis=1).repeat(2, axis=2)
    segmentation.AddEmptySegment("fine", "Fine")
    import_layer(node, ["fine"], geometry.ras_affine @ np.diag([0.5, 0.5, 0.5, 1.0]), fine)
    expected["Fine"] = coarse

    back = bridge.segmentation_from_nodes(node, volume)
    for description in back.segments:
        np.testing.assert_array_equal(back.mask(description.number), expected[description.label])

    # Voxels beyond the volume cannot be stored against the series: refused unless cropping is asked for.
    spill = np.ones((2, 2, 10), dtype=bool)
    segmentation.AddEmptySegment("spill", "Spill")
    import_layer(node, ["spill"], geometry.ras_affine, spill, extent_start=(35, 0, 0))
    with pytest.raises(GeometryMismatchError, match="'Spill'.*outside volume"):
        bridge.segmentation_from_nodes(node, volume)
    cropped = bridge.segmentation_from_nodes(node, volume, crop_to_volume=True)
    spilled = next(d for d in cropped.segments if d.label == "Spill")
    assert cropped.voxel_count(spilled.number) == 2 * 2 * 5


# ----------------------------------------------------------------------------- protocol templates
def test_ensure_segments_is_idempotent_and_keeps_painted_voxels(write_phantom):
    series, segmentation, _ = load(write_phantom, "oblique")
    scene = bridge.create_headless_scene()
    volume = bridge.volume_node_from_series(scene, series)
    node = bridge.segmentation_to_node(segmentation, scene, volume)
    recoloured = [SegmentDescription(d.number, d.label + " (v2)", d.category, d.type, color=(1, 2, 3))
                  for d in segmentation.segments]
    first = bridge.ensure_segments(node, recoloured)
    second = bridge.ensure_segments(node, recoloured)
    assert first == second == ["segment_1", "segment_2", "segment_3"]
    assert node.GetSegmentation().GetNumberOfSegments() == 3
    back = bridge.segmentation_from_nodes(node, volume)
    assert [d.label for d in back.segments] == ["Liver (v2)", "Liver lesion (v2)", "Vertebra (v2)"]
    assert {d.color for d in back.segments} == {(1, 2, 3)}
    for number in (1, 2, 3):
        np.testing.assert_array_equal(back.mask(number), segmentation.mask(number))
    extra = SegmentDescription(7, "Spleen", type=Code("78961009", "SCT", "Spleen"))
    ids = bridge.ensure_segments(node, [*recoloured, extra])
    assert ids == [*first, "segment_7"] and node.GetSegmentation().GetNumberOfSegments() == 4


def test_ensure_segments_adopts_untagged_segments_by_terminology_then_name():
    scene = bridge.create_headless_scene()
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    slicer_segmentation = node.GetSegmentation()
    liver, lesion, vertebra = phantoms.PHANTOM_SEGMENTS
    # Made by hand in Slicer: "my liver" coded as Liver with the terminology selector, "Vertebra" by name only.
    slicer_segmentation.AddEmptySegment("Segment_1", "my liver")
    slicer_segmentation.GetSegment("Segment_1").SetTag("TerminologyEntry", (
        "Segmentation category and type - 3D Slicer General Anatomy list~SCT^123037004^Anatomical Structure"
        "~SCT^10200004^Liver~^^~Anatomic codes - DICOM master list~^^~^^"))
    slicer_segmentation.AddEmptySegment("Segment_2", "Vertebra")
    # A left kidney is not a right kidney: the type modifier must agree too.
    slicer_segmentation.AddEmptySegment("Segment_3", "kidney")
    slicer_segmentation.GetSegment("Segment_3").SetTag("TerminologyEntry", (
        "Segmentation category and type - DICOM master list~SCT^123037004^Anatomical Structure"
        "~SCT^64033007^Kidney~SCT^7771000^Left~~^^~^^"))
    # A lesion coded without region (the selector often leaves it out) is the protocol's liver lesion.
    slicer_segmentation.AddEmptySegment("Segment_4", "lesion")
    slicer_segmentation.GetSegment("Segment_4").SetTag("TerminologyEntry", (
        "Segmentation category and type - DICOM master list~SCT^49755003^Morphologically Altered Structure"
        "~SCT^52988006^Lesion~^^~~^^~^^"))
    right_kidney = SegmentDescription(6, "Right kidney", liver.category, Code("64033007", "SCT", "Kidney"),
                                      type_modifier=Code("24028007", "SCT", "Right"))
    two_lesions = [lesion, SegmentDescription(5, "Second lesion", lesion.category, lesion.type,
                                              anatomic_region=lesion.anatomic_region)]
    templates = [liver, vertebra, *two_lesions, right_kidney]
    ids = bridge.ensure_segments(node, templates)
    assert ids == ["Segment_1", "Segment_2", "Segment_4", "segment_5", "segment_6"]  # two lesions: two segments
    assert slicer_segmentation.GetSegment("Segment_1").GetName() == "Liver"
    assert slicer_segmentation.GetSegment("Segment_3").GetName() == "kidney"  # not adopted, untouched
    assert bridge.ensure_segments(node, templates) == ids
    assert slicer_segmentation.GetNumberOfSegments() == 6  # 4 made by hand + segment_5 + segment_6
    # One bad template changes nothing at all.
    renamed = SegmentDescription(1, "Renamed", liver.category, liver.type)
    odd = SegmentDescription(9, "Odd", type=Code("1", "99LOCAL", "left|right"))
    with pytest.raises(SegmentationError, match="separators"):
        bridge.ensure_segments(node, [renamed, odd])
    assert slicer_segmentation.GetSegment("Segment_1").GetName() == "Liver"
    assert slicer_segmentation.GetNumberOfSegments() == 6


def test_geometry_mismatch_is_refused(write_phantom):
    series, segmentation, _ = load(write_phantom)
    other, _, _ = load(write_phantom, "sagittal")
    scene = bridge.create_headless_scene()
    volume = bridge.volume_node_from_series(scene, other)
    with pytest.raises(GeometryMismatchError, match="does not lie on the series geometry|has size"):
        bridge.segmentation_to_node(segmentation, scene, volume)
    with pytest.raises(GeometryMismatchError, match="Volume node"):
        bridge.segmentation_from_nodes(scene.AddNewNodeByClass("vtkMRMLSegmentationNode"), volume,
                                            reference=series)


# ----------------------------------------------------------------------------- terminology
def test_terminology_tag_is_what_slicer_serializes_and_reads():
    tag = bridge.terminology_tag(LESION)
    terminologies = slicer.vtkSlicerTerminologiesModuleLogic
    assert tag == terminologies.SerializeTerminologyEntry(
        "Segmentation category and type - DICOM master list",
        "49755003", "SCT", "Morphologically Altered Structure", "52988006", "SCT", "Lesion",
        "7771000", "SCT", "Left", "Anatomic codes - DICOM master list",
        "10200004", "SCT", "Liver", "255503000", "SCT", "Entire")
    entry = slicer.vtkSlicerTerminologyEntry()
    assert terminologies.DeserializeTerminologyEntry(tag, entry)
    assert (entry.GetTypeObject().GetCodeValue(), entry.GetRegionModifierObject().GetCodeMeaning()) == (
        "52988006", "Entire")
    assert terminologies.SerializeTerminologyEntry(entry) == tag

    decoded = bridge.description_from_terminology(tag, 4, "Lesion", (10, 20, 30))
    assert decoded == SegmentDescription(4, "Lesion", LESION.category, LESION.type, LESION.type_modifier,
                                         LESION.anatomic_region, LESION.anatomic_region_modifier, (10, 20, 30))
    minimal = SegmentDescription(1, "Liver", type=Code("10200004", "SCT", "Liver"))
    assert bridge.description_from_terminology(bridge.terminology_tag(minimal), 1, "Liver",
                                                    minimal.color) == minimal
    # Slicer's default for new segments, no tag, and a tag without category all mean Tissue.
    for default in (slicer.vtkSegment().GetTerminology(), "", None, "x~^^~^^~^^~~^^~^^"):
        generic = bridge.description_from_terminology(default, 2, "Painted", (0, 0, 0))
        assert (generic.category, generic.type, generic.anatomic_region) == (TISSUE, TISSUE, None)
    bad = SegmentDescription(1, "Odd", type=Code("1", "99LOCAL", "left ~ right"))
    with pytest.raises(SegmentationError, match="separators"):
        bridge.terminology_tag(bad)


# ----------------------------------------------------------------------------- logic and layering
def test_scenes_from_elsewhere_and_the_application_logic_are_served():
    plain = slicer.vtkMRMLScene()  # e.g. trame-slicer's scene: the bridge binds a logic itself
    geometry = phantoms.phantom_geometry(size=(12, 10, 4))
    _, labels = phantoms.phantom_volume(geometry)
    segmentation = Segmentation.from_labelmap(geometry, labels, phantoms.PHANTOM_SEGMENTS)
    volume = bridge.volume_node_from_array(plain, geometry, labels, "labels")
    node = bridge.segmentation_to_node(segmentation, plain, volume)
    back = bridge.segmentation_from_nodes(node, volume)
    np.testing.assert_array_equal(back.to_labelmap(), segmentation.to_labelmap())
    assert bridge.segmentations_logic(plain) is bridge.segmentations_logic(plain)

    application_logic = slicer.vtkSlicerSegmentationsModuleLogic()
    modules = SimpleNamespace(segmentations=SimpleNamespace(logic=lambda: application_logic))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(slicer, "modules", modules, raising=False)
        assert bridge.segmentations_logic(plain) is application_logic


def test_applying_a_shipped_protocol_yields_its_coded_segments(write_phantom):
    from DICOMAnnotatorLib.protocols import load_protocol

    protocol = load_protocol("liver-lesions-ct")
    series, _segmentation, _ = load(write_phantom, "axial")
    scene = bridge.create_headless_scene()
    volume = bridge.volume_node_from_series(scene, series)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    templates = protocol.segment_descriptions()
    assert bridge.ensure_segments(node, templates) == bridge.ensure_segments(node, templates)
    back = bridge.segmentation_from_nodes(node, volume)
    assert [(d.number, d.label, d.type, d.category) for d in back.segments] == [
        (d.number, d.label, d.type, d.category) for d in templates]
