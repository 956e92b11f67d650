"""DICOMAnnotator: annotate DICOM studies for medical AI (the annotator's Slicer module).

The module is thin on purpose. The Widget binds a parameter node to the GUI and calls the
Logic; the Logic hands every step to ``DICOMAnnotatorLib.mrml.AnnotatorDesk`` (the core's
MRML layer, tested headless on slicer-core with a real review store). The core is imported only
inside the Logic's methods and helpers, after the packages that action needs were ensured, so the
module loads even when a dependency of the core is missing.

What DICOMAnnotatorReview shares with this module is defined here at module level: the
per-action requirements, the store settings (kept without secrets), the DICOM database calls and
the error handling of the GUI handlers.
"""

import logging
import os
import urllib.parse

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

#: Application settings keys shared with DICOMAnnotatorReview.
STORE_URL_SETTINGS_KEY = "DICOMAnnotator/StoreURL"
USER_SETTINGS_KEY = "DICOMAnnotator/User"
WORK_FOLDER_SETTINGS_KEY = "DICOMAnnotator/WorkFolder"

#: Parameter node fields kept in the application settings: field -> (settings key, default).
#: The store is not among them: see StoreAccess.
SETTINGS_FIELDS = {
    "userName": (USER_SETTINGS_KEY, ""),
    "workFolder": (WORK_FOLDER_SETTINGS_KEY, os.path.join(os.path.expanduser("~"), "DICOMAnnotator")),
}

#: The packages of Resources/requirements.txt (which gives their versions) that each action of the two
#: modules imports beyond what Slicer bundles: opening a case needs far less than the whole core (no
#: OCR, no JPEG decoders: de-identification is done on the command line).
#: Testing/bridge/test_slicer_dependencies.py runs each action and checks these lists against what it
#: imported and against the packages Slicer 5.12 bundles.
ACTION_REQUIREMENTS = {
    "annotate": ["jsonschema", "SQLAlchemy"],
    "review": ["jsonschema", "SQLAlchemy", "scikit-image"],
}

#: The segment editor node of the editor embedded in this module (not the Segment Editor module's).
SEGMENT_EDITOR_TAG = "DICOMAnnotator"
#: Column headers of the annotator's two tables.
CHECKLIST_HEADERS = ["Structure", "Kind", "Required", "Expected", "Count", "Done"]
MEASUREMENT_HEADERS = ["Segment", "Volume (mL)", "Max diameter (mm)", "Mean", "Min", "Max"]
#: On 2D images and cine: a segment on each frame it lies on, in mm where the image is calibrated, else in pixels.
PLANAR_MEASUREMENT_HEADERS = ["Segment", "Frame", "Area ({area})", "Max diameter ({length})"]

#: Store passwords given in this Slicer session, by store location; never written anywhere.
_storePasswords = {}


def requirementsFor(action: str) -> list:
    """The requirements (packaging Requirement objects) that ``action`` needs, from Resources/requirements.txt."""
    import slicer.packaging

    names = {name.lower() for name in ACTION_REQUIREMENTS[action]}
    path = os.path.join(os.path.dirname(__file__), "Resources", "requirements.txt")
    return [requirement for requirement in slicer.packaging.load_requirements(path)
            if requirement.name.lower() in names]


def missingRequirements(action: str) -> list:
    """The requirements of ``action`` that Slicer's Python does not satisfy, as text ("SQLAlchemy>=2.0")."""
    import slicer.packaging

    return [str(requirement) for requirement in requirementsFor(action) if not slicer.packaging.pip_check(requirement)]


def ensureRequirements(action: str, requester: str, skipInTesting: bool = True) -> None:
    """Install what ``action`` needs and Slicer lacks, asking the user first (slicer.packaging.pip_ensure).

    Under ``--testing`` pip_ensure installs nothing unless ``skipInTesting`` is False (the modules'
    self-tests pass False, so that they run on a stock Slicer).
    """
    import slicer.packaging

    slicer.packaging.pip_ensure(requirementsFor(action), requester=requester, skip_in_testing=skipInTesting)


def ensureTestRequirements(testCase, action: str) -> None:
    """Ensure the packages a self-test needs (also under ``--testing``), or fail it naming what is missing."""
    reason = ""
    try:
        ensureRequirements(action, requester=type(testCase).__name__, skipInTesting=False)
    except Exception as error:
        reason = f" ({error})"
    missing = missingRequirements(action)
    if missing:
        testCase.fail(f"{type(testCase).__name__} needs {', '.join(missing)} in Slicer's Python, which could not be "
                      f"installed{reason}; install them with slicer.util.pip_install")


