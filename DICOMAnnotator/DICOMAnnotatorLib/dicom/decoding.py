"""Why pixel data could not be decoded, said in one line that tells the user what will help.

pydicom decodes compressed pixel data through plugins, and a failure can mean three different
things to the user: pydicom has no decoder at all for the transfer syntax (installing nothing
helps: the file must be converted), a decoder exists but none of the packages it needs is
installed (installing one helps, and pydicom knows which), or the installed decoders tried and
failed (an encoding they do not support, or a damaged file).
pydicom's own message spans several lines (one per plugin); the command line allows one.
"""

from __future__ import annotations

from ..errors import InputError

_CONVERT = "convert the file to an uncompressed transfer syntax (Explicit VR Little Endian) with a tool that reads it"


def pixel_decoding_error(what: str, transfer_syntax: str, exc: BaseException) -> InputError:
    """The error for pixel data of ``what`` (e.g. "the frames of FILE") that failed to decode with ``exc``."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import UID

    uid = UID(transfer_syntax) if transfer_syntax else None
    name = f"{uid.name} ({uid})" if uid is not None and uid.name != str(uid) else str(uid or "no transfer syntax")
    try:
        decoder = get_decoder(uid) if uid is not None else None
    except NotImplementedError:
        decoder = None
    if decoder is None:
        advice = f"pydicom has no decoder for {name}; {_CONVERT}"
    elif not decoder.is_available:
        packages = "; ".join(decoder.missing_dependencies) or "a decoder plugin"
        advice = f"no decoder for {name} is installed; install one ({packages})"
    else:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        advice = f"the installed decoders for {name} could not decode it ({reason}); {_CONVERT}"
    return InputError(f"Cannot decode {what}: {advice}")
