"""The files a case collects (SEG, SR, consensus SEG): checked, kept, and checked again when signed.

A submission is checked (the right DICOM object, of the case's series, with the protocol's
structures and answers), then copied into the store's own content-addressed files
(:mod:`.stored_files`) and recorded by that copy's path and SHA-256, so what was submitted,
reviewed and signed stays what it was whatever happens to the submitter's file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .audit import FileRecord
from .conformance import check_seg_structures, check_sr_answers
from .errors import SubmissionFileError
from .stored_files import FileStore, sha256_of

if TYPE_CHECKING:  # pragma: no cover
    from ..protocols import Protocol

_SEG_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage",
}


def seg_record(path: str | os.PathLike[str], series_uid: str, *, role: str, case_id: int, files: FileStore,
               protocol: Protocol | None = None) -> FileRecord:
    """A DICOM SEG of the case's series (with ``protocol``'s structures), kept in ``files``; anything else is
    refused with what it is instead."""
    path = Path(path).absolute()
    ds = _header(path, case_id)
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class not in _SEG_CLASSES:
        raise SubmissionFileError(f"{path} is not a DICOM SEG (SOP class {sop_class or 'missing'}, modality "
                                  f"{ds.get('Modality', 'missing')}); case {case_id} takes a segmentation of series "
                                  f"{series_uid}")
    referenced = [str(item.get("SeriesInstanceUID", "")) for item in ds.get("ReferencedSeriesSequence", [])]
    if series_uid not in referenced:
        raise SubmissionFileError(f"{path} segments series {', '.join(referenced) or '(none named)'}, but case "
                                  f"{case_id} is series {series_uid}; submit the segmentation of that series")
    if protocol is not None:
        check_seg_structures(path, protocol, case_id)
    return files.record(path, role)


def sr_record(path: str | os.PathLike[str], series_uid: str, *, case_id: int, files: FileStore, role: str = "sr",
              protocol: Protocol | None = None) -> FileRecord:
    """A DICOM Structured Report, kept in ``files``; when it lists its evidence series, the case's series must be
    among them, and its answers must be ``protocol``'s."""
    path = Path(path).absolute()
    ds = _header(path, case_id)
    if str(ds.get("Modality", "")) != "SR":
        raise SubmissionFileError(f"{path} is not a DICOM Structured Report (modality {ds.get('Modality', 'missing')})"
                                  f"; give the SR of case {case_id} as the second file, or none")
    evidence = {str(series.get("SeriesInstanceUID", ""))
                for study in ds.get("CurrentRequestedProcedureEvidenceSequence", [])
                for series in study.get("ReferencedSeriesSequence", [])}
    if evidence and series_uid not in evidence:
        raise SubmissionFileError(f"{path} reports on series {', '.join(sorted(evidence))}, not on series {series_uid} "
                                  f"of case {case_id}")
    if protocol is not None:
        check_sr_answers(path, protocol, case_id)
    return files.record(path, role)


def submitted_files(first: str | os.PathLike[str], second: str | os.PathLike[str] | None) -> tuple:
    """``case submit CASE SEG [SR]`` as (SEG, SR): a lone file that is an SR is an SR-only submission."""
    if second is None and _modality(Path(first)) == "SR":
        return None, first
    return first, second


def _modality(path: Path) -> str | None:
    import pydicom

    try:
        return str(pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality", ""))
    except Exception:  # unreadable: submit names the problem when it checks the file
        return None


def check_unchanged(record: FileRecord, case_id: int) -> None:
    """Refuse to sign a file that is gone or differs from the one recorded."""
    path = Path(record.path)
    if not path.is_file():
        raise SubmissionFileError(f"{path} ({record.role} of case {case_id}) is missing; restore it before signing")
    if sha256_of(path) != record.sha256:
        raise SubmissionFileError(f"{path} ({record.role} of case {case_id}) changed since it was recorded (SHA-256 "
                                  f"{record.sha256[:12]}...); restore the recorded file or request changes")


def _header(path: Path, case_id: int):
    import pydicom
    from pydicom.errors import InvalidDicomError

    if not path.is_file():
        raise SubmissionFileError(f"{path} does not exist; give the file to record for case {case_id}")
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError) as error:
        raise SubmissionFileError(f"{path} is not a readable DICOM file ({error}); case {case_id} takes DICOM "
                                  "SEG/SR files") from error
