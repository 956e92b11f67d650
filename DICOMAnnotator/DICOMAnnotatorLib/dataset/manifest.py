"""The dataset's manifest: ``manifest.json`` (everything) and ``manifest.csv`` (one row per case, for people
and spreadsheets), written whole or not at all, and read back for the card.

The JSON has the contract's ``{"cases": [{"case", "patient", "study", "series", "split", "files"}, ...]}``
and, per case, what the card counts: composition (modality, scanner, slice thickness, pixel spacing,
sex, age), de-identification, protocol, annotators, reviews, signature, agreement, structures,
answers, and the AI draft the annotators started from with how much they corrected it. No time of
export and no absolute path is in it: the same cases give the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..errors import InputError

MANIFEST_JSON, MANIFEST_CSV = "manifest.json", "manifest.csv"


def write_manifest(folder: Path, manifest: dict[str, Any], *, force: bool = True) -> None:
    with atomic_path(folder / MANIFEST_JSON, force=force) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    with atomic_path(folder / MANIFEST_CSV, force=force) as temporary:
        temporary.write_text(manifest_csv(manifest), encoding="utf-8", newline="")


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of an exported dataset (its folder, or its manifest.json)."""
    path = Path(path)
    path = path / MANIFEST_JSON if path.is_dir() else path
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist; give a folder written by `dataset export` (or a project)") from None
    except (OSError, ValueError) as error:
        raise InputError(f"Cannot read the manifest {path}: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cases"), list):
        raise InputError(f"{path} is not a dataset manifest (no \"cases\" list)")
    return manifest


def manifest_csv(manifest: dict[str, Any]) -> str:
    """One row per case; structures and answers as columns of their own."""
    cases = manifest["cases"]
    structures = list(dict.fromkeys(s["structure"] for entry in cases for s in entry["structures"]))
    questions = sorted({q for entry in cases for q in entry["answers"]})
    header = ["case", "patient", "study", "series", "split", "modality", "manufacturer", "model", "slice_thickness_mm",
              "pixel_spacing_mm", "sex", "age_years", "protocol_id", "protocol_version", "annotators", "reviewers",
              "rounds", "changes_requested", "signed_by", "signed_at", "signature_meaning", "signature_sha256"]
    header += [f"{name} volume_ml" for name in structures] + [f"{name} dice" for name in structures]
    header += ["ai_draft"] + [f"{name} dice to ai_draft" for name in structures]
    header += [f"answer: {question}" for question in questions] + ["files"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for entry in cases:
        volumes = {s["structure"]: s["volume_ml"] for s in entry["structures"]}
        signature = entry.get("signature") or {}
        row = [entry["case"], entry["patient"], entry["study"], entry["series"], entry["split"], entry["modality"],
               entry["manufacturer"], entry["model"], entry["slice_thickness_mm"],
               "\\".join(str(v) for v in entry["pixel_spacing_mm"] or []), entry["sex"], entry["age_years"],
               entry["protocol"]["id"], entry["protocol"]["version"], ";".join(entry.get("annotators", [])),
               ";".join(sorted({r["user"] for r in entry.get("reviews", [])})), entry.get("rounds"),
               entry.get("changes_requested"), signature.get("user"), signature.get("signed_at"),
               signature.get("meaning"), signature.get("sha256")]
        row += [volumes.get(name) for name in structures]
        row += [(entry.get("agreement") or {}).get(name) for name in structures]
        draft = entry.get("ai_draft") or {}
        corrected = {c["structure"]: c["dice"] for c in draft.get("corrections", [])}
        row += [f"{draft['algorithm']} {draft['algorithm_version']}" if draft else None]
        row += [corrected.get(name) for name in structures]
        row += [entry["answers"].get(question) for question in questions]
        row += [";".join(f["path"] for f in entry["files"])]
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue()
