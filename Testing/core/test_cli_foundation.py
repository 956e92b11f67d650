"""The command's conventions (shared/CLI.md): help, version, exit codes, JSON, one-line errors."""

from __future__ import annotations

import json

import numpy as np
from conftest import assert_one_line_error, run
from DICOMAnnotatorLib import __version__


def test_help_lists_commands_and_version():
    result = run("--help")
    assert result.returncode == 0
    for command in ("series", "demo"):
        assert command in result.stdout
    assert run("--version").stdout.strip() == f"dicom-annotator {__version__}"
    assert run("series", "info", "--help").returncode == 0


def test_usage_errors_exit_2():
    assert run().returncode == 2
    assert run("no-such-command").returncode == 2
    assert run("series", "info").returncode == 2


def test_series_info_json_follows_the_contract(write_phantom):
    folder, geometry, *_ = write_phantom("oblique")
    result = run("series", "info", folder, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"series_instance_uid", "modality", "size", "spacing", "affine", "instances",
                            "samples_per_pixel", "kind", "calibration"}  # the contract's keys, and 3 for colour
    assert payload["samples_per_pixel"] == 1 and (payload["kind"], payload["calibration"]) == ("volume", "patient")
    assert payload["size"] == list(geometry.size) and payload["instances"] == geometry.size[2]
    np.testing.assert_allclose(payload["affine"], geometry.affine, atol=1e-5)
    text = run("series", "info", folder)
    assert text.returncode == 0 and "Affine" in text.stdout


def test_bad_path_and_broken_series_give_one_line_errors(write_phantom, tmp_path):
    assert_one_line_error(run("series", "info", tmp_path / "absent"), "absent does not exist")
    folder, *_ = write_phantom()
    (folder / "0005.dcm").unlink()
    assert_one_line_error(run("series", "info", folder), "missing slices", "0004.dcm")
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 10)
    assert_one_line_error(run("series", "info", junk), "junk.dcm is not a DICOM file")


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "series", "info", tmp_path / "absent")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_demo_writes_its_outputs_and_refuses_to_overwrite(tmp_path):
    result = run("demo", "-o", tmp_path / "demo")
    assert result.returncode == 0, result.stderr
    assert "Liver lesion" in result.stdout and "mL" in result.stdout
    steps = [line.split(".")[0] for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert steps == [str(n) for n in range(1, 10)], "the demo's steps are numbered 1..9 in order"
    assert (tmp_path / "demo" / "labels.nii.gz").is_file()
    assert "STAPLE" in result.stdout and "Dice" in result.stdout
    assert (tmp_path / "demo" / "agreement.html").is_file()
    assert (tmp_path / "demo" / "nifti" / "labels.json").is_file()
    assert sorted(p.name for p in (tmp_path / "demo" / "models").iterdir()) == [
        "01-Liver.stl", "02-Liver_lesion.stl", "03-Vertebra.stl"]
    assert len(list((tmp_path / "demo" / "series").rglob("*.dcm"))) == 40
    assert sorted(p.name for p in (tmp_path / "demo" / "segs").iterdir()) == [
        "consensus-sr.dcm", "consensus.dcm", "reader1.dcm", "reader2.dcm", "reader3.dcm"]
    assert sorted(p.name for p in (tmp_path / "demo" / "vertebrae").iterdir()) == [
        "consensus-sr.dcm", "reader1-sr.dcm", "reader2-sr.dcm", "reader3-sr.dcm"]
    assert "Fleiss' kappa" in result.stdout and "consensus: T12 None, L1 Mild, L2 Moderate" in result.stdout
    phantom_identifiers = (b"Phantom^Demo", b"PHANTOM-001")  # what imaging.phantoms writes into the headers
    for path in (tmp_path / "demo").rglob("*.dcm"):
        assert not any(identifier in path.read_bytes() for identifier in phantom_identifiers), path
    manifest = json.loads((tmp_path / "demo" / "dataset" / "manifest.json").read_text())
    assert [entry["split"] for entry in manifest["cases"]] == ["train"]
    assert (tmp_path / "demo" / "dataset-card.html").is_file() and str(tmp_path / "demo" / "dataset") in result.stdout
    store = f"sqlite:///{tmp_path / 'demo' / 'review.db'}"
    assert json.loads(run("project", "status", "demo", "--store", store, "--json").stdout)["by_state"]["final"] == 1
    assert run("audit", "verify", "--store", store).returncode == 0
    assert_one_line_error(run("demo", "-o", tmp_path / "demo"), "already exists", "--force")
    assert run("demo", "-o", tmp_path / "demo", "--force").returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]

