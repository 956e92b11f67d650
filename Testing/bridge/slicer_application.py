# The stand-ins carry the names of the Slicer and Qt calls they stand in for.
# ruff: noqa: N802, N803, N815
"""Stand-ins for the parts of the Slicer application that the slicer-core wheel lacks, to run the modules in pytest.

Real: the MRML scene and its nodes (slicer-core), the segmentations logic, the selection node, and
``slicer.util`` itself (Slicer's own file, shipped in the slicer-core wheel): ``tryWithErrorDisplay``
shows, logs and re-raises as in Slicer, ``VTKObservationMixin`` observes the real scene. The module
files are loaded from the repository as Slicer loads them.

Stood in: the Qt widgets of the ``.ui`` files (read from the files: one stand-in per ``<widget>``,
with ``connect`` and signals a test can fire), ``QSettings`` (an INI file a test can read), the
parameter node wrapper (fields kept as parameters of a real ``vtkMRMLScriptedModuleNode``),
``ScriptedLoadableModule*``, the embedded Segment Editor and markups place widgets (recording what
they are told; the place widget makes its node the selection node's active place node, as
``vtkSlicerMarkupsLogic::SetActiveList`` does), ``slicer.packaging`` (``pip_check`` asks this
environment; ``pip_ensure`` records) and the DICOM database (a folder indexed with pydicom that copies
a file when asked to store it, as ``ctkDICOMDatabase::insert`` does, and ``DICOMUtils`` loading a series
as one scalar volume, as Slicer's scalar volume plugin does, through the core's reader).

``slicer.packaging`` is imported through the import system, so ``slicer.packaging`` is an attribute of
``slicer`` only after ``import slicer.packaging``, as in Slicer.
"""

from __future__ import annotations

import configparser
import importlib.abc
import importlib.metadata
import importlib.util
import inspect
import logging
import shutil
import sys
import types
import unittest
import xml.etree.ElementTree as ET
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import pydicom
import slicer
import slicer.util
from DICOMAnnotatorLib.mrml import bridge
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- Qt
class Widget:
    """A Qt widget: properties as attributes, ``connect(signal, slot)``, and ``emit`` to fire a signal."""

    def __init__(self, name: str = "", text: str = "") -> None:
        self.objectName, self.text, self.enabled, self.toolTip = name, text, True, ""
        self.checked, self.plainText = False, ""
        self.slots: dict[str, list] = defaultdict(list)
        self._layout = Layout()

    def connect(self, signal: str, slot) -> None:
        self.slots[signal].append(slot)

    def disconnect(self, signal: str, slot) -> None:
        self.slots[signal].remove(slot)

    def emit(self, signal: str, *args) -> None:
        """Call each slot with as many of the signal's arguments as it takes, as PythonQt does."""
        for slot in list(self.slots[signal]):
            parameters = inspect.signature(slot).parameters.values()
            slot(*args[:sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)])

    def click(self) -> None:
        """What a user's click does: the ``clicked(bool)`` slots run, only when the button is enabled."""
        if self.enabled:
            self.emit("clicked(bool)", False)

    def layout(self) -> Layout:
        return self._layout

    def setMRMLScene(self, scene) -> None:
        self.scene = scene

    def setHtml(self, html: str) -> None:
        self.html = html

    def deleteLater(self) -> None:
        pass

    def show(self) -> None:
        self.visible = True


class Layout:
    def __init__(self) -> None:
        self.widgets: list = []

    def addWidget(self, widget) -> None:
        self.widgets.append(widget)

    def count(self) -> int:
        return len(self.widgets)

    def takeAt(self, index: int):
        taken = self.widgets.pop(index)
        return types.SimpleNamespace(widget=lambda: taken)


class ComboBox(Widget):
    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.items: list[str] = []

    @property
    def currentText(self) -> str:
        return self.items[0] if self.items else ""

    def addItems(self, items) -> None:
        before = self.currentText
        self.items += list(items)
        if self.currentText != before:
            self.emit("currentTextChanged(QString)", self.currentText)

    def clear(self) -> None:
        had = bool(self.items)
        self.items = []
        if had:
            self.emit("currentTextChanged(QString)", "")

    def setCurrentText(self, text: str) -> None:
        self.items.remove(text)
        self.items.insert(0, text)
        self.emit("currentTextChanged(QString)", text)


