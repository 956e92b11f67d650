"""A case of 2D images and cine loops in the scene: one image or frame shown at a time, segmentations kept per frame.

Slicer shows a 2D image as a one-slice volume and a cine as a sequence whose browser puts one frame at a
time into a proxy volume (:mod:`.planar`). Slicer's Segment Editor paints on the volume shown, so a
segmentation node here holds what is drawn on the image and frame in view; :class:`PlanarViews` keeps every
other frame's drawing aside and swaps it in when the view moves to that frame (by :meth:`PlanarViews.show`,
or by the sequence browser's slider or play button, which it observes). The segmentation of a whole cine is
then the frames put back together on the cine's grid (k counts frames), which is what the SEG of a cine
holds: one frame per painted cine frame and segment, each naming its instance and frame (PS3.3 C.8.20.2).

Several images in one case (a mammography exam's views) are shown one at a time and chosen by number; the
segments of a case lie on one image or cine (a SEG has one grid), so a case of several images takes landmarks,
boxes and labels, whose marks name the image and frame they are on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import vtk

from ..errors import InputError
from ..imaging import ImageGrid, PlanarImage, PlanarSeries, ReferenceSeries, Segmentation, SegmentDescription
from . import bridge
from .hierarchy import CaseFolder, case_folder
from .planar import CineNodes, cine_sequence, image_volume_node, sequences_logic

#: A frame's drawing: each segment's 2D box ((row slice, column slice)) and mask in it.
FramePlanes = dict[int, tuple[tuple[slice, slice], np.ndarray]]


@dataclass
class _Layer:
    """A segmentation node shown on the case's images: its segments and what each frame holds."""

    node: Any
    editable: bool
    descriptions: list[SegmentDescription] = field(default_factory=list)
    #: (image index, frame index) -> what is drawn there
    planes: dict[tuple[int, int], FramePlanes] = field(default_factory=dict)


