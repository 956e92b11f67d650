"""Options every review command shares (``--store URL``, ``--user NAME``) and the service they open.

A database URL opens the store here (local mode: the acting user is named); a team server URL
(``https://host:port``, or ``http://`` on loopback) goes through the server as the user logged in
with ``login``, whose name ``--user`` may repeat but not change.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .series import add_json_argument

USER_ENV = "DICOM_ANNOTATOR_USER"


def add_review_arguments(parser: argparse.ArgumentParser, *, json: bool | str = False,
                         user_help: str | None = None) -> None:
    """``--store``, ``--user`` and (with ``json``) ``--json``; a string ``json`` names its output's keys."""
    parser.add_argument("--store", metavar="URL",
                        help="the review store: a team server (https://HOST:PORT) or a database "
                             "(sqlite:///FILE.db, postgresql://USER@HOST:PORT/DB); default: $DICOM_ANNOTATOR_STORE, "
                             "else review.db in the user's data directory")
    parser.add_argument("--user", metavar="NAME",
                        help=user_help or f"who acts (default: ${USER_ENV}); on a team server, the logged-in user")
    if json:
        add_json_argument(parser, json if isinstance(json, str) else None)


def add_password_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help=f"read {what} from the first line of standard input (never give it on the command line)")


def store_url(args: argparse.Namespace) -> str | None:
    from ..review import STORE_ENV

    return args.store or os.environ.get(STORE_ENV) or None


@contextmanager
def open_service(args: argparse.Namespace, *, create: bool = False, need_user: bool = True) -> Iterator[Any]:
    """The review actions as the acting user: on the store (local mode) or through the team server.

    Only ``create`` makes a new local store (``user add`` does, for the first lead).
    """
    from ..review import PermissionDeniedError
    from ..server import connect, is_server_url

    url = store_url(args)
    named = args.user or os.environ.get(USER_ENV) or None
    if named is None and need_user and not is_server_url(url):
        raise PermissionDeniedError(f"This command needs to know who acts: pass --user NAME (or set {USER_ENV})")
    service = connect(url, args.user if is_server_url(url) else named, create=create)
    try:
        yield service
    finally:
        service.close()


def is_server_url(url: str | None) -> bool:
    from ..server import is_server_url as server_url

    return server_url(url)


def read_password(args: argparse.Namespace, prompt: str) -> str | None:
    """The password of ``--password-stdin`` (first line of stdin), a prompt on a terminal, or None."""
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    return None
