"""Clean Recognizable Visual Features option (PS3.15 E.3.2, code 113102): what this tool can honestly do.

E.3.2 asks that, when the pixels of a set of instances carry enough visual information to recognize
the individual "from the instances themselves or a reconstruction of a set of instances", they be
removed or distorted enough to prevent recognition, and that Recognizable Visual Features
(0028,0302) be set to NO. Its note names the two cases: full-face photographs, and high-resolution
cross-sectional imaging of the head and neck, whose 3D surface rendering can show the face.

This tool cleans neither: it does not black out eyes in photographs and it does not deface volumes.
So with the option, such images are not written and are listed with the reason (exit 3), and the
option is claimed only for the images judged free of recognizable features, which need no change:

- photographs of the patient's body surface: VL Photographic, Video Photographic (stored or
  real-time) images and anything of modality XC (external-camera photography), whatever its SOP
  class. Endoscopic, microscopic, ophthalmic and dermoscopic images are not counted: they show the
  inside of the body, tissue, the eye's fundus or a patch of skin, not a recognizable person;
- CT, MR and SEG (a segmentation of a head can hold its skin surface) of the head or neck, as said
  by Body Part Examined, the study or series description or the protocol name; and those where
  none of them says which part of the body is shown, since the face cannot be ruled out.

A source whose Recognizable Visual Features is already NO (cleaned before, for instance defaced with
a dedicated tool) is trusted and written, but this run does not claim 113102 for it: it did not
clean it.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset

from .dataset import peek

PHOTOGRAPH_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.77.1.4": "VL Photographic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4.1": "Video Photographic Image",
    "1.2.840.10008.10.2": "Video Photographic Image Real-Time Communication",
}
VOLUME_MODALITIES = frozenset({"CT", "MR", "SEG"})
#: Words (Body Part Examined defined terms among them) that place an image in the head or neck.
HEAD_WORDS = frozenset({"HEAD", "HEADNECK", "BRAIN", "SKULL", "FACE", "FACIAL", "NECK", "ORBIT", "ORBITS", "NOSE",
                        "NASAL", "JAW", "DENTAL", "TMJ", "EAR", "EARS", "EYE", "EYES", "IAC", "PAROTID", "PITUITARY"})
HEAD_PREFIXES = ("CRANI", "CEREBR", "NEURO", "SINUS", "MANDIB", "MAXILL")
_REGION_KEYWORDS = ("BodyPartExamined", "StudyDescription", "SeriesDescription", "ProtocolName")


def has_pixels(ds: Dataset) -> bool:
    return "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds


def already_cleaned(ds: Dataset) -> bool:
    """The source says it holds no recognizable visual features (it was cleaned before this run)."""
    return peek(ds, "RecognizableVisualFeatures").upper() == "NO"


def recognizable_features(ds: Dataset) -> str | None:
    """Why the pixels of ``ds`` may let someone recognize the patient, or None when they do not.

    Read on the source dataset, before de-identification removes the descriptions it looks at.
    """
    if not has_pixels(ds) or already_cleaned(ds):
        return None
    sop_class, modality = peek(ds, "SOPClassUID"), peek(ds, "Modality").upper()
    if sop_class in PHOTOGRAPH_SOP_CLASSES or modality == "XC":
        kind = PHOTOGRAPH_SOP_CLASSES.get(sop_class, "external-camera photograph (modality XC)")
        return f"a {kind} of the patient, which cannot be cleaned of recognizable features automatically"
    if modality not in VOLUME_MODALITIES:
        return None
    series = f"series {peek(ds, 'SeriesNumber') or '?'} ({peek(ds, 'SeriesInstanceUID')})"
    advice = ("this tool does not deface: deface the series with a dedicated tool first and set Recognizable Visual "
              "Features (0028,0302) to NO, or run without --clean-recognizable-visual-features")
    regions = {keyword: peek(ds, keyword) for keyword in _REGION_KEYWORDS if peek(ds, keyword)}
    if not regions:
        return (f"a {modality} image of {series} that does not say which part of the body it shows (no Body Part "
                f"Examined, description or protocol name), so a face reconstructable from it cannot be ruled out; "
                f"{advice}")
    head = [f"{keyword} {value!r}" for keyword, value in regions.items() if _names_head(value)]
    if head:
        return (f"a {modality} image of the head or neck ({head[0]}) of {series}: the face may be reconstructable; "
                f"{advice}")
    return None


def _names_head(text: str) -> bool:
    words = re.split(r"[^A-Z]+", text.upper())
    return any(word in HEAD_WORDS or word.startswith(HEAD_PREFIXES) for word in words)
