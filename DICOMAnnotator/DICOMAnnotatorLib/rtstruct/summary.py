"""What an RT Structure Set holds for one ROI, as both the reader and the writer report it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RoiSummary:
    """One ROI: its number and name, and how many CLOSED_PLANAR and other (POINT, open) contours it has."""

    number: int
    name: str
    closed_planar: int
    other_contours: int = 0

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "name": self.name, "contours": self.closed_planar}
