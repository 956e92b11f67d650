"""DICOMAnnotatorLib: the Slicer-free core of DICOMAnnotator.

Everything a user can do without the Slicer application lives here (series geometry,
segmentations, protocols, DICOM SEG/SR, consensus, review store) and is exposed by the
``dicom-annotator`` command. Importing this package is cheap and loads no Slicer, Qt, CTK
or VTK module; only :mod:`DICOMAnnotatorLib.mrml_bridge` does, and only when imported.
"""

__version__ = "0.1.0"

#: The implementation class UID of files this package writes (pydicom's root + our suffix).
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.8.498.1"
