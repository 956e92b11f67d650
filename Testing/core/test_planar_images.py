"""2D images and cine: what ``series info`` says of them, their calibration, their colours, their label maps.

Real files: highdicom's DX image, pydicom's ultrasound images (single-frame RGB, palette with
ultrasound regions, YBR_FULL_422 cine), the TCIA pseudo-PHI radiograph in presidio's test data; and
generated radiograph headers for each calibration rule of PS3.3 (Pixel Spacing with its
calibration type, Imager Pixel Spacing, the Estimated Radiographic Magnification Factor).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import assert_one_line_error, dciodvfy_errors, run, third_party_file
from DICOMAnnotatorLib.errors import GeometryMismatchError, SeriesError
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.calibration import Calibration, calibration_of
from DICOMAnnotatorLib.imaging.images import PlanarSeries, open_grid, open_images
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def radiograph(path: Path, *, rows: int = 40, columns: int = 60, series_uid: str | None = None,
               instance_number: int = 1, **attributes) -> Path:
    """A DX image without patient position (a projection), with ``attributes`` (e.g. ImagerPixelSpacing)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = DX_STORAGE
    ds.SOPClassUID = DX_STORAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), series_uid or generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID, ds.InstanceNumber = "DX", "Test^Radiograph", "R1", instance_number
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, columns, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.arange(rows * columns, dtype=np.uint16) % 4096).tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize(("attributes", "kind", "spacing"), [
    ({}, Calibration.NONE, None),
    ({"ImagerPixelSpacing": [0.15, 0.1]}, Calibration.IMAGER_PIXEL_SPACING, (0.1, 0.15)),
    ({"ImagerPixelSpacing": [0.1, 0.1], "PixelSpacing": [0.1, 0.1]}, Calibration.IMAGER_PIXEL_SPACING, (0.1, 0.1)),
    ({"ImagerPixelSpacing": [0.1, 0.1], "EstimatedRadiographicMagnificationFactor": 1.25},
     Calibration.MAGNIFICATION_CORRECTED, (0.08, 0.08)),
    ({"ImagerPixelSpacing": [0.1, 0.1], "EstimatedRadiographicMagnificationFactor": 1},
     Calibration.IMAGER_PIXEL_SPACING, (0.1, 0.1)),
    ({"ImagerPixelSpacing": [0.1, 0.1], "PixelSpacing": [0.08, 0.08], "EstimatedRadiographicMagnificationFactor": 1.25},
     Calibration.MAGNIFICATION_CORRECTED, (0.08, 0.08)),
    ({"ImagerPixelSpacing": [0.5, 0.5], "PixelSpacing": [0.25, 0.25], "PixelSpacingCalibrationType": "FIDUCIAL",
      "EstimatedRadiographicMagnificationFactor": 1.5}, Calibration.PIXEL_SPACING, (0.25, 0.25)),
    ({"ImagerPixelSpacing": [0.1, 0.1], "PixelSpacing": [0.07, 0.07]}, Calibration.PIXEL_SPACING, (0.07, 0.07)),
    ({"PixelSpacing": [0.3, 0.2]}, Calibration.PIXEL_SPACING, (0.2, 0.3)),
])
def test_calibration_follows_pixel_spacing_imager_pixel_spacing_and_magnification(tmp_path, attributes, kind, spacing):
    """PS3.3 10.7.1.3 and C.8.11.4.1.1: a calibration type makes Pixel Spacing calibrated; Imager Pixel Spacing
    is at the detector; divided by the magnification factor it is at the object (spacing in column, row order)."""
    path = radiograph(tmp_path / "dx.dcm", **attributes)
    calibration = calibration_of(pydicom.dcmread(path, stop_before_pixels=True))
    assert calibration.kind is kind
    assert calibration.spacing == (pytest.approx(spacing) if spacing else None)
    summary = json.loads(run("series", "info", path, "--json").stdout)
    assert (summary["kind"], summary["calibration"], summary["size"]) == ("image", kind.value, [60, 40, 1])
    assert summary["spacing"] == (pytest.approx(list(spacing)) if spacing else None) and "affine" not in summary