def splitStorePassword(url: str) -> tuple:
    """A store URL without its password, and the password (None when it has none)."""
    parts = urllib.parse.urlsplit(url)
    userInfo, at, hostAndPort = parts.netloc.rpartition("@")
    user, colon, password = userInfo.partition(":")
    if not at or not colon:
        return url, None
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{hostAndPort}")), password


def isServerStoreURL(url: str) -> bool:
    """A URL naming a user on a database server (a password may be needed), not a SQLite file."""
    parts = urllib.parse.urlsplit(url)
    return "://" in url and not parts.scheme.startswith("sqlite") and "@" in parts.netloc


def isTeamServerURL(url: str) -> bool:
    """A team server (``dicom-annotator serve``): https://, or http:// on loopback."""
    return urllib.parse.urlsplit(url.strip()).scheme.lower() in ("http", "https")


class StoreAccess:
    """Where the review store is, kept without secrets, and how to reach it in this session.

    The settings (Slicer.ini, plain text) keep the store's location only: empty (the default SQLite
    file), a SQLite URL, a database URL without its password, or a team server's URL; an older value
    holding a password is rewritten without it. A database password is asked for once per Slicer
    session and kept in memory only (shared by both modules). For a team server the user signs in
    once: the password goes to the server, which answers with a session token that the core keeps in
    its own file (``$DICOM_ANNOTATOR_CONFIG/sessions.json``, mode 0600), as ``dicom-annotator login``
    does; the password is not kept at all. Nothing of either reaches the settings or the scene.
    """

    def __init__(self, settings) -> None:
        self.settings = settings

    def location(self) -> str:
        saved = str(self.settings.value(STORE_URL_SETTINGS_KEY, "") or "").strip()
        location, password = splitStorePassword(saved)
        if password is not None:
            _storePasswords[location] = urllib.parse.unquote(password)
            self.settings.setValue(STORE_URL_SETTINGS_KEY, location)
        return location

    def setLocation(self, text: str) -> str:
        """Remember a location typed by the user (a password in it stays in memory); returns what is kept."""
        location, password = splitStorePassword(text.strip())
        if password is not None:
            _storePasswords[location] = urllib.parse.unquote(password)
        self.settings.setValue(STORE_URL_SETTINGS_KEY, location)
        return location

    def isTeamServer(self) -> bool:
        return isTeamServerURL(self.location())

    def needsPassword(self, user: str = "") -> bool:
        """Whether to ask the user's password now: a database server's, once per session; a team server's when
        there is no live session of ``user`` for it."""
        location = self.location()
        if isTeamServerURL(location):
            return not hasTeamServerSession(location, user)
        return isServerStoreURL(location) and location not in _storePasswords

    def setPassword(self, password: str, user: str = "") -> None:
        """The password of the current location: a team server signs ``user`` in with it (and it is dropped);
        a database's is kept for this session (empty: none, e.g. the server trusts the user)."""
        if self.isTeamServer():
            signInToTeamServer(self.location(), user, password)
            return
        _storePasswords[self.location()] = password

    def forgetPassword(self) -> None:
        """Ask again next time (e.g. the store could not be opened with it)."""
        _storePasswords.pop(self.location(), None)

    def url(self):
        """The URL to open the store with (None: the default SQLite file)."""
        location = self.location()
        password = _storePasswords.get(location)
        if not location:
            return None
        if not password or isTeamServerURL(location):
            return location
        parts = urllib.parse.urlsplit(location)
        user, _at, hostAndPort = parts.netloc.rpartition("@")
        netloc = f"{user}:{urllib.parse.quote(password, safe='')}@{hostAndPort}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def hasTeamServerSession(location: str, user: str) -> bool:
    """Whether ``user`` holds a session for the team server at ``location`` that has not expired (the core keeps
    sessions in its own file, as ``dicom-annotator login`` does)."""
    import datetime

    from DICOMAnnotatorLib.review import AuthenticationError
    from DICOMAnnotatorLib.server import saved_session

    try:
        session = saved_session(location)
    except AuthenticationError:
        return False
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")
    return session.get("user") == user and str(session.get("expires_at", "")) > now


def signInToTeamServer(location: str, user: str, password: str) -> None:
    """Sign ``user`` in to the team server: the server checks the password and answers with a session."""
    from DICOMAnnotatorLib.server import login

    login(location, user, password)


