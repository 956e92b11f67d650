"""Siemens mosaic images: several slices tiled into one frame, recognised from the header.

Siemens MR stores EPI acquisitions (fMRI, diffusion, perfusion) as *mosaics*: the N slices of a
volume are laid side by side in one large image, and Image Position (Patient) is the corner of
that whole tile grid rather than of any slice. Read as an ordinary image, a mosaic is one flat
slice in the wrong place (hundreds of millimetres off for the outer tiles), so it must be known
before any geometry is trusted.

Three marks identify a mosaic, any one of them enough, so that recognition never rests on the
private CSA parser alone:

- Image Type (0008,0008) holds the value ``MOSAIC`` (Siemens writes it on every mosaic);
- the private element Number Of Images In Mosaic, (0019,xx0A) in the block of creator
  ``SIEMENS MR HEADER``;
- the CSA Image Header Info, (0029,xx10) in the block of creator ``SIEMENS CSA HEADER``, whose
  ``NumberOfImagesInMosaic`` entry is above 1. The CSA header is Siemens' "SV10" format: the
  signature, a tag count, then per tag a 64-byte name, VM, VR, syngo data type, item count and a
  check value, each item a 16-byte head (its length in the second 32-bit word) and its text padded
  to 4 bytes (as described with nibabel's ``nibabel.nicom.csareader`` and dcm2niix's ``csa.cpp``).
"""

from __future__ import annotations

import struct

from pydicom.dataset import Dataset

MR_HEADER_CREATOR = "SIEMENS MR HEADER"
CSA_HEADER_CREATOR = "SIEMENS CSA HEADER"
NUMBER_OF_IMAGES_IN_MOSAIC = "NumberOfImagesInMosaic"
_CSA2_SIGNATURE = b"SV10"
_CSA_TAG_HEAD = struct.Struct("<64si4siii")
_CSA_ITEM_HEAD = struct.Struct("<4i")


def is_mosaic(ds: Dataset) -> bool:
    """Whether ``ds`` is a Siemens mosaic by any of the three marks (see the module docstring)."""
    image_type = ds.get("ImageType") or []
    if isinstance(image_type, str):
        image_type = image_type.split("\\")
    if any(str(value).strip().upper() == "MOSAIC" for value in image_type):
        return True
    return (mosaic_image_count(ds) or 0) > 1


def mosaic_image_count(ds: Dataset) -> int | None:
    """Number Of Images In Mosaic from the MR header element, else from the CSA image header; None if neither."""
    value = _private_value(ds, 0x0019, MR_HEADER_CREATOR, 0x0A)
    if isinstance(value, (bytes, bytearray)) and len(value) >= 2:
        value = struct.unpack("<H", bytes(value[:2]))[0]
    if isinstance(value, int):
        return value
    header = _private_value(ds, 0x0029, CSA_HEADER_CREATOR, 0x10)
    if isinstance(header, (bytes, bytearray)):
        values = csa_values(bytes(header)).get(NUMBER_OF_IMAGES_IN_MOSAIC)
        if values:
            try:
                return int(float(values[0]))
            except ValueError:
                return None
    return None


def csa_values(header: bytes) -> dict[str, list[str]]:
    """The entries of a Siemens CSA header in the SV10 format, as text values; {} when it is not one."""
    if not header.startswith(_CSA2_SIGNATURE) or len(header) < 16:
        return {}
    (count,) = struct.unpack_from("<I", header, 8)
    offset, values = 16, {}
    try:
        for _ in range(count):
            name, _vm, _vr, _syngo_type, items, _check = _CSA_TAG_HEAD.unpack_from(header, offset)
            offset += _CSA_TAG_HEAD.size
            texts = []
            for _ in range(items):
                length = _CSA_ITEM_HEAD.unpack_from(header, offset)[1]
                offset += _CSA_ITEM_HEAD.size
                if length < 0 or offset + length > len(header):
                    return values
                text = header[offset:offset + length].split(b"\0", 1)[0].decode("latin-1").strip()
                if text:
                    texts.append(text)
                offset += (length + 3) // 4 * 4
            values[name.split(b"\0", 1)[0].decode("latin-1")] = texts
    except struct.error:  # a header cut short: keep what was read
        return values
    return values


def _private_value(ds: Dataset, group: int, creator: str, element: int):
    if not any(tag >> 16 == group for tag in ds.keys()):  # most files have none: skip pydicom's search of the group
        return None
    try:
        block = ds.private_block(group, creator)
        return block[element].value if block.get_tag(element) in ds else None
    except (KeyError, ValueError):
        return None
