"""SR content items (PS3.3 C.17.3, Table C.17-6) encoded straight to bytes, in explicit VR little endian.

A report on a 300-slice CT holds thousands of content items (an Image Library entry per source
image, a Source Image for Segmentation per labelled slice and segment). Built as pydicom
datasets they cost about 30 microseconds per element to write, and highdicom's SR constructor
deep-copies them all first; encoded here each item is a few byte strings joined (code items
are encoded once per concept). :func:`..dicom.part10.save_part10` copies the bytes into the file.

Every item has its Relationship Type (absent only on the root), Value Type and Concept Name,
then the value attributes of its type; its children are its Content Sequence. Elements of an
item are written in ascending tag order, text in the document's Specific Character Set as
pydicom encodes it, numbers as pydicom writes DS and FD values.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
from pydicom.charset import convert_encodings, encode_string
from pydicom.valuerep import PersonName, format_number_as_ds

from ..dicom import Code, code_value_keyword, encode_element, encode_sequence

REFERENCED_SOP_SEQUENCE = 0x00081199
RELATIONSHIP_TYPE = 0x0040A010
VALUE_TYPE = 0x0040A040
CONCEPT_NAME_CODE_SEQUENCE = 0x0040A043
CONTINUITY_OF_CONTENT = 0x0040A050
PERSON_NAME = 0x0040A123
UID_VALUE = 0x0040A124
TEXT_VALUE = 0x0040A160
CONCEPT_CODE_SEQUENCE = 0x0040A168
MEASURED_VALUE_SEQUENCE = 0x0040A300
CONTENT_TEMPLATE_SEQUENCE = 0x0040A504
CONTENT_SEQUENCE = 0x0040A730
GRAPHIC_DATA = 0x00700022
GRAPHIC_TYPE = 0x00700023
REFERENCED_FRAME_OF_REFERENCE_UID = 0x30060024


class ContentEncoder:
    """Encodes the content items of one SR document, whose Specific Character Set is ``character_set``."""

    def __init__(self, character_set: str | Sequence[str] | None) -> None:
        self._encodings = convert_encodings(character_set)
        self._codes: dict[Code, bytes] = {}

    # ------------------------------------------------------------ value types
    def container(self, name: Code, relationship: str | None, children: Sequence[bytes], *,
                  template: str | None = None) -> bytes:
        """A CONTAINER whose content is continuous, with the template it follows (mapping resource DCMR)."""
        parts = [(CONTINUITY_OF_CONTENT, encode_element(CONTINUITY_OF_CONTENT, "CS", b"CONTINUOUS"))]
        if template is not None:
            parts.append((CONTENT_TEMPLATE_SEQUENCE, encode_sequence(CONTENT_TEMPLATE_SEQUENCE, [
                encode_element(0x00080105, "CS", b"DCMR")  # MappingResource
                + encode_element(0x0040DB00, "CS", template.encode())])))  # TemplateIdentifier
        return self._item(relationship, "CONTAINER", name, parts, children)

    def code(self, name: Code, value: Code, relationship: str, children: Sequence[bytes] = ()) -> bytes:
        return self._item(relationship, "CODE", name, [
            (CONCEPT_CODE_SEQUENCE, encode_sequence(CONCEPT_CODE_SEQUENCE, [self.code_item(value)]))], children)

    def text(self, name: Code, value: str, relationship: str) -> bytes:
        return self._item(relationship, "TEXT", name, [(TEXT_VALUE, self._text(TEXT_VALUE, "UT", value))])

    def uidref(self, name: Code, uid: str, relationship: str) -> bytes:
        return self._item(relationship, "UIDREF", name, [(UID_VALUE, encode_element(UID_VALUE, "UI", uid.encode()))])

    def pname(self, name: Code, value: str, relationship: str) -> bytes:
        encoded = PersonName(value).encode(self._encodings)
        return self._item(relationship, "PNAME", name, [(PERSON_NAME, encode_element(PERSON_NAME, "PN", encoded))])

    def num(self, name: Code, value: float, unit: Code, relationship: str, children: Sequence[bytes] = ()) -> bytes:
        """A NUM item: Numeric Value as a DS of at most 16 characters and the exact Floating Point Value."""
        measured = (encode_sequence(0x004008EA, [self.code_item(unit)])  # MeasurementUnitsCodeSequence
                    + encode_element(0x0040A161, "FD", struct.pack("<d", value))  # FloatingPointValue
                    + encode_element(0x0040A30A, "DS", format_number_as_ds(float(value)).encode()))  # NumericValue
        return self._item(relationship, "NUM", name, [
            (MEASURED_VALUE_SEQUENCE, encode_sequence(MEASURED_VALUE_SEQUENCE, [measured]))], children)

    def image(self, name: Code, relationship: str, sop_class_uid: str, sop_instance_uid: str, *,
              frames: Sequence[int] | None = None, segment: int | None = None) -> bytes:
        """An IMAGE item: one instance, with its frames (multi-frame images) or segment (a SEG) when given."""
        reference = (encode_element(0x00081150, "UI", sop_class_uid.encode())  # ReferencedSOPClassUID
                     + encode_element(0x00081155, "UI", sop_instance_uid.encode()))  # ReferencedSOPInstanceUID
        if frames:
            reference += encode_element(0x00081160, "IS", "\\".join(str(f) for f in frames).encode())
        if segment is not None:
            reference += encode_element(0x0062000B, "US", struct.pack("<H", segment))  # ReferencedSegmentNumber
        return self._item(relationship, "IMAGE", name, [
            (REFERENCED_SOP_SEQUENCE, encode_sequence(REFERENCED_SOP_SEQUENCE, [reference]))])

    def scoord3d(self, name: Code, relationship: str, graphic_type: str, points_mm: np.ndarray,
                 frame_of_reference_uid: str) -> bytes:
        """A SCOORD3D item: points (N x 3, patient mm) as single-precision Graphic Data."""
        return self._item(relationship, "SCOORD3D", name, [
            (GRAPHIC_DATA, encode_element(GRAPHIC_DATA, "FL", np.asarray(points_mm, dtype="<f4").tobytes())),
            (GRAPHIC_TYPE, encode_element(GRAPHIC_TYPE, "CS", graphic_type.encode())),
            (REFERENCED_FRAME_OF_REFERENCE_UID, encode_element(REFERENCED_FRAME_OF_REFERENCE_UID, "UI",
                                                               frame_of_reference_uid.encode()))])

    def scoord(self, name: Code, relationship: str, graphic_type: str, points: np.ndarray,
               selected_from: bytes) -> bytes:
        """A SCOORD item: pixel points (N x 2, column and row as PS3.3 C.18.6.1.1 has them) as single-precision
        Graphic Data, with the IMAGE item (``selected_from``, its relationship SELECTED FROM) of the image and
        frame they are on."""
        return self._item(relationship, "SCOORD", name, [
            (GRAPHIC_DATA, encode_element(GRAPHIC_DATA, "FL", np.asarray(points, dtype="<f4").tobytes())),
            (GRAPHIC_TYPE, encode_element(GRAPHIC_TYPE, "CS", graphic_type.encode()))], [selected_from])

    # ------------------------------------------------------------ pieces
    def code_item(self, code: Code) -> bytes:
        """The elements of one Code Sequence item (PS3.3 Table 8.8-1a), encoded once per code."""
        encoded = self._codes.get(code)
        if encoded is None:
            keyword = code_value_keyword(code.value)
            value = {"CodeValue": lambda: self._text(0x00080100, "SH", code.value),
                     "LongCodeValue": lambda: self._text(0x00080119, "UC", code.value),
                     "URNCodeValue": lambda: encode_element(0x00080120, "UR", code.value.encode())}[keyword]()
            described = self._text(0x00080102, "SH", code.scheme) + self._text(0x00080104, "LO", code.meaning)
            encoded = value + described if keyword == "CodeValue" else described + value  # tag order
            self._codes[code] = encoded
        return encoded

    def _text(self, tag: int, vr: str, value: str) -> bytes:
        return encode_element(tag, vr, encode_string(value, self._encodings))

    def _item(self, relationship: str | None, value_type: str, name: Code, parts: list[tuple[int, bytes]],
              children: Sequence[bytes] = ()) -> bytes:
        parts = [*parts, (VALUE_TYPE, encode_element(VALUE_TYPE, "CS", value_type.encode())),
                 (CONCEPT_NAME_CODE_SEQUENCE, encode_sequence(CONCEPT_NAME_CODE_SEQUENCE, [self.code_item(name)]))]
        if relationship is not None:
            parts.append((RELATIONSHIP_TYPE, encode_element(RELATIONSHIP_TYPE, "CS", relationship.encode())))
        if children:
            parts.append((CONTENT_SEQUENCE, encode_sequence(CONTENT_SEQUENCE, children)))
        return b"".join(encoded for _, encoded in sorted(parts, key=lambda part: part[0]))
