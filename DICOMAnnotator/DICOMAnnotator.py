"""DICOMAnnotator: annotate DICOM studies for medical AI (the annotator's Slicer module).

The module is thin on purpose. The Widget binds a parameter node to the GUI and calls the
Logic; the Logic hands every step to ``DICOMAnnotatorLib.mrml.AnnotatorDesk`` (the core's
MRML layer, tested headless on slicer-core with a real review store). The core is imported only
inside Logic methods, after its dependencies were ensured, so the module loads even when a
dependency of the core is missing.
"""

import os

import qt
import slicer
from slicer.i18n import tr as _
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#: Application settings keys shared with DICOMAnnotatorReview.
STORE_URL_SETTINGS_KEY = "DICOMAnnotator/StoreURL"
USER_SETTINGS_KEY = "DICOMAnnotator/User"
WORK_FOLDER_SETTINGS_KEY = "DICOMAnnotator/WorkFolder"

#: Parameter node fields kept in the application settings: field -> (settings key, default).
SETTINGS_FIELDS = {
    "storeURL": (STORE_URL_SETTINGS_KEY, ""),
    "userName": (USER_SETTINGS_KEY, ""),
    "workFolder": (WORK_FOLDER_SETTINGS_KEY, os.path.join(os.path.expanduser("~"), "DICOMAnnotator")),
}


def loadSettingsInto(settings, parameterNode, fields=SETTINGS_FIELDS) -> None:
    """Fill the parameter node's empty fields from the application settings (also used by DICOMAnnotatorReview)."""
    for field, (key, default) in fields.items():
        if not getattr(parameterNode, field):
            setattr(parameterNode, field, str(settings.value(key, default) or default))


def saveSettingsFrom(settings, parameterNode, fields=SETTINGS_FIELDS) -> None:
    """Remember the parameter node's fields in the application settings for the next session."""
    for field, (key, _default) in fields.items():
        settings.setValue(key, getattr(parameterNode, field).strip())


def addToDICOMDatabase(paths) -> None:
    """Index written SEG/SR files in Slicer's DICOM database, when one is open (also used by DICOMAnnotatorReview)."""
    database = slicer.dicomDatabase
    if database is None or not database.isOpen:
        return
    for path in paths:
        database.insert(path, False, False)  # reference the file where it is; no thumbnail


def fillTableWidget(table, rows) -> None:
    """Rows of strings into a QTableWidget; the first row holds the headers (also used by DICOMAnnotatorReview)."""
    headers, rows = rows[0], rows[1:]
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setRowCount(len(rows))
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, qt.QTableWidgetItem(value))


#
# DICOMAnnotator
#


class DICOMAnnotator(ScriptedLoadableModule):
    """Module description shown in Slicer's module panel and help."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("DICOM Annotator")
        self.parent.categories = ["DICOMAnnotator"]
        self.parent.dependencies = ["Segmentations", "DICOM"]
        self.parent.contributors = ["DICOMAnnotator team"]
        self.parent.helpText = _("""