def askStorePassword(location: str) -> str:
    """Ask for the store's password (masked input); empty when cancelled."""
    return qt.QInputDialog.getText(slicer.util.mainWindow(), _("Review store password"),
                                   _("Password for {location}:").format(location=location), qt.QLineEdit.Password)


def askSignaturePassword(user: str) -> str:
    """Ask for the signer's password again (21 CFR 11.200: each signing re-authenticates); empty when cancelled."""
    return qt.QInputDialog.getText(slicer.util.mainWindow(), _("Electronic signature"),
                                   _("Password of {user}, to sign:").format(user=user), qt.QLineEdit.Password)


def loadSettingsInto(settings, parameterNode, fields=SETTINGS_FIELDS) -> None:
    """Fill the parameter node's empty fields from the application settings (also used by DICOMAnnotatorReview)."""
    for field, (key, default) in fields.items():
        if not getattr(parameterNode, field):
            setattr(parameterNode, field, str(settings.value(key, default) or default))


def saveSettingsFrom(settings, parameterNode, fields=SETTINGS_FIELDS) -> None:
    """Remember the parameter node's fields in the application settings for the next session."""
    for field, (key, _default) in fields.items():
        settings.setValue(key, getattr(parameterNode, field).strip())


def loadCaseVolume(case):
    """The case's series loaded from Slicer's DICOM database (imported from the case's folder when it is not
    there yet, linked as Slicer's DICOM import does by default); None without an open database or when Slicer's
    DICOM plugins give no scalar volume: the core then reads the files itself.

    The desks ask for volumes only: a case of 2D images or cine loops is made by the core as Slicer's DICOM
    plugins make it (a one-slice volume per image, a sequence and its browser per cine), with each frame on the
    grid its segmentation and SEG use."""
    database = slicer.dicomDatabase
    if database is None or not database.isOpen:
        return None
    from DICOMAnnotatorLib.mrml import remove_nodes
    from DICOMLib import DICOMUtils

    if not database.filesForSeries(case.series_uid) and not DICOMUtils.importDicom(case.image_location, database):
        logging.warning(f"The series of case {case.id} could not be imported into the DICOM database; "
                        "it is read from its folder instead")
        return None
    loaded = [slicer.mrmlScene.GetNodeByID(nodeID) for nodeID in DICOMUtils.loadSeriesByUID([case.series_uid])]
    loaded = [node for node in loaded if node is not None]
    volume = next((node for node in loaded if node.IsA("vtkMRMLScalarVolumeNode")), None)
    remove_nodes(slicer.mrmlScene, [node for node in loaded if node is not volume])  # the case works on one volume
    return volume


def addToDICOMDatabase(paths) -> None:
    """Copy written SEG/SR files into Slicer's DICOM database, when one is open, as Slicer's own SEG export does
    (``insert(path)``: the database keeps its own copy, so the entries outlive the work folder)."""
    database = slicer.dicomDatabase
    if database is None or not database.isOpen:
        return
    for path in paths:
        database.insert(path)


def runShowingErrors(message: str, step, waitCursor: bool = False) -> bool:
    """Run ``step()``; an error is shown to the user and logged, and False returned.

    ``slicer.util.tryWithErrorDisplay`` shows the error and then re-raises it, which would skip
    whatever a handler does after the failed step; handlers call this instead, so that their
    closing steps (bringing the panel in line with the Logic) always run.
    """
    try:
        with slicer.util.tryWithErrorDisplay(message, waitCursor=waitCursor):
            step()
        return True
    except Exception:
        logging.exception(message)
        return False


def openCaseDesk(deskClass, store: StoreAccess, parameterNode) -> tuple:
    """A desk (``AnnotatorDesk`` or ``ReviewerDesk``) for the user and work folder of the parameter node on the
    application's scene, and its session of the user's next case, shown in the slice views.

    A store that cannot be opened forgets its password for this session, so that it is asked again.
    """
    from DICOMAnnotatorLib.review import StoreError

    if not parameterNode.userName.strip() or not parameterNode.projectName.strip():
        raise ValueError("Give your user name and the project")
    try:
        desk = deskClass(slicer.mrmlScene, store.url(), parameterNode.userName.strip(),
                         parameterNode.workFolder.strip())
    except StoreError:
        store.forgetPassword()
        raise
    session = desk.open_next_case(parameterNode.projectName.strip(), load_volume=loadCaseVolume)
    showCaseImage(session)
    return desk, session


