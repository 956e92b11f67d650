"""Slicer terminology contexts from a protocol, and a reader for them.

Slicer's terminology selector lists codes from *contexts*: JSON files in the format of
Slicer's ``Modules/Loadable/Terminologies/Resources/*.json``, defined by dcmqi's
``segment-context-schema.json`` (category -> type -> optional type modifiers, with
recommended colours and labels) and ``anatomic-context-schema.json`` (anatomic regions ->
optional modifiers). Loading a protocol's contexts makes exactly its codes selectable.

Slicer finds a type by its codes, so structures that share category, type and modifier but
differ in anatomic region (e.g. "Hemorrhage" in several compartments) share one type entry;
their regions go to the anatomic context. Colours and labels are written where one entry
stands for one structure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..dicom import Code
from ..errors import InputError
from .model import Color, Protocol, StructureTemplate

#: The ``@schema`` values Slicer's vtkSlicerTerminologiesModuleLogic accepts; the first is the
#: one Slicer's own resource files carry, so older Slicer versions read what we write.
SEGMENT_CONTEXT_SCHEMAS = (
    "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/segment-context-schema.json#",
    "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/schemas/segment-context-schema.json#",
)
ANATOMIC_CONTEXT_SCHEMAS = (
    "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/anatomic-context-schema.json#",
    "https://raw.githubusercontent.com/qiicr/dcmqi/master/doc/schemas/anatomic-context-schema.json#",
)


def terminology_context_name(protocol: Protocol) -> str:
    """The name Slicer shows for the protocol's segmentation context."""
    return f"DICOMAnnotator - {protocol.title} ({protocol.id} {protocol.version})"


def anatomic_context_name(protocol: Protocol) -> str:
    """The name Slicer shows for the protocol's anatomic region context."""
    return f"DICOMAnnotator regions - {protocol.title} ({protocol.id} {protocol.version})"


# ---------------------------------------------------------------------- writing
def to_slicer_terminology(protocol: Protocol) -> dict[str, Any]:
    """The protocol's segmentation category/type context (classification structures excluded)."""
    structures = [s for s in protocol.structures if s.category is not None]
    categories: dict[tuple[str, str], dict[str, Any]] = {}
    type_users: dict[tuple[Any, ...], list[StructureTemplate]] = {}
    modifier_users: dict[tuple[Any, ...], list[StructureTemplate]] = {}
    for s in structures:
        type_key = (_key(s.category), _key(s.type))
        bucket = modifier_users if s.type_modifier else type_users
        bucket.setdefault((*type_key, _key(s.type_modifier)), []).append(s)
    types: dict[tuple[Any, ...], dict[str, Any]] = {}
    for s in structures:
        category = categories.setdefault(_key(s.category), {**_code(s.category), "showAnatomy": False, "Type": []})
        category["showAnatomy"] = category["showAnatomy"] or s.anatomic_region is not None
        type_key = (_key(s.category), _key(s.type))
        entry = types.get(type_key)
        if entry is None:
            entry = types[type_key] = _code(s.type)
            bare = type_users.get((*type_key, None), [])
            _describe_entry(entry, bare or [s], unique=len(bare) == 1)
            category["Type"].append(entry)
        if s.type_modifier is not None:
            modifiers = entry.setdefault("Modifier", [])
            if not any(_key_of(m) == _key(s.type_modifier) for m in modifiers):
                users = modifier_users[(*type_key, _key(s.type_modifier))]
                modifier = _code(s.type_modifier)
                _describe_entry(modifier, users, unique=len(users) == 1)
                modifiers.append(modifier)
    return {
        "SegmentationCategoryTypeContextName": terminology_context_name(protocol),
        "@schema": SEGMENT_CONTEXT_SCHEMAS[0],
        "SegmentationCodes": {"Category": list(categories.values())},
    }


