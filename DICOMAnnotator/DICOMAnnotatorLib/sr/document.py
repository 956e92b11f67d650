"""The modules of a Comprehensive 3D SR document (PS3.3 A.35.13) around its content tree.

Built with pydicom as the SEG header is (``seg.header``), and equal to what highdicom 0.28's
``Comprehensive3DSR`` writes for the same content (a test compares them apart from UIDs and
times), without its deep copy of the content tree and its walk over it to collect evidence:

- Patient, Clinical Trial Subject, General Study, Patient Study and Clinical Trial Study: from
  the first source image through :mod:`..dicom.source_attributes` (the report belongs to the
  patient and study of its images);
- SR Document Series, General Equipment (this software), SR Document General (complete,
  unverified, preliminary; the evidence: every source image and the SEG, grouped by study and
  series, in Current Requested Procedure Evidence for the report's study and Pertinent Other
  Evidence for any other) and SOP Common;
- SR Document Content: the root container of the given template and title, its children
  already encoded (:mod:`.content`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from .. import MANUFACTURER, __version__
from ..dicom import (
    Code,
    code_item,
    derived_instance,
    encode_element,
    encode_items,
    encode_sequence,
    header_value,
    raw_element,
)

COMPREHENSIVE_3D_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.34"
CONTENT_SEQUENCE = 0x0040A730
CURRENT_REQUESTED_PROCEDURE_EVIDENCE = 0x0040A375
PERTINENT_OTHER_EVIDENCE = 0x0040A385


@dataclass(frozen=True)
class SrSeries:
    """How the report presents itself in a PACS: its series and the software that wrote it."""

    series_number: int
    series_description: str
    model_name: str


def sr_document(source: Dataset, evidence: Sequence[Dataset], title: Code, template: str,
                content: Sequence[bytes], series: SrSeries) -> Dataset:
    """The SR dataset (not yet written): header from ``source`` (the first source image), the instances
    of ``evidence`` (source images, SEG) as evidence, and the root container holding ``content``."""
    ds = derived_instance(source, COMPREHENSIVE_3D_SR_STORAGE, ExplicitVRLittleEndian, modality="SR",
                          series_number=series.series_number, series_description=series.series_description)
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = series.model_name
    ds.SoftwareVersions = __version__
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.PreliminaryFlag = "PRELIMINARY"
    ds.PerformedProcedureCodeSequence = []
    _add_evidence(ds, evidence)
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = [code_item(title)]
    ds.ContinuityOfContent = "CONTINUOUS"
    template_item = Dataset()
    template_item.MappingResource = "DCMR"
    template_item.TemplateIdentifier = template
    ds.ContentTemplateSequence = [template_item]
    ds[CONTENT_SEQUENCE] = raw_element(CONTENT_SEQUENCE, "SQ", encode_items(content))
    return ds


def _add_evidence(ds: Dataset, evidence: Sequence[Dataset]) -> None:
    """Hierarchical SOP Instance References (PS3.3 C.17.2.1) of every evidence instance, each once, grouped
    by study then series in the order first met; encoded to bytes (a 300-slice series is 300 items)."""
    studies: dict[str, dict[str, list[bytes]]] = {}
    seen: set[str] = set()
    for instance in evidence:
        uid = str(header_value(instance, "SOPInstanceUID"))
        if uid in seen:
            continue
        seen.add(uid)
        series = studies.setdefault(str(header_value(instance, "StudyInstanceUID")), {})
        series.setdefault(str(header_value(instance, "SeriesInstanceUID")), []).append(
            encode_element(0x00081150, "UI", str(header_value(instance, "SOPClassUID")).encode())
            + encode_element(0x00081155, "UI", uid.encode()))
    current, other = [], []
    for study_uid, series in studies.items():
        item = (encode_sequence(0x00081115, [  # ReferencedSeriesSequence
            encode_sequence(0x00081199, references) + encode_element(0x0020000E, "UI", series_uid.encode())
            for series_uid, references in series.items()])
            + encode_element(0x0020000D, "UI", study_uid.encode()))
        (current if study_uid == ds.StudyInstanceUID else other).append(item)
    for tag, items in ((CURRENT_REQUESTED_PROCEDURE_EVIDENCE, current), (PERTINENT_OTHER_EVIDENCE, other)):
        if items:
            ds[tag] = raw_element(tag, "SQ", encode_items(items))