class PlanarViews:
    """The images of one case, each a one-slice volume or a cine sequence in the case's folder, one in view.

    :param name: the name of the case's subject-hierarchy folder.
    """

    def __init__(self, scene, series: PlanarSeries, name: str) -> None:
        self.scene, self.series = scene, series
        self.images: list[PlanarImage] = list(series.images)
        shown = [cine_sequence(scene, image) if image.frame_count > 1 else image_volume_node(scene, image)
                 for image in self.images]
        self.shown = shown
        self.folder = CaseFolder(scene, name, series, _volume(shown[0]))
        for nodes in shown:
            for node in ((nodes.sequence, nodes.browser, nodes.proxy) if isinstance(nodes, CineNodes) else (nodes,)):
                self.folder.add(node)
        self.image_index, self.frame_index = 0, 0
        self._layers: list[_Layer] = []
        #: Called after the view moved to another image or frame (e.g. to show that view's marks only).
        self.on_change: list[Callable[[], None]] = []
        self._observed = [(nodes.browser, nodes.browser.AddObserver(vtk.vtkCommand.ModifiedEvent, self._browsed))
                          for nodes in shown if isinstance(nodes, CineNodes)]

    # ----------------------------------------------------------------- what is in view
    @property
    def image(self) -> PlanarImage:
        return self.images[self.image_index]

    @property
    def volume_node(self):
        """The volume in view: the image's one-slice volume, or its cine's proxy showing the frame in view."""
        return _volume(self.shown[self.image_index])

    def volume_nodes(self) -> list:
        """Each image's volume: its one-slice volume, or its cine's proxy (which keeps its display from frame to
        frame)."""
        return [_volume(nodes) for nodes in self.shown]

    @property
    def frame_count(self) -> int:
        return self.image.frame_count

    def cine_nodes(self) -> CineNodes | None:
        """The sequence and browser of the cine in view (None on a single-frame image)."""
        nodes = self.shown[self.image_index]
        return nodes if isinstance(nodes, CineNodes) else None

    def show(self, image: int | None = None, frame: int | None = None) -> None:
        """Bring image ``image`` (from 0, in the series' order) and its frame ``frame`` (from 0) into view, keeping
        what is drawn on the frame leaving view; the frame stays where it was for the same cine, else the first."""
        image = self.image_index if image is None else image
        if not 0 <= image < len(self.images):
            raise InputError(f"The case has {len(self.images)} image(s); choose one from 1 to {len(self.images)}")
        frame = (self.frame_index if image == self.image_index else 0) if frame is None else frame
        count = self.images[image].frame_count
        if not 0 <= frame < count:
            raise InputError(f"{self.images[image].description} has {count} frame(s); choose one from 1 to {count}")
        if (image, frame) == (self.image_index, self.frame_index):
            return
        self._keep_drawings()
        self.image_index, self.frame_index = image, frame
        cine = self.cine_nodes()
        if cine is not None:
            if cine.browser.GetSelectedItemNumber() != frame:
                cine.browser.SetSelectedItemNumber(frame)
            sequences_logic(self.scene).UpdateProxyNodesFromSequences(cine.browser)
        for layer in self._layers:
            self._load(layer)
        for changed in self.on_change:
            changed()

    def _browsed(self, browser, _event) -> None:
        """The sequence browser moved (its slider, play button or another module): follow it to that frame."""
        cine = self.cine_nodes()
        if cine is not None and browser is cine.browser and browser.GetSelectedItemNumber() != self.frame_index:
            self.show(frame=browser.GetSelectedItemNumber())

    def pixel_of(self, lps, image: int) -> list[float]:
        """A point of the scene (patient LPS as the bridge converts it) as (column, row) pixel coordinates of image
        ``image``: DICOM's, where the centre of pixel (i, j) is (i + 0.5, j + 0.5) (PS3.3 C.18.6.1.1)."""
        affine = self.images[image].geometry.affine
        index = np.linalg.solve(affine, [*lps[:2], 0.0, 1.0])
        return [float(index[0] + 0.5), float(index[1] + 0.5)]

    def lps_of(self, pixel, image: int) -> list[float]:
        """(column, row) pixel coordinates of image ``image`` as a point of the scene (the inverse of
        :meth:`pixel_of`), on the plane of the frames (k = 0)."""
        point = self.images[image].geometry.index_to_lps(np.array([[pixel[0] - 0.5, pixel[1] - 0.5, 0.0]]))[0]
        return [float(v) for v in point]

    # ----------------------------------------------------------------- segmentations on the frames
    def attach(self, node, segmentation: Segmentation | None = None, *, editable: bool = True) -> Any:
        """Show ``segmentation`` (on the case's one image or cine) in ``node``, frame by frame; an editable node's
        drawing is kept as it is painted. Returns the node."""
        layer = _Layer(node, editable)
        node.SetReferenceImageGeometryParameterFromVolumeNode(self.volume_node)
        if segmentation is not None:
            image = self._segmented_image(f"in '{node.GetName()}'")
            self.images[image].geometry.require_same_grid(segmentation.geometry, "The segmentation")
            layer.descriptions = list(segmentation.segments)
            layer.planes = _split(segmentation, image)
        self._layers.append(layer)
        self._load(layer)
        return node

    def replace(self, node, segmentation: Segmentation) -> None:
        """Give an attached node a new segmentation (a draft resumed, an AI draft, a consensus)."""
        self.detach(node)
        self.attach(node, segmentation)

    def detach(self, node) -> None:
        self._layers = [layer for layer in self._layers if layer.node is not node]

    def segmentation(self, node, **options) -> Segmentation:
        """What ``node`` holds on every frame, as one segmentation on the case's image or cine (``options``: author,
        protocol_id)."""
        layer = self._layer(node)
        if layer.editable:
            self._keep(layer)
        if not layer.descriptions:  # nothing to place: e.g. an exam's views marked with boxes only
            return Segmentation(self.image.geometry, [], {}, reference=self.image, **options)
        image_index = self._segmented_image(f"in '{node.GetName()}'")
        image = self.images[image_index]
        cropped = {}
        for description in layer.descriptions:
            frames = {frame: planes[description.number] for (index, frame), planes in layer.planes.items()
                      if index == image_index and description.number in planes}
            if frames:
                cropped[description.number] = _stacked(frames)
        return Segmentation.from_cropped_masks(image.geometry, layer.descriptions, cropped, reference=image, **options)

    def close(self) -> None:
        """Stop following the browsers and remove the case's folder with its nodes."""
        for browser, tag in self._observed:
            browser.RemoveObserver(tag)
        self._observed, self._layers = [], []
        self.folder.remove()

    def _segmented_image(self, what: str) -> int:
        require_one_image(self.series, f"Segments ({what})")
        return 0

    def _layer(self, node) -> _Layer:
        found = [layer for layer in self._layers if layer.node is node]
        if not found:
            raise InputError(f"Segmentation node '{node.GetName()}' is not shown on the case's images")
        return found[0]

    def _keep_drawings(self) -> None:
        for layer in self._layers:
            if layer.editable:
                self._keep(layer)

    def _keep(self, layer: _Layer) -> None:
        """Read the frame in view from the node into the layer."""
        drawn = bridge.segmentation_from_nodes(layer.node, self.volume_node)
        layer.descriptions = list(drawn.segments)
        planes: FramePlanes = {}
        for description in drawn.segments:
            box, values = drawn.cropped_mask(description.number)
            if values.size and values.any():
                planes[description.number] = ((box[1], box[2]), values[0].copy())
        layer.planes[(self.image_index, self.frame_index)] = planes

    def _load(self, layer: _Layer) -> None:
        """Put the layer's drawing on the frame in view into its node (segments without one there are emptied)."""
        image = self.image
        grid = ImageGrid.of_pixels(image.columns, image.rows, 1, image.calibration.spacing)
        planes = layer.planes.get((self.image_index, self.frame_index), {})
        cropped = {number: ((slice(0, 1), *box), values[np.newaxis]) for number, (box, values) in planes.items()}
        frame = Segmentation.from_cropped_masks(grid, layer.descriptions, cropped)
        layer.node.SetReferenceImageGeometryParameterFromVolumeNode(self.volume_node)
        bridge.segmentation_to_node(frame, self.scene, self.volume_node, node=layer.node)


