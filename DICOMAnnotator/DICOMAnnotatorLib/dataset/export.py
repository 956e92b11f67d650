"""``dataset export``: the final cases of a project as a training dataset with its manifest and splits.

The review store is reached through a service (``review.LocalService`` in local mode, the team
server's ``RemoteService``): the cases, who worked on them and the signed results come from it.
Files the service can hand over where they are (local mode) are read in place; otherwise they are
downloaded (checksums verified) into a staging folder inside the output. Each case is then
exported by a worker (:mod:`.entries`: here, in local processes, or on a Dask cluster), the splits
are drawn patient by patient (:mod:`.splits`), and the manifest is written last. The output folder
appears whole or not at all.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import atomic_path, check_output
from ..errors import InputError
from ..parallel import run_chunks
from .entries import FORMATS, CaseInputs, ExportSettings, export_cases
from .manifest import write_manifest
from .splits import assign_splits, check_question, split_names


def export_dataset(service: Any, project: str, output: str | os.PathLike[str], *, fmt: str = "nifti",
                   fractions: tuple[float, ...] = (0.7, 0.15, 0.15), seed: int = 0, stratify_by: str | None = None,
                   jobs: int = 1, scheduler: str | None = None, force: bool = False,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Export every final case of ``project`` into ``output``; returns the manifest (also written there)."""
    if fmt not in FORMATS:
        raise InputError(f"Unknown dataset format {fmt!r}; use {' or '.join(FORMATS)}")
    check_output(output, force=force)
    with atomic_path(output, force=force, directory=True) as work:
        manifest = collect_manifest(service, project, work, fmt=fmt, fractions=fractions, seed=seed,
                                    stratify_by=stratify_by, jobs=jobs, scheduler=scheduler, progress=progress,
                                    write_files=True)
        write_manifest(work, manifest)
    return manifest


def collect_manifest(service: Any, project: str, work: Path, *, fmt: str = "nifti",
                     fractions: tuple[float, ...] = (0.7, 0.15, 0.15), seed: int = 0, stratify_by: str | None = None,
                     jobs: int = 1, scheduler: str | None = None, progress: Callable[[int, int], None] | None = None,
                     write_files: bool = True) -> dict[str, Any]:
    """The manifest of ``project``'s final cases; with ``write_files`` their files are written under ``work``
    (else ``work`` only stages downloads, for a card made straight from the store)."""
    status = service.project_status(project)
    protocol = service.project_protocol(project)["protocol"]
    final = service.list_cases(project, state="final")["cases"]
    if not final:
        raise InputError(f"Project {project} has no final (signed) case yet; `project status {project}` shows its "
                         "cases by state")
    staging = work / ".staging"
    inputs = [gather_case(service, case["case"], staging) for case in final]
    settings = ExportSettings(str(work) if write_files else None, fmt, protocol)
    entries: list[dict[str, Any]] = []
    for results in run_chunks(export_cases, inputs, setup=partial(_settings, settings), jobs=jobs,
                              scheduler=scheduler, max_chunk=1):
        entries.extend(results)
        if progress is not None:
            progress(len(entries), len(inputs))
    shutil.rmtree(staging, ignore_errors=True)
    entries.sort(key=lambda entry: entry["case"])
    failed = [entry for entry in entries if "error" in entry]
    cases = [entry for entry in entries if "error" not in entry]
    if stratify_by is not None:
        check_question(cases, stratify_by)
    splits = assign_splits(cases, fractions, seed=seed, stratify_by=stratify_by)
    for entry in cases:
        entry["split"] = splits[entry["case"]]
    names = split_names(fractions)
    return {
        "dataset": {"project": project, "protocol": status["protocol"], "format": fmt if write_files else None,
                    "created_with": f"dicom-annotator {__version__}", "cases": len(cases),
                    "patients": len({entry["patient"] for entry in cases}),
                    "review_tiers": status.get("review_tiers", [])},
        "splits": {"names": list(names), "fractions": list(fractions), "seed": seed, "stratify_by": stratify_by,
                   "unit": "patient",
                   "cases": {name: sum(entry["split"] == name for entry in cases) for name in names},
                   "patients": {name: len({e["patient"] for e in cases if e["split"] == name}) for name in names}},
        "cases": cases,
        "failed": failed,
    }


