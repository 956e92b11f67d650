"""What each action of the Slicer modules imports, against what Slicer 5.12 bundles and what the Logic ensures.

Each action (annotate: next case, checklist, measurements, labels, landmarks, draft, submit; review:
next case, agreement, consensus, approve, sign, export) runs through the modules' Logic in a fresh
Python process (stand-ins for the Slicer application, real MRML and a real store) that sees only what
a stock Slicer 5.12 would have after the Logic ensured that action's requirements: the packages Slicer
bundles (at versions our requirements accept), those requirements with their own dependencies, and
the standard library; importing anything else fails there, as it would in Slicer (an optional import,
such as pydicom trying the pylibjpeg decoders, then takes its fallback). The action must succeed, and
every requirement the Logic ensures must be one that the action imports, so that opening a case never
installs what only de-identification needs (OCR, JPEG decoders).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from DICOMAnnotatorLib import review
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.mrml import bridge
from DICOMAnnotatorLib.mrml.cases import AnnotatorDesk
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review.sample_project import create_sample_project
from DICOMAnnotatorLib.seg import write_seg
from packaging.markers import default_environment
from packaging.requirements import Requirement
from slicer_application import SlicerApplication

pytestmark = pytest.mark.bridge

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

#: The Python packages Slicer 5.12 bundles, pinned in its SuperBuild (Slicer v5.12.3, commit 9034c71a8f:
#: SuperBuild/External_python-*.cmake). The DICOM set is bundled when Slicer is built with DICOM support
#: and OpenSSL, as the official packages are; Python itself is 3.12.10.
BUNDLED_BY_SLICER_5_12 = {
    "numpy": "2.4.6", "scipy": "1.17.1", "simpleitk": "2.5.5",
    "pydicom": "3.0.2", "pillow": "12.2.0", "highdicom": "0.27.0", "dicomweb-client": "0.61.0", "pyjpegls": "1.5.1",
    "dcmqi": "0.4.0", "retrying": "1.4.2", "six": "1.17.0", "typing-extensions": "4.15.0",
    "requests": "2.34.2", "urllib3": "2.7.0", "idna": "3.16", "certifi": "2026.5.20", "charset-normalizer": "3.4.7",
    "packaging": "26.2", "pyparsing": "3.3.2", "pip": "26.1.1", "setuptools": "82.0.1", "wheel": "0.47.0",
    "chardet": "7.4.3", "couchdb": "1.2", "gitdb": "4.0.12", "smmap": "5.0.3", "gitpython": "3.1.50",
    "cryptography": "48.0.0", "pyjwt": "2.13.0", "wrapt": "2.2.1", "deprecated": "1.3.1", "pycparser": "3.0",
    "cffi": "2.0.0", "pynacl": "1.6.2", "python-dateutil": "2.9.0.post0", "pygithub": "2.9.1",
}
#: Distributions of the application itself (Slicer's MRML and VTK; slicer-core stands in for them here, with
#: slicer-layer-dm, the displayable managers trame-slicer brings, which slicer-core's ``slicer`` imports when
#: installed: the web extra) and of this extension.
APPLICATION = {"slicer-core", "slicer-layer-dm", "vtk", "dicom-annotator"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines() -> dict[str, Requirement]:
    lines = (REPO / "DICOMAnnotator" / "Resources" / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in (s.strip() for s in lines) if line and not line.startswith("#")]
    return {canonical(requirement.name): requirement for requirement in requirements}


def action_requirements(tmp_path) -> dict[str, list[str]]:
    """The Logic's per-action lists, read from the module as Slicer loads it."""
    with SlicerApplication(tmp_path / "loading") as application:
        return application.load_module("DICOMAnnotator").ACTION_REQUIREMENTS


def installed_with(names) -> set[str]:
    """The distributions that installing ``names`` brings along (their requirements, recursively, as installed here)."""
    environment = {**default_environment(), "extra": ""}
    found, todo = set(), [canonical(name) for name in names]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(canonical(requirement.name))
    return found


#: Run first in the action's process: top-level modules named in BLOCKED cannot be imported, as in a Python
#: that lacks their distributions.
BLOCKER = """
import importlib.abc, sys
BLOCKED = set({blocked!r})
class NotInSlicer(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} in this Slicer's Python", name=name)
sys.meta_path.insert(0, NotInSlicer())
"""


def modules_outside(allowed: set[str]) -> list[str]:
    """The installed top-level modules none of whose distributions is ``allowed``."""
    return sorted(module for module, dists in importlib.metadata.packages_distributions().items()
                  if module not in sys.stdlib_module_names and not {canonical(d) for d in dists} & allowed)


