"""Patient-level splits: every case of a patient goes to the same split, so no patient is in two.

Patients (not cases) are shuffled with a seeded generator and dealt one after another to the
split furthest below its share of the cases dealt so far, so each split's share of *cases* stays
as close to its fraction as whole patients allow all along the deal. With ``stratify_by``, the
patients are dealt stratum after stratum (a patient's stratum is their answer to that protocol
question, the most frequent one over their cases): as the running shares stay balanced within
each stretch of the deal, every answer is spread over the splits in about the splits' proportions
(exactly only when a stratum has enough patients). The same cases, fractions and seed give the
same splits on every machine (Python's own generator, not the platform's).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..errors import InputError

SPLIT_NAMES = {1: ("train",), 2: ("train", "test"), 3: ("train", "validation", "test")}
UNANSWERED = "(not answered)"


def parse_fractions(text: str) -> tuple[float, ...]:
    """``0.7,0.15,0.15`` -> (0.7, 0.15, 0.15): one to three non-negative fractions that add up to 1."""
    try:
        fractions = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"--splits {text!r} is not a list of numbers such as 0.7,0.15,0.15") from None
    if not 1 <= len(fractions) <= 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise InputError(f"--splits {text!r} must be 1 to 3 fractions of at least 0 adding up to 1 "
                         "(train[,validation],test)")
    return fractions


def split_names(fractions: Sequence[float]) -> tuple[str, ...]:
    return SPLIT_NAMES[len(fractions)]


def assign_splits(entries: Sequence[dict[str, Any]], fractions: Sequence[float], *, seed: int = 0,
                  stratify_by: str | None = None) -> dict[int, str]:
    """Case -> split name, patient by patient (see the module's docstring)."""
    names = split_names(fractions)
    cases_of: dict[str, list[int]] = {}
    for entry in entries:
        cases_of.setdefault(entry["patient"], []).append(entry["case"])
    strata: dict[str, list[str]] = {}
    for patient in sorted(cases_of):
        strata.setdefault(_stratum(entries, patient, stratify_by), []).append(patient)
    generator = random.Random(seed)
    order = []
    for stratum in sorted(strata):
        patients = strata[stratum]
        generator.shuffle(patients)
        order += patients
    assigned: dict[int, str] = {}
    counts, dealt = [0] * len(names), 0
    for patient in order:
        dealt += len(cases_of[patient])
        deficits = [fraction * dealt - count for fraction, count in zip(fractions, counts, strict=True)]
        chosen = max(range(len(names)), key=lambda k: (deficits[k], -k))
        counts[chosen] += len(cases_of[patient])
        assigned.update({case: names[chosen] for case in cases_of[patient]})
    return assigned


def _stratum(entries: Sequence[dict[str, Any]], patient: str, question: str | None) -> str:
    if question is None:
        return ""
    answers = Counter(_answer(entry, question) for entry in entries if entry["patient"] == patient)
    return min(answers.items(), key=lambda item: (-item[1], item[0]))[0]


def _answer(entry: dict[str, Any], question: str) -> str:
    for name, value in entry.get("answers", {}).items():
        if name.lower() == question.lower():
            return value
    return UNANSWERED


def check_question(entries: Sequence[dict[str, Any]], question: str) -> None:
    """Refuse a ``--stratify-by`` question that no case answers (a typo would silently mean no stratification)."""
    asked = sorted({name for entry in entries for name in entry.get("answers", {})})
    if entries and not any(name.lower() == question.lower() for name in asked):
        raise InputError(f"--stratify-by {question!r}: no final case answers that question; the answers found are to "
                         + (", ".join(repr(a) for a in asked) or "no question at all (the signed results have no SR "
                            "answers)"))
