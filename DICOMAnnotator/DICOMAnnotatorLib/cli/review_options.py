"""Options every review command shares: ``--store URL`` and ``--user NAME``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .series import add_json_argument

if TYPE_CHECKING:
    from ..review import ReviewStore

USER_ENV = "DICOM_ANNOTATOR_USER"


def add_review_arguments(parser: argparse.ArgumentParser, *, json: bool | str = False,
                         user_help: str | None = None) -> None:
    """``--store``, ``--user`` and (with ``json``) ``--json``; a string ``json`` names its output's keys."""
    parser.add_argument("--store", metavar="URL",
                        help="the review store: sqlite:///FILE.db or postgresql://USER@HOST:PORT/DB (default: "
                             "$DICOM_ANNOTATOR_STORE, else review.db in the user's data directory)")
    parser.add_argument("--user", metavar="NAME",
                        help=user_help or f"who acts (default: ${USER_ENV}); recorded in the audit log")
    if json:
        add_json_argument(parser, json if isinstance(json, str) else None)


def acting_user(args: argparse.Namespace, *, required: bool = True) -> str | None:
    """``--user``, else ``$DICOM_ANNOTATOR_USER``; required unless ``required`` is False."""
    from ..review import PermissionDeniedError

    name = args.user or os.environ.get(USER_ENV) or None
    if name is None and required:
        raise PermissionDeniedError(f"This command needs to know who acts: pass --user NAME (or set {USER_ENV})")
    return name


@contextmanager
def open_store(args: argparse.Namespace, *, create: bool = False) -> Iterator[ReviewStore]:
    """The store of ``--store``; only ``create`` makes a new one (``user add`` does, for the first lead)."""
    from ..review import ReviewStore

    with ReviewStore(args.store, create=create) as store:
        yield store
