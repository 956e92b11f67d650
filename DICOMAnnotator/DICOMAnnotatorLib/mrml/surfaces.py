"""Segmentations shown as closed surfaces in 3D views, on demand, as Slicer's Show 3D button shows them.

A segment is painted as a binary labelmap; a 3D view draws only closed surfaces, which are computed
from the labelmap. Computing them costs far more than a paint stroke, so they exist only while the user
asks for them. Then each stroke an editor effect applies converts them again for the segment it changed
(Slicer's segmentations logic converts every representation a segment has when its labelmap is set),
once, at the stroke's end; slice views keep drawing the labelmap. Turned off, the surfaces are removed,
so strokes convert nothing again.
"""

from __future__ import annotations

from collections.abc import Iterable

import slicer


def show_in_3d(segmentation_nodes: Iterable, shown: bool) -> None:
    """Show each segmentation node as closed surfaces in 3D views (``shown``), or remove its surfaces."""
    surface = slicer.vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName()
    labelmap = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
    for node in segmentation_nodes:
        segmentation, display = node.GetSegmentation(), node.GetDisplayNode()
        was_modifying = node.StartModify()
        try:
            if not shown:
                if segmentation.GetSourceRepresentationName() != surface:  # never drop what was drawn
                    segmentation.RemoveRepresentation(surface)
                continue
            if not segmentation.CreateRepresentation(surface):
                continue  # no conversion path: nothing can be shown in 3D
            if display is not None:
                display.SetPreferredDisplayRepresentationName3D(surface)
                if segmentation.ContainsRepresentation(labelmap):
                    display.SetPreferredDisplayRepresentationName2D(labelmap)  # slices stay fast and exact
                display.SetVisibility3D(True)
        finally:
            node.EndModify(was_modifying)
