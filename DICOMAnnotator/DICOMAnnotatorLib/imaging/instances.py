"""The headers of one DICOM image series, read from folders and files, before any geometry is checked.

Every way of opening images starts here: a volume (:mod:`.series`) and 2D images or cine
(:mod:`.images`) alike. Folders are searched recursively; files that are not DICOM and instances
that are not images (SEG, SR, RTSTRUCT...) are passed over there, while a file named explicitly
must be a DICOM image. The headers are grouped by series, and exactly one series is kept (the one
``--series-uid`` names, or the only one).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..dicom import header_value, read_header
from ..errors import InputError, SeriesError

#: Modalities whose instances describe other images rather than being images themselves.
NON_IMAGE_MODALITIES = frozenset({"SEG", "SR", "RTSTRUCT", "RTPLAN", "PR", "KO", "REG", "DOC", "RWV"})


def series_headers(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *,
                   series_uid: str | None = None) -> tuple[str, list[Dataset]]:
    """A name for messages and the headers (without pixel data) of the one image series in ``paths``."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    headers: list[Dataset] = []
    for path in (Path(p) for p in paths):
        if path.is_dir():
            headers.extend(_read_folder(path))
        elif path.is_file():
            ds = read_optional_header(path)
            if ds is None:
                raise InputError(f"{path} is not a DICOM file; give DICOM image files or a folder of them")
            if not is_image(ds):
                raise InputError(
                    f"{path} is a {ds.get('Modality', 'non-image')} object, not an image; "
                    "give the image series it refers to"
                )
            headers.append(ds)
        else:
            raise InputError(f"{path} does not exist; give a DICOM folder or files")
    name = str(paths[0]) if len(paths) == 1 else f"the {len(paths)} inputs starting with {paths[0]}"
    by_series: dict[str, list[Dataset]] = {}
    for ds in headers:
        by_series.setdefault(str(header_value(ds, "SeriesInstanceUID", "")), []).append(ds)
    if series_uid is not None:
        if series_uid not in by_series:
            raise SeriesError(f"{name} holds no image series {series_uid}; it has {_list_series(by_series)}")
        return name, by_series[series_uid]
    if not by_series:
        raise SeriesError(f"{name} holds no DICOM image; give a folder or files of one image series")
    if len(by_series) > 1:
        raise SeriesError(
            f"{name} holds {len(by_series)} image series ({_list_series(by_series)}); pick one with --series-uid"
        )
    return name, next(iter(by_series.values()))


def read_optional_header(path: Path) -> Dataset | None:
    """The header of a DICOM file without pixel data, or None when it is not DICOM."""
    try:
        return read_file(path, stop_before_pixels=True)
    except InvalidDicomError:
        return None


def read_file(path: Path, *, stop_before_pixels: bool) -> Dataset:
    """A DICOM file (its header alone, or with its pixel data); InputError when it cannot be read."""
    try:
        ds = read_header(path) if stop_before_pixels else pydicom.dcmread(path)
    except InvalidDicomError:
        raise
    except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{path} could not be read as DICOM ({exc}); the file may be truncated") from exc
    ds.filename = str(path)
    return ds


def is_image(ds: Dataset) -> bool:
    return "Rows" in ds and "Columns" in ds and str(header_value(ds, "Modality", "")) not in NON_IMAGE_MODALITIES


def path_of(ds: Dataset) -> Path | None:
    """The file a header was read from, when it was read from one."""
    filename = getattr(ds, "filename", None)
    return Path(filename) if isinstance(filename, (str, os.PathLike)) and filename else None


def _read_folder(folder: Path) -> list[Dataset]:
    headers = []
    for root, _dirs, files in os.walk(folder):
        for file_name in sorted(files):
            if file_name.upper() == "DICOMDIR":
                continue
            ds = read_optional_header(Path(root) / file_name)
            if ds is not None and is_image(ds):
                headers.append(ds)
    return headers


def _list_series(by_series: dict[str, list[Dataset]]) -> str:
    return "; ".join(
        f"{uid} ({items[0].get('Modality', '?')}, {len(items)} files)" for uid, items in sorted(by_series.items())
    )
