"""DICOMAnnotatorReview: review queue, comparison, consensus and sign-off (the reviewer's Slicer module).

The module is thin on purpose. The Widget binds a parameter node to the GUI and calls the
Logic; the Logic hands every step to ``DICOMAnnotatorLib.mrml.ReviewerDesk`` (the core's
MRML layer, tested headless on slicer-core with a real review store), installed by
../DICOMAnnotator/CMakeLists.txt into the same folder as this module. The store settings, the
per-action requirements, the DICOM database calls and the handlers' error handling are
DICOMAnnotator's.
"""

import os

import qt
import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from DICOMAnnotator import (
    SETTINGS_FIELDS,
    CasePanelMixin,
    StoreAccess,
    addToDICOMDatabase,
    askSignaturePassword,
    caseImageNames,
    ensureRequirements,
    ensureTestRequirements,
    fillTableWidget,
    loadSettingsInto,
    openCaseDesk,
    runShowingErrors,
    saveSettingsFrom,
    showCaseImageNamed,
)

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
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = ["DICOMAnnotator"]  # its core package, settings and table helpers
        self.parent.contributors = ["DICOMAnnotator contributors (dicom-annotator project)"]
        self.parent.helpText = _("""
Review annotations made with DICOM Annotator. "Next case" opens your most urgent case: every submission
as its own segmentation, with the annotators' agreement per segment. Build the consensus (STAPLE or
majority), edit it in the Segment Editor, record it, then approve, request changes with a comment, or
sign the approved case. Export writes the consensus as DICOM SEG, NIfTI and surface models and adds the
DICOM files to the DICOM database.
See the <a href="https://github.com/dicom-annotator/SlicerDICOMAnnotator">project page</a>.
""")
        self.parent.acknowledgementText = _("""
Developed by the DICOMAnnotator contributors on top of 3D Slicer's Segment Editor and DICOM database,
pydicom, highdicom and SimpleITK.
""")


#
# DICOMAnnotatorReviewParameterNode
#


@parameterNodeWrapper
class DICOMAnnotatorReviewParameterNode:
    """
    The parameters of the module (saved with the scene; the review store is not among them).

    userName - the reviewer, radiologist or lead, as known to the store.
    projectName - the project whose cases to review.
    workFolder - where consensus and exports are written.
    caseText - what the open case is, for the user.
    """

    userName: str = ""
    projectName: str = ""
    workFolder: str = ""
    caseText: str = ""


#
# DICOMAnnotatorReviewWidget
#


