"""The attributes a derived object (SEG, SR) takes from its source image: patient, study, specimen.

A segmentation or a report describes the same patient and study as the images it was made on
(PS3.3 A.51, A.35: the Patient and Study IEs are the source's), so it carries every top-level
attribute of the Patient, Clinical Trial Subject, General Study, Patient Study, Clinical Trial
Study and Specimen modules that the source has; the list is PS3.3's
(``resources/dicom/copied-modules.json``, made by ``scripts/generate_copied_modules.py``).
Anonymised and converted series break the rules here more than anywhere: a value against its
VR (Patient's Age "0Y") is left out, or left empty where the attribute is Type 2, and a missing
Type 2 attribute is added empty, and an empty sequence (Philips writes an empty Procedure Code
Sequence) is left out: a Type 1 or 3 sequence that is present holds at least one item (PS3.5 7.5.3),
and the top-level sequences of these modules are Type 3 but for the two Type 2C breed sequences
of non-human patients, which stay empty as the source has them. So the derived object stays
valid. The log names the attribute, never its value.
"""

from __future__ import annotations

import datetime
import json
import logging
from functools import cache

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import generate_uid
from pydicom.valuerep import validate_value

from .. import RESOURCES
from .part10 import new_file_meta

log = logging.getLogger(__name__)

#: Modules copied from the source image, by their PS3.3 names.
COPIED_MODULES = ("patient", "clinical-trial-subject", "general-study", "patient-study", "clinical-trial-study",
                  "specimen")
#: Type 2 attributes of the Patient and General Study modules: present, empty when the source lacks them.
REQUIRED_EMPTY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                  "ReferringPhysicianName", "StudyID", "AccessionNumber")
#: Top-level sequences of the copied modules that may be present and empty (Type 2C, Patient Module).
EMPTY_SEQUENCES_ALLOWED = frozenset({"PatientBreedCodeSequence", "BreedRegistrationSequence"})
#: VRs whose values are text that pydicom can check against the VR's rules.
_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR",
                       "UT"})
_RESOURCE = RESOURCES / "dicom" / "copied-modules.json"


def derived_instance(source: Dataset, sop_class_uid: str, transfer_syntax_uid: str, *, modality: str,
                     series_number: int, series_description: str) -> Dataset:
    """A new instance derived from ``source`` (a SEG, an SR), alone in a new series: file meta, SOP Common
    (the source's character set, creation date and time, also its content date and time), the
    source's patient and study (:func:`copy_patient_and_study`) and the General Series essentials."""
    now = datetime.datetime.now()
    ds = Dataset()
    ds.file_meta = new_file_meta(sop_class_uid, generate_uid(), transfer_syntax_uid)
    ds.preamble = b"\0" * 128
    if source.get("SpecificCharacterSet"):
        ds.SpecificCharacterSet = source.SpecificCharacterSet
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.InstanceCreationDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = ds.ContentTime = now.strftime("%H%M%S.%f")
    copy_patient_and_study(source, ds)
    ds.Modality = modality
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = series_description[:64]
    ds.InstanceNumber = 1
    return ds


def copy_patient_and_study(source: Dataset, target: Dataset) -> None:
    """Copy the source's valid Patient, Study and Specimen attributes into ``target`` (top level;
    sequences whole, empty ones left out), with every Type 2 Patient and General Study attribute present."""
    for tag in _copied_tags():
        if tag not in source:
            continue
        element = source[tag]
        if element.VR == "SQ" and not element.value and element.keyword not in EMPTY_SEQUENCES_ALLOWED:
            log.info("The source's %s is an empty sequence: left out", element.keyword)
            continue
        if element.VR != "SQ" and not _valid(element):
            log.info("The source's %s is not a valid %s value: left %s", element.keyword, element.VR,
                     "empty" if element.keyword in REQUIRED_EMPTY else "out")
            continue
        target.add(element)
    for keyword in REQUIRED_EMPTY:
        if keyword not in target:
            setattr(target, keyword, "")


@cache
def _copied_tags() -> tuple[int, ...]:
    table = json.loads(_RESOURCE.read_text(encoding="utf-8"))["modules"]
    return tuple(sorted({int(tag, 16) for module in COPIED_MODULES for tag in table[module]}))


def _valid(element: DataElement) -> bool:
    """Whether every value of a text element is valid for its VR (other VRs: always)."""
    if element.VR not in _TEXT_VRS or element.value in (None, ""):
        return True
    values = element.value if isinstance(element.value, (list, MultiValue)) else [element.value]
    try:
        for value in values:
            validate_value(element.VR, str(value), config.RAISE)
    except ValueError:
        return False
    return True
