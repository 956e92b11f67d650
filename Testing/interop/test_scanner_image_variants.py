"""Image files as scanners write them beyond plain greyscale slices: Siemens mosaics, colour multi-frame
images, sources with empty sequences, one-frame enhanced images.

The files are generated with the structure the scanners give them (a mosaic's tile grid and private
headers, an Enhanced MR Color image's RGB frames, Philips' empty Procedure Code Sequence), since the
test data holds none of them; what is written on them is checked with dciodvfy, and the colour NIfTI
against pydicom's decoding of the source.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import dciodvfy_errors, in_process_cli
from DICOMAnnotatorLib.dicom.mosaic import csa_values
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.image_files import write_image
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.sr.reader import sr_summary
from pydicom.uid import MRImageStorage

ENHANCED_MR_COLOR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.3"


@pytest.fixture
def cli(capsys):
    return in_process_cli(capsys)


def assert_one_error(result: tuple[int, str, str], *fragments: str) -> str:
    status, out, err = result
    lines = err.strip().splitlines()
    assert status == 1 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def labels_on(series_folder, path, value=1):
    """A small label map (a block in the middle) on the series' grid."""
    geometry = ReferenceSeries.from_paths(series_folder).geometry
    labels = np.zeros(geometry.array_shape, dtype=np.uint8)
    k, j, i = (n // 2 for n in geometry.array_shape)
    labels[max(k - 1, 0):k + 1, j - 2:j + 2, i - 3:i + 3] = value
    write_image(labels, geometry, path)
    return labels


# --------------------------------------------------------------------- 1. Siemens mosaics
def csa_header(entries: dict[str, list[str]]) -> bytes:
    """A Siemens CSA header in the SV10 layout (signature, tag count, tags of 64-byte names and items)."""
    header = bytearray(b"SV10\x04\x03\x02\x01" + struct.pack("<II", len(entries), 77))
    for name, values in entries.items():
        header += struct.pack("<64si4siii", name.encode(), len(values), b"IS\0\0", 6, len(values), 77)
        for value in values:
            data = value.encode() + b"\0"
            header += struct.pack("<4i", len(data), len(data), 77, len(data)) + data + b"\0" * (-len(data) % 4)
    return bytes(header)


def mosaic(marks: set[str]) -> pydicom.Dataset:
    """Four phantom slices tiled 2 x 2 into one MR image, with the chosen marks of a Siemens mosaic."""
    geometry = phantoms.phantom_geometry(size=(8, 6, 4))
    voxels, _ = phantoms.phantom_volume(geometry)
    ds = phantoms.ct_datasets(geometry, voxels)[0]
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.Modality = "MR"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC" if "image type" in marks else "NORM"]
    tiles = voxels.reshape(2, 2, 6, 8).transpose(0, 2, 1, 3).reshape(12, 16)
    ds.Rows, ds.Columns = tiles.shape
    ds.PixelData = np.ascontiguousarray(tiles, dtype="<i2").tobytes()
    if "mr header" in marks:
        ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0A, "US", 4)
    if "csa header" in marks:
        csa = csa_header({"EchoLinePosition": ["3"], "NumberOfImagesInMosaic": ["4"],
                          "SliceNormalVector": ["0.0", "0.0", "1.0"]})
        ds.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(0x10, "OB", csa)
    return ds


@pytest.mark.parametrize("marks", [{"image type"}, {"mr header"}, {"csa header"},
                                   {"image type", "mr header", "csa header"}])