class TableWidget(Widget):
    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.clear()
        self.row_count = 0

    def clear(self) -> None:
        self.headers, self.cells = [], {}

    def setColumnCount(self, count: int) -> None:
        self.columns = count

    def setHorizontalHeaderLabels(self, headers) -> None:
        self.headers = list(headers)

    def setRowCount(self, count: int) -> None:
        self.row_count = count

    def setItem(self, row: int, column: int, item) -> None:
        self.cells[(row, column)] = item.value

    def rows(self) -> list[list[str]]:
        return [[self.cells.get((r, c), "") for c in range(len(self.headers))] for r in range(self.row_count)]


WIDGET_CLASSES = {"QComboBox": ComboBox, "QTableWidget": TableWidget}


class Settings:
    """``QSettings`` on an INI file, written at every change so that a test reads what Slicer would store."""

    IniFormat = 1

    def __init__(self, path: str, _format: int = IniFormat) -> None:
        self.path = Path(path)
        self.values: dict[str, str] = {}
        if self.path.is_file():
            parser = configparser.RawConfigParser()
            parser.optionxform = str
            parser.read(self.path)
            self.values = {f"{section}/{key}": value for section in parser.sections()
                           for key, value in parser.items(section)}

    def value(self, key: str, default=None):
        return self.values.get(key, default)

    def setValue(self, key: str, value) -> None:
        self.values[key] = str(value)
        parser = configparser.RawConfigParser()
        parser.optionxform = str
        for name, stored in self.values.items():
            section, _, option = name.rpartition("/")
            if not parser.has_section(section or "General"):
                parser.add_section(section or "General")
            parser.set(section or "General", option, stored)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w") as file:
            parser.write(file)


class InputDialog:
    """``QInputDialog.getText``: gives the answers a test queued, and records each question."""

    answers: list[str] = []
    questions: list[tuple] = []

    @classmethod
    def getText(cls, parent, title, label, echo=0, text=""):
        cls.questions.append((title, label, echo))
        return cls.answers.pop(0) if cls.answers else ""


def qt_module() -> types.ModuleType:
    qt = types.ModuleType("qt")
    qt.QSettings = Settings
    qt.QInputDialog = InputDialog
    qt.QLineEdit = types.SimpleNamespace(Normal=0, Password=2)
    qt.QPushButton = Widget
    qt.QTableWidgetItem = lambda value: types.SimpleNamespace(value=value)
    qt.Qt = types.SimpleNamespace(WaitCursor=3)
    qt.QMessageBox = types.SimpleNamespace(Ok=1, Cancel=2, Yes=3, No=4, Retry=5, Close=6, Critical=3, Warning=2,
                                           Question=4, Information=1)
    return qt


def load_ui(path: str) -> Widget:
    """The ``.ui`` file's widgets (one stand-in each, by class), reachable by name through the top widget."""
    root = ET.parse(path).getroot().find("widget")
    top = Widget(root.get("name"))
    top.children = {element.get("name"): WIDGET_CLASSES.get(element.get("class"), Widget)(element.get("name"))
                    for element in root.iter("widget") if element is not root}
    for element in root.iter("widget"):
        bound = [p.findtext("string") for p in element.findall("property") if p.get("name") == "SlicerParameterName"]
        if bound:
            top.children[element.get("name")].parameter = bound[0]
    return top


# ----------------------------------------------------------------------------- slicer
class Application:
    """``slicer.app``: testing mode, the wait cursor, user settings and the temporary folder."""

    applicationName = "Slicer"

    def __init__(self, folder: Path, *, testing: bool) -> None:
        self.testing, self.temporaryPath, self.override_cursors = testing, str(folder / "temporary"), 0
        self.loaded_series: list[str] = []  # what DICOMUtils.loadSeriesByUID loaded
        self.settings = Settings(str(folder / "Slicer.ini"))

    def testingEnabled(self) -> bool:
        return self.testing

    def setOverrideCursor(self, cursor) -> None:
        self.override_cursors += 1

    def restoreOverrideCursor(self) -> None:
        self.override_cursors -= 1

    def userSettings(self) -> Settings:
        return self.settings

    def topLevelWidgets(self) -> list:
        return []

    def translate(self, context: str, text: str) -> str:
        return text


