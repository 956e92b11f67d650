"""End to end (issue #5): annotators' SEG files in, a conformant consensus SEG and an agreement report out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, dciodvfy_errors, dump_dom_in_chromium, run
from DICOMAnnotatorLib.agreement.overlap import compare_masks
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.info import seg_summary
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.seg.writer import write_seg
from synthetic_annotators import GRID, LESION, LIVER, TRUTH, annotator, ellipsoid

#: Boundary flip probabilities of the three annotators: the first is the best, the second the worst.
QUALITY = (0.05, 0.35, 0.15)
NAMES = ("Best^Reader", "Worst^Reader", "Middle^Reader")


@pytest.fixture(scope="module")
def annotated_case(tmp_path_factory):
    """A CT series on the annotators' grid and one SEG per annotator (liver; lesion for two of them)."""
    folder = tmp_path_factory.mktemp("case")
    hu = np.where(TRUTH, 60, -100).astype(np.int16)
    phantoms.write_datasets(phantoms.ct_datasets(GRID, hu), folder / "series")
    series = ReferenceSeries.from_paths(folder / "series")
    lesion = ellipsoid((16, 20, 20), (3, 3, 3))
    paths = []
    for seed, (flip, name) in enumerate(zip(QUALITY, NAMES, strict=True)):
        drawn = annotator(flip, seed, (LIVER, LESION), extra=lesion)
        on_series = Segmentation(series.geometry, drawn.segments, {d.number: m for d, m in drawn.iter_masks()},
                                 reference=series, author=name)
        paths.append(write_seg(on_series, folder / f"reader{seed + 1}.dcm"))
    return folder, series, paths


def test_staple_consensus_from_seg_files_alone(annotated_case, tmp_path):
    folder, series, paths = annotated_case
    out, html = tmp_path / "consensus.dcm", tmp_path / "report.html"
    result = run("consensus", *paths, "-o", out, "--method", "staple", "--html", html, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["method"] == "staple" and payload["inputs"] == [str(p) for p in paths]
    liver = next(s for s in payload["segments"] if s["type"] == LIVER.type.as_list())
    sensitivity = [a["sensitivity"] for a in liver["annotators"]]
    assert sensitivity[0] > sensitivity[2] > sensitivity[1], "STAPLE ranks the annotators by their known quality"

    assert dciodvfy_errors(out) == []
    summary = seg_summary(out)
    assert summary["referenced_series_uid"] == series.series_instance_uid
    assert [s["type"] for s in summary["segments"]] == [LIVER.type.as_list(), LESION.type.as_list()]
    consensus = read_seg(out, series)
    dice = [compare_masks(read_seg(p, series).mask(1), TRUTH, series.geometry.spacing).dice for p in paths]
    consensus_dice = compare_masks(consensus.mask(1), TRUTH, series.geometry.spacing).dice
    assert consensus_dice > max(dice[1:]), "the consensus is closer to the truth than the weaker annotators"

    dom = dump_dom_in_chromium(html, tmp_path / "profile")
    assert dom.count("<table") >= 2 and "Liver" in dom and "Dice" in dom and "<svg" in dom


def test_majority_fractional_and_agreement(annotated_case, tmp_path):
    folder, series, paths = annotated_case
    result = run("consensus", *paths, "-o", tmp_path / "p.dcm", "--method", "majority", "--type", "fractional",
                 "--series", folder / "series", "--json")
    assert result.returncode == 0, result.stderr
    assert all("sensitivity" not in a for s in json.loads(result.stdout)["segments"] for a in s["annotators"])
    assert dciodvfy_errors(tmp_path / "p.dcm") == []
    fractions = read_seg(tmp_path / "p.dcm", series).mask(1)
    assert {round(float(v), 2) for v in np.unique(fractions)} <= {0.0, 0.33, 0.67, 1.0}

    result = run("agreement", *paths, "--json", "--html", tmp_path / "agreement.html")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["inputs"] == [str(p) for p in paths]
    liver = next(s for s in report["segments"] if s["type"] == LIVER.type.as_list())
    pairs = {(p["a"], p["b"]): p for p in liver["pairs"]}
    assert set(pairs) == {(0, 1), (0, 2), (1, 2)}
    assert set(pairs[(0, 1)]) >= {"dice", "jaccard", "volume_diff_ml", "hausdorff_mm", "hd95_mm", "assd_mm"}
    assert pairs[(0, 2)]["dice"] > pairs[(0, 1)]["dice"]
    assert (tmp_path / "agreement.html").stat().st_size > 0


def test_mismatched_inputs_are_refused(annotated_case, tmp_path, write_phantom):
    folder, series, paths = annotated_case
    other_folder, geometry, _, labels = write_phantom(name="other")
    other_series = ReferenceSeries.from_paths(other_folder)
    other = write_seg(Segmentation.from_labelmap(geometry, labels, phantoms.PHANTOM_SEGMENTS,
                                                 reference=other_series), tmp_path / "other.dcm")
    assert_one_line_error(run("consensus", paths[0], other, "-o", tmp_path / "c.dcm"), "other.dcm")
    assert_one_line_error(run("agreement", paths[0]), "at least 2")
    assert not (tmp_path / "c.dcm").exists()
