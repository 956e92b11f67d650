"""The MRML bridge: core Segmentations to and from Slicer segmentation and volume nodes.

This is the only core module that imports ``slicer`` and ``vtk``; nothing else in the core
imports it, so the command line never pays for (or needs) Slicer. It runs inside the Slicer
application and headless on the ``slicer-core`` wheel (real MRML, no Qt), so it uses only
what both have: node APIs, ``vtkOrientedImageData`` and the segmentations logic's static
methods, never ``slicer.util`` helpers (they reach for ``slicer.modules``, which slicer-core
lacks).

Three rules keep it exact and fast:

- Volumes reach MRML as an array plus the IJK-to-RAS matrix of the core's LPS affine, never
  through MRML's DICOM readers (they keep a given file order and swapped non-square pixel
  spacing in slicer-core).
- Voxels move by whole label-map layers: segments that do not overlap share one layer, as
  Slicer stores them itself; overlapping ones get layers of their own. One import per layer
  replaces one slow ``SetBinaryLabelmapToSegment`` call per segment, and export reads each
  layer once (``layer == label value``) instead of exporting segment by segment.
- Meaning travels in segment tags Slicer already reads: the serialized terminology entry
  (codes), Slicer's ``DICOM.SegmentAlgorithm*`` tags, plus our own segment number tag so
  that numbers survive the round trip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import slicer
import vtk
from scipy import ndimage
from vtk.util import numpy_support

from ..dicom import TISSUE, Code
from ..errors import GeometryMismatchError, InputError, SegmentationError, SeriesError
from ..imaging import (
    DEFAULT_COLOR,
    LPS_TO_RAS,
    AlgorithmType,
    MaskKind,
    ReferenceSeries,
    Segmentation,
    SegmentDescription,
    VolumeGeometry,
)

#: Our segment number, so that numbers (DICOM Segment Number) survive a trip through MRML.
SEGMENT_NUMBER_TAG = "DICOMAnnotator.SegmentNumber"
#: Tags Slicer's own DICOM SEG plugin reads and writes for the segment algorithm.
ALGORITHM_TYPE_TAG = "DICOM.SegmentAlgorithmType"
ALGORITHM_NAME_TAG = "DICOM.SegmentAlgorithmName"
#: Tracking identifiers (TID 1500 measurements refer to segments by them).
TRACKING_ID_TAG = "DICOMAnnotator.TrackingID"
TRACKING_UID_TAG = "DICOMAnnotator.TrackingUID"
#: Node attribute Slicer's DICOM plugins use to find the instances a volume came from.
INSTANCE_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"
SERIES_UID_ATTRIBUTE = "DICOMAnnotator.SeriesInstanceUID"

#: Context names written into terminology entries: the ones Slicer's DICOM SEG plugin uses for
#: codes read from a SEG, so Slicer's terminology widgets look the codes up in lists they know.
TERMINOLOGY_CONTEXT = "Segmentation category and type - DICOM master list"
REGION_CONTEXT = "Anatomic codes - DICOM master list"

_BINARY_LABELMAP = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
# Separators of the terminology entry (~ and ^) and of segment tags in .seg.nrrd files (|).
_RESERVED = ("~", "^", "|")
# vtkSegment's colour for "no colour chosen" (vtkSegment::SEGMENT_COLOR_INVALID).
_INVALID_COLOR = (0.5, 0.5, 0.5)


# --------------------------------------------------------------------- scene and logic
def create_headless_scene() -> slicer.vtkMRMLScene:
    """A scene on which segmentations work outside the Slicer application (slicer-core).

    slicer-core needs a ``vtkSlicerApplicationLogic`` and a segmentations logic bound to the
    scene before segments can be created (the logic registers the representation converters).
    The Slicer application passes ``slicer.mrmlScene`` instead; nothing else in this module
    depends on this function having been called.
    """
    scene = slicer.vtkMRMLScene()
    segmentations_logic(scene)
    return scene


def segmentations_logic(scene: slicer.vtkMRMLScene):
    """The segmentations logic serving ``scene``: the application's, else one bound here once.

    In Slicer this is ``slicer.modules.segmentations.logic()``. Headless, a logic (with an
    application logic, as slicer-core needs) is created for the scene on first use and kept
    alive with it, so that a scene made elsewhere (e.g. by trame-slicer) works too.
    """
    modules = getattr(slicer, "modules", None)
    if modules is not None and hasattr(modules, "segmentations"):
        return modules.segmentations.logic()
    if scene is None:
        raise SegmentationError("The segmentation node is not in a MRML scene; add it to a scene first")
    logics = getattr(scene, "_dicom_annotator_logics", None)
    if logics is None:
        application_logic = slicer.vtkSlicerApplicationLogic()
        application_logic.SetMRMLScene(scene)
        logic = slicer.vtkSlicerSegmentationsModuleLogic()
        logic.SetMRMLApplicationLogic(application_logic)
        logic.SetMRMLScene(scene)
        logics = (application_logic, logic)
        scene._dicom_annotator_logics = logics  # lives as long as the scene's Python wrapper state
    return logics[1]


def share_segmentations_logic(scene: slicer.vtkMRMLScene, application_logic, logic) -> None:
    """Make :func:`segmentations_logic` answer ``logic`` for ``scene``: an application that built its own
    (trame-slicer's ``SlicerApp``) keeps one segmentations logic per scene instead of two observing it."""
    scene._dicom_annotator_logics = (application_logic, logic)


#: Singleton tag of the Segment Editor module's parameter node (Modules/Scripted/SegmentEditor/SegmentEditor.py).
SEGMENT_EDITOR_SINGLETON_TAG = "SegmentEditor"


def segment_editor_node(scene: slicer.vtkMRMLScene, segmentation_node, volume_node,
                        singleton_tag: str = SEGMENT_EDITOR_SINGLETON_TAG):
    """A segment editor parameter node (one per ``singleton_tag``), set to edit ``segmentation_node`` on
    ``volume_node``.

    With the default tag it is the Segment Editor module's own node, so that the module opens on
    this work (the reviewer's "Edit in Segment Editor"). An editor widget embedded in another
    module takes a tag of its own, so that the two widgets never switch each other's nodes.
    """
    node = scene.GetSingletonNode(singleton_tag, "vtkMRMLSegmentEditorNode")
    if node is None:
        node = scene.CreateNodeByClass("vtkMRMLSegmentEditorNode")
        node.UnRegister(None)  # CreateNodeByClass returns a reference the caller owns
        node.SetSingletonTag(singleton_tag)
        node = scene.AddNode(node)
    node.SetAndObserveSegmentationNode(segmentation_node)
    node.SetAndObserveSourceVolumeNode(volume_node)
    return node


# --------------------------------------------------------------------- volumes
def volume_node_from_series(scene: slicer.vtkMRMLScene, series: ReferenceSeries,
                            name: str | None = None) -> slicer.vtkMRMLScalarVolumeNode:
    """The series' voxels as a scalar volume node exactly on the DICOM geometry.

    The node carries Slicer's ``DICOM.instanceUIDs`` attribute (as Slicer's DICOM loader sets
    it), so Slicer's own SEG export and slice annotations find the source instances.
    """
    if series.is_colour:
        raise SeriesError(f"{series.description} is a colour image; the annotation desks load greyscale volumes "
                          "only (export a SEG on it with the seg export command)")
    if name is None:
        description = str(series.datasets[0].get("SeriesDescription", "") or "").strip()
        name = description or f"{series.modality or 'Volume'} {series.series_instance_uid[-8:]}"
    node = volume_node_from_array(scene, series.geometry, series.read_voxels(), name)
    uids = list(dict.fromkeys(source.sop_instance_uid for source in series.slices))
    node.SetAttribute(INSTANCE_UIDS_ATTRIBUTE, " ".join(uids))
    node.SetAttribute(SERIES_UID_ATTRIBUTE, series.series_instance_uid)
    return node


def volume_node_from_array(scene: slicer.vtkMRMLScene, geometry: VolumeGeometry, voxels: np.ndarray,
                           name: str = "Volume", *, labelmap: bool = False):
    """A volume node (label map node when ``labelmap``) holding ``voxels`` (``[k, j, i]``) on ``geometry``; a
    colour ``[k, j, i, 3]`` array makes a vector volume node, as Slicer loads colour DICOM images."""
    voxels = np.asarray(voxels)
    colour = voxels.ndim == 4 and not labelmap
    if voxels.shape[:3] != geometry.array_shape or (voxels.ndim == 4 and not colour):
        raise GeometryMismatchError(f"Voxels of shape {list(voxels.shape)} do not fit the grid "
                                    f"{list(geometry.array_shape)} (slices, rows, columns)")
    if voxels.dtype == bool:
        voxels = voxels.astype(np.uint8)
    node_class = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLVectorVolumeNode" if colour \
        else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(node_class, name)
    node.SetIJKToRASMatrix(_vtk_matrix(geometry.ras_affine))
    node.SetAndObserveImageData(_image_data(voxels))
    node.CreateDefaultDisplayNodes()
    return node


def set_voxels(node, voxels: np.ndarray) -> None:
    """Replace a volume node's voxels (``[k, j, i]``, or ``[k, j, i, c]`` for a vector volume), keeping its
    geometry: how one node steps through the frames of a cine."""
    node.SetAndObserveImageData(_image_data(np.asarray(voxels)))


def geometry_from_volume_node(volume_node) -> VolumeGeometry:
    """The node's own voxel grid as a core VolumeGeometry (RAS back to LPS).

    Parent transforms are not applied: the grid is the one the voxels were acquired on.
    """
    image = volume_node.GetImageData() if volume_node is not None else None
    if image is None:
        name = volume_node.GetName() if volume_node is not None else "None"
        raise InputError(f"Volume node {name} holds no image; load a volume before using it as reference")
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    ijk_to_ras = _numpy_matrix(matrix)
    start = np.array(image.GetExtent()[::2], dtype=float)
    if np.any(start):  # an image whose extent does not start at 0: move the origin to its first voxel
        ijk_to_ras[:3, 3] += ijk_to_ras[:3, :3] @ start
    return VolumeGeometry(tuple(image.GetDimensions()), LPS_TO_RAS @ ijk_to_ras)


# --------------------------------------------------------------------- terminology
def ras_point(lps: Sequence[float]) -> list[float]:
    """A point in patient LPS millimetres (DICOM) as Slicer's RAS world coordinates."""
    return [float(v) for v in (LPS_TO_RAS[:3, :3] @ np.asarray(lps, dtype=float))]


def lps_point(ras: Sequence[float]) -> list[float]:
    """A point in Slicer's RAS world coordinates as patient LPS millimetres (the flip is its own inverse)."""
    return ras_point(ras)


def terminology_tag(description: SegmentDescription) -> str:
    """The serialized terminology entry Slicer stores in a segment's ``TerminologyEntry`` tag.

    The layout is that of vtkSlicerTerminologiesModuleLogic::SerializeTerminologyEntry:
    ``context~category~type~typeModifier~regionContext~region~regionModifier`` with each code
    written ``scheme^value^meaning`` and an absent code as ``^^``.
    """

    def triple(code: Code | None, role: str) -> str:
        if code is None:
            return "^^"
        for part in (code.scheme, code.value, code.meaning):
            if any(c in part for c in _RESERVED):
                raise SegmentationError(
                    f"Segment {description.number} ('{description.label}'): the {role} code {code} contains one of "
                    f"{' '.join(_RESERVED)}, which Slicer's terminology tag uses as separators; reword the code"
                )
        return f"{code.scheme}^{code.value}^{code.meaning}"

    return "~".join([
        TERMINOLOGY_CONTEXT,
        triple(description.category, "category"),
        triple(description.type, "type"),
        triple(description.type_modifier, "type modifier"),
        REGION_CONTEXT,
        triple(description.anatomic_region, "anatomic region"),
        triple(description.anatomic_region_modifier, "anatomic region modifier"),
    ])


def description_from_terminology(tag: str | None, number: int, label: str,
                                 color: tuple[int, int, int]) -> SegmentDescription:
    """A SegmentDescription from a serialized terminology entry.

    Reads the entry as Slicer does (7 ``~`` parts; no category means no terminology; the
    region modifier counts only with a region). Without a usable category or type the segment
    is generic Tissue, Slicer's own default.
    """
    parts = tag.split("~") if tag else []
    if len(parts) != 7 or _code(parts[1]) is None:
        return SegmentDescription(number=number, label=label, color=color)
    region = _code(parts[5])
    return SegmentDescription(
        number=number, label=label, category=_code(parts[1]), type=_code(parts[2]) or TISSUE,
        type_modifier=_code(parts[3]), anatomic_region=region,
        anatomic_region_modifier=_code(parts[6]) if region is not None else None, color=color,
    )


def _code(triple: str) -> Code | None:
    pieces = triple.split("^")
    if len(pieces) != 3 or not all(p.strip() for p in pieces):
        return None
    scheme, value, meaning = pieces
    return Code(value, scheme, meaning)


# --------------------------------------------------------------------- core -> MRML
def segmentation_to_node(segmentation: Segmentation, scene: slicer.vtkMRMLScene, reference_volume_node=None,
                         node=None, name: str | None = None) -> slicer.vtkMRMLSegmentationNode:
    """Put ``segmentation`` into a segmentation node (a new one unless ``node``), voxel for voxel.

    The node's reference geometry becomes the volume's (or the segmentation's grid). Segments
    are found or created with :func:`ensure_segments` and filled by whole layers; segments of
    ``node`` that ``segmentation`` does not describe are left as they are. FRACTIONAL masks
    are thresholded at 0.5 (Slicer edits binary label maps).
    """
    geometry = segmentation.geometry
    if reference_volume_node is not None:
        geometry_from_volume_node(reference_volume_node).require_same_grid(geometry, "The segmentation")
    logic = segmentations_logic(scene)
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name or "Segmentation")
        node.CreateDefaultDisplayNodes()
    elif name:
        node.SetName(name)
    if reference_volume_node is not None:
        node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    else:
        node.GetSegmentation().SetConversionParameter(
            slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName(),
            slicer.vtkSegmentationConverter.SerializeImageGeometry(_oriented_image(geometry)))

    segment_ids = dict(zip((d.number for d in segmentation.segments),
                           ensure_segments(node, segmentation.segments), strict=True))
    for layer in _non_overlapping_layers(segmentation):
        dtype = np.uint8 if len(layer) < 256 else np.uint16
        labelmap = np.zeros(geometry.array_shape, dtype=dtype)
        ids = vtk.vtkStringArray()
        for value, number in enumerate(layer, start=1):  # the logic gives the n-th ID label value n
            box, mask = _binary_cropped(segmentation, number)
            if mask.size:
                labelmap[box][mask] = value
            ids.InsertNextValue(segment_ids[number])
        if not logic.ImportLabelmapToSegmentationNode(_oriented_image(geometry, labelmap), node, ids):
            raise SegmentationError(
                f"Slicer could not import segments {layer} into segmentation node '{node.GetName()}' "
                f"(its source representation is '{node.GetSegmentation().GetSourceRepresentationName()}'; "
                f"it must be '{_BINARY_LABELMAP}')"
            )
    return node


