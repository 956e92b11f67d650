"""The MRML bridge: core Segmentations to and from Slicer segmentation and volume nodes.

This is the only core module that imports ``slicer`` and ``vtk``. It runs inside the Slicer
application and headless on the ``slicer-core`` wheel (real MRML, no Qt). It therefore uses
only the segmentation logic's static methods and node APIs that exist in both, never
``slicer.util`` helpers that reach for ``slicer.modules``.

Volumes are handed to MRML as an array plus an IJK-to-RAS matrix built from the core's LPS
affine (never through MRML's DICOM readers, which reorder files and swap non-square spacing).
Segments are imported by whole label-map layers: segments that do not overlap share one
layer, as Slicer itself stores them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from .codes import TISSUE, Code
from .errors import GeometryMismatchError, SegmentationError
from .geometry import LPS_TO_RAS, VolumeGeometry
from .reference_series import ReferenceSeries
from .segmentation import Segmentation, SegmentDescription

#: Segment tag holding the core's segment number, so numbers survive a round trip through MRML.
SEGMENT_NUMBER_TAG = "DICOMAnnotator.SegmentNumber"
#: Slicer's tag for the serialized terminology entry (vtkSegment::GetTerminologyEntryTagName()).
TERMINOLOGY_TAG = "TerminologyEntry"
#: The terminology context our serialized entries name.
TERMINOLOGY_CONTEXT = "DICOMAnnotator"


def create_headless_scene() -> slicer.vtkMRMLScene:
    """A scene with the application logic set, as slicer-core needs; the Slicer app passes its own scene."""
    scene = slicer.vtkMRMLScene()
    application_logic = slicer.vtkSlicerApplicationLogic()
    application_logic.SetMRMLScene(scene)
    segmentations_logic = slicer.vtkSlicerSegmentationsModuleLogic()
    segmentations_logic.SetMRMLApplicationLogic(application_logic)
    segmentations_logic.SetMRMLScene(scene)
    scene._dicom_annotator_logics = (application_logic, segmentations_logic)  # keep them alive with the scene
    return scene


# --------------------------------------------------------------------- volumes
def volume_node_from_series(scene: slicer.vtkMRMLScene, series: ReferenceSeries,
                            name: str | None = None) -> slicer.vtkMRMLScalarVolumeNode:
    """The series' voxels as a scalar volume node at the exact position of the DICOM geometry."""
    return volume_node_from_array(scene, series.geometry, series.read_voxels(), name or series.modality)


def volume_node_from_array(scene: slicer.vtkMRMLScene, geometry: VolumeGeometry, voxels: np.ndarray,
                           name: str, class_name: str = "vtkMRMLScalarVolumeNode"):
    """A volume node holding ``voxels`` (``[k, j, i]``) on ``geometry``."""
    if voxels.shape != geometry.array_shape:
        raise GeometryMismatchError(f"Voxels of shape {list(voxels.shape)} do not fit the grid "
                                    f"{list(geometry.array_shape)} (slices, rows, columns)")
    node = scene.AddNewNodeByClass(class_name, name)
    node.SetAndObserveImageData(_image_data(voxels))
    node.SetIJKToRASMatrix(_vtk_matrix(geometry.ras_affine))
    return node


def geometry_from_volume_node(volume_node) -> VolumeGeometry:
    """The node's grid as a core VolumeGeometry (RAS back to LPS)."""
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    ras = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
    size = volume_node.GetImageData().GetDimensions()
    return VolumeGeometry(tuple(size), LPS_TO_RAS @ ras)


# --------------------------------------------------------------------- terminology
def terminology_tag(description: SegmentDescription) -> str:
    """The serialized terminology entry Slicer stores on a segment (vtkSlicerTerminologiesModuleLogic format).

    ``context~scheme^value^meaning (category)~type~modifier~regionContext~region~regionModifier``.
    """

    def triple(code: Code | None) -> str:
        return "^^" if code is None else f"{code.scheme}^{code.value}^{code.meaning}"

    return "~".join([
        TERMINOLOGY_CONTEXT, triple(description.category), triple(description.type),
        triple(description.type_modifier), TERMINOLOGY_CONTEXT if description.anatomic_region else "",
        triple(description.anatomic_region), triple(description.anatomic_region_modifier),
    ])


