"""Reading a large sequence straight from its encoded bytes: the per-frame functional groups of a SEG.

pydicom builds a Dataset for every item of every nested sequence, about 0.3 ms per SEG frame:
most of the time of reading a 50-segment SEG of a CT. The items here keep each element's
bytes and decode an element only when it is asked for, with the same ``get``/``in`` interface
as a pydicom Dataset, so the code that reads frames does not care which it got.
:func:`split_file` cuts such a sequence out of a whole Part 10 file, whatever its length
encoding (pydicom parses an undefined-length sequence as soon as it reads it, and dcmqi, so
Slicer, writes them so), leaving the rest for pydicom. Little endian only (explicit or implicit
VR); anything else raises :class:`RawSequenceError` (or gives None) and the caller lets pydicom
parse the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.uid import UID

_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_PIXEL_DATA = 0x7FE00010
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_NUMBERS = {"US": "H", "UL": "I", "SS": "h", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"})


class RawSequenceError(ValueError):
    """The bytes are not a little-endian sequence this reader understands."""


class RawItem:
    """One sequence item: its elements' bytes, decoded on access (``item.get("Keyword")``, ``"Keyword" in item``).

    Values decode as pydicom's do for the same VR: numbers and strings (a list when there are
    several), nested sequences as lists of :class:`RawItem`, other binary values as bytes.
    """

    __slots__ = ("_elements",)

    def __init__(self, elements: dict[int, tuple[str, bytes | list[RawItem]]]) -> None:
        self._elements = elements

    def __contains__(self, keyword: str) -> bool:
        return _tag(keyword) in self._elements

    def get(self, keyword: str, default=None):
        element = self._elements.get(_tag(keyword))
        return default if element is None else decode_value(*element)


def parse_sequence(value: bytes, *, implicit: bool) -> list[RawItem]:
    """The items of a sequence whose value (without the sequence's own tag and length) is ``value``."""
    items, end = _items(memoryview(value), 0, len(value), implicit)
    if end != len(value):
        raise RawSequenceError(f"the sequence ends at byte {end} of {len(value)}")
    return items


@dataclass
class SplitFile:
    """A Part 10 file without one top-level sequence: ``head`` is the file up to it (preamble, file
    meta and the elements before), ``items`` the sequence's items and ``tail`` the raw elements after it."""

    head: bytes
    items: list[RawItem]
    tail: list[RawDataElement]


def split_file(data: bytes, tag: int) -> SplitFile | None:
    """``data`` (a whole Part 10 file) with the top-level sequence ``tag`` cut out; None when the file
    has no such sequence or is not in a little-endian, non-deflated transfer syntax."""
    buffer = memoryview(data)
    if len(data) < 144 or bytes(buffer[128:132]) != b"DICM":
        return None
    if bytes(buffer[132:136]) != b"\x02\x00\x00\x00":  # File Meta Information Group Length first
        return None
    start = 144 + struct.unpack_from("<I", buffer, 140)[0]
    syntax = UID(file_meta_syntax(buffer[132:start]) or "")
    if not syntax.is_transfer_syntax or not syntax.is_little_endian or syntax.is_deflated:
        return None
    implicit = syntax.is_implicit_VR
    position = start
    while position < len(buffer):
        element_tag, vr, length, value_start = element_header(buffer, position, implicit)
        if element_tag > tag:
            return None
        if element_tag == tag:
            end = len(buffer) if length == _UNDEFINED else value_start + length
            items, after = _items(buffer, value_start, end, implicit)
            return SplitFile(bytes(buffer[:position]), items, _tail(buffer, after, implicit))
        position = skip_value(buffer, element_tag, vr, length, value_start, implicit)
    return None


def _tail(buffer: memoryview, position: int, implicit: bool) -> list[RawDataElement]:
    """The top-level elements after the cut, raw as pydicom's reader leaves them (Pixel Data, mostly)."""
    elements = []
    while position < len(buffer):
        tag, vr, length, value_start = element_header(buffer, position, implicit)
        end = skip_value(buffer, tag, vr, length, value_start, implicit)
        value_end = end - 8 if length == _UNDEFINED else end  # an undefined length value excludes its delimiter
        elements.append(RawDataElement(tag, None if implicit else vr, length, bytes(buffer[value_start:value_end]),
                                       value_start, implicit, True))
        position = end
    return elements


def skip_value(buffer: memoryview, tag: int, vr: str, length: int, value_start: int, implicit: bool) -> int:
    """The position after an element's value (past its Sequence Delimitation Item when of undefined length)."""
    if length != _UNDEFINED:
        if value_start + length > len(buffer):
            raise RawSequenceError(f"element {tag:08X} runs past the end of the file")
        return value_start + length
    if vr == "SQ" or (vr == "UN" and tag != _PIXEL_DATA) or (implicit and tag != _PIXEL_DATA):
        return _items(buffer, value_start, len(buffer), implicit)[1]
    position = value_start  # encapsulated pixel data: fragments up to the delimiter
    while True:
        fragment, fragment_length = _tag_and_length(buffer, position)
        position += 8
        if fragment == _SEQUENCE_END:
            return position
        if fragment != _ITEM or fragment_length == _UNDEFINED:
            raise RawSequenceError(f"element {tag:08X} holds no fragment at byte {position - 8}")
        position += fragment_length


def element_header(buffer: memoryview, position: int, implicit: bool) -> tuple[int, str, int, int]:
    """Tag, VR (from the dictionary in implicit VR), length and value position of the element at ``position``."""
    tag, length = _tag_and_length(buffer, position)
    if implicit:
        return tag, dictionary_vr(tag), length, position + 8
    vr = bytes(buffer[position + 4:position + 6]).decode("ascii", "replace")
    if vr in _LONG_VRS:
        if position + 12 > len(buffer):
            raise RawSequenceError(f"the file is cut at byte {position}")
        return tag, vr, struct.unpack_from("<I", buffer, position + 8)[0], position + 12
    return tag, vr, struct.unpack_from("<H", buffer, position + 6)[0], position + 8


def file_meta_syntax(meta: memoryview) -> str | None:
    """The Transfer Syntax UID in the file meta elements (group 2, always explicit VR little endian)."""
    position = 0
    while position + 8 <= len(meta):
        tag, vr, length, value_start = element_header(meta, position, False)
        if tag == 0x00020010:
            return bytes(meta[value_start:value_start + length]).decode("ascii", "replace").rstrip("\0 ")
        position = value_start + length
    return None


def _items(buffer: memoryview, position: int, end: int, implicit: bool) -> tuple[list[RawItem], int]:
    """Items from ``position`` to ``end`` or to a Sequence Delimitation Item (then ``end`` is the buffer's)."""
    items = []
    while position < end:
        tag, length = _tag_and_length(buffer, position)
        position += 8
        if tag == _SEQUENCE_END:
            return items, position
        if tag != _ITEM:
            raise RawSequenceError(f"expected an item at byte {position - 8}, found tag {tag:08X}")
        item_end = len(buffer) if length == _UNDEFINED else position + length
        elements, position = _elements(buffer, position, item_end, implicit)
        items.append(RawItem(elements))
    return items, position


def _elements(buffer: memoryview, position: int, end: int, implicit: bool) -> tuple[dict, int]:
    """One item's elements, up to ``end`` or to its Item Delimitation Item."""
    elements: dict[int, tuple[str, bytes | list[RawItem]]] = {}
    while position < end:
        if _tag_and_length(buffer, position)[0] == _ITEM_END:
            return elements, position + 8
        tag, vr, length, position = element_header(buffer, position, implicit)
        if vr == "SQ" or length == _UNDEFINED:
            if vr not in ("SQ", "UN"):
                raise RawSequenceError(f"element {tag:08X} ({vr}) has an undefined length")
            sequence_end = len(buffer) if length == _UNDEFINED else position + length
            items, position = _items(buffer, position, sequence_end, implicit)
            elements[tag] = ("SQ", items)
        else:
            if position + length > len(buffer):
                raise RawSequenceError(f"element {tag:08X} runs past the end of the sequence")
            elements[tag] = (vr, bytes(buffer[position:position + length]))
            position += length
    return elements, position


def _tag_and_length(buffer: memoryview, position: int) -> tuple[int, int]:
    if position + 8 > len(buffer):
        raise RawSequenceError(f"the sequence is cut at byte {position}")
    group, element, length = struct.unpack_from("<HHI", buffer, position)
    return group << 16 | element, length


def decode_value(vr: str, value):
    """An element's value from its bytes, as pydicom decodes it: numbers and strings (a list when
    there are several), sequences as they are, other binary values as bytes."""
    if vr == "SQ":
        return value
    if vr in _NUMBERS:
        numbers = struct.unpack(f"<{len(value) // struct.calcsize(_NUMBERS[vr])}{_NUMBERS[vr]}", value)
        return numbers[0] if len(numbers) == 1 else list(numbers)
    if vr in ("DS", "IS") or vr in _TEXT_VRS:
        text = value.decode("latin-1").rstrip("\0 ")
        parts = text.split("\\") if vr not in ("LT", "ST", "UT") else [text]
        if vr == "IS":
            parts = [int(p) if p.strip() else "" for p in parts]
        elif vr == "DS":
            parts = [float(p) if p.strip() else "" for p in parts]
        else:
            parts = [p.strip() for p in parts]
        return parts[0] if len(parts) == 1 else parts
    return value


@cache
def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"'{keyword}' is not a DICOM keyword")
    return tag


@cache
def dictionary_vr(tag: int) -> str:
    """The VR of a tag in the data dictionary (the first of 'US or SS'-style choices; UN when unknown)."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    return vr if " or " not in vr else vr.split(" or ")[0]
