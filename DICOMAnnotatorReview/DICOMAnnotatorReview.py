"""DICOMAnnotatorReview: review queue, comparison, consensus and sign-off (the reviewer's Slicer module).

The module is thin on purpose. The Widget binds a parameter node to the GUI and calls the
Logic; the Logic keeps application state (for now: which review store to use) and will call
the Slicer-free core package ``DICOMAnnotatorLib``, installed by ../DICOMAnnotator/CMakeLists.txt
into the same folder as this module.
"""


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

#: Application settings key of the review store's URL (an SQLAlchemy URL; empty: none configured).
STORE_URL_SETTINGS_KEY = "DICOMAnnotator/StoreURL"

#
# DICOMAnnotatorReview
#


class DICOMAnnotatorReview(ScriptedLoadableModule):
    """Module description shown in Slicer's module panel and help."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("DICOM Annotator Review")
        self.parent.categories = ["DICOMAnnotator"]
        self.parent.dependencies = []
        self.parent.contributors = ["DICOMAnnotator team"]
        self.parent.helpText = _("""
Review annotations made with DICOM Annotator: compare annotators, build a consensus, request changes
or approve. For now the module shows and sets the review store it will use.
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

    storeURL - the review store URL being edited.
    configuredStoreURL - the URL saved in the application settings, as shown to the user.
    """

    storeURL: str = ""
    configuredStoreURL: str = ""


#
# DICOMAnnotatorReviewWidget
#


class DICOMAnnotatorReviewWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """GUI only: binds the parameter node to Resources/UI/DICOMAnnotatorReview.ui and calls the Logic."""

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

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/DICOMAnnotatorReview.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = DICOMAnnotatorReviewLogic()

        # Update the parameter node when the scene is closed
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.saveStoreURLButton.connect("clicked(bool)", self.onSaveStoreURLButton)

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

    def onSceneStartClose(self, caller, event) -> None:
        """Called just before the scene is closed."""
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Ensure the parameter node exists; show the configured store URL and edit it when nothing else is."""
        self.setParameterNode(self.logic.getParameterNode())
        configured = self.logic.storeURL()
        self._parameterNode.configuredStoreURL = configured or _("(none)")
        if not self._parameterNode.storeURL:
            self._parameterNode.storeURL = configured

    def setParameterNode(self, inputParameterNode: DICOMAnnotatorReviewParameterNode | None) -> None:
        """Set the parameter node and connect it to the GUI."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            # Widgets carry a "SlicerParameterName" dynamic property in the .ui file.
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)

    def onSaveStoreURLButton(self) -> None:
        """Save the edited URL in the application settings when the user clicks "Save"."""
        with slicer.util.tryWithErrorDisplay(_("Failed to save the review store URL.")):
            saved = self.logic.setStoreURL(self._parameterNode.storeURL)
            self._parameterNode.storeURL = saved
            self._parameterNode.configuredStoreURL = saved or _("(none)")


#
# DICOMAnnotatorReviewLogic
#


class DICOMAnnotatorReviewLogic(ScriptedLoadableModuleLogic):
    """Review state outside the GUI; usable without the Widget, never touches Qt widgets.

    :param settings: the QSettings to read and write; default: Slicer's user settings.
    """

    def __init__(self, settings=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._settings = settings

    def getParameterNode(self):
        return DICOMAnnotatorReviewParameterNode(super().getParameterNode())

    def settings(self):
        """The QSettings this logic reads and writes."""
        return self._settings if self._settings is not None else slicer.app.userSettings()

    def storeURL(self) -> str:
        """The configured review store URL, or "" when none is configured."""
        value = self.settings().value(STORE_URL_SETTINGS_KEY, "")
        return str(value).strip() if value else ""

    def setStoreURL(self, url: str) -> str:
        """Save the review store URL (surrounding spaces removed; "" clears it) and return what was saved."""
        url = (url or "").strip()
        self.settings().setValue(STORE_URL_SETTINGS_KEY, url)
        return url


#
# DICOMAnnotatorReviewTest
#


class DICOMAnnotatorReviewTest(ScriptedLoadableModuleTest):
    """Tests of the Logic, run by ctest and by the module's "Reload and Test" button."""

    def setUp(self):
        """Reset the state: clear the scene."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run all tests of the module."""
        self.setUp()
        self.test_store_url_round_trip()

    def test_store_url_round_trip(self):
        """The URL is saved trimmed under DICOMAnnotator/StoreURL, read back, and cleared by an empty value."""
        import os
        import tempfile

        self.delayDisplay("Saving and reading the review store URL")
        with tempfile.TemporaryDirectory() as folder:
            # A settings file of the test's own, so that "Reload and Test" leaves the user's settings alone.
            settings = qt.QSettings(os.path.join(folder, "settings.ini"), qt.QSettings.IniFormat)
            logic = DICOMAnnotatorReviewLogic(settings)
            self.assertEqual(logic.storeURL(), "")

            self.assertEqual(logic.setStoreURL("  sqlite:///reviews/review-store.db \n"), "sqlite:///reviews/review-store.db")
            self.assertEqual(logic.storeURL(), "sqlite:///reviews/review-store.db")
            self.assertEqual(settings.value(STORE_URL_SETTINGS_KEY), "sqlite:///reviews/review-store.db")

            self.assertEqual(logic.setStoreURL(""), "")
            self.assertEqual(logic.storeURL(), "")
            settings.sync()
        self.delayDisplay("Store URL round trip passed")
