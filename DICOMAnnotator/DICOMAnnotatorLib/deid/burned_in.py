"""Which images may carry identifying text burned into their pixels, by what they say about themselves.

Reasons, any of which flags an image: Burned In Annotation (0028,0301) is YES; a SOP class made by
capturing screens, documents or video (secondary capture, ultrasound, visible light, video);
a modality whose devices commonly write patient data into the image (US, XA, RF, CR, DX, MG, ES,
XC, GM, SM, OT, DOC, IO, PX). Burned In Annotation NO does not clear such an image: devices
of these kinds are known to set it wrongly. The header alone is not enough, since CT and MR carry
text too (scouts, screen captures, annotated key images): every image that is a picture is also
screened for text in its pixels (``text_screen``, see ``screens_pixels``), flagged or not.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

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
    return reasons


#: Modalities whose pixels are not pictures but values (masks, probabilities, dose): a full-probability SEG or
#: a dose maximum can look like strokes, and OCR "redaction" would corrupt the data, so they are not screened.
NOT_PICTURES = frozenset({"SEG", "RTDOSE"})


def screens_pixels(ds: Dataset) -> bool:
    """Whether ``ds`` has a picture in Pixel Data that the text screen should look at."""
    return "PixelData" in ds and peek(ds, "Modality").upper() not in NOT_PICTURES