def showCaseImage(session) -> None:
    """The case's volume in the slice views, fitted to it: the series', a 2D image's one slice, or the frame of the
    cine in view, whose browser then shows in Slicer's sequence toolbar, as DICOMImageSequencePlugin shows the loops
    it loads (Modules/Scripted/DICOMPlugins/DICOMImageSequencePlugin.py, addSequenceBrowserNode)."""
    slicer.util.setSliceViewerLayers(background=session.volume_node, fit=True)
    views = getattr(session, "views", None)  # a review of marks only has none
    cine = views.cine_nodes() if views is not None else None
    if cine is not None:
        slicer.modules.sequences.setToolBarActiveBrowserNode(cine.browser)
        slicer.modules.sequences.showSequenceBrowser(cine.browser)


def caseImageNames(session) -> list:
    """The case's images by number, modality, kind and size, for the panels' image list (none for a volume)."""
    views = getattr(session, "views", None)
    if views is None:
        return []
    return [f"{n}: {image.modality} {image.kind}, {image.columns} x {image.rows}"
            for n, image in enumerate(views.images, start=1)]


def showCaseImageNamed(session, name: str) -> None:
    """Bring the image named ``name`` (one of :func:`caseImageNames`) into the slice views."""
    session.views.show(image=caseImageNames(session).index(name))
    showCaseImage(session)


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


class CasePanelMixin:
    """What the Widgets of both modules share: the parameter node bound to the panel, the store's field and
    "Next case". The Widget gives ``ui``, ``logic``, ``loadingText`` and ``showCase()``."""

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        self.logic.loadSettings(self._parameterNode)
        self.ui.storeURLLineEdit.text = self.logic.store().location()

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()
        self.showCase()

    def onNextCase(self) -> None:
        runShowingErrors(_("Failed to open the next case."), self.openNextCase, waitCursor=True)
        self.showCase()

    def openNextCase(self) -> None:
        """Keep the store's location (its password asked for once per session), ensure the action's packages,
        then open the case under a busy dialog."""
        store = self.logic.store()
        self.ui.storeURLLineEdit.text = store.setLocation(self.ui.storeURLLineEdit.text)
        user = self._parameterNode.userName.strip()
        if store.needsPassword(user):
            store.setPassword(askStorePassword(store.location()), user)
        self.logic.ensureDependencies()
        self.logic.saveSettings(self._parameterNode)
        progress = slicer.util.createProgressDialog(labelText=self.loadingText, maximum=0)
        try:
            self.logic.openNextCase(self._parameterNode)
        finally:
            progress.close()


#
# DICOMAnnotator
#


class DICOMAnnotator(ScriptedLoadableModule):
    """Module description shown in Slicer's module panel and help."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("DICOM Annotator")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = ["Segmentations", "DICOM", "Markups"]
        self.parent.contributors = ["DICOMAnnotator contributors (dicom-annotator project)"]
        self.parent.helpText = _("""
Annotate DICOM studies for medical AI. "Next case" opens your next case from the review store with its
protocol: coded segments, landmarks and boxes, window presets, instructions and a checklist. Draw in the
Segment Editor below, place the landmarks and boxes, give the classification labels, then "Submit": the work
is written as DICOM SEG and SR (TID 1500), recorded in the store and added to the DICOM database.
"Save draft" keeps unfinished work; it comes back with the case.
See the <a href="https://github.com/dicom-annotator/SlicerDICOMAnnotator">project page</a>.
""")
        self.parent.acknowledgementText = _("""
