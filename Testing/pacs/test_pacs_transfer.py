"""PACS transfer against a real Orthanc: pull by DICOMweb and DIMSE, push SEG/SR, query back, byte for byte;
an interrupted batch resumes without duplicates or losses; credentials never shown."""

from __future__ import annotations

import io
import json
import os
import signal
import time

import pydicom
import pytest
from conftest import COMMAND
from DICOMAnnotatorLib.imaging import PHANTOM_SEGMENTS, ReferenceSeries, Segmentation, phantom_volume
from DICOMAnnotatorLib.seg import write_seg
from DICOMAnnotatorLib.sr import export_sr
from orthanc_server import PASSWORD, USER
from pacs_support import data_set_bytes, pulled_files, write_study

pytest_plugins = ["pacs_fixtures"]


@pytest.fixture(scope="module")
def study(pacs, tmp_path_factory):
    """A two-series CT study stored in Orthanc by `pacs push` over STOW-RS."""
    folder = tmp_path_factory.mktemp("study")
    uid, files = write_study(folder)
    report = json.loads(pacs.ok("pacs", "push", *pacs.dicomweb(folder), "--json").stdout)
    assert (report["instances"], report["transferred"], report["already_there"]) == (len(files), len(files), 0)
    return folder, uid, files


def test_a_study_pulled_by_dicomweb_is_byte_for_byte_what_was_sent_and_a_rerun_moves_nothing(pacs, study, tmp_path):
    folder, uid, files = study
    listed = json.loads(pacs.ok("pacs", "query", *pacs.dicomweb("--study", uid), "--json").stdout)
    assert [(s["study"], s["instances"], s["modalities"]) for s in listed["studies"]] == [(uid, len(files), ["CT"])]

    first = json.loads(pacs.ok("pacs", "pull", *pacs.dicomweb("--study", uid, "-o", tmp_path / "in"), "--json").stdout)
    assert (first["transferred"], first["already_there"], first["failed"]) == (len(files), 0, 0)
    assert pulled_files(tmp_path / "in") == files

    again = json.loads(pacs.ok("pacs", "pull", *pacs.dicomweb("--study", uid, "-o", tmp_path / "in"), "--json").stdout)
    assert (again["transferred"], again["already_there"]) == (0, len(files))
    pushed = json.loads(pacs.ok("pacs", "push", *pacs.dicomweb(folder), "--json").stdout)
    assert (pushed["transferred"], pushed["already_there"]) == (0, len(files))


