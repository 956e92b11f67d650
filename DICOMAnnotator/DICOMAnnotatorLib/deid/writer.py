"""Writing a de-identified dataset as a DICOM Part 10 file, quickly.

De-identification leaves most elements (and the large pixel data) as read. pydicom's writer
spends about 30 microseconds on each element whatever it is; here an element still in its raw
form, in the encoding the file is written in, is copied as header plus value bytes, and only
the elements that were replaced go through pydicom's encoder. Anything unusual (big endian,
deflate, a change of encoding) is written by pydicom as a whole. The bytes are those
``Dataset.save_as(..., enforce_file_format=True)`` writes; a test compares the two.
"""

from __future__ import annotations

import os
import struct

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomFileLike
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

#: VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_UNDEFINED = 0xFFFFFFFF


def save_part10(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` (with its ``file_meta`` and ``preamble``) to ``path``."""
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    implicit = syntax.is_implicit_VR
    if (syntax == DeflatedExplicitVRLittleEndian or not syntax.is_little_endian
            or ds.original_encoding != (implicit, True)):
        ds.save_as(path, enforce_file_format=True)
        return
    encodings = ds.original_character_set
    with open(path, "wb") as handle:
        fp = DicomFileLike(handle)
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
                value = elem.value or b""
                if implicit:
                    header = struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value))
                elif elem.VR in _LONG_VRS:
                    header = struct.pack("<HH2sxxI", tag >> 16, tag & 0xFFFF, elem.VR.encode(), len(value))
                else:
                    header = struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, elem.VR.encode(), len(value))
                fp.write(header)
                fp.write(value)
            else:
                write_data_element(fp, ds[tag], encodings)


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
        if len(value) % 2:
            value += b"\0" if elem.VR == "UI" else b" "
        body.append(struct.pack("<HH2sH", 2, tag & 0xFFFF, elem.VR.encode(), len(value)) + value)
    group = b"".join(body)
    return struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(group)) + group