def ensure_segments(segmentation_node, descriptions: Sequence[SegmentDescription]) -> list[str]:
    """Create (or update) one coded segment per description; never delete, duplicate or clear voxels.

    Applying a protocol twice must not lose work: a segment already present is found by our
    number tag, else by its terminology (type, modifier, region), else by name; each segment
    serves one description at most. Found segments get the description's name, colour and
    tags; their voxels are untouched. Returns the segment IDs in the order of ``descriptions``.
    """
    numbers = [d.number for d in descriptions]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    if duplicates:
        raise SegmentationError(f"Segment numbers must be unique, found {duplicates} more than once")
    segmentations_logic(segmentation_node.GetScene())
    segmentation = segmentation_node.GetSegmentation()
    existing = [segmentation.GetNthSegmentID(n) for n in range(segmentation.GetNumberOfSegments())]
    # Segments tagged with a number of another description belong to that one: never match them otherwise.
    owned = {sid for sid in existing if _segment_number(segmentation.GetSegment(sid)) in numbers}
    found: dict[int, str] = {}

    def claim(matches) -> None:
        for description in descriptions:
            if description.number in found:
                continue
            for segment_id in existing:
                if segment_id not in found.values() and matches(segment_id, description):
                    found[description.number] = segment_id
                    break

    claim(lambda sid, d: _segment_number(segmentation.GetSegment(sid)) == d.number)
    claim(lambda sid, d: (sid not in owned and not d.type.matches(TISSUE)
                          and _same_concept(_tag(segmentation.GetSegment(sid), _terminology_tag_name()), d)))
    claim(lambda sid, d: sid not in owned and segmentation.GetSegment(sid).GetName() == d.label)

    tags = [_segment_tags(d) for d in descriptions]  # validate every description before changing anything
    ids = []
    for description, segment_tags in zip(descriptions, tags, strict=True):
        color = [c / 255.0 for c in description.color]
        segment_id = found.get(description.number)
        if segment_id is None:
            segment_id = segmentation.AddEmptySegment(
                segmentation.GenerateUniqueSegmentID(f"segment_{description.number}"), description.label, color)
            if not segment_id:
                raise SegmentationError(f"Slicer could not add segment {description.number} ('{description.label}') "
                                        f"to segmentation node '{segmentation_node.GetName()}'")
        segment = segmentation.GetSegment(segment_id)
        segment.SetName(description.label)
        segment.SetNameAutoGenerated(False)  # a protocol label, not a name derived from the terminology
        segment.SetColor(*color)
        segment.SetColorAutoGenerated(False)
        for name, value in segment_tags.items():
            if value is None:
                segment.RemoveTag(name)
            elif name == _terminology_tag_name() and hasattr(segment, "SetTerminology"):
                segment.SetTerminology(value)  # Slicer >= 5.10; it sets the same TerminologyEntry tag
            else:
                segment.SetTag(name, value)
        ids.append(segment_id)
    return ids


