"""Which store a command uses: ``--store URL``, else ``$DICOM_ANNOTATOR_STORE``, else a SQLite file.

The default file lives in the user's data directory (``$XDG_DATA_HOME`` or
``~/.local/share``) so that a project lead gets a working store with no set-up at all.
URLs are SQLAlchemy URLs; ``postgresql://`` and ``postgres://`` mean psycopg 3, and a plain
path (no ``://``) is a SQLite file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import StoreError

STORE_ENV = "DICOM_ANNOTATOR_STORE"
#: Where a store on PostgreSQL keeps its files in local mode (a team server is given --files).
FILES_ENV = "DICOM_ANNOTATOR_FILES"
_POSTGRES_PREFIXES = ("postgresql+psycopg://", "postgresql://", "postgres://")


def default_store_path() -> Path:
    """``$XDG_DATA_HOME/dicom-annotator/review.db`` (``~/.local/share`` when XDG_DATA_HOME is unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dicom-annotator" / "review.db"


def resolve_store_url(url: str | None = None) -> str:
    """The SQLAlchemy URL of the store to open, normalised (psycopg 3 driver, absolute SQLite path)."""
    url = url or os.environ.get(STORE_ENV) or None
    if url is None:
        return sqlite_url(default_store_path())
    if url.startswith(_POSTGRES_PREFIXES):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:"):
        rest = url.removeprefix("sqlite:")
        if not rest.startswith("///") or rest[3:].split("?", 1)[0] in ("", ":memory:"):
            raise StoreError(f"Store URL {url!r} names no file; an in-memory store forgets everything when the "
                             "command ends: use sqlite:///path/to/review.db")
        return sqlite_url(Path(rest[3:].split("?", 1)[0]))
    if "://" not in url:
        return sqlite_url(Path(url))
    raise StoreError(f"Store URL {url.split('://', 1)[0]}://... is not supported; use sqlite:///FILE.db or "
                     "postgresql://USER@HOST:PORT/DATABASE")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.expanduser().absolute()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def default_files_root(url: str) -> Path:
    """The store's own files: beside a SQLite file (``review.db`` -> ``review-files/``); for a database
    server, ``$DICOM_ANNOTATOR_FILES`` or ``files/`` beside the default store in the user's data directory."""
    if is_sqlite(url):
        database = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        return database.with_name(f"{database.stem}-files")
    return Path(os.environ.get(FILES_ENV) or default_store_path().with_name("files"))