Developed by the DICOMAnnotator contributors on top of 3D Slicer's Segment Editor, Markups and DICOM
database, pydicom, highdicom and SimpleITK.
""")


#
# DICOMAnnotatorParameterNode
#


@parameterNodeWrapper
class DICOMAnnotatorParameterNode:
    """
    The parameters of the module (saved with the scene; the review store is not among them).

    userName - the annotator, as known to the store.
    projectName - the project whose cases to annotate.
    workFolder - where drafts and submissions are written.
    caseText - what the open case is, for the user.
    """

    userName: str = ""
    projectName: str = ""
    workFolder: str = ""
    caseText: str = ""


#
# DICOMAnnotatorWidget
#


class DICOMAnnotatorWidget(ScriptedLoadableModuleWidget, VTKObservationMixin, CasePanelMixin):
    """GUI only: binds the parameter node to Resources/UI/DICOMAnnotator.ui and calls the Logic.

    Every handler ends by bringing the panel in line with the Logic's open case (showCase), also
    when one of its steps failed.
    """

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.editor = None
        self.placeWidget = None
        self.effectFactory = None
        self.loadingText = _("Loading the case...")

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DICOMAnnotator.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = DICOMAnnotatorLogic()

        import qSlicerSegmentationsModuleWidgetsPythonQt

        # The case's segmentation and volume are the Logic's: the editor shows no selector to switch them.
        self.editor = qSlicerSegmentationsModuleWidgetsPythonQt.qMRMLSegmentEditorWidget()
        self.editor.setMaximumNumberOfUndoStates(10)
        self.editor.setSegmentationNodeSelectorVisible(False)
        self.editor.setSourceVolumeNodeSelectorVisible(False)
        self.editor.setMRMLScene(slicer.mrmlScene)
        self.ui.segmentEditorFrame.layout().addWidget(self.editor)
        # Effects registered later (by other extensions) join the editor, as in the Segment Editor module.
        self.effectFactory = slicer.qSlicerSegmentEditorEffectFactory.instance()
        self.effectFactory.connect("effectRegistered(QString)", self.onEffectRegistered)

        self.placeWidget = slicer.qSlicerMarkupsPlaceWidget()
        self.placeWidget.setMRMLScene(slicer.mrmlScene)
        self.placeWidget.buttonsVisible = False
        self.placeWidget.placeButton().show()
        self.placeWidget.deleteButton().show()
        self.ui.markupsPlaceFrame.layout().addWidget(self.placeWidget)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.nextCaseButton.connect("clicked(bool)", self.onNextCase)
        self.ui.saveDraftButton.connect("clicked(bool)", self.onSaveDraft)
        self.ui.submitButton.connect("clicked(bool)", self.onSubmit)
        self.ui.refreshButton.connect("clicked(bool)", self.onRefresh)
        self.ui.setLabelButton.connect("clicked(bool)", self.onSetLabel)
        self.ui.labelClassificationComboBox.connect("currentTextChanged(QString)", self.updateLabelChoices)
        self.ui.markupsStructureComboBox.connect("currentTextChanged(QString)", self.onMarkupsStructure)
        self.ui.imageComboBox.connect("currentTextChanged(QString)", self.onImageChosen)
        self.logic.onViewChanged = self.onViewChanged
        self.initializeParameterNode()
        self.showCase()

    def cleanup(self) -> None:
        self.removeObservers()
        self.effectFactory.disconnect("effectRegistered(QString)", self.onEffectRegistered)

    def enter(self) -> None:
        self.initializeParameterNode()
        self.editor.installKeyboardShortcuts()

    def exit(self) -> None:
        self.editor.setActiveEffect(None)
        self.editor.uninstallKeyboardShortcuts()
        self.editor.removeViewObservations()
        self.placeWidget.setPlaceModeEnabled(False)

    def onEffectRegistered(self) -> None:
        self.editor.updateEffectList()

    def onSceneStartClose(self, caller, event) -> None:
        """Keep the open case as a draft before its nodes go; the case closes even when that fails."""
        runShowingErrors(_("The draft of the open case could not be saved; the work since the last draft is lost."),
                         self.logic.saveDraftIfOpen)
        self.logic.closeCase()
        self.showCase()
        self.editor.removeViewObservations()
        self.setParameterNode(None)

    def showCase(self) -> None:
        """Bring the whole panel in line with the Logic's open case, or with no case."""
        isOpen = self.logic.hasOpenCase()
        if self._parameterNode:
            self._parameterNode.caseText = self.logic.caseText()
        if isOpen:
            self.editor.setMRMLSegmentEditorNode(self.logic.segmentEditorNode())
        else:
            self.editor.setSegmentationNode(None)
            self.editor.setMRMLSegmentEditorNode(None)
        self.placeWidget.setPlaceModeEnabled(False)
        self.placeWidget.setCurrentNode(None)
        self.ui.markupsStructureComboBox.clear()
        self.ui.labelClassificationComboBox.clear()
        for widget in (self.ui.saveDraftButton, self.ui.submitButton, self.ui.refreshButton, self.ui.setLabelButton,
                       self.ui.markupsStructureComboBox):
            widget.enabled = isOpen
        self.ui.imageComboBox.clear()
        images = self.logic.imageNames() if isOpen else []
        self.ui.imageComboBox.addItems(images)
        self.ui.imageComboBox.enabled = len(images) > 1
        if isOpen:
            runShowingErrors(_("The case's protocol could not be shown."), self.showProtocol)
        self.updateProgress()

    def showProtocol(self) -> None:
        """Instructions beside the work, one button per window preset, the label choices, the marks to place."""
        self.ui.instructionsTextBrowser.setHtml(self.logic.instructionsHtml())
        presets = self.ui.windowPresetsFrame.layout()
        while presets.count():
            presets.takeAt(0).widget().deleteLater()
        for name, center, width in self.logic.windowPresets():
            button = qt.QPushButton(name)
            button.toolTip = _("Window {width} / level {center}").format(width=width, center=center)
            button.connect("clicked(bool)", lambda checked, preset=name: self.onWindowPreset(preset))
            presets.addWidget(button)
        self.ui.labelClassificationComboBox.addItems(self.logic.classifications())
        self.ui.markupsStructureComboBox.addItems(self.logic.markupsStructures())

    def onImageChosen(self, name: str) -> None:
        """Show another image of the case (a mammography exam's view): its slice, what is drawn and marked on it."""
        if name and self.logic.hasOpenCase():
            runShowingErrors(_("The image could not be shown."), lambda: self.logic.showImage(name))

    def onViewChanged(self) -> None:
        """Another image or cine frame came into view (this panel's image list, or the sequence toolbar's slider):
        the editor edits on the volume now shown and the landmarks and boxes go onto that image and frame."""
        self.editor.setMRMLSegmentEditorNode(self.logic.segmentEditorNode())
        # Enabling undo clears the undo states (qMRMLSegmentEditorWidget::setUndoEnabled): they hold the frame left
        # and would put its drawing onto this one.
        self.editor.undoEnabled = True
        label = self.ui.markupsStructureComboBox.currentText
        if label:
            self.placeWidget.setCurrentNode(self.logic.markupsNode(label))

    def onWindowPreset(self, name: str) -> None:
        runShowingErrors(_("The window preset could not be applied."), lambda: self.logic.applyWindow(name))

    def onMarkupsStructure(self, label: str) -> None:
        """The chosen structure's point list or ROI becomes the node the views place into."""
        self.placeWidget.setPlaceModeEnabled(False)
        self.placeWidget.setCurrentNode(None)
        if label:
            runShowingErrors(_("The landmark or box could not be chosen."), lambda: self.activatePlaceNode(label))

    def activatePlaceNode(self, label: str) -> None:
        self.placeWidget.setCurrentNode(self.logic.markupsNode(label))
        self.placeWidget.setCurrentNodeActive(True)

    def updateLabelChoices(self, classification: str) -> None:
        self.ui.labelTargetComboBox.clear()
        self.ui.labelValueComboBox.clear()
        runShowingErrors(_("The label choices could not be listed."), lambda: self.fillLabelChoices(classification))

    def fillLabelChoices(self, classification: str) -> None:
        targets, values = self.logic.labelChoices(classification)
        self.ui.labelTargetComboBox.addItems(targets)
        self.ui.labelValueComboBox.addItems(values)

    def onSetLabel(self) -> None:
        runShowingErrors(_("The label could not be set."), lambda: self.logic.setLabel(
            self.ui.labelTargetComboBox.currentText, self.ui.labelClassificationComboBox.currentText,
            self.ui.labelValueComboBox.currentText))
        self.updateProgress()

    def onRefresh(self) -> None:
        self.updateProgress()

    def updateProgress(self) -> None:
        """The checklist and the live measurements of the open case (headers only without one, or on failure)."""
        fillTableWidget(self.ui.checklistTableWidget, [CHECKLIST_HEADERS])
        fillTableWidget(self.ui.measurementsTableWidget, [MEASUREMENT_HEADERS])
        if self.logic.hasOpenCase():
            runShowingErrors(_("The checklist could not be computed."), self.fillProgressTables, waitCursor=True)

    def fillProgressTables(self) -> None:
        fillTableWidget(self.ui.checklistTableWidget, self.logic.checklistRows())
        fillTableWidget(self.ui.measurementsTableWidget, self.logic.measurementRows())

    def onSaveDraft(self) -> None:
        runShowingErrors(_("The draft could not be saved."),
                         lambda: slicer.util.showStatusMessage(self.logic.saveDraft(), 5000), waitCursor=True)
        self.showCase()

    def onSubmit(self) -> None:
        def submit() -> None:
            progress = slicer.util.createProgressDialog(labelText=_("Writing DICOM SEG and SR..."), maximum=0)
            try:
                self.logic.submit()
            finally:
                progress.close()

        runShowingErrors(_("The case could not be submitted."), submit, waitCursor=True)
        self.showCase()


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
        self._caseText = ""  # the open case, or the outcome of the last submission
        #: Called when another image or cine frame of the open case comes into view (the Widget's onViewChanged).
        self.onViewChanged = None

    def getParameterNode(self):
        return DICOMAnnotatorParameterNode(super().getParameterNode())

    def settings(self):
        return self._settings if self._settings is not None else slicer.app.userSettings()

    def store(self) -> StoreAccess:
        return StoreAccess(self.settings())

    def loadSettings(self, parameterNode) -> None:
        """Fill empty fields from the application settings (user, work folder)."""
        loadSettingsInto(self.settings(), parameterNode)

    def saveSettings(self, parameterNode) -> None:
        saveSettingsFrom(self.settings(), parameterNode)

    def ensureDependencies(self, action: str = "annotate") -> None:
        """Install what ``action`` needs and Slicer lacks, asking the user first."""
        ensureRequirements(action, requester="DICOM Annotator")

    def openNextCase(self, parameterNode) -> str:
        """Open the user's next case of the project (the open one is kept as a draft and closed first);
        returns a line describing it."""
        from DICOMAnnotatorLib.mrml import AnnotatorDesk

        self.saveDraftIfOpen()
        self.closeCase()
        self.desk, session = openCaseDesk(AnnotatorDesk, self.store(), parameterNode)
        if session.views is not None:
            session.views.on_change.append(self._viewChanged)
        case = self.desk.case
        self._caseText = f"Case {case.id} (round {case.round}, {case.state.value}): {session.series.description}"
        return self._caseText

    def hasOpenCase(self) -> bool:
        return self.desk is not None and self.desk.session is not None

    def caseText(self) -> str:
        """What the open case is; without one, what the last submission wrote (empty after closing a case)."""
        return self._caseText

    def _session(self):
        if not self.hasOpenCase():
            raise ValueError("Open a case first (Next case)")
        return self.desk.session

    def _viewChanged(self) -> None:
        if self.onViewChanged is not None:
            self.onViewChanged()

    def imageNames(self) -> list:
        return caseImageNames(self._session())

    def showImage(self, name: str) -> None:
        showCaseImageNamed(self._session(), name)

    def segmentEditorNode(self):
        """The embedded editor's own parameter node, on the case's segmentation and volume."""
        from DICOMAnnotatorLib import mrml

        session = self._session()
        return mrml.segment_editor_node(slicer.mrmlScene, session.segmentation_node, session.volume_node,
                                        SEGMENT_EDITOR_TAG)

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
        return [(p.name, p.center, p.width) for p in self._session().window_presets]

    def applyWindow(self, name: str) -> None:
        self._session().apply_window(name)

    def classifications(self) -> list:
        from DICOMAnnotatorLib.protocols import AnnotationKind

        return [s.label for s in self._session().protocol.structures if s.kind is AnnotationKind.CLASSIFICATION]

    def markupsStructures(self) -> list:
        """The protocol's landmark and box structures, each with its point list or ROI in the case."""
        return list(self._session().markups)

    def markupsNode(self, label: str):
        return self._session().markups_node(label)

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
        rows = [CHECKLIST_HEADERS]
        for item in self._session().checklist():
            rows.append([item.label, item.kind.value, "yes" if item.required else "no", item.expected,
                         str(item.count), "yes" if item.done else "NO"])
        return rows

    def measurementRows(self) -> list:
        """Header row, then the calibrated measurements of every segment drawn so far."""
        from DICOMAnnotatorLib.sr import measure_segmentation

        session = self._session()
        segmentation = session.segmentation()
        if session.views is not None:
            return planarMeasurementRows(segmentation)
        rows = [MEASUREMENT_HEADERS]
        for measured in measure_segmentation(segmentation, session.series.read_voxels()):
            stats, diameter = measured.intensity, measured.max_diameter_mm
            intensity = [f"{stats.mean:.1f}", f"{stats.minimum:g}", f"{stats.maximum:g}"] if stats else ["", "", ""]
            rows.append([segmentation.segment(measured.number).label, f"{measured.volume_ml:.2f}",
                         "" if diameter is None else f"{diameter:.1f}", *intensity])
        return rows

    def saveDraft(self) -> str:
        self._session()
        return f"Draft saved: {self.desk.save_draft().annotations}"

    def saveDraftIfOpen(self) -> None:
        if self.hasOpenCase():
            self.desk.save_draft()

    def closeCase(self) -> None:
        """Remove the open case's nodes from the scene (keep a draft first with saveDraftIfOpen)."""
        if self.desk is not None:
            self.desk.close_case()
        self.desk = None
        self._caseText = ""

    def submit(self) -> str:
        """Submit the open case (SEG + SR into the work folder, the store and the DICOM database); it then closes."""
        self._session()
        files, srPath, case = self.desk.submit()
        self.closeCase()
        written = [str(path) for path in (files.seg, srPath) if path.exists()]  # landmark protocols: the SR only
        addToDICOMDatabase(written)
        self._caseText = f"Submitted case {case.id} ({case.state.value}): {', '.join(written)}"
        return self._caseText