def _segment_tags(description: SegmentDescription) -> dict[str, str | None]:
    """The tags that carry a description in MRML (None: remove the tag)."""
    tags: dict[str, str | None] = {
        _terminology_tag_name(): terminology_tag(description),
        SEGMENT_NUMBER_TAG: str(description.number),
        ALGORITHM_TYPE_TAG: description.algorithm_type.value,
        ALGORITHM_NAME_TAG: description.algorithm_name or None,
        TRACKING_ID_TAG: description.tracking_id or None,
        TRACKING_UID_TAG: description.tracking_uid or None,
    }
    for value in tags.values():
        if value is not None and "|" in value:
            raise SegmentationError(f"Segment {description.number} ('{description.label}'): '{value}' contains "
                                    "'|', which Slicer's segmentation files use to separate tags")
    return tags


# --------------------------------------------------------------------- MRML -> core
def segmentation_from_nodes(segmentation_node, volume_node, *, reference: ReferenceSeries | None = None,
                            author: str | None = None, protocol_id: str | None = None,
                            crop_to_volume: bool = False) -> Segmentation:
    """Every segment of the node on the volume's exact grid, with codes, colours, labels and numbers.

    Each label-map layer is read once; segments in different layers (overlapping ones) stay
    separate. Segments without terminology are generic Tissue; segments without our number tag
    (or with a number already taken) get the next free number. With ``reference``, its grid
    must match the volume's within 1e-3 mm. Voxels outside the volume are an error unless
    ``crop_to_volume`` (they could not be stored against this series); layers on another
    lattice, or behind a transform, are resampled by Slicer onto the volume and so cropped.
    """
    geometry = geometry_from_volume_node(volume_node)
    if reference is not None:
        reference.geometry.require_same_grid(geometry, f"Volume node '{volume_node.GetName()}'")
        geometry = reference.geometry
    logic = segmentations_logic(segmentation_node.GetScene())
    segmentation = segmentation_node.GetSegmentation()
    segment_ids = [segmentation.GetNthSegmentID(n) for n in range(segmentation.GetNumberOfSegments())]
    descriptions = _descriptions(segmentation, segment_ids)
    number_of = {sid: d.number for sid, d in zip(segment_ids, descriptions, strict=True)}
    cropped: dict[int, tuple[tuple[slice, slice, slice], np.ndarray]] = {}
    if segment_ids:
        if not segmentation.CreateRepresentation(_BINARY_LABELMAP):
            raise SegmentationError(f"Slicer could not make binary label maps of segmentation node "
                                    f"'{segmentation_node.GetName()}'; set its reference geometry and retry")
        reference_image = _oriented_image(geometry_from_volume_node(volume_node))
        same_space = _parent_transform_id(segmentation_node) == _parent_transform_id(volume_node)
        for layer in range(segmentation.GetNumberOfLayers(_BINARY_LABELMAP)):
            ids = list(segmentation.GetSegmentIDsForLayer(layer, _BINARY_LABELMAP))
            image = segmentation.GetLayerDataObject(layer, _BINARY_LABELMAP)
            values = {sid: segmentation.GetSegment(sid).GetLabelValue() for sid in ids}
            placed = _layer_on_grid(image, reference_image) if same_space else None
            if placed is None:  # another lattice or a transform between the nodes: let Slicer resample
                placed = _resampled_layer(logic, segmentation_node, volume_node, ids)
                values = {sid: n for n, sid in enumerate(ids, start=1)}
            array, outside = placed
            if outside is not None and not crop_to_volume:
                names = ", ".join(f"'{segmentation.GetSegment(sid).GetName()}'" for sid in ids
                                  if np.any(outside == values[sid]))
                if names:
                    raise GeometryMismatchError(
                        f"Segments {names} of '{segmentation_node.GetName()}' have voxels outside volume "
                        f"'{volume_node.GetName()}', which its series cannot hold; erase them or pass "
                        "crop_to_volume=True to drop them"
                    )
            boxes = ndimage.find_objects(array)
            for sid in ids:
                value = values[sid]
                box = boxes[value - 1] if 0 < value <= len(boxes) else None
                if box is not None:
                    cropped[number_of[sid]] = (box, array[box] == value)
    return Segmentation.from_cropped_masks(geometry, descriptions, cropped, reference=reference, author=author,
                                           protocol_id=protocol_id)


