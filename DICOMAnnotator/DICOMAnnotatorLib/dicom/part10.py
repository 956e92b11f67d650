"""Writing DICOM Part 10 files quickly: elements already encoded are copied as bytes.

pydicom's writer spends about 30 microseconds on each element whatever it is. Two writers
produce most of their elements in encoded form: de-identification leaves most elements (and
the large pixel data) raw as read, and the SEG writer encodes its thousands of per-frame
functional group items itself (:func:`encode_element`, :func:`encode_sequence`). Here a raw
element in the encoding of the file is copied as header plus value bytes, and every other
element goes through pydicom's encoder; encapsulated pixel data built in memory (a LABELMAP SEG's
RLE frames) is written as pydicom writes it, without its per-frame overhead. Anything unusual
(big endian, deflate, a change of encoding) is written by pydicom as a whole. The bytes are those
``Dataset.save_as(..., enforce_file_format=True)`` writes; tests compare the two.

A large raw value is written with its blocks of zeros left as holes (:mod:`.sparse`): the same
bytes, read back as zeros.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterable
from typing import Any, BinaryIO

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import correct_ambiguous_vr_element, write_data_element, write_file_meta_info
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian
from pydicom.valuerep import AMBIGUOUS_VR

from .. import IMPLEMENTATION_CLASS_UID, __version__
from .sparse import write_sparse

#: VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_UNDEFINED = 0xFFFFFFFF
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
_SEQUENCE_DELIMITER = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
PIXEL_DATA = 0x7FE00010
#: Raw values of this size or more are written with their zero blocks left as holes.
SPARSE_FROM = 1 << 20


def encode_element(tag: int, vr: str, value: bytes, *, implicit: bool = False) -> bytes:
    """One element in explicit (or implicit) VR little endian, its value padded to even length as pydicom pads it."""
    if len(value) % 2:
        value += b"\0" if vr in ("UI", "OB", "UN") else b" "
    return _header(tag, vr, len(value), implicit=implicit) + value


def encode_sequence(tag: int, items: Iterable[bytes], *, implicit: bool = False) -> bytes:
    """A sequence of defined length holding ``items`` (each the encoded elements of one item, in tag order)."""
    return encode_element(tag, "SQ", encode_items(items), implicit=implicit)


def encode_items(items: Iterable[bytes]) -> bytes:
    """The value of a sequence: each item of defined length, as pydicom writes items it created."""
    return b"".join(_ITEM + struct.pack("<I", len(item)) + item for item in items)


def raw_element(tag: int, vr: str, value: bytes, *, implicit: bool = False) -> RawDataElement:
    """An element whose value is already encoded in explicit (or implicit) VR little endian, copied as is by
    :func:`save_part10` into a file of that encoding."""
    return RawDataElement(tag, vr, len(value), value, 0, implicit, True)


def new_file_meta(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> FileMetaDataset:
    """The File Meta Information of an object this software creates (PS3.10 7.1)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = UID(transfer_syntax_uid)
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = f"DICOMANNOT_{__version__}"[:16]
    return meta


def save_part10(ds: Dataset, path: str | os.PathLike[str], *, digest: Any | None = None) -> None:
    """Write ``ds`` (with its ``file_meta`` and ``preamble``) to ``path``.

    ``ds`` is either read from a file (then written in that file's encoding) or built in memory
    (then its raw elements must be in the encoding of its transfer syntax, as :func:`raw_element` makes them).
    ``digest`` (a ``hashlib`` object) is updated with the file's bytes as they are written, for a caller that
    records the file by its hash without reading it again.
    """
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    implicit = syntax.is_implicit_VR
    built_in_memory = ds.original_encoding == (None, None)
    if (syntax == DeflatedExplicitVRLittleEndian or not syntax.is_little_endian
            or ds.original_encoding not in ((implicit, True), (None, None))):
        ds.save_as(path, enforce_file_format=True)
        if digest is not None:
            with open(path, "rb") as written:
                while chunk := written.read(1 << 20):
                    digest.update(chunk)
        return
    encodings = ds.get("SpecificCharacterSet") if built_in_memory else ds.original_character_set
    with open(path, "wb") as handle:
        fp = DicomFileLike(handle if digest is None else _Digesting(handle, digest))
        fp.write((ds.preamble or b"\0" * 128) + b"DICM")
        meta = _file_meta_bytes(ds.file_meta)
        if meta is None:
            write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
        else:
            fp.write(meta)
        fp.is_implicit_VR, fp.is_little_endian = implicit, True
        for tag in sorted(ds.keys()):
            elem = ds.get_item(tag)
            if elem.is_raw and elem.length != _UNDEFINED and elem.is_implicit_VR == implicit:
                value = b"" if elem.value is None else elem.value
                fp.write(_header(tag, elem.VR, len(value), implicit=implicit))
                if len(value) < SPARSE_FROM:
                    fp.write(value)
                else:
                    write_sparse(handle, value, digest)
            elif tag == PIXEL_DATA and built_in_memory and syntax.is_encapsulated:
                fp.write(_encapsulated_pixel_data(ds[tag].value))
            else:
                elem = ds[tag]
                if elem.VR in AMBIGUOUS_VR:  # only in datasets built in memory: read ones are in their own encoding
                    elem = correct_ambiguous_vr_element(elem, ds, True)
                write_data_element(fp, elem, encodings)


class _Digesting:
    """A file written from start to end whose bytes also update a digest (a seek back would make the digest
    wrong, so it is refused)."""

    def __init__(self, handle: BinaryIO, digest: Any) -> None:
        self._handle, self._digest = handle, digest
        self.tell, self.close = handle.tell, handle.close

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._handle.write(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if (offset, whence) not in ((self.tell(), os.SEEK_SET), (0, os.SEEK_CUR)):
            raise io.UnsupportedOperation("a file written with its digest is written from start to end")
        return self.tell()


def _encapsulated_pixel_data(items: bytes) -> bytes:
    """Pixel Data of an encapsulated transfer syntax (PS3.5 A.4): OB of undefined length holding the items of
    ``pydicom.encaps.encapsulate`` (offset table, fragments), then the Sequence Delimitation Item."""
    return _header(PIXEL_DATA, "OB", _UNDEFINED, implicit=False) + items + _SEQUENCE_DELIMITER


def _header(tag: int, vr: str, length: int, *, implicit: bool) -> bytes:
    group, element = tag >> 16, tag & 0xFFFF
    if implicit:
        return struct.pack("<HHI", group, element, length)
    if vr in _LONG_VRS:
        return struct.pack("<HH2sxxI", group, element, vr.encode(), length)
    return struct.pack("<HH2sH", group, element, vr.encode(), length)


def _file_meta_bytes(meta: FileMetaDataset) -> bytes | None:
    """File Meta Information of string elements as pydicom encodes it (group length and version
    added); None when it holds anything else, which pydicom then writes."""
    body = [struct.pack("<HH2sxxI", 2, 1, b"OB", 2) + b"\0\1"]
    for tag in sorted(meta.keys()):
        if tag in (0x00020000, 0x00020001):
            continue
        elem = meta[tag]
        if not isinstance(elem.value, str) or elem.VR in _LONG_VRS:
            return None
        value = elem.value.encode("ascii", "strict") if elem.value.isascii() else None
        if value is None:
            return None
        body.append(encode_element(tag, elem.VR, value))
    group = b"".join(body)
    return struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(group)) + group
