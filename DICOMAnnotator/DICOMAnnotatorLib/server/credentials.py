"""The client side of a session: the token ``login`` got, kept for its server URL in a file only the user reads.

``$DICOM_ANNOTATOR_CONFIG`` (default ``~/.config/dicom-annotator/``) holds ``sessions.json``, mode
0600 in a 0700 folder, written to a temporary file and renamed. It never holds a password; a
token is useless once it expires or ``logout`` revokes it on the server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..review import AuthenticationError

CONFIG_ENV = "DICOM_ANNOTATOR_CONFIG"


def config_folder() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or Path.home() / ".config" / "dicom-annotator")


def server_key(url: str) -> str:
    """The URL as sessions are filed under it (no trailing slash, scheme and host in lower case)."""
    scheme, _, rest = url.strip().partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}" + (f"/{path}".rstrip("/") if path else "")


def saved_session(url: str) -> dict[str, Any]:
    """The session kept for ``url``; none is an error that says how to log in."""
    entry = _read().get(server_key(url))
    if not entry or not entry.get("token"):
        raise AuthenticationError(f"Not logged in to {server_key(url)}; run: dicom-annotator login {server_key(url)}")
    return entry


def save_session(url: str, session: dict[str, Any]) -> Path:
    sessions = _read()
    sessions[server_key(url)] = {k: session[k] for k in ("token", "user", "expires_at")}
    return _write(sessions)


def forget_session(url: str) -> None:
    sessions = _read()
    if sessions.pop(server_key(url), None) is not None:
        _write(sessions)


def _read() -> dict[str, Any]:
    path = config_folder() / "sessions.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable: as if logged in nowhere (login writes it again)
    return data if isinstance(data, dict) else {}


def _write(sessions: dict[str, Any]) -> Path:
    folder = config_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "sessions.json"
    temporary = folder / f".sessions.json.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(sessions, handle, indent=1, sort_keys=True)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path