def open_case_images(scene, series: ReferenceSeries | PlanarSeries, name: str, volume_node=None, *,
                     owns_volume: bool = False) -> tuple[CaseFolder, PlanarViews | None]:
    """A new case's folder named ``name`` with its images: the series' volume (:func:`.hierarchy.case_folder`; the
    given ``volume_node`` or one made from the series), or its 2D images and cine as :class:`PlanarViews`."""
    if isinstance(series, PlanarSeries):
        views = PlanarViews(scene, series, name)
        return views.folder, views
    return case_folder(scene, series, name, volume_node, owns_volume=owns_volume), None


def require_one_image(series: PlanarSeries, what: str) -> None:
    """InputError when segments (``what``: which ones) would lie on a series of several images."""
    if len(series.images) > 1:
        raise InputError(f"{what} lie on one image, but {series.description} holds {len(series.images)} images "
                         "(a SEG has one grid): give segments a case of one image or cine, and mark the views of an "
                         "exam with landmarks and boxes")


def _volume(nodes):
    return nodes.proxy if isinstance(nodes, CineNodes) else nodes


def _split(segmentation: Segmentation, image: int) -> dict[tuple[int, int], FramePlanes]:
    """Each frame's 2D masks of a segmentation on an image or cine."""
    planes: dict[tuple[int, int], FramePlanes] = {}
    for description in segmentation.segments:
        box, values = segmentation.cropped_mask(description.number)
        for offset, plane in enumerate(values if values.dtype == bool else values >= 0.5):
            if plane.any():
                planes.setdefault((image, box[0].start + offset), {})[description.number] = ((box[1], box[2]), plane)
    return planes


def _stacked(frames: dict[int, tuple[tuple[slice, slice], np.ndarray]]) -> tuple[tuple[slice, slice, slice],
                                                                                     np.ndarray]:
    """Per-frame 2D masks as one box over the frames and the masks in it."""
    first, last = min(frames), max(frames)
    top = min(box[0].start for box, _ in frames.values())
    bottom = max(box[0].stop for box, _ in frames.values())
    left = min(box[1].start for box, _ in frames.values())
    right = max(box[1].stop for box, _ in frames.values())
    values = np.zeros((last - first + 1, bottom - top, right - left), dtype=bool)
    for frame, ((rows, columns), plane) in frames.items():
        values[frame - first, rows.start - top:rows.stop - top, columns.start - left:columns.stop - left] = plane
    return (slice(first, last + 1), slice(top, bottom), slice(left, right)), values
