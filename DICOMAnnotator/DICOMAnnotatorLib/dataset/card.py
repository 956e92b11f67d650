"""The dataset card's figures (``card.json``), each computed from the manifest alone.

What a reader of a regulatory submission asks about a labelled dataset (DataSum's composition,
quality and coverage): what is in it (modalities, scanners, slice thickness, pixel spacing, sex
and age where the de-identification kept them, splits), what is labelled (cases and volume per
structure, answers per question), how sure the labels are (agreement per structure, review tiers
passed, changes requested), how it was de-identified and with which protocol versions, and how
much AI drafts were corrected where there were any. Every figure names the manifest fields it
counts (``from``), so anyone can recount it from ``manifest.json``.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

NOT_KEPT = "not kept"
AGE_BANDS = ((0, 18, "0-17"), (18, 40, "18-39"), (40, 60, "40-59"), (60, 80, "60-79"), (80, 200, "80+"))


def build_card(manifest: dict[str, Any]) -> dict[str, Any]:
    cases = manifest["cases"]
    dataset = manifest.get("dataset", {})
    return {
        "title": f"Dataset card: {dataset.get('project', 'dataset')}",
        "source": {"manifest_sha256": hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest(),
                   "project": dataset.get("project"), "protocol": dataset.get("protocol"),
                   "format": dataset.get("format"), "created_with": dataset.get("created_with")},
        "size": {"cases": len(cases), "patients": len({c["patient"] for c in cases}),
                 "studies": len({c["study"] for c in cases}), "series": len({c["series"] for c in cases}),
                 "failed_cases": len(manifest.get("failed", [])),
                 "from": "cases[].case, patient, study, series; failed[]"},
        "splits": _splits(manifest),
        "composition": {
            "modalities": _counts(c["modality"] for c in cases),
            "scanners": _counts(" / ".join(p for p in (c["manufacturer"], c["model"]) if p) or None for c in cases),
            "slice_thickness_mm": _counts(_number(c["slice_thickness_mm"]) for c in cases),
            "pixel_spacing_mm": _counts(" x ".join(_number(v) for v in c["pixel_spacing_mm"])
                                        if c["pixel_spacing_mm"] else None for c in cases),
            "sex": _counts(c["sex"] for c in cases),
            "age_bands": _counts(_age_band(c["age_years"]) for c in cases),
            "from": "cases[].modality, manufacturer, model, slice_thickness_mm, pixel_spacing_mm, sex, age_years "
                    f"(cases without a value are counted as '{NOT_KEPT}')"},
        "labels": _labels(cases),
        "answers": _answers(cases),
        "agreement": _agreement(cases),
        "review": _review(cases, manifest),
        "deidentification": {
            "patient_identity_removed": _counts(c["deidentification"]["patient_identity_removed"] for c in cases),
            "methods": _counts(m for c in cases for m in c["deidentification"]["methods"] or [None]),
            "options": _counts(o for c in cases for o in c["deidentification"]["options"]),
            "from": "cases[].deidentification (the images' Patient Identity Removed, De-identification Method and "
                    "its code sequence, PS3.15 Table CID 7050)"},
        "protocol_versions": {**_counts(f"{c['protocol']['id']} {c['protocol']['version']}" for c in cases),
                              "from": "cases[].protocol"} if cases else {"from": "cases[].protocol"},
        "ai_drafts": _drafts(cases),
    }


def _splits(manifest: dict[str, Any]) -> dict[str, Any]:
    cases = manifest["cases"]
    names = manifest.get("splits", {}).get("names") or sorted({c["split"] for c in cases})
    rows = {name: {"cases": sum(c["split"] == name for c in cases),
                   "patients": len({c["patient"] for c in cases if c["split"] == name})} for name in names}
    drawn = manifest.get("splits", {})
    return {"splits": rows, "patients_in_more_than_one_split": _patients_in_several_splits(cases), "unit": "patient",
            "seed": drawn.get("seed"), "stratify_by": drawn.get("stratify_by"), "from": "cases[].split, patient"}


def _patients_in_several_splits(cases: list[dict[str, Any]]) -> int:
    splits: dict[str, set[str]] = {}
    for case in cases:
        splits.setdefault(case["patient"], set()).add(case["split"])
    return sum(len(found) > 1 for found in splits.values())


def _labels(cases: list[dict[str, Any]]) -> dict[str, Any]:
    names = list(dict.fromkeys(s["structure"] for c in cases for s in c["structures"]))
    rows = []
    for name in names:
        volumes = [s["volume_ml"] for c in cases for s in c["structures"] if s["structure"] == name and s["voxels"]]
        rows.append({"structure": name, "cases": len(volumes),
                     "cases_percent": round(100 * len(volumes) / len(cases), 1) if cases else 0.0,
                     "volume_ml": _summary(volumes), "volumes_ml": [round(v, 3) for v in volumes]})
    return {"structures": rows, "from": "cases[].structures[] (structure, voxels > 0, volume_ml)"}


def _answers(cases: list[dict[str, Any]]) -> dict[str, Any]:
    questions = sorted({q for c in cases for q in c["answers"]})
    return {"questions": [{"question": q, "answers": _counts(c["answers"].get(q) for c in cases)} for q in questions],
            "from": "cases[].answers"}


def _agreement(cases: list[dict[str, Any]]) -> dict[str, Any]:
    names = sorted({name for c in cases for name in c.get("agreement") or {}})
    rows = []
    for name in names:
        values = [c["agreement"][name] for c in cases if name in (c.get("agreement") or {})]
        rows.append({"structure": name, "cases": len(values), "dice": _summary(values), "values": values})
    return {"structures": rows, "measure": "mean pairwise Dice of the annotators, per case",
            "from": "cases[].agreement"}


def _review(cases: list[dict[str, Any]], manifest: dict[str, Any]) -> dict[str, Any]:
    tiers = manifest.get("dataset", {}).get("review_tiers") or []
    passed = []
    for tier in tiers:
        through = sum(any(r["tier"] == tier["tier"] and r["decision"] == "approve" and r["round"] == c["rounds"]
                          for r in c.get("reviews", [])) for c in cases)
        passed.append({"tier": tier["tier"], "name": tier["name"], "role": tier["role"], "cases": through})
    return {"tiers": passed,
            "changes_requested": {"cases": sum(c.get("changes_requested", 0) > 0 for c in cases),
                                  "requests": sum(c.get("changes_requested", 0) for c in cases)},
            "rounds": _counts(str(c.get("rounds")) for c in cases),
            "consensus": _counts(c.get("consensus") or "single annotator" for c in cases),
            "signed": sum(bool(c.get("signature")) for c in cases),
            "signers": _counts((c.get("signature") or {}).get("name") for c in cases),
            "from": "cases[].reviews (approvals in the final round), changes_requested, rounds, consensus, signature"}


def _drafts(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """How many cases started from an AI draft, from which models, and how much the experts corrected the drafts:
    per structure, the distribution over cases of the Dice between draft and final submissions, and the voxels
    added and removed."""
    drafted = [c["ai_draft"] for c in cases if c.get("ai_draft")]
    by_structure: dict[str, list[dict[str, Any]]] = {}
    for draft in drafted:
        for change in draft["corrections"]:
            by_structure.setdefault(change["structure"], []).append(change)
    structures = [{"structure": name, "cases": len(changes), "values": [c["dice"] for c in changes],
                   "dice": _summary([c["dice"] for c in changes]),
                   "hd95_mm": _summary([c["hd95_mm"] for c in changes if c["hd95_mm"] is not None]),
                   "voxels_added": sum(c["voxels_added"] for c in changes),
                   "voxels_removed": sum(c["voxels_removed"] for c in changes)}
                  for name, changes in sorted(by_structure.items())]
    return {"cases": len(drafted),
            "algorithms": _counts(f"{d['algorithm']} {d['algorithm_version']}" for d in drafted),
            "structures": structures,
            "from": "cases[].ai_draft (none of the cases started from an AI draft)" if not drafted
            else "cases[].ai_draft: algorithm, algorithm_version, corrections (Dice and HD95 between the draft and "
                 "the final round's submissions, mean per case; voxels added and removed)"}


def _counts(values: Iterable[Any]) -> dict[str, int]:
    counted = Counter(NOT_KEPT if value in (None, "") else str(value) for value in values)
    return dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "min": None, "max": None, "total": 0.0}
    return {"mean": round(statistics.fmean(values), 4), "median": round(statistics.median(values), 4),
            "min": round(min(values), 4), "max": round(max(values), 4), "total": round(sum(values), 4)}


def _number(value: Any) -> str | None:
    return None if value is None else f"{float(value):g}"


def _age_band(age: float | None) -> str | None:
    if age is None:
        return None
    return next(name for low, high, name in AGE_BANDS if low <= age < high)
