"""DICOM SR TID 1500 Measurement Reports: measurements of segments (``measurements``) and the ejection
fraction of a protocol's end-diastolic and end-systolic segments (``ventricular_function``), coded
classification labels (``labels``) and marks (boxes, landmarks: ``marks``) in their JSON forms,
the writer (``writer``: the document's modules in ``document``, its TID 1500 content tree in
``templates``, content items encoded to bytes in ``content``) and the reader of any producer's
report (``reader``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "labels": ["ClassificationLabel", "read_labels"],
    "marks": ["Mark", "read_marks"],
    "measurements": ["measure_on_series", "measure_segmentation", "with_uptake"],
    "reader": ["sr_summary"],
    "ventricular_function": ["EjectionFraction", "area_length_volume", "ejection_fraction"],
    "writer": ["build_sr", "export_sr", "write_sr"],
})
