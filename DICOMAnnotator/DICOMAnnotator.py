"""DICOMAnnotator: annotate DICOM studies for medical AI (the annotator's Slicer module).

The module is thin on purpose. The Widget binds a parameter node to the GUI and calls the
Logic; the Logic calls the Slicer-free core package ``DICOMAnnotatorLib`` (installed beside
this file by CMakeLists.txt), which it imports only inside its methods, so the module loads
even when a dependency of the core is missing.
"""

import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#
# DICOMAnnotator
#


class DICOMAnnotator(ScriptedLoadableModule):
    """Module description shown in Slicer's module panel and help."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("DICOM Annotator")
        self.parent.categories = ["DICOMAnnotator"]
        self.parent.dependencies = ["Segmentations"]
        self.parent.contributors = ["DICOMAnnotator team"]
        self.parent.helpText = _("""
Annotate DICOM studies for medical AI: protocol-driven coded segments, measurements and labels,
exported as DICOM SEG and SR. For now the module summarizes a segmentation on its reference volume.
See the <a href="https://github.com/dicom-annotator/DICOMAnnotator">project page</a>.
""")
        self.parent.acknowledgementText = _("""
Developed by the DICOMAnnotator team on top of 3D Slicer's Segment Editor and DICOM database,
pydicom, highdicom and SimpleITK.
""")


#
# DICOMAnnotatorParameterNode
#


@parameterNodeWrapper
class DICOMAnnotatorParameterNode:
    """
    The parameters of the module.

    inputVolume - the reference volume the segmentation is drawn on.
    segmentation - the segmentation to summarize.
    summaryText - the last summary computed, shown in the Summary section.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    summaryText: str = ""


#
# DICOMAnnotatorWidget
#


class DICOMAnnotatorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """GUI only: binds the parameter node to Resources/UI/DICOMAnnotator.ui and calls the Logic."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)  # needed for parameter node observation
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DICOMAnnotator.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)

        # The .ui connects the top-level widget's mrmlSceneChanged(vtkMRMLScene*) signal to each
        # MRML widget's setMRMLScene(vtkMRMLScene*) slot.
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = DICOMAnnotatorLogic()

        # Update the parameter node when the scene is closed
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.summarizeButton.connect("clicked(bool)", self.onSummarizeButton)

        # Make sure parameter node is initialized (needed for module reload)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        self.removeObservers()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanSummarize)

    def onSceneStartClose(self, caller, event) -> None:
        """Called just before the scene is closed."""
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Ensure the parameter node exists and is observed; preselect the first volume and segmentation."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode
        if not self._parameterNode.segmentation:
            firstSegmentationNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
            if firstSegmentationNode:
                self._parameterNode.segmentation = firstSegmentationNode

    def setParameterNode(self, inputParameterNode: DICOMAnnotatorParameterNode | None) -> None:
        """Set and observe the parameter node, so that the GUI follows its changes."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanSummarize)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # Widgets carry a "SlicerParameterName" dynamic property in the .ui file.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanSummarize)
            self._checkCanSummarize()

    def _checkCanSummarize(self, caller=None, event=None) -> None:
        ready = bool(self._parameterNode and self._parameterNode.inputVolume and self._parameterNode.segmentation)
        self.ui.summarizeButton.enabled = ready
        self.ui.summarizeButton.toolTip = (
            _("Summarize the segmentation on its reference volume") if ready
            else _("Select a reference volume and a segmentation")
        )

    def onSummarizeButton(self) -> None:
        """Summarize the selected segmentation when the user clicks "Summarize"."""
        with slicer.util.tryWithErrorDisplay(_("Failed to summarize the segmentation."), waitCursor=True):
            self._parameterNode.summaryText = self.logic.summarize(
                self._parameterNode.segmentation, self._parameterNode.inputVolume
            )


#
# DICOMAnnotatorLogic
#


