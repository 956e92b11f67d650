"""Dataset export and card on 30 final cases of 12 patients made through the real workflow: the manifest
checked against the store and the signed files, patient-level (stratified) splits, the card's figures
recounted from the manifest and rendered in headless Chromium, and a Dask cluster writing the same bytes."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import dump_dom_in_chromium, in_process_cli, run, tree_bytes
from dataset_support import PROJECT, build_project
from DICOMAnnotatorLib.review import LocalService, ReviewStore

pytest_plugins = ["cluster_fixtures"]

QUESTION = "Liver lesion type"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return build_project(tmp_path_factory.mktemp("final-project"), cases=30, patients=12, changes_requested=2)


@pytest.fixture(scope="module")
def exported(project, tmp_path_factory):
    """`dataset export` on two local processes, stratified by the lesion-type question."""
    output = tmp_path_factory.mktemp("export") / "dataset"
    result = run("dataset", "export", PROJECT, "-o", output, "--store", project.url, "--user", "lead", "--jobs", "2",
                 "--stratify-by", QUESTION, "--seed", "7", "--json")
    assert result.returncode == 0, result.stderr
    return output, json.loads(result.stdout)


def test_the_manifest_agrees_with_the_store_and_the_signed_files(project, exported):
    output, printed = exported
    manifest = json.loads((output / "manifest.json").read_text())
    assert printed["cases"] == manifest["dataset"]["cases"] == 30 and printed["patients"] == 12
    assert manifest["failed"] == []
    with ReviewStore(project.url) as store:
        lead = LocalService(store, "lead")
        assert lead.project_status(PROJECT)["by_state"]["final"] == 30
        shown = {case: lead.show_case(case) for case in project.cases}
    assert [entry["case"] for entry in manifest["cases"]] == project.cases
    patients_by_source: dict[str, set[str]] = {}
    for entry in manifest["cases"]:
        case = shown[entry["case"]]
        assert (entry["study"], entry["series"]) == (case["study"], case["series"])
        assert entry["signature"] == {k: case["signature"][k] for k in ("user", "name", "signed_at", "meaning",
                                                                        "sha256")}
        assert entry["annotators"] == ["ann1", "ann2"] and entry["rounds"] == case["round"]
        assert entry["changes_requested"] == sum(r["decision"] == "changes" for r in case["reviews"])
        assert entry["answers"] == {QUESTION: project.answers[entry["case"]]}
        patients_by_source.setdefault(project.patient_of_case[entry["case"]], set()).add(entry["patient"])
        # agreement: the mean pairwise Dice of the consensus report the store kept for the final round
        report = [c for c in case["consensus"] if c["round"] == case["round"]][-1]["agreement"]
        expected = {s["label"]: round(float(np.mean([p["dice"] for p in s["pairs"]])), 4) for s in report["segments"]}
        assert entry["agreement"] == expected
        # structures: voxels counted here from the signed SEG's frames (pydicom), volumes from the series spacing
        signed = Path(case["signature"]["file"])
        assert hashlib.sha256(signed.read_bytes()).hexdigest() == case["signature"]["sha256"]
        voxels = _seg_voxels(signed)
        spacing = np.prod([*entry["pixel_spacing_mm"], entry["slice_thickness_mm"]])
        for structure in entry["structures"]:
            assert structure["voxels"] == voxels.get(structure["structure"], 0)
            assert structure["volume_ml"] == pytest.approx(structure["voxels"] * spacing / 1000, abs=1e-6)
        _check_files(output, entry)
    # de-identified patients: one pseudonym per source patient, none shared
    assert all(len(found) == 1 for found in patients_by_source.values()) and len(patients_by_source) == 12
    rows = list(csv.DictReader((output / "manifest.csv").open()))
    assert [int(r["case"]) for r in rows] == project.cases
    assert {r["case"]: r["split"] for r in rows} == {str(e["case"]): e["split"] for e in manifest["cases"]}


def test_splits_keep_each_patient_in_one_split_and_spread_the_answers(exported):
    output, printed = exported
    manifest = json.loads((output / "manifest.json").read_text())
    splits_of: dict[str, set[str]] = {}
    for entry in manifest["cases"]:
        splits_of.setdefault(entry["patient"], set()).add(entry["split"])
    assert all(len(found) == 1 for found in splits_of.values()), "a patient in two splits"
    counts = Counter(entry["split"] for entry in manifest["cases"])
    assert printed["splits"]["cases"] == dict(counts) and set(counts) == {"train", "validation", "test"}
    assert counts["train"] >= 15 and counts["validation"] >= 3 and counts["test"] >= 3
    answers_in = {split: {e["answers"][QUESTION] for e in manifest["cases"] if e["split"] == split} for split in counts}
    assert len(answers_in["train"]) == 3 and all(len(found) >= 2 for found in answers_in.values())
    assert manifest["splits"]["stratify_by"] == QUESTION and manifest["splits"]["seed"] == 7


def test_the_card_counts_the_manifest_and_shows_its_plots_in_chromium(exported, tmp_path, capsys):
    output, _ = exported
    status, out, err = in_process_cli(capsys)("dataset", "card", output, "-o", tmp_path / "card.html", "--json")
    assert status == 0, err
    assert json.loads(out) == {"card": str(tmp_path / "card.html"), "json": str(tmp_path / "card.json"),
                               "cases": 30, "patients": 12}
    card = json.loads((tmp_path / "card.json").read_text())
    cases = json.loads((output / "manifest.json").read_text())["cases"]
    assert card["size"] | {"from": None} == {"cases": 30, "patients": 12, "studies": 30, "series": 30,
                                             "failed_cases": 0, "from": None}
    assert card["splits"]["patients_in_more_than_one_split"] == 0
    assert {k: v["cases"] for k, v in card["splits"]["splits"].items()} == dict(Counter(c["split"] for c in cases))
    composition = card["composition"]
    assert composition["modalities"] == {"CT": 30}
    assert composition["scanners"] == dict(Counter(f"{c['manufacturer']} / {c['model']}" for c in cases))
    assert composition["sex"] == dict(Counter(c["sex"] for c in cases)) and set(composition["sex"]) == {"F", "M"}
    assert sum(composition["age_bands"].values()) == 30 and "not kept" not in composition["age_bands"]
    assert composition["slice_thickness_mm"] == {"1.25": 15, "2.5": 15}
    for row in card["labels"]["structures"]:
        volumes = [s["volume_ml"] for c in cases for s in c["structures"] if s["structure"] == row["structure"]
                   and s["voxels"]]
        assert row["cases"] == len(volumes) and row["volume_ml"]["total"] == pytest.approx(sum(volumes), abs=1e-3)
    for row in card["agreement"]["structures"]:
        values = [c["agreement"][row["structure"]] for c in cases]
        assert row["dice"]["mean"] == pytest.approx(np.mean(values), abs=1e-4) and row["cases"] == 30
    assert [t["cases"] for t in card["review"]["tiers"]] == [30, 30]
    assert card["review"]["changes_requested"] == {"cases": 2, "requests": 2} and card["review"]["signed"] == 30
    assert card["deidentification"]["patient_identity_removed"] == {"YES": 30}
    assert "Retain Patient Characteristics Option" in card["deidentification"]["options"]
    assert card["answers"]["questions"] == [{"question": QUESTION, "answers": {"Abscess": 10, "Cyst": 10,
                                                                              "Neoplasm": 10}}]
    assert card["ai_drafts"]["cases"] == 0

    dom = dump_dom_in_chromium(tmp_path / "card.html", tmp_path / "chromium-profile")
    plots = re.findall(r"<svg class=\"plot\" data-kind=\"(\w+)\".*?</svg>", dom, flags=re.S)
    assert len(plots) >= 12 and "points" in plots
    bars = re.findall(r'<rect class="bar"[^>]*data-label="([^"]*)" data-value="([^"]*)"', dom)
    assert ("CT", "30") in bars and ("train", str(card["splits"]["splits"]["train"]["cases"])) in bars
    assert len(re.findall(r'<circle class="point"', dom)) == 4 * 30, "a point per case per structure (volume, Dice)"
    assert "<b>30</b> cases" in dom and "<b>12</b> patients" in dom


def test_a_card_straight_from_the_project_has_the_same_figures(project, exported, tmp_path, capsys):
    output, _ = exported
    invoke = in_process_cli(capsys)
    status, _out, err = invoke("dataset", "card", PROJECT, "-o", tmp_path / "project.html", "--store", project.url,
                             "--user", "lead", "--seed", "7")
    assert status == 0, err
    from_project = json.loads((tmp_path / "project.json").read_text())
    invoke("dataset", "card", output, "-o", tmp_path / "export.html")
    from_export = json.loads((tmp_path / "export.json").read_text())
    for section in ("size", "composition", "labels", "answers", "agreement", "review", "deidentification"):
        assert from_project[section] == from_export[section], section


def test_a_cluster_export_writes_the_same_bytes_as_a_local_one(project, dask_scheduler, tmp_path, capsys):
    invoke = in_process_cli(capsys)
    common = ["--store", project.url, "--user", "lead", "--format", "dicom", "--splits", "0.8,0.2", "--seed", "3"]
    assert invoke("dataset", "export", PROJECT, "-o", tmp_path / "local", "--jobs", "1", *common)[0] == 0
    assert invoke("dataset", "export", PROJECT, "-o", tmp_path / "cluster", "--scheduler", dask_scheduler,
                  *common)[0] == 0
    local = tree_bytes(tmp_path / "local")
    assert local and tree_bytes(tmp_path / "cluster") == local
    manifest = json.loads(local["manifest.json"])
    with ReviewStore(project.url) as store:
        signed = {case: LocalService(store, "lead").show_case(case)["signature"]["sha256"] for case in project.cases}
    for entry in manifest["cases"]:  # --format dicom: the signed SEG as it is
        seg = f"cases/case-{entry['case']:05d}/seg.dcm"
        assert hashlib.sha256(local[seg]).hexdigest() == signed[entry["case"]]
    assert set(Counter(e["split"] for e in manifest["cases"])) == {"train", "test"}


def _seg_voxels(path: Path) -> dict[str, int]:
    """Voxels per segment label of a BINARY SEG, counted from its frames and their segment numbers."""
    seg = pydicom.dcmread(path)
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in seg.SegmentSequence}
    counts: Counter = Counter()
    for frame, group in zip(frames, seg.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        counts[labels[number]] += int(np.count_nonzero(frame))
    return dict(counts)


def _check_files(output: Path, entry: dict) -> None:
    paths = {f["path"]: f["sha256"] for f in entry["files"]}
    folder = f"cases/case-{entry['case']:05d}"
    assert set(paths) == {f"{folder}/{name}" for name in ("image.nii.gz", "labels.nii.gz", "labels.json", "sr.dcm")}
    for path, sha256 in paths.items():
        assert hashlib.sha256((output / path).read_bytes()).hexdigest() == sha256
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(output / folder / "labels.nii.gz")))
    found = {int(v): int(n) for v, n in zip(*np.unique(labels, return_counts=True), strict=True) if v}
    assert found == {s["label_value"]: s["voxels"] for s in entry["structures"] if s["voxels"]}
    assert labels.shape == tuple(reversed(entry["size"]))
