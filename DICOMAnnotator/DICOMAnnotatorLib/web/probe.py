"""The data probe under the views: where the mouse is (patient RAS mm and voxel IJK), the value there, the brush.

Slicer shows this in its Data Probe panel; annotators use it to read Hounsfield units at a boundary and to
see the brush's calibrated size. It follows the scene's crosshair node, whose cursor position the slice
views update as the mouse moves.
"""

from __future__ import annotations

#: State keys: the line shown, and the voxel index and RAS position as numbers.
PROBE, PROBE_IJK, PROBE_RAS = "da_probe", "da_probe_ijk", "da_probe_ras"


class DataProbe:
    def __init__(self, server, scene, brush_mm) -> None:
        import slicer

        self.state, self.scene, self.brush_mm = server.state, scene, brush_mm
        self.volume_node = None
        self.state.update({PROBE: "", PROBE_IJK: None, PROBE_RAS: None})
        self.crosshair = scene.GetFirstNodeByClass("vtkMRMLCrosshairNode")
        self.crosshair.AddObserver(slicer.vtkMRMLCrosshairNode.CursorPositionModifiedEvent, self._moved)

    def follow(self, volume_node) -> None:
        """Read values from ``volume_node`` (None: nothing to read)."""
        self.volume_node = volume_node
        self.state[PROBE] = ""

    def _moved(self, *_args) -> None:
        import vtk

        ras = [0.0, 0.0, 0.0]
        if self.volume_node is None or not self.crosshair.GetCursorPositionRAS(ras):
            return
        to_ijk = vtk.vtkMatrix4x4()
        self.volume_node.GetRASToIJKMatrix(to_ijk)
        ijk = [int(round(v)) for v in to_ijk.MultiplyPoint([*ras, 1.0])[:3]]
        image = self.volume_node.GetImageData()
        size = image.GetDimensions()
        inside = all(0 <= ijk[n] < size[n] for n in range(3))
        value = image.GetScalarComponentAsDouble(*ijk, 0) if inside else None
        with self.state:
            self.state[PROBE_RAS] = [round(v, 3) for v in ras]
            self.state[PROBE_IJK] = ijk if inside else None
            self.state[PROBE] = (f"RAS ({ras[0]:.1f}, {ras[1]:.1f}, {ras[2]:.1f}) mm"
                                 + (f"  IJK ({ijk[0]}, {ijk[1]}, {ijk[2]})  {value:g}" if inside else "  outside")
                                 + f"  brush {self.brush_mm():g} mm")

