"""Credentials for a DICOMweb PACS: from a file or the environment, never from the command line.

A file (mode 0600 recommended) holds JSON ``{"user": ..., "password": ...}`` or ``{"token": ...}``
(an OAuth bearer token); otherwise ``$DICOM_ANNOTATOR_PACS_USER`` with
``$DICOM_ANNOTATOR_PACS_PASSWORD``, or ``$DICOM_ANNOTATOR_PACS_TOKEN``. The secret is never printed,
logged or put into a message: errors name the file or variable, not the value, and the object's
``repr`` hides it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

USER_ENV = "DICOM_ANNOTATOR_PACS_USER"
PASSWORD_ENV = "DICOM_ANNOTATOR_PACS_PASSWORD"
TOKEN_ENV = "DICOM_ANNOTATOR_PACS_TOKEN"


@dataclass(frozen=True)
class Credentials:
    """HTTP Basic (``user`` + ``password``) or a bearer ``token``; where they came from, for messages."""

    source: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def apply(self, session: Any) -> None:
        """Authenticate every request of a ``requests.Session`` with these credentials."""
        if self.token is not None:
            session.headers["Authorization"] = f"Bearer {self.token}"
        else:
            session.auth = (self.user or "", self.password or "")


def load_credentials(path: str | os.PathLike[str] | None = None,
                     environ: dict[str, str] | None = None) -> Credentials | None:
    """The credentials of ``path`` if given, else of the environment, else None (an open PACS)."""
    environ = dict(os.environ if environ is None else environ)
    if path is not None:
        return _from_file(Path(path))
    if environ.get(TOKEN_ENV):
        return Credentials(f"${TOKEN_ENV}", token=environ[TOKEN_ENV])
    if environ.get(USER_ENV):
        if PASSWORD_ENV not in environ:
            raise InputError(f"${USER_ENV} is set but ${PASSWORD_ENV} is not; set both (or neither)")
        return Credentials(f"${USER_ENV}", user=environ[USER_ENV], password=environ[PASSWORD_ENV])
    return None


def _from_file(path: Path) -> Credentials:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"The credentials file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        # the parser's message quotes the file's text, which may be the secret: say only where it failed
        raise InputError(f"The credentials file {path} is not JSON; write {{\"user\": ..., \"password\": ...}} or "
                         "{\"token\": ...}") from None
    if not isinstance(data, dict):
        raise InputError(f"The credentials file {path} must hold one JSON object")
    token, user, password = data.get("token"), data.get("user"), data.get("password")
    if isinstance(token, str) and token and user is None and password is None:
        return Credentials(str(path), token=token)
    if isinstance(user, str) and user and isinstance(password, str) and token is None:
        return Credentials(str(path), user=user, password=password)
    raise InputError(f"The credentials file {path} must hold either \"user\" and \"password\" or \"token\" "
                     f"(strings), found keys {sorted(data)}")