def description_from_terminology(tag: str, number: int, label: str,
                                 color: tuple[int, int, int]) -> SegmentDescription:
    """A SegmentDescription from a serialized terminology entry (generic Tissue when absent or partial)."""
    parts = tag.split("~") if tag else []

    def code(index: int) -> Code | None:
        if len(parts) <= index:
            return None
        scheme, _, rest = parts[index].partition("^")
        value, _, meaning = rest.partition("^")
        return Code(value, scheme, meaning) if scheme and value and meaning else None

    return SegmentDescription(
        number=number, label=label, category=code(1) or TISSUE, type=code(2) or TISSUE,
        type_modifier=code(3), anatomic_region=code(5), anatomic_region_modifier=code(6), color=color,
    )


# --------------------------------------------------------------------- segmentations
def segmentation_to_node(segmentation: Segmentation, scene: slicer.vtkMRMLScene, reference_volume_node=None,
                         node=None, name: str | None = None) -> slicer.vtkMRMLSegmentationNode:
    """Put ``segmentation`` into a segmentation node (new unless ``node``), voxel for voxel."""
    if reference_volume_node is not None:
        geometry_from_volume_node(reference_volume_node).require_same_grid(segmentation.geometry,
                                                                           "The segmentation")
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name or "Segmentation")
        node.CreateDefaultDisplayNodes()
    if reference_volume_node is not None:
        node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    segment_ids = ensure_segments(node, segmentation.segments)
    for layer in _non_overlapping_layers(segmentation):
        labelmap = np.zeros(segmentation.geometry.array_shape, dtype=np.uint16)
        layer_ids = vtk.vtkStringArray()
        for value, number in enumerate(layer, start=1):
            box, values = segmentation.cropped_mask(number)
            if values.size:
                labelmap[box][values if values.dtype == bool else values >= 0.5] = value
            layer_ids.InsertNextValue(segment_ids[[d.number for d in segmentation.segments].index(number)])
        labelmap_node = volume_node_from_array(scene, segmentation.geometry, labelmap, "DICOMAnnotatorImport",
                                               "vtkMRMLLabelMapVolumeNode")
        try:
            if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
                    labelmap_node, node, layer_ids):
                raise SegmentationError(f"Slicer could not import segments {layer} into {node.GetName()}")
        finally:
            scene.RemoveNode(labelmap_node)
    return node


def ensure_segments(segmentation_node, descriptions: Sequence[SegmentDescription]) -> list[str]:
    """Create (or update) one coded segment per description; never delete, duplicate or clear voxels.

    An existing segment matches by our number tag, else by terminology type code, else by
    name; its name, colour and terminology are updated. Returns the segment IDs in order.
    """
    segmentation = segmentation_node.GetSegmentation()
    ids = []
    for description in descriptions:
        segment_id = _find_segment(segmentation, description)
        if segment_id is None:
            segment_id = segmentation.GenerateUniqueSegmentID(f"segment_{description.number}")
            segmentation.AddEmptySegment(segment_id, description.label)
        segment = segmentation.GetSegment(segment_id)
        segment.SetName(description.label)
        segment.SetColor(*(c / 255.0 for c in description.color))
        segment.SetTag(TERMINOLOGY_TAG, terminology_tag(description))
        segment.SetTag(SEGMENT_NUMBER_TAG, str(description.number))
        ids.append(segment_id)
    return ids


