"""Cleaning free text (action C on descriptions, comments, structured content): identifiers blanked.

PS3.15 E.3.5 asks that text keep its meaning but lose what identifies. This cleaner removes, in
any case and inside longer words' boundaries, every identifying value the dataset itself holds
(names and their parts, IDs, accession numbers, addresses, dates in common spellings), plus
anything shaped like a date, a long number, an e-mail address or a telephone number. What is
left is the operator's wording ("CT chest abdomen pelvis"), which is the point of the option.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_GENERIC = re.compile(
    r"\+?\(?\b\d{1,4}\)?(?:[ -]\d{2,6}){2,}\b"  # telephone numbers written with separators
    r"|\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b"  # dates such as 01.09.2012, 2012-09-01, 9/1/12
    r"|\b\d{5,}\b"  # long numbers: IDs, MRNs, phone numbers, compact dates
    r"|\b[\w.+-]+@[\w-]+\.[\w.]+\b",  # e-mail addresses
)


def date_spellings(value: str) -> list[str]:
    """A DA value (YYYYMMDD) as people write it: 2012-09-01, 01.09.2012, 09/01/2012, ..."""
    if len(value) < 8 or not value[:8].isdigit():
        return []
    y, m, d = value[0:4], value[4:6], value[6:8]
    return [value[:8], f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{m}.{d}.{y}", f"{d}/{m}/{y}", f"{m}/{d}/{y}",
            f"{y}/{m}/{d}", f"{m}-{d}-{y}", f"{d}-{m}-{y}"]


class TextScrubber:
    """Blanks the given identifying values, and generic identifier shapes, out of free text."""

    def __init__(self, identifiers: Iterable[str]) -> None:
        words: set[str] = set()
        for value in identifiers:
            value = value.strip()
            if len(value) < 2:
                continue
            words.add(value)
            words.update(part for part in re.split(r"[\^\s,]+", value) if len(part) >= 2)
        ordered = sorted(words, key=len, reverse=True)
        self._pattern = (re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in ordered), re.IGNORECASE)
                         if ordered else None)

    def scrub(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _GENERIC.sub(MASK, text)
