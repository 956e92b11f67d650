"""RT Structure Sets: masks -> contours -> masks, third-party and hand-made contours against an independent
rasterisation, dciodvfy, rt-utils reading what is written, and clean refusals.

The independent rasterisation is scikit-image's ``points_in_poly`` on voxel centres in patient mm,
combined across a slice's contours by the even-odd rule; it shares no code with the core's scanline
fill. It and the core may differ only for voxel centres within one voxel of a contour.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import assert_one_line_error, dciodvfy_errors, dicompyler_structures, run
from DICOMAnnotatorLib.dicom import Code
from DICOMAnnotatorLib.imaging import (
    PHANTOM_SEGMENTS,
    ReferenceSeries,
    Segmentation,
    ct_datasets,
    phantom_geometry,
    write_datasets,
    write_phantom_series,
)
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.rtstruct import fill_slice, outline_volume, read_rtstruct
from DICOMAnnotatorLib.seg import write_seg
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ImplicitVRLittleEndian, RTStructureSetStorage, generate_uid
from rt_utils import RTStructBuilder
from scipy import ndimage
from skimage.measure import points_in_poly


def test_outlines_fill_back_to_the_mask_voxel_for_voxel():
    """Random masks (holes, diagonal touches, single voxels, edges of the slice) come back exactly."""
    rng = np.random.default_rng(21)
    for _ in range(200):
        mask = rng.random((3, 9, 11)) < rng.random()
        back = np.zeros_like(mask)
        for k, vertices in outline_volume(mask):
            back[k] ^= fill_slice([vertices], 9, 11)
        assert np.array_equal(back, mask)


def test_a_ring_is_an_outer_contour_and_a_hole():
    yy, xx = np.mgrid[:40, :40]
    distance = np.hypot(yy - 20, xx - 20)
    ring = ((distance < 15) & (distance >= 7))[None]
    polygons = outline_volume(ring)
    assert len(polygons) == 2
    assert np.array_equal(fill_slice([p for _, p in polygons], 40, 40), ring[0])


def exported_phantom(tmp_path: Path, geometry=None) -> tuple[Path, np.ndarray, list[dict]]:
    """A phantom CT series, its labels as a SEG, and that SEG through ``rtstruct export`` into ``rt.dcm``:
    the series folder, the labels and the ROIs the command reports."""
    folder = tmp_path / "ct"
    _geometry, _hu, labels = write_phantom_series(folder, geometry)
    series = ReferenceSeries.from_paths(folder)
    write_seg(Segmentation.from_labelmap(series.geometry, labels, PHANTOM_SEGMENTS, reference=series),
              tmp_path / "seg.dcm")
    exported = run("rtstruct", "export", tmp_path / "seg.dcm", "--series", folder, "-o", tmp_path / "rt.dcm",
                   "--json")
    assert exported.returncode == 0, exported.stderr
    return folder, labels, json.loads(exported.stdout)["rois"]


@pytest.mark.parametrize("orientation", ["axial", "oblique"])
def test_seg_to_rtstruct_to_label_map_is_exact(tmp_path, orientation):
    folder, labels, rois = exported_phantom(tmp_path, phantom_geometry(orientation=orientation))
    assert [r["name"] for r in rois] == [d.label for d in PHANTOM_SEGMENTS]
    assert [r["contours"] for r in rois] == [len(outline_volume(labels == d.number)) for d in PHANTOM_SEGMENTS]
    assert dciodvfy_errors(tmp_path / "rt.dcm") == []

    imported = run("rtstruct", "import", tmp_path / "rt.dcm", "--series", folder, "-o", tmp_path / "labels.nii.gz",
                   "--json")
    assert imported.returncode == 0, imported.stderr
    back = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "labels.nii.gz")))
    assert np.array_equal(back, labels)
    segments = json.loads(imported.stdout)["segments"]
    assert [(s["label"], s["contours"]) for s in segments] == [(r["name"], r["contours"]) for r in rois]
    ds = pydicom.dcmread(tmp_path / "rt.dcm")
    assert [tuple(item.ROIDisplayColor) for item in ds.ROIContourSequence] == [d.color for d in PHANTOM_SEGMENTS]
    codes = [item.RTROIIdentificationCodeSequence[0].CodeValue for item in ds.RTROIObservationsSequence]
    assert codes == [d.type.value for d in PHANTOM_SEGMENTS]


def test_rt_utils_reads_the_same_rois_and_contours(tmp_path):
    """rt-utils 1.2.7 places contours right on square images with square pixels (the usual CT); on the
    phantom's own grid (different spacing per axis, not square) its masks come out misplaced."""
    folder, labels, _rois = exported_phantom(tmp_path, phantom_geometry(size=(56, 56, 24), spacing=(0.8, 0.8, 2.5)))
    structure_set = RTStructBuilder.create_from(str(folder), str(tmp_path / "rt.dcm"))
    assert structure_set.get_roi_names() == [d.label for d in PHANTOM_SEGMENTS]
    for description in PHANTOM_SEGMENTS:
        ours = labels == description.number
        theirs = np.transpose(structure_set.get_roi_mask_by_name(description.label), (2, 0, 1))
        # rt-utils lists each slice's contours and fills them (OpenCV, vertices rounded to voxels): the same
        # slices, and voxels within one voxel of ours
        assert np.array_equal(theirs.any(axis=(1, 2)), ours.any(axis=(1, 2)))
        in_plane = np.zeros((1, 3, 3), dtype=bool)
        in_plane[0] = True
        assert not (ndimage.binary_erosion(ours, in_plane) & ~theirs).any()
        assert not (theirs & ~ndimage.binary_dilation(ours, in_plane)).any()


