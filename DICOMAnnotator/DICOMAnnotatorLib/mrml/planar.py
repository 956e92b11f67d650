"""2D images and cine loops in MRML, as Slicer's own DICOM plugins show them.

Slicer loads a 2D image (a radiograph, a mammogram, one ultrasound frame) as a volume of one slice
(``DICOMScalarVolumePlugin``; a colour one as a vector volume), and an ultrasound or angiography cine
as a sequence (``DICOMImageSequencePlugin``: a ``vtkMRMLSequenceNode`` holding one single-slice volume
per frame, indexed by time in seconds from Frame Time when the file states it and by frame number
otherwise, played by a ``vtkMRMLSequenceBrowserNode`` at the loop's frame rate). The nodes here follow
the same layout, on the grid the core annotates (:class:`~..imaging.ImageGrid`: column and row spacing
from the image's calibration, so that a frame's IJK-to-RAS is the one Slicer gives it), and each frame
volume names its instance and frame, which SEG and SR marks on a cine reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import slicer

from ..dicom import header_value
from ..imaging import ImageGrid, PlanarImage, PlanarSeries
from .bridge import INSTANCE_UIDS_ATTRIBUTE, set_voxels, volume_node_from_array
from .hierarchy import remove_nodes

#: The frame (1-based, as DICOM's Referenced Frame Number) a frame volume of a cine shows.
FRAME_ATTRIBUTE = "DICOMAnnotator.FrameNumber"
#: Slicer's playback rate when a loop states none (DICOMImageSequencePlugin's choice).
DEFAULT_FRAMES_PER_SECOND = 10.0


@dataclass(frozen=True)
class CineNodes:
    """A cine loop in the scene: the sequence of its frames, the browser that plays it and the volume it shows."""

    sequence: Any
    browser: Any
    proxy: Any


def image_volume_node(scene: slicer.vtkMRMLScene, image: PlanarImage, frame_index: int = 0,
                      name: str | None = None):
    """One frame of ``image`` (``frame_index`` from 0; a single-frame image has frame 0 only) as a volume of one
    slice: scalar, or vector for colour images (decoded to RGB)."""
    node = volume_node_from_array(scene, _frame_grid(image), image.read_voxels()[frame_index:frame_index + 1],
                                  name or _name(image))
    _name_source(node, image, frame_index)
    return node


def cine_sequence(scene: slicer.vtkMRMLScene, image: PlanarImage, name: str | None = None) -> CineNodes:
    """A multi-frame image as a sequence of its frames with a browser, showing the first frame."""
    name = name or _name(image)
    index_name, index_unit, values = frame_index_values(image.datasets[0], image.frame_count)
    sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode", name)
    sequence.SetIndexName(index_name)
    sequence.SetIndexUnit(index_unit)
    frame = image_volume_node(scene, image, 0, f"{name} frame")  # each frame in turn, copied into the sequence
    voxels = image.read_voxels()
    for k, value in enumerate(values):
        if k:
            set_voxels(frame, voxels[k:k + 1])
            _name_source(frame, image, k)
        sequence.SetDataNodeAtValue(frame, value)
    remove_nodes(scene, [frame])  # with its display node, which RemoveNode would leave in the scene
    logic = sequences_logic(scene)
    browser = scene.AddNewNodeByClass("vtkMRMLSequenceBrowserNode", f"{name} browser")
    browser.SetPlaybackRateFps(frames_per_second(image.datasets[0]))
    browser.AddSynchronizedSequenceNode(sequence)
    browser.SetSelectedItemNumber(0)
    logic.UpdateProxyNodesFromSequences(browser)
    return CineNodes(sequence, browser, browser.GetProxyNode(sequence))


def open_planar_series(scene: slicer.vtkMRMLScene, series: PlanarSeries) -> list[Any]:
    """Every image of a series (a mammography exam's views, an echo's loops): a one-slice volume per single-frame
    image, a :class:`CineNodes` per cine, in the series' order."""
    return [cine_sequence(scene, image) if image.frame_count > 1 else image_volume_node(scene, image)
            for image in series.images]


def frame_index_values(header: Any, frame_count: int) -> tuple[str, str, list[str]]:
    """The sequence index of a cine's frames: ("time", "s", seconds) from Frame Time (0018,1063, ms between
    frames) or Frame Time Vector (0018,1065, ms since the previous frame; PS3.3 C.7.6.5.1), else ("frame", "",
    frame numbers 1..N)."""
    vector = header.get("FrameTimeVector")
    frame_time = header_value(header, "FrameTime")
    if vector is not None and len(vector) == frame_count:
        times = np.cumsum([float(v) for v in vector]) / 1000.0
    elif frame_time not in (None, "") and float(frame_time) > 0:
        times = np.arange(frame_count) * float(frame_time) / 1000.0
    else:
        return "frame", "", [str(k + 1) for k in range(frame_count)]
    return "time", "s", [f"{t:.3f}" for t in times]


def frames_per_second(header: Any) -> float:
    """Recommended Display Frame Rate (0008,2144), else 1000 / Frame Time, else Slicer's 10."""
    recommended = header_value(header, "RecommendedDisplayFrameRate")
    if recommended not in (None, "") and float(recommended) > 0:
        return float(recommended)
    frame_time = header_value(header, "FrameTime")
    if frame_time not in (None, "") and float(frame_time) > 0:
        return 1000.0 / float(frame_time)
    return DEFAULT_FRAMES_PER_SECOND


def sequences_logic(scene: slicer.vtkMRMLScene):
    """The sequences logic serving ``scene``: the application's, else one bound here once (it registers the
    sequence browser node class and makes the browsers' proxy nodes)."""
    modules = getattr(slicer, "modules", None)
    if modules is not None and hasattr(modules, "sequences"):
        return modules.sequences.logic()
    logic = getattr(scene, "_dicom_annotator_sequences_logic", None)
    if logic is None:
        logic = slicer.vtkSlicerSequencesLogic()
        logic.SetMRMLScene(scene)
        scene._dicom_annotator_sequences_logic = logic  # lives as long as the scene's Python wrapper state
    return logic


def _frame_grid(image: PlanarImage) -> ImageGrid:
    return ImageGrid.of_pixels(image.columns, image.rows, 1, image.calibration.spacing)


def _name(image: PlanarImage) -> str:
    description = str(image.datasets[0].get("SeriesDescription", "") or "").strip()
    return description or f"{image.modality or 'Image'} {image.sop_instance_uid[-8:]}"


def _name_source(node: Any, image: PlanarImage, frame_index: int) -> None:
    node.SetAttribute(INSTANCE_UIDS_ATTRIBUTE, image.sop_instance_uid)
    if image.frame_count > 1:
        node.SetAttribute(FRAME_ATTRIBUTE, str(frame_index + 1))