def parameter_node_wrapper(cls):
    """``@parameterNodeWrapper``: each annotated field is a parameter of the wrapped scripted module node."""
    fields = {name: getattr(cls, name) for name in cls.__annotations__}

    class Wrapped:
        def __init__(self, node) -> None:
            object.__setattr__(self, "parameterNode", node)
            object.__setattr__(self, "guis", {})

        def __getattr__(self, name):
            if name not in fields:
                raise AttributeError(name)
            return self.parameterNode.GetParameter(name) or fields[name]

        def __setattr__(self, name, value) -> None:
            if name not in fields:
                raise AttributeError(f"{cls.__name__} has no field {name}")
            self.parameterNode.SetParameter(name, value)
            for widgets in self.guis.values():
                for widget in widgets.get(name, []):
                    widget.text = value

        def connectGui(self, ui):
            tag = object()
            bound = defaultdict(list)
            for widget in vars(ui).values():
                if getattr(widget, "parameter", None) in fields:
                    bound[widget.parameter].append(widget)
                    widget.text = getattr(self, widget.parameter)
                    widget.parameter_node = self
            self.guis[tag] = bound
            return tag

        def disconnectGui(self, tag) -> None:
            for widgets in self.guis.pop(tag).values():
                for widget in widgets:
                    widget.parameter_node = None

    Wrapped.__name__ = cls.__name__
    return Wrapped


def type_into(widget: Widget, text: str) -> None:
    """What typing into a bound line edit does: the widget and its parameter node field change."""
    widget.text = text
    if getattr(widget, "parameter_node", None) is not None:
        setattr(widget.parameter_node, widget.parameter, text)


class ModuleLogic:
    """``ScriptedLoadableModuleLogic``: the module's singleton ``vtkMRMLScriptedModuleNode``."""

    def __init__(self) -> None:
        self.moduleName = type(self).__name__.removesuffix("Logic")

    def getParameterNode(self):
        node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
            node.UnRegister(None)
            node.SetSingletonTag(self.moduleName)
            node.SetAttribute("ModuleName", self.moduleName)
            node = slicer.mrmlScene.AddNode(node)
        return node


class ModuleWidget:
    """``ScriptedLoadableModuleWidget``: a parent, a layout and the module's resources beside its file."""

    def __init__(self, parent=None) -> None:
        self.parent = parent or types.SimpleNamespace(isEntered=True)
        self.layout = Layout()

    def resourcePath(self, filename: str) -> str:
        return str(Path(sys.modules[type(self).__module__].__file__).parent / "Resources" / filename)

    def setup(self) -> None:
        pass


class Module:
    def __init__(self, parent) -> None:
        self.parent = parent


class ModuleTest(unittest.TestCase):
    def delayDisplay(self, message: str, msec: int = 0) -> None:
        logging.info(message)


class SegmentEditorWidget:
    """``qMRMLSegmentEditorWidget``: records what it is told; sets the segmentation on its editor node."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.editor_node = None
        self.effect_list_updates = 0

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, *args))

    def setMRMLSegmentEditorNode(self, node) -> None:
        self.editor_node = node

    def setSegmentationNode(self, node) -> None:
        if self.editor_node is not None:
            self.editor_node.SetAndObserveSegmentationNode(node)

    def updateEffectList(self) -> None:
        self.effect_list_updates += 1


class MarkupsPlaceWidget(Widget):
    """``qSlicerMarkupsPlaceWidget``: its current node becomes the selection node's active place node."""

    def __init__(self) -> None:
        super().__init__("placeWidget")
        self.current, self.placeModeEnabled, self.buttonsVisible = None, False, True

    def placeButton(self) -> Widget:
        return Widget()

    def deleteButton(self) -> Widget:
        return Widget()

    def setCurrentNode(self, node) -> None:
        self.current = node

    def setCurrentNodeActive(self, active: bool) -> None:
        selection = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSelectionNode")
        if active and self.current is not None:
            selection.SetReferenceActivePlaceNodeClassName(self.current.GetClassName())
            selection.SetReferenceActivePlaceNodeID(self.current.GetID())

    def setPlaceModeEnabled(self, enabled: bool) -> None:
        self.placeModeEnabled = enabled


