"""Helpers of the PACS tests: phantom studies to send, and what came back, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pydicom
from DICOMAnnotatorLib.imaging import phantoms


def write_study(folder: Path, *, series: int = 2, slices: int = 6, size: tuple[int, int] = (32, 24),
                patient_id: str = "PACS-TEST") -> tuple[str, dict[str, bytes]]:
    """A phantom CT study of ``series`` series; its Study Instance UID and each file's bytes by SOP Instance UID."""
    study = pydicom.uid.generate_uid()
    files: dict[str, bytes] = {}
    for number in range(series):
        geometry = phantoms.phantom_geometry(size=(*size, slices))
        hu, _ = phantoms.phantom_volume(geometry)
        datasets = phantoms.ct_datasets(geometry, hu, study_uid=study, patient_id=patient_id)
        for ds in datasets:
            ds.SeriesNumber = number + 1
        for path in phantoms.write_datasets(datasets, folder / f"series{number + 1}"):
            files[pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID] = path.read_bytes()
    return study, files


def pulled_files(folder: Path) -> dict[str, bytes]:
    """Each pulled file's bytes by SOP Instance UID (its name), checked to be under <study>/<series>/."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            assert path.suffix == ".dcm" and len(path.relative_to(folder).parts) == 3, path
            assert path.stem not in found, f"{path.stem} pulled twice"
            found[path.stem] = path.read_bytes()
    return found


def data_set_bytes(part10: bytes) -> bytes:
    """A Part 10 file's data set: the bytes after its File Meta Information group (PS3.10 7.1)."""
    assert part10[128:132] == b"DICM"
    group_length = int.from_bytes(part10[140:144], "little")  # (0002,0000) UL, explicit VR: 132 + 8 header bytes
    return part10[144 + group_length:]
