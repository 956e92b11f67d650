"""NIfTI export (orientation, label table) and surface models (closed, in patient mm, coloured)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
import trimesh
from DICOMAnnotatorLib.errors import OutputExistsError, SegmentationError
from DICOMAnnotatorLib.export.models import export_models, segment_mesh
from DICOMAnnotatorLib.export.nifti import export_nifti
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries


def phantom_segmentation(orientation="oblique", size=(40, 36, 20)):
    geometry = phantoms.phantom_geometry(orientation=orientation, size=size, spacing=(1.0, 0.8, 2.0))
    hu, labels = phantoms.phantom_volume(geometry)
    series = ReferenceSeries.from_datasets(phantoms.ct_datasets(geometry, hu))
    return Segmentation.from_labelmap(series.geometry, labels, phantoms.PHANTOM_SEGMENTS, reference=series), hu


@pytest.mark.parametrize("orientation", ["axial", "sagittal", "oblique"])
def test_nifti_keeps_voxels_in_patient_space(tmp_path, orientation):
    segmentation, hu = phantom_segmentation(orientation)
    export_nifti(segmentation, tmp_path / "out", source="seg.dcm")
    image = sitk.ReadImage(str(tmp_path / "out" / "image.nii.gz"))
    labels = sitk.ReadImage(str(tmp_path / "out" / "labels.nii.gz"))
    assert segmentation.geometry.same_grid(VolumeGeometry.from_sitk(image), tolerance_mm=1e-3)
    assert segmentation.geometry.same_grid(VolumeGeometry.from_sitk(labels), tolerance_mm=1e-3)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), hu)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels), segmentation.to_labelmap())
    # A physical point (the lesion centre, in LPS) reads the lesion label through the file's own header.
    centre_index = np.argwhere(segmentation.mask(2)).mean(axis=0).round().astype(int)[::-1]
    point = segmentation.geometry.index_to_lps(centre_index)[0]
    assert labels[labels.TransformPhysicalPointToIndex(tuple(point))] == 2
    table = json.loads((tmp_path / "out" / "labels.json").read_text())
    assert [entry["label"] for entry in table["labels"]] == ["Liver", "Liver lesion", "Vertebra"]
    assert table["labels"][1]["type"] == ["52988006", "SCT", "Lesion"] and table["source"] == "seg.dcm"
    with pytest.raises(OutputExistsError):
        export_nifti(segmentation, tmp_path / "out")


def test_nifti_refuses_overlaps_and_missing_series(tmp_path):
    segmentation, _ = phantom_segmentation("axial")
    overlapping = Segmentation(segmentation.geometry, segmentation.segments[:2],
                               {1: segmentation.mask(1) | segmentation.mask(2), 2: segmentation.mask(2)},
                               reference=segmentation.reference)
    with pytest.raises(SegmentationError, match="overlap"):
        export_nifti(overlapping, tmp_path / "a")
    with pytest.raises(SegmentationError, match="needs the image series"):
        export_nifti(Segmentation(segmentation.geometry, [], {}), tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("orientation", ["axial", "sagittal", "oblique"])
def test_models_are_closed_in_patient_mm_and_match_volume(orientation):
    segmentation, _ = phantom_segmentation(orientation, size=(48, 44, 24))
    for description in segmentation.segments:
        mesh = segment_mesh(segmentation, description.number)
        solid = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
        assert solid.is_watertight and solid.is_winding_consistent
        assert solid.volume > 0  # normals point outward
        voxels_mm3 = segmentation.volume_ml(description.number) * 1000
        assert solid.volume == pytest.approx(voxels_mm3, rel=0.15)
        # The surface sits where the voxels are: centroids agree within a voxel.
        centroid = segmentation.geometry.index_to_lps(np.argwhere(segmentation.mask(description.number))
                                                      .mean(axis=0)[::-1])[0]
        np.testing.assert_allclose(solid.center_mass, centroid, atol=2.0)


def test_models_written_as_stl_and_obj_with_colours(tmp_path):
    segmentation, _ = phantom_segmentation("axial")
    empty = SegmentDescription(9, "Nothing here")
    segmentation = segmentation.with_segments([*segmentation.segments, empty])
    stl = export_models(segmentation, tmp_path / "stl")
    assert [p.name for p in stl] == ["01-Liver.stl", "02-Liver_lesion.stl", "03-Vertebra.stl"]
    liver = trimesh.load(tmp_path / "stl" / "01-Liver.stl")
    assert liver.is_watertight
    assert (tmp_path / "stl" / "01-Liver.stl").read_bytes()[:9] == b"SPACE=LPS"
    obj = export_models(segmentation, tmp_path / "obj", file_format="obj")
    assert [p.name for p in obj] == ["01-Liver.obj", "02-Liver_lesion.obj", "03-Vertebra.obj"]
    material = (tmp_path / "obj" / "02-Liver_lesion.mtl").read_text()
    assert "Kd 1.0000 1.0000 0.0000" in material  # the lesion's yellow
    loaded = trimesh.load(tmp_path / "obj" / "02-Liver_lesion.obj", force="mesh")
    assert loaded.is_watertight
