"""Helpers of the de-identification tests: runs of the real command, leak scans, outputs by modality."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
from canary_study import CANARIES, CanaryStudy
from DICOMAnnotatorLib.cli.main import main

KEY = "correct-horse-battery-staple-42"


def run_deidentify(source: Path, output: Path, *options: str, key: str = KEY,
                   report: Path | None = None) -> tuple[int, dict]:
    """Run ``dicom-annotator deidentify`` in this process; returns its exit status and --report."""
    report = report or output.parent / f"{output.name}-report.json"
    argv = ["deidentify", str(source), str(output), "--key", key, "--report", str(report), *options]
    status = main(argv)
    return status, json.loads(report.read_text())


def outputs_by_modality(folder: Path) -> dict[str, list[pydicom.Dataset]]:
    found: dict[str, list[pydicom.Dataset]] = {}
    for path in sorted(folder.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        found.setdefault(str(ds.Modality), []).append(ds)
    return found


def leaks(folder: Path, study: CanaryStudy, canaries: dict[str, str] = CANARIES) -> list[str]:
    """Every planted value or source UID found anywhere in the bytes of any file under ``folder``."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        lowered = data.lower()
        found += [f"{path.name}: {name} {value!r}" for name, value in canaries.items()
                  if value.lower().encode() in lowered]
        found += [f"{path.name}: source UID {uid}" for uid in study.source_uids if uid.encode() in data]
    return found