class SequencesModule:
    """``slicer.modules.sequences`` (qSlicerSequencesModule): its logic, and the toolbar calls recorded."""

    def __init__(self, scene, recorded: list) -> None:
        self.scene, self.recorded, self._logic = scene, recorded, None

    def logic(self):
        if self._logic is None:
            self._logic = slicer.vtkSlicerSequencesLogic()
            self._logic.SetMRMLScene(self.scene)
        return self._logic

    def setToolBarActiveBrowserNode(self, browser) -> None:
        self.recorded.append(("setToolBarActiveBrowserNode", browser))

    def showSequenceBrowser(self, browser) -> bool:
        self.recorded.append(("showSequenceBrowser", browser))
        return True


class EffectFactory(Widget):
    """``qSlicerSegmentEditorEffectFactory.instance()``: an extension registering an effect fires the signal."""

    def register(self, name: str) -> None:
        self.emit("effectRegistered(QString)", name)


class Packaging:
    """``slicer.packaging``: requirement files read as Slicer reads them; pip_check asks this environment."""

    def __init__(self) -> None:
        self.ensured: list[tuple] = []

    @staticmethod
    def load_requirements(path) -> list[Requirement]:
        lines = [line.strip() for line in Path(path).read_text().splitlines()]
        return [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]

    @staticmethod
    def pip_check(requirement) -> bool:
        requirement = Requirement(str(requirement))
        try:
            return requirement.specifier.contains(importlib.metadata.version(requirement.name), prereleases=True)
        except importlib.metadata.PackageNotFoundError:
            return False

    def pip_ensure(self, requirements, requester=None, skip_in_testing=True, **options) -> None:
        self.ensured.append(([str(r) for r in requirements], requester, skip_in_testing))


class DICOMDatabase:
    """A DICOM database in a folder: files indexed by series, copied in when stored (``ctkDICOMDatabase``)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.isOpen = folder, True
        self.series: dict[str, list[str]] = defaultdict(list)

    def insert(self, path: str, storeFile: bool = True, generateThumbnail: bool = True) -> None:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        if storeFile:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = str(shutil.copyfile(path, self.folder / f"{header.SOPInstanceUID}.dcm"))
        if path not in self.series[str(header.SeriesInstanceUID)]:
            self.series[str(header.SeriesInstanceUID)].append(path)

    def filesForSeries(self, series_uid: str) -> list[str]:
        return list(self.series.get(series_uid, []))


def dicom_utils_module(application: Application) -> types.ModuleType:
    """``DICOMLib.DICOMUtils``: import (linking files, as by default); a series loads as one scalar volume, as
    Slicer's scalar volume plugin gives it (here through the core's reader)."""
    module = types.ModuleType("DICOMLib.DICOMUtils")

    def loadSeriesByUID(uids) -> list[str]:
        from DICOMAnnotatorLib.imaging import ReferenceSeries

        loaded = [bridge.volume_node_from_series(slicer.mrmlScene, ReferenceSeries.from_paths(
            slicer.dicomDatabase.filesForSeries(uid))) for uid in uids]
        application.loaded_series += list(uids)
        return [node.GetID() for node in loaded]

    def importDicom(folder, database=None, copyFiles=False) -> bool:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                (database or slicer.dicomDatabase).insert(str(path), copyFiles, False)
        return True

    @contextmanager
    def TemporaryDICOMDatabase(directory=None):
        original = slicer.dicomDatabase
        slicer.dicomDatabase = DICOMDatabase(Path(application.temporaryPath) / "TempDICOMDatabase")
        try:
            yield slicer.dicomDatabase
        finally:
            slicer.dicomDatabase = original

    module.importDicom = importDicom
    module.loadSeriesByUID = loadSeriesByUID
    module.TemporaryDICOMDatabase = TemporaryDICOMDatabase
    return module


class _StandInImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the stand-in modules by name through the import system, so that (as in Slicer) ``slicer.packaging``
    is an attribute of ``slicer`` only once something imported it."""

    def __init__(self, modules: dict[str, types.ModuleType]) -> None:
        self.modules = modules

    def find_spec(self, name, path=None, target=None):
        if name not in self.modules:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=hasattr(self.modules[name], "__path__"))

    def create_module(self, spec):
        return self.modules[spec.name]

    def exec_module(self, module) -> None:
        pass


