"""SUV statistics of a segmentation drawn on the CT, measured on the PET of the same frame of reference.

The PET (4 mm voxels) and the CT (1 x 1 x 2 mm, another origin) share a frame of reference but not a
grid. The lesion is the box x, y in [-10, 6) mm and z in [-6, 10) mm: on the PET exactly the 4 x 4 x 4
voxels i, j = 8..11, k = 4..7, of 8000 Bq/ml but for one interior voxel of 16000 Bq/ml, in a background
of 1000 Bq/ml. Decay Correction ADMIN, 370 MBq, 70 kg: factor 70000 / 370e6 = 1.891892e-4 g/ml per Bq/ml.

- SUVmax = 16000 x 1.891892e-4 = 3.027027
- SUVmean = (63 x 8000 + 16000) / 64 = 8125 Bq/ml -> 1.537162
- MTV = 64 voxels x 0.064 ml = 4.096 ml; TLG = 1.537162 x 4.096 = 6.296216 g
- SUVpeak: the 1 cm^3 sphere (radius 6.2035 mm) on 4 mm voxels holds the centre, its 6 face and 12 edge
  neighbours (4 and 5.66 mm; corners at 6.93 mm are out): around the hot voxel, all in the lesion,
  (18 x 8000 + 16000) / 19 = 8421.05 Bq/ml -> 1.593172.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
from conftest import assert_one_line_error, run
from DICOMAnnotatorLib.errors import GeometryMismatchError
from DICOMAnnotatorLib.imaging import (
    PetAcquisition,
    ReferenceSeries,
    Segmentation,
    SegmentDescription,
    ct_datasets,
    pet_datasets,
    phantom_geometry,
    series_suv_scale,
    uptake_statistics,
    write_datasets,
)
from DICOMAnnotatorLib.seg import write_seg
from pydicom.uid import generate_uid

FACTOR = 70000 / 370e6
HAND = {"suv_max": 3.027027, "suv_mean": 1.537162, "suv_peak": 1.593172, "mtv_ml": 4.096, "tlg_g": 6.296216}


def write_case(folder, *, ct_frame=None):
    frame = generate_uid()
    pet_geometry = phantom_geometry(size=(20, 20, 10), spacing=(4.0, 4.0, 4.0), origin=(-40.0, -40.0, -20.0))
    activity = np.full(pet_geometry.array_shape, 1000.0)
    activity[4:8, 8:12, 8:12] = 8000.0
    activity[5, 9, 10] = 16000.0
    acquisition = PetAcquisition(injection=datetime(2026, 1, 5, 10), scan_start=datetime(2026, 1, 5, 11),
                                 decay_correction="ADMIN")
    write_datasets(pet_datasets(pet_geometry, activity, acquisition, frame_of_reference_uid=frame), folder / "pet")
    ct_geometry = phantom_geometry(size=(60, 60, 16), spacing=(1.0, 1.0, 2.0), origin=(-30.3, -30.3, -15.0))
    datasets = ct_datasets(ct_geometry, np.zeros(ct_geometry.array_shape, np.int16))
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


def test_suv_statistics_equal_the_worked_example(tmp_path):
    segmentation, pet = write_case(tmp_path)
    [lesion] = uptake_statistics(segmentation, pet, series_suv_scale(pet))
    measured = lesion.to_json()
    assert (measured.pop("number"), measured.pop("label")) == (1, "Lesion")
    assert measured == pytest.approx(HAND, rel=1e-5)
    with_empty = Segmentation(segmentation.geometry, [*segmentation.segments, SegmentDescription(2, "Empty")],
                              {1: segmentation.mask(1)}, reference=segmentation.reference)
    empty = uptake_statistics(with_empty, pet, series_suv_scale(pet))[1]
    assert empty.to_json() == {"number": 2, "label": "Empty", "suv_max": None, "suv_mean": None, "suv_peak": None,
                               "mtv_ml": 0.0, "tlg_g": 0.0}


def test_pet_suv_command_measures_a_seg_of_the_ct(tmp_path):
    write_case(tmp_path)
    result = run("pet", "suv", tmp_path / "pet", "--seg", tmp_path / "seg.dcm", "--seg-series", tmp_path / "ct",
                 "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["factor"] == pytest.approx(FACTOR)
    [measured] = payload["segments"]
    assert (measured.pop("number"), measured.pop("label")) == (1, "Lesion")
    assert measured == pytest.approx(HAND, rel=1e-5)


def test_a_segmentation_of_another_frame_of_reference_is_refused(tmp_path):
    segmentation, pet = write_case(tmp_path, ct_frame=generate_uid())
    with pytest.raises(GeometryMismatchError, match="frame of reference"):
        uptake_statistics(segmentation, pet, series_suv_scale(pet))
    result = run("pet", "suv", tmp_path / "pet", "--seg", tmp_path / "seg.dcm", "--seg-series", tmp_path / "ct")
    assert_one_line_error(result, "frame of reference", "register them first")
