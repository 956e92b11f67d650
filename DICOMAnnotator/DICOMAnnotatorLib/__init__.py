"""DICOMAnnotatorLib: the Slicer-free core of DICOMAnnotator.

Everything a user can do without the Slicer application lives here and is exposed by the
``dicom-annotator`` command. One package per concept, in layers that import only downward
(``Testing/core/test_layers.py`` holds this order; ``docs/architecture.md`` explains it):

- ``errors``, ``atomic``, ``lazy``: the exception hierarchy, write-then-rename outputs and the
  packages' lazily loaded APIs, used by all; ``parallel``: batch work on local processes or a Dask
  cluster;
- ``dicom``: bytes and low-level DICOM (Part 10, headers and sequences read from bytes, codes,
  colours, person names, patient/study attributes copied into derived objects);
- ``imaging``: series geometry, reference series, segmentations, masks, label-map files, phantoms;
- ``protocols``: annotation protocols (coded structures, presets, review set-up);
- ``seg``, then ``sr``: DICOM Segmentation, then TID 1500 reports and measurements;
- ``agreement``, ``export``, ``deid``, ``pacs``: agreement and consensus, NIfTI and surface models,
  de-identification, PACS transfer (DICOMweb, DIMSE);
- ``review``: the review store, identity, workflow, audit and kept files; its ``LocalService``;
- ``dataset``: final cases exported for training, manifest, splits and the dataset card;
- ``server``: the team server's HTTP API and ``RemoteService``, the same actions over HTTP;
- ``mrml``: the only package that imports ``slicer``/``vtk`` (the Slicer modules' layer);
- ``cli`` and ``demo``: the command and its demonstration.

Each package's ``__init__`` names its public API; importing a package is cheap (its modules load
when one of their names is first used), so a command pays only for what it runs.
"""

from pathlib import Path

__version__ = "0.1.0"

#: The implementation class UID of files this package writes (pydicom's root + our suffix).
IMPLEMENTATION_CLASS_UID = "1.2.826.0.1.3680043.8.498.1"

#: Manufacturer of the SEG, SR and other objects this package writes (their Equipment modules).
MANUFACTURER = "DICOMAnnotator"

#: Data shipped inside the package: protocols and their schema, de-identification and DICOM tables.
RESOURCES = Path(__file__).resolve().parent / "resources"