class DICOMAnnotatorLogic(ScriptedLoadableModuleLogic):
    """Calls the core (DICOMAnnotatorLib) on MRML nodes; usable without the Widget, never touches Qt widgets."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return DICOMAnnotatorParameterNode(super().getParameterNode())

    def summarize(self, segmentationNode, volumeNode) -> str:
        """A text table of the segmentation's grid and segments, read through the core's MRML bridge.

        :param segmentationNode: vtkMRMLSegmentationNode to summarize
        :param volumeNode: the vtkMRMLScalarVolumeNode the segmentation is drawn on
        :raises ValueError: when a node is missing
        """
        if segmentationNode is None or volumeNode is None:
            raise ValueError("Select both a reference volume and a segmentation to summarize")
        from DICOMAnnotatorLib import mrml_bridge

        segmentation = mrml_bridge.segmentation_from_nodes(segmentationNode, volumeNode)
        return segmentation.summary()


#
# DICOMAnnotatorTest
#


class DICOMAnnotatorTest(ScriptedLoadableModuleTest):
    """Tests of the Logic on generated data, run by ctest and by the module's "Reload and Test" button."""

    def setUp(self):
        """Reset the state: clear the scene."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run all tests of the module."""
        self.setUp()
        self.test_summarize_generated_segmentation()
        self.setUp()
        self.test_summarize_needs_both_nodes()

    def _generatedNodes(self):
        """A 32 x 40 x 12 volume (0.8 x 0.8 x 2.5 mm, flipped in-plane axes) with two non-overlapping segments."""
        import numpy as np

        shape = (12, 40, 32)  # slices, rows, columns: the array order of slicer.util
        k, j, i = np.indices(shape)
        masks = {
            "Sphere": ((k - 6) / 4.0) ** 2 + ((j - 20) / 10.0) ** 2 + ((i - 14) / 8.0) ** 2 <= 1.0,
            "Box": (k >= 2) & (k < 5) & (j >= 2) & (j < 8) & (i >= 24) & (i < 30),
        }
        voxels = np.full(shape, -1000, dtype=np.int16)
        voxels[masks["Sphere"]] = 40
        voxels[masks["Box"]] = 300
        ijkToRAS = np.array([
            [-0.8, 0.0, 0.0, 12.4],
            [0.0, -0.8, 0.0, 16.0],
            [0.0, 0.0, 2.5, -15.0],
            [0.0, 0.0, 0.0, 1.0],
        ])
        volumeNode = slicer.util.addVolumeFromArray(voxels, ijkToRAS, "DICOMAnnotatorTestVolume")
        segmentationNode = slicer.mrmlScene.AddNewNodeByClass(
            "vtkMRMLSegmentationNode", "DICOMAnnotatorTestSegmentation"
        )
        segmentationNode.CreateDefaultDisplayNodes()
        segmentationNode.SetReferenceImageGeometryParameterFromVolumeNode(volumeNode)
        for name, mask in masks.items():
            segmentId = segmentationNode.GetSegmentation().AddEmptySegment("", name)
            slicer.util.updateSegmentBinaryLabelmapFromArray(
                mask.astype(np.uint8), segmentationNode, segmentId, volumeNode
            )
        return volumeNode, segmentationNode, {name: int(mask.sum()) for name, mask in masks.items()}

    def test_summarize_generated_segmentation(self):
        """The summary names every segment with its voxel count and gives the grid in columns x rows x slices."""
        import re

        self.delayDisplay("Summarizing a generated segmentation")
        volumeNode, segmentationNode, voxelCounts = self._generatedNodes()

        summary = DICOMAnnotatorLogic().summarize(segmentationNode, volumeNode)

        self.assertIsInstance(summary, str)
        self.assertIn("32 x 40 x 12", summary)
        for name, count in voxelCounts.items():
            self.assertGreater(count, 0)
            lines = [line for line in summary.splitlines() if re.search(rf"\b{name}\b", line)]
            self.assertEqual(len(lines), 1, f"one summary line for segment {name}:\n{summary}")
            self.assertRegex(lines[0], rf"\b{count} voxels\b")
        self.delayDisplay("Summary matches the generated segments")

    def test_summarize_needs_both_nodes(self):
        """A missing node is a clear error, not a summary of nothing."""
        volumeNode, segmentationNode, _voxelCounts = self._generatedNodes()
        logic = DICOMAnnotatorLogic()
        with self.assertRaisesRegex(ValueError, "reference volume and a segmentation"):
            logic.summarize(None, volumeNode)
        with self.assertRaisesRegex(ValueError, "reference volume and a segmentation"):
            logic.summarize(segmentationNode, None)