class DICOMAnnotatorReviewWidget(ScriptedLoadableModuleWidget, VTKObservationMixin, CasePanelMixin):
    """GUI only: binds the parameter node to Resources/UI/DICOMAnnotatorReview.ui and calls the Logic.

    Every handler ends by bringing the panel in line with the Logic's open case (showCase), also
    when one of its steps failed.
    """

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.loadingText = _("Loading the submissions...")

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
        for button, handler in self.caseActions().items():
            button.connect("clicked(bool)", handler)
        self.ui.nextCaseButton.connect("clicked(bool)", self.onNextCase)
        self.ui.showOnlyComboBox.connect("currentTextChanged(QString)", self.onShowOnly)
        self.ui.imageComboBox.connect("currentTextChanged(QString)", self.onImageChosen)
        self.initializeParameterNode()
        self.showCase()

    def caseActions(self) -> dict:
        """The buttons that act on the open case, with their handlers."""
        return {
            self.ui.buildConsensusButton: self.onBuildConsensus, self.ui.editConsensusButton: self.onEditConsensus,
            self.ui.recordConsensusButton: self.onRecordConsensus, self.ui.approveButton: self.onApprove,
            self.ui.requestChangesButton: self.onRequestChanges, self.ui.signButton: self.onSign,
            self.ui.exportButton: self.onExport,
        }

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def onSceneStartClose(self, caller, event) -> None:
        self.logic.closeCase()
        self.showCase()
        self.setParameterNode(None)

    def showCase(self) -> None:
        """Bring the whole panel in line with the Logic's open case, or with no case."""
        isOpen = self.logic.hasOpenCase()
        if self._parameterNode:
            self._parameterNode.caseText = self.logic.caseText()
        for button in self.caseActions():
            button.enabled = isOpen
        self.ui.showOnlyComboBox.enabled = isOpen
        self.ui.showOnlyComboBox.clear()
        self.ui.imageComboBox.clear()
        images = self.logic.imageNames() if isOpen else []
        self.ui.imageComboBox.addItems(images)
        self.ui.imageComboBox.enabled = len(images) > 1
        fillTableWidget(self.ui.agreementTableWidget, [[]])
        if isOpen:
            self.ui.showOnlyComboBox.addItems([ALL_SUBMISSIONS] + self.logic.annotators())
            runShowingErrors(_("The agreement could not be computed."), self.showAgreement, waitCursor=True)

    def showAgreement(self) -> None:
        fillTableWidget(self.ui.agreementTableWidget, self.logic.agreementRows())

    def onShowOnly(self, name: str) -> None:
        if name and self.logic.hasOpenCase():
            runShowingErrors(_("The submissions could not be shown."),
                             lambda: self.logic.showOnly(None if name == ALL_SUBMISSIONS else name))

    def onImageChosen(self, name: str) -> None:
        """Show another image of the case (a mammography exam's view) with the marks on it."""
        if name and self.logic.hasOpenCase():
            runShowingErrors(_("The image could not be shown."), lambda: self.logic.showImage(name))

    def onBuildConsensus(self) -> None:
        runShowingErrors(_("The consensus could not be built."),
                         lambda: self.logic.buildConsensus(self.ui.methodComboBox.currentText), waitCursor=True)
        self.showCase()

    def onEditConsensus(self) -> None:
        if runShowingErrors(_("The consensus could not be opened for editing."), self.logic.prepareConsensusEditing):
            slicer.util.selectModule("SegmentEditor")

    def onRecordConsensus(self) -> None:
        runShowingErrors(_("The consensus could not be recorded."),
                         lambda: self.logic.recordConsensus(self.ui.methodComboBox.currentText), waitCursor=True)
        self.showCase()

    def onApprove(self) -> None:
        runShowingErrors(_("The case could not be approved."),
                         lambda: self.logic.approve(self.ui.commentPlainTextEdit.plainText), waitCursor=True)
        self.showCase()

    def onRequestChanges(self) -> None:
        runShowingErrors(_("Changes could not be requested."),
                         lambda: self.logic.requestChanges(self.ui.commentPlainTextEdit.plainText), waitCursor=True)
        self.showCase()

    def onSign(self) -> None:
        def sign() -> None:
            password = askSignaturePassword(self._parameterNode.userName.strip())
            self.logic.sign(self.ui.meaningLineEdit.text, password or None)

        runShowingErrors(_("The case could not be signed."), sign, waitCursor=True)
        self.showCase()

    def onExport(self) -> None:
        formats = [name for name, box in (("seg", self.ui.exportSegCheckBox), ("nifti", self.ui.exportNiftiCheckBox),
                                          ("models", self.ui.exportModelsCheckBox)) if box.checked]

        def export() -> None:
            progress = slicer.util.createProgressDialog(labelText=_("Exporting..."), maximum=0)
            try:
                self.logic.export(formats)
            finally:
                progress.close()

        runShowingErrors(_("The export failed."), export, waitCursor=True)
        self.showCase()


#
# DICOMAnnotatorReviewLogic
#


