"""Instances on both sides of a transfer: what a PACS lists, and the local folder that receives them.

A pulled instance is written to ``DIR/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``
exactly as the PACS sent it, under a temporary name first and renamed once complete: a file under
its final name is always whole, so a later run knows what arrived by looking for its SOP Instance
UID, and an interrupted run leaves nothing that looks finished. UIDs from the network become
file names only after they are checked to be UIDs (digits and dots), so a PACS cannot write
outside DIR.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .retry import TransferError

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
#: Where received bytes wait (hidden, inside the output so that the rename stays on one file system).
INCOMING = ".incoming"
_UID_TAGS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality")


@dataclass(frozen=True)
class InstanceRef:
    """One instance by its UIDs (``sop_class`` and ``modality`` when the source told them)."""

    study: str
    series: str
    sop: str
    sop_class: str | None = None
    modality: str | None = None
    path: str | None = None

    def relative_path(self) -> Path:
        for uid in (self.study, self.series, self.sop):
            check_uid(uid)
        return Path(self.study) / self.series / f"{self.sop}.dcm"

    def to_json(self) -> dict[str, str | None]:
        return {"study": self.study, "series": self.series, "sop_instance_uid": self.sop}


def check_uid(uid: str) -> str:
    """``uid`` if it is a UID (PS3.5 9.1: digits and dots, at most 64 characters), else a :class:`TransferError`."""
    if not isinstance(uid, str) or len(uid) > 64 or not _UID.fullmatch(uid):
        raise TransferError(f"{str(uid)[:80]!r} is not a DICOM UID; the instance was not written")
    return uid


def header_ref(path: str | os.PathLike[str]) -> InstanceRef:
    """The UIDs of a Part 10 file, read from the bytes of its header (``dicom.read_header``: no pixel data, no
    value converted that is not asked for)."""
    from pydicom.errors import InvalidDicomError

    from ..dicom import header_value, read_header

    try:
        ds = read_header(path)
        values = {keyword: str(header_value(ds, keyword) or "").strip() for keyword in _UID_TAGS}
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError) as error:
        raise TransferError(f"not a readable DICOM file ({type(error).__name__})") from None
    missing = [k for k in _UID_TAGS[:3] if not values[k]]
    if missing:
        raise TransferError(f"lacks {', '.join(missing)}")
    return InstanceRef(values["StudyInstanceUID"], values["SeriesInstanceUID"], values["SOPInstanceUID"],
                       values["SOPClassUID"] or None, values["Modality"] or None, str(path))


class InstanceFolder:
    """The pull's output folder: which instances it holds, and writing one whole (thread-safe)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise InputError(f"{self.root} exists and is not a folder; give a folder for the pulled instances")
        self._lock = threading.Lock()
        self.received = 0

    def path_of(self, ref: InstanceRef) -> Path:
        return self.root / ref.relative_path()

    def has(self, ref: InstanceRef) -> bool:
        return self.path_of(ref).is_file()

    def write(self, data: bytes) -> InstanceRef:
        """Keep one received Part 10 file under its UIDs; an instance already here is not written again.

        The bytes go to a hidden file first, whose header then names the instance; the rename makes it appear
        whole under its final name."""
        incoming = self.root / INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        temporary = incoming / f".{uuid.uuid4().hex}.partial"
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
            ref = header_ref(temporary)
            target = self.path_of(ref)
            if target.is_file():
                temporary.unlink()
                return ref
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        with self._lock:
            self.received += 1
        return ref

    def finish(self) -> None:
        """Remove the (empty) folder where files arrive."""
        with contextlib.suppress(OSError):
            (self.root / INCOMING).rmdir()

    def remove_partials(self) -> int:
        """Delete what a killed run left half-written (hidden ``.partial`` files); how many."""
        removed = 0
        if self.root.is_dir():
            for leftover in self.root.rglob(".*.partial"):
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed


def dicom_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Every regular file under ``paths`` (folders searched recursively, hidden files skipped), in a stable order."""
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise InputError(f"{path} does not exist; give DICOM files or folders of them")
        if path.is_file():
            yield path
            continue
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            yield from (Path(folder) / name for name in sorted(names) if not name.startswith("."))
