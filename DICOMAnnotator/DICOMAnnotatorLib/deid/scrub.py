"""Cleaning free text (action C on descriptions, comments, structured content): identifiers blanked.

PS3.15 E.3.5 asks that text keep its meaning but lose what identifies. This cleaner removes, in
any case and inside longer words' boundaries, every identifying value the dataset itself holds
(names and their parts, IDs, accession numbers, addresses, dates in common spellings), plus
anything shaped like a date, a long number, an e-mail address or a telephone number. Dates are
every element of a date (E.3.6 keeps none of them): day-month-year in digits or with a month
name, and month-year or day-month alone ("PARENCHYMAL PHASE Sep1999", "23 Sep", "09/1999").
What is left is the operator's wording ("CT chest abdomen pelvis") and its technical numbers:
a software version ("LORAD IP 4.9.0"), a decimal ("compression ratio 0.084906") or a processing
code ("G1.2e#1.60-0.10") is not an identifier, so a number is masked only when it has the shape
of one (a valid date, a telephone number, a free-standing number of five or more digits).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_MONTH = (r"(?<![A-Za-z])(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![A-Za-z])")
_DAY = r"(?<!\d)(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:'?\d{2}(?![\d:])|(?:1[89]|20)\d{2}(?!\d))"
_SEP = r"[ ,./-]{0,3}"
_GENERIC = re.compile(
    rf"""
      {_DAY}{_SEP}{_MONTH}(?:{_SEP}{_YEAR})?                                 # 23 Sep, 23 Sep 1999, 23SEP99
    | {_MONTH}{_SEP}(?:{_DAY}(?![\d:])(?:{_SEP}{_YEAR})?|{_YEAR})             # Sep 23, Sep 23, 1999, Sep1999
    | (?<!\d)(?:1[89]|20)\d{{2}}{_SEP}{_MONTH}(?:{_SEP}{_DAY}(?!\d))?       # 1999 Sep 23, 1999Sep
    | (?P<numeric>(?<![\w.])\d{{1,4}}([./-])\d{{1,4}}(?:\2\d{{1,4}})?(?![\w]|\.\d))  # 01.09.2012, 9/1/12, 09/1999
    | (?P<phone>\+?\(?(?<![\w.])\d{{1,4}}\)?(?:[ -]\d{{2,6}}){{2,}}(?![\w]|\.\d))    # +44 1234 567890
    | (?<![\w.])\d{{5,}}(?![\w]|\.\d)                                        # IDs, MRNs, compact dates
    | \b[\w.+-]+@[\w-]+\.[\w.]+\b                                            # e-mail addresses
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _is_date(text: str) -> bool:
    """Whether digits separated by '.', '/' or '-' form a calendar date or month-year (not a version)."""
    parts = re.split(r"[./-]", text)
    numbers = [int(p) for p in parts]
    if len(parts) == 2:  # month-year: 09/1999, 1999-09 ("2019.1" is a version)
        if "." in text:
            return False
        month, year = (numbers[0], parts[1]) if len(parts[1]) == 4 else (numbers[1], parts[0])
        return len(year) == 4 and 1800 <= int(year) <= 2099 and 1 <= month <= 12
    if len(parts[0]) == 4:  # year first: 2012-09-01, 2012.09.01
        return 1800 <= numbers[0] <= 2099 and 1 <= numbers[1] <= 12 and 1 <= numbers[2] <= 31
    if len(parts[2]) not in (2, 4) or (len(parts[2]) == 2 and "." in text):
        return False  # "4.9.0", "1.60.10": a version; a dotted date writes its year in full
    if len(parts[2]) == 4 and not 1800 <= numbers[2] <= 2099:
        return False
    first, second = numbers[0], numbers[1]
    return 1 <= first <= 31 and 1 <= second <= 31 and min(first, second) <= 12


def _mask(match: re.Match) -> str:
    text = match.group(0)
    if match.group("numeric") is not None and not _is_date(text):
        return text
    if match.group("phone") is not None and len(re.findall(r"\d", text)) < 7:
        return text
    return MASK


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
        return _GENERIC.sub(_mask, text)