def test_dicompyler_core_reads_the_same_rois_and_contours(tmp_path):
    _folder, _labels, rois = exported_phantom(tmp_path)
    ours = {str(r["number"]): {"name": r["name"], "contours": r["contours"]} for r in rois}
    assert dicompyler_structures(tmp_path / "rt.dcm") == ours


def ct_on(tmp_path: Path, frame_of_reference: str, *, size, spacing, origin, orientation="axial") -> ReferenceSeries:
    geometry = phantom_geometry(size=size, spacing=spacing, origin=origin, orientation=orientation)
    datasets = ct_datasets(geometry, np.zeros(geometry.array_shape, dtype=np.int16))
    for ds in datasets:
        ds.FrameOfReferenceUID = frame_of_reference
    write_datasets(datasets, tmp_path / "ct")
    return ReferenceSeries.from_paths(tmp_path / "ct")


def independent_mask(series: ReferenceSeries, contours_mm: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The even-odd fill of voxel centres by skimage, and each voxel centre's distance (mm) to the nearest
    contour edge on its slice (inf on slices without contours)."""
    geometry = series.geometry
    slices, rows, columns = geometry.array_shape
    j, i = np.mgrid[:rows, :columns]
    mask = np.zeros(geometry.array_shape, dtype=bool)
    distance = np.full(geometry.array_shape, np.inf)
    for contour in contours_mm:
        k = int(round(float(np.linalg.solve(geometry.affine[:3, :3], contour[0] - geometry.affine[:3, 3])[2])))
        centres = geometry.index_to_lps(np.column_stack([i.ravel(), j.ravel(), np.full(i.size, k)]))
        u, v = geometry.directions[:, 0], geometry.directions[:, 1]
        in_plane = np.column_stack([centres @ u, centres @ v])
        polygon = np.column_stack([contour @ u, contour @ v])
        mask[k] ^= points_in_poly(in_plane, polygon).reshape(rows, columns)
        distance[k] = np.minimum(distance[k], _distance_to_edges(in_plane, polygon).reshape(rows, columns))
    return mask, distance


def _distance_to_edges(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    start, end = polygon, np.roll(polygon, -1, axis=0)
    best = np.full(len(points), np.inf)
    for a, b in zip(start, end, strict=True):
        t = np.clip(((points - a) @ (b - a)) / max(float((b - a) @ (b - a)), 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1))
    return best


def assert_matches_within_one_voxel(ours: np.ndarray, independent: np.ndarray, distance: np.ndarray,
                                    voxel_mm: float) -> None:
    differing = ours != independent
    assert not (differing & (distance > voxel_mm)).any(), "voxels more than one voxel from a contour differ"
    assert differing.sum() <= 0.02 * max(independent.sum(), 1)


@pytest.mark.shared_data
def test_pydicoms_rtstruct_matches_an_independent_rasterisation(tmp_path):
    """pydicom's test file ``rtstruct.dcm`` (pydicom, MIT): an external contour on three planes and two
    isocentre points, with no images: a CT grid on its frame of reference is generated for it."""
    path = get_testdata_file("rtstruct.dcm")
    source = pydicom.dcmread(path, force=True)
    series = ct_on(tmp_path, str(source.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID),
                   size=(150, 130, 3), spacing=(3.1, 2.7, 10.0), origin=(-230.3, -180.7, -200.0))
    result = read_rtstruct(path, series)
    assert [(r.number, r.name, r.closed_planar, r.other_contours) for r in result.rois] == [
        (1, "patient", 3, 0), (2, "Isocenter 1", 0, 1), (3, "Isocenter 2", 0, 1)]
    assert result.segmentation.segment(1).color == (220, 160, 120)
    assert result.segmentation.voxel_count(2) == result.segmentation.voxel_count(3) == 0
    contours = [np.asarray(c.ContourData, dtype=float).reshape(-1, 3)
                for c in source.ROIContourSequence[0].ContourSequence]
    independent, distance = independent_mask(series, contours)
    assert independent.sum() > 10000
    assert_matches_within_one_voxel(result.segmentation.mask(1), independent, distance, 3.1)


def write_structure_set(path: Path, series: ReferenceSeries, contours_mm: list[np.ndarray]) -> Path:
    """A minimal RT Structure Set as another system would write it: one ROI with ``contours_mm``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "RTSTRUCT"
    roi = Dataset()
    roi.ROINumber, roi.ROIName = 7, "Tumour"
    roi.ReferencedFrameOfReferenceUID = series.frame_of_reference_uid
    ds.StructureSetROISequence = [roi]
    items = []
    for contour in contours_mm:
        item = Dataset()
        item.ContourGeometricType = "CLOSED_PLANAR"
        item.NumberOfContourPoints = len(contour)
        item.ContourData = [f"{v:.3f}" for v in contour.ravel()]
        items.append(item)
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 7
    roi_contour.ROIDisplayColor = [255, 0, 0]
    roi_contour.ContourSequence = items
    ds.ROIContourSequence = [roi_contour]
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("orientation", ["axial", "oblique"])
def test_hand_made_contours_with_a_hole_match_an_independent_rasterisation(tmp_path, orientation):
    series = ct_on(tmp_path, generate_uid(), size=(60, 50, 4), spacing=(0.9, 0.7, 2.5), origin=(-25.0, -18.0, -4.0),
                   orientation=orientation)
    geometry = series.geometry
    angles = np.linspace(0, 2 * np.pi, 37)[:-1]
    contours = []
    for k in (1, 2):
        for radius, centre in ((16.0, (30.3, 24.6)), (6.0, (28.1, 22.2))):  # an outline and a hole in it (voxels)
            ij = np.column_stack([centre[0] + radius * np.cos(angles) * 0.8, centre[1] + radius * np.sin(angles)])
            contours.append(geometry.index_to_lps(np.column_stack([ij, np.full(len(ij), k)])))
    path = write_structure_set(tmp_path / "rt.dcm", series, contours)
    ours = read_rtstruct(path, series).segmentation.mask(7)
    independent, distance = independent_mask(series, contours)
    assert ours[1].sum() > 300 and not ours[0].any() and not ours[3].any()
    assert not ours[1, 22, 28]  # the hole's centre
    assert_matches_within_one_voxel(ours, independent, distance, max(geometry.spacing[:2]))


def test_contours_of_another_frame_of_reference_are_refused(tmp_path):
    series = ct_on(tmp_path, generate_uid(), size=(20, 20, 2), spacing=(1, 1, 1), origin=(0, 0, 0))
    square = np.array([[2, 2, 0], [10, 2, 0], [10, 10, 0], [2, 10, 0]], dtype=float)
    path = write_structure_set(tmp_path / "rt.dcm", series, [square])
    other = tmp_path / "other"
    ct_on(other, generate_uid(), size=(20, 20, 2), spacing=(1, 1, 1), origin=(0, 0, 0))
    result = run("rtstruct", "import", path, "--series", other / "ct", "-o", tmp_path / "out.nii.gz")
    assert_one_line_error(result, "ROI 7 ('Tumour')", "frame of reference")
    assert not (tmp_path / "out.nii.gz").exists() and not (tmp_path / "out.nii.gz.json").exists()


def test_contours_off_the_slice_planes_are_refused(tmp_path):
    series = ct_on(tmp_path, generate_uid(), size=(20, 20, 3), spacing=(1, 1, 2), origin=(0, 0, 0))
    between = np.array([[2, 2, 1.0], [10, 2, 1.0], [10, 10, 1.0], [2, 10, 1.0]], dtype=float)
    path = write_structure_set(tmp_path / "rt.dcm", series, [between])
    result = run("rtstruct", "import", path, "--series", tmp_path / "ct", "-o", tmp_path / "out.nii.gz")
    assert_one_line_error(result, "ROI 7 ('Tumour')", "contour 1", "slice plane")
    assert not (tmp_path / "out.nii.gz").exists()


def test_a_file_that_is_not_an_rtstruct_is_refused(tmp_path):
    folder = tmp_path / "ct"
    write_phantom_series(folder)
    result = run("rtstruct", "import", folder / "0001.dcm", "--series", folder, "-o", tmp_path / "out.nii.gz")
    assert_one_line_error(result, "not an RT Structure Set")
    assert not (tmp_path / "out.nii.gz").exists()


def export_segments(tmp_path: Path, folder: Path, labels: np.ndarray, segments: list) -> None:
    """``labels`` on the series in ``folder`` as a SEG of ``segments`` (``seg.dcm``) and that SEG through
    ``rtstruct export`` (``rt.dcm``)."""
    series = ReferenceSeries.from_paths(folder)
    write_seg(Segmentation.from_labelmap(series.geometry, labels, segments, reference=series), tmp_path / "seg.dcm")
    exported = run("rtstruct", "export", tmp_path / "seg.dcm", "--series", folder, "-o", tmp_path / "rt.dcm")
    assert exported.returncode == 0, exported.stderr


MODIFIED = dataclasses.replace(PHANTOM_SEGMENTS[2], type_modifier=Code("24028007", "SCT", "Right"))


def test_seg_to_rtstruct_to_seg_keeps_category_type_and_modifier(tmp_path):
    """RT ROI Observations carry the segment's category (Segmented Property Category Code Sequence) and type with
    its modifier (RT ROI Identification Code Sequence): a SEG written from the imported ROIs says what the first
    SEG said."""
    folder = tmp_path / "ct"
    _geometry, _hu, labels = write_phantom_series(folder)
    series = ReferenceSeries.from_paths(folder)
    segments = [*PHANTOM_SEGMENTS[:2], MODIFIED]
    export_segments(tmp_path, folder, labels, segments)
    assert dciodvfy_errors(tmp_path / "rt.dcm") == []
    imported = read_rtstruct(tmp_path / "rt.dcm", series).segmentation
    write_seg(imported, tmp_path / "back.dcm")
    info = run("seg", "info", tmp_path / "back.dcm", "--json")
    assert info.returncode == 0, info.stderr
    assert [(s["label"], s["category"], s["type"]) for s in json.loads(info.stdout)["segments"]] == [
        (d.label, d.category.as_list(), d.type.as_list()) for d in segments]
    assert [d.type_modifier for d in imported.segments] == [None, None, MODIFIED.type_modifier]


def test_rtstruct_import_maps_rois_onto_a_protocol_by_code_then_name(tmp_path):
    """The liver ROI, named "Hepar", by its codes; the lesion by name (an RT Structure Set has no anatomic region,
    which the protocol's lesion names); the vertebra onto nothing: refused naming it and the structures, kept out
    on request."""
    protocol = load_protocol("liver-lesions-ct")
    folder = tmp_path / "ct"
    _geometry, _hu, labels = write_phantom_series(folder)
    hepar = dataclasses.replace(protocol.structure("Liver").segment_description(), label="Hepar")
    export_segments(tmp_path, folder, labels, [hepar, *PHANTOM_SEGMENTS[1:]])
    output = tmp_path / "labels.nii.gz"
    refused = run("rtstruct", "import", tmp_path / "rt.dcm", "--series", folder, "-o", output,
                  "--protocol", "liver-lesions-ct")
    assert_one_line_error(refused, "label 3 'Vertebra'", str(tmp_path / "rt.dcm"), "'Liver', 'Liver lesion'")
    assert not output.exists() and not Path(f"{output}.json").exists()

    imported = run("rtstruct", "import", tmp_path / "rt.dcm", "--series", folder, "-o", output,
                   "--protocol", "liver-lesions-ct", "--drop-unmapped", "--json")
    assert imported.returncode == 0, imported.stderr
    payload = json.loads(imported.stdout)
    assert [(s["structure"], [(label["name"], label["matched_by"]) for label in s["labels"]])
            for s in payload["structures"]] == [("Liver", [("Hepar", "code")]),
                                                 ("Liver lesion", [("Liver lesion", "name")])]
    assert [label["name"] for label in payload["dropped"]] == ["Vertebra"]
    assert [(s["label"], s["label_value"], s["type"]) for s in payload["segments"]] == [
        (s.label, s.label_value, s.type.as_list()) for s in protocol.segment_structures]
    back = sitk.GetArrayFromImage(sitk.ReadImage(str(output)))
    assert np.array_equal(back, np.where(labels == 3, 0, labels))

    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"3": None, "Liver lesion": "Liver lesion"}), encoding="utf-8")
    by_option = run("rtstruct", "import", tmp_path / "rt.dcm", "--series", folder, "-o", tmp_path / "b.nii.gz",
                    "--protocol", "liver-lesions-ct", "--labels", mapping, "--json")
    assert by_option.returncode == 0, by_option.stderr
    assert [label["matched_by"] for s in json.loads(by_option.stdout)["structures"] for label in s["labels"]] == [
        "code", "labels option"]
    assert_one_line_error(run("rtstruct", "import", tmp_path / "rt.dcm", "--series", folder, "-o",
                              tmp_path / "c.nii.gz", "--labels", mapping), "--protocol")