def to_slicer_anatomic_context(protocol: Protocol) -> dict[str, Any]:
    """The anatomic regions (with modifiers) the protocol's structures use."""
    regions: dict[tuple[str, str], dict[str, Any]] = {}
    for s in protocol.structures:
        if s.anatomic_region is None:
            continue
        region = regions.setdefault(_key(s.anatomic_region), _code(s.anatomic_region))
        if s.anatomic_region_modifier is not None:
            modifiers = region.setdefault("Modifier", [])
            if not any(_key_of(m) == _key(s.anatomic_region_modifier) for m in modifiers):
                modifiers.append(_code(s.anatomic_region_modifier))
    return {
        "AnatomicContextName": anatomic_context_name(protocol),
        "@schema": ANATOMIC_CONTEXT_SCHEMAS[0],
        "AnatomicCodes": {"AnatomicRegion": list(regions.values())},
    }


def write_slicer_terminology(protocol: Protocol, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write the segmentation context JSON atomically (refuses an existing file unless ``force``)."""
    return _write_json(to_slicer_terminology(protocol), path, force)


def write_slicer_anatomic_context(protocol: Protocol, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write the anatomic region context JSON atomically."""
    return _write_json(to_slicer_anatomic_context(protocol), path, force)


def _write_json(data: dict[str, Any], path: str | os.PathLike[str], force: bool) -> Path:
    with atomic_path(path, force=force) as temporary:
        temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def _describe_entry(entry: dict[str, Any], users: list[StructureTemplate], *, unique: bool) -> None:
    """Colour of the first structure; label and label-map value only when the entry is one structure's."""
    entry["recommendedDisplayRGBValue"] = list(users[0].display_color)
    if unique:
        entry["3dSlicerLabel"] = users[0].label
        if users[0].label_value is not None:
            entry["3dSlicerIntegerLabel"] = users[0].label_value


def _code(code: Code) -> dict[str, Any]:
    return {"CodeMeaning": code.meaning, "CodingSchemeDesignator": code.scheme, "CodeValue": code.value}


def _key(code: Code | None) -> tuple[str, str] | None:
    return (code.scheme, code.value) if code is not None else None


def _key_of(item: Mapping[str, Any]) -> tuple[str, str]:
    return item["CodingSchemeDesignator"], item["CodeValue"]


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True)
class TerminologyEntry:
    """One selectable item of a segmentation context: category, type and optional modifier."""

    category: Code
    type: Code
    type_modifier: Code | None = None
    color: Color | None = None
    label: str | None = None
    label_value: int | None = None
    show_anatomy: bool = True


@dataclass(frozen=True)
class TerminologyContext:
    """A segmentation category/type context as Slicer reads it."""

    name: str
    entries: tuple[TerminologyEntry, ...]

    def find(self, category: Code, type: Code, type_modifier: Code | None = None) -> TerminologyEntry | None:
        """The entry with these codes (matched by value and scheme), or None."""
        for entry in self.entries:
            if (entry.category.matches(category) and entry.type.matches(type)
                    and _same_optional(entry.type_modifier, type_modifier)):
                return entry
        return None


@dataclass(frozen=True)
class AnatomicEntry:
    """One selectable anatomic region, with an optional modifier."""

    region: Code
    modifier: Code | None = None


@dataclass(frozen=True)
class AnatomicContext:
    """An anatomic region context as Slicer reads it."""

    name: str
    entries: tuple[AnatomicEntry, ...]


def read_slicer_terminology(source: str | os.PathLike[str] | Mapping[str, Any]) -> TerminologyContext:
    """Read a segmentation context (file or parsed JSON) the way Slicer does.

    Each type yields an entry without modifier, plus one per modifier. Raises
    :class:`InputError` naming every missing mandatory member by its JSON path.
    """
    data, where = _load(source)
    problems: list[str] = []
    name = _context_header(data, SEGMENT_CONTEXT_SCHEMAS, "SegmentationCategoryTypeContextName", problems)
    categories = data.get("SegmentationCodes", {}).get("Category") if isinstance(
        data.get("SegmentationCodes"), dict) else None
    if not isinstance(categories, list):
        problems.append("SegmentationCodes.Category: missing (a list of categories)")
        categories = []
    entries: list[TerminologyEntry] = []
    for i, category_item in enumerate(categories):
        at = f"SegmentationCodes.Category[{i}]"
        category = _read_code(category_item, at, problems)
        show_anatomy = _read_bool(category_item.get("showAnatomy", True)) if isinstance(category_item, dict) else True
        type_items = category_item.get("Type") if isinstance(category_item, dict) else None
        if not isinstance(type_items, list):
            problems.append(f"{at}.Type: missing (a list of types)")
            continue
        for j, type_item in enumerate(type_items):
            type_at = f"{at}.Type[{j}]"
            type_code = _read_code(type_item, type_at, problems)
            if category is None or type_code is None:
                continue
            entries.append(TerminologyEntry(category, type_code, None, *_extras(type_item), show_anatomy))
            for k, modifier_item in enumerate(type_item.get("Modifier", [])):
                modifier = _read_code(modifier_item, f"{type_at}.Modifier[{k}]", problems)
                if modifier is not None:
                    entries.append(TerminologyEntry(category, type_code, modifier, *_extras(modifier_item),
                                                    show_anatomy))
    if problems:
        raise InputError(f"{where} is not a Slicer terminology context: " + "; ".join(problems))
    return TerminologyContext(name, tuple(entries))


