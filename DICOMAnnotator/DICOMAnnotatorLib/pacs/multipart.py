"""Splitting a ``multipart/related`` HTTP body into its parts as the bytes arrive (RFC 2046 5.1, PS3.18 8.7).

WADO-RS answers a study or series as one multipart message of ``application/dicom`` parts, each
a Part 10 file. Splitting the stream ourselves hands each file over byte for byte as the PACS
holds it (no decoding and re-encoding) and as soon as its last byte is in, so a pull writes files
while the rest is still on the wire and keeps at most one file in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .retry import TransferError, TransientError


def boundary_of(content_type: str) -> bytes:
    """The ``boundary`` parameter of a ``multipart/related`` Content-Type header."""
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    if media_type.lower() != "multipart/related":
        raise TransferError(f"The PACS answered {media_type or 'nothing'} where multipart/related was asked for")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("ascii")
    raise TransferError("The PACS answered multipart/related without a boundary")


def split_parts(chunks: Iterable[bytes], boundary: bytes) -> Iterator[bytes]:
    """The body of each part, in order; a message cut short raises :class:`TransientError` after its last whole part."""
    delimiter = b"\r\n--" + boundary
    buffer = bytearray(b"\r\n")  # the first delimiter may open the body without a line break before it
    started, closed = False, False
    body_start = scanned = -1  # where the current part's body starts; how far it was searched for the delimiter
    for chunk in chunks:
        buffer += chunk
        while True:
            if not started:
                found = buffer.find(delimiter)
                if found < 0:
                    del buffer[:max(0, len(buffer) - len(delimiter))]
                    break
                del buffer[:found + len(delimiter)]
                started = True
            if body_start < 0:
                if buffer[:2] == b"--":
                    closed = True
                    break
                end_of_headers = buffer.find(b"\r\n\r\n")
                if end_of_headers < 0:
                    break
                body_start = scanned = end_of_headers + 4
            found = buffer.find(delimiter, max(body_start, scanned - len(delimiter)))
            if found < 0:
                scanned = len(buffer)
                break
            yield bytes(buffer[body_start:found])
            del buffer[:found + len(delimiter)]
            body_start = scanned = -1
        if closed:
            return
    if not closed:
        raise TransientError("The PACS's answer ended before its last part was complete (the connection was cut)")
