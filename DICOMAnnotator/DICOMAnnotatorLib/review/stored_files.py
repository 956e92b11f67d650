"""The store's own copies of the files it records, content-addressed by SHA-256.

A submission, a consensus or a case image is recorded by its hash, and the bytes are kept here
(``<root>/sha256/ab/abcdef...``), so a later change or loss of the submitter's file changes
nothing, a file is never stored twice, and anyone reading it can check it is what was recorded.

Files sent to a team server arrive in ``<root>/incoming/``: written as ``partial-*`` while the
bytes come in, renamed ``held-<sha256>-<random>`` once complete and hashed, and moved into place
only when the action that names them (a submission, a case) is recorded. A refused action's held
files are deleted, a process killed mid-upload leaves at most a partial file, and the server's
start (:meth:`FileStore.clear_incoming`) removes both: no stored file without a record.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import StoreError, SubmissionFileError

if TYPE_CHECKING:  # pragma: no cover
    from .audit import FileRecord

_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HELD = re.compile(r"held-([0-9a-f]{64})-[0-9a-f]{32}")


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _sync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Incoming:
    """A file arriving in pieces: hashed as it is written, held once complete (see :meth:`FileStore.receive`)."""

    def __init__(self, folder: Path, max_bytes: int | None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"partial-{secrets.token_hex(16)}"
        self._handle = open(self.path, "xb")  # noqa: SIM115 (closed by finish or abort)
        self._digest = hashlib.sha256()
        self._max = max_bytes
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._max is not None and self.size > self._max:
            self.abort()
            raise SubmissionFileError(f"The file is larger than the {self._max // (1 << 20)} MB this store "
                                      "accepts; ask its administrator to raise the limit")
        self._digest.update(chunk)
        self._handle.write(chunk)

    def finish(self, expected_sha256: str | None = None) -> Path:
        """The complete file, renamed ``held-<sha256>-...``; refused (and deleted) when its hash is not expected."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        sha256 = self._digest.hexdigest()
        if expected_sha256 is not None and sha256 != expected_sha256:
            self.abort()
            raise SubmissionFileError(f"The file arrived with SHA-256 {sha256[:12]}..., not the {expected_sha256[:12]}"
                                      "... it was sent with; send it again")
        held = self.path.with_name(f"held-{sha256}-{secrets.token_hex(16)}")
        os.replace(self.path, held)
        return held

    def abort(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)


class FileStore:
    """Files by SHA-256 under ``root`` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.incoming = self.root / "incoming"

    def path(self, sha256: str) -> Path:
        """Where the file with this hash is (or would be) kept."""
        if not _SHA256.fullmatch(sha256):
            raise StoreError(f"{sha256[:80]!r} is not a SHA-256 (64 lowercase hexadecimal digits)")
        return self.root / "sha256" / sha256[:2] / sha256

    def receive(self, *, max_bytes: int | None = None) -> Incoming:
        return Incoming(self.incoming, max_bytes)

    def held(self, name: str) -> Path:
        """A held upload by the name :meth:`Incoming.finish` gave it; anything else is refused."""
        path = self.incoming / str(name)
        if not _HELD.fullmatch(str(name)) or not path.is_file():
            raise SubmissionFileError(f"No upload {str(name)[:80]!r} is waiting on the server (uploads are kept until "
                                      "the action that names them, or the server's restart); send the file again")
        return path

    def record(self, source: str | os.PathLike[str], role: str) -> FileRecord:
        """Keep ``source`` and describe the kept copy: a held upload moves into place, a file already kept
        stays, any other file is copied (and hashed)."""
        from .audit import FileRecord  # here: the client side of this module needs no database library

        source = Path(source).absolute()
        held = _HELD.fullmatch(source.name) if source.parent == self.incoming else None
        if held:
            target = self.path(held.group(1))
            self._place(source, target)
            return FileRecord(role, str(target), held.group(1))
        if source.parent.parent == self.root / "sha256" and _SHA256.fullmatch(source.name):
            return FileRecord(role, str(source), source.name)
        incoming = self.receive()
        try:
            with open(source, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    incoming.write(chunk)
        except BaseException:
            incoming.abort()
            raise
        return self.record(incoming.finish(), role)

    def scratch(self, suffix: str = "") -> Path:
        """A new file name in ``incoming`` for a file the store writes itself (e.g. an AI draft's SEG), to keep with
        :meth:`adopt`; a process killed before that leaves it for :meth:`clear_incoming`."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        return self.incoming / f"partial-{secrets.token_hex(16)}{suffix}"

    def adopt(self, written: str | os.PathLike[str], role: str, *, sha256: str | None = None) -> FileRecord:
        """Keep a file written at a :meth:`scratch` name by moving it into place (hashed once, never copied).
        ``sha256`` is its hash when the writer computed it from the bytes it wrote (then the file is not read)."""
        written = Path(written).absolute()
        if written.parent != self.incoming:
            raise StoreError(f"{written} is not in {self.incoming}; only files written there are adopted")
        held = written.with_name(f"held-{sha256 or sha256_of(written)}-{secrets.token_hex(16)}")
        _sync_file(written)  # as an upload is synced when it finishes: the record must not outlive the bytes
        os.replace(written, held)
        return self.record(held, role)

    def open_verified(self, sha256: str) -> Path:
        """The stored file, after checking it still hashes to ``sha256``."""
        path = self.path(sha256)
        if not path.is_file():
            raise SubmissionFileError(f"The stored file {sha256[:12]}... is missing from {self.root}; restore the "
                                      "store's files folder from its backup")
        if sha256_of(path) != sha256:
            raise SubmissionFileError(f"The stored file {path} no longer hashes to {sha256[:12]}...; it was "
                                      "changed behind the store's back: restore it from the backup")
        return path

    def link_into(self, source: Path, target: Path) -> None:
        """Make ``target`` show ``source`` (a hard link where the file system allows, else a copy)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)

    def clear_incoming(self) -> int:
        """Remove what arrived but was never recorded (partial and held uploads); how many files."""
        removed = 0
        for leftover in self.incoming.iterdir() if self.incoming.is_dir() else ():
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed

    @staticmethod
    def _place(source: Path, target: Path) -> None:
        if target.is_file():
            source.unlink(missing_ok=True)  # the same bytes are kept already
            return
        new_folders = [folder for folder in (target.parent, target.parent.parent) if not folder.is_dir()]
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(source, 0o444)  # kept files are never changed in place
        os.replace(source, target)
        # the rename made durable before the record that names the file commits: after a power cut the file is
        # where the record says (its bytes were synced when the upload or copy finished)
        for folder in [target.parent, *(folder.parent for folder in new_folders)]:
            _sync_directory(folder)
