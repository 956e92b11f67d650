"""``evaluate PROJECT --algorithm NAME``: on a generated project of 20 cases whose drafts are the truth with known
perturbations (grown, shrunk, shifted, missed), the per-case and per-structure figures equal an independent
computation (point sets and a k-d tree; Python's statistics), and the HTML report renders in headless Chromium.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from conftest import dump_dom_in_chromium
from DICOMAnnotatorLib.imaging import write_image
from draft_support import (
    TOTALSEGMENTATOR_CLASSES,
    independent_figures,
    phantom_series,
    write_protocol,
    write_totalsegmentator_output,
)
from scipy import ndimage

pytest_plugins = ["review_fixtures"]

CASES = 20
IN_PLANE = np.array([np.zeros((3, 3)), ndimage.generate_binary_structure(2, 1), np.zeros((3, 3))], dtype=bool)


def _perturbed(n: int, truth: np.ndarray) -> np.ndarray:
    """Case ``n``'s model error on a structure: grown (1 or 2 voxels in-plane), shrunk (1 voxel), shifted along the
    columns (1 to 3 voxels), or right."""
    kind = n % 4
    if kind == 0:
        return ndimage.binary_dilation(truth, IN_PLANE, iterations=1 + n % 2)
    if kind == 1:
        return ndimage.binary_erosion(truth, IN_PLANE)
    if kind == 2:
        return np.roll(truth, 1 + n % 3, axis=2)
    return truth.copy()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """20 final cases (and one drafted case not yet signed, one signed case without draft) of a model "Phantom
    Segmentator"; returns (store URL, folder, {case: {structure: (draft mask, reference mask)}}, spacing)."""
    from DICOMAnnotatorLib.cli.main import main

    folder = tmp_path_factory.mktemp("evaluation")
    url = f"sqlite:///{folder / 'review.db'}"

    def cli(*args):  # in-process, as the `cli` fixture, whose capsys a module-scoped fixture cannot use
        return (main([str(a) for a in args]),)

    protocol = write_protocol(folder / "protocol.json")
    for args in (("user", "add", "lead", "--role", "lead"),
                 ("user", "add", "ann", "--role", "annotator", "--user", "lead"),
                 ("user", "add", "rad", "--role", "radiologist", "--user", "lead"),
                 ("project", "create", "abdomen", "--protocol", protocol, "--user", "lead")):
        assert cli(*args, "--store", url)[0] == 0
    made = [phantom_series(folder / f"series-{n}") for n in range(CASES + 2)]
    for args in (("case", "add", "abdomen", *(folder / f"series-{n}" for n in range(CASES + 2))),
                 ("case", "assign", "abdomen")):
        assert cli(*args, "--user", "lead", "--store", url)[0] == 0
    (folder / "labels.json").write_text(json.dumps({"vertebrae_L1": "Vertebra"}))
    expected = {}
    spacing = tuple(reversed(made[0][0].geometry.spacing))
    for n, (series, _, labels) in enumerate(made):
        case = n + 1
        liver, vertebra = _perturbed(n, np.isin(labels, (1, 2))), _perturbed(n + 1, labels == 3)
        if n == 5:
            vertebra[:] = False  # the model missed the vertebra: Dice 0, HD95 undefined
        ts = np.where(liver, 5, 0).astype(np.uint8)
        ts[vertebra] = 32
        if n != CASES + 1:  # the last case gets no draft
            output = write_totalsegmentator_output(folder / f"ts-{n}.nii", ts, series, TOTALSEGMENTATOR_CLASSES)
            assert cli("draft", "import", str(case), output, "--algorithm", "Phantom Segmentator",
                       "--algorithm-version", "1.0", "--labels", folder / "labels.json", "--drop-unmapped",
                       "--store", url, "--user", "lead")[0] == 0
        if n == CASES:
            continue  # drafted, never signed
        write_image(labels.astype(np.uint8), series.geometry, folder / f"truth-{n}.nii.gz")
        seg = folder / f"truth-{n}.dcm"
        assert cli("seg", "export", folder / f"series-{n}", folder / f"truth-{n}.nii.gz", "-o", seg,
                   "--protocol", protocol)[0] == 0
        for args in (("case", "submit", str(case), seg, "--user", "ann"),
                     ("case", "finalize", str(case), "--meaning", "Reference standard", "--user", "rad")):
            assert cli(*args, "--store", url)[0] == 0
        if n < CASES:
            expected[case] = {"Liver": (liver, labels == 1), "Vertebra": (vertebra, labels == 3)}
    return url, folder, expected, spacing