def imported_distributions(script: str, allowed: set[str]) -> set[str]:
    """Run ``script`` in a fresh Python that can import only ``allowed`` distributions (and the standard library);
    name the distributions whose modules it imported."""
    program = (BLOCKER.format(blocked=modules_outside(allowed)) + textwrap.dedent(script)
               + "\nimport json\nprint(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n")
    result = subprocess.run([sys.executable, "-c", program], cwd=HERE, capture_output=True, text=True, timeout=600,
                            env={"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert result.returncode == 0, result.stderr[-3000:]
    modules = set(json.loads(result.stdout.strip().splitlines()[-1])) - set(sys.stdlib_module_names)
    by_module = importlib.metadata.packages_distributions()
    return {canonical(dist) for module in modules for dist in by_module.get(module, [])} - APPLICATION


def slicer_python(ensured: list[str]) -> set[str]:
    """The distributions of a Slicer 5.12 whose Logic ensured ``ensured``: the suitable bundled ones, the ensured
    ones with their dependencies, the application's."""
    requirements = requirement_lines()
    bundled = {name for name in BUNDLED_BY_SLICER_5_12 if slicer_satisfies(name, requirements)}
    return bundled | installed_with(ensured) | APPLICATION


def slicer_satisfies(distribution: str, requirements: dict[str, Requirement]) -> bool:
    """Slicer 5.12 bundles the distribution at a version our requirement (if we state one) accepts."""
    bundled = BUNDLED_BY_SLICER_5_12.get(distribution)
    if bundled is None:
        return False
    requirement = requirements.get(distribution)
    return requirement is None or requirement.specifier.contains(bundled, prereleases=True)


def check_action(action: str, imported: set[str], ensured: list[str]) -> None:
    requirements = requirement_lines()
    ensured = [canonical(name) for name in ensured]
    assert set(ensured) <= set(requirements), f"{action}: not in Resources/requirements.txt: {ensured}"
    needed = {dist for dist in imported if not slicer_satisfies(dist, requirements)}
    missing = sorted(needed - installed_with(ensured))
    assert not missing, f"'{action}' imports {missing}, which Slicer 5.12 lacks and the Logic does not ensure"
    unused = sorted(set(ensured) - imported)
    assert not unused, f"'{action}' ensures {unused} but never imports them"
    bundled = sorted(name for name in ensured if slicer_satisfies(name, requirements))
    assert not bundled, f"'{action}' ensures {bundled}, which Slicer 5.12 already bundles at a suitable version"


# ----------------------------------------------------------------------------- the actions
ANNOTATE = """
    import numpy as np
    from pathlib import Path
    from slicer_application import SlicerApplication
    from DICOMAnnotatorLib.imaging.segmentation import Segmentation
    from DICOMAnnotatorLib.mrml import bridge

    folder = Path({folder!r})
    with SlicerApplication(folder / "application") as application:
        module = application.load_module("DICOMAnnotator")
        for project, url in (("liver", {liver!r}), ("spine", {spine!r})):
            logic = module.DICOMAnnotatorLogic()
            logic.store().setLocation(url)
            parameters = logic.getParameterNode()
            parameters.userName, parameters.projectName = "ann", project
            parameters.workFolder = str(folder / "work" / project)
            logic.ensureDependencies()
            logic.openNextCase(parameters)
            session = logic.desk.session
            logic.instructionsHtml(), logic.windowPresets(), logic.classifications(), logic.markupsStructures()
            if project == "liver":
                labels = np.load({labels!r})
                drawn = Segmentation.from_labelmap(session.series.geometry, np.where(labels == 3, 0, labels),
                                                   session.protocol.segment_descriptions(), reference=session.series)
                bridge.segmentation_to_node(drawn, application.scene, session.volume_node,
                                            node=session.segmentation_node)
                logic.setLabel("Liver lesion", "Liver lesion type", "Cyst")
            else:
                logic.markupsNode("L1").AddControlPointWorld(1.0, 2.0, 3.0)
                logic.setLabel("L1", "Genant fracture grade", "Mild")
            logic.checklistRows(), logic.measurementRows(), logic.segmentEditorNode()
            logic.saveDraft()
            logic.submit()
"""

REVIEW = """
    from pathlib import Path
    from slicer_application import SlicerApplication

    folder = Path({folder!r})
    with SlicerApplication(folder / "application") as application:
        application.load_module("DICOMAnnotator")
        module = application.load_module("DICOMAnnotatorReview")
        for project, url in (("liver", {liver!r}), ("spine", {spine!r})):
            for user in ("rev", "rad") if project == "liver" else ("rad",):
                logic = module.DICOMAnnotatorReviewLogic()
                logic.store().setLocation(url)
                parameters = logic.getParameterNode()
                parameters.userName, parameters.projectName = user, project
                parameters.workFolder = str(folder / "work" / project / user)
                logic.ensureDependencies()
                logic.openNextCase(parameters)
                logic.agreementRows(), logic.annotators(), logic.showOnly(None)
                if user == "rev" or project == "spine":
                    logic.buildConsensus("staple" if project == "liver" else "majority")
                    if project == "liver":
                        logic.prepareConsensusEditing()
                    logic.recordConsensus("staple")
                logic.approve("")
                if user == "rad":
                    logic.sign("Reference standard")
                    logic.export(["seg", "nifti", "models"] if project == "liver" else ["sr"])
                logic.closeCase()
"""


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A liver case (volumes) and a spine case (landmarks), each with both annotators' submissions ready for review
    (their own stores), and a liver and spine case still to annotate; the phantom's labels as labels.npy."""
    folder = tmp_path_factory.mktemp("actions")
    geometry_args = {"size": (40, 30, 12)}
    from DICOMAnnotatorLib.imaging import phantoms

    geometry = phantoms.phantom_geometry(**geometry_args)
    hu, labels = phantoms.phantom_volume(geometry)
    phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), folder / "series")
    np.save(folder / "labels.npy", labels)
    series = ReferenceSeries.from_paths(folder / "series")
    urls = {}
    for stage in ("annotate", "review"):
        for project in ("liver", "spine"):
            url = f"sqlite:///{folder / f'{stage}-{project}.db'}"
            protocol = load_protocol("liver-lesions-ct" if project == "liver" else "vertebral-fractures-ct")
            case = create_sample_project(url, project, protocol, folder / "series")
            urls[stage, project] = url
            if stage == "review":
                submit_both(url, project, protocol, case, series, labels, folder)
    return folder, urls


