"""The PACS in the review workflow: `case add --pacs` (de-identified on the way in), and the team server
sending signed results on to the PACS (`serve --push-to`), even when the PACS was away at the signature."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
from conftest import COMMAND
from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, phantom_volume
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.seg import write_seg
from DICOMAnnotatorLib.sr import ClassificationLabel, build_sr, write_sr
from orthanc_server import PASSWORD
from pacs_support import write_study
from processes import stop_process

pytest_plugins = ["pacs_fixtures"]

PROTOCOL = "liver-lesions-ct"


def test_case_add_pulls_a_study_and_de_identifies_it_on_the_way_in(pacs, tmp_path):
    study, files = write_study(tmp_path / "study", series=2, slices=5, patient_id="SECRET-MRN-4711")
    pacs.ok("pacs", "push", *pacs.dicomweb(tmp_path / "study"))
    (tmp_path / "key").write_text("a project key of at least sixteen bytes")
    store = ["--store", f"sqlite:///{tmp_path / 'review.db'}", "--user", "lead"]
    outcomes = pacs.batch([
        {"argv": ["user", "add", "lead", "--role", "lead", *store]},
        {"argv": ["project", "create", "liver", "--protocol", PROTOCOL, "--annotators", "1", *store]},
        {"argv": ["case", "add", "liver", "--pacs", pacs.orthanc.url, "--study", study, "--pacs-credentials",
                  pacs.credentials, "--deidentify-key-file", tmp_path / "key", "--images", tmp_path / "images",
                  "--json", *store]},
        {"argv": ["case", "add", "liver", "--pacs", pacs.orthanc.url, "--study", study, "--pacs-credentials",
                  pacs.credentials, "--deidentify-key-file", tmp_path / "key", "--images", tmp_path / "images",
                  *store], "status": 1},  # the same series again: refused, nothing added
        {"argv": ["case", "show", "1", "--json", *store]},
        {"argv": ["case", "show", "2", "--json", *store]},
    ])
    assert json.loads(outcomes[2]["stdout"]) == {"cases": [1, 2]}
    assert "already in project liver" in outcomes[3]["stderr"]
    shown = [json.loads(o["stdout"]) for o in outcomes[4:]]
    assert {case["study"] for case in shown} != {study} and len({case["study"] for case in shown}) == 1
    for case in shown:
        assert Path(case["images"]).is_relative_to(tmp_path / "images")
        instances = sorted(Path(case["images"]).glob("*.dcm"))
        assert len(instances) == 5
        for path in instances:
            ds = pydicom.dcmread(path)
            assert ds.PatientIdentityRemoved == "YES" and "SECRET" not in str(ds.PatientID)
            assert ds.SOPInstanceUID not in files and b"SECRET-MRN-4711" not in path.read_bytes()


def test_the_team_server_sends_signed_results_on_even_when_the_pacs_was_away(pacs, tmp_path):
    study, _files = write_study(tmp_path / "study", series=2, slices=5, patient_id="TEAM-PUSH")
    pacs.ok("pacs", "push", *pacs.dicomweb(tmp_path / "study"))
    results = {ReferenceSeries.from_paths(folder).series_instance_uid: _annotation(folder, tmp_path / folder.name)
               for folder in sorted((tmp_path / "study").iterdir())}
    database, files = f"sqlite:///{tmp_path / 'team.db'}", tmp_path / "server-files"
    pacs.ok("user", "add", "lead", "--role", "lead", "--password-stdin", "--store", database, stdin="lead-password-1\n")
    server = pacs.namespace.popen([COMMAND, "serve", "--store", database, "--files", files, "--port", "8443",
                                   "--push-to", pacs.orthanc.url, "--push-credentials", pacs.credentials,
                                   "--push-retries", "0", "--push-retry-delay", "0.3"],
                                  stdout=open(tmp_path / "server.log", "wb"), stderr=subprocess.STDOUT)
    try:
        _wait_for_server(pacs)
        url = "http://127.0.0.1:8443"
        as_user = {name: {"DICOM_ANNOTATOR_CONFIG": str(tmp_path / f"config-{name}"), "DICOM_ANNOTATOR_STORE": url}
                   for name in ("lead", "ann", "rev", "rad")}
        setup = [{"argv": ["login", url, "--user", "lead", "--password-stdin"], "stdin": "lead-password-1\n",
                  "env": as_user["lead"]}]
        for name, role in (("ann", "annotator"), ("rev", "reviewer"), ("rad", "radiologist")):
            password = f"{name}-password-1\n"
            setup += [{"argv": ["user", "add", name, "--role", role, "--password-stdin"], "stdin": password,
                       "env": as_user["lead"]},
                      {"argv": ["login", url, "--user", name, "--password-stdin"], "stdin": password,
                       "env": as_user[name]}]
        setup += [{"argv": ["project", "create", "liver", "--protocol", PROTOCOL, "--annotators", "1"],
                   "env": as_user["lead"]},
                  {"argv": ["case", "add", "liver", "--pacs", pacs.orthanc.url, "--study", study,
                            "--pacs-credentials", pacs.credentials, "--json"], "env": as_user["lead"]},
                  {"argv": ["case", "assign", "liver"], "env": as_user["lead"]},
                  *({"argv": ["case", "show", str(case), "--json"], "env": as_user["lead"]} for case in (1, 2))]
        outcomes = pacs.batch(setup)
        series_of = {json.loads(o["stdout"])["case"]: json.loads(o["stdout"])["series"] for o in outcomes[-2:]}

        def sign(case: int) -> list[dict]:
            seg, sr = results[series_of[case]]
            return pacs.batch([
                {"argv": ["case", "submit", case, seg, sr], "env": as_user["ann"]},
                {"argv": ["case", "review", case, "--decision", "approve"], "env": as_user["rev"]},
                {"argv": ["case", "review", case, "--decision", "approve"], "env": as_user["rad"]},
                {"argv": ["case", "finalize", case, "--meaning", "Approved", "--password-stdin", "--json"],
                 "stdin": "rad-password-1\n", "env": as_user["rad"]}])

        signed = json.loads(sign(1)[-1]["stdout"])
        _wait_until_held(pacs, study, results[series_of[1]], tmp_path / "back1")
        assert _sha256_of_pulled(tmp_path / "back1", results[series_of[1]][0]) == signed["sha256"]

        pacs.orthanc.stop()  # the PACS is away: the signature must not wait for it, nor fail
        started = time.monotonic()
        second = json.loads(sign(2)[-1]["stdout"])
        assert second["case"] == 2 and time.monotonic() - started < 60
        time.sleep(1.0)  # a first attempt fails meanwhile, and is audited
        pacs.orthanc.start()
        _wait_until_held(pacs, study, results[series_of[2]], tmp_path / "back2")
        assert _sha256_of_pulled(tmp_path / "back2", results[series_of[2]][0]) == second["sha256"]

        audit = tmp_path / "audit.json"
        pacs.batch([{"argv": ["audit", "export", "--format", "json", "-o", audit], "env": as_user["lead"]}])
        log = json.loads(audit.read_text())
        assert log["chain"]["intact"]
        pushes = [(r["case_id"], r["details"]) for r in log["records"] if r["action"] == "pacs.push"]
        statuses = {case: [d["status"] for c, d in pushes if c == case] for case in (1, 2)}
        assert statuses[1] == ["pushed"] and statuses[2][0] == "failed" and statuses[2][-1] == "pushed"
        assert all(d["destination"] == pacs.orthanc.url and d["instances"] == 2 for _, d in pushes)
        assert PASSWORD not in (tmp_path / "server.log").read_text() + audit.read_text()
    finally:
        stop_process(server, signal.SIGINT)
        if pacs.orthanc.process is None:
            pacs.orthanc.start()


def _annotation(series_folder: Path, work: Path) -> tuple[Path, Path]:
    """An annotator's SEG (the phantom's liver and lesion, as the protocol codes them) and SR (an answer)."""
    protocol = load_protocol(PROTOCOL)
    series = ReferenceSeries.from_paths(series_folder)
    _hu, labels = phantom_volume(series.geometry)
    labels[labels == 3] = 0
    segmentation = Segmentation.from_labelmap(series.geometry, labels.astype(np.uint8), protocol.segment_descriptions(),
                                              reference=series, author="Ann^Test")
    seg = write_seg(segmentation, work / "seg.dcm")
    question = protocol.structure("Liver lesion type")
    sr = write_sr(build_sr(None, None, [], labels=[ClassificationLabel(question.type, question.values[0])],
                           reference=series, creator="Ann^Test", protocol_id=protocol.id), work / "sr.dcm")
    return seg, sr


def _wait_for_server(pacs) -> None:
    code = ("import time, requests\n"
            "for _ in range(600):\n"
            "    try:\n"
            "        requests.get('http://127.0.0.1:8443/api/version', timeout=1).raise_for_status(); break\n"
            "    except Exception: time.sleep(0.1)\n"
            "else: raise SystemExit('the team server did not start')\n")
    result = pacs.namespace.run([sys.executable, "-c", code], timeout=120)
    assert result.returncode == 0, result.stderr


def _wait_until_held(pacs, study: str, files: tuple[Path, Path], folder: Path, timeout: float = 90) -> None:
    """Pull the study until the signed SEG and its SR are among what the PACS holds."""
    wanted = {pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID for path in files}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pacs.run("pacs", "pull", *pacs.dicomweb("--study", study, "-o", folder), "--retries", "0")
        if wanted <= {path.stem for path in folder.rglob("*.dcm")}:
            return
        time.sleep(0.5)
    raise AssertionError(f"the signed result did not reach the PACS within {timeout} s")


def _sha256_of_pulled(folder: Path, original: Path) -> str:
    uid = pydicom.dcmread(original, stop_before_pixels=True).SOPInstanceUID
    [path] = list(folder.rglob(f"{uid}.dcm"))
    return hashlib.sha256(path.read_bytes()).hexdigest()
