"""Coded concepts (code value, coding scheme designator, code meaning).

The core keeps its own tiny immutable type so that protocols, segment descriptions and JSON
outputs do not depend on highdicom or pydicom objects; the conversions to and from DICOM Code
Sequence items (and highdicom's CodedConcept) are the functions below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import highdicom as hd


@dataclass(frozen=True)
class Code:
    """A coded concept as in DICOM PS3.3 Code Sequence Macro."""

    value: str
    scheme: str
    meaning: str

    def __post_init__(self) -> None:
        for field_name in ("value", "scheme", "meaning"):
            if not str(getattr(self, field_name)).strip():
                raise ValueError(f"A code needs a non-empty {field_name}, found {getattr(self, field_name)!r}")

    def matches(self, other: Code) -> bool:
        """Same concept: value and scheme agree (meanings may differ in wording)."""
        return self.value == other.value and self.scheme == other.scheme

    def as_list(self) -> list[str]:
        """The CLI's JSON form: ``[code_value, coding_scheme_designator, code_meaning]``."""
        return [self.value, self.scheme, self.meaning]

    def as_dict(self) -> dict[str, str]:
        """The protocol file form."""
        return {"code_value": self.value, "coding_scheme_designator": self.scheme, "code_meaning": self.meaning}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Code:
        return cls(str(data["code_value"]), str(data["coding_scheme_designator"]), str(data["code_meaning"]))

    @classmethod
    def from_json(cls, data: Any) -> Code:
        """From either JSON form: ``[code_value, coding_scheme_designator, code_meaning]`` or the protocol object.

        Raises ValueError saying which forms are accepted.
        """
        if isinstance(data, dict) and {"code_value", "coding_scheme_designator", "code_meaning"} <= set(data):
            return cls.from_dict(data)
        if isinstance(data, (list, tuple)) and len(data) == 3 and all(isinstance(v, str) for v in data):
            return cls(*data)
        raise ValueError(f"{data!r} is not a code; give [code_value, coding_scheme_designator, code_meaning] or "
                         '{"code_value", "coding_scheme_designator", "code_meaning"}')

    @classmethod
    def from_dataset(cls, item: Any) -> Code:
        """From a pydicom Code Sequence item (CodeValue, LongCodeValue or URNCodeValue)."""
        value = (
            getattr(item, "CodeValue", None)
            or getattr(item, "LongCodeValue", None)
            or getattr(item, "URNCodeValue", None)
        )
        missing = [k for k in ("CodingSchemeDesignator", "CodeMeaning") if getattr(item, k, None) is None]
        if value is None or missing:
            lacking = ", ".join(missing or ["a code value"])
            raise InputError(f"A code item ({value or 'no code value'}) lacks {lacking}; the file is not conformant "
                             "(PS3.3 Table 8.8-1 requires code value, scheme and meaning)")
        return cls(str(value), str(item.CodingSchemeDesignator), str(item.CodeMeaning))

    def __str__(self) -> str:
        return f"({self.value}, {self.scheme}, \"{self.meaning}\")"


# The generic concept for segments that no protocol describes (also Slicer's default); protocol
# files carry the real codes.
TISSUE = Code("85756007", "SCT", "Tissue")


def to_highdicom_code(code: Code) -> hd.sr.CodedConcept:
    """Our code as a highdicom CodedConcept (usable wherever pydicom/highdicom take a Code)."""
    from highdicom.sr import CodedConcept

    return CodedConcept(code.value, code.scheme, code.meaning)


def from_dicom_code(code: Any) -> Code:
    """A pydicom ``Code``, a highdicom ``CodedConcept`` or a Code Sequence item as our code."""
    if hasattr(code, "scheme_designator") and hasattr(code, "value"):
        return Code(str(code.value), str(code.scheme_designator), str(code.meaning))
    return Code.from_dataset(code)


def code_value_keyword(value: str) -> str:
    """Where a code value goes in a Code Sequence item: CodeValue up to 16 characters, else LongCodeValue,
    or URNCodeValue for URNs and URLs (PS3.3 Table 8.8-1a)."""
    if len(value) <= 16:
        return "CodeValue"
    return "URNCodeValue" if value.startswith("urn") or "://" in value else "LongCodeValue"


def code_item(code: Code) -> Dataset:
    """One Code Sequence item (the code value where :func:`code_value_keyword` puts it)."""
    item = Dataset()
    setattr(item, code_value_keyword(code.value), code.value)
    item.CodingSchemeDesignator = code.scheme
    item.CodeMeaning = code.meaning
    return item


def property_type_item(type_: Code, modifier: Code | None) -> Dataset:
    """The code item of a segmented property type with its modifier nested in it (PS3.3 C.8.20.2), as a SEG's
    Segment Sequence and an RT ROI Observation's Identification Code Sequence both carry it."""
    item = code_item(type_)
    if modifier is not None:
        item.SegmentedPropertyTypeModifierCodeSequence = [code_item(modifier)]
    return item
