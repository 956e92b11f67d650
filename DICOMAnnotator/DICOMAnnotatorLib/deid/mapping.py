"""Keyed, consistent replacements: the same source value and key always give the same pseudonym.

Every replacement is an HMAC-SHA256 of the source value under the run's secret key, so files
de-identified separately (other folders, other days, other processes) still agree: a SEG's
ReferencedSOPInstanceUID keeps pointing at the de-identified image, and one patient keeps one
pseudonym and one date shift. Without the key the mapping cannot be reversed or recomputed
(unlike a plain hash, which a dictionary of candidate IDs would undo).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from ..errors import InputError

#: Replaced UIDs are UUID-derived (PS3.5 B.2): 2.25 followed by the UUID as a decimal integer.
UUID_ROOT = "2.25."
#: Shifted dates move back by 1..MAX_SHIFT_DAYS days, one offset per patient.
MAX_SHIFT_DAYS = 3650


class KeyedMapper:
    """Pseudonyms for UIDs, patient IDs and names, accession numbers, and per-patient date offsets.

    ``record=True`` keeps every (kind, original, replacement) triple for the data owner's mapping
    table; it holds source identifiers, so it is off unless a mapping file was asked for.
    """

    def __init__(self, key: bytes, *, record: bool = False) -> None:
        if len(key) < 16:
            raise InputError(f"The de-identification key has {len(key)} bytes; use a secret of at least 16 bytes "
                             "(a key file made with e.g. `head -c 32 /dev/urandom > deid.key`)")
        self._key = key
        self.record = record
        self.recorded: dict[tuple[str, str], str] = {}

    @classmethod
    def random(cls, *, record: bool = False) -> KeyedMapper:
        """A mapper with a fresh random key: consistent within one run only."""
        return cls(secrets.token_bytes(32), record=record)

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, kind.encode() + b"\0" + value.encode("utf-8", "surrogateescape"),
                        hashlib.sha256).digest()

    def _remember(self, kind: str, original: str, replacement: str) -> str:
        if self.record:
            self.recorded[(kind, original)] = replacement
        return replacement

    def uid(self, original: str) -> str:
        """A 2.25 UID (UUID version 8, RFC 9562) derived from ``original``."""
        original = original.strip("\0 ")
        raw = bytearray(self._digest("uid", original)[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80  # version 8: custom
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
        return self._remember("uid", original, UUID_ROOT + str(int.from_bytes(raw, "big")))

    def _token(self, kind: str, original: str, length: int) -> str:
        return base64.b32encode(self._digest(kind, original)).decode()[:length]

    def patient_id(self, original: str) -> str:
        return self._remember("patient_id", original, "ANON" + self._token("patient", original, 12))

    def patient_name(self, patient_key: str) -> str:
        """The pseudonym of the patient's name: the patient ID pseudonym, so that both agree."""
        return self._remember("patient_name", patient_key, "ANON" + self._token("patient", patient_key, 12))

    def accession_number(self, original: str) -> str:
        return self._remember("accession_number", original, "ACC" + self._token("accession", original, 13))

    def date_offset_days(self, patient_key: str) -> int:
        """The patient's date shift: minus 1 to MAX_SHIFT_DAYS days."""
        digest = self._digest("date-shift", patient_key)
        days = -(1 + int.from_bytes(digest[:4], "big") % MAX_SHIFT_DAYS)
        self._remember("date_shift_days", patient_key, str(days))
        return days


def load_key(*, secret: str | None = None, key_file: str | os.PathLike[str] | None = None) -> bytes | None:
    """The key from a secret string or a key file (its bytes, trailing newline dropped); None if neither."""
    if secret is not None and key_file is not None:
        raise InputError("Give the de-identification key either as a secret or as a key file, not both")
    if key_file is not None:
        try:
            with open(key_file, "rb") as handle:
                return handle.read().rstrip(b"\r\n")
        except OSError as exc:
            raise InputError(f"Cannot read the key file {key_file}: {exc.strerror}; check the path") from exc
    return secret.encode() if secret is not None else None