@pytest.mark.parametrize(("name", "kind", "frames", "calibration", "spacing", "colour"), [
    ("examples_rgb_color.dcm", "image", 1, "none", None, True),
    ("examples_palette.dcm", "image", 1, "ultrasound_regions", [0.262288, 0.262288], True),
    ("examples_ybr_color.dcm", "cine", 30, "ultrasound_regions", [0.510497, 0.510497], True),
    ("JPEG2000.dcm", "image", 1, "pixel_spacing", None, False),  # a nuclear medicine secondary capture
])
def test_series_info_of_pydicoms_ultrasound_and_secondary_capture_images(name, kind, frames, calibration, spacing,
                                                                          colour):
    result = run("series", "info", get_testdata_file(name), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["kind"], summary["size"][2], summary["calibration"]) == (kind, frames, calibration)
    assert summary["samples_per_pixel"] == (3 if colour else 1) and "affine" not in summary
    if spacing is not None:
        assert summary["spacing"] == pytest.approx(spacing, abs=1e-6)
    text = run("series", "info", get_testdata_file(name))
    assert text.returncode == 0 and calibration in text.stdout


@pytest.mark.shared_data
@pytest.mark.parametrize(("relative", "modality", "calibration", "spacing"), [
    ("highdicom/dx_image.dcm", "DX", "imager_pixel_spacing", [1.2012, 1.2]),
    ("presidio/presidio-image-redactor/tests/test_data/0_ORIGINAL_compressed.dcm", "CR", "imager_pixel_spacing",
     [0.2, 0.2]),
    ("presidio/presidio-image-redactor/tests/test_data/RGB_ORIGINAL.dcm", "PT", "none", None),
])
def test_series_info_of_real_radiographs(relative, modality, calibration, spacing):
    summary = json.loads(run("series", "info", third_party_file(relative), "--json").stdout)
    assert (summary["kind"], summary["modality"], summary["calibration"]) == ("image", modality, calibration)
    assert summary["spacing"] == (pytest.approx(spacing, abs=1e-4) if spacing else None)


def test_volumes_keep_their_keys_and_say_their_kind(write_phantom):
    folder, geometry, *_ = write_phantom()
    summary = json.loads(run("series", "info", folder, "--json").stdout)
    assert (summary["kind"], summary["calibration"]) == ("volume", "patient")
    assert isinstance(open_images(folder), ReferenceSeries)


def test_ultrasound_regions_calibrate_only_inside_them():
    """PS3.3 C.8.5.5: Physical Delta X/Y in cm hold in their region; a mark elsewhere is measured in pixels."""
    image = open_grid(get_testdata_file("examples_palette.dcm"))
    calibration = image.calibration
    assert [(r.columns, r.rows) for r in calibration.regions] == [((120, 800), (60, 518))]  # the 2D tissue region
    assert calibration.spacing_at(np.array([[200.0, 100.0], [300.0, 200.0]])) == pytest.approx((0.262288, 0.262288),
                                                                                              abs=1e-6)
    assert calibration.spacing_at(np.array([[10.0, 10.0], [300.0, 200.0]])) is None


def test_colour_is_decoded_to_the_rgb_the_producer_meant():
    """Palette through its lookup tables (scaled to 8 bits); YBR_FULL_422 converted: pydicom's same image in RGB
    (SC_rgb_rle) and in YBR_FULL_422 (SC_ybr_full_422_uncompressed) give the same colours within rounding
    and chroma subsampling."""
    palette = open_grid(get_testdata_file("examples_palette.dcm"))
    ds = pydicom.dcmread(get_testdata_file("examples_palette.dcm"))
    lut = ds.RedPaletteColorLookupTableDescriptor
    stored = ds.pixel_array.astype(int)
    red = np.frombuffer(ds.RedPaletteColorLookupTableData, dtype="<u2")  # 16-bit entries from the first mapped value
    expected_red = (red[np.clip(stored - lut[1], 0, lut[0] - 1)] >> 8).astype(np.uint8)
    pixels = palette.read_voxels()
    assert pixels.shape == (1, 350, 800, 3) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels[0, ..., 0], expected_red)
    rgb = open_grid(get_testdata_file("SC_rgb_rle.dcm")).read_voxels().astype(int)
    ybr = open_grid(get_testdata_file("SC_ybr_full_422_uncompressed.dcm")).read_voxels().astype(int)
    difference = np.abs(rgb - ybr)  # 8-bit YCbCr rounding: a few units; decoded as greyscale or unconverted: ~100
    assert difference.max() <= 6 and difference.mean() < 1
    cine = open_grid(get_testdata_file("examples_ybr_color.dcm"))
    assert cine.read_voxels().shape == (30, 240, 320, 3) and cine.kind == "cine"
    assert [s.frame_number for s in cine.slices] == list(range(1, 31))


