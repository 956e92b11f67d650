"""Which images may carry identifying text burned into their pixels, and why.

Reasons, any of which flags an image: Burned In Annotation (0028,0301) is YES; a SOP class made by
capturing screens, documents or video (secondary capture, ultrasound, visible light, video);
a modality whose devices commonly write patient data into the image (US, XA, RF, CR, DX, MG, ES,
XC, GM, SM, OT, DOC, IO, PX). Burned In Annotation NO does not clear such an image: devices
of these kinds are known to set it wrongly. CT, MR, PET, NM and the like are flagged when they say
YES, or when their pixels show how text is burned into them: strokes drawn at the very top of
the stored range (the bottom for MONOCHROME1), a value the scanner never gives tissue: a real
TCIA pseudo-PHI CT carries its patient's name at 32767 among values below 1000. Metal in a 12-bit
CT can reach the top too; such an image is read by OCR needlessly, never written unread.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from .dataset import peek

RISK_MODALITIES = frozenset({"US", "IVUS", "XA", "RF", "CR", "DX", "MG", "IO", "PX", "ES", "XC", "GM", "SM",
                             "OT", "DOC"})
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
RISK_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image",
    "1.2.840.10008.5.1.4.1.1.6.2": "Enhanced US Volume",
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image",
    "1.2.840.10008.5.1.4.1.1.77.1.1": "VL Endoscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.1.1": "Video Endoscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.2": "VL Microscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.2.1": "Video Microscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4": "VL Photographic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4.1": "Video Photographic Image",
}


def burned_in_risks(ds: Dataset) -> list[str]:
    """Why ``ds`` may show identifying text in its pixels; empty when it has no such risk (or no pixels)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        return []
    reasons = []
    if peek(ds, "BurnedInAnnotation").upper() == "YES":
        reasons.append("Burned In Annotation is YES")
    sop_class = peek(ds, "SOPClassUID")
    if sop_class == _SECONDARY_CAPTURE or sop_class.startswith(_SECONDARY_CAPTURE + "."):
        reasons.append("secondary capture SOP class")
    elif sop_class in RISK_SOP_CLASSES:
        reasons.append(f"{RISK_SOP_CLASSES[sop_class]} SOP class")
    modality = peek(ds, "Modality").upper()
    if modality in RISK_MODALITIES:
        reasons.append(f"modality {modality}")
    if not reasons and modality not in NOT_PICTURES and _drawn_at_the_range_end(ds):
        reasons.append("pixels drawn at the end of the stored range, as burned-in text is")
    return reasons


#: Modalities whose pixels are not pictures but values (masks, probabilities, dose): a full-probability SEG or
#: a dose maximum sits at the end of the range, and OCR "redaction" would corrupt the data, so they are not screened.
NOT_PICTURES = frozenset({"SEG", "RTDOSE"})
#: Pixels at the end of the stored range that make an image suspect (a short word is a few hundred).
STROKE_PIXELS = 20


def _drawn_at_the_range_end(ds: Dataset) -> bool:
    """Whether :data:`STROKE_PIXELS` or more grey pixels sit at the top of the stored range (MONOCHROME1: bottom).

    Uncompressed pixels are compared as stored bits, straight from the file's bytes (two passes
    over the data, a tenth of a millisecond for a CT slice); compressed ones are decoded.
    """
    if str(ds.get("SamplesPerPixel", 1)) != "1" or "PixelData" not in ds:
        return False
    bits, allocated = int(ds.get("BitsStored") or 0), int(ds.get("BitsAllocated") or 0)
    signed = str(ds.get("PixelRepresentation", 0)) == "1"
    if not 1 < bits <= allocated <= 16:
        return False
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    end = low if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1" else high
    syntax = UID(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else UID("")
    element = ds.get_item("PixelData")
    if syntax.is_transfer_syntax and not syntax.is_compressed and syntax.is_little_endian and element.is_raw \
            and allocated in (8, 16) and element.value:
        stored = np.frombuffer(element.value, dtype=np.uint8 if allocated == 8 else np.dtype("<u2"))
        if bits < allocated:
            stored = stored & ((1 << bits) - 1)
        return int(np.count_nonzero(stored == end & ((1 << bits) - 1))) >= STROKE_PIXELS
    try:
        pixels = ds.pixel_array
    except Exception:  # undecodable: no claim is made about it, and the writer reports a pixel problem if it must
        return False
    return int(np.count_nonzero(pixels == end)) >= STROKE_PIXELS