def _descriptions(segmentation, segment_ids: list[str]) -> list[SegmentDescription]:
    """Descriptions read from the segments' names, colours and tags, with unique numbers."""
    tagged = [_segment_number(segmentation.GetSegment(sid)) for sid in segment_ids]
    taken = {n for n in tagged if n is not None}
    used: set[int] = set()
    next_free = 1
    descriptions = []
    for segment_id, number in zip(segment_ids, tagged, strict=True):
        segment = segmentation.GetSegment(segment_id)
        if number is None or number in used:  # untagged, or a copy of a tagged segment
            while next_free in taken or next_free in used:
                next_free += 1
            number = next_free
        used.add(number)
        rgb = tuple(segment.GetColor())
        color = DEFAULT_COLOR if rgb == _INVALID_COLOR else tuple(int(round(c * 255)) for c in rgb)
        label = segment.GetName() or segment_id
        description = description_from_terminology(_tag(segment, _terminology_tag_name()), number, label, color)
        algorithm_type = (_tag(segment, ALGORITHM_TYPE_TAG) or "MANUAL").strip().upper()
        if algorithm_type not in AlgorithmType.__members__:
            raise SegmentationError(f"Segment '{label}' has {ALGORITHM_TYPE_TAG} '{algorithm_type}'; "
                                    "use MANUAL, SEMIAUTOMATIC or AUTOMATIC")
        descriptions.append(dataclasses.replace(
            description, algorithm_type=AlgorithmType(algorithm_type),
            algorithm_name=_tag(segment, ALGORITHM_NAME_TAG) or None,
            tracking_id=_tag(segment, TRACKING_ID_TAG) or None,
            tracking_uid=_tag(segment, TRACKING_UID_TAG) or None,
        ))
    return descriptions


