"""What a de-identification run keeps, cleans and checks: the Basic Profile's options of PS3.15 E.3."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class DatePolicy(enum.Enum):
    """Dates and times: removed (Basic Profile), kept (full dates) or shifted per patient (modified dates)."""

    REMOVE = "remove"
    KEEP = "keep"
    SHIFT = "shift"


class PixelPolicy(enum.Enum):
    """What happens to images that may carry burned-in text.

    ``REDACT`` finds text with OCR and blanks it (Clean Pixel Data option); an image at risk that
    cannot be checked is not written. ``FLAG`` writes such images unchanged and lists them.
    ``KEEP`` trusts the pixels and does not look.
    """

    REDACT = "redact"
    FLAG = "flag"
    KEEP = "keep"


@dataclass(frozen=True)
class RedactionRegion:
    """A rectangle always blanked on images of one manufacturer (and model, and size, when given).

    Coordinates are pixels, ``(x0, y0, x1, y1)`` with x along columns, end exclusive. Names match
    case-insensitively; an empty model or size matches any.
    """

    manufacturer: str
    boxes: tuple[tuple[int, int, int, int], ...]
    model: str = ""
    rows: int | None = None
    columns: int | None = None

    def matches(self, manufacturer: str, model: str, rows: int, columns: int) -> bool:
        return (self.manufacturer.casefold() == manufacturer.strip().casefold()
                and (not self.model or self.model.casefold() == model.strip().casefold())
                and self.rows in (None, rows) and self.columns in (None, columns))


@dataclass(frozen=True)
class DeidOptions:
    """The Basic Application Level Confidentiality Profile plus the options that are switched on.

    Each field is one option of PS3.15 E.3 (``dates`` covers both Retain Longitudinal Temporal
    Information options); ``pixels`` and ``regions`` drive the Clean Pixel Data option, which is
    claimed only for images whose pixels were actually checked.
    """

    retain_safe_private: bool = False
    retain_uids: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_patient_characteristics: bool = False
    dates: DatePolicy = DatePolicy.REMOVE
    clean_descriptors: bool = False
    clean_structured_content: bool = False
    clean_graphics: bool = False
    #: Clean Recognizable Visual Features (E.3.2): images that would need it are refused, see ``visual_features``.
    clean_recognizable_visual_features: bool = False
    pixels: PixelPolicy = PixelPolicy.REDACT
    ocr_all_images: bool = False
    regions: tuple[RedactionRegion, ...] = field(default_factory=tuple)

    def enabled_columns(self) -> set[str]:
        """The option columns of Table E.1-1 that apply (names as in the package's table)."""
        flags = {
            "retain_safe_private": self.retain_safe_private,
            "retain_uids": self.retain_uids,
            "retain_device_identity": self.retain_device_identity,
            "retain_institution_identity": self.retain_institution_identity,
            "retain_patient_characteristics": self.retain_patient_characteristics,
            "retain_full_dates": self.dates is DatePolicy.KEEP,
            "retain_modified_dates": self.dates is DatePolicy.SHIFT,
            "clean_descriptors": self.clean_descriptors,
            "clean_structured_content": self.clean_structured_content,
            "clean_graphics": self.clean_graphics,
        }
        return {name for name, on in flags.items() if on}

    def enabled_options(self) -> set[str]:
        """Every option switched on, for reports: the table's columns and Clean Recognizable Visual Features."""
        return self.enabled_columns() | ({"clean_recognizable_visual_features"}
                                         if self.clean_recognizable_visual_features else set())


def load_regions(path) -> tuple[RedactionRegion, ...]:
    """Configured rectangles from a JSON file.

    ``{"regions": [{"manufacturer": "ACME", "model": "X1", "rows": 480, "columns": 640,
    "boxes": [[x0, y0, x1, y1], ...]}]}``; ``model``, ``rows`` and ``columns`` are optional.
    """
    import json

    from ..errors import InputError

    try:
        entries = json.loads(open(path, encoding="utf-8").read())["regions"]
        regions = []
        for n, entry in enumerate(entries):
            boxes = tuple(tuple(int(v) for v in box) for box in entry["boxes"])
            if any(len(box) != 4 or box[2] <= box[0] or box[3] <= box[1] for box in boxes):
                raise ValueError(f"regions[{n}].boxes: each box is [x0, y0, x1, y1] with x1 > x0 and y1 > y0")
            regions.append(RedactionRegion(str(entry["manufacturer"]), boxes, str(entry.get("model", "")),
                                           entry.get("rows"), entry.get("columns")))
    except OSError as exc:
        raise InputError(f"Cannot read the regions file {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a valid regions file ({type(exc).__name__}: {exc}); "
                         'expected {"regions": [{"manufacturer": ..., "boxes": [[x0, y0, x1, y1]]}]}') from exc
    return tuple(regions)
