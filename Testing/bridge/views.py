"""Slicer's slice and 3D views of a scene, rendered offscreen with slicer-core (EGL, no display needed).

The views are built from Slicer's own MRML pieces, as a Slicer view widget builds them: a slice
logic reslices and windows the volume, and the displayable managers draw the segmentations (filled
and outlined in slices, closed surfaces in 3D). The extension's screenshots come from here:

    .venv/bin/python Testing/bridge/views.py docs/screenshots

renders a phantom case opened through the annotator's desk (protocol segments drawn, the same as a
user's) into ``annotate-slice.png`` and ``annotate-3d.png``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import slicer
import vtk
from DICOMAnnotatorLib.mrml import bridge
from vtk.util import numpy_support

SLICE_MANAGERS = ("vtkMRMLSegmentationsDisplayableManager2D",)
THREE_D_MANAGERS = ("vtkMRMLCameraDisplayableManager", "vtkMRMLViewDisplayableManager",
                    "vtkMRMLSegmentationsDisplayableManager3D")
BACKGROUND = (0.1, 0.1, 0.15)


class OffscreenViews:
    """Slice and 3D views of ``scene`` (made with :func:`bridge.create_headless_scene`)."""

    def __init__(self, scene) -> None:
        self.scene = scene
        bridge.segmentations_logic(scene)
        self.application_logic = scene._dicom_annotator_logics[0]
        # The grey scale (and other) colour tables volumes display with. They come from the application
        # logic's colour logic, which lives as long as the scene: a colour logic removes its tables from the
        # scene when it is deleted, and a volume layer without its table maps to undefined pixels.
        self.colors = self.application_logic.GetColorLogic()
        if self.colors.GetMRMLScene() is not scene:
            self.colors.SetMRMLScene(scene)
        self.slice_logics = vtk.vtkCollection()
        self.application_logic.SetSliceLogics(self.slice_logics)
        self._kept: list = []  # windows, logics and managers live as long as the views

    def slice_view(self, volume_node, size: tuple[int, int], orientation: str = "Axial",
                   offset_mm: float | None = None):
        """A slice view (``Red``/``Yellow``/``Green`` by orientation) with the volume as background, fitted to it."""
        name = {"Axial": "Red", "Sagittal": "Yellow", "Coronal": "Green"}[orientation]
        logic = slicer.vtkMRMLSliceLogic()
        logic.SetMRMLApplicationLogic(self.application_logic)
        logic.SetMRMLScene(self.scene)
        slice_node = logic.AddSliceNode(name)
        slice_node.SetOrientation(orientation)
        slice_node.SetDimensions(size[0], size[1], 1)
        self.slice_logics.AddItem(logic)
        display = volume_node.GetDisplayNode()
        if display.GetColorNode() is None:  # made before the colour tables were in the scene
            display.SetAndObserveColorNodeID(self.colors.GetDefaultVolumeColorNodeID())
        logic.GetSliceCompositeNode().SetBackgroundVolumeID(volume_node.GetID())
        logic.FitSliceToAll()
        if offset_mm is not None:
            logic.SetSliceOffset(offset_mm)
        window, renderer = self._window(size)
        mapper = vtk.vtkImageMapper()  # the slice logic's output is RGBA, already windowed
        mapper.SetColorWindow(255)
        mapper.SetColorLevel(127.5)
        mapper.SetInputConnection(logic.GetImageDataConnection())
        image = vtk.vtkActor2D()
        image.SetMapper(mapper)
        renderer.AddViewProp(image)
        self._managers(slicer.vtkMRMLSliceViewDisplayableManagerFactory.GetInstance(), SLICE_MANAGERS, renderer,
                       slice_node)
        self._kept += [logic, mapper, image]
        return View(self, window, slice_node)

    def three_d_view(self, size: tuple[int, int], elevation: float = -60.0, azimuth: float = 30.0):
        """A 3D view showing what is visible in 3D (closed surfaces of segmentations), the camera on it."""
        view_node = self.scene.AddNewNodeByClass("vtkMRMLViewNode")
        view_node.SetBoxVisible(False)
        view_node.SetAxisLabelsVisible(False)
        view_node.SetBackgroundColor(*BACKGROUND)
        view_node.SetBackgroundColor2(0.3, 0.3, 0.4)
        window, renderer = self._window(size)
        window.SetAlphaBitPlanes(1)  # transparent surfaces in depth order, as Slicer's 3D view draws them
        window.SetMultiSamples(0)
        renderer.SetUseDepthPeeling(1)
        renderer.SetMaximumNumberOfPeels(8)
        self._managers(slicer.vtkMRMLThreeDViewDisplayableManagerFactory.GetInstance(), THREE_D_MANAGERS, renderer,
                       view_node)
        window.Render()
        renderer.ResetCamera()
        camera = renderer.GetActiveCamera()
        camera.Elevation(elevation)
        camera.Azimuth(azimuth)
        camera.OrthogonalizeViewUp()
        renderer.ResetCamera()
        camera.Zoom(1.3)
        return View(self, window, view_node)

    def _window(self, size: tuple[int, int]):
        window = vtk.vtkRenderWindow()
        window.SetOffScreenRendering(1)
        window.SetSize(*size)
        renderer = vtk.vtkRenderer()
        window.AddRenderer(renderer)
        interactor = vtk.vtkRenderWindowInteractor()  # the displayable managers observe an interactor
        interactor.SetRenderWindow(window)
        self._kept += [window, renderer, interactor]
        return window, renderer

    def _managers(self, factory, names, renderer, view_node) -> None:
        factory.SetMRMLApplicationLogic(self.application_logic)
        for name in names:
            if not factory.IsDisplayableManagerRegistered(name):
                factory.RegisterDisplayableManager(name)
        group = factory.InstantiateDisplayableManagers(renderer)
        group.SetMRMLDisplayableNode(view_node)
        self._kept.append(group)


class View:
    """One rendered view: its pixels, and where a patient point (RAS) falls in a slice view.

    A view keeps its :class:`OffscreenViews` alive: the slice logics and displayable managers drawing
    into its window are theirs.
    """

    def __init__(self, views: OffscreenViews, window, view_node) -> None:
        self.views, self.window, self.node = views, window, view_node

    def pixels(self) -> np.ndarray:
        """The view as RGB rows, top row first."""
        self.window.Render()
        grab = vtk.vtkWindowToImageFilter()
        grab.SetInput(self.window)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.Update()
        image = grab.GetOutput()
        width, height, _ = image.GetDimensions()
        rgb = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, 3)
        return rgb[::-1].copy()

    def pixel_of(self, ras) -> tuple[int, int]:
        """(row, column) of a RAS point in a slice view's pixels."""
        to_xy = vtk.vtkMatrix4x4()
        vtk.vtkMatrix4x4.Invert(self.node.GetXYToRAS(), to_xy)
        x, y, _, _ = to_xy.MultiplyPoint([*ras, 1.0])
        height = self.node.GetDimensions()[1]
        return height - 1 - int(round(y)), int(round(x))

    def write_png(self, path: Path) -> Path:
        rgb = self.pixels()[::-1]
        image = vtk.vtkImageData()
        image.SetDimensions(rgb.shape[1], rgb.shape[0], 1)
        image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(rgb.reshape(-1, 3), deep=True))
        writer = vtk.vtkPNGWriter()
        writer.SetFileName(str(path))
        writer.SetInputData(image)
        writer.Write()
        return path


