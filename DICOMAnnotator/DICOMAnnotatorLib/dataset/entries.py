"""One final case into the dataset: its files (NIfTI, or the DICOM as it is) and its manifest entry.

This is the part of an export that runs on a worker (a local process or a Dask worker): it
reads only the files it is given and writes only under the case's own folder, so the same case
gives the same bytes wherever it runs. Everything the manifest says about the case is measured
here from those files (the image header, the signed SEG, the SR's answers) or was handed over
from the review store (who annotated, reviewed and signed): a number in the dataset card is a
sum or a count over these entries.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..dicom import header_value, read_header
from ..errors import DICOMAnnotatorError, InputError

FORMATS = ("nifti", "dicom")
#: Patient's Age (AS, PS3.5 6.2) units to years.
_AGE_UNITS = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}


@dataclass(frozen=True)
class CaseInputs:
    """What a worker needs for one case: its image files, the signed result and the store's account of it."""

    case: int
    images: tuple[str, ...]
    seg: str | None
    sr: str | None
    review: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportSettings:
    """Where and how cases are written (``output`` None: entries only, for a card without an export)."""

    output: str | None
    fmt: str
    protocol: dict[str, Any]


def export_cases(settings: ExportSettings, chunk: list[CaseInputs]) -> list[dict[str, Any]]:
    """The entries of ``chunk``; a case that cannot be exported is an entry with its ``error``, never an exception."""
    entries = []
    for inputs in chunk:
        try:
            entries.append(case_entry(inputs, settings))
        except DICOMAnnotatorError as error:
            entries.append({"case": inputs.case, "error": str(error)})
        except Exception as error:  # a damaged file must not stop the export: report it and go on
            entries.append({"case": inputs.case, "error": f"cannot be exported: {type(error).__name__}: {error}"})
    return entries


def case_entry(inputs: CaseInputs, settings: ExportSettings) -> dict[str, Any]:
    from ..imaging import ReferenceSeries
    from ..protocols import Protocol

    protocol = Protocol.from_dict(settings.protocol, source="the project's protocol")
    if not inputs.images:
        raise InputError(f"Case {inputs.case} has no image files")
    series = ReferenceSeries.from_paths(list(inputs.images))
    header = read_header(inputs.images[0])
    segmentation = _protocol_segmentation(inputs, series, protocol) if inputs.seg else None
    entry: dict[str, Any] = {
        "case": inputs.case,
        "patient": str(header.get("PatientID", "") or "") or f"unknown (study {series.study_instance_uid})",
        "study": series.study_instance_uid,
        "series": series.series_instance_uid,
        "split": None,
        "modality": series.modality,
        "manufacturer": _text(header, "Manufacturer"),
        "model": _text(header, "ManufacturerModelName"),
        "slice_thickness_mm": _number(header_value(header, "SliceThickness")),
        "pixel_spacing_mm": [round(float(v), 6) for v in header.get("PixelSpacing") or []] or None,
        "size": list(series.geometry.size),
        "sex": _text(header, "PatientSex"),
        "age_years": _age(_text(header, "PatientAge")),
        "deidentification": _deidentification(header),
        "protocol": {"id": protocol.id, "version": protocol.version},
        **inputs.review,
        "structures": _structures(segmentation, protocol),
        "answers": _answers(inputs.sr, protocol),
        "files": [],
    }
    if settings.output is not None:
        entry["files"] = _write_files(inputs, settings, segmentation)
    return entry


def _protocol_segmentation(inputs: CaseInputs, series: Any, protocol: Any) -> Any:
    """The signed SEG with each segment numbered by its protocol structure's label value (matched by codes)."""
    from ..imaging import Segmentation, segment_key
    from ..seg import read_seg

    signed = read_seg(inputs.seg, series)
    by_key = {segment_key(d): d for d in protocol.segment_descriptions()}
    descriptions, masks = [], {}
    for description in signed.segments:
        structure = by_key.get(segment_key(description))
        if structure is None:
            raise InputError(f"Case {inputs.case}: segment {description.number} '{description.label}' of the signed "
                             f"SEG is not a structure of protocol '{protocol.id}'")
        descriptions.append(structure)
        masks[structure.number] = signed.mask(description.number)
    return Segmentation(series.geometry, descriptions, masks, kind=signed.kind, reference=series,
                        author=signed.author, protocol_id=protocol.id)


