"""A case's files written into a folder the way ``case fetch`` promises: complete, checked, or not at all.

Used on both sides of the team server: in local mode the files are copied from the store, through
the server they are downloaded; either way each file is checked against the SHA-256 the store
recorded, and the folder appears (renamed into place) only once everything is there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import SubmissionFileError


def write_fetched(listing: dict[str, Any], folder: Path,
                  copy: Callable[[dict[str, Any], Path], None]) -> dict[str, Any]:
    """Put a :meth:`LocalService.case_files` listing into ``folder`` with ``copy(entry, target)``; each file is
    checked against its SHA-256 and the whole is renamed into place only when complete."""
    from ..atomic import atomic_path

    with atomic_path(folder, directory=True, force=False) as work:
        (work / "images").mkdir()
        (work / "files").mkdir()
        fetched = []
        for entry in listing["images"]:
            target = work / "images" / safe_name(entry["name"])
            copy(entry, target)
            _check(target, entry["sha256"])
        for entry in listing["files"]:
            name = f"{entry['role']}-{entry['user']}-round{entry['round']}-{Path(entry['path']).name[:16]}.dcm"
            target = work / "files" / safe_name(name)
            copy(entry, target)
            _check(target, entry["sha256"])
            fetched.append({"role": entry["role"], "user": entry["user"], "round": entry["round"],
                            "path": str(folder / "files" / target.name), "sha256": entry["sha256"],
                            **{key: entry[key] for key in ("algorithm", "algorithm_version") if key in entry}})
    return {"case": listing["case"], "images": str(folder / "images"), "files": fetched}


def _check(path: Path, sha256: str) -> None:
    from .stored_files import sha256_of

    if sha256_of(path) != sha256:
        raise SubmissionFileError(f"{path.name} arrived with another SHA-256 than the store's {sha256[:12]}...; "
                                  "fetch the case again")


def safe_name(name: str) -> str:
    """A file name without folders or characters a file system could read as a path."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(str(name)).name)
    return cleaned.lstrip(".") or "file"
