"""``dicom-annotator protocol list|validate|show|terminology`` per shared/CLI.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import in_process_cli
from DICOMAnnotatorLib.protocols import SHIPPED_PROTOCOLS_DIR, load_protocol, read_slicer_terminology


@pytest.fixture
def run(capsys):
    """Run the command in-process; returns (exit status, stdout, stderr)."""
    return in_process_cli(capsys)


def test_list(run):
    status, out, _ = run("protocol", "list", "--json")
    assert status == 0
    payload = json.loads(out)
    assert [p["id"] for p in payload["protocols"]] == sorted(p["id"] for p in payload["protocols"])
    assert len(payload["protocols"]) == 8
    for entry in payload["protocols"]:
        assert set(entry) == {"id", "version", "title", "path"}
        assert Path(entry["path"]) == SHIPPED_PROTOCOLS_DIR / f"{entry['id']}.json"
    status, out, _ = run("protocol", "list")
    assert status == 0 and "lung-nodules-ct" in out and "Lung nodules on chest CT" in out


def test_validate_shipped_protocols(run):
    files = sorted(SHIPPED_PROTOCOLS_DIR.glob("*.json"))
    status, out, err = run("protocol", "validate", *files)
    assert status == 0 and err == ""
    assert out.count(": valid (") == 8


def test_validate_prints_every_problem_with_its_json_path(run, tmp_path):
    data = json.loads((SHIPPED_PROTOCOLS_DIR / "liver-lesions-ct.json").read_text())
    data["structures"][0]["type"]["coding_scheme_designator"] = "SNOMED"
    data["structures"][1]["label_value"] = 1
    data["structures"][1]["type"]["code_value"] = "52988007"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    good = SHIPPED_PROTOCOLS_DIR / "lung-nodules-ct.json"
    status, out, err = run("protocol", "validate", bad, good, tmp_path / "absent.json")
    assert status == 1
    assert out.splitlines() == [
        f"{bad}: structures[0].type.coding_scheme_designator: unknown coding scheme 'SNOMED'; use 'SCT'",
        f"{bad}: structures[1].label_value: 1 is also the label_value of structures[0] ('Liver'); each label value "
        "names one structure",
        f"{bad}: structures[1].type.code_value: '52988007' is not a valid SNOMED CT concept id (wrong check digit: "
        "a digit is mistyped)",
        f"{good}: valid (lung-nodules-ct 1.0.0, 4 structures)",
        f"{tmp_path / 'absent.json'}: Protocol file {tmp_path / 'absent.json'} not found",
    ]
    assert err.strip() == "error: 2 of 3 protocol file(s) invalid; fix the problems listed above"
    status, out, _ = run("protocol", "validate", "--json", bad)
    assert status == 1
    (result,) = json.loads(out)["files"]
    assert result["valid"] is False and len(result["problems"]) == 3


def test_show(run):
    status, out, _ = run("protocol", "show", "intracranial-hemorrhage-ct")
    assert status == 0 and "Subdural hemorrhage" in out and "Dura mater (Internal)" in out
    status, out, _ = run("protocol", "show", SHIPPED_PROTOCOLS_DIR / "breast-lesions-mg.json", "--json")
    assert status == 0
    assert json.loads(out) == load_protocol("breast-lesions-mg").to_dict()


def test_show_unknown_protocol_is_one_error_line(run):
    status, out, err = run("protocol", "show", "no-such-protocol")
    assert status == 1 and out == ""
    assert err.startswith("error: 'no-such-protocol' is neither a protocol file nor a shipped protocol id")
    assert len(err.strip().splitlines()) == 1


def test_terminology(run, tmp_path):
    out_file = tmp_path / "lung.json"
    regions = tmp_path / "lung-regions.json"
    status, out, _ = run("protocol", "terminology", "lung-nodules-ct", "-o", out_file, "--anatomic-context", regions)
    assert status == 0 and f"Wrote {out_file}" in out
    context = read_slicer_terminology(out_file)
    assert any(entry.label == "Nodule" for entry in context.entries)
    assert json.loads(regions.read_text())["AnatomicCodes"]["AnatomicRegion"][0]["CodeMeaning"] == "Lung"
    status, _, err = run("protocol", "terminology", "lung-nodules-ct", "-o", out_file)
    assert status == 1 and "already exists" in err and "--force" in err
    status, _, _ = run("protocol", "terminology", "lung-nodules-ct", "-o", out_file, "--force")
    assert status == 0


def test_terminology_refuses_before_writing_half_a_pair(run, tmp_path):
    regions = tmp_path / "regions.json"
    regions.write_text("{}")
    status, _, err = run("protocol", "terminology", "lung-nodules-ct", "-o", tmp_path / "t.json",
                         "--anatomic-context", regions)
    assert status == 1 and "regions.json already exists" in err
    assert not (tmp_path / "t.json").exists()


def test_usage_errors_exit_2(run):
    assert run("protocol")[0] == 2
    assert run("protocol", "terminology", "lung-nodules-ct")[0] == 2
    assert run("protocol", "validate")[0] == 2