Annotate DICOM studies for medical AI. "Next case" opens your next case from the review store with its
protocol: coded segments, window presets, instructions and a checklist. Draw in the Segment Editor below,
give the classification labels, then "Submit": the work is written as DICOM SEG and SR (TID 1500) and
recorded in the store. "Save draft" keeps unfinished work; it comes back with the case.
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

    storeURL - the review store (SQLAlchemy URL; empty: the default SQLite file).
    userName - the annotator, as known to the store.
    projectName - the project whose cases to annotate.
    workFolder - where drafts and submissions are written.
    caseText - what the open case is, for the user.
    """

    storeURL: str = ""
    userName: str = ""
    projectName: str = ""
    workFolder: str = ""
    caseText: str = ""


#
# DICOMAnnotatorWidget
#


class DICOMAnnotatorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """GUI only: binds the parameter node to Resources/UI/DICOMAnnotator.ui and calls the Logic."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.editor = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DICOMAnnotator.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = DICOMAnnotatorLogic()

        import qSlicerSegmentationsModuleWidgetsPythonQt

        self.editor = qSlicerSegmentationsModuleWidgetsPythonQt.qMRMLSegmentEditorWidget()
        self.editor.setMaximumNumberOfUndoStates(10)
        self.editor.setMRMLScene(slicer.mrmlScene)
        self.ui.segmentEditorFrame.layout().addWidget(self.editor)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.nextCaseButton.connect("clicked(bool)", self.onNextCase)
        self.ui.saveDraftButton.connect("clicked(bool)", self.onSaveDraft)
        self.ui.submitButton.connect("clicked(bool)", self.onSubmit)
        self.ui.refreshButton.connect("clicked(bool)", self.updateProgress)
        self.ui.setLabelButton.connect("clicked(bool)", self.onSetLabel)
        self.ui.labelClassificationComboBox.connect("currentTextChanged(QString)", self.updateLabelChoices)
        self.initializeParameterNode()
        self.updateCaseControls()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()
        self.editor.installKeyboardShortcuts()

    def exit(self) -> None:
        self.editor.setActiveEffect(None)
        self.editor.uninstallKeyboardShortcuts()
        self.editor.removeViewObservations()

    def onSceneStartClose(self, caller, event) -> None:
        """Keep the open case as a draft before its nodes go away, so nothing is lost."""
        with slicer.util.tryWithErrorDisplay(_("The draft of the open case could not be saved.")):
            self.logic.saveDraftIfOpen()
        self.logic.closeCase()
        self.editor.setSegmentationNode(None)
        self.editor.removeViewObservations()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()
        self.updateCaseControls()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        self.logic.loadSettings(self._parameterNode)

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)

    def onNextCase(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open the next case."), waitCursor=True):
            self.logic.ensureDependencies()
            self.logic.saveSettings(self._parameterNode)
            progress = slicer.util.createProgressDialog(labelText=_("Loading the case..."), maximum=0)
            try:
                self._parameterNode.caseText = self.logic.openNextCase(self._parameterNode)
            finally:
                progress.close()
            self.editor.setMRMLSegmentEditorNode(self.logic.segmentEditorNode())
            self.editor.updateWidgetFromMRML()
            self.showProtocol()
        self.updateCaseControls()

    def showProtocol(self) -> None:
        """Instructions beside the work, one button per window preset, the label choices."""
        self.ui.instructionsTextBrowser.setHtml(self.logic.instructionsHtml())
        presets = self.ui.windowPresetsFrame.layout()
        while presets.count():
            presets.takeAt(0).widget().deleteLater()
        for name, center, width in self.logic.windowPresets():
            button = qt.QPushButton(name)
            button.toolTip = _("Window {width} / level {center}").format(width=width, center=center)
            button.connect("clicked(bool)", lambda checked, preset=name: self.logic.applyWindow(preset))
            presets.addWidget(button)
        self.ui.labelClassificationComboBox.clear()
        self.ui.labelClassificationComboBox.addItems(self.logic.classifications())
        self.updateProgress()

    def updateLabelChoices(self, classification: str) -> None:
        targets, values = self.logic.labelChoices(classification)
        self.ui.labelTargetComboBox.clear()
        self.ui.labelTargetComboBox.addItems(targets)
        self.ui.labelValueComboBox.clear()
        self.ui.labelValueComboBox.addItems(values)

    def onSetLabel(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The label could not be set.")):
            self.logic.setLabel(self.ui.labelTargetComboBox.currentText,
                                self.ui.labelClassificationComboBox.currentText,
                                self.ui.labelValueComboBox.currentText)
            self.updateProgress()

    def updateProgress(self) -> None:
        """The checklist and the live measurements of the open case."""
        with slicer.util.tryWithErrorDisplay(_("The checklist could not be computed."), waitCursor=True):
            fillTableWidget(self.ui.checklistTableWidget, self.logic.checklistRows())
            fillTableWidget(self.ui.measurementsTableWidget, self.logic.measurementRows())

    def onSaveDraft(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The draft could not be saved."), waitCursor=True):
            self._parameterNode.caseText = self.logic.saveDraft()

    def onSubmit(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The case could not be submitted."), waitCursor=True):
            progress = slicer.util.createProgressDialog(labelText=_("Writing DICOM SEG and SR..."), maximum=0)
            try:
                self._parameterNode.caseText = self.logic.submit()
            finally:
                progress.close()
            self.editor.setSegmentationNode(None)
        self.updateCaseControls()

    def updateCaseControls(self) -> None:
        isOpen = self.logic.hasOpenCase()
        for widget in (self.ui.saveDraftButton, self.ui.submitButton, self.ui.refreshButton, self.ui.setLabelButton):
            widget.enabled = isOpen


#
# DICOMAnnotatorLogic
#


class DICOMAnnotatorLogic(ScriptedLoadableModuleLogic):
    """Calls the core's AnnotatorDesk on the application's scene; usable without the Widget, never touches Qt widgets.

    :param settings: the QSettings to read and write; default: Slicer's user settings.
    """

    def __init__(self, settings=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._settings = settings
        self.desk = None

    def getParameterNode(self):
        return DICOMAnnotatorParameterNode(super().getParameterNode())

    def settings(self):
        return self._settings if self._settings is not None else slicer.app.userSettings()

    def loadSettings(self, parameterNode) -> None:
        """Fill empty fields from the application settings (store, user, work folder)."""
        loadSettingsInto(self.settings(), parameterNode)

    def saveSettings(self, parameterNode) -> None:
        saveSettingsFrom(self.settings(), parameterNode)

    def ensureDependencies(self) -> None:
        """Install what Slicer lacks from Resources/requirements.txt, asking the user first."""
        requirements = os.path.join(os.path.dirname(__file__), "Resources", "requirements.txt")
        slicer.packaging.pip_ensure(slicer.packaging.load_requirements(requirements), requester="DICOM Annotator")

    def openNextCase(self, parameterNode) -> str:
        """Open the user's next case of the project; returns a line describing it."""
        from DICOMAnnotatorLib.mrml import AnnotatorDesk

        if not parameterNode.userName.strip() or not parameterNode.projectName.strip():
            raise ValueError("Give your user name and the project")
        self.desk = AnnotatorDesk(slicer.mrmlScene, parameterNode.storeURL.strip() or None,
                                  parameterNode.userName.strip(), parameterNode.workFolder.strip())
        session = self.desk.open_next_case(parameterNode.projectName.strip(), load_volume=self.loadVolume)
        slicer.util.setSliceViewerLayers(background=session.volume_node, fit=True)
        case = self.desk.case
        return f"Case {case.id} (round {case.round}, {case.state.value}): {session.series.description}"

    def loadVolume(self, case):
        """The case's series from Slicer's DICOM database, imported from its folder first when it is not there."""
        database = slicer.dicomDatabase
        if database is None or not database.isOpen:
            return None  # no DICOM database: the core reads the files itself
        from DICOMLib import DICOMUtils

        if not database.filesForSeries(case.series_uid):
            DICOMUtils.importDicom(case.image_location, database)
        loaded = DICOMUtils.loadSeriesByUID([case.series_uid])
        volumes = [slicer.mrmlScene.GetNodeByID(nodeID) for nodeID in loaded]
        volumes = [node for node in volumes if node is not None and node.IsA("vtkMRMLScalarVolumeNode")]
        return volumes[0] if volumes else None

    def hasOpenCase(self) -> bool:
        return self.desk is not None and self.desk.session is not None

    def _session(self):
        if not self.hasOpenCase():
            raise ValueError("Open a case first (Next case)")
        return self.desk.session

    def segmentEditorNode(self):
        from DICOMAnnotatorLib import mrml

        session = self._session()
        return mrml.segment_editor_node(slicer.mrmlScene, session.segmentation_node, session.volume_node)

    def instructionsHtml(self) -> str:
        """The protocol's instructions and edge cases as HTML for the text browser."""
        import html

        protocol = self._session().protocol
        parts = [f"<h3>{html.escape(protocol.title)} ({html.escape(protocol.version)})</h3>"]
        if protocol.instructions:
            parts.append(f"<p>{html.escape(protocol.instructions.text)}</p>")
        for edge in protocol.edge_cases:
            parts.append(f"<p><b>{html.escape(edge.title)}</b>: {html.escape(edge.text)}</p>")
        return "".join(parts)

    def windowPresets(self) -> list:
        return [(p.name, p.center, p.width) for p in self._session().protocol.window_presets]

    def applyWindow(self, name: str) -> None:
        self._session().apply_window(name)

    def classifications(self) -> list:
        from DICOMAnnotatorLib.protocols import AnnotationKind

        return [s.label for s in self._session().protocol.structures if s.kind is AnnotationKind.CLASSIFICATION]

    def labelChoices(self, classification: str) -> tuple:
        """The targets a classification applies to (or the case) and its allowed values, by meaning."""
        from DICOMAnnotatorLib.mrml import CASE_TARGET

        if not classification or not self.hasOpenCase():
            return [], []
        structure = self._session().protocol.structure(classification)
        return list(structure.applies_to or (CASE_TARGET,)), [value.meaning for value in structure.values]

    def setLabel(self, target: str, classification: str, valueMeaning: str) -> None:
        session = self._session()
        values = [v for v in session.protocol.structure(classification).values if v.meaning == valueMeaning]
        if not values:
            raise ValueError(f"'{valueMeaning}' is not a value of '{classification}'")
        session.set_label(target, classification, values[0])

    def checklistRows(self) -> list:
        """Header row, then one row per structure: label, kind, required, expected, count, done."""
        rows = [["Structure", "Kind", "Required", "Expected", "Count", "Done"]]
        for item in self._session().checklist():
            rows.append([item.label, item.kind.value, "yes" if item.required else "no", item.expected,
                         str(item.count), "yes" if item.done else "NO"])
        return rows

    def measurementRows(self) -> list:
        """Header row, then the calibrated measurements of every segment drawn so far."""
        from DICOMAnnotatorLib.sr import measure_segmentation

        session = self._session()
        segmentation = session.segmentation()
        rows = [["Segment", "Volume (mL)", "Max diameter (mm)", "Mean", "Min", "Max"]]
        for measured in measure_segmentation(segmentation, session.series.read_voxels()):
            stats, diameter = measured.intensity, measured.max_diameter_mm
            intensity = [f"{stats.mean:.1f}", f"{stats.minimum:g}", f"{stats.maximum:g}"] if stats else ["", "", ""]
            rows.append([segmentation.segment(measured.number).label, f"{measured.volume_ml:.2f}",
                         "" if diameter is None else f"{diameter:.1f}", *intensity])
        return rows

    def saveDraft(self) -> str:
        files = self.desk.save_draft() if self.hasOpenCase() else None
        if files is None:
            raise ValueError("Open a case first (Next case)")
        return f"Draft saved: {files.seg}"

    def saveDraftIfOpen(self) -> None:
        if self.hasOpenCase():
            self.desk.save_draft()

    def closeCase(self) -> None:
        self.desk = None

    def submit(self) -> str:
        """Submit the open case (SEG + SR into the work folder and the store); the case is then closed."""
        self._session()
        files, srPath, case = self.desk.submit()
        self.desk = None
        written = [str(path) for path in (files.seg, srPath) if path.exists()]  # landmark protocols: the SR only
        addToDICOMDatabase(written)
        return f"Submitted case {case.id} ({case.state.value}): {', '.join(written)}"


#
# DICOMAnnotatorTest
#


class DICOMAnnotatorTest(ScriptedLoadableModuleTest):
    """The module's whole flow on generated data, run by ctest and by the module's "Reload and Test" button."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_annotate_and_submit_generated_case()

    def test_annotate_and_submit_generated_case(self):
        """A phantom case in a temporary store: open it, draw the liver and lesion, label, draft, submit."""
        import tempfile

        import numpy as np
        from DICOMAnnotatorLib import mrml
        from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, write_phantom_series
        from DICOMAnnotatorLib.protocols import load_protocol
        from DICOMAnnotatorLib.review import create_sample_project

        self.delayDisplay("Making a phantom CT case in a temporary review store")
        with tempfile.TemporaryDirectory() as folder:
            geometry, _hu, labels = write_phantom_series(os.path.join(folder, "series"))
            series = ReferenceSeries.from_paths(os.path.join(folder, "series"))
            url = "sqlite:///" + os.path.join(folder, "store.db")
            create_sample_project(url, "liver", load_protocol("liver-lesions-ct"), os.path.join(folder, "series"),
                                  annotators=["ann"])

            settings = qt.QSettings(os.path.join(folder, "settings.ini"), qt.QSettings.IniFormat)
            logic = DICOMAnnotatorLogic(settings)
            parameters = logic.getParameterNode()
            parameters.storeURL, parameters.userName, parameters.projectName = url, "ann", "liver"
            parameters.workFolder = os.path.join(folder, "work")
            self.assertIn("Case 1", logic.openNextCase(parameters))
            self.assertEqual([row[0] for row in logic.checklistRows()[1:]],
                             ["Liver", "Liver lesion", "Liver lesion type"])
            with self.assertRaisesRegex(Exception, "Required structure"):
                logic.submit()

            self.delayDisplay("Drawing the liver and the lesion")
            session = logic.desk.session
            drawn = Segmentation.from_labelmap(geometry, np.where(labels == 3, 0, labels),
                                               session.protocol.segment_descriptions(), reference=series)
            mrml.segmentation_to_node(drawn, slicer.mrmlScene, session.volume_node,
                                             node=session.segmentation_node)
            logic.setLabel("Liver lesion", "Liver lesion type", "Cyst")
            self.assertEqual(logic.measurementRows()[1][0], "Liver")
            self.assertIn("Draft saved", logic.saveDraft())
            self.assertIn("Submitted case 1", logic.submit())
            self.assertFalse(logic.hasOpenCase())
        self.delayDisplay("Case annotated and submitted")
