"""The Slicer extension's files agree with each other (no Slicer needed).

Checked here: the three copies of the extension metadata (CMakeLists.txt, extension.s4ext,
DICOMAnnotator.json) and what the Extensions Index checks of them (Slicer/ExtensionsIndex
``scripts/check_description_files.py``: repository name, screenshots, licence file), the core files
that DICOMAnnotator/CMakeLists.txt installs into Slicer, each module's CMakeLists, .py and .ui
(category, contributors, ``import slicer.packaging`` where it is used), and
Resources/requirements.txt against pyproject.toml. What only a Slicer build or run can confirm is
listed in docs/slicer-api-checklist.md.
"""

from __future__ import annotations

import ast
import json
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = ["DICOMAnnotator", "DICOMAnnotatorReview"]
CORE = REPO / "DICOMAnnotator" / "DICOMAnnotatorLib"

# Keys of Slicer's extension catalog entry schema (Schemas/slicer-extension-catalog-entry-schema-v1.0.1.json;
# v1.0.2 adds dicom_support_rule), which forbids any other key.
CATALOG_KEYS = {
    "$schema", "category", "scm_url", "scm_revision", "scm_type", "build_dependencies",
    "build_subdirectory", "enabled", "tier", "dicom_support_rule",
}
CATALOG_REQUIRED = {"$schema", "category", "scm_url"}
# check_git_repository_name of the Extensions Index: the repository's name starts with one of these.
REPOSITORY_PREFIXES = ("Slicer", "Slicer-", "Slicer_", "SlicerExtension-", "SlicerExtension_")
# check_license_file of the Extensions Index: one of these files at the repository's root.
LICENSE_NAMES = ("LICENSE", "LICENCE", "License.txt", "license.txt", "LICENSE.txt", "COPYING", "COPYING.txt")
# Categories of Slicer's core modules (Modules/Scripted/*.py at v5.12.3), which the index accepts too.
CORE_CATEGORIES = {"Segmentation", "Quantification", "Informatics", "Utilities", "Converters", "Registration",
                   "Sequences", "Developer Tools"}
# EXTENSION_* variables that configure packaging rather than describe the extension (not in the s4ext).
PACKAGING_INPUTS = {"LICENSE_FILE", "README_FILE"}
# "Firstname Lastname (Organization)", as Slicer's module and extension templates ask.
CONTRIBUTOR = re.compile(r"[^(),]+ \([^()]+\)")