def test_the_evaluation_equals_an_independent_computation(cli, project, tmp_path):
    url, _, expected, spacing = project
    status, out, err = cli("evaluate", "abdomen", "--algorithm", "Phantom Segmentator", "--json", "--html",
                           tmp_path / "report.html", "--store", url)
    assert status == 0, err
    result = json.loads(out)
    assert (result["cases_evaluated"], result["cases_final"], result["cases_with_draft"]) == (CASES, CASES + 1,
                                                                                             CASES + 1)
    assert result["not_evaluated"] == [{"case": CASES + 2, "reason": "no draft by Phantom Segmentator"}]
    assert result["algorithm_versions"] == ["1.0"] and set(result["definitions"]) >= {"dice", "hd95_mm"}

    figures = {case: {s: independent_figures(d, r, spacing) for s, (d, r) in structures.items()}
               for case, structures in expected.items()}
    for entry in result["cases"]:
        for segment in entry["segments"]:
            mine = figures[entry["case"]][segment["segment"]]
            assert segment["dice"] == pytest.approx(mine["dice"], abs=1e-6)
            assert (segment["hd95_mm"] is None) == (mine["hd95_mm"] is None)
            if mine["hd95_mm"] is not None:
                assert segment["hd95_mm"] == pytest.approx(mine["hd95_mm"], abs=1e-6)
            assert segment["volume_difference_ml"] == pytest.approx(mine["volume_difference_ml"], abs=1e-6)
            assert (segment["voxels_added"], segment["voxels_removed"]) == (mine["voxels_added"],
                                                                            mine["voxels_removed"])

    summary = {s["segment"]: s for s in result["segments"]}
    assert sorted(summary) == ["Liver", "Vertebra"]
    for structure, entry in summary.items():
        dice = [figures[case][structure]["dice"] for case in sorted(figures)]
        hd95 = [figures[case][structure]["hd95_mm"] for case in sorted(figures)]
        defined = [v for v in hd95 if v is not None]
        assert entry["cases"] == CASES and entry["hd95_mm"]["undefined"] == len(hd95) - len(defined)
        q1, median, q3 = statistics.quantiles(dice, n=4, method="inclusive")
        assert entry["dice"]["mean"] == pytest.approx(statistics.fmean(dice), abs=1e-6)
        assert entry["dice"]["sd"] == pytest.approx(statistics.stdev(dice), abs=1e-6)
        assert (entry["dice"]["q1"], entry["dice"]["median"], entry["dice"]["q3"]) == pytest.approx(
            (q1, median, q3), abs=1e-6)
        assert entry["hd95_mm"]["median"] == pytest.approx(statistics.median(defined), abs=1e-6)
        assert (entry["dice"]["min"], entry["dice"]["max"]) == pytest.approx((min(dice), max(dice)), abs=1e-6)
    assert summary["Vertebra"]["hd95_mm"]["undefined"] >= 1 and summary["Vertebra"]["dice"]["min"] == 0

    # The report renders in a browser with its three box plots, every case, and the same figures.
    dom = dump_dom_in_chromium(tmp_path / "report.html", tmp_path / "profile")
    assert dom.count("<svg") == 3 and dom.count("<rect") == 2 * 3
    assert f"{summary['Liver']['dice']['mean']:.3f}" in dom and "Phantom Segmentator" in dom
    assert all(f"<tr><td>{case}</td>" in dom for case in expected)
    assert "http" not in Path(tmp_path / "report.html").read_text().replace("http://www.w3.org/2000/svg", "")


def test_evaluate_refuses_an_existing_report_and_an_unknown_project(cli, project, tmp_path):
    url = project[0]
    (tmp_path / "report.html").write_text("kept")
    status, _, err = cli("evaluate", "abdomen", "--algorithm", "x", "--html", tmp_path / "report.html", "--store", url)
    assert status == 1 and "already exists" in err and (tmp_path / "report.html").read_text() == "kept"
    status, _, err = cli("evaluate", "nowhere", "--algorithm", "x", "--store", url)
    assert status == 1 and "No project 'nowhere'" in err
    status, out, _ = cli("evaluate", "abdomen", "--algorithm", "Another model", "--json", "--store", url)
    assert status == 0 and json.loads(out)["cases_evaluated"] == 0 and json.loads(out)["segments"] == []


def test_the_dataset_card_shows_how_much_the_drafts_were_corrected(cli, project, tmp_path):
    """The store measured each submission against its draft; the manifest carries those corrections and the card
    counts them: per structure, the Dice between draft and final submission of every drafted case."""
    url, _, expected, spacing = project
    status, _, err = cli("dataset", "card", "abdomen", "-o", tmp_path / "card.html", "--store", url, "--user", "lead")
    assert status == 0, err
    drafts = json.loads((tmp_path / "card.json").read_text())["ai_drafts"]
    assert drafts["cases"] == CASES and drafts["algorithms"] == {"Phantom Segmentator 1.0": CASES}
    assert [s["structure"] for s in drafts["structures"]] == ["Liver", "Vertebra"]
    for row in drafts["structures"]:
        figures = [independent_figures(*expected[case][row["structure"]], spacing) for case in sorted(expected)]
        assert row["cases"] == CASES
        assert sorted(row["values"]) == pytest.approx(sorted(round(f["dice"], 4) for f in figures), abs=1e-6)
        assert row["voxels_added"] == sum(f["voxels_added"] for f in figures)  # in the submission, not the draft
        assert row["voxels_removed"] == sum(f["voxels_removed"] for f in figures)
        defined = [round(f["hd95_mm"], 4) for f in figures if f["hd95_mm"] is not None]
        assert row["hd95_mm"]["median"] == pytest.approx(statistics.median(defined), abs=1e-3)

    dom = dump_dom_in_chromium(tmp_path / "card.html", tmp_path / "profile")
    section = dom[dom.index("AI drafts: how much the experts corrected them"):]
    assert "Cases started from an AI draft: <b>20</b> (Phantom Segmentator 1.0: 20)" in section
    assert section.count('<circle class="point"') == 2 * CASES