def read_slicer_anatomic_context(source: str | os.PathLike[str] | Mapping[str, Any]) -> AnatomicContext:
    """Read an anatomic region context (file or parsed JSON) the way Slicer does."""
    data, where = _load(source)
    problems: list[str] = []
    name = _context_header(data, ANATOMIC_CONTEXT_SCHEMAS, "AnatomicContextName", problems)
    codes = data.get("AnatomicCodes")
    regions = codes.get("AnatomicRegion") if isinstance(codes, dict) else None
    if not isinstance(regions, list):
        problems.append("AnatomicCodes.AnatomicRegion: missing (a list of regions)")
        regions = []
    entries: list[AnatomicEntry] = []
    for i, item in enumerate(regions):
        region = _read_code(item, f"AnatomicCodes.AnatomicRegion[{i}]", problems)
        if region is None:
            continue
        entries.append(AnatomicEntry(region))
        for k, modifier_item in enumerate(item.get("Modifier", [])):
            modifier = _read_code(modifier_item, f"AnatomicCodes.AnatomicRegion[{i}].Modifier[{k}]", problems)
            if modifier is not None:
                entries.append(AnatomicEntry(region, modifier))
    if problems:
        raise InputError(f"{where} is not a Slicer anatomic context: " + "; ".join(problems))
    return AnatomicContext(name, tuple(entries))


def _load(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(source, Mapping):
        return dict(source), "the terminology data"
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"Terminology file {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read terminology file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a Slicer terminology file: its top level is not a JSON object")
    return data, str(path)


def _read_code(item: Any, at: str, problems: list[str]) -> Code | None:
    if not isinstance(item, dict):
        problems.append(f"{at}: must be an object, found {type(item).__name__}")
        return None
    missing = [k for k in ("CodeValue", "CodingSchemeDesignator", "CodeMeaning")
               if not isinstance(item.get(k), str) or not item.get(k).strip()]
    if missing:
        problems.append(f"{at}: missing {', '.join(missing)} (mandatory for Slicer)")
        return None
    return Code(item["CodeValue"], item["CodingSchemeDesignator"], item["CodeMeaning"])


def _extras(item: Mapping[str, Any]) -> tuple[Color | None, str | None, int | None]:
    rgb = item.get("recommendedDisplayRGBValue")
    color = None
    if isinstance(rgb, list) and len(rgb) == 3:
        try:  # Slicer accepts integers or numeric strings
            color = (int(rgb[0]), int(rgb[1]), int(rgb[2]))
        except (TypeError, ValueError):
            color = None
    value = item.get("3dSlicerIntegerLabel")
    return color, item.get("3dSlicerLabel"), value if isinstance(value, int) else None


def _read_bool(value: Any) -> bool:
    if isinstance(value, str):  # Slicer reads "true"/"false" strings too
        return value.strip().lower() == "true"
    return bool(value)


def _same_optional(a: Code | None, b: Code | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a.matches(b))


def _context_header(data: Mapping[str, Any], schemas: Sequence[str], name_key: str, problems: list[str]) -> Any:
    """Check a context file's ``@schema`` and name (Slicer identifies a context by both); return the name."""
    if data.get("@schema") not in schemas:
        problems.append(f"@schema: must be one of {', '.join(schemas)}, found {data.get('@schema')!r}")
    name = data.get(name_key)
    if not isinstance(name, str):
        problems.append(f"{name_key}: missing (Slicer names the context by it)")
    return name
