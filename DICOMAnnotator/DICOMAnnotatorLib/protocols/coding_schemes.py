"""Which coding schemes a protocol may use, and what a well-formed code value looks like.

A protocol's codes end up in DICOM SEG and SR files, where a wrong coding scheme designator
or a mistyped SNOMED CT identifier silently breaks every downstream query ("find all liver
segments"). So the designators are checked against DICOM PS3.16's list and SNOMED CT
identifiers against their own check digit, and the messages say what to write instead.
"""

from __future__ import annotations

import re

#: Coding scheme designators of DICOM PS3.16 Section 8 that protocols are expected to use.
KNOWN_SCHEMES: frozenset[str] = frozenset({
    "SCT",  # SNOMED CT
    "DCM",  # DICOM Controlled Terminology (PS3.16 Annex D)
    "LN",  # LOINC
    "UCUM",  # units
    "FMA",  # Foundational Model of Anatomy
    "RADLEX",
    "NCIt",  # NCI Thesaurus
    "UMLS",
    "BI",  # ACR BI-RADS
    "MDC",  # ISO/IEEE 11073 Medical Device Communications
    "BARI",
    "ACR",
    "I10",  # ICD-10
    "NEU",
    "IBSI",
    "RXNORM",
    "MSH",  # MeSH
    "PUBCHEM_CID",
    "ITIS_TSN",
    "NDC",
})

#: Spellings seen in the wild, with the designator DICOM uses for them.
_ALIASES: dict[str, str] = {
    "SNOMED": "SCT",
    "SNOMED-CT": "SCT",
    "SNOMED CT": "SCT",
    "SNOMED_CT": "SCT",
    "SNOMEDCT": "SCT",
    "SNM": "SCT",
    "SNM3": "SCT",
    "LOINC": "LN",
    "DICOM": "DCM",
    "NCI": "NCIt",
    "ICD10": "I10",
    "ICD-10": "I10",
}

#: DICOM reserves designators starting with "99" for local (private) coding schemes.
_LOCAL_SCHEME = re.compile(r"^99[A-Za-z0-9_]+$")


def scheme_problem(designator: str) -> str | None:
    """Why ``designator`` is not acceptable, or None when it is."""
    if designator in KNOWN_SCHEMES or _LOCAL_SCHEME.match(designator):
        return None
    if designator.upper() == "SRT":
        return ("coding scheme 'SRT' (SNOMED RT) is retired in DICOM; use 'SCT' with the SNOMED CT concept id "
                "(e.g. 'T-62000' is SCT '10200004')")
    suggestion = _ALIASES.get(designator.upper()) or next(
        (known for known in KNOWN_SCHEMES if known.upper() == designator.upper()), None)
    if suggestion:
        return f"unknown coding scheme '{designator}'; use '{suggestion}'"
    return (f"unknown coding scheme '{designator}'; use one of {', '.join(sorted(KNOWN_SCHEMES))} "
            "or a local scheme starting with '99'")


# Verhoeff's dihedral-group tables, as in the SNOMED CT Technical Implementation Guide.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """True when the last digit of ``digits`` is the Verhoeff check digit of the others."""
    check = 0
    for position, digit in enumerate(reversed(digits)):
        check = _D[check][_P[position % 8][int(digit)]]
    return check == 0


def sctid_problem(value: str) -> str | None:
    """Why ``value`` cannot be a SNOMED CT concept identifier, or None when it can.

    A concept id has 6 to 18 digits, no leading zero, partition identifier 00 or 10 (the
    second and third digits from the right) and a Verhoeff check digit, so most typos
    (a dropped, doubled or swapped digit) are caught here.
    """
    if not re.fullmatch(r"[1-9][0-9]{5,17}", value):
        return f"'{value}' is not a SNOMED CT concept id (6 to 18 digits, no leading zero)"
    if value[-3:-1] not in ("00", "10"):
        return f"'{value}' is not a SNOMED CT concept id (its partition digits '{value[-3:-1]}' are not 00 or 10)"
    if not verhoeff_valid(value):
        return f"'{value}' is not a valid SNOMED CT concept id (wrong check digit: a digit is mistyped)"
    return None
