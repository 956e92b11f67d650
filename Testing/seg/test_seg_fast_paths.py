"""The fast paths of SEG reading and writing give what the slow, general ones give.

- Per-frame functional groups cut from the file's bytes (dicom.sequences) hold what pydicom parses,
  in explicit and implicit VR and with compressed pixel data after them, with defined and
  undefined lengths; files that cannot be cut (deflated, big endian) are read by pydicom.
- Display colours converted without highdicom are highdicom's.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pydicom
import pytest
from conftest import third_party_file
from DICOMAnnotatorLib.dicom.colors import dicom_lab_to_rgb
from DICOMAnnotatorLib.dicom.sequences import RawItem, RawSequenceError, split_file
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.segmentation import Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg import file as seg_file
from DICOMAnnotatorLib.seg.file import SegFile
from DICOMAnnotatorLib.seg.info import seg_summary
from DICOMAnnotatorLib.seg.writer import write_seg

PATHS = [("SegmentIdentificationSequence", "ReferencedSegmentNumber"),
         ("PlanePositionSequence", "ImagePositionPatient"),
         ("FrameContentSequence", "DimensionIndexValues"),
         ("DerivationImageSequence", "SourceImageSequence", "ReferencedSOPInstanceUID"),
         ("DerivationImageSequence", "SourceImageSequence", "SpatialLocationsPreserved"),
         ("DerivationImageSequence", "DerivationCodeSequence", "CodeMeaning")]


def _value(item, path):
    for keyword in path[:-1]:
        item = item.get(keyword)[0]
    value = item.get(path[-1])
    return [float(v) for v in value] if isinstance(value, (list, pydicom.multival.MultiValue)) else value


@pytest.fixture
def segmentation(write_phantom):
    folder, _, _, labels = write_phantom("oblique")
    series = ReferenceSeries.from_paths(folder)
    return Segmentation.from_labelmap(series.geometry, labels, phantoms.PHANTOM_SEGMENTS, reference=series)


@pytest.fixture
def seg_path(segmentation, tmp_path):
    return write_seg(segmentation, tmp_path / "seg.dcm")


def _re_encoded(seg_path, target, syntax, *, undefined: bool):
    """The SEG re-written in ``syntax``, every per-frame sequence and item of defined or undefined length."""
    ds = pydicom.dcmread(seg_path)
    ds["PerFrameFunctionalGroupsSequence"].is_undefined_length = undefined
    for item in ds.PerFrameFunctionalGroupsSequence:
        item.is_undefined_length_sequence_item = undefined
        for element in item:
            element.is_undefined_length = undefined
    if syntax.is_compressed:
        ds.compress(syntax, encoding_plugin="pydicom")
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(target, enforce_file_format=True)
    return target


@pytest.mark.parametrize("undefined", [False, True], ids=["defined", "undefined"])
@pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian,
                                    pydicom.uid.RLELossless], ids=["explicit", "implicit", "rle"])
def test_the_per_frame_items_cut_from_the_file_hold_what_pydicom_parses(segmentation, tmp_path, syntax, undefined):
    # RLE has no 1-bit encoding: the compressed case starts from a FRACTIONAL SEG (one byte per pixel)
    seg_path = write_seg(segmentation, tmp_path / "seg.dcm",
                         segmentation_type="fractional" if syntax.is_compressed else "binary")
    path = _re_encoded(seg_path, tmp_path / "re-encoded.dcm", syntax, undefined=undefined)
    split = split_file(path.read_bytes(), 0x52009230)
    parsed = pydicom.dcmread(path)
    assert len(split.items) == len(parsed.PerFrameFunctionalGroupsSequence) > 10
    for ours, theirs in zip(split.items, parsed.PerFrameFunctionalGroupsSequence, strict=True):
        assert all(isinstance(v, RawItem) for v in ours.get("PlanePositionSequence"))
        for path_ in PATHS:
            assert _value(ours, path_) == _value(theirs, path_), path_
    head = pydicom.dcmread(io.BytesIO(split.head))
    assert "PerFrameFunctionalGroupsSequence" not in head and head.SOPInstanceUID == parsed.SOPInstanceUID
    assert [e.tag for e in split.tail] == [0x7FE00010]
    seg, original = SegFile(path), SegFile(seg_path)
    assert [(f.segment_number, f.source_sop_instance_uid) for f in seg.frames] == \
        [(f.segment_number, f.source_sop_instance_uid) for f in original.frames]
    assert all(np.array_equal(f.position, g.position) for f, g in zip(seg.frames, original.frames, strict=True))
    for (_, ours), (_, theirs) in zip(seg.iter_frame_pixels(), original.iter_frame_pixels(), strict=True):
        assert np.array_equal(ours, theirs), "the pixel data after the cut is read as it was"


def test_files_that_cannot_be_cut_are_read_by_pydicom(seg_path, tmp_path):
    data = seg_path.read_bytes()
    with pytest.raises(RawSequenceError):
        split_file(data[:len(data) // 3], 0x52009230)
    assert split_file(data, 0x52009231) is None, "no such sequence"
    expected = [(f.segment_number, f.source_sop_instance_uid) for f in SegFile(seg_path).frames]
    for syntax in (pydicom.uid.DeflatedExplicitVRLittleEndian, pydicom.uid.ExplicitVRBigEndian):
        ds = pydicom.dcmread(seg_path)
        ds.file_meta.TransferSyntaxUID = syntax
        target = tmp_path / f"{syntax.name}.dcm"
        pydicom.dcmwrite(target, ds, little_endian=syntax.is_little_endian,
                         implicit_vr=False, force_encoding=True)
        assert split_file(target.read_bytes(), 0x52009230) is None
        assert [(f.segment_number, f.source_sop_instance_uid) for f in SegFile(target).frames] == expected


THIRD_PARTY_SEGS = ["dcmjs/examples/data/QIICR_Test3/tumor_User1_Manual_Trial1.dcm",
                    "dcmqi/segmentations/23x38x3/seg/label.seg", "dcmqi/segmentations/liver.dcm",
                    "dcmqi/segmentations/partial_overlaps.dcm", "highdicom/seg_image_cr_binary.dcm",
                    "highdicom/seg_image_ct_binary.dcm", "highdicom/seg_image_ct_binary_fractional.dcm",
                    "highdicom/seg_image_ct_true_fractional.dcm", "highdicom/seg_image_sm_control_labelmap.dcm"]


@pytest.mark.parametrize("relative", THIRD_PARTY_SEGS)
def test_other_producers_segs_read_the_same_cut_or_whole(relative, monkeypatch):
    """dcmqi and dcmjs write undefined-length sequences, highdicom defined ones, implicit or explicit VR."""
    path = third_party_file(relative)
    cut = seg_summary(path)
    monkeypatch.setattr(seg_file, "split_file", lambda data, tag: None)
    assert seg_summary(path) == cut


def test_display_colours_are_highdicoms():
    from highdicom.color import CIELabColor

    for rgb in itertools.product(range(0, 256, 17), repeat=3):
        lab = CIELabColor.from_rgb(*rgb).value
        assert dicom_lab_to_rgb(lab) == rgb == tuple(CIELabColor.from_dicom_value(lab).to_rgb(clip=True))
    for lab in ([0, 0, 0], [65535, 65535, 65535], [30000, 0, 65535], [65535, 0, 0]):  # outside sRGB: clipped
        theirs = CIELabColor.from_dicom_value(lab).to_rgb(clip=True)
        assert all(abs(a - b) <= 0.5 for a, b in zip(dicom_lab_to_rgb(lab), theirs, strict=True))