def submit_both(url, project, protocol, case, series, labels, folder) -> None:
    """Both annotators' work on the case: the liver's SEGs, or landmark SRs through the annotator's desk."""
    if project == "liver":
        with review.ReviewStore(url) as store:
            for name in ("ann", "ben"):
                drawn = Segmentation.from_labelmap(series.geometry, np.where(labels == 3, 0, labels),
                                                   protocol.segment_descriptions(), reference=series, author=name)
                review.submit(store, case, name, write_seg(drawn, folder / f"{name}-{project}.dcm"))
        return
    grade = protocol.structure("Genant fracture grade").values[0]
    for name in ("ann", "ben"):
        desk = AnnotatorDesk(bridge.create_headless_scene(), url, name, folder / "desks" / name)
        session = desk.open_next_case(project)
        session.markups_node("L1").AddControlPointWorld(1.0, 2.0, 3.0)
        session.set_label("L1", "Genant fracture grade", grade)
        desk.submit()


@pytest.mark.parametrize("action, script", [("annotate", ANNOTATE), ("review", REVIEW)])
def test_each_action_ensures_what_it_imports_beyond_slicers_bundle(stores, action, script, tmp_path):
    folder, urls = stores
    ensured = action_requirements(tmp_path)[action]
    imported = imported_distributions(script.format(folder=str(folder / action), labels=str(folder / "labels.npy"),
                                                    liver=urls[action, "liver"], spine=urls[action, "spine"]),
                                      slicer_python(ensured))
    assert "pydicom" in imported and "numpy" in imported, "the action ran"
    check_action(action, imported, ensured)


def test_opening_a_case_installs_no_de_identification_package(tmp_path):
    requirements = action_requirements(tmp_path)
    ocr_and_decoders = {"pytesseract", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg"}
    for action, names in requirements.items():
        assert not ocr_and_decoders & {canonical(name) for name in names}, action


def test_the_bundle_check_fails_an_action_that_imports_an_unensured_package():
    """The check itself: an import of scikit-image with nothing ensured is named."""
    with pytest.raises(AssertionError, match=r"imports \['scikit-image'\]"):
        check_action("review", {"numpy", "pydicom", "scikit-image"}, [])
    with pytest.raises(AssertionError, match=r"imports \['SQLAlchemy'\]"):
        check_action("annotate", {"numpy", "SQLAlchemy"}, [])  # not bundled by Slicer
    with pytest.raises(AssertionError, match=r"ensures \['pytesseract'\] but never imports"):
        check_action("annotate", {"numpy"}, ["pytesseract"])
