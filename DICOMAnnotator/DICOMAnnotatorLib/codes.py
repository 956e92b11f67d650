"""Coded concepts (code value, coding scheme designator, code meaning).

The core keeps its own tiny immutable type so that protocols, segment descriptions and JSON
outputs do not depend on highdicom or pydicom objects; conversions live at the boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
        return cls(str(value), str(item.CodingSchemeDesignator), str(item.CodeMeaning))

    def __str__(self) -> str:
        return f"({self.value}, {self.scheme}, \"{self.meaning}\")"


# The generic concept for segments that no protocol describes (also Slicer's default); protocol
# files carry the real codes.
TISSUE = Code("85756007", "SCT", "Tissue")
