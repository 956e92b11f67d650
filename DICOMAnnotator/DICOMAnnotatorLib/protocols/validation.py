"""Protocol validation that reports every problem at once, each with its JSON path.

Two layers: the package's JSON Schema (shape, types, ranges: what editors can check as
you type) and semantic rules that span fields (unique labels, label values and codes,
coding schemes, kind-specific fields, references between structures). A project lead fixing
a protocol should see the whole list in one run, e.g.::

    structures[3].type.coding_scheme_designator: unknown coding scheme 'SNOMED'; use 'SCT'
    structures[4].label_value: 2 is also the label_value of structures[1] ('Liver'); ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import RESOURCES
from .coding_schemes import scheme_problem, sctid_problem

SCHEMA_PATH = RESOURCES / "protocol.schema.json"

#: Fields of a structure that hold one code.
CODE_FIELDS = ("category", "type", "type_modifier", "anatomic_region", "anatomic_region_modifier")
#: Characters a code or label may not hold: Slicer's terminology-entry separators and DICOM's
#: value delimiter (a backslash splits a DICOM string into several values).
_RESERVED = ("~", "^", "|", "\\")
_SEGMENT_KINDS = ("volume", "contour")
_KINDS = ("volume", "contour", "box", "landmark", "classification")
_CT_PRESET_NAMES = ("lung", "mediastinum", "bone", "brain", "subdural", "abdomen", "liver")
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Problem:
    """One problem: where (a JSON path such as ``structures[2].type.code_value``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def json_path(parts: Sequence[str | int]) -> str:
    """``["structures", 2, "type"]`` -> ``structures[2].type``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def validate_protocol_data(data: Any, *, base_dir: Path | None = None) -> list[Problem]:
    """Every problem of a parsed protocol file (empty when it is valid).

    ``base_dir`` (the protocol file's folder) enables checking that reference images exist.
    """
    problems = schema_problems(data)
    if isinstance(data, dict):
        problems.extend(semantic_problems(data, base_dir=base_dir))
    unique: dict[str, Problem] = {}
    for problem in problems:
        unique.setdefault(str(problem), problem)
    return sorted(unique.values(), key=lambda p: _INDEX.sub(lambda m: f"[{int(m.group(1)):06d}]", p.path))


# ---------------------------------------------------------------------- schema layer
@lru_cache(maxsize=1)
def protocol_schema() -> dict[str, Any]:
    """The package's JSON Schema (draft 2020-12) for protocol files."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    schema = protocol_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_problems(data: Any) -> list[Problem]:
    """Problems found by the JSON Schema, with messages that state the rule and the value found."""
    problems: list[Problem] = []
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    for error in errors:
        problems.extend(_describe(error))
    return problems


def _describe(error: Any) -> Iterator[Problem]:
    path = list(error.absolute_path)
    keyword, rule, instance, schema = error.validator, error.validator_value, error.instance, error.schema
    custom = schema.get("x-error") if isinstance(schema, dict) else None
    if custom and keyword in ("pattern", "anyOf", "oneOf", "enum", "type"):
        yield Problem(json_path(path), custom.format(instance=instance))
    elif keyword == "required":
        for name in rule:
            if isinstance(instance, dict) and name not in instance and name in error.message:
                yield Problem(json_path([*path, name]), "missing (required field)")
    elif keyword == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for name in sorted(set(instance) - set(allowed)):
            yield Problem(json_path([*path, name]), f"unknown field; allowed fields are {', '.join(allowed)}")
    elif keyword == "type":
        expected = rule if isinstance(rule, str) else " or ".join(rule)
        yield Problem(json_path(path), f"must be {_article(expected)} {expected}, found {_describe_value(instance)}")
    elif keyword == "enum":
        yield Problem(json_path(path), f"must be one of {', '.join(map(repr, rule))}; found {instance!r}")
    elif keyword == "minimum":
        yield Problem(json_path(path), f"must be at least {rule}, found {instance}")
    elif keyword == "maximum":
        yield Problem(json_path(path), f"must be at most {rule}, found {instance}")
    elif keyword == "exclusiveMinimum":
        yield Problem(json_path(path), f"must be greater than {rule}, found {instance}")
    elif keyword == "minLength":
        yield Problem(json_path(path), "must not be empty" if rule == 1 else f"needs at least {rule} characters")
    elif keyword == "maxLength":
        yield Problem(json_path(path), f"must be at most {rule} characters (a DICOM limit), found {len(instance)}")
    elif keyword == "minItems":
        yield Problem(json_path(path), f"needs at least {rule} item(s), found {len(instance)}")
    elif keyword == "maxItems":
        yield Problem(json_path(path), f"must have at most {rule} items, found {len(instance)}")
    else:
        yield Problem(json_path(path), error.message)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _describe_value(value: Any) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null", int: "integer",
             float: "number"}
    text = json.dumps(value)
    return f"{kinds.get(type(value), type(value).__name__)} {text if len(text) <= 60 else text[:57] + '...'}"


# ---------------------------------------------------------------------- semantic layer
def semantic_problems(data: dict[str, Any], *, base_dir: Path | None = None) -> list[Problem]:
    """Rules across fields; tolerant of shape errors (those are the schema layer's to report)."""
    problems: list[Problem] = []
    structures = [s if isinstance(s, dict) else {} for s in _list(data.get("structures"))]
    problems += _code_problems(data, structures)
    problems += _label_problems(structures)
    problems += _label_value_problems(structures)
    problems += _identity_problems(structures)
    problems += _kind_problems(structures)
    problems += _count_problems(structures)
    problems += _window_problems(data)
    problems += _modality_settings_problems(data)
    problems += _ejection_fraction_problems(data, structures)
    problems += _unique_names(_list(data.get("review_tiers")), "review_tiers", "review tier")
    problems += _image_problems(data, base_dir)
    return problems


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_code(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(k), str) and value.get(k).strip()
        for k in ("code_value", "coding_scheme_designator", "code_meaning"))


