"""``export nifti|models`` from a SEG on its series: files a training pipeline or a planning tool opens."""

from __future__ import annotations

import json

import numpy as np
import trimesh
from conftest import assert_one_line_error, run
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.image_files import read_image
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.writer import write_seg


def _seg(write_phantom, tmp_path):
    folder, geometry, hu, labels = write_phantom("oblique")
    series = ReferenceSeries.from_paths(folder)
    segmentation = Segmentation.from_labelmap(geometry, labels, phantoms.PHANTOM_SEGMENTS, reference=series)
    return folder, geometry, hu, labels, write_seg(segmentation, tmp_path / "seg.dcm")


def test_nifti_export_keeps_image_labels_and_grid(write_phantom, tmp_path):
    folder, geometry, hu, labels, seg = _seg(write_phantom, tmp_path)
    result = run("export", "nifti", seg, "--series", folder, "-o", tmp_path / "nifti", "--json")
    assert result.returncode == 0, result.stderr
    image, image_geometry = read_image(tmp_path / "nifti" / "image.nii.gz")
    back, label_geometry = read_image(tmp_path / "nifti" / "labels.nii.gz")
    assert image_geometry.same_grid(geometry) and label_geometry.same_grid(geometry)
    assert np.array_equal(image, hu) and np.array_equal(back, labels)
    table = json.loads((tmp_path / "nifti" / "labels.json").read_text())
    assert [entry["label"] for entry in table["labels"]] == [s.label for s in phantoms.PHANTOM_SEGMENTS]


def test_models_export_one_watertight_surface_per_segment(write_phantom, tmp_path):
    folder, geometry, _, labels, seg = _seg(write_phantom, tmp_path)
    result = run("export", "models", seg, "--series", folder, "-o", tmp_path / "models", "--json")
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout)["files"]
    assert [f.rsplit("/", 1)[1] for f in files] == ["01-Liver.stl", "02-Liver_lesion.stl", "03-Vertebra.stl"]
    liver = trimesh.load(files[0])
    assert liver.is_watertight
    voxel_volume = float(np.prod(geometry.spacing))
    assert abs(liver.volume - (labels == 1).sum() * voxel_volume) / liver.volume < 0.1
    assert_one_line_error(run("export", "models", seg, "--series", folder, "-o", tmp_path / "models"), "--force")
