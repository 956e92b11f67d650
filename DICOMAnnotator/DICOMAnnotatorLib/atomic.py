"""Outputs that appear whole or not at all: write to a temporary name, then rename; and outputs of a step
that fails later (a store refusing what was written) removed again."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputExistsError


def check_output(path: str | os.PathLike[str], *, force: bool) -> Path:
    """Refuse an existing output unless ``force``; the caller then writes with :func:`atomic_path`."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists; choose another output or pass --force to replace it")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, force: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    On any exception the temporary file or folder is removed and ``path`` is untouched.
    With ``directory`` the temporary path is an (empty) folder.
    """
    final = check_output(path, force=force)
    final.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        os.close(handle)
        temporary = Path(name)
    try:
        yield temporary
        if directory:
            if final.exists():
                _remove(final)
            temporary.rename(final)
        else:
            os.replace(temporary, final)
    except BaseException:
        _remove(temporary)
        raise


@contextmanager
def removed_on_failure(*paths: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Remove ``paths``, and any path the caller appends to the yielded list, when the block then fails: files
    written whole by an earlier step (so no temporary name protects them) that a later step, such as the store
    refusing them, makes pointless; a refused attempt leaves nothing and can be made again."""
    written = [Path(path) for path in paths]
    try:
        yield written
    except BaseException:
        for path in written:
            _remove(path)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
