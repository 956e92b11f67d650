"""Reading a large sequence straight from its encoded bytes: the per-frame functional groups of a SEG.

pydicom builds a Dataset for every item of every nested sequence, about 0.3 ms per SEG frame:
most of the time of reading a 50-segment SEG of a CT. The items here keep each element's
bytes and decode an element only when it is asked for, with the same ``get``/``in`` interface
as a pydicom Dataset, so the code that reads frames does not care which it got. Little endian
only (explicit or implicit VR), defined or undefined lengths; anything else raises
:class:`RawSequenceError` and the caller lets pydicom parse the sequence.
"""

from __future__ import annotations

import struct
from functools import cache

from pydicom.datadict import dictionary_VR, tag_for_keyword

_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
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
        return default if element is None else _decode(*element)


def parse_sequence(value: bytes, *, implicit: bool) -> list[RawItem]:
    """The items of a sequence whose value (without the sequence's own tag and length) is ``value``."""
    items, end = _items(memoryview(value), 0, len(value), implicit)
    if end != len(value):
        raise RawSequenceError(f"the sequence ends at byte {end} of {len(value)}")
    return items


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
        tag, length = _tag_and_length(buffer, position)
        if tag == _ITEM_END:
            return elements, position + 8
        if implicit:
            vr = _dictionary_vr(tag)
            position += 8
        else:
            vr = bytes(buffer[position + 4:position + 6]).decode("ascii", "replace")
            if vr in _LONG_VRS:
                length = struct.unpack_from("<I", buffer, position + 8)[0]
                position += 12
            else:
                length = struct.unpack_from("<H", buffer, position + 6)[0]
                position += 8
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


def _decode(vr: str, value):
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
def _dictionary_vr(tag: int) -> str:
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    return vr if " or " not in vr else vr.split(" or ")[0]