def planarMeasurementRows(segmentation) -> list:
    """Header row, then each segment's area and maximum diameter on each frame it lies on (2D images and cine)."""
    from DICOMAnnotatorLib.sr import measure_on_series

    measured = measure_on_series(segmentation, segmentation.reference)  # per frame, on the image's calibration
    calibrated = all(m.calibrated for m in measured)
    area, length = ("mm²", "mm") if calibrated else ("pixels", "pixels")
    rows = [[header.format(area=area, length=length) for header in PLANAR_MEASUREMENT_HEADERS]]
    for m in measured:
        if m.voxel_count:
            rows.append([segmentation.segment(m.number).label, str(m.slice_index + 1), f"{m.area:.1f}",
                         "" if m.max_diameter_mm is None else f"{m.max_diameter_mm:.1f}"])
    return rows


#
# DICOMAnnotatorTest
#


class DICOMAnnotatorTest(ScriptedLoadableModuleTest):
    """The module's whole flow on generated data, run by ctest and by the module's "Reload and Test" button.

    It works in a temporary DICOM database (DICOMUtils.TemporaryDICOMDatabase), never in the user's.
    """

    def setUp(self):
        slicer.mrmlScene.Clear()
        ensureTestRequirements(self, "annotate")

    def runTest(self):
        self.setUp()
        self.test_annotate_and_submit_generated_case()

    def test_annotate_and_submit_generated_case(self):
        """A phantom case in a temporary store: open it, draw the liver and lesion, label, draft, submit."""
        import glob
        import tempfile

        import numpy as np
        import pydicom
        from DICOMAnnotatorLib import mrml
        from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, write_phantom_series
        from DICOMAnnotatorLib.protocols import load_protocol
        from DICOMAnnotatorLib.review import create_sample_project
        from DICOMLib import DICOMUtils

        self.delayDisplay("Making a phantom CT case in a temporary review store and DICOM database")
        with tempfile.TemporaryDirectory() as folder, DICOMUtils.TemporaryDICOMDatabase() as database:
            geometry, _hu, labels = write_phantom_series(os.path.join(folder, "series"))
            series = ReferenceSeries.from_paths(os.path.join(folder, "series"))
            url = "sqlite:///" + os.path.join(folder, "store.db")
            create_sample_project(url, "liver", load_protocol("liver-lesions-ct"), os.path.join(folder, "series"),
                                  annotators=["ann"])

            settings = qt.QSettings(os.path.join(folder, "settings.ini"), qt.QSettings.IniFormat)
            logic = DICOMAnnotatorLogic(settings)
            logic.store().setLocation(url)
            parameters = logic.getParameterNode()
            parameters.userName, parameters.projectName = "ann", "liver"
            parameters.workFolder = os.path.join(folder, "work")
            self.assertIn("Case 1", logic.openNextCase(parameters))
            self.assertTrue(database.filesForSeries(series.series_instance_uid))
            self.assertEqual([row[0] for row in logic.checklistRows()[1:]],
                             ["Liver", "Liver lesion", "Liver lesion type"])
            with self.assertRaisesRegex(Exception, "Required structure"):
                logic.submit()

            self.delayDisplay("Drawing the liver and the lesion")
            session = logic.desk.session
            drawn = Segmentation.from_labelmap(geometry, np.where(labels == 3, 0, labels),
                                               session.protocol.segment_descriptions(), reference=series)
            mrml.segmentation_to_node(drawn, slicer.mrmlScene, session.volume_node, node=session.segmentation_node)
            logic.setLabel("Liver lesion", "Liver lesion type", "Cyst")
            self.assertEqual(logic.measurementRows()[1][0], "Liver")
            self.assertIn("Draft saved", logic.saveDraft())
            self.assertIn("Submitted case 1", logic.submit())
            self.assertFalse(logic.hasOpenCase())
            self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode"), 0)
            [segPath] = glob.glob(os.path.join(folder, "work", "submissions", "**", "*-submission.dcm"),
                                  recursive=True)
            copies = database.filesForSeries(pydicom.dcmread(segPath, stop_before_pixels=True).SeriesInstanceUID)
            self.assertTrue(copies and not copies[0].startswith(folder), "the SEG is copied into the database")
        self.delayDisplay("Case annotated and submitted")
