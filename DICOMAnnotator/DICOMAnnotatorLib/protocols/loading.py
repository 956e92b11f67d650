"""Reading protocols: from a file path, or a protocol shipped with the package by its id.

The shipped protocols live inside the package (``DICOMAnnotatorLib/resources/protocols``)
rather than in the extension's top-level ``Resources/`` so that ``pip install`` and Slicer's
CMake install both carry them; each file is named after its protocol id.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .. import RESOURCES
from ..errors import InputError, ProtocolError
from .model import Protocol

#: Where the shipped protocols are (one ``<id>.json`` per protocol).
SHIPPED_PROTOCOLS_DIR = RESOURCES / "protocols"

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def load_protocol(source: str | os.PathLike[str]) -> Protocol:
    """A protocol from a file path or a shipped protocol id (a path that exists wins).

    Raises :class:`ProtocolError` listing every problem of an invalid file, and
    :class:`InputError` when ``source`` is neither a readable file nor a shipped id.
    """
    path = Path(source)
    if path.is_file():
        return load_protocol_file(path)
    text = str(source)
    shipped = SHIPPED_PROTOCOLS_DIR / f"{text}.json"
    if _ID.match(text) and shipped.is_file():
        return load_protocol_file(shipped)
    if path.suffix.lower() == ".json" or os.sep in text or "/" in text:
        raise InputError(f"Protocol file {path} not found")
    raise InputError(f"'{text}' is neither a protocol file nor a shipped protocol id; shipped ids are "
                     + ", ".join(shipped_protocol_ids()))


def load_protocol_file(path: str | os.PathLike[str]) -> Protocol:
    """A protocol from one JSON file; reference images are looked up beside it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"Protocol file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read protocol file {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(str(path), [f"line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"]) from None
    return Protocol.from_dict(data, source=path, base_dir=path.parent)


def shipped_protocol_ids() -> list[str]:
    """Ids of the protocols shipped with the package, sorted."""
    return sorted(p.stem for p in SHIPPED_PROTOCOLS_DIR.glob("*.json"))


def shipped_protocols() -> list[Protocol]:
    """The protocols shipped with the package, sorted by id (each has its ``source`` path)."""
    return [load_protocol_file(SHIPPED_PROTOCOLS_DIR / f"{pid}.json") for pid in shipped_protocol_ids()]
