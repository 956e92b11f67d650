"""The files a case collects (SEG, SR, consensus SEG): checked, hashed, and checked again when signed.

A submission is recorded by path and SHA-256: the store never copies images or
segmentations, but it can always tell whether the file at that path is still the one that
was submitted, reviewed and signed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .audit import FileRecord
from .errors import SubmissionFileError

_SEG_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.66.4": "Segmentation Storage",
    "1.2.840.10008.5.1.4.1.1.66.7": "Label Map Segmentation Storage",
}
_CHUNK = 1 << 20


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def seg_record(path: str | os.PathLike[str], series_uid: str, *, role: str, case_id: int) -> FileRecord:
    """A DICOM SEG of the case's series, hashed; anything else is refused with what it is instead."""
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
    return FileRecord(role, str(path), sha256_of(path))


def sr_record(path: str | os.PathLike[str], series_uid: str, *, case_id: int, role: str = "sr") -> FileRecord:
    """A DICOM Structured Report; when it lists its evidence series, the case's series must be among them."""
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
    return FileRecord(role, str(path), sha256_of(path))


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