def annotated_phantom_case(folder: Path, size=(256, 192, 48), spacing=(0.225, 0.175, 1.25)):
    """A liver-lesions-ct phantom case opened by an annotator in a fresh scene, liver and lesion drawn; the desk
    (its session holds the case) and the phantom's labels."""
    from DICOMAnnotatorLib.imaging import Segmentation, phantoms
    from DICOMAnnotatorLib.mrml import AnnotatorDesk
    from DICOMAnnotatorLib.protocols import load_protocol
    from DICOMAnnotatorLib.review import create_sample_project

    geometry = phantoms.phantom_geometry(size=size, spacing=spacing)
    hu, labels = phantoms.phantom_volume(geometry)
    phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), folder / "series")
    url = f"sqlite:///{folder / 'review.db'}"
    create_sample_project(url, "liver", load_protocol("liver-lesions-ct"), folder / "series")
    desk = AnnotatorDesk(bridge.create_headless_scene(), url, "ann", folder / "work")
    session = desk.open_next_case("liver")
    drawn = Segmentation.from_labelmap(geometry, np.where(labels == 3, 0, labels),
                                       session.protocol.segment_descriptions(), reference=session.series)
    bridge.segmentation_to_node(drawn, session.scene, session.volume_node, node=session.segmentation_node)
    return desk, labels


def render_screenshots(output: Path) -> list[Path]:
    """The extension's screenshots: an axial slice through the lesion and a 3D view of the drawn segments."""
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        desk, labels = annotated_phantom_case(Path(folder))
        session = desk.session
        views = OffscreenViews(session.scene)
        lesion_slice = int(np.argwhere(labels == 2)[:, 0].mean())
        centre = session.series.geometry.index_to_lps([[0, 0, lesion_slice]])[0]
        slice_view = views.slice_view(session.volume_node, (800, 600), offset_mm=bridge.ras_point(centre)[2])
        desk.show_3d(True)
        segmentation = session.segmentation_node
        liver = segmentation.GetSegmentation().GetSegmentIdBySegmentName("Liver")
        segmentation.GetDisplayNode().SetSegmentOpacity3D(liver, 0.35)
        return [slice_view.write_png(output / "annotate-slice.png"),
                views.three_d_view((800, 600)).write_png(output / "annotate-3d.png")]


if __name__ == "__main__":
    for written in render_screenshots(Path(sys.argv[1])):
        print(written)
