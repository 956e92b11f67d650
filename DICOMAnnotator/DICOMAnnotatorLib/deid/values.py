"""Replacement values consistent with each VR: empty (action Z) and dummy (action D)."""

from __future__ import annotations

from typing import Any

#: Non-zero length dummies that carry no information, by VR (PS3.5 Table 6.2-1 limits respected).
DUMMY_TEXT = {
    "AE": "ANONYMOUS",
    "AS": "000D",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "DS": "0",
    "IS": "0",
    "LO": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "PN": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UR": "urn:x-anonymized",
}
NUMERIC_VRS = frozenset({"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV", "US or SS"})
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "OB or OW", "US or OW", "US or SS or OW"})
#: Textual VRs an operator can type free text into (PS3.15 E.3.5 note 3).
FREE_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UC", "UT", "AE"})


def dummy_value(vr: str) -> Any:
    """The dummy value for action D (UIDs are mapped, sequences handled by the caller)."""
    if vr in DUMMY_TEXT:
        return DUMMY_TEXT[vr]
    if vr in NUMERIC_VRS:
        return 0
    if vr in BINARY_VRS:
        return b"\0\0"
    if vr == "AT":
        return 0
    raise ValueError(f"No dummy value for VR {vr}")


def empty_value(vr: str) -> Any:
    """The zero-length value for action Z."""
    return [] if vr == "SQ" else None