def _structures(segmentation: Any, protocol: Any) -> list[dict[str, Any]]:
    """Every volume structure of the protocol with its voxels and volume in the signed result (0 when absent)."""
    present = {d.number for d in segmentation.segments} if segmentation is not None else set()
    rows = []
    for description in protocol.segment_descriptions():
        number = description.number
        voxels = segmentation.voxel_count(number) if number in present else 0
        volume = round(segmentation.volume_ml(number), 6) if number in present else 0.0
        rows.append({"structure": description.label, "label_value": number, "voxels": voxels, "volume_ml": volume})
    return rows


def _answers(sr: str | None, protocol: Any) -> dict[str, str]:
    """The classification answers of the signed result's SR: question -> answer (code meanings), the question
    named by its protocol structure's label where the protocol has it (matched by code)."""
    if sr is None:
        return {}
    from ..sr import sr_summary

    questions = {(s.type.value, s.type.scheme): s.label for s in protocol.structures
                 if s.kind.value == "classification"}
    answers = {}
    for label in sr_summary(sr)["labels"]:
        value, scheme, meaning = (str(part) for part in label["name"])
        answers[questions.get((value, scheme), meaning)] = str(label["value"][2])
    return dict(sorted(answers.items()))


def _write_files(inputs: CaseInputs, settings: ExportSettings, segmentation: Any) -> list[dict[str, str]]:
    relative = Path("cases") / f"case-{inputs.case:05d}"
    folder = Path(settings.output) / relative
    with atomic_path(folder, force=True, directory=True) as work:
        if settings.fmt == "nifti":
            if segmentation is not None:
                from ..export import export_nifti

                export_nifti(segmentation, work / "nifti", source=f"case {inputs.case}, signed result")
                for name in ("image.nii.gz", "labels.nii.gz", "labels.json"):
                    os.replace(work / "nifti" / name, work / name)
                (work / "nifti").rmdir()
            else:  # a protocol of marks and answers only: the image, and the SR below
                _write_image_only(inputs, work)
        else:
            images = work / "images"
            images.mkdir()
            for index, path in enumerate(sorted(inputs.images), start=1):
                shutil.copyfile(path, images / f"{index:05d}.dcm")
            if inputs.seg:
                shutil.copyfile(inputs.seg, work / "seg.dcm")
        if inputs.sr:
            shutil.copyfile(inputs.sr, work / "sr.dcm")
    return [{"path": str(relative / path.relative_to(folder)), "sha256": _sha256(path)}
            for path in sorted(p for p in folder.rglob("*") if p.is_file())]


def _write_image_only(inputs: CaseInputs, work: Path) -> None:
    from ..imaging import ReferenceSeries, write_image

    series = ReferenceSeries.from_paths(list(inputs.images))
    write_image(series.read_voxels(), series.geometry, work / "image.nii.gz")


def _deidentification(header: Any) -> dict[str, Any]:
    """What the images say about their de-identification (PS3.3 C.7.1.1: Patient Identity Removed, method codes)."""
    codes = [str(item.get("CodeMeaning", "") or item.get("CodeValue", ""))
             for item in header.get("DeidentificationMethodCodeSequence") or []]
    method = header.get("DeidentificationMethod")
    methods = [str(m) for m in (method if isinstance(method, (list, tuple)) or type(method).__name__ == "MultiValue"
                                else [method] if method else [])]
    return {"patient_identity_removed": _text(header, "PatientIdentityRemoved"), "methods": methods,
            "options": codes}


def _text(header: Any, keyword: str) -> str | None:
    value = header.get(keyword)
    text = str(value).strip() if value is not None else ""
    return text or None


def _number(value: Any) -> float | None:
    try:
        return round(float(value), 6) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _age(value: str | None) -> float | None:
    if not value or len(value) != 4 or not value[:3].isdigit() or value[3] not in _AGE_UNITS:
        return None
    return round(int(value[:3]) * _AGE_UNITS[value[3]], 2)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