class SlicerApplication:
    """The stand-ins installed for one test; ``load_module`` imports a module file of the extension."""

    def __init__(self, folder: Path, *, testing: bool = False) -> None:
        self.app = Application(folder, testing=testing)
        self.packaging = Packaging()
        self.effect_factory = EffectFactory()
        self.scene = bridge.create_headless_scene()
        self.recorded: list[tuple] = []
        i18n = types.ModuleType("slicer.i18n")
        i18n.tr, i18n.translate = (lambda text: text), (lambda context, text: text)
        wrapper = types.ModuleType("slicer.parameterNodeWrapper")
        wrapper.parameterNodeWrapper = parameter_node_wrapper
        scripted = types.ModuleType("slicer.ScriptedLoadableModule")
        scripted.ScriptedLoadableModule, scripted.ScriptedLoadableModuleLogic = Module, ModuleLogic
        scripted.ScriptedLoadableModuleWidget, scripted.ScriptedLoadableModuleTest = ModuleWidget, ModuleTest
        segmentations = types.ModuleType("qSlicerSegmentationsModuleWidgetsPythonQt")
        segmentations.qMRMLSegmentEditorWidget = SegmentEditorWidget
        dicom_lib = types.ModuleType("DICOMLib")
        dicom_lib.__path__ = []  # a package: DICOMUtils is imported from it
        packaging = types.ModuleType("slicer.packaging")
        for name in ("load_requirements", "pip_check", "pip_ensure"):
            setattr(packaging, name, getattr(self.packaging, name))
        self.modules = {"qt": qt_module(), "slicer.i18n": i18n, "slicer.parameterNodeWrapper": wrapper,
                        "slicer.ScriptedLoadableModule": scripted, "slicer.packaging": packaging,
                        "qSlicerSegmentationsModuleWidgetsPythonQt": segmentations,
                        "DICOMLib": dicom_lib, "DICOMLib.DICOMUtils": dicom_utils_module(self.app)}
        self.attributes = {"app": self.app, "mrmlScene": self.scene, "dicomDatabase": None,
                           "modules": types.SimpleNamespace(sequences=SequencesModule(self.scene, self.recorded)),
                           "qSlicerMarkupsPlaceWidget": MarkupsPlaceWidget,
                           "qSlicerSegmentEditorEffectFactory": types.SimpleNamespace(
                               instance=lambda: self.effect_factory)}
        self.util = {"loadUI": load_ui, "childWidgetVariables": lambda top: types.SimpleNamespace(**top.children),
                     "createProgressDialog": lambda **options: types.SimpleNamespace(close=lambda: None),
                     "setSliceViewerLayers": lambda **layers: self.recorded.append(("setSliceViewerLayers", layers)),
                     "selectModule": lambda name: self.recorded.append(("selectModule", name))}

    def install(self) -> None:
        InputDialog.answers, InputDialog.questions = [], []
        self._saved_util = {name: getattr(slicer.util, name) for name in self.util}
        for name, value in self.util.items():
            setattr(slicer.util, name, value)
        for name, value in self.attributes.items():
            setattr(slicer, name, value)
        self.importer = _StandInImporter(self.modules)
        sys.meta_path.insert(0, self.importer)

    def uninstall(self) -> None:
        sys.meta_path.remove(self.importer)
        for name in (*self.modules, "DICOMAnnotator", "DICOMAnnotatorReview"):
            sys.modules.pop(name, None)
        for name in (*self.attributes, "packaging", "i18n", "parameterNodeWrapper", "ScriptedLoadableModule"):
            if name in vars(slicer):
                delattr(slicer, name)
        for name, value in self._saved_util.items():
            setattr(slicer.util, name, value)

    def __enter__(self) -> SlicerApplication:
        self.install()
        return self

    def __exit__(self, *exc_info) -> None:
        self.uninstall()

    def load_module(self, name: str) -> types.ModuleType:
        """The module file ``<name>/<name>.py`` of the extension, imported as Slicer imports it (by its name)."""
        spec = importlib.util.spec_from_file_location(name, REPO / name / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def widget(self, module: types.ModuleType, name: str):
        """The module's Widget, set up on its ``.ui`` file as Slicer does when the module is first shown."""
        widget = getattr(module, f"{name}Widget")()
        widget.setup()
        return widget
