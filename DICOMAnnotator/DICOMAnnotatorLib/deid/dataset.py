"""Applying the profile to one dataset: every attribute, at any depth, gets its table action.

Decisions that the table leaves to the implementation, made here once:

- Conditional actions (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) depend on the attribute's Type in the IOD:
  at the top level of a file of a SOP class that PS3.3's tables know, it is looked up (Type 3
  removed, Type 2 emptied, Type 1 a dummy); inside sequences and for unknown SOP classes the
  choice that keeps any IOD conformant is taken (``profile.conditional_action``).
- D on a sequence keeps its structure (codes, numbers, mapped UIDs) and replaces every free
  text, name, date and time inside it with a dummy; C on a sequence cleans that text instead.
- Patient ID, Patient's Name and Accession Number get keyed pseudonyms instead of dummies, so
  that studies still group by patient after de-identification.
- Overlays (60xx) are removed as whole groups (removing only Overlay Data would leave a
  broken Overlay Plane module); curves (50xx) likewise. With Clean Graphics they stay, their
  text cleaned; their bitmaps are cleaned with the pixels (see ``pixels``).
- Standard attributes missing from pydicom's dictionary (newer than it) are removed, as
  unknown content could carry identity (E.1.1 note 1).
- An attribute whose presence PS3.3 conditions on one that was removed (or emptied, where the
  condition asks for a value) is removed with it, in the same dataset or Sequence Item
  (``profile.presence_rules``): Responsible Person Role goes with Responsible Person.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

from pydicom.datadict import DicomDictionary, dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from .. import IMPLEMENTATION_CLASS_UID, __version__
from .dates import shift_da, shift_dt
from .mapping import KeyedMapper
from .options import DatePolicy, DeidOptions
from .profile import (
    CONDITIONAL_ACTIONS,
    ActionTable,
    PresenceRule,
    conditional_action,
    iod_attribute_types,
    presence_rules,
    safe_private_attributes,
)
from .scrub import TextScrubber, date_spellings
from .values import DUMMY_TEXT, FREE_TEXT_VRS, dummy_value, empty_value

_VR = {tag: entry[0] for tag, entry in DicomDictionary.items()}
_ATTENTION_VRS = frozenset({"SQ", "DA", "DT", "TM", "PN"})
#: Standard attributes whose VR needs a look even when the table does not list them.
_BY_VR_TAGS = {tag: vr for tag, vr in _VR.items() if vr in _ATTENTION_VRS}

PATIENT_ID, PATIENT_NAME, ACCESSION_NUMBER = 0x00100020, 0x00100010, 0x00080050
_PSEUDONYM_TAGS = frozenset({PATIENT_ID, PATIENT_NAME, ACCESSION_NUMBER})
#: VRs whose replacements are stored as raw bytes (ASCII dummies and UIDs), see ``_raw_element``.
_RAW_VRS = frozenset({*DUMMY_TEXT, "UI"})
PATIENT_BIRTH_DATE = 0x00100030
#: Attributes of coded concepts: structure, not free text, inside sequences given D or C.
CODE_TAGS = frozenset({
    0x00080100, 0x00080102, 0x00080103, 0x00080104, 0x00080105, 0x00080106, 0x00080107, 0x0008010B,
    0x0008010F, 0x00080117, 0x00080118, 0x00080119, 0x00080120, 0x00080122, 0x00080123,
})
#: Top-level values the text cleaner blanks out wherever they appear in retained text.
IDENTIFYING_KEYWORDS = (
    "PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID", "PatientAddress", "PatientTelephoneNumbers",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName", "DeviceSerialNumber",
    "MedicalRecordLocator", "IssuerOfPatientID", "RegionOfResidence", "CountryOfResidence", "MilitaryRank",
    "BranchOfService", "ResponsibleOrganization", "PatientReligiousPreference",
)

#: De-identification Method Code Sequence codes (CID 7050), by option.
METHOD_CODES = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_pixel_data": ("113101", "Clean Pixel Data Option"),
    "clean_recognizable_visual_features": ("113102", "Clean Recognizable Visual Features Option"),
    "clean_graphics": ("113103", "Clean Graphics Option"),
    "clean_structured_content": ("113104", "Clean Structured Content Option"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_full_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "retain_modified_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
}


class _Mode(enum.Enum):
    """How unlisted text is treated inside a sequence: kept, replaced by dummies (D) or cleaned (C)."""

    NORMAL = "normal"
    DUMMY = "dummy"
    CLEAN = "clean"


@dataclass
class _Context:
    patient_key: str
    date_offset: int | None
    identifiers: list[str]
    #: The top-level attributes with combined actions that the file's IOD requires (None: unknown SOP class).
    required: dict[int, str] | None = None
    scrubber: TextScrubber | None = None
    counts: Counter = field(default_factory=Counter)

    def scrub(self, text: str) -> str:
        if self.scrubber is None:
            self.scrubber = TextScrubber(self.identifiers)
        return self.scrubber.scrub(text)


def patient_key(ds: Dataset) -> str:
    """What identifies the patient for pseudonyms and date shifts: Patient ID, else name and birth date."""
    pid = str(ds.get("PatientID", "") or "").strip()
    if pid:
        return pid
    return f"{ds.get('PatientName', '') or ''}|{ds.get('PatientBirthDate', '') or ''}"


class Deidentifier:
    """Applies the Basic Profile with ``options`` to datasets, with ``mapper``'s keyed replacements."""

    def __init__(self, options: DeidOptions, mapper: KeyedMapper) -> None:
        self.options = options
        self.mapper = mapper
        self.table = ActionTable.for_options(options)
        self._overlay_action = self.table.repeating_action(0x60003000) or "X"
        self._curve_action = self.table.repeating_action(0x50000000) or "X"
        self._marks = {(implicit, little): _encoded(self._marks_dataset(), implicit, little)
                       for implicit in (False, True) for little in (False, True)}
        # Cleaning text needs the dataset's own identifiers, read before anything is replaced.
        self._cleans_text = "C" in {*self.table.exact.values(), self._overlay_action, self._curve_action}

    # ------------------------------------------------------------------ public
    def deidentify(self, ds: Dataset) -> Counter:
        """De-identify ``ds`` in place (file meta replaced too); returns counts of what was done."""
        key = patient_key(ds)
        offset = self.mapper.date_offset_days(key) if self.options.dates is DatePolicy.SHIFT else None
        ctx = _Context(key, offset, _identifying_values(ds) if self._cleans_text else [],
                       iod_attribute_types().get(peek(ds, "SOPClassUID")))
        self._walk(ds, _Mode.NORMAL, ctx, top=True)
        self._mark(ds)
        ds.file_meta = self._file_meta(ds)
        ds.preamble = b"\0" * 128
        return ctx.counts

    def add_method_code(self, ds: Dataset, option: str) -> None:
        """Add one option to De-identification Method Code Sequence and to the De-identification Method
        text (e.g. after this file's pixels were cleaned), as the run's options are there."""
        value, meaning = METHOD_CODES[option]
        if any(item.CodeValue == value for item in ds.DeidentificationMethodCodeSequence):
            return
        ds.DeidentificationMethodCodeSequence.append(_code(value, meaning))
        ds.DeidentificationMethod = [*ds.DeidentificationMethod, meaning]

    # ------------------------------------------------------------------ walking
    def _walk(self, ds: Dataset, mode: _Mode, ctx: _Context, *, top: bool = False) -> None:
        keep_private = self._safe_private(ds) if self.table.private != "X" else frozenset()
        conditioned = [rule for rule in presence_rules() if rule.dependent in ds and _condition_holds(ds, rule)]
        for tag in list(ds.keys()):
            group, element = tag >> 16, tag & 0xFFFF
            if group & 1:
                if tag not in keep_private:
                    del ds[tag]
                    ctx.counts["removed"] += 1
                continue
            action = self.table.exact.get(tag)
            if action is None:
                action = self._unlisted_action(tag, group, element, mode)
                if action is None:
                    continue
            self._apply(ds, tag, action, mode, ctx, top)
        for rule in conditioned:
            if rule.dependent in ds and not _condition_holds(ds, rule):
                del ds[rule.dependent]
                ctx.counts["removed"] += 1

    def _unlisted_action(self, tag: int, group: int, element: int, mode: _Mode) -> str | None:
        """The action for an attribute the table does not list; None to keep it untouched."""
        if 0x6000 <= group <= 0x601E and not group & 1:
            return "X" if self._overlay_action == "X" else ("C" if element in (0x0022, 0x1500, 0x4000) else None)
        if 0x5000 <= group <= 0x501E and not group & 1:
            return "X" if self._curve_action == "X" else ("C" if _vr_of(tag) in FREE_TEXT_VRS else None)
        if element == 0 or group in (0x0000, 0x0002):
            return "X"  # group lengths, command and file meta elements do not belong in a dataset
        vr = _BY_VR_TAGS.get(tag)
        if vr is not None:
            return "K" if vr == "SQ" else self.table.by_vr[vr]
        if tag not in _VR:
            return "X"
        if mode is not _Mode.NORMAL and _VR[tag] in FREE_TEXT_VRS and tag not in CODE_TAGS:
            return "D" if mode is _Mode.DUMMY else "C"
        return None

    def _apply(self, ds: Dataset, tag: int, action: str, mode: _Mode, ctx: _Context, top: bool) -> None:
        # Decide on the raw element where possible: converting every element costs more than the
        # rest of de-identification, and kept or removed elements never need it.
        raw = ds.get_item(tag)
        vr = raw.VR if raw.VR not in (None, "UN") else _VR.get(tag, "UN")
        empty = raw.length == 0 if raw.is_raw else raw.is_empty
        if action in CONDITIONAL_ACTIONS:
            required = ctx.required.get(tag, "3") if top and ctx.required is not None else None
            action = conditional_action(action, required, sequence=vr == "SQ", empty=empty)
        if action == "X":
            del ds[tag]
            ctx.counts["removed"] += 1
            return
        if (action == "K" and vr != "SQ") or (empty and action in ("Z", "U", "C")):
            return
        if raw.is_raw and action in ("Z", "D", "U") and vr in _RAW_VRS and tag not in _PSEUDONYM_TAGS:
            ds[tag] = _raw_element(raw, vr, self._raw_value(action, vr, raw.value))
            ctx.counts["replaced"] += 1
            return
        elem = ds[tag]
        if action == "K":
            self._walk_items(elem.value, mode, ctx)
        elif action == "U":
            elem.value = self._map_uids(elem.value)
            ctx.counts["replaced"] += 1
        elif action in ("Z", "D") and tag in _PSEUDONYM_TAGS and not empty:
            elem.value = self._pseudonym(tag, str(elem.value), ctx, top)
            ctx.counts["replaced"] += 1
        elif action == "Z":
            elem.value = empty_value(elem.VR)
            ctx.counts["replaced"] += 1
        elif action == "D":
            self._dummy(elem, ctx)
        elif action == "C":
            self._clean(elem, ctx)
        else:
            raise ValueError(f"Unknown de-identification action {action!r} for {tag:08X}")

    def _raw_value(self, action: str, vr: str, original: bytes) -> bytes:
        """The encoded replacement for a raw element (Z, D or U on a text or UID value)."""
        if action == "Z":
            return b""
        if vr == "UI":
            uids = [v.strip("\0 ") for v in original.decode("ascii", "replace").split("\\")]
            return _pad("\\".join(self.mapper.uid(uid) for uid in uids if uid).encode(), b"\0")
        return _pad(DUMMY_TEXT[vr].encode(), b" ")

    def _walk_items(self, items: Sequence, mode: _Mode, ctx: _Context) -> None:
        for item in items:
            self._walk(item, mode, ctx)

    def _dummy(self, elem, ctx: _Context) -> None:
        if elem.VR == "SQ":
            self._walk_items(elem.value, _Mode.DUMMY, ctx)
        elif elem.VR == "UI":
            if not elem.is_empty:
                elem.value = self._map_uids(elem.value)
        else:
            elem.value = dummy_value(elem.VR)
        ctx.counts["replaced"] += 1

    def _clean(self, elem, ctx: _Context) -> None:
        vr = elem.VR
        if vr == "SQ":
            self._walk_items(elem.value, _Mode.CLEAN, ctx)
            return
        if elem.is_empty:
            return
        if vr in ("DA", "DT"):
            shift = shift_da if vr == "DA" else shift_dt
            values = _values(elem.value)
            shifted = [shift(v, ctx.date_offset) if ctx.date_offset is not None else "" for v in values]
            elem.value = shifted if len(shifted) > 1 else shifted[0]
        elif vr in FREE_TEXT_VRS or vr == "PN":
            values = [ctx.scrub(str(v)) for v in _values(elem.value)]
            elem.value = values if len(values) > 1 else values[0]
        else:
            return
        ctx.counts["replaced"] += 1

    # ------------------------------------------------------------------ replacements
    def _map_uids(self, value):
        uids = [self.mapper.uid(str(v)) for v in _values(value) if str(v)]
        return uids if len(uids) != 1 else uids[0]

    def _pseudonym(self, tag: int, value: str, ctx: _Context, top: bool) -> str:
        if tag == PATIENT_ID:
            return self.mapper.patient_id(value.strip())
        if tag == PATIENT_NAME:
            return self.mapper.patient_name(ctx.patient_key if top else value.strip())
        return self.mapper.accession_number(value.strip())

    def _safe_private(self, ds: Dataset) -> frozenset[int]:
        """Private tags to keep under Retain Safe Private: listed safe elements and their creators."""
        safe = safe_private_attributes()
        creators = {}
        for tag in ds.keys():
            group, element = tag >> 16, tag & 0xFFFF
            if group & 1 and 0x10 <= element <= 0xFF:
                creators[(group, element)] = str(ds[tag].value).strip()
        keep = set()
        for tag in ds.keys():
            group, element = tag >> 16, tag & 0xFFFF
            if group & 1 and element > 0xFF:
                creator = creators.get((group, element >> 8))
                if creator is not None and (group, creator, element & 0xFF) in safe:
                    keep.update({tag, (group << 16) | (element >> 8)})
        return frozenset(keep)

    # ------------------------------------------------------------------ marking
    def _mark(self, ds: Dataset) -> None:
        # Raw elements are copied as they are, so the marks must be in the file's own encoding (Explicit VR
        # Big Endian files too: little-endian marks made their De-identification Method Code Sequence unreadable).
        implicit, little = ds.original_encoding
        marks = self._marks[(bool(implicit), little is None or bool(little))]
        for tag in marks.keys():
            ds[tag] = marks.get_item(tag)

    def _marks_dataset(self) -> Dataset:
        """Patient Identity Removed, De-identification Method (+ Code Sequence), Longitudinal
        Temporal Information Modified: the same for every file of a run."""
        ds = Dataset()
        ds.PatientIdentityRemoved = "YES"
        enabled = sorted(self.options.enabled_columns())
        ds.DeidentificationMethod = [f"DICOMAnnotator {__version__}",
                                     f"PS3.15 {self.table.edition} Basic Profile",
                                     *(METHOD_CODES[name][1] for name in enabled)]
        ds.DeidentificationMethodCodeSequence = [_code(*METHOD_CODES[name]) for name in ["basic", *enabled]]
        ds.LongitudinalTemporalInformationModified = {
            DatePolicy.REMOVE: "REMOVED", DatePolicy.KEEP: "UNMODIFIED", DatePolicy.SHIFT: "MODIFIED",
        }[self.options.dates]
        return ds

    @staticmethod
    def _file_meta(ds: Dataset) -> FileMetaDataset:
        """A new File Meta Information group that describes this application (E.1.1 step 7)."""
        old = getattr(ds, "file_meta", None)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = old.get("TransferSyntaxUID", ExplicitVRLittleEndian) if old else ExplicitVRLittleEndian
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = f"DICOMANNOT_{__version__}"[:16]
        return meta


