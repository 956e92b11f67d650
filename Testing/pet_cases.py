"""A PET/CT case for the SUV statistics and their SR: a PET (4 mm voxels) and a CT (1 x 1 x 2 mm, another origin)
in one frame of reference, and a SEG of a lesion drawn on the CT (``Testing/core/test_uptake.py`` works its
statistics out by hand). The patient is 70 kg, 1.75 m, male, so every SUV type can be computed."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from DICOMAnnotatorLib.imaging import (
    PetAcquisition,
    ReferenceSeries,
    Segmentation,
    SegmentDescription,
    ct_datasets,
    pet_datasets,
    phantom_geometry,
    write_datasets,
)
from DICOMAnnotatorLib.seg import write_seg
from pydicom.uid import generate_uid


def write_case(folder, *, ct_frame=None, enhanced: bool = False) -> tuple[Segmentation, ReferenceSeries]:
    """The case in ``folder`` (``pet``, ``ct``, ``seg.dcm``): the segmentation on the CT, and the PET (one Enhanced
    PET instance with ``enhanced``)."""
    frame, study = generate_uid(), generate_uid()  # one PET/CT study
    pet_geometry = phantom_geometry(size=(20, 20, 10), spacing=(4.0, 4.0, 4.0), origin=(-40.0, -40.0, -20.0))
    activity = np.full(pet_geometry.array_shape, 1000.0)
    activity[4:8, 8:12, 8:12] = 8000.0
    activity[5, 9, 10] = 16000.0
    acquisition = PetAcquisition(injection=datetime(2026, 1, 5, 10), scan_start=datetime(2026, 1, 5, 11),
                                 decay_correction="ADMIN")
    pet = pet_datasets(pet_geometry, activity, acquisition, frame_of_reference_uid=frame, study_uid=study,
                       enhanced=enhanced)
    for ds in pet:
        ds.PatientSize, ds.PatientSex = "1.75", "M"
    write_datasets(pet, folder / "pet")
    ct_geometry = phantom_geometry(size=(60, 60, 16), spacing=(1.0, 1.0, 2.0), origin=(-30.3, -30.3, -15.0))
    datasets = ct_datasets(ct_geometry, np.zeros(ct_geometry.array_shape, np.int16), study_uid=study)
    for ds in datasets:
        ds.FrameOfReferenceUID = ct_frame or frame
    write_datasets(datasets, folder / "ct")
    ct = ReferenceSeries.from_paths(folder / "ct")
    i, j, k = np.meshgrid(*(np.arange(n) for n in ct_geometry.size), indexing="ij")
    centres = ct_geometry.index_to_lps(np.column_stack([i.ravel(), j.ravel(), k.ravel()]))
    inside = np.all((centres >= [-10, -10, -6]) & (centres < [6, 6, 10]), axis=1)
    lesion = np.zeros(ct_geometry.array_shape, bool)
    lesion[k.ravel()[inside], j.ravel()[inside], i.ravel()[inside]] = True
    segmentation = Segmentation(ct_geometry, [SegmentDescription(1, "Lesion")], {1: lesion}, reference=ct)
    write_seg(segmentation, folder / "seg.dcm")
    return segmentation, ReferenceSeries.from_paths(folder / "pet")
