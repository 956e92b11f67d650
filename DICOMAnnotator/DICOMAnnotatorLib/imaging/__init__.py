"""Images and what is drawn on them, without DICOM objects of our own: volume geometry
(``geometry``), the sorted source slices of one series (``series``), segmentations on that grid
(``segmentation``), label boxes and mask surfaces (``masks``), segments matched across
annotators by code (``matching``), label-map files read and written on the series grid
(``image_files``) and converted to and from segmentations with a protocol's label values
(``labelmaps``), and the generated phantom CT series of the demo and tests (``phantoms``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "geometry": ["LPS_TO_RAS", "VolumeGeometry"],
    "image_files": ["write_image"],
    "labelmaps": ["from_labelmap_file", "from_probability_files", "label_values", "write_labelmap_files"],
    "masks": ["label_boxes", "surface_of"],
    "matching": ["MatchedSegment", "match_segments", "segment_key"],
    "phantoms": [
        "PHANTOM_SEGMENTS",
        "ct_datasets",
        "phantom_geometry",
        "phantom_volume",
        "write_datasets",
        "write_phantom_series",
    ],
    "segmentation": ["AlgorithmType", "DEFAULT_COLOR", "MaskKind", "Provenance", "SegmentDescription", "Segmentation"],
    "series": ["ReferenceSeries", "SliceSource"],
})