def _pad(value: bytes, padding: bytes) -> bytes:
    return value + padding if len(value) % 2 else value


def _raw_element(like: RawDataElement, vr: str, value: bytes) -> RawDataElement:
    """A replacement kept as encoded bytes, as a file holds it: converting the original element
    and re-encoding it through pydicom would cost more than the rest of the work on a file, and
    ``dicom.part10.save_part10`` copies raw elements as they are."""
    return RawDataElement(like.tag, vr, len(value), value, 0, like.is_implicit_VR, like.is_little_endian)


def _encoded(ds: Dataset, implicit: bool, little: bool) -> Dataset:
    """``ds`` encoded once and read back lazily: its elements are raw, ready to be copied into
    every file of the run (see ``_raw_element``)."""
    buffer = DicomBytesIO()
    buffer.is_implicit_VR, buffer.is_little_endian = implicit, little
    write_dataset(buffer, ds)
    buffer.seek(0)
    return read_dataset(buffer, implicit, little)


def peek(ds: Dataset, keyword: str) -> str:
    """A top-level text value without converting the element (conversion makes writing slower)."""
    if keyword not in ds:
        return ""
    elem = ds.get_item(keyword)
    if elem.is_raw:
        return (elem.value or b"").decode("latin-1").strip("\0 ")
    return str(elem.value if elem.value is not None else "").strip()


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _values(value) -> list:
    return list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]


def _condition_holds(ds: Dataset, rule: PresenceRule) -> bool:
    """Whether a trigger of ``rule`` is in ``ds`` (with a value, where the rule asks for one)."""
    for tag in rule.triggers:
        if tag in ds:
            elem = ds.get_item(tag)
            if not rule.needs_value or (elem.length if elem.is_raw else not elem.is_empty):
                return True
    return False


def _vr_of(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _identifying_values(ds: Dataset) -> list[str]:
    """Top-level names, IDs, addresses and dates that must not survive in retained free text."""
    values: list[str] = []
    for tag in ds.keys():
        vr = _VR.get(tag)
        if vr in ("PN", "DA") and not ds[tag].is_empty:
            for value in _values(ds[tag].value):
                values.extend([str(value)] if vr == "PN" else date_spellings(str(value)))
    for keyword in IDENTIFYING_KEYWORDS:
        value = ds.get(keyword)
        if value and not isinstance(value, Sequence):
            values.extend(str(v) for v in _values(value))
    return values