def test_a_study_pulled_by_dimse_c_get_has_the_data_sets_that_were_sent(pacs, study, tmp_path):
    _folder, uid, files = study
    listed = json.loads(pacs.ok("pacs", "query", *pacs.dimse("--study", uid), "--json").stdout)
    assert [(s["study"], s["instances"]) for s in listed["studies"]] == [(uid, len(files))]
    report = json.loads(pacs.ok("pacs", "pull", *pacs.dimse("--study", uid, "-o", tmp_path / "in"), "--json").stdout)
    assert (report["transferred"], report["failed"]) == (len(files), 0)
    pulled = pulled_files(tmp_path / "in")
    assert pulled.keys() == files.keys()
    # over DIMSE the File Meta Information is the receiver's (PS3.10 7.1); the data set is the sender's, byte for byte
    assert {uid: data_set_bytes(b) for uid, b in pulled.items()} == {uid: data_set_bytes(b) for uid, b in files.items()}


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_seg_and_sr_pushed_are_listed_and_pulled_back_unchanged(pacs, study, tmp_path, protocol):
    folder, uid, files = study
    series = ReferenceSeries.from_paths(folder / "series1")
    _hu, labels = phantom_volume(series.geometry)
    segmentation = Segmentation.from_labelmap(series.geometry, labels, PHANTOM_SEGMENTS, reference=series,
                                              author="Reader^One")
    seg = write_seg(segmentation, tmp_path / "results" / "seg.dcm")
    sr = tmp_path / "results" / "sr.dcm"
    export_sr(seg, folder / "series1", sr, creator="Reader^One")
    sent = {path.name: path.read_bytes() for path in (seg, sr)}

    via = pacs.dicomweb if protocol == "dicomweb" else pacs.dimse
    report = json.loads(pacs.ok("pacs", "push", *via(tmp_path / "results"), "--json").stdout)
    assert (report["transferred"], report["failed"]) == (2, 0)
    listed = json.loads(pacs.ok("pacs", "query", *via("--study", uid), "--json").stdout)
    [entry] = listed["studies"]
    assert {"CT", "SEG", "SR"} <= set(entry["modalities"]) and entry["instances"] >= len(files) + 2

    pacs.ok("pacs", "pull", *pacs.dicomweb("--study", uid, "-o", tmp_path / "back"))
    pulled = pulled_files(tmp_path / "back")
    by_uid = {_sop_uid(b): b for b in sent.values()}
    for sop_uid, original in by_uid.items():
        if protocol == "dicomweb":  # STOW-RS stores the file as sent
            assert pulled[sop_uid] == original
        else:  # C-STORE sends the data set; the PACS wrote its own File Meta Information
            assert data_set_bytes(pulled[sop_uid]) == data_set_bytes(original)
    assert json.loads(pacs.ok("pacs", "push", *via(tmp_path / "results"), "--json").stdout)["already_there"] == 2


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_a_batch_cut_by_the_pacs_stopping_resumes_without_duplicates_or_losses(pacs, tmp_path, protocol):
    studies = [write_study(tmp_path / f"study{n}", series=1, slices=30, size=(128, 128), patient_id=f"CUT-{n}")
               for n in range(3)]
    expected = {uid: data for _study, files in studies for uid, data in files.items()}
    pacs.ok("pacs", "push", *pacs.dicomweb(*(tmp_path / f"study{n}" for n in range(3))))
    via = pacs.dicomweb if protocol == "dicomweb" else pacs.dimse
    args = ["pacs", "pull", *via("--study", *(uid for uid, _ in studies), "-o", tmp_path / "in", "--retries", "1",
                                 "--retry-delay", "0.1", "--report", tmp_path / "report.json")]

    pull = pacs.namespace.popen([COMMAND, *map(str, args)])
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "in").rglob("*.dcm")) and time.monotonic() < deadline and pull.poll() is None:
            time.sleep(0.002)
        pull.send_signal(signal.SIGSTOP)  # the batch stands still mid-way while the PACS goes down
        arrived = len(list((tmp_path / "in").rglob("*.dcm")))
        assert 0 < arrived < len(expected), "the pull finished before the PACS could be stopped mid-batch"
        pacs.orthanc.kill()
        pull.send_signal(signal.SIGCONT)
        assert pull.wait(timeout=120) == 3
    finally:
        if pull.poll() is None:
            pull.kill()
        pacs.orthanc.start()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["complete"] is False and all(failure["reason"] for failure in report["failures"])
    # every instance that did not arrive is in the report: by itself, or with its study when that could not be listed
    missing = expected.keys() - pulled_files(tmp_path / "in").keys()
    named = {f["sop_instance_uid"] for f in report["failures"] if f.get("sop_instance_uid")}
    whole_studies = {f["study"] for f in report["failures"] if not f.get("sop_instance_uid")}
    study_of = {sop: study for study, files in studies for sop in files}
    assert missing and all(sop in named or study_of[sop] in whole_studies for sop in missing)
    assert not [p for p in (tmp_path / "in").rglob("*") if p.is_file() and p.suffix != ".dcm"], "a partial file left"

    rerun = json.loads(pacs.ok(*args, "--json").stdout)
    assert rerun["complete"] and rerun["transferred"] == rerun["instances"] - rerun["already_there"]
    assert rerun["already_there"] >= arrived and rerun["instances"] == len(expected)
    pulled = pulled_files(tmp_path / "in")
    if protocol == "dicomweb":
        assert pulled == expected
    else:
        assert {u: data_set_bytes(b) for u, b in pulled.items()} == {u: data_set_bytes(b) for u, b in expected.items()}


def test_credentials_come_from_a_file_or_the_environment_and_are_never_shown(pacs, study, tmp_path):
    _folder, uid, _files = study
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"user": USER, "password": "not-the-password-xyz"}))
    refused = pacs.run("pacs", "query", pacs.orthanc.url, "--credentials", wrong, "--retries", "0")
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1
    assert str(wrong) in refused.stderr and "401" in refused.stderr
    assert "not-the-password-xyz" not in refused.stderr + refused.stdout

    none = pacs.run("pacs", "pull", pacs.orthanc.url, "--study", uid, "-o", tmp_path / "none", "--retries", "0",
                    "--report", tmp_path / "none.json")
    assert none.returncode == 3 and "no credentials" in none.stdout

    env = {**os.environ, "DICOM_ANNOTATOR_PACS_USER": USER, "DICOM_ANNOTATOR_PACS_PASSWORD": PASSWORD}
    pulled = pacs.run("-v", "pacs", "pull", pacs.orthanc.url, "--study", uid, "-o", tmp_path / "env", "--json",
                      "--report", tmp_path / "env.json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    reports = [(tmp_path / name).read_text() for name in ("env.json", "none.json")]
    for text in (pulled.stdout, pulled.stderr, *reports):
        assert PASSWORD not in text

    in_url = pacs.run("pacs", "query", pacs.orthanc.url.replace("http://", f"http://{USER}:{PASSWORD}@"))
    assert in_url.returncode == 1 and "carries credentials" in in_url.stderr and PASSWORD not in in_url.stderr


def test_an_unreachable_pacs_is_a_batch_failure_listed_per_study(pacs, tmp_path):
    result = pacs.run("pacs", "pull", "http://127.0.0.1:9/dicom-web", "--study", "1.2.3", "--study", "1.2.4",
                      "-o", tmp_path / "in", "--retries", "1", "--retry-delay", "0", "--json")
    assert result.returncode == 3
    report = json.loads(result.stdout)
    assert [f["study"] for f in report["failures"]] == ["1.2.3", "1.2.4"]
    assert all("did not answer" in f["reason"] for f in report["failures"])


def _sop_uid(data: bytes) -> str:
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID
