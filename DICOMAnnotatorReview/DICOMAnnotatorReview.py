"""DICOMAnnotatorReview: review queue, comparison, consensus and sign-off (the reviewer's Slicer module).

The module is thin on purpose. The Widget binds a parameter node to the GUI and calls the
Logic; the Logic hands every step to ``DICOMAnnotatorLib.mrml.ReviewerDesk`` (the core's
MRML layer, tested headless on slicer-core with a real review store), installed by
../DICOMAnnotator/CMakeLists.txt into the same folder as this module.
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

from DICOMAnnotator import SETTINGS_FIELDS, addToDICOMDatabase, fillTableWidget, loadSettingsInto, saveSettingsFrom

ALL_SUBMISSIONS = "All submissions"
#: The same store and work folder as DICOMAnnotator; the reviewer's name is kept apart from the annotator's.
REVIEW_SETTINGS_FIELDS = {**SETTINGS_FIELDS, "userName": ("DICOMAnnotator/ReviewUser", "")}

#
# DICOMAnnotatorReview
#


class DICOMAnnotatorReview(ScriptedLoadableModule):
    """Module description shown in Slicer's module panel and help."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("DICOM Annotator Review")
        self.parent.categories = ["DICOMAnnotator"]
        self.parent.dependencies = ["DICOMAnnotator"]  # its core package, settings and table helpers
        self.parent.contributors = ["DICOMAnnotator team"]
        self.parent.helpText = _("""
Review annotations made with DICOM Annotator. "Next case" opens your most urgent case: every submission
as its own segmentation, with the annotators' agreement per segment. Build the consensus (STAPLE or
majority), edit it in the Segment Editor, record it, then approve, request changes with a comment, or
sign the approved case. Export writes the consensus as DICOM SEG, NIfTI and surface models.
See the <a href="https://github.com/dicom-annotator/DICOMAnnotator">project page</a>.
""")
        self.parent.acknowledgementText = _("""
Developed by the DICOMAnnotator team on top of 3D Slicer's Segment Editor and DICOM database,
pydicom, highdicom and SimpleITK.
""")


#
# DICOMAnnotatorReviewParameterNode
#


@parameterNodeWrapper
class DICOMAnnotatorReviewParameterNode:
    """
    The parameters of the module.

    storeURL - the review store (SQLAlchemy URL; empty: the default SQLite file).
    userName - the reviewer, radiologist or lead, as known to the store.
    projectName - the project whose cases to review.
    workFolder - where consensus and exports are written.
    caseText - what the open case is, for the user.
    """

    storeURL: str = ""
    userName: str = ""
    projectName: str = ""
    workFolder: str = ""
    caseText: str = ""


#
# DICOMAnnotatorReviewWidget
#


class DICOMAnnotatorReviewWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """GUI only: binds the parameter node to Resources/UI/DICOMAnnotatorReview.ui and calls the Logic."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DICOMAnnotatorReview.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = DICOMAnnotatorReviewLogic()
        self.ui.methodComboBox.addItems(["staple", "majority"])
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        connections = {
            self.ui.nextCaseButton: self.onNextCase, self.ui.buildConsensusButton: self.onBuildConsensus,
            self.ui.editConsensusButton: self.onEditConsensus, self.ui.recordConsensusButton: self.onRecordConsensus,
            self.ui.approveButton: self.onApprove, self.ui.requestChangesButton: self.onRequestChanges,
            self.ui.signButton: self.onSign, self.ui.exportButton: self.onExport,
        }
        for button, handler in connections.items():
            button.connect("clicked(bool)", handler)
        self.ui.showOnlyComboBox.connect("currentTextChanged(QString)", self.onShowOnly)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def onSceneStartClose(self, caller, event) -> None:
        self.logic.closeCase()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

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
            progress = slicer.util.createProgressDialog(labelText=_("Loading the submissions..."), maximum=0)
            try:
                self._parameterNode.caseText = self.logic.openNextCase(self._parameterNode)
            finally:
                progress.close()
            self.ui.showOnlyComboBox.clear()
            self.ui.showOnlyComboBox.addItems([ALL_SUBMISSIONS] + self.logic.annotators())
            self.showAgreement()

    def showAgreement(self) -> None:
        fillTableWidget(self.ui.agreementTableWidget, self.logic.agreementRows())

    def onShowOnly(self, name: str) -> None:
        if name and self.logic.hasOpenCase():
            self.logic.showOnly(None if name == ALL_SUBMISSIONS else name)

    def onBuildConsensus(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The consensus could not be built."), waitCursor=True):
            self.logic.buildConsensus(self.ui.methodComboBox.currentText)
            self.showAgreement()

    def onEditConsensus(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The consensus could not be opened for editing.")):
            self.logic.prepareConsensusEditing()
            slicer.util.selectModule("SegmentEditor")

    def onRecordConsensus(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The consensus could not be recorded."), waitCursor=True):
            self._parameterNode.caseText = self.logic.recordConsensus(self.ui.methodComboBox.currentText)

    def onApprove(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The case could not be approved."), waitCursor=True):
            self._parameterNode.caseText = self.logic.approve(self.ui.commentPlainTextEdit.plainText)

    def onRequestChanges(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Changes could not be requested."), waitCursor=True):
            self._parameterNode.caseText = self.logic.requestChanges(self.ui.commentPlainTextEdit.plainText)

    def onSign(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("The case could not be signed."), waitCursor=True):
            self._parameterNode.caseText = self.logic.sign(self.ui.meaningLineEdit.text)

    def onExport(self) -> None:
        formats = [name for name, box in (("seg", self.ui.exportSegCheckBox), ("nifti", self.ui.exportNiftiCheckBox),
                                          ("models", self.ui.exportModelsCheckBox)) if box.checked]
        with slicer.util.tryWithErrorDisplay(_("The export failed."), waitCursor=True):
            progress = slicer.util.createProgressDialog(labelText=_("Exporting..."), maximum=0)
            try:
                self._parameterNode.caseText = self.logic.export(formats)
            finally:
                progress.close()


#
# DICOMAnnotatorReviewLogic
#


class DICOMAnnotatorReviewLogic(ScriptedLoadableModuleLogic):
    """Calls the core's ReviewerDesk on the application's scene; usable without the Widget, never touches Qt widgets.

    :param settings: the QSettings to read and write; default: Slicer's user settings.
    """

    def __init__(self, settings=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._settings = settings
        self.desk = None

    def getParameterNode(self):
        return DICOMAnnotatorReviewParameterNode(super().getParameterNode())

    def settings(self):
        return self._settings if self._settings is not None else slicer.app.userSettings()

    def loadSettings(self, parameterNode) -> None:
        """Fill empty fields from the application settings (store, user, work folder)."""
        loadSettingsInto(self.settings(), parameterNode, REVIEW_SETTINGS_FIELDS)

    def saveSettings(self, parameterNode) -> None:
        saveSettingsFrom(self.settings(), parameterNode, REVIEW_SETTINGS_FIELDS)

    def ensureDependencies(self) -> None:
        """Install what Slicer lacks from DICOMAnnotator's Resources/requirements.txt, asking the user first."""
        folder = os.path.dirname(slicer.modules.dicomannotator.path)
        requirements = os.path.join(folder, "Resources", "requirements.txt")
        slicer.packaging.pip_ensure(slicer.packaging.load_requirements(requirements),
                                    requester="DICOM Annotator Review")

    def openNextCase(self, parameterNode) -> str:
        from DICOMAnnotatorLib.mrml import ReviewerDesk

        if not parameterNode.userName.strip() or not parameterNode.projectName.strip():
            raise ValueError("Give your user name and the project")
        self.desk = ReviewerDesk(slicer.mrmlScene, parameterNode.storeURL.strip() or None,
                                 parameterNode.userName.strip(), parameterNode.workFolder.strip())
        session = self.desk.open_next_case(parameterNode.projectName.strip())
        slicer.util.setSliceViewerLayers(background=session.volume_node, fit=True)
        case = self.desk.case
        return f"Case {case.id} (round {case.round}): to {self.desk.action}; {len(session.names)} submission(s)"

    def hasOpenCase(self) -> bool:
        return self.desk is not None and self.desk.session is not None

    def _session(self):
        if not self.hasOpenCase():
            raise ValueError("Open a case first (Next case)")
        return self.desk.session

    def closeCase(self) -> None:
        self.desk = None

    def annotators(self) -> list:
        return list(self._session().names)

    def showOnly(self, name) -> None:
        self._session().show_only(name)

    def agreementRows(self) -> list:
        """Header row, then one row per segment (or marked structure, or question) and pair of annotators."""
        return self._session().agreement_table()

    def buildConsensus(self, method: str) -> None:
        self._session().build_consensus(method)

    def prepareConsensusEditing(self) -> None:
        """Point the Segment Editor module at the consensus node, on the case's volume."""
        from DICOMAnnotatorLib import mrml

        session = self._session()
        if not session.editable_consensus:
            raise ValueError("A consensus of landmarks, boxes and labels is computed from the submitted SRs and "
                             "recorded as it is; review it, or request changes from the annotators")
        if session.consensus_node is None:
            raise ValueError("Build the consensus first")
        mrml.segment_editor_node(slicer.mrmlScene, session.consensus_node, session.volume_node)

    def recordConsensus(self, method: str) -> str:
        self._session()
        case = self.desk.record_consensus(method)
        return f"Consensus of case {case.id} recorded; the case is {case.state.value} (tier {case.tier})"

    def approve(self, comment: str) -> str:
        self._session()
        case = self.desk.approve(comment.strip() or None)
        return f"Case {case.id} approved; now {case.state.value}"

    def requestChanges(self, comment: str) -> str:
        self._session()
        case = self.desk.request_changes(comment)
        return f"Case {case.id} sent back to its annotators (round {case.round})"

    def sign(self, meaning: str) -> str:
        self._session()
        signature = self.desk.sign(meaning)
        return f"Case {signature.case} signed by {signature.user}: {signature.meaning}"

    def export(self, formats: list) -> str:
        session = self._session()
        folder = os.path.join(str(self.desk.work), "exports", f"case-{self.desk.case.id}")
        written = session.export(folder, formats, force=True)
        if "seg" in written or "sr" in written:
            addToDICOMDatabase([str(written[kind]) for kind in ("seg", "sr") if kind in written])
        return "Exported " + ", ".join(str(path) for path in written.values())


