"""Where a PACS is: a DICOMweb base URL (PS3.18) or a DIMSE application entity (PS3.7, PS3.8).

``http(s)://host:port/dicom-web`` names a DICOMweb service (QIDO-RS, WADO-RS, STOW-RS under that
base); ``dimse://AET@host:port`` names a DIMSE peer by its AE title, host and port, reached with our
own AE title (``--calling-aet``). Credentials never go into the URL (it appears in messages and
reports): they come from a file or the environment (:mod:`.credentials`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import InputError

#: Our AE title when none is given (PS3.5: at most 16 characters of the Default Character Repertoire).
DEFAULT_CALLING_AET = "DICOMANNOTATOR"
_AE_TITLE = re.compile(r"[ -\[\]-~]{1,16}")  # printable ASCII without backslash


@dataclass(frozen=True)
class PacsEndpoint:
    """A PACS to query, pull from and push to; ``kind`` is ``dicomweb`` or ``dimse``."""

    kind: str
    url: str
    host: str
    port: int
    called_aet: str | None = None
    calling_aet: str = DEFAULT_CALLING_AET

    @property
    def is_dicomweb(self) -> bool:
        return self.kind == "dicomweb"

    def __str__(self) -> str:
        return self.url


def parse_endpoint(url: str, *, calling_aet: str | None = None) -> PacsEndpoint:
    """The PACS named by ``url``; anything else is refused with the forms that work."""
    forms = "give http(s)://HOST:PORT/dicom-web (DICOMweb) or dimse://AET@HOST:PORT (DIMSE)"
    calling = _ae_title(calling_aet or DEFAULT_CALLING_AET, "--calling-aet")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"PACS URL {url!r} has an invalid port; {forms}") from None
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise InputError(f"PACS URL {url!r} names no host; {forms}")
        if parts.username or parts.password:
            raise InputError(f"PACS URL {_without_userinfo(url)} carries credentials; remove them from the URL (it "
                             "shows in messages and reports) and give them with --credentials FILE or "
                             "$DICOM_ANNOTATOR_PACS_USER/$DICOM_ANNOTATOR_PACS_PASSWORD")
        if parts.query or parts.fragment:
            raise InputError(f"PACS URL {url!r} has a query or fragment; give the DICOMweb base URL only")
        base = url.strip().rstrip("/")
        return PacsEndpoint("dicomweb", base, parts.hostname, port or (443 if scheme == "https" else 80),
                            calling_aet=calling)
    if scheme == "dimse":
        if not parts.username or not parts.hostname or port is None or parts.path not in ("", "/"):
            raise InputError(f"PACS URL {url!r} is not dimse://AET@HOST:PORT; {forms}")
        called = _ae_title(parts.username, f"the AE title in {url!r}")
        return PacsEndpoint("dimse", f"dimse://{called}@{parts.hostname}:{port}", parts.hostname, port,
                            called_aet=called, calling_aet=calling)
    raise InputError(f"PACS URL {url!r} is neither DICOMweb nor DIMSE; {forms}")


def _ae_title(value: str, what: str) -> str:
    if not _AE_TITLE.fullmatch(value) or not value.strip():
        raise InputError(f"{what} {value!r} is not an AE title: 1 to 16 printable ASCII characters, no backslash "
                         "(PS3.5 Table 6.2-1)")
    return value.strip()


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