class DICOMAnnotatorReviewLogic(ScriptedLoadableModuleLogic):
    """Calls the core's ReviewerDesk on the application's scene; usable without the Widget, never touches Qt widgets.

    Each action returns a line saying what it did, which caseText() then gives.

    :param settings: the QSettings to read and write; default: Slicer's user settings.
    """

    def __init__(self, settings=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._settings = settings
        self.desk = None
        self._caseText = ""

    def getParameterNode(self):
        return DICOMAnnotatorReviewParameterNode(super().getParameterNode())

    def settings(self):
        return self._settings if self._settings is not None else slicer.app.userSettings()

    def store(self) -> StoreAccess:
        return StoreAccess(self.settings())

    def loadSettings(self, parameterNode) -> None:
        """Fill empty fields from the application settings (user, work folder)."""
        loadSettingsInto(self.settings(), parameterNode, REVIEW_SETTINGS_FIELDS)

    def saveSettings(self, parameterNode) -> None:
        saveSettingsFrom(self.settings(), parameterNode, REVIEW_SETTINGS_FIELDS)

    def ensureDependencies(self, action: str = "review") -> None:
        """Install what ``action`` needs and Slicer lacks, asking the user first."""
        ensureRequirements(action, requester="DICOM Annotator Review")

    def openNextCase(self, parameterNode) -> str:
        """Open the user's most urgent case (the open one is closed first), its series from the DICOM database."""
        from DICOMAnnotatorLib.mrml import ReviewerDesk

        self.closeCase()
        self.desk, session = openCaseDesk(ReviewerDesk, self.store(), parameterNode)
        case = self.desk.case
        return self._report(f"Case {case.id} (round {case.round}): to {self.desk.action}; "
                            f"{len(session.names)} submission(s)")

    def hasOpenCase(self) -> bool:
        return self.desk is not None and self.desk.session is not None

    def caseText(self) -> str:
        """What the open case is and what was last done to it (empty without a case)."""
        return self._caseText

    def _report(self, text: str) -> str:
        self._caseText = text
        return text

    def _session(self):
        if not self.hasOpenCase():
            raise ValueError("Open a case first (Next case)")
        return self.desk.session

    def closeCase(self) -> None:
        """Remove the open case's nodes from the scene."""
        if self.desk is not None:
            self.desk.close_case()
        self.desk = None
        self._caseText = ""

    def annotators(self) -> list:
        return list(self._session().names)

    def showOnly(self, name) -> None:
        self._session().show_only(name)

    def imageNames(self) -> list:
        return caseImageNames(self._session())

    def showImage(self, name: str) -> None:
        showCaseImageNamed(self._session(), name)

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
        return self._report(f"Consensus of case {case.id} recorded; the case is {case.state.value} (tier {case.tier})")

    def approve(self, comment: str) -> str:
        self._session()
        case = self.desk.approve(comment.strip() or None)
        return self._report(f"Case {case.id} approved; now {case.state.value}")

    def requestChanges(self, comment: str) -> str:
        self._session()
        case = self.desk.request_changes(comment)
        return self._report(f"Case {case.id} sent back to its annotators (round {case.round})")

    def sign(self, meaning: str, password: str | None = None) -> str:
        """Sign the open case; ``password`` is asked again for every signature (a team server always needs it,
        a local store when the user has one)."""
        self._session()
        signature = self.desk.sign(meaning, password)
        return self._report(f"Case {signature.case} signed by {signature.name} ({signature.user}): "
                            f"{signature.meaning}")

    def export(self, formats: list) -> str:
        """Write the consensus in ``formats``; the DICOM files are added to the DICOM database."""
        session = self._session()
        folder = os.path.join(str(self.desk.work), "exports", f"case-{self.desk.case.id}")
        written = session.export(folder, formats, force=True)
        addToDICOMDatabase([str(written[kind]) for kind in ("seg", "sr") if kind in written])
        return self._report("Exported " + ", ".join(str(path) for path in written.values()))


#
# DICOMAnnotatorReviewTest
#


class DICOMAnnotatorReviewTest(ScriptedLoadableModuleTest):
    """The module's whole flow on generated data, run by ctest and by the module's "Reload and Test" button.

    It works in a temporary DICOM database (DICOMUtils.TemporaryDICOMDatabase), never in the user's.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()
        ensureTestRequirements(self, "review")

    def runTest(self):
        self.setUp()
        self.test_review_two_generated_submissions()

    def test_review_two_generated_submissions(self):
        """Two annotators' SEGs of a phantom case: compare, merge, record, approve, sign, export."""
        import tempfile

        import numpy as np
        import pydicom
        from DICOMAnnotatorLib import review
        from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, write_phantom_series
        from DICOMAnnotatorLib.protocols import load_protocol
        from DICOMAnnotatorLib.review import create_sample_project
        from DICOMAnnotatorLib.seg import write_seg
        from DICOMLib import DICOMUtils

        self.delayDisplay("Making a phantom case with two submissions in a temporary review store and DICOM database")
        with tempfile.TemporaryDirectory() as folder, DICOMUtils.TemporaryDICOMDatabase() as database:
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
            parameters.projectName, parameters.workFolder = "liver", os.path.join(folder, "work")
            for user in ("rev", "rad"):
                logic = DICOMAnnotatorReviewLogic(settings)
                logic.store().setLocation(url)
                parameters.userName = user
                self.assertIn("Case 1", logic.openNextCase(parameters))
                self.assertTrue(database.filesForSeries(series.series_instance_uid))
                self.assertEqual(sorted(logic.annotators()), ["ann", "ben"])
                if user == "rev":
                    self.assertGreater(len(logic.agreementRows()), 1)
                    logic.buildConsensus("staple")
                    logic.prepareConsensusEditing()
                    self.assertIn("recorded", logic.recordConsensus("staple"))
                self.assertIn("approved", logic.approve(""))
                if user == "rev":
                    logic.closeCase()
            self.assertIn("signed by rad", logic.sign("Approved as reference standard"))
            self.assertIn("Exported", logic.export(["seg", "nifti"]))
            exported = pydicom.dcmread(os.path.join(folder, "work", "exports", "case-1", "consensus.dcm"),
                                       stop_before_pixels=True)
            copies = database.filesForSeries(exported.SeriesInstanceUID)
            self.assertTrue(copies and not copies[0].startswith(folder), "the SEG is copied into the database")
            logic.closeCase()
            self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"), 0)
        self.delayDisplay("Case reviewed, signed and exported")
