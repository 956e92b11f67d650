"""SEG writer and reader: voxel-exact round trips on every grid, and any producer's SEG read right."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import third_party_file
from DICOMAnnotatorLib.dicom import part10
from DICOMAnnotatorLib.dicom.part10 import save_part10
from DICOMAnnotatorLib.errors import GeometryMismatchError, SegmentationError
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.segmentation import MaskKind, Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.info import seg_summary
from DICOMAnnotatorLib.seg.reader import read_seg, read_segs
from DICOMAnnotatorLib.seg.writer import build_seg, write_seg


def _phantom_segmentation(write_phantom, orientation="axial", enhanced=False, name="series"):
    folder, _, _, labels = write_phantom(orientation, enhanced=enhanced, name=name)
    series = ReferenceSeries.from_paths(folder)
    return series, Segmentation.from_labelmap(series.geometry, labels, phantoms.PHANTOM_SEGMENTS,
                                              reference=series, author="Doe^Jane")


def _assert_same(back: Segmentation, original: Segmentation) -> None:
    assert [(s.number, s.label, s.type, s.category, s.anatomic_region) for s in back.segments] == \
        [(s.number, s.label, s.type, s.category, s.anatomic_region) for s in original.segments]
    for segment in original.segments:
        assert np.array_equal(back.mask(segment.number) > 0, original.mask(segment.number) > 0), segment.label


@pytest.mark.parametrize("orientation", ["axial", "coronal", "sagittal", "oblique"])
@pytest.mark.parametrize("seg_type", ["binary", "labelmap", "fractional"])
def test_round_trip_on_every_orientation(write_phantom, tmp_path, orientation, seg_type):
    series, segmentation = _phantom_segmentation(write_phantom, orientation)
    path = write_seg(segmentation, tmp_path / "out.dcm", segmentation_type=seg_type)
    back = read_seg(path, series)
    _assert_same(back, segmentation)
    assert back.author == "Doe^Jane"
    assert back.kind is (MaskKind.FRACTIONAL if seg_type == "fractional" else MaskKind.BINARY)
    assert back.reference is series


@pytest.mark.parametrize("seg_type", ["binary", "labelmap"])
def test_round_trip_on_an_enhanced_multiframe_series(write_phantom, tmp_path, seg_type):
    series, segmentation = _phantom_segmentation(write_phantom, "oblique", enhanced=True)
    assert series.is_multiframe
    path = write_seg(segmentation, tmp_path / "out.dcm", segmentation_type=seg_type)
    _assert_same(read_seg(path, series), segmentation)
    source = pydicom.dcmread(path).PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert source.ReferencedSOPInstanceUID == series.slices[0].sop_instance_uid
    assert int(source.ReferencedFrameNumber) >= 1


def test_written_seg_header_names_creator_series_and_omits_empty_frames(write_phantom, tmp_path):
    series, segmentation = _phantom_segmentation(write_phantom)
    ds = build_seg(segmentation.with_author("Roe^Richard"))
    source = series.datasets[0]
    assert (ds.Modality, ds.SegmentationType, str(ds.ContentCreatorName)) == ("SEG", "BINARY", "Roe^Richard")
    assert ds.SeriesNumber == 1000 + int(source.SeriesNumber)
    assert ds.SeriesDescription.startswith("SEG") and "Roe^Richard" in ds.SeriesDescription
    assert (ds.StudyInstanceUID, ds.FrameOfReferenceUID) == (source.StudyInstanceUID, source.FrameOfReferenceUID)
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == series.series_instance_uid
    labelled_slices = sum(np.count_nonzero(m.any(axis=(1, 2))) for _, m in segmentation.iter_masks())
    assert int(ds.NumberOfFrames) == labelled_slices


def test_labelmap_seg_is_compressed_losslessly(write_phantom, tmp_path):
    _, segmentation = _phantom_segmentation(write_phantom)
    ds = build_seg(segmentation, segmentation_type="labelmap")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.7"
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless


def test_overlaps_fractions_and_renumbering(write_phantom, tmp_path):
    series, segmentation = _phantom_segmentation(write_phantom)
    liver = segmentation.mask(1)
    grown = np.zeros_like(liver)
    grown[:, :, : liver.shape[2] // 2] = liver[:, :, : liver.shape[2] // 2]
    overlapping = Segmentation(
        series.geometry,
        [dataclasses.replace(segmentation.segment(1), number=4),
         dataclasses.replace(segmentation.segment(2), number=9)],
        {4: liver, 9: grown}, reference=series)
    with pytest.raises(SegmentationError, match="overlap"):
        build_seg(overlapping, segmentation_type="labelmap")
    back = read_seg(write_seg(overlapping, tmp_path / "overlap.dcm"), series)
    assert [s.number for s in back.segments] == [1, 2]  # SEG segment numbers run 1..N
    assert np.array_equal(back.mask(1), liver) and np.array_equal(back.mask(2), grown)

    probabilities = np.where(liver, 0.75, 0.0).astype(np.float32)
    fractional = Segmentation(series.geometry, [segmentation.segment(1)], {1: probabilities},
                              kind=MaskKind.FRACTIONAL, reference=series)
    with pytest.raises(SegmentationError, match="threshold"):
        build_seg(fractional, segmentation_type="binary")
    back = read_seg(write_seg(fractional, tmp_path / "fractional.dcm", segmentation_type="fractional"), series)
    np.testing.assert_allclose(back.mask(1), probabilities, atol=1 / 255 / 2)


def test_empty_segmentation_is_still_a_valid_seg(write_phantom, tmp_path):
    series, segmentation = _phantom_segmentation(write_phantom)
    empty = Segmentation(series.geometry, segmentation.segments, {}, reference=series)
    back = read_seg(write_seg(empty, tmp_path / "empty.dcm"), series)
    assert all(back.voxel_count(s.number) == 0 for s in back.segments)
    assert len(back.segments) == 3


def test_seg_on_another_series_or_grid_is_refused(write_phantom, tmp_path):
    series, segmentation = _phantom_segmentation(write_phantom)
    path = write_seg(segmentation, tmp_path / "out.dcm")
    other_folder, *_ = write_phantom("axial", name="other")
    with pytest.raises(GeometryMismatchError, match="segments series"):
        read_seg(path, ReferenceSeries.from_paths(other_folder))
    with pytest.raises(SegmentationError, match="no reference DICOM series"):
        build_seg(Segmentation(series.geometry, segmentation.segments, {1: segmentation.mask(1)}))


def test_frames_shifted_off_the_grid_are_refused(write_phantom, tmp_path):
    series, segmentation = _phantom_segmentation(write_phantom)
    ds = pydicom.dcmread(write_seg(segmentation, tmp_path / "out.dcm"))
    position = ds.PerFrameFunctionalGroupsSequence[2].PlanePositionSequence[0]
    position.ImagePositionPatient = [float(v) + 0.37 for v in position.ImagePositionPatient]
    ds.save_as(tmp_path / "shifted.dcm")
    with pytest.raises(GeometryMismatchError, match=r"Frame 3 of .*shifted.dcm .* lies between the voxels"):
        read_seg(tmp_path / "shifted.dcm", series)


def test_frames_in_any_order_and_without_positions(write_phantom, tmp_path):
    series, segmentation = _phantom_segmentation(write_phantom)
    ds = pydicom.dcmread(write_seg(segmentation, tmp_path / "out.dcm"))
    frames = ds.PerFrameFunctionalGroupsSequence
    pixels = ds.pixel_array
    order = np.random.default_rng(0).permutation(len(frames))
    ds.PerFrameFunctionalGroupsSequence = pydicom.Sequence([frames[i] for i in order])
    for frame in ds.PerFrameFunctionalGroupsSequence:  # placed by their source image only
        del frame.PlanePositionSequence
    ds.PixelData = pydicom.pixels.pack_bits(pixels[order])
    ds.save_as(tmp_path / "shuffled.dcm")
    _assert_same(read_seg(tmp_path / "shuffled.dcm", series), segmentation)


def test_seg_alone_rebuilds_the_grid_of_its_frames(write_phantom, tmp_path):
    series, segmentation = _phantom_segmentation(write_phantom, "oblique")
    paths = [write_seg(segmentation, tmp_path / "a.dcm"),
             write_seg(segmentation.with_author("Other^Reader"), tmp_path / "b.dcm", segmentation_type="labelmap")]
    first, second = read_segs(paths)
    assert first.geometry.same_grid(second.geometry)
    k0 = min(segmentation.bounding_box(s.number)[0].start for s in segmentation.segments)
    np.testing.assert_allclose(first.geometry.affine[:3, :3], series.geometry.affine[:3, :3], atol=1e-6)
    np.testing.assert_allclose(first.geometry.origin, series.geometry.index_to_lps(np.array([[0, 0, k0]]))[0],
                               atol=1e-3)
    for segment in segmentation.segments:
        box, values = first.cropped_mask(segment.number)
        assert np.count_nonzero(values) == segmentation.voxel_count(segment.number)
    rewritten = read_seg(write_seg(first, tmp_path / "again.dcm"), series)  # written from the SEG alone
    _assert_same(rewritten, segmentation)


@pytest.mark.shared_data
def test_dcmqi_segs_match_their_ground_truth_label_maps():
    folder = third_party_file("dcmqi/segmentations")
    series = ReferenceSeries.from_paths(folder / "ct-3slice")
    liver = read_seg(folder / "liver.dcm", series)
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "liver_seg.nrrd")))
    assert np.array_equal(liver.mask(1), truth == 1)
    assert (liver.segment(1).type.value, liver.segment(1).type.scheme) == ("T-62000", "SRT")
    overlaps = read_seg(folder / "partial_overlaps.dcm", series)
    for part in (1, 2, 3):
        truth = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / f"partial_overlaps-{part}.nrrd")))
        for value in (v for v in np.unique(truth) if v):
            assert np.array_equal(overlaps.mask(int(value)), truth == value), (part, value)
    assert overlaps.has_overlaps()


@pytest.mark.shared_data
def test_dcmqi_tiny_seg_and_its_multiframe_twin_series():
    folder = third_party_file("dcmqi/segmentations/23x38x3")
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "nrrd/label.nrrd")))
    seg = read_seg(folder / "seg/label.seg", ReferenceSeries.from_paths(folder / "image"))
    assert np.array_equal(seg.mask(1), truth == 1)
    with pytest.raises(GeometryMismatchError, match="give the series the SEG was made on"):
        read_seg(folder / "seg/label.seg", ReferenceSeries.from_paths(folder / "multiframe"))


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["highdicom/seg_image_ct_binary.dcm", "highdicom/seg_image_ct_binary_overlap.dcm",
                                  "highdicom/seg_image_ct_true_fractional.dcm",
                                  "dcmjs/examples/data/QIICR_Test3/tumor_User1_Manual_Trial1.dcm"])
def test_other_producers_segs_read_alone_keep_every_voxel(name):
    path = third_party_file(name)
    seg = read_seg(path)
    summary = {s["number"]: s for s in seg_summary(path)["segments"]}
    for segment in seg.segments:
        values = seg.cropped_mask(segment.number)[1]
        assert np.count_nonzero(values) == summary[segment.number]["voxels"]
        if seg.kind is MaskKind.FRACTIONAL:
            assert float(values.sum()) == pytest.approx(summary[segment.number]["fraction_sum"], abs=1e-3)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "zero-blocks-as-holes"])
@pytest.mark.parametrize("seg_type", ["binary", "fractional", "labelmap"])
def test_the_written_seg_is_what_pydicom_writes_of_the_built_dataset(write_phantom, tmp_path, monkeypatch, seg_type,
                                                                     sparse):
    """The frames are encoded to bytes by seg.frames and copied by dicom.part10 (large values with their zero blocks
    left as holes, here the phantom's small Pixel Data too): pydicom encodes the dataset alike."""
    if sparse:
        monkeypatch.setattr(part10, "SPARSE_FROM", 64)
    series, segmentation = _phantom_segmentation(write_phantom, "oblique")
    ds = build_seg(segmentation, segmentation_type=seg_type)
    digest = hashlib.sha256()
    save_part10(ds, tmp_path / "ours.dcm", digest=digest)
    ds.save_as(tmp_path / "pydicom.dcm", enforce_file_format=True)
    assert (tmp_path / "ours.dcm").read_bytes() == (tmp_path / "pydicom.dcm").read_bytes()
    assert digest.hexdigest() == hashlib.sha256((tmp_path / "ours.dcm").read_bytes()).hexdigest()
    written = pydicom.dcmread(tmp_path / "ours.dcm")
    assert len(written.SourceImageSequence) == len(written.ReferencedSeriesSequence[0].ReferencedInstanceSequence) \
        == len(series.datasets), "every source image is referenced, not only the slice highdicom built the header on"
