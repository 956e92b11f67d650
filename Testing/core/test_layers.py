"""The core's architecture as a test: concept packages in layers that import only downward.

``LAYERS`` is the order (``docs/architecture.md`` explains it). A module may import its own
package, the root modules and any package of a lower layer, never a package of its own layer or
above; a lazy import inside a function and a ``TYPE_CHECKING`` import count as imports. Across
packages it imports the package's public API (its ``__init__``'s table), never its modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import DICOMAnnotatorLib
import pytest

CORE = Path(DICOMAnnotatorLib.__file__).parent
ROOT = "DICOMAnnotatorLib"

#: Bottom to top. Root modules of the first layer hold no concept of their own.
LAYERS: list[set[str]] = [
    {"errors", "lazy"},
    {"atomic", "parallel"},
    {"dicom"},
    {"imaging"},
    {"protocols"},
    {"seg", "rtstruct"},
    {"sr"},
    {"agreement", "export", "deid", "pacs", "drafts"},
    {"review"},
    {"dataset"},
    {"server"},
    {"mrml"},
    {"cli", "demo", "web"},
]
#: The web app's modules that run in a user's Slicer session process (on trame-slicer), not in the launcher.
SESSION_PROCESS = tuple(f"{ROOT}.web.{name}" for name in ("desk_app", "desk_layout", "annotator_panel",
                                                           "reviewer_panel", "probe", "feedback"))
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}
#: Modules importing these are the MRML layer, which only ``mrml`` may be (and the web app's session process,
#: which runs trame-slicer on slicer-core).
SLICER_MODULES = ("slicer", "vtk", "vtkmodules", "qt", "ctk", "trame", "trame_slicer", "trame_server", "trame_client",
                  "undo_stack")
#: The packages that may import them.
SLICER_PACKAGES = ("mrml", "web")


def core_modules() -> dict[str, Path]:
    """Every core module by dotted name (packages by their own name)."""
    modules = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, source: str, is_package: bool) -> list[tuple[int, str, list[str]]]:
    """``(line, absolute module, names)`` for every import in ``source`` (any depth, lazy ones too)."""
    found = []
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def concept_of(module: str) -> str | None:
    """The root module or package a core module belongs to (None for the root package itself)."""
    parts = module.split(".")
    return parts[1] if parts[0] == ROOT and len(parts) > 1 else None


def public_names(package: str) -> set[str]:
    return set(getattr(__import__(f"{ROOT}.{package}", fromlist=["__all__"]), "__all__", ()))


def layer_violations(name: str, source: str, *, is_package: bool = False) -> list[str]:
    """What in ``source`` (the module ``name``) breaks the layer order or reaches past a package's API."""
    concept = concept_of(name)
    problems = []
    for line, module, names in imports_of(name, source, is_package):
        if module.split(".")[0] in SLICER_MODULES and concept not in SLICER_PACKAGES:
            problems.append(f"{name}:{line} imports {module}: only the mrml and web packages may use Slicer, Qt, VTK "
                            "or trame")
            continue
        # ``from DICOMAnnotatorLib import review`` imports the review package (its API, by attribute)
        targets = [(f"{ROOT}.{n}", []) for n in names if n in LAYER_OF] if module == ROOT else [(module, names)]
        for target_module, target_names in targets:
            target = concept_of(target_module)
            if target is None or concept is None or target == concept:
                continue
            if LAYER_OF[target] >= LAYER_OF[concept] and LAYER_OF[concept] < len(LAYERS) - 1:
                problems.append(f"{name}:{line} imports {target_module}: layer of {target} is not below {concept}'s")
            elif (CORE / target).is_dir() and target_module != f"{ROOT}.{target}":
                problems.append(f"{name}:{line} imports {target_module}: use the {target} package's API, "
                                "not its modules")
            elif (CORE / target).is_dir() and set(target_names) - public_names(target):
                private = sorted(set(target_names) - public_names(target))
                problems.append(f"{name}:{line} imports {private} from {target}: not in its public API")
    return problems


def test_every_concept_has_a_layer():
    concepts = {concept_of(name) for name in core_modules()} - {None, "__init__"}
    concepts = {c for c in concepts if not c.startswith("resources")}
    assert concepts == set(LAYER_OF), "give each package or root module a layer in LAYERS"