def _key(code: Any) -> tuple[str, str] | None:
    return (code["coding_scheme_designator"], code["code_value"]) if _is_code(code) else None


def _codes(data: dict[str, Any], structures: list[dict[str, Any]]) -> Iterator[tuple[list[str | int], dict[str, Any]]]:
    for i, structure in enumerate(structures):
        for name in CODE_FIELDS:
            if _is_code(structure.get(name)):
                yield ["structures", i, name], structure[name]
        for j, value in enumerate(_list(structure.get("values"))):
            if _is_code(value):
                yield ["structures", i, "values", j], value
    for i, view in enumerate(_list(data.get("views"))):
        for name in ("view", "laterality"):
            if isinstance(view, dict) and _is_code(view.get(name)):
                yield ["views", i, name], view[name]


def _code_problems(data: dict[str, Any], structures: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    meanings: dict[tuple[str, str], tuple[str, str]] = {}
    for path, code in _codes(data, structures):
        scheme, value, meaning = code["coding_scheme_designator"], code["code_value"], code["code_meaning"]
        issue = scheme_problem(scheme)
        if issue:
            problems.append(Problem(json_path([*path, "coding_scheme_designator"]), issue))
        elif scheme == "SCT":
            issue = sctid_problem(value)
            if issue:
                problems.append(Problem(json_path([*path, "code_value"]), issue))
        for name, text in (("code_value", value), ("coding_scheme_designator", scheme), ("code_meaning", meaning)):
            if any(c in text for c in _RESERVED) or text != text.strip():
                problems.append(Problem(json_path([*path, name]), (
                    f"must not hold {' '.join(_RESERVED)} (Slicer terminology and DICOM separators) or leading or "
                    f"trailing spaces, found {text!r}")))
        seen = meanings.setdefault((scheme, value), (meaning, json_path(path)))
        if seen[0] != meaning:
            problems.append(Problem(json_path([*path, "code_meaning"]), (
                f"code ({scheme}, {value}) means {seen[0]!r} at {seen[1]}; one code has one meaning, "
                f"found {meaning!r}")))
    return problems


def _label_problems(structures: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, structure in enumerate(structures):
        label = structure.get("label")
        if not isinstance(label, str) or not label.strip():
            continue
        if any(c in label for c in _RESERVED) or label != label.strip():
            problems.append(Problem(f"structures[{i}].label", (
                f"must not hold {' '.join(_RESERVED)} or leading or trailing spaces, found {label!r}")))
        first = seen.setdefault(label.strip().casefold(), i)
        if first != i:
            problems.append(Problem(f"structures[{i}].label", (
                f"duplicate label {label!r} (also structures[{first}]); labels name segments and files, so each "
                "must differ (ignoring case)")))
    return problems


def _label_value_problems(structures: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[int, int] = {}
    for i, structure in enumerate(structures):
        kind, value = structure.get("kind"), structure.get("label_value")
        if kind not in _KINDS:
            continue
        if kind in _SEGMENT_KINDS and "label_value" not in structure:
            problems.append(Problem(f"structures[{i}].label_value", (
                f"missing: a {kind} structure needs a label_value, its value in label-map files (1 to 65535)")))
        elif kind not in _SEGMENT_KINDS and "label_value" in structure:
            problems.append(Problem(f"structures[{i}].label_value", (
                f"only volume and contour structures have a label_value; this {kind} structure has {value!r}")))
        if isinstance(value, int) and not isinstance(value, bool) and kind in _SEGMENT_KINDS:
            first = seen.setdefault(value, i)
            if first != i:
                problems.append(Problem(f"structures[{i}].label_value", (
                    f"{value} is also the label_value of structures[{first}] "
                    f"({structures[first].get('label')!r}); each label value names one structure")))
    return problems


def _identity_problems(structures: list[dict[str, Any]]) -> list[Problem]:
    """Structures are matched by their codes (consensus, SEG import): no two may share all of them."""
    problems: list[Problem] = []
    seen: dict[tuple[Any, ...], int] = {}
    for i, structure in enumerate(structures):
        if not _is_code(structure.get("type")):
            continue
        identity = tuple(_key(structure.get(name)) for name in CODE_FIELDS)
        first = seen.setdefault(identity, i)
        if first != i:
            problems.append(Problem(f"structures[{i}].type", (
                f"same codes as structures[{first}] ({structures[first].get('label')!r}): category, type, type "
                "modifier and anatomic region (with modifier) together must differ, because structures are "
                "matched by their codes")))
    return problems


def _kind_problems(structures: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    labels = {s.get("label"): s.get("kind") for s in structures if isinstance(s.get("label"), str)}
    for i, structure in enumerate(structures):
        kind = structure.get("kind")
        where = f"structures[{i}]"
        if kind not in _KINDS:
            continue
        if kind != "classification":
            if "category" not in structure:
                problems.append(Problem(f"{where}.category", (
                    f"missing: a {kind} structure needs a category (DICOM CID 7150, e.g. Anatomical Structure)")))
            for name in ("values", "applies_to"):
                if name in structure:
                    problems.append(Problem(f"{where}.{name}", f"only classification structures have {name}; "
                                            f"this is a {kind} structure"))
            continue
        values = _list(structure.get("values"))
        if "values" not in structure:
            problems.append(Problem(f"{where}.values", "missing: a classification needs its allowed values (codes)"))
        firsts: dict[tuple[str, str], int] = {}
        for j, value in enumerate(values):
            key = _key(value)
            if key is not None and firsts.setdefault(key, j) != j:
                problems.append(Problem(f"{where}.values[{j}]", (
                    f"duplicate value ({key[0]}, {key[1]}) (also values[{firsts[key]}])")))
        applies_to = structure.get("applies_to")
        targets = [applies_to] if isinstance(applies_to, str) else _list(applies_to)
        for j, target in enumerate(targets):
            at = f"{where}.applies_to" + (f"[{j}]" if isinstance(applies_to, list) else "")
            if not isinstance(target, str):
                continue
            if target not in labels:
                problems.append(Problem(at, f"no structure is labelled {target!r}; labels are "
                                        + ", ".join(repr(label) for label in labels)))
            elif labels[target] == "classification":
                problems.append(Problem(at, f"{target!r} is a classification; classifications apply to volume, "
                                        "contour, box or landmark structures"))
    return problems


def _count_problems(structures: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    for i, structure in enumerate(structures):
        count, required = structure.get("expected_count"), structure.get("required", False)
        if isinstance(count, bool) or not isinstance(count, (int, dict)) or not isinstance(required, bool):
            continue
        low = count if isinstance(count, int) else count.get("min", 1 if required else 0)
        high = count if isinstance(count, int) else count.get("max")
        if not isinstance(low, int) or not (high is None or isinstance(high, int)):
            continue
        where = f"structures[{i}].expected_count"
        if structure.get("kind") == "classification":
            problems.append(Problem(where, (
                "does not apply to a classification, which takes one value per target (use \"required\")")))
        elif high is not None and low > high:
            problems.append(Problem(where, f"min {low} is greater than max {high}"))
        elif required and low < 1:
            problems.append(Problem(where, f"a required structure needs a minimum count of at least 1, found {low}"))
        elif not required and low >= 1:
            problems.append(Problem(where, (
                f"a minimum count of {low} makes the structure required; set \"required\": true or a minimum of 0")))
    return problems


def _window_problems(data: dict[str, Any], where: str = "window_presets", modality: Any = None) -> list[Problem]:
    """Unique names, and built-in CT presets on CT only (``modality``: the protocol's unless given)."""
    presets = _list(data.get("window_presets"))
    problems = _unique_names([{"name": p} if isinstance(p, str) else p for p in presets], where, "window preset")
    modality = data.get("modality") if modality is None else modality
    for i, preset in enumerate(presets):
        if isinstance(preset, str) and preset in _CT_PRESET_NAMES and isinstance(modality, str) and modality != "CT":
            problems.append(Problem(f"{where}[{i}]", (
                f"{preset!r} is a built-in CT preset (Hounsfield units) but the modality is {modality!r}; "
                "give {\"name\", \"center\", \"width\"} in this modality's units")))
    return problems


def _modality_settings_problems(data: dict[str, Any]) -> list[Problem]:
    """Per modality: its window presets as above, none on colour images (RGB values are shown as stored; a window
    would grey them), SUV thresholds on PET only."""
    settings = data.get("modality_settings")
    problems: list[Problem] = []
    for modality, entry in (settings.items() if isinstance(settings, dict) else ()):
        if not isinstance(entry, dict):
            continue
        where = f"modality_settings.{modality}"
        problems += _window_problems(entry, f"{where}.window_presets", modality)
        if entry.get("color") is True and _list(entry.get("window_presets")):
            problems.append(Problem(f"{where}.window_presets", (
                f"{modality} images are colour (\"color\": true): they are shown as stored and no window applies; "
                "remove the presets or the colour flag")))
        thresholds = _list(entry.get("suv_thresholds"))
        if thresholds and modality != "PT":
            problems.append(Problem(f"{where}.suv_thresholds", (
                f"SUV thresholds are for PET (PT) images, not {modality}; move them under modality_settings.PT")))
        problems += _unique_names(thresholds, f"{where}.suv_thresholds", "SUV threshold")
    return problems


def _ejection_fraction_problems(data: dict[str, Any], structures: list[dict[str, Any]]) -> list[Problem]:
    """The end-diastolic and end-systolic structures exist, differ and are segments (volume or contour)."""
    rule = data.get("ejection_fraction")
    if not isinstance(rule, dict):
        return []
    kinds = {s.get("label"): s.get("kind") for s in structures}
    problems: list[Problem] = []
    for name in ("end_diastolic", "end_systolic"):
        label = rule.get(name)
        if not isinstance(label, str):
            continue
        if label not in kinds:
            problems.append(Problem(f"ejection_fraction.{name}", (
                f"{label!r} is not a structure of the protocol; name the {name.replace('_', '-')} ventricle's "
                "volume or contour structure")))
        elif kinds[label] not in _SEGMENT_KINDS:
            problems.append(Problem(f"ejection_fraction.{name}", (
                f"{label!r} is a {kinds[label]} structure; the ejection fraction is measured on a volume or "
                "contour structure")))
    if isinstance(rule.get("end_diastolic"), str) and rule.get("end_diastolic") == rule.get("end_systolic"):
        problems.append(Problem("ejection_fraction.end_systolic", (
            "the end-systolic structure must differ from the end-diastolic one")))
    return problems


def _unique_names(items: list[Any], field_name: str, what: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            first = seen.setdefault(name.strip().casefold(), i)
            if first != i:
                problems.append(Problem(f"{field_name}[{i}].name", (
                    f"duplicate {what} name {name!r} (also {field_name}[{first}])")))
    return problems


def _image_problems(data: dict[str, Any], base_dir: Path | None) -> list[Problem]:
    places: list[tuple[str, Any]] = []
    if isinstance(data.get("instructions"), dict):
        places.append(("instructions", data["instructions"]))
    places += [(f"edge_cases[{i}]", case) for i, case in enumerate(_list(data.get("edge_cases")))
               if isinstance(case, dict)]
    problems: list[Problem] = []
    for where, holder in places:
        for j, image in enumerate(_list(holder.get("reference_images"))):
            path = image.get("path") if isinstance(image, dict) else None
            if not isinstance(path, str) or not path or re.match(r"^https?://", path):
                continue
            at = f"{where}.reference_images[{j}].path"
            if Path(path).is_absolute():
                problems.append(Problem(at, (
                    f"must be relative to the protocol file (or an http(s) URL) so the protocol can be shared, "
                    f"found {path!r}")))
            elif base_dir is not None and not (base_dir / path).is_file():
                problems.append(Problem(at, f"file {path!r} not found in {base_dir}"))
    return problems
