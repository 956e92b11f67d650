"""ReferenceSeries: geometry of generated and real series, and refusal of what is not a volume."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import third_party_file
from DICOMAnnotatorLib.dicom.headers import read_header
from DICOMAnnotatorLib.errors import InputError, SeriesError
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.series import ReferenceSeries, _native_pixels
from pydicom.errors import InvalidDicomError
from pydicom.uid import generate_uid

ORIENTATIONS = ["axial", "coronal", "sagittal", "oblique"]


@pytest.mark.parametrize("enhanced", [False, True], ids=["single-frame", "enhanced-multiframe"])
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_geometry_and_voxels_match_what_was_written(write_phantom, orientation, enhanced):
    folder, geometry, hu, _ = write_phantom(orientation, enhanced=enhanced)
    series = ReferenceSeries.from_paths(folder)
    np.testing.assert_allclose(series.geometry.affine, geometry.affine, atol=1e-6)
    assert series.geometry.size == geometry.size
    np.testing.assert_allclose(series.geometry.spacing, geometry.spacing, atol=1e-9)
    assert series.is_multiframe is enhanced
    assert series.instance_count == (1 if enhanced else geometry.size[2])
    np.testing.assert_array_equal(series.read_voxels(), hu)


def test_file_order_does_not_matter(write_phantom):
    folder, geometry, hu, _ = write_phantom("oblique")
    files = sorted(folder.iterdir())
    random.Random(3).shuffle(files)
    series = ReferenceSeries.from_paths(files)
    np.testing.assert_allclose(series.geometry.affine, geometry.affine, atol=1e-6)
    np.testing.assert_array_equal(series.read_voxels(), hu)
    assert [s.position[2] for s in series.slices] == sorted(s.position[2] for s in series.slices)


def test_from_datasets_in_memory_with_pixels():
    geometry = phantoms.phantom_geometry(orientation="coronal", size=(20, 10, 6))
    hu, _ = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, hu)
    series = ReferenceSeries.from_datasets(reversed(datasets))
    np.testing.assert_allclose(series.geometry.affine, geometry.affine, atol=1e-6)
    np.testing.assert_array_equal(series.read_voxels(), hu)
    assert series.to_json()["size"] == [20, 10, 6]


def test_rescale_is_applied_and_float_when_fractional(write_phantom):
    geometry = phantoms.phantom_geometry(size=(8, 6, 3))
    hu, _ = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, hu)
    for ds in datasets:
        ds.RescaleSlope = "0.5"
        ds.RescaleIntercept = "-1024"
    voxels = ReferenceSeries.from_datasets(datasets).read_voxels()
    assert voxels.dtype == np.float32
    np.testing.assert_allclose(voxels, hu * 0.5 - 1024)


def test_single_slice_uses_slice_thickness():
    geometry = phantoms.phantom_geometry(size=(8, 6, 1), spacing=(1, 1, 3.0))
    hu, _ = phantoms.phantom_volume(geometry)
    series = ReferenceSeries.from_datasets(phantoms.ct_datasets(geometry, hu))
    assert series.geometry.spacing == pytest.approx((1, 1, 3.0))


# ------------------------------------------------------------------------- refusals
def _edit_and_save(path, edit):
    ds = pydicom.dcmread(path)
    edit(ds)
    ds.save_as(path)


def test_missing_slice_is_refused_naming_the_gap(write_phantom):
    folder, *_ = write_phantom()
    (folder / "0010.dcm").unlink()
    with pytest.raises(SeriesError, match=r"missing slices: slices are 5 mm apart between .*0009\.dcm and .*0011\.dcm"):
        ReferenceSeries.from_paths(folder)


def test_non_uniform_spacing_is_refused(write_phantom):
    folder, *_ = write_phantom()
    def shift(ds):
        ds.ImagePositionPatient[2] += 0.6

    _edit_and_save(folder / "0005.dcm", shift)
    with pytest.raises(SeriesError, match="non-uniform slice spacing"):
        ReferenceSeries.from_paths(folder)


def test_duplicated_slice_is_refused(write_phantom):
    folder, *_ = write_phantom()
    shutil.copy(folder / "0003.dcm", folder / "copy.dcm")
    _edit_and_save(folder / "copy.dcm", lambda ds: setattr(ds, "SOPInstanceUID", generate_uid()))
    with pytest.raises(SeriesError, match="two slices at the same position"):
        ReferenceSeries.from_paths(folder)


def test_same_instance_twice_is_refused(write_phantom):
    folder, *_ = write_phantom()
    with pytest.raises(SeriesError, match="twice"):
        ReferenceSeries.from_paths([folder / "0001.dcm", folder / "0002.dcm", folder / "0001.dcm"])


def test_mixed_orientation_is_refused(write_phantom):
    folder, *_ = write_phantom()
    _edit_and_save(folder / "0007.dcm", lambda ds: setattr(ds, "ImageOrientationPatient", [0, 1, 0, 0, 0, -1]))
    with pytest.raises(SeriesError, match=r"mixes image orientations \(.*0007\.dcm"):
        ReferenceSeries.from_paths(folder)


def test_mixed_sizes_are_refused(write_phantom):
    folder, *_ = write_phantom(size=(16, 12, 4))

    def shrink(ds):
        ds.Rows = 10
        ds.PixelData = ds.PixelData[: 10 * 16 * 2]

    _edit_and_save(folder / "0002.dcm", shrink)
    with pytest.raises(SeriesError, match="mixes image sizes: .*0002.dcm is 16x10"):
        ReferenceSeries.from_paths(folder)


def test_gantry_tilt_is_refused_with_its_angle(write_phantom):
    folder, geometry, *_ = write_phantom(size=(16, 12, 6), spacing=(1, 1, 2))
    for k, path in enumerate(sorted(folder.iterdir())):
        def tilt(ds, k=k):
            ds.ImagePositionPatient[1] += 0.5 * k

        _edit_and_save(path, tilt)
    with pytest.raises(SeriesError, match=r"tilted or sheared.*gantry tilt 14\.04 degrees"):
        ReferenceSeries.from_paths(folder)


def test_missing_position_and_spacing_are_refused(write_phantom):
    folder, *_ = write_phantom(size=(8, 6, 3))
    _edit_and_save(folder / "0002.dcm", lambda ds: delattr(ds, "ImagePositionPatient"))
    with pytest.raises(SeriesError, match="0002.dcm has no patient position or orientation"):
        ReferenceSeries.from_paths(folder)
    folder, *_ = write_phantom(size=(8, 6, 3), name="nospacing")
    _edit_and_save(folder / "0001.dcm", lambda ds: delattr(ds, "PixelSpacing"))
    with pytest.raises(SeriesError, match="0001.dcm has no PixelSpacing"):
        ReferenceSeries.from_paths(folder)


def test_multiframe_without_per_frame_geometry_is_refused(write_phantom):
    folder, *_ = write_phantom(enhanced=True, size=(8, 6, 4))
    path = next(folder.iterdir())
    _edit_and_save(path, lambda ds: delattr(ds, "PerFrameFunctionalGroupsSequence"))
    with pytest.raises(SeriesError, match="multi-frame image without per-frame plane positions"):
        ReferenceSeries.from_paths(folder)


def test_several_series_need_a_choice(write_phantom, tmp_path):
    first, *_ = write_phantom(size=(8, 6, 3), name="a")
    second, geometry, hu, _ = write_phantom("sagittal", size=(8, 6, 3), name="b")
    shutil.copytree(second, first / "other")
    with pytest.raises(SeriesError, match="holds 2 image series .*pick one with --series-uid"):
        ReferenceSeries.from_paths(first)
    uid = pydicom.dcmread(next(second.iterdir())).SeriesInstanceUID
    chosen = ReferenceSeries.from_paths(first, series_uid=uid)
    np.testing.assert_array_equal(chosen.read_voxels(), hu)
    with pytest.raises(SeriesError, match="holds no image series 1.2.3"):
        ReferenceSeries.from_paths(first, series_uid="1.2.3")


def test_folders_pass_over_non_dicom_but_named_files_must_be_images(write_phantom):
    folder, geometry, *_ = write_phantom(size=(8, 6, 3))
    (folder / "notes.txt").write_text("not DICOM")
    assert ReferenceSeries.from_paths(folder).geometry.size == geometry.size
    with pytest.raises(InputError, match="notes.txt is not a DICOM file"):
        ReferenceSeries.from_paths([folder / "0001.dcm", folder / "notes.txt"])
    with pytest.raises(InputError, match="does not exist"):
        ReferenceSeries.from_paths(folder / "absent")
    (folder / "notes.txt").unlink()
    empty = folder.parent / "empty"
    empty.mkdir()
    with pytest.raises(SeriesError, match="holds no DICOM image"):
        ReferenceSeries.from_paths(empty)


def test_truncated_pixel_data_is_reported_with_the_file(write_phantom):
    folder, *_ = write_phantom(size=(8, 6, 3))
    data = (folder / "0002.dcm").read_bytes()
    (folder / "0002.dcm").write_bytes(data[:-50])
    series = ReferenceSeries.from_paths(folder)
    with pytest.raises(InputError, match="0002.dcm"):
        series.read_voxels()


# ------------------------------------------------------------------------- real files
def _canonical(voxels: np.ndarray, geometry: VolumeGeometry, reference: VolumeGeometry) -> np.ndarray:
    """Flip ``voxels`` along k when ``geometry`` stacks its slices opposite to ``reference``."""
    if np.dot(geometry.directions[:, 2], reference.directions[:, 2]) < 0:
        return voxels[::-1]
    return voxels


@pytest.mark.shared_data
@pytest.mark.parametrize("vendor", ["ge", "generic", "philips", "siemens"])
def test_real_mr_series_match_dicom2nifti_ground_truth(vendor):
    folder = third_party_file(f"dicom2nifti/tests/data/{vendor}/anatomical/001")
    truth = sitk.ReadImage(str(third_party_file(f"dicom2nifti/tests/data/{vendor}/anatomical/001_ground_truth.nii.gz")))
    series = ReferenceSeries.from_paths(folder)
    truth_geometry = VolumeGeometry.from_sitk(truth)
    # Same voxel centres (as a set of the 8 corners), whichever way the slices are stacked.
    ours = {tuple(np.round(p, 2)) for p in series.geometry.corner_points()}
    theirs = {tuple(np.round(p, 2)) for p in truth_geometry.corner_points()}
    assert ours == theirs
    expected = _canonical(sitk.GetArrayFromImage(truth), truth_geometry, series.geometry)
    np.testing.assert_array_equal(series.read_voxels(), expected.astype(np.int64))


@pytest.mark.shared_data
def test_real_gantry_tilted_ct_is_refused():
    with pytest.raises(SeriesError, match="gantry tilt"):
        ReferenceSeries.from_paths(third_party_file("dicom2nifti/tests/data/failing/gantrytilting/001"))


@pytest.mark.shared_data
def test_real_enhanced_multiframe_equals_its_single_frame_twin():
    single = ReferenceSeries.from_paths(third_party_file("dcmqi/segmentations/23x38x3/image"))
    multi = ReferenceSeries.from_paths(third_party_file("dcmqi/segmentations/23x38x3/multiframe"))
    assert multi.is_multiframe and not single.is_multiframe
    assert single.geometry.same_grid(multi.geometry, tolerance_mm=1e-6)
    np.testing.assert_array_equal(single.read_voxels(), multi.read_voxels())
    label = sitk.ReadImage(str(third_party_file("dcmqi/segmentations/23x38x3/nrrd/label.nrrd")))
    single.geometry.require_same_grid(VolumeGeometry.from_sitk(label), "label.nrrd")


@pytest.mark.shared_data
def test_real_ct_geometry_matches_dcmqi_label_map():
    series = ReferenceSeries.from_paths(third_party_file("dcmqi/segmentations/ct-3slice"))
    assert series.geometry.size == (512, 512, 3)
    label = sitk.ReadImage(str(third_party_file("dcmqi/segmentations/liver_seg.nrrd")))
    series.geometry.require_same_grid(VolumeGeometry.from_sitk(label), "liver_seg.nrrd")


@pytest.mark.shared_data
@pytest.mark.parametrize("compressed", [
    "CTImage.dcm_JPEG2000LosslessOnlyTransferSyntax_1.2.840.10008.1.2.4.90.dcm",
    "CTImage.dcm_RLELosslessTransferSyntax_1.2.840.10008.1.2.5.dcm",
])
def test_compressed_transfer_syntaxes_decode_to_the_same_voxels(compressed):
    plain = ReferenceSeries.from_paths(third_party_file("cornerstone-wado-loader/testImages/CTImage.dcm"))
    other = ReferenceSeries.from_paths(third_party_file(f"cornerstone-wado-loader/testImages/{compressed}"))
    np.testing.assert_array_equal(plain.read_voxels(), other.read_voxels())
    assert plain.read_voxels().min() == -3024  # rescaled to HU


@pytest.mark.shared_data
def test_real_projection_image_without_plane_is_refused():
    with pytest.raises(SeriesError, match="no patient position or orientation"):
        ReferenceSeries.from_paths(third_party_file("cornerstone-wado-loader/testImages/no-pixel-spacing.dcm"))


def test_pixels_read_where_the_header_ends_are_pydicoms_for_every_shared_image():
    """read_voxels reads native pixel data from where the header reader stopped (no second parse of the header);
    every greyscale image of the shared data decodes to pydicom's pixel_array that way."""
    fast = 0
    for path in sorted(p for p in third_party_file(".").rglob("*") if p.is_file()):
        try:
            header = read_header(path)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        pixels = _native_pixels(header)
        if pixels is not None:
            np.testing.assert_array_equal(pixels, pydicom.dcmread(path).pixel_array, err_msg=str(path))
            fast += 1
    assert fast >= 20, "most images of the shared data have native pixel data"


@pytest.mark.parametrize("signed", [False, True])
def test_bits_above_bits_stored_are_cleared_or_sign_extended_as_pydicom_does(tmp_path, signed):
    geometry = phantoms.phantom_geometry(size=(8, 6, 3))
    hu, _ = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, hu)
    for ds in datasets:
        stored = ds.pixel_array.astype(np.int16 if signed else np.uint16)
        ds.PixelRepresentation, ds.BitsStored, ds.HighBit = int(signed), 12, 11
        ds.PixelData = (stored.view(np.uint16) | np.uint16(0xA000)).tobytes()  # junk in the 4 unused bits
    phantoms.write_datasets(datasets, tmp_path / "ct")
    series = ReferenceSeries.from_paths(tmp_path / "ct")
    expected = np.stack([pydicom.dcmread(s.path).pixel_array for s in series.slices])
    slope, intercept = series.datasets[0].RescaleSlope, series.datasets[0].RescaleIntercept
    np.testing.assert_array_equal(series.read_voxels(), expected * float(slope) + float(intercept))
    assert not series.read_voxels().flags.writeable and series.read_voxels() is series.read_voxels()
