"""Independent readers get back exactly what we wrote: segments, codes and every voxel.

highdicom (the library we write with, but its reading side: segread + get_volume) reads
every case, LABELMAP included; dcmqi's segimage2itkimage (what 3D Slicer's
QuantitativeReporting used) reads every case too; pydicom-seg (its maintained fork
pydicom-seg-rb, as pydicom-seg 0.4 pins numpy<2 and jsonschema<4) reads BINARY and FRACTIONAL (it does not know the
Label Map Segmentation SOP class); dcmjs (the library OHIF uses) reads every case, LABELMAP frames
through its RLE decoder.
Each reader's volume is placed on the series grid from the geometry *it* derived, so a
reader that put a frame on another slice fails here.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import require_module
from interop_tools import dcmjs_read, python_program, run
from seg_cases import (
    FRACTIONAL_MAX,
    SegCase,
    assert_same_values,
    case_names,
    dataset_codes,
    description_codes,
    on_grid,
    session_cases,
    sitk_affine,
)

ALL = case_names()
NOT_LABELMAP = [name for name in ALL if not name.endswith("-labelmap")]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return session_cases(tmp_path_factory)


# ------------------------------------------------------------------ highdicom
@pytest.mark.parametrize("name", ALL)
def test_highdicom(cases, name):
    import highdicom as hd

    case: SegCase = cases[name]
    seg = hd.seg.segread(case.path)
    assert seg.segmentation_type.value == case.seg_type.upper()
    assert seg.ContentCreatorName == "Doe^Jane"
    codes = {}
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        region = description.anatomic_regions[0] if description.anatomic_regions else None
        codes[number] = tuple(
            [description.segment_label]
            + [None if c is None else (c.value, c.scheme_designator, c.meaning)
               for c in (description.segmented_property_category, description.segmented_property_type, region)])
    assert codes == description_codes(case.segments)
    volume = seg.get_volume(combine_segments=False, skip_overlap_checks=True, rescale_fractional=False)
    found = {number: on_grid(volume.array[..., channel], volume.affine, case.geometry)
             for channel, number in enumerate(seg.segment_numbers)}
    assert_same_values(case, found, "highdicom")


# ------------------------------------------------------------------ dcmqi
@pytest.mark.parametrize("name", ALL)
def test_dcmqi_segimage2itkimage(cases, name, tmp_path):
    case: SegCase = cases[name]
    run([python_program("segimage2itkimage"), "--inputDICOM", str(case.path), "--outputDirectory", str(tmp_path),
         "--outputType", "nrrd"])
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["ContentCreatorName"] == "Doe^Jane"
    found, codes = {}, {}
    for group, attributes in enumerate(meta["segmentAttributes"], start=1):
        image = sitk.ReadImage(str(tmp_path / f"{group}.nrrd"))
        array = on_grid(sitk.GetArrayFromImage(image), sitk_affine(image), case.geometry)
        for attribute in attributes:
            number = attribute["labelID"]
            # one segment per file: BINARY holds its label ID, FRACTIONAL the stored fractions
            found[number] = array if case.seg_type == "fractional" else (array == number).astype(np.uint8)
            codes[number] = (attribute["SegmentLabel"], *(
                None if key not in attribute else tuple(attribute[key][k] for k in
                                                        ("CodeValue", "CodingSchemeDesignator", "CodeMeaning"))
                for key in ("SegmentedPropertyCategoryCodeSequence", "SegmentedPropertyTypeCodeSequence",
                            "AnatomicRegionSequence")))
            color = next(s.color for s in case.segments if s.number == number)
            assert np.abs(np.subtract(attribute["recommendedDisplayRGBValue"], color)).max() <= 1
    assert codes == description_codes(case.segments)
    assert_same_values(case, found, "dcmqi")


# ------------------------------------------------------------------ pydicom-seg
@pytest.mark.parametrize("name", NOT_LABELMAP)
def test_pydicom_seg(cases, name):
    pydicom_seg = require_module("pydicom_seg_rb")
    case: SegCase = cases[name]
    result = pydicom_seg.SegmentReader().read(pydicom.dcmread(case.path))
    assert dataset_codes(result.segment_infos.values()) == description_codes(case.segments)
    found = {}
    for number in result.available_segments:
        image = result.segment_image(number)
        array = sitk.GetArrayFromImage(image)
        if case.seg_type == "fractional":
            array = np.round(array * FRACTIONAL_MAX).astype(np.uint8)
        found[number] = on_grid(array, sitk_affine(image), case.geometry)
    assert_same_values(case, found, "pydicom-seg")


# ------------------------------------------------------------------ dcmjs
@pytest.mark.parametrize("name", ALL)
def test_dcmjs(cases, name):
    case: SegCase = cases[name]
    binary = case.seg_type == "binary"
    result = dcmjs_read(case.path, case.source_files if binary else [])
    assert result["segmentationType"] == case.seg_type.upper()
    assert result["contentCreatorName"] == "Doe^Jane"
    codes = {s["number"]: (s["label"], *(None if s[k] is None else tuple(s[k])
                                         for k in ("category", "type", "anatomicRegion")))
             for s in result["segments"] if s["number"]}  # a LABELMAP's segment 0 is its background
    assert codes == description_codes(case.segments)
    # every frame: its segment, the slice its position names, and its pixels
    inverse = np.linalg.inv(case.geometry.affine)
    frames, empty_frames = {}, 0
    for frame in result["frames"]:
        i, j, k = np.round(inverse @ np.append(frame["position"], 1.0))[:3].astype(int)
        assert (i, j) == (0, 0)
        if case.seg_type == "labelmap":  # a frame holds the segment numbers of one slice
            frames.update({(int(number), int(k)): count for number, count in frame["counts"].items()})
        elif frame["nonzero"]:
            frames[frame["segment"], int(k)] = frame["sum"] if not binary else frame["nonzero"]
        empty_frames += not frame["nonzero"]
    expected = {(number, k): int(values[k].sum()) for number, values in case.values.items()
                for k in range(values.shape[0]) if values[k].any()}
    assert frames == expected, "dcmjs reads other frames than the non-empty slices of each segment"
    assert empty_frames == 0 or not expected, "empty frames are omitted unless nothing at all is labelled"
    if binary:
        assert_same_values(case, cornerstone_masks(case, result["adapter"]), "dcmjs Cornerstone adapter")


def cornerstone_masks(case: SegCase, adapter: dict) -> dict[int, np.ndarray]:
    """The segments the Cornerstone adapter put on the source images, on the series grid."""
    slice_of = {(s.sop_instance_uid, s.frame_number): k for k, s in enumerate(case.series.slices)}
    order = [slice_of[uid, frame] for uid, frame in adapter["sources"]]
    rows_columns = case.geometry.array_shape[1:]
    labelmaps = []
    for encoded in adapter["labelmaps"]:
        stack = np.frombuffer(base64.b64decode(encoded), dtype="<u2").reshape(len(order), *rows_columns)
        grid = np.zeros(case.geometry.array_shape, dtype=np.uint16)
        grid[order] = stack
        labelmaps.append(grid)
    return {number: np.any([labelmap == number for labelmap in labelmaps], axis=0).astype(np.uint8)
            for number in adapter["segmentNumbers"]}
