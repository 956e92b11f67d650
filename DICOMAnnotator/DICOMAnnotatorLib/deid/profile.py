"""The action for each attribute under the Basic Profile and a set of options, from the package's tables.

Sources, in order of precedence: PS3.15 Table E.1-1 as shipped in
``resources/deid/ps3.15-table-e.1-1.json`` (edition named in the file), this project's
supplements (``supplements.json``: a few textual attributes and rules by VR for dates, times and
person names that the table does not list), and the Retain Safe Private list
(``safe-private-attributes.json``). When several enabled options give an attribute an action,
K wins over C: an option that retains an attribute overrides one that only cleans it.
Combined actions (X/Z, X/D, ...) are settled per IOD with ``iod-attribute-types.json``, the
attributes' Types from the PS3.3 module tables (see ``conditional_action``). Attributes whose presence
PS3.3 makes conditional on one that the profile removes go with it (``conditional-attributes.json``,
see ``PresenceRule``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .options import DeidOptions

#: The actions that conditionally keep a conformant placeholder (PS3.15 E.1.1).
CONDITIONAL_ACTIONS = frozenset({"Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"})
#: For each Type, the parts of a combined action in order of preference: the weakest that keeps the
#: IOD conformant first (X for Type 3, Z for Type 2, D for Type 1), then the next safe one for
#: combinations the table does not foresee (Z/D on a Type 3 attribute is Z, X/D on a Type 2 one D).
_PREFERENCE = {"3": ("X", "Z", "D", "U*"), "2": ("Z", "D", "U*"), "1": ("D", "U*", "Z")}
#: Without the Type (unknown SOP class, or inside a sequence): what keeps *any* IOD conformant.
_UNKNOWN_TYPE = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D", "X/Z/U*": "Z"}
_UNKNOWN_TYPE_SEQUENCE = {"X/Z": "Z", "X/D": "X", "Z/D": "Z", "X/Z/D": "Z", "X/Z/U*": "K"}


def _resource(name: str) -> dict[str, Any]:
    return json.loads(resources.files("DICOMAnnotatorLib").joinpath("resources", "deid", name).read_text("utf-8"))


@cache
def standard_table() -> dict[str, Any]:
    """Table E.1-1 as shipped: ``standard``, ``edition``, ``source`` and ``attributes``."""
    return _resource("ps3.15-table-e.1-1.json")


@cache
def supplements() -> dict[str, Any]:
    return _resource("supplements.json")


@cache
def safe_private_attributes() -> frozenset[tuple[int, str, int]]:
    """(group, private creator, element byte) of the private attributes known to be safe."""
    rows = _resource("safe-private-attributes.json")["attributes"]
    return frozenset((int(r["group"], 16), r["creator"], int(r["element"], 16)) for r in rows)


@cache
def iod_attribute_types() -> dict[str, dict[int, str]]:
    """For each SOP class UID of PS3.3, the attributes with a combined action that its IOD requires at
    the top level of the dataset: tag -> "1" (Type 1 or 1C) or "2" (Type 2 or 2C)."""
    table = _resource("iod-attribute-types.json")
    by_iod: dict[str, dict[int, str]] = {}
    for tag, types in table["attributes"].items():
        for required in ("2", "1"):
            for iod in types[required]:
                by_iod.setdefault(iod, {})[int(tag, 16)] = required
    return {uid: by_iod.get(iod, {}) for uid, iod in table["sop_classes"].items()}


@dataclass(frozen=True)
class PresenceRule:
    """PS3.3's "Required if <trigger> is present [and has a value]" for a Type 1C or 2C ``dependent``.

    Without a "may be present otherwise" clause the dependent shall not be present when its condition
    is false, so when de-identification removes every trigger (or empties it, for ``needs_value``)
    the dependent is removed too: Responsible Person Role without Responsible Person makes the file
    invalid.
    """

    dependent: int
    triggers: tuple[int, ...]
    needs_value: bool


@cache
def presence_rules() -> tuple[PresenceRule, ...]:
    """The rules of ``conditional-attributes.json``."""
    return tuple(PresenceRule(int(rule["dependent"], 16), tuple(int(t, 16) for t in rule["triggers"]),
                              bool(rule["needs_value"]))
                 for rule in _resource("conditional-attributes.json")["rules"])


def conditional_action(action: str, required: str | None, *, sequence: bool, empty: bool) -> str:
    """The simple action that a combined one (``CONDITIONAL_ACTIONS``) comes to, per PS3.15 E.1.1:
    X unless Z or D is required to keep the IOD conformant.

    ``required`` is the attribute's Type in the file's IOD: "1", "2", "3" (optional, or not part of
    the IOD), or None when it is not known: a SOP class missing from the PS3.3 table, or an attribute
    inside a sequence (the table lists the top level only). Without the Type the conservative choice
    is taken, one that keeps any IOD conformant: X/Z empties; X/D, Z/D and X/Z/D give a dummy; on
    sequences X/D removes, X/Z/D and Z/D empty and X/Z/U* keeps the items with their instance UIDs
    replaced. The D of X/Z/U* on a required sequence is that same replacement (returned as K: the
    UIDs inside get their own U). D on an empty value leaves it empty: there is nothing to replace.
    """
    if required is None:
        chosen = (_UNKNOWN_TYPE_SEQUENCE if sequence else _UNKNOWN_TYPE)[action]
    else:
        parts = action.split("/")
        chosen = next(part for part in _PREFERENCE[required] if part in parts)
    if chosen == "U*":
        return "K"
    return "Z" if chosen == "D" and empty else chosen


def _resolve(row: dict[str, Any], enabled: set[str]) -> str:
    chosen = [row["options"][name] for name in enabled if name in row["options"]]
    if "K" in chosen:
        return "K"
    if "C" in chosen:
        return "C"
    return row["basic"]


@dataclass(frozen=True)
class RepeatingRule:
    """An action for a tag pattern with wildcards, such as (60xx,3000) or (50xx,xxxx)."""

    mask: int
    value: int
    action: str

    def matches(self, tag: int) -> bool:
        return tag & self.mask == self.value


@dataclass(frozen=True)
class ActionTable:
    """Actions for one set of options: exact tags, repeating groups, private attributes, and by VR."""

    edition: str
    exact: dict[int, str]
    repeating: tuple[RepeatingRule, ...]
    private: str
    by_vr: dict[str, str]

    def repeating_action(self, tag: int) -> str | None:
        for rule in self.repeating:
            if rule.matches(tag):
                return rule.action
        return None

    @classmethod
    def for_options(cls, options: DeidOptions) -> ActionTable:
        return _table_for(frozenset(options.enabled_columns()))


@cache
def _table_for(enabled: frozenset[str]) -> ActionTable:
    table = standard_table()
    exact: dict[int, str] = {}
    repeating: list[RepeatingRule] = []
    private = "X"
    for row in supplements()["attributes"]:
        exact[int(row["tag"], 16)] = _resolve(row, set(enabled))
    for row in table["attributes"]:
        action = _resolve(row, set(enabled))
        tag = row["tag"]
        if tag == "private":
            private = action
        elif "X" in tag:
            mask = int("".join("0" if c == "X" else "F" for c in tag), 16)
            repeating.append(RepeatingRule(mask, int(tag.replace("X", "0"), 16), action))
        else:
            exact[int(tag, 16)] = action
    # Most specific pattern first: (60xx,3000) before (50xx,xxxx).
    repeating.sort(key=lambda rule: -bin(rule.mask).count("1"))
    by_vr = {vr: _resolve(rule, set(enabled)) for vr, rule in supplements()["by_vr"].items()}
    return ActionTable(table["edition"], exact, tuple(repeating), private, by_vr)