def test_a_mosaic_is_refused_by_any_of_its_marks(marks, cli, tmp_path):
    folder = tmp_path / "mosaic"
    phantoms.write_datasets([mosaic(marks)], folder)
    path = folder / "0001.dcm"
    count = "4 slices" if marks != {"image type"} else "several slices"
    assert_one_error(cli("series", "info", folder, "--json"), str(path), "Siemens mosaic", count, "dcm2niix")
    geometry = phantoms.phantom_geometry(size=(16, 12, 1))
    write_image(np.ones(geometry.array_shape, dtype=np.uint8), geometry, tmp_path / "labels.nii.gz")
    assert_one_error(cli("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "seg.dcm"),
                     "Siemens mosaic")
    assert not (tmp_path / "seg.dcm").exists()


def test_the_csa_header_is_read_entry_by_entry():
    values = csa_values(csa_header({"NumberOfImagesInMosaic": ["35"], "SliceNormalVector": ["0", "0.108", "0.994"],
                                    "ImaCoilString": []}))
    assert values == {"NumberOfImagesInMosaic": ["35"], "SliceNormalVector": ["0", "0.108", "0.994"],
                      "ImaCoilString": []}
    assert csa_values(b"not a CSA header") == {}
    assert csa_values(csa_header({"NumberOfImagesInMosaic": ["35"]})[:100]) == {}  # cut short: nothing made up


# --------------------------------------------------------------------- 2. colour multi-frame images
def enhanced_colour_series(folder) -> np.ndarray:
    """An Enhanced MR Color image (RGB frames on the phantom's planes); returns its frames [k, j, i, c]."""
    geometry = phantoms.phantom_geometry(size=(12, 10, 5))
    voxels, _ = phantoms.phantom_volume(geometry)
    ds = phantoms.ct_datasets(geometry, voxels, enhanced=True)[0]
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = ENHANCED_MR_COLOR_IMAGE_STORAGE
    ds.Modality = "MR"
    del ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence
    rng = np.random.default_rng(24)
    rgb = rng.integers(0, 256, size=(*geometry.array_shape, 3), dtype=np.uint8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = rgb.tobytes()
    phantoms.write_datasets([ds], folder)
    return rgb


def test_colour_multiframe_series_works_on_the_grid_and_exports_rgb(cli, tmp_path):
    folder = tmp_path / "colour"
    rgb = enhanced_colour_series(folder)
    status, out, err = cli("series", "info", folder, "--json")
    assert status == 0, err
    info = json.loads(out)
    assert info["samples_per_pixel"] == 3 and info["size"] == [12, 10, 5]
    labels = labels_on(folder, tmp_path / "labels.nii.gz")
    status, _, err = cli("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "seg.dcm")
    assert status == 0, err

    status, _, err = cli("export", "nifti", tmp_path / "seg.dcm", "--series", folder, "-o", tmp_path / "nifti")
    assert status == 0, err
    image = sitk.ReadImage(str(tmp_path / "nifti" / "image.nii.gz"))
    assert image.GetNumberOfComponentsPerPixel() == 3 and image.GetPixelID() == sitk.sitkVectorUInt8
    assert np.array_equal(sitk.GetArrayFromImage(image), rgb)  # [k, j, i, c], as the frames were stored
    written_labels = sitk.ReadImage(str(tmp_path / "nifti" / "labels.nii.gz"))
    assert image.GetOrigin() == written_labels.GetOrigin() and image.GetDirection() == written_labels.GetDirection()
    assert np.array_equal(sitk.GetArrayFromImage(written_labels), labels)

    status, _, err = cli("sr", "export", tmp_path / "seg.dcm", "--series", folder, "-o", tmp_path / "sr.dcm")
    assert status == 0, err
    assert "colour image" in err and "without intensity statistics" in err
    names = {m["name"][2] for m in sr_summary(tmp_path / "sr.dcm")["measurements"]}
    assert names == {"Volume", "Diameter"}, "no intensity statistics on colour values"
    assert dciodvfy_errors(tmp_path / "sr.dcm") == []


def test_a_one_frame_enhanced_image_reads_as_one_slice(tmp_path):
    """pydicom drops the frame axis of a one-frame image; the slice must still be the whole frame."""
    geometry = phantoms.phantom_geometry(size=(12, 10, 1))
    voxels, _ = phantoms.phantom_volume(geometry)
    phantoms.write_datasets(phantoms.ct_datasets(geometry, voxels, enhanced=True), tmp_path / "one")
    assert np.array_equal(ReferenceSeries.from_paths(tmp_path / "one").read_voxels(), voxels)


def test_single_frame_colour_images_read_as_a_colour_volume(tmp_path):
    geometry = phantoms.phantom_geometry(size=(12, 10, 3))
    voxels, _ = phantoms.phantom_volume(geometry)
    rgb = np.random.default_rng(7).integers(0, 256, size=(*geometry.array_shape, 3), dtype=np.uint8)
    datasets = phantoms.ct_datasets(geometry, voxels)
    for k, ds in enumerate(datasets):
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = rgb[k].tobytes()
    phantoms.write_datasets(datasets, tmp_path / "rgb")
    series = ReferenceSeries.from_paths(tmp_path / "rgb")
    assert series.is_colour and np.array_equal(series.read_voxels(), rgb)


# --------------------------------------------------------------------- 3. empty sequences in the source
def test_an_empty_source_sequence_is_left_out_of_seg_and_sr(cli, tmp_path):
    geometry = phantoms.phantom_geometry(size=(16, 12, 4))
    voxels, _ = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, voxels)
    for ds in datasets:
        ds.ProcedureCodeSequence = []  # as Philips writes it
        ds.ReferencedStudySequence = [pydicom.Dataset()]
        ds.ReferencedStudySequence[0].ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
        ds.ReferencedStudySequence[0].ReferencedSOPInstanceUID = pydicom.uid.generate_uid()
    folder = tmp_path / "series"
    phantoms.write_datasets(datasets, folder)
    labels_on(folder, tmp_path / "labels.nii.gz")
    status, _, err = cli("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "seg.dcm")
    assert status == 0, err
    status, _, err = cli("sr", "export", tmp_path / "seg.dcm", "--series", folder, "-o", tmp_path / "sr.dcm")
    assert status == 0, err
    for written in (tmp_path / "seg.dcm", tmp_path / "sr.dcm"):
        ds = pydicom.dcmread(written, stop_before_pixels=True)
        assert "ProcedureCodeSequence" not in ds, written.name
        assert len(ds.ReferencedStudySequence) == 1, "a sequence with items is still copied"
        assert dciodvfy_errors(written) == [], written.name
