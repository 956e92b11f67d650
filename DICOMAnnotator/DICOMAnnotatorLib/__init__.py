"""DICOMAnnotatorLib: the Slicer-free core of DICOMAnnotator.

Everything a user can do without the Slicer application lives here (series geometry,
segmentations, protocols, DICOM SEG/SR, consensus, review store) and is exposed by the
``dicom-annotator`` command. Importing this package is cheap and loads no Slicer, Qt, CTK
or VTK module; only :mod:`DICOMAnnotatorLib.mrml_bridge` does, and only when imported.
"""

__version__ = "0.1.0"