def segmentation_from_nodes(segmentation_node, volume_node, *, reference: ReferenceSeries | None = None,
                            author: str | None = None, protocol_id: str | None = None) -> Segmentation:
    """The node's segments on the volume's exact grid, with their codes, colours and numbers."""
    geometry = geometry_from_volume_node(volume_node)
    if reference is not None:
        reference.geometry.require_same_grid(geometry, f"Volume node {volume_node.GetName()}")
        geometry = reference.geometry
    segmentation = segmentation_node.GetSegmentation()
    scene = segmentation_node.GetScene()
    descriptions, cropped, used = [], {}, set()
    segment_ids = [segmentation.GetNthSegmentID(n) for n in range(segmentation.GetNumberOfSegments())]
    tagged = {}
    for segment_id in segment_ids:
        value = vtk.mutable("")
        if segmentation.GetSegment(segment_id).GetTag(SEGMENT_NUMBER_TAG, value) and str(value).isdigit():
            tagged[segment_id] = int(str(value))
    used.update(tagged.values())
    next_free = 1
    labelmap_node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "DICOMAnnotatorExport")
    try:
        for segment_id in segment_ids:
            segment = segmentation.GetSegment(segment_id)
            number = tagged.get(segment_id)
            if number is None:
                while next_free in used:
                    next_free += 1
                number = next_free
                used.add(number)
            tag = vtk.mutable("")
            segment.GetTag(TERMINOLOGY_TAG, tag)
            color = tuple(int(round(c * 255)) for c in segment.GetColor())
            descriptions.append(description_from_terminology(str(tag), number, segment.GetName(), color))
            ids = vtk.vtkStringArray()
            ids.InsertNextValue(segment_id)
            if not slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
                    segmentation_node, ids, labelmap_node, volume_node):
                raise SegmentationError(f"Slicer could not export segment '{segment.GetName()}'")
            mask = _array(labelmap_node) != 0
            cropped[number] = ((slice(0, mask.shape[0]), slice(0, mask.shape[1]), slice(0, mask.shape[2])), mask)
    finally:
        scene.RemoveNode(labelmap_node)
    return Segmentation.from_cropped_masks(geometry, descriptions, cropped, reference=reference, author=author,
                                           protocol_id=protocol_id)


# --------------------------------------------------------------------- helpers
def _find_segment(segmentation, description: SegmentDescription) -> str | None:
    ids = [segmentation.GetNthSegmentID(n) for n in range(segmentation.GetNumberOfSegments())]
    for matches in (
        lambda s: _tag(s, SEGMENT_NUMBER_TAG) == str(description.number),
        lambda s: _tagged_type(s) == (description.type.value, description.type.scheme),
        lambda s: s.GetName() == description.label,
    ):
        for segment_id in ids:
            if matches(segmentation.GetSegment(segment_id)):
                return segment_id
    return None


def _tag(segment, name: str) -> str | None:
    value = vtk.mutable("")
    return str(value) if segment.GetTag(name, value) else None


def _tagged_type(segment) -> tuple[str, str] | None:
    tag = _tag(segment, TERMINOLOGY_TAG)
    if not tag:
        return None
    parts = tag.split("~")
    if len(parts) < 3:
        return None
    scheme, _, rest = parts[2].partition("^")
    return rest.partition("^")[0], scheme


def _non_overlapping_layers(segmentation: Segmentation) -> list[list[int]]:
    """Groups of segment numbers whose voxels do not overlap (greedy, in segment order)."""
    layers: list[tuple[list[int], np.ndarray]] = []
    for description in segmentation.segments:
        box, values = segmentation.cropped_mask(description.number)
        mask = values if values.dtype == bool else values >= 0.5
        for numbers, coverage in layers:
            if not mask.size or not np.any(coverage[box][mask]):
                numbers.append(description.number)
                if mask.size:
                    coverage[box] |= mask
                break
        else:
            coverage = np.zeros(segmentation.geometry.array_shape, dtype=bool)
            if mask.size:
                coverage[box] |= mask
            layers.append(([description.number], coverage))
    return [numbers for numbers, _ in layers]


def _image_data(voxels: np.ndarray) -> vtk.vtkImageData:
    image = vtk.vtkImageData()
    image.SetDimensions(voxels.shape[2], voxels.shape[1], voxels.shape[0])
    flat = np.ascontiguousarray(voxels).ravel()
    array = numpy_support.numpy_to_vtk(flat, deep=True)
    image.GetPointData().SetScalars(array)
    return image


def _array(volume_node) -> np.ndarray:
    image = volume_node.GetImageData()
    i, j, k = image.GetDimensions()
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(k, j, i)


def _vtk_matrix(matrix: np.ndarray) -> vtk.vtkMatrix4x4:
    result = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            result.SetElement(r, c, float(matrix[r, c]))
    return result