def test_a_series_of_several_views_is_one_case_and_a_label_map_names_its_image(tmp_path):
    """A mammography exam's views in one series: ``series info`` lists each; a label map lies on one of them."""
    series = generate_uid()
    for number, view in enumerate(("rcc", "lcc", "rmlo", "lmlo"), start=1):
        radiograph(tmp_path / "exam" / f"{view}.dcm", series_uid=series, instance_number=number,
                   ImagerPixelSpacing=[0.1, 0.1], rows=30 + number, columns=20)
    opened = open_images(tmp_path / "exam")
    assert isinstance(opened, PlanarSeries) and len(opened.images) == 4
    assert [image.rows for image in opened.images] == [31, 32, 33, 34]  # instance number order
    summary = json.loads(run("series", "info", tmp_path / "exam", "--json").stdout)
    assert summary["instances"] == 4 and [i["size"] for i in summary["images"]] == [[20, r, 1] for r in
                                                                                     (31, 32, 33, 34)]
    with pytest.raises(SeriesError, match="holds 4 images .*a label map lies on one image"):
        open_grid(tmp_path / "exam", purpose="a label map")


def test_a_2d_label_map_of_the_wrong_size_is_refused_and_nothing_written(tmp_path):
    image = radiograph(tmp_path / "dx.dcm", ImagerPixelSpacing=[0.1, 0.1])
    wrong = tmp_path / "wrong.png"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((41, 60), dtype=np.uint8)), str(wrong))
    result = run("seg", "export", image, wrong, "-o", tmp_path / "seg.dcm")
    assert_one_line_error(result, str(wrong), "60 columns x 40 rows")
    assert not (tmp_path / "seg.dcm").exists()
    with pytest.raises(GeometryMismatchError, match="x 30 frames"):
        open_grid(get_testdata_file("examples_ybr_color.dcm")).geometry.require_same_grid(
            open_grid(get_testdata_file("examples_rgb_color.dcm")).geometry, "a label map")


@pytest.mark.parametrize(("mark", "fragments"), [
    ({"frame": 31, "points": [[10, 10]]}, ["marks[0] names frame 31", "30 frame(s)", "from 1 to 30"]),
    ({"frame": 0, "points": [[10, 10]]}, ["marks[0] names frame 0", "from 1 to 30"]),
    ({"points": [[10, 10]]}, ["marks[0]", "a cine of 30 frames", "name its frame"]),
    ({"frame": 2, "points": [[10, 10], [320.5, 10]]}, ["marks[0] has point [320.5, 10.0] outside its image",
                                                       "320 columns x 240 rows"]),
    ({"frame": 2, "points": [[10, -0.1]]}, ["outside its image"]),
])
def test_a_mark_off_its_cine_is_refused_and_no_report_written(tmp_path, mark, fragments):
    """pydicom's YBR_FULL_422 ultrasound cine (320 x 240, 30 frames)."""
    cine = get_testdata_file("examples_ybr_color.dcm")
    marks = tmp_path / "marks.json"
    instance = str(pydicom.dcmread(cine, stop_before_pixels=True).SOPInstanceUID)
    marks.write_text(json.dumps({"marks": [{"kind": "point" if len(mark["points"]) == 1 else "polyline",
                                            "label": "Lesion", "instance": instance, **mark}]}))
    result = run("sr", "export", "--series", cine, "-o", tmp_path / "sr.dcm", "--marks", marks)
    assert_one_line_error(result, str(marks), *fragments)
    assert list(tmp_path.iterdir()) == [marks]


def test_the_generated_ultrasound_cine_is_conformant_calibrated_and_beats(tmp_path):
    """The phantom echo loop of the tests and demo: 0 dciodvfy errors, calibrated by its ultrasound region (no Pixel
    Spacing), timed by Frame Time, its cavity largest at frame 1 and smallest half way through the loop."""
    [path] = phantoms.write_datasets([phantoms.ultrasound_cine_dataset(frames=12, mm_per_pixel=0.4)], tmp_path)
    assert dciodvfy_errors(path) == []
    [cine] = open_images(path).images
    assert (cine.modality, cine.kind, cine.frame_count) == ("US", "cine", 12)
    assert cine.calibration.kind is Calibration.ULTRASOUND_REGIONS and cine.calibration.spacing == (0.4, 0.4)
    assert float(pydicom.dcmread(path, stop_before_pixels=True).FrameTime) == 40.0
    cavity = (cine.read_voxels() < 70).sum(axis=(1, 2))
    assert int(np.argmax(cavity)) == 0 and int(np.argmin(cavity)) == 6
