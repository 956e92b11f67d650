"""Images and what is drawn on them, without DICOM objects of our own: volume geometry and 2D pixel grids
(``geometry``), the headers of one series (``instances``), the sorted source slices of a volume
(``series``), 2D images and cine loops with their pixel calibration (``images``, ``calibration``),
segmentations on either grid
(``segmentation``), label boxes and mask surfaces (``masks``), segments matched across
annotators by code (``matching``), label-map files read and written on the series grid
(``image_files``) and converted to and from segmentations with a protocol's label values
(``labelmaps``), the SUV scale of a PET series (``suv``) and the SUV statistics of segments on it
(``uptake``), and the generated phantom CT and PET series and ultrasound cine of the demo and tests (``phantoms``).
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "calibration": ["Calibration", "PixelCalibration", "UltrasoundRegion", "calibration_of"],
    "geometry": ["ImageGrid", "LPS_TO_RAS", "VolumeGeometry"],
    "images": ["PlanarImage", "PlanarSeries", "has_patient_plane", "open_grid", "open_images"],
    "image_files": ["write_image"],
    "labelmaps": ["from_labelmap_file", "from_probability_files", "label_values", "write_labelmap_files"],
    "masks": ["label_boxes", "surface_of"],
    "matching": ["MatchedSegment", "match_segments", "segment_key"],
    "phantoms": [
        "PHANTOM_SEGMENTS",
        "PetAcquisition",
        "ct_datasets",
        "pet_datasets",
        "phantom_geometry",
        "phantom_volume",
        "ultrasound_cine_dataset",
        "write_datasets",
        "write_phantom_series",
    ],
    "segmentation": ["AlgorithmType", "DEFAULT_COLOR", "MaskKind", "Provenance", "SegmentDescription", "Segmentation"],
    "series": ["ReferenceSeries", "SliceSource"],
    "suv": ["DECAY_CORRECTIONS", "SUV_UNITS", "SUVScale", "body_surface_area_m2", "lean_body_mass_kg", "pet_suv_scale",
            "series_suv_scale", "suv_scale"],
    "uptake": ["PEAK_SPHERE_RADIUS_MM", "UptakeStatistics", "threshold_region", "uptake_statistics"],
})
