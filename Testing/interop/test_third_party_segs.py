"""Our reader on SEGs other producers wrote: it gets the voxels and codes they wrote.

- dcmqi's liver.dcm and partial_overlaps.dcm (overlapping segments) on its 3-slice CT, and
  23x38x3/seg/label.seg on its tiny CT: compared voxel for voxel with the label maps dcmqi
  converted (the nrrd files beside them), placed on the CT grid by their own geometry.
- highdicom's seg_image_ct_*.dcm and dcmjs' QIICR tumour SEG, whose source series are not
  in the data: read on the grid the SEG's own frames describe, and compared with each stored
  frame as pydicom decodes it, placed by the frame's own Plane Position.
Codes are compared with the Segment Sequence as pydicom reads it.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import third_party_file
from DICOMAnnotatorLib.imaging.segmentation import MaskKind, Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.reader import read_seg
from seg_cases import dataset_codes, description_codes, on_grid, sitk_affine

pytestmark = pytest.mark.shared_data

DCMQI = "dcmqi/segmentations/"


def assert_codes_as_written(segmentation: Segmentation, path) -> None:
    written = dataset_codes(pydicom.dcmread(path, stop_before_pixels=True).SegmentSequence)
    assert description_codes(segmentation.segments) == written


def label_map_on(series: ReferenceSeries, relative: str) -> np.ndarray:
    image = sitk.ReadImage(str(third_party_file(relative)))
    return on_grid(sitk.GetArrayFromImage(image), sitk_affine(image), series.geometry)


@pytest.mark.parametrize(("seg", "label_maps", "series"), [
    ("liver.dcm", {"liver_seg.nrrd": [1]}, "ct-3slice"),
    ("partial_overlaps.dcm", {"partial_overlaps-1.nrrd": [1, 4, 5], "partial_overlaps-2.nrrd": [2],
                              "partial_overlaps-3.nrrd": [3]}, "ct-3slice"),
    ("23x38x3/seg/label.seg", {"23x38x3/nrrd/label.nrrd": [1]}, "23x38x3/image"),
])
def test_dcmqi_segs_match_the_label_maps_dcmqi_converted(seg, label_maps, series):
    reference = ReferenceSeries.from_paths(third_party_file(DCMQI + series))
    segmentation = read_seg(third_party_file(DCMQI + seg), reference)
    assert segmentation.reference is reference and segmentation.kind is MaskKind.BINARY
    assert_codes_as_written(segmentation, third_party_file(DCMQI + seg))
    expected = {}
    for relative, numbers in label_maps.items():
        labels = label_map_on(reference, DCMQI + relative)
        expected.update({n: labels == n for n in numbers})
    assert sorted(expected) == [s.number for s in segmentation.segments]
    for number, mask in expected.items():
        assert mask.any()
        assert np.array_equal(segmentation.mask(number), mask), f"segment {number} of {seg} differs"
    if seg == "partial_overlaps.dcm":
        assert segmentation.has_overlaps()


def test_dcmqi_codes_and_creator():
    """dcmqi wrote the retired SNOMED RT code for the liver; the reader keeps it as written rather than guessing."""
    ct = ReferenceSeries.from_paths(third_party_file(DCMQI + "ct-3slice"))
    liver = read_seg(third_party_file(DCMQI + "liver.dcm"), ct)
    assert [(s.label, s.type.as_list()) for s in liver.segments] == [("Liver", ["T-62000", "SRT", "Liver"])]
    assert liver.author is None, "an empty Content Creator's Name is no author"
    overlaps = read_seg(third_party_file(DCMQI + "partial_overlaps.dcm"), ct)
    assert overlaps.author == "Slicer"
    assert [s.label for s in overlaps.segments] == ["GREEN", "ORANGE", "PURPLE", "LIGHT_BLUE", "DARK_BLUE"]


@pytest.mark.parametrize("relative", [
    "highdicom/seg_image_ct_binary.dcm",
    "highdicom/seg_image_ct_binary_fractional.dcm",
    "highdicom/seg_image_ct_true_fractional.dcm",
    "highdicom/seg_image_ct_binary_overlap.dcm",
    "highdicom/seg_image_ct_binary_single_frame.dcm",
    "dcmjs/examples/data/QIICR_Test3/tumor_User1_Manual_Trial1.dcm",
])
def test_seg_without_its_series_holds_every_stored_frame(relative):
    path = third_party_file(relative)
    segmentation = read_seg(path)
    assert_codes_as_written(segmentation, path)
    dataset = pydicom.dcmread(path)
    fractional = dataset.SegmentationType == "FRACTIONAL"
    assert segmentation.kind is (MaskKind.FRACTIONAL if fractional else MaskKind.BINARY)
    maximum = int(dataset.get("MaximumFractionalValue", 1))
    stored = stored_frames(dataset, segmentation)
    assert sorted(stored) == [s.number for s in segmentation.segments]
    for number, values in stored.items():
        assert values.any()
        ours = np.round(segmentation.mask(number) * maximum).astype(np.int64)
        assert np.array_equal(ours, values), f"segment {number} of {relative} differs"


def stored_frames(dataset: pydicom.Dataset, segmentation: Segmentation) -> dict[int, np.ndarray]:
    """Each segment's stored frames (pydicom's decoding) placed on the segmentation's grid by their positions."""
    geometry = segmentation.geometry
    pixels = dataset.pixel_array.reshape(-1, dataset.Rows, dataset.Columns)
    shared = dataset.SharedFunctionalGroupsSequence[0]
    spacing = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
    orientation = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    stored = {int(item.SegmentNumber): np.zeros(geometry.array_shape, dtype=np.int64)
              for item in dataset.SegmentSequence}
    for frame, group in zip(pixels, dataset.PerFrameFunctionalGroupsSequence, strict=True):
        affine = np.eye(4)  # frame array axes (plane, row, column) -> LPS
        affine[:3, 0], affine[:3, 1], affine[:3, 2] = normal, orientation[3:] * spacing[0], orientation[:3] * spacing[1]
        affine[:3, 3] = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        stored[number] += on_grid(frame[None].astype(np.int64), affine, geometry)
    return stored
