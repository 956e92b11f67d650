"""De-identification: DICOM PS3.15 Annex E Basic Profile with options, keyed UIDs, burned-in text.

Modules, from the inside out: ``profile`` (actions from the shipped Table E.1-1 and options),
``options``, ``mapping`` (keyed pseudonyms and date offsets), ``values``, ``dates`` and ``scrub``
(replacement values), ``dataset`` (the profile applied to one dataset, any depth), ``burned_in``,
``ocr`` and ``pixels`` (images at risk, Tesseract, redaction), ``visual_features`` (Clean
Recognizable Visual Features: what is refused), ``files`` (one file in, one file out) and
``batch`` (folders, worker processes, report). The command is ``dicom-annotator deidentify``
(``cli/deidentify.py``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "batch": ["check_outputs_free", "deidentify_tree", "write_mapping", "write_report"],
    "mapping": ["load_key"],
    "options": ["DatePolicy", "DeidOptions", "PixelPolicy", "load_regions"],
})