#
# DICOMAnnotatorReviewTest
#


class DICOMAnnotatorReviewTest(ScriptedLoadableModuleTest):
    """The module's whole flow on generated data, run by ctest and by the module's "Reload and Test" button."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_review_two_generated_submissions()

    def test_review_two_generated_submissions(self):
        """Two annotators' SEGs of a phantom case: compare, merge, record, approve, sign, export."""
        import tempfile

        import numpy as np
        from DICOMAnnotatorLib import review
        from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, write_phantom_series
        from DICOMAnnotatorLib.protocols import load_protocol
        from DICOMAnnotatorLib.review import create_sample_project
        from DICOMAnnotatorLib.seg import write_seg

        self.delayDisplay("Making a phantom case with two submissions in a temporary review store")
        with tempfile.TemporaryDirectory() as folder:
            seriesFolder = os.path.join(folder, "series")
            geometry, _hu, labels = write_phantom_series(seriesFolder)
            series = ReferenceSeries.from_paths(seriesFolder)
            protocol = load_protocol("liver-lesions-ct")
            url = "sqlite:///" + os.path.join(folder, "store.db")
            case = create_sample_project(url, "liver", protocol, seriesFolder, annotators=["ann", "ben"])
            with review.ReviewStore(url) as store:
                for name in ("ann", "ben"):
                    drawn = Segmentation.from_labelmap(geometry, np.where(labels == 3, 0, labels),
                                                       protocol.segment_descriptions(), reference=series, author=name)
                    review.submit(store, case, name, write_seg(drawn, os.path.join(folder, f"{name}.dcm")))

            settings = qt.QSettings(os.path.join(folder, "settings.ini"), qt.QSettings.IniFormat)
            parameters = DICOMAnnotatorReviewLogic(settings).getParameterNode()
            parameters.storeURL, parameters.projectName = url, "liver"
            parameters.workFolder = os.path.join(folder, "work")
            for user in ("rev", "rad"):
                logic = DICOMAnnotatorReviewLogic(settings)
                parameters.userName = user
                self.assertIn("Case 1", logic.openNextCase(parameters))
                self.assertEqual(sorted(logic.annotators()), ["ann", "ben"])
                if user == "rev":
                    self.assertGreater(len(logic.agreementRows()), 1)
                    logic.buildConsensus("staple")
                    logic.prepareConsensusEditing()
                    self.assertIn("recorded", logic.recordConsensus("staple"))
                self.assertIn("approved", logic.approve(""))
            self.assertIn("signed by rad", logic.sign("Approved as reference standard"))
            self.assertIn("Exported", logic.export(["seg", "nifti"]))
        self.delayDisplay("Case reviewed, signed and exported")