def gather_case(service: Any, case: int, staging: Path) -> CaseInputs:
    """The case's images and signed files (in place, or downloaded into ``staging``) and the store's account."""
    shown = service.show_case(case)
    listing = service.case_files(case)
    entries = [*listing["images"], *listing["files"]]
    if entries and all(entry.get("path") and Path(entry["path"]).is_file() for entry in entries):
        images, files = [entry["path"] for entry in listing["images"]], listing["files"]
    else:  # through a team server: download (checksums verified)
        fetched = service.fetch_case(case, staging / f"case-{case}")
        images = sorted(str(path) for path in Path(fetched["images"]).iterdir() if path.is_file())
        files = fetched["files"]
    seg, sr = signed_files(shown, files)
    return CaseInputs(case, tuple(images), seg, sr, review_account(shown))


def signed_files(shown: dict[str, Any], files: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The signed SEG (or SR) and the SR beside it: the consensus pair, or the single submission's files."""
    signature = shown.get("signature")
    if not signature:
        raise InputError(f"Case {shown['case']} is not signed; only final cases are exported")
    by_sha = {entry["sha256"]: entry for entry in files}
    signed = by_sha.get(signature["sha256"])
    if signed is None:
        raise InputError(f"Case {shown['case']}: the signed file {signature['sha256'][:12]}... is not among the "
                         "case's files")
    role = signed["role"]
    if role in ("consensus_seg", "seg"):
        partner = "consensus_sr" if role == "consensus_seg" else "sr"
        beside = [entry for entry in files if entry["role"] == partner and entry.get("round") == signed.get("round")
                  and (partner == "consensus_sr" or entry.get("user") == signed.get("user"))]
        return signed["path"], beside[-1]["path"] if beside else None
    return None, signed["path"]


def review_account(shown: dict[str, Any]) -> dict[str, Any]:
    """Who annotated, reviewed and signed, and how much the annotators agreed (no free-text comments: they
    are not part of a dataset and may name people)."""
    signature = shown["signature"]
    final_round = [c for c in shown.get("consensus", []) if c.get("round") == shown.get("round")]
    report = (final_round[-1].get("agreement") if final_round else None) or {}
    agreement = {}
    for segment in report.get("segments", []):
        dice = [float(pair["dice"]) for pair in segment.get("pairs", [])]
        if dice:
            agreement[segment.get("label") or segment["type"][2]] = round(sum(dice) / len(dice), 4)
    reviews = shown.get("reviews", [])
    return {
        "annotators": sorted({s["user"] for s in shown.get("submissions", [])} | set(shown.get("annotators", []))),
        "reviews": [{"user": r["user"], "round": r["round"], "tier": r["tier"], "tier_name": r["tier_name"],
                     "decision": r["decision"]} for r in reviews],
        "rounds": shown.get("round"),
        "changes_requested": sum(r["decision"] == "changes" for r in reviews),
        "consensus": final_round[-1]["method"] if final_round else None,
        "agreement": dict(sorted(agreement.items())),
        "signature": {key: signature[key] for key in ("user", "name", "signed_at", "meaning", "sha256")},
        "ai_draft": ai_draft_account(shown),
    }


def ai_draft_account(shown: dict[str, Any]) -> dict[str, Any] | None:
    """The AI draft the case's annotators started from (None without one) and how much the final round's
    submissions corrected it, per structure: mean Dice and HD95 to the draft, voxels added and removed
    (measured by the store at each submission)."""
    drafts = shown.get("drafts") or []
    if not drafts:
        return None
    draft = drafts[-1]
    measured: dict[str, list[dict[str, Any]]] = {}
    for submission in shown.get("submissions", []):
        if submission["round"] == shown.get("round"):
            for change in submission.get("corrections", []):
                if change["draft"] == draft["draft"]:
                    measured.setdefault(change["segment"], []).append(change)
    corrections = []
    for structure, changes in measured.items():
        distances = [c["hd95_mm"] for c in changes if c["hd95_mm"] is not None]
        corrections.append({
            "structure": structure, "submissions": len(changes),
            "dice": round(sum(c["dice"] for c in changes) / len(changes), 4),
            "hd95_mm": round(sum(distances) / len(distances), 4) if distances else None,
            "voxels_added": sum(c["voxels_added"] for c in changes),
            "voxels_removed": sum(c["voxels_removed"] for c in changes)})
    return {"algorithm": draft["algorithm"], "algorithm_version": draft["algorithm_version"],
            "segmentation_type": draft["segmentation_type"], "uncertainty": draft["uncertainty"],
            "structures": draft["structures"], "corrections": corrections}


def _settings(settings: ExportSettings) -> ExportSettings:
    return settings
