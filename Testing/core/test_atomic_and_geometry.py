"""Atomic outputs and grid comparison."""

from __future__ import annotations

import numpy as np
import pytest
from DICOMAnnotatorLib.atomic import atomic_path
from DICOMAnnotatorLib.errors import GeometryMismatchError, InputError, OutputExistsError
from DICOMAnnotatorLib.imaging.geometry import LPS_TO_RAS, VolumeGeometry
from DICOMAnnotatorLib.imaging.image_files import read_image, read_on_grid, write_image


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.dcm"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(OutputExistsError, match="out.dcm already exists; .* --force"):
        with atomic_path(target):
            pass
    with pytest.raises(RuntimeError), atomic_path(target, force=True) as temporary:
        temporary.write_text("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
    with atomic_path(target, force=True) as temporary:
        temporary.write_text("new")
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_atomic_directory(tmp_path):
    with atomic_path(tmp_path / "out", directory=True) as work:
        (work / "a.txt").write_text("a")
        assert not (tmp_path / "out").exists()
    assert (tmp_path / "out" / "a.txt").read_text() == "a"


def test_geometry_properties_and_ras():
    directions = np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0]], dtype=float).T
    g = VolumeGeometry.from_axes((4, 5, 6), (10, 20, 30), (0.5, 0.7, 3.0), directions.T)
    assert g.array_shape == (6, 5, 4)
    assert g.spacing == pytest.approx((0.5, 0.7, 3.0))
    np.testing.assert_allclose(g.index_to_lps([1, 0, 0]), [[10, 20.5, 30]])
    np.testing.assert_allclose(g.ras_affine, LPS_TO_RAS @ g.affine)
    assert g.voxel_volume_mm3 == pytest.approx(1.05)
    moved = VolumeGeometry(g.size, g.affine + np.array([[0, 0, 0, 0.01], [0] * 4, [0] * 4, [0] * 4]))
    assert not g.same_grid(moved) and g.same_grid(moved, tolerance_mm=0.011)
    with pytest.raises(GeometryMismatchError, match="has size"):
        g.require_same_grid(VolumeGeometry(g.size[::-1], g.affine), "labels.nrrd")
    with pytest.raises(ValueError, match="singular"):
        VolumeGeometry((2, 2, 2), np.diag([1, 1, 0, 1]))


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_label_files_keep_their_grid(tmp_path, suffix):
    g = VolumeGeometry.from_axes((5, 4, 3), (1, 2, 3), (0.5, 0.6, 2.5),
                                 [(0.6, 0.8, 0), (-0.8, 0.6, 0), (0, 0, 1)])
    labels = np.arange(60, dtype=np.uint8).reshape(g.array_shape)
    path = write_image(labels, g, tmp_path / f"labels{suffix}")
    voxels, read_geometry = read_image(path)
    np.testing.assert_array_equal(voxels, labels)
    assert g.same_grid(read_geometry, tolerance_mm=1e-4)
    np.testing.assert_array_equal(read_on_grid(path, g), labels)
    shifted = VolumeGeometry(g.size, g.affine + np.array([[0, 0, 0, 1.0], [0] * 4, [0] * 4, [0] * 4]))
    with pytest.raises(GeometryMismatchError, match=f"labels{suffix} does not lie on the series geometry"):
        read_on_grid(path, shifted)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"labels{suffix}"]


def test_unreadable_label_file_is_named(tmp_path):
    bad = tmp_path / "bad.nrrd"
    bad.write_text("garbage")
    with pytest.raises(InputError, match="bad.nrrd could not be read as an image"):
        read_image(bad)