def _layer_on_grid(image, reference_image) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The layer's label values on the reference grid when both share one lattice, else None.

    Also returns the label values of voxels that lie outside the reference extent (None when
    there are none). A layer that already covers the reference extent is returned as a view.
    """
    layer_to_world = vtk.vtkMatrix4x4()
    image.GetImageToWorldMatrix(layer_to_world)
    world_to_reference = vtk.vtkMatrix4x4()
    reference_image.GetWorldToImageMatrix(world_to_reference)
    layer_to_reference = _numpy_matrix(world_to_reference) @ _numpy_matrix(layer_to_world)
    shift = layer_to_reference[:3, 3]
    if (not np.allclose(layer_to_reference[:3, :3], np.eye(3), atol=1e-4)
            or not np.allclose(shift, np.round(shift), atol=1e-3)):
        return None
    shape = reference_image.GetDimensions()[::-1]  # (k, j, i)
    extent = image.GetExtent()
    if (extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]
            or image.GetPointData().GetScalars() is None):
        return np.zeros(shape, dtype=np.uint8), None
    layer = _labels(_array(image))
    start = [int(round(shift[axis])) + extent[2 * axis] for axis in range(3)][::-1]  # (k, j, i)
    if not any(start) and layer.shape == shape:
        return layer, None
    result = np.zeros(shape, dtype=layer.dtype)
    source, target = [], []
    for axis in range(3):
        low, high = max(start[axis], 0), min(start[axis] + layer.shape[axis], shape[axis])
        if high <= low:
            return result, (layer[layer > 0] if layer.any() else None)
        source.append(slice(low - start[axis], high - start[axis]))
        target.append(slice(low, high))
    result[tuple(target)] = layer[tuple(source)]
    outside = None
    if result[tuple(target)].shape != layer.shape:
        spill = layer.copy()
        spill[tuple(source)] = 0
        outside = spill[spill > 0] if spill.any() else None
    return result, outside


def _labels(array: np.ndarray) -> np.ndarray:
    """Label values as a non-negative integer array (what ndimage.find_objects accepts)."""
    if not np.issubdtype(array.dtype, np.integer):
        array = np.rint(array).astype(np.int32)
    if np.issubdtype(array.dtype, np.signedinteger) and array.size and array.min() < 0:
        array = np.where(array > 0, array, 0)
    return array


def _resampled_layer(logic, segmentation_node, volume_node, ids: list[str]) -> tuple[np.ndarray, None]:
    """Slicer's own merge of the layer's segments onto the volume grid (label value = position + 1)."""
    id_array = vtk.vtkStringArray()
    for segment_id in ids:
        id_array.InsertNextValue(segment_id)
    merged = slicer.vtkOrientedImageData()
    logic.GenerateMergedLabelmapInReferenceGeometry(segmentation_node, volume_node, id_array,
                                                    slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY, merged)
    if merged.GetPointData().GetScalars() is None:
        raise SegmentationError(f"Slicer could not resample segments {ids} of '{segmentation_node.GetName()}' "
                                f"onto volume '{volume_node.GetName()}'")
    return _labels(np.array(_array(merged))), None


# --------------------------------------------------------------------- helpers
def _terminology_tag_name() -> str:
    return slicer.vtkSegment.GetTerminologyEntryTagName()


def _tag(segment, name: str) -> str | None:
    value = vtk.mutable("")
    return str(value) if segment.GetTag(name, value) else None


def _segment_number(segment) -> int | None:
    value = (_tag(segment, SEGMENT_NUMBER_TAG) or "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _same_concept(tag: str | None, description: SegmentDescription) -> bool:
    """Whether a segment's terminology names the description's structure.

    Type and type modifier must agree (left and right kidney are different structures);
    anatomic regions must agree only when both give one (Slicer's selector often leaves it
    out). Context names and code meanings do not matter.
    """
    parts = tag.split("~") if tag else []
    if len(parts) != 7 or _code(parts[1]) is None:
        return False

    def same(triple: str, code: Code | None) -> bool:
        found = _code(triple)
        return (found is None and code is None) or (found is not None and code is not None and found.matches(code))

    type_code = _code(parts[2])
    if type_code is None or not type_code.matches(description.type) or not same(parts[3], description.type_modifier):
        return False
    region = _code(parts[5])
    return region is None or description.anatomic_region is None or region.matches(description.anatomic_region)


def _binary_cropped(segmentation: Segmentation, number: int) -> tuple[tuple[slice, slice, slice], np.ndarray]:
    box, values = segmentation.cropped_mask(number)
    if segmentation.kind is MaskKind.FRACTIONAL:
        values = values >= 0.5
    return box, values


def _non_overlapping_layers(segmentation: Segmentation) -> list[list[int]]:
    """Groups of segment numbers whose voxels do not overlap (greedy, in segment order)."""
    layers: list[tuple[list[int], np.ndarray]] = []
    for description in segmentation.segments:
        box, mask = _binary_cropped(segmentation, description.number)
        for numbers, coverage in layers:
            if len(numbers) < 65535 and (not mask.size or not np.any(coverage[box][mask])):
                break
        else:
            numbers, coverage = [], np.zeros(segmentation.geometry.array_shape, dtype=bool)
            layers.append((numbers, coverage))
        numbers.append(description.number)
        if mask.size:
            coverage[box] |= mask
    return [numbers for numbers, _ in layers]


def _oriented_image(geometry: VolumeGeometry, voxels: np.ndarray | None = None):
    """A vtkOrientedImageData on ``geometry`` (RAS), holding ``voxels`` when given (geometry only otherwise)."""
    image = slicer.vtkOrientedImageData()
    i, j, k = geometry.size
    image.SetExtent(0, i - 1, 0, j - 1, 0, k - 1)
    if voxels is not None:
        image.GetPointData().SetScalars(_vtk_array(voxels))
    image.SetGeometryFromImageToWorldMatrix(_vtk_matrix(geometry.ras_affine))
    return image


def _image_data(voxels: np.ndarray) -> vtk.vtkImageData:
    image = vtk.vtkImageData()
    image.SetDimensions(voxels.shape[2], voxels.shape[1], voxels.shape[0])
    image.GetPointData().SetScalars(_vtk_array(voxels))
    return image


def _vtk_array(voxels: np.ndarray):
    """One value per voxel, or per voxel the colour components of a ``[k, j, i, c]`` array."""
    voxels = np.ascontiguousarray(voxels)
    flat = voxels.reshape(-1, voxels.shape[3]) if voxels.ndim == 4 else voxels.ravel()
    return numpy_support.numpy_to_vtk(flat, deep=True)


def _array(image_or_node) -> np.ndarray:
    """The voxels of an image (or of a volume node's image) as a ``[k, j, i]`` numpy view."""
    image = image_or_node.GetImageData() if hasattr(image_or_node, "GetImageData") else image_or_node
    i, j, k = image.GetDimensions()
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(k, j, i)


def _parent_transform_id(node) -> str | None:
    transform = node.GetParentTransformNode()
    return None if transform is None else transform.GetID()


def _vtk_matrix(matrix: np.ndarray) -> vtk.vtkMatrix4x4:
    result = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            result.SetElement(r, c, float(matrix[r, c]))
    return result


def _numpy_matrix(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
