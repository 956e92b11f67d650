"""drafts.nifti.plain_volume: a plain NIfTI read without SimpleITK gives SimpleITK's voxels and grid; other files
are left to SimpleITK (None)."""

from __future__ import annotations

import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from DICOMAnnotatorLib.drafts.nifti import plain_volume
from DICOMAnnotatorLib.imaging import VolumeGeometry


def _rotation(degrees_x: float, degrees_z: float) -> np.ndarray:
    x, z = np.radians(degrees_x), np.radians(degrees_z)
    about_x = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    about_z = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return about_z @ about_x


def _affine(rotation: np.ndarray, spacing=(0.7, 0.8, 2.5), origin=(-90.5, 20.25, -33.0)) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = rotation * np.asarray(spacing)
    affine[:3, 3] = origin
    return affine


def _labels(dtype=np.uint8) -> np.ndarray:
    """A label map ``[i, j, k]`` as nibabel takes it, with values that tell the axes apart."""
    i, j, k = np.meshgrid(np.arange(9), np.arange(7), np.arange(5), indexing="ij")
    return ((i + 3 * j + 11 * k) % 13).astype(dtype)


def _as_sitk_reads_it(path: Path) -> tuple[np.ndarray, VolumeGeometry]:
    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image), VolumeGeometry.from_sitk(image)


def _same_as_sitk(path: Path) -> None:
    read = plain_volume(path)
    assert read is not None, f"{path.name} was not read as a plain volume"
    voxels, affine = read
    expected_voxels, expected = _as_sitk_reads_it(path)
    assert voxels.dtype == expected_voxels.dtype and np.array_equal(voxels, expected_voxels)
    assert VolumeGeometry(voxels.shape[::-1], affine).size == expected.size
    np.testing.assert_allclose(affine, expected.affine, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", ["labels.nii", "labels.nii.gz"])
@pytest.mark.parametrize("rotation", [np.eye(3), _rotation(20, 35), np.diag([1.0, 1.0, -1.0])],
                         ids=["axial", "oblique", "k-flipped (qfac -1)"])
def test_nibabel_files_read_as_simpleitk_reads_them(tmp_path, name, rotation):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(_labels(), _affine(rotation)), str(path))
    _same_as_sitk(path)


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.int32, np.float32])
def test_other_voxel_types_and_big_endian(tmp_path, dtype):
    path = tmp_path / "labels.nii"
    nib.save(nib.Nifti1Image(_labels(dtype), _affine(_rotation(-10, 5))), str(path))
    _same_as_sitk(path)
    swapped = nib.Nifti1Image(_labels(dtype), _affine(_rotation(-10, 5)))
    big = nib.Nifti1Image(swapped.get_fdata().astype(np.dtype(dtype).newbyteorder(">")), swapped.affine,
                          swapped.header.as_byteswapped(">"))
    nib.save(big, str(tmp_path / "big.nii"))
    _same_as_sitk(tmp_path / "big.nii")


@pytest.mark.parametrize("name", ["written.nii", "written.nii.gz"])
def test_files_simpleitk_wrote(tmp_path, name):
    image = sitk.GetImageFromArray(_labels().transpose(2, 1, 0).copy())
    image.SetSpacing((0.5, 0.6, 3.0))
    image.SetOrigin((10.0, -20.0, 30.0))
    image.SetDirection(tuple(_rotation(15, -40).flatten()))
    sitk.WriteImage(image, str(tmp_path / name))
    _same_as_sitk(tmp_path / name)


def _patch(path: Path, offset: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + len(value)] = value
    path.write_bytes(bytes(data))


OBLIQUE = _affine(_rotation(20, 35))
SHEAR = np.array([[1, 0.3, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])


@pytest.mark.parametrize("qform, sform, change", [
    ((OBLIQUE, 1), (_affine(_rotation(20, 35), origin=(0, 0, 0)), 2), None),  # qform and sform differ
    ((None, 0), (OBLIQUE @ SHEAR, 2), None),  # a sheared sform alone
    ((None, 0), (_affine(_rotation(20, 35), spacing=(1, 1, 1)), 2), None),  # sform lengths are not the pixdims
    ((OBLIQUE, 1), (OBLIQUE, 1), lambda path: _patch(path, 112, struct.pack("<f", 2.0))),  # scaled values (slope)
    ((OBLIQUE, 1), (OBLIQUE, 1), lambda path: _patch(path, 123, bytes([1]))),  # in metres, which ITK scales
    ((None, 0), (None, 0), None),  # no transform at all
], ids=["transforms-differ", "sheared-sform", "sform-not-pixdim", "scaled", "metres", "no-transform"])
def test_files_with_another_possible_reading_are_left_to_simpleitk(tmp_path, qform, sform, change):
    header = nib.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_data_shape(_labels().shape)
    header.set_zooms((0.7, 0.8, 2.5))
    header.set_qform(*qform)
    header.set_sform(*sform)
    path = tmp_path / "variant.nii"
    nib.save(nib.Nifti1Image(_labels(), None, header), str(path))
    if change:
        change(path)
    written = nib.load(str(path)).header
    assert (int(written["qform_code"]), int(written["sform_code"])) == (qform[1], sform[1])
    assert plain_volume(path) is None


def test_four_dimensions_a_file_pair_and_a_cut_file_are_left_to_simpleitk(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 3, 2, 2), np.float32), np.eye(4)), str(tmp_path / "channels.nii.gz"))
    nib.save(nib.Nifti1Pair(_labels(), np.eye(4)), str(tmp_path / "pair.img"))
    nib.save(nib.Nifti1Image(_labels(), np.eye(4)), str(tmp_path / "cut.nii"))
    cut = tmp_path / "cut.nii"
    cut.write_bytes(cut.read_bytes()[:-10])
    assert plain_volume(tmp_path / "channels.nii.gz") is None
    assert plain_volume(tmp_path / "pair.hdr") is None
    assert plain_volume(cut) is None
