"""Reading a DICOM header (everything before the pixel data) straight from the file's bytes.

Opening a series reads the header of every file, and pydicom's generic reader spends about
0.5 ms per file doing it: a third of writing a SEG on a 300-slice CT. Here the top-level
elements of a plain little-endian Part 10 file are cut from its bytes into pydicom's own raw
elements, which pydicom decodes on access exactly as if it had read them; the result is the
``FileDataset`` that ``pydicom.dcmread(path, stop_before_pixels=True)`` returns (a test compares
the two on every file in the shared test data). Anything else (no preamble, big endian,
deflated, an unknown VR, a top-level element of undefined length, a damaged file) is left to
pydicom, which reads it or raises its own error. Where the header ends at native pixel data, its
position is kept, so that the voxels can be read later without parsing the header a second
time (:func:`native_pixel_data`).
"""

from __future__ import annotations

import os
import struct
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.uid import UID
from pydicom.valuerep import VR

from .sequences import decode_value, dictionary_vr, file_meta_syntax

#: Bytes read first (most image headers are shorter); a longer header is read on in growing steps.
HEAD_BYTES = 1 << 13
#: Where pydicom's ``stop_before_pixels`` stops: Float, Double Float and Pixel Data.
PIXEL_DATA = 0x7FE00010
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, PIXEL_DATA})
#: The dataset attribute (not a DICOM element) where :func:`read_header` keeps where the native pixel data is.
_PIXEL_DATA_AT = "_pixel_data_at"
_UNDEFINED = 0xFFFFFFFF
#: What :func:`_elements` returns when the bytes end inside an element.
_INCOMPLETE = object()
#: VRs whose values :func:`header_value` decodes itself (ASCII numbers and codes, binary numbers).
_PLAIN_VRS = frozenset({"CS", "DS", "IS", "UI", "US", "UL", "SS", "SL", "FL", "FD"})
#: The two bytes of every VR, to its name (an unknown VR is left to pydicom's heuristics).
_VR_NAMES = {vr.value.encode(): vr.value for vr in VR}
#: VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


def read_header(path: str | os.PathLike[str]) -> FileDataset:
    """The header of the DICOM file ``path`` without pixel data, as pydicom reads it (and its errors)."""
    ds = _read_plain_header(path)
    return ds if ds is not None else pydicom.dcmread(path, stop_before_pixels=True)


def header_value(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)`` for numbers, codes and UIDs, decoded from the element's bytes while
    pydicom has not converted it yet: opening a series reads a dozen such values per file, and
    pydicom's conversion costs about 20 microseconds each. Values as pydicom gives them, except
    that numbers are plain ``float``/``int`` and UIDs plain ``str``; anything else is ``ds.get``'s.
    """
    tag = tag_for_keyword(keyword)
    element = ds.get_item(tag) if tag is not None else None
    if isinstance(element, RawDataElement) and element.is_little_endian and element.value is not None:
        vr = element.VR or dictionary_vr(tag)
        if vr in _PLAIN_VRS:
            try:
                return decode_value(vr, element.value)
            except (ValueError, struct.error):  # not a number, a cut value: pydicom's conversion decides
                pass
    return ds.get(keyword, default)


def _read_plain_header(path: str | os.PathLike[str]) -> FileDataset | None:
    """The header of a plain little-endian Part 10 file; None for any other file."""
    with open(path, "rb") as handle:
        data = handle.read(HEAD_BYTES)
        complete = len(data) < HEAD_BYTES
        if len(data) < 144 or data[128:132] != b"DICM" or data[132:136] != b"\x02\x00\x00\x00":
            return None
        start = 144 + struct.unpack_from("<I", data, 140)[0]
        if start > len(data):
            return None
        meta = _elements(data[:start], 132, implicit=False)
        if not isinstance(meta, dict):
            return None
        syntax = UID(file_meta_syntax(memoryview(data)[132:start]) or "")
        if not syntax.is_transfer_syntax or not syntax.is_little_endian or syntax.is_deflated:
            return None
        implicit = syntax.is_implicit_VR
        pixels: list[tuple[int, int, int]] = []
        elements = _elements(data, start, implicit=implicit, pixels=pixels)
        while elements is _INCOMPLETE and not complete:  # a header longer than the bytes read so far
            wanted = 3 * len(data)
            more = handle.read(wanted)
            data, complete = data + more, len(more) < wanted
            elements = _elements(data, start, implicit=implicit, pixels=pixels)
    if not isinstance(elements, dict):
        return None
    dataset = Dataset(elements)
    ds = FileDataset(os.fspath(path), dataset, data[:128], FileMetaDataset(meta), implicit, True)
    ds.set_original_encoding(implicit, True, dataset._character_set)
    if pixels and pixels[-1][0] == PIXEL_DATA and pixels[-1][2] != _UNDEFINED and not syntax.is_compressed:
        setattr(ds, _PIXEL_DATA_AT, pixels[-1][1:])
    return ds


def native_pixel_data(ds: Dataset) -> bytes | None:
    """The value of the native (not encapsulated) Pixel Data of a file whose header :func:`read_header` read,
    read from the file now without parsing its header again; None for any other dataset."""
    position = getattr(ds, _PIXEL_DATA_AT, None)
    if position is None or not getattr(ds, "filename", None):
        return None
    start, length = position
    with open(ds.filename, "rb") as handle:
        handle.seek(start)
        value = handle.read(length)
    return value if len(value) == length else None


def _elements(data: bytes, position: int, *, implicit: bool,
              pixels: list[tuple[int, int, int]] | None = None) -> dict[BaseTag, RawDataElement] | object | None:
    """The elements from ``position`` to the pixel data or the end of ``data``, as pydicom's raw elements;
    ``_INCOMPLETE`` when the last one does not fit in ``data``, None when one is not plain (unknown
    VR, undefined length). The tag, value position and length of the pixel element reached are
    appended to ``pixels``."""
    elements = {}
    unpack = struct.unpack_from
    end = len(data)
    while position < end:
        if position + 8 > end:
            return _INCOMPLETE
        if implicit:
            group, element, length = unpack("<HHI", data, position)
            vr, value_start = None, position + 8
        else:
            group, element, vr_code, length = unpack("<HH2sH", data, position)
            vr = _VR_NAMES.get(vr_code)
            if vr is None:
                return None
            value_start = position + 8
            if vr in _LONG_VRS:
                if position + 12 > end:
                    return _INCOMPLETE
                length, value_start = unpack("<I", data, position + 8)[0], position + 12
        tag = group << 16 | element
        if tag in PIXEL_TAGS:
            if pixels is not None:
                pixels.append((tag, value_start, length))
            break
        if length == _UNDEFINED:
            return None
        if value_start + length > end:
            return _INCOMPLETE
        elements[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr, length, data[value_start:value_start + length],
                                                value_start, implicit, True)
        position = value_start + length
    return elements