def test_packages_import_only_downward_and_through_public_apis():
    problems = []
    for name, path in core_modules().items():
        problems += layer_violations(name, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("DICOMAnnotatorLib.dicom.codes", "from ..review import ReviewStore\n", "layer of review is not below dicom's"),
    ("DICOMAnnotatorLib.imaging.series", "def f():\n    from ..seg import read_seg\n", "not below imaging's"),
    ("DICOMAnnotatorLib.agreement.report", "from ..export import export_nifti\n", "not below agreement's"),
    ("DICOMAnnotatorLib.sr.writer", "from ..seg.reader import read_seg\n", "use the seg package's API"),
    ("DICOMAnnotatorLib.sr.writer", "from ..seg import SegFile\n", "not in its public API"),
    ("DICOMAnnotatorLib.review.store", "import vtk\n", "only the mrml and web packages"),
    ("DICOMAnnotatorLib.cli.case", "from trame.app import get_server\n", "only the mrml and web packages"),
    ("DICOMAnnotatorLib.review.store", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                       "    from ..mrml import AnnotatorDesk\n", "not below review's"),
])
def test_the_layer_check_finds_an_upward_import(module, source, expected):
    problems = layer_violations(module, source)
    assert len(problems) == 1 and expected in problems[0], problems


def test_no_import_cycle_inside_a_package():
    graph: dict[str, set[str]] = {}
    modules = core_modules()
    for name, path in modules.items():
        imported = set()
        for _line, module, names in imports_of(name, path.read_text(encoding="utf-8"), path.name == "__init__.py"):
            imported |= {m for m in (module, *(f"{module}.{n}" for n in names)) if m in modules and m != name}
        graph[name] = {m for m in imported if concept_of(m) == concept_of(name) and m != f"{ROOT}.{concept_of(m)}"}

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        if node in stack:
            pytest.fail("import cycle: " + " -> ".join([*stack[stack.index(node):], node]))
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, [*stack, node], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [], done)


def test_the_root_holds_few_modules_and_no_module_repeats_its_package():
    root_modules = sorted(p.name for p in CORE.glob("*.py"))
    assert len(root_modules) <= 8, root_modules
    for path in CORE.rglob("*.py"):
        package = path.parent.name
        if path.parent != CORE:
            assert not path.stem.startswith(package), f"{path.relative_to(CORE)}: the module repeats its package"


def test_public_apis_name_existing_objects():
    """Every exported name is the object it names, also after its package's modules were imported
    (importing a module ``connect`` would replace an exported function ``connect`` by the module)."""
    import importlib
    import types

    for path in sorted(CORE.glob("*/__init__.py")):
        package = importlib.import_module(f"{ROOT}.{path.parent.name}")
        if path.parent.name != "mrml":
            for module in sorted(path.parent.glob("*.py")):
                importlib.import_module(f"{package.__name__}.{module.stem}")
        for name in getattr(package, "__all__", ()):
            value = getattr(package, name)
            assert value is not None and not isinstance(value, types.ModuleType), f"{package.__name__}.{name}"


def test_the_core_outside_mrml_runs_without_slicer_qt_ctk_or_vtk():
    """Import every module outside ``mrml`` and the web app's session process in a fresh interpreter: none may load
    Slicer's libraries (the web app's launcher does not either)."""
    modules = [name for name in core_modules() if concept_of(name) != "mrml" and not name.startswith(SESSION_PROCESS)]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n    importlib.import_module(name)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('slicer', 'qt', 'ctk', 'vtk')"
            " or m.startswith('vtkmodules'))\n"
            "print(','.join(bad))\n")
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_importing_a_package_loads_none_of_its_modules():
    """The APIs are lazy: ``import DICOMAnnotatorLib.seg`` must not pull in numpy, pydicom or SQLAlchemy."""
    packages = sorted(f"{ROOT}.{p.parent.name}" for p in CORE.glob("*/__init__.py"))
    code = ("import importlib, sys\n"
            f"for name in {packages!r}:\n    importlib.import_module(name)\n"
            "print(','.join(sorted(m for m in ('numpy', 'pydicom', 'sqlalchemy', 'SimpleITK', 'scipy') "
            "if m in sys.modules)))\n")
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