# ----------------------------------------------------------------------------- parsers
def parse_s4ext(path: Path) -> dict[str, str]:
    """Keyword -> value of an s4ext file: first token is the keyword, the rest of the line the value."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        assert key not in values, f"{path.name}: keyword {key!r} appears twice"
        values[key] = value.strip()
    return values


def cmake_text(path: Path) -> str:
    """CMake source without comments (no '#' is used inside strings in these files)."""
    return "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())


def cmake_lists(path: Path) -> dict[str, list[str]]:
    """Variables set with set(NAME item item ...), with ${VAR} references to other lists expanded."""
    raw = {name: body.split() for name, body in re.findall(r"\bset\(\s*(\w+)\s+([^)]*)\)", cmake_text(path))}
    raw.update({name: [] for name in re.findall(r"\bset\(\s*(\w+)\s*\)", cmake_text(path))})

    def expand(items: list[str]) -> list[str]:
        out = []
        for item in items:
            match = re.fullmatch(r"\$\{(\w+)\}", item)
            if match and match.group(1) in raw and match.group(1) != "MODULE_NAME":
                out.extend(expand(raw[match.group(1)]))
            else:
                out.append(item)
        return out

    module_name = raw.get("MODULE_NAME", [""])[0]
    return {name: [i.replace("${MODULE_NAME}", module_name) for i in expand(items)] for name, items in raw.items()}


def cmake_extension_metadata(path: Path) -> dict[str, str]:
    """EXTENSION_* values of the top-level CMakeLists.txt, without their quotes."""
    pairs = re.findall(r'\bset\(\s*EXTENSION_(\w+)\s+(?:"([^"]*)"|([^\s)]+))\s*\)', cmake_text(path))
    return {name: quoted or bare for name, quoted, bare in pairs}


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG file"
    return struct.unpack(">II", data[16:24])


def module_classes(module: str) -> dict[str, ast.ClassDef]:
    tree = ast.parse((REPO / module / f"{module}.py").read_text(), filename=f"{module}.py")
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


@pytest.fixture(scope="module")
def s4ext() -> dict[str, str]:
    return parse_s4ext(REPO / "extension.s4ext")


@pytest.fixture(scope="module")
def catalog() -> dict:
    return json.loads((REPO / "DICOMAnnotator.json").read_text())


# ----------------------------------------------------------------------------- extension metadata
def test_catalog_entry_follows_the_schema(catalog):
    assert set(catalog) <= CATALOG_KEYS, f"keys the catalog schema forbids: {sorted(set(catalog) - CATALOG_KEYS)}"
    assert CATALOG_REQUIRED <= set(catalog), f"missing required keys: {sorted(CATALOG_REQUIRED - set(catalog))}"
    assert re.fullmatch(
        r"https://raw\.githubusercontent\.com/Slicer/Slicer/main/Schemas/"
        r"slicer-extension-catalog-entry-schema-v1\.0\.[12]\.json#", catalog["$schema"]
    )
    assert catalog.get("scm_type", "git") in ("git", "local")
    assert isinstance(catalog.get("build_dependencies", []), list)
    assert all(isinstance(name, str) for name in catalog.get("build_dependencies", []))
    assert isinstance(catalog.get("enabled", True), bool)
    tier = catalog.get("tier", 1)
    assert isinstance(tier, int) and not isinstance(tier, bool) and 1 <= tier <= 5
    if "dicom_support_rule" in catalog:
        assert catalog["$schema"].endswith("v1.0.2.json#"), "dicom_support_rule needs schema v1.0.2"


def test_s4ext_agrees_with_catalog_entry(s4ext, catalog):
    assert s4ext["scm"] == catalog.get("scm_type", "git")
    assert s4ext["scmurl"] == catalog["scm_url"]
    assert s4ext["scmrevision"] == catalog.get("scm_revision")
    assert s4ext["category"] == catalog["category"]
    depends = [] if s4ext.get("depends", "NA") in ("", "NA") else s4ext["depends"].split()
    assert depends == catalog.get("build_dependencies", [])
    assert s4ext.get("build_subdirectory", ".") == catalog.get("build_subdirectory", ".")
    assert s4ext.get("enabled", "1") == ("1" if catalog.get("enabled", True) else "0")
    assert int(s4ext.get("tier", "1")) == catalog.get("tier", 1)
    assert s4ext.get("dicom_support_rule", "") == catalog.get("dicom_support_rule", "")


def test_cmake_metadata_agrees_with_s4ext(s4ext, catalog):
    cmake = cmake_extension_metadata(REPO / "CMakeLists.txt")
    assert {"HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS", "DEPENDS"} <= set(cmake)
    for name, value in cmake.items():
        if name not in PACKAGING_INPUTS:
            assert s4ext.get(name.lower(), "") == value, f"EXTENSION_{name} in CMakeLists.txt differs from the s4ext"
    assert cmake["LICENSE_FILE"] == "${CMAKE_CURRENT_SOURCE_DIR}/LICENSE", "the package carries our licence"
    text = cmake_text(REPO / "CMakeLists.txt")
    # the Extensions Index reads the screenshots with this expression (check_cmakelists_content)
    assert re.search(r'set\s*\(EXTENSION_SCREENSHOTURLS\s*"([^"]+)"\)', text)
    assert re.search(r"\bproject\(\s*DICOMAnnotator\s*\)", text), "the project name is the extension name"
    assert (REPO / "DICOMAnnotator.json").stem == "DICOMAnnotator"
    for module in MODULES:
        assert re.search(rf"\badd_subdirectory\(\s*{module}\s*\)", text), f"{module} is not built"
    for include in ("Slicer_USE_FILE", "Slicer_EXTENSION_GENERATE_CONFIG", "Slicer_EXTENSION_CPACK"):
        assert re.search(rf"\binclude\(\s*\$\{{{include}\}}\s*\)", text), f"include(${{{include}}}) is missing"


def test_homepage_icon_and_screenshots_point_into_the_repository(s4ext):
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?", s4ext["scmurl"])
    assert match, f"scmurl is not a GitHub https URL: {s4ext['scmurl']}"
    owner, name = match.groups()
    assert name.startswith(REPOSITORY_PREFIXES), "the Extensions Index wants a repository name starting with Slicer"
    assert not (REPO / "DICOMAnnotator.json").stem.startswith("Slicer"), "and an extension name that does not"
    assert s4ext["homepage"] == f"https://github.com/{owner}/{name}"
    prefix = f"https://raw.githubusercontent.com/{owner}/{name}/{s4ext['scmrevision']}/"
    assert s4ext["iconurl"].startswith(prefix), f"iconurl should start with {prefix}"
    icon = REPO / s4ext["iconurl"][len(prefix):]
    assert icon.is_file(), f"iconurl names {icon}, which is not in the repository"
    assert png_size(icon) == (128, 128)
    screenshots = s4ext["screenshoturls"].split()
    assert screenshots, "the Extensions Index wants at least one screenshot"
    for url in screenshots:
        assert url.startswith(prefix), f"screenshot {url} should start with {prefix}"
        width, height = png_size(REPO / url[len(prefix):])
        assert width >= 400 and height >= 300, f"{url} is {width}x{height}"


def test_license_file_matches_the_package_licence():
    found = [name for name in LICENSE_NAMES if (REPO / name).is_file()]
    assert found == ["LICENSE"], f"one licence file at the root, found {found}"
    tomllib = pytest.importorskip("tomllib")
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "BSD-3-Clause"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "Neither the name of the copyright holder" in text


def test_extension_contributors_name_people_and_organisations(s4ext):
    assert all(CONTRIBUTOR.fullmatch(entry.strip()) for entry in s4ext["contributors"].split(", ")), \
        s4ext["contributors"]


# ----------------------------------------------------------------------------- CMake lists of files
def test_every_core_file_is_installed_and_every_listed_file_exists():
    lists = cmake_lists(REPO / "DICOMAnnotator" / "CMakeLists.txt")
    files = [p for p in CORE.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    on_disk_scripts = sorted(p.relative_to(CORE.parent).as_posix() for p in files if p.suffix == ".py")
    on_disk_resources = sorted(p.relative_to(CORE.parent).as_posix() for p in files if p.suffix != ".py")

    listed_scripts = [f for f in lists["MODULE_PYTHON_SCRIPTS"] if f.startswith("DICOMAnnotatorLib/")]
    listed_resources = [f for f in lists["MODULE_PYTHON_RESOURCES"] if f.startswith("DICOMAnnotatorLib/")]
    missing = sorted(set(on_disk_scripts) - set(listed_scripts))
    missing += sorted(set(on_disk_resources) - set(listed_resources))
    assert not missing, f"add these core files to DICOMAnnotator/CMakeLists.txt: {missing}"
    for listed in listed_scripts + listed_resources:
        assert (CORE.parent / listed).is_file(), f"DICOMAnnotator/CMakeLists.txt lists {listed}, which does not exist"
    assert len(listed_scripts) == len(set(listed_scripts)), "a core script is listed twice"
    assert all(f.endswith(".py") for f in listed_scripts)
    assert not any(f.endswith(".py") for f in listed_resources), "core .py files belong in the SCRIPTS list"


@pytest.mark.parametrize("module", MODULES)
def test_module_cmake_builds_the_module_and_registers_its_test(module):
    path = REPO / module / "CMakeLists.txt"
    lists = cmake_lists(path)
    assert lists["MODULE_NAME"] == [module]
    scripts, resources = lists["MODULE_PYTHON_SCRIPTS"], lists["MODULE_PYTHON_RESOURCES"]
    assert f"{module}.py" in scripts
    assert f"Resources/UI/{module}.ui" in resources
    assert f"Resources/Icons/{module}.png" in resources
    for listed in scripts + resources:
        assert (REPO / module / listed).is_file(), f"{path.relative_to(REPO)} lists {listed}, which does not exist"
    assert png_size(REPO / module / "Resources" / "Icons" / f"{module}.png") == (128, 128)

    text = cmake_text(path)
    call = re.search(r"slicerMacroBuildScriptedModule\(([^)]*)\)", text)
    assert call, "slicerMacroBuildScriptedModule() is not called"
    arguments = call.group(1).split()
    for keyword, value in (("NAME", "${MODULE_NAME}"), ("SCRIPTS", "${MODULE_PYTHON_SCRIPTS}"),
                           ("RESOURCES", "${MODULE_PYTHON_RESOURCES}")):
        assert arguments[arguments.index(keyword) + 1] == value
    testing = re.search(r"\bif\(\s*BUILD_TESTING\s*\)(.*?)\bendif\(", text, re.S)
    assert testing, "no if(BUILD_TESTING) block"
    assert re.search(r"slicer_add_python_unittest\(\s*SCRIPT\s+\$\{MODULE_NAME\}\.py\s*\)", testing.group(1))
    assert re.search(r"add_subdirectory\(\s*Testing\s*\)", testing.group(1))
    assert (REPO / module / "Testing" / "Python" / "CMakeLists.txt").is_file()


def test_requirements_match_the_core_dependencies():
    tomllib = pytest.importorskip("tomllib")
    requirements = pytest.importorskip("packaging.requirements")

    def normalized(lines):
        out = {}
        for line in lines:
            req = requirements.Requirement(line)
            out[re.sub(r"[-_.]+", "-", req.name).lower()] = str(req.specifier)
        return out

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [
        line.strip() for line in (REPO / "DICOMAnnotator" / "Resources" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.strip().startswith(("#", "-"))
    ]
    assert normalized(lines) == normalized(pyproject)


# ----------------------------------------------------------------------------- module sources
@pytest.mark.parametrize("module", MODULES)
def test_module_defines_the_scripted_module_classes(module):
    classes = module_classes(module)
    expected = [module, f"{module}ParameterNode", f"{module}Widget", f"{module}Logic", f"{module}Test"]
    assert [name for name in expected if name not in classes] == []
    bases = {name: [ast.unparse(base) for base in classes[name].bases] for name in expected}
    assert bases[module] == ["ScriptedLoadableModule"]
    assert bases[f"{module}Widget"][0] == "ScriptedLoadableModuleWidget"
    assert bases[f"{module}Logic"] == ["ScriptedLoadableModuleLogic"]
    assert bases[f"{module}Test"] == ["ScriptedLoadableModuleTest"]
    decorators = [ast.unparse(d) for d in classes[f"{module}ParameterNode"].decorator_list]
    assert decorators == ["parameterNodeWrapper"]
    test_methods = {n.name for n in classes[f"{module}Test"].body if isinstance(n, ast.FunctionDef)}
    assert {"setUp", "runTest"} <= test_methods and any(name.startswith("test_") for name in test_methods)


@pytest.mark.parametrize("module", MODULES)
def test_module_category_and_contributors_follow_slicers_conventions(module):
    """An existing category, translated in the core's context so that it joins the core folder (as
    Modules/Scripted/SegmentEditor/SegmentEditor.py does), and "Name (Organisation)" contributors."""
    assigned = {ast.unparse(node.targets[0]): node.value for node in ast.walk(module_classes(module)[module])
                if isinstance(node, ast.Assign)}
    categories = assigned["self.parent.categories"]
    for category in categories.elts:
        assert ast.unparse(category.func) == "translate" and category.args[0].value == "qSlicerAbstractCoreModule"
        assert category.args[1].value in CORE_CATEGORIES, category.args[1].value
    contributors = [element.value for element in assigned["self.parent.contributors"].elts]
    assert contributors and all(CONTRIBUTOR.fullmatch(entry) for entry in contributors), contributors


@pytest.mark.parametrize("module", MODULES)
def test_slicer_packaging_is_imported_where_it_is_used(module):
    """``import slicer`` does not import its ``packaging`` submodule: each function using it imports it first."""
    tree = ast.parse((REPO / module / f"{module}.py").read_text())

    def imports_packaging(node) -> bool:
        return any(isinstance(n, ast.Import) and any(a.name == "slicer.packaging" for a in n.names)
                   for n in ast.walk(node))

    at_top = imports_packaging(ast.Module(body=[n for n in tree.body if isinstance(n, ast.Import)], type_ignores=[]))
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        uses = [n for n in ast.walk(function) if isinstance(n, ast.Attribute) and ast.unparse(n) == "slicer.packaging"]
        assert not uses or at_top or imports_packaging(function), f"{function.name} uses slicer.packaging unimported"


@pytest.mark.parametrize("module", MODULES)
def test_core_is_imported_lazily_and_only_by_the_logic_and_test(module):
    tree = ast.parse((REPO / module / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
            assert not any(n.startswith("DICOMAnnotatorLib") for n in names), "import the core inside Logic methods"
    for name, cls in module_classes(module).items():
        if name in (f"{module}Logic", f"{module}Test"):  # the Test makes its generated data with the core
            continue
        for node in ast.walk(cls):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.startswith("DICOMAnnotatorLib") for n in names), f"{name} imports the core"


@pytest.mark.parametrize("module", MODULES)
def test_logic_does_not_touch_widgets(module):
    logic = module_classes(module)[f"{module}Logic"]
    for node in ast.walk(logic):
        if isinstance(node, ast.Attribute) and node.attr in ("ui", "layout"):
            pytest.fail(f"{module}Logic uses .{node.attr} (line {node.lineno})")
        if isinstance(node, ast.Name) and node.id in ("qt", "ctk"):
            pytest.fail(f"{module}Logic uses {node.id} (line {node.lineno})")


@pytest.mark.parametrize("module", MODULES)
def test_widget_methods_stay_short(module):
    """The Widget binds and calls; a method that grows past 40 statements holds logic that belongs in Logic."""
    widget = module_classes(module)[f"{module}Widget"]
    for method in (n for n in widget.body if isinstance(n, ast.FunctionDef)):
        statements = sum(isinstance(n, ast.stmt) for n in ast.walk(method)) - 1
        assert statements < 40, f"{module}Widget.{method.name} has {statements} statements"


@pytest.mark.parametrize("module", MODULES)
def test_ui_file_matches_the_module(module):
    root = ET.parse(REPO / module / "Resources" / "UI" / f"{module}.ui").getroot()
    top = root.find("widget")
    assert top.get("class") == "qMRMLWidget" and top.get("name") == module
    widgets = {w.get("name"): w.get("class") for w in root.iter("widget")}

    # every bound widget names a field of the parameter node, and every field has a widget
    parameter_node = module_classes(module)[f"{module}ParameterNode"]
    fields = {n.target.id for n in parameter_node.body if isinstance(n, ast.AnnAssign)}
    bound = {
        prop.findtext("string")
        for prop in root.iter("property") if prop.get("name") == "SlicerParameterName"
    }
    assert bound == fields

    # every MRML widget gets the scene from the top-level widget
    connected = {
        c.findtext("receiver") for c in root.iter("connection")
        if c.findtext("sender") == module and c.findtext("signal") == "mrmlSceneChanged(vtkMRMLScene*)"
        and c.findtext("slot") == "setMRMLScene(vtkMRMLScene*)"
    }
    mrml_widgets = {name for name, cls in widgets.items() if cls.startswith("qMRML") and name != module}
    assert mrml_widgets == connected

    # every self.ui.<name> the module uses exists in the .ui
    source = (REPO / module / f"{module}.py").read_text()
    used = set(re.findall(r"self\.ui\.(\w+)", source))
    assert used <= set(widgets), f"not in {module}.ui: {sorted(used - set(widgets))}"
    assert f'self.resourcePath("UI/{module}.ui")' in source
