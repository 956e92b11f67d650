"""The fast paths of SEG reading and writing give what the slow, general ones give.

- Per-frame functional groups read from their bytes (raw_sequence) hold what pydicom parses,
  in explicit and implicit VR, with defined and undefined item lengths; bytes it does not
  understand fall back to pydicom.
- Display colours converted without highdicom are highdicom's.
"""

from __future__ import annotations

import itertools

import numpy as np
import pydicom
import pytest
from DICOMAnnotatorLib import sample_data
from DICOMAnnotatorLib.display_colors import dicom_lab_to_rgb
from DICOMAnnotatorLib.raw_sequence import RawItem, RawSequenceError, parse_sequence
from DICOMAnnotatorLib.reference_series import ReferenceSeries
from DICOMAnnotatorLib.seg_file import SegFile
from DICOMAnnotatorLib.seg_writer import write_seg
from DICOMAnnotatorLib.segmentation import Segmentation

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
def seg_path(write_phantom, tmp_path):
    folder, _, _, labels = write_phantom("oblique")
    series = ReferenceSeries.from_paths(folder)
    segmentation = Segmentation.from_labelmap(series.geometry, labels, sample_data.PHANTOM_SEGMENTS, reference=series)
    return write_seg(segmentation, tmp_path / "seg.dcm")


@pytest.mark.parametrize(("syntax", "undefined_items"), [
    (pydicom.uid.ExplicitVRLittleEndian, False), (pydicom.uid.ExplicitVRLittleEndian, True),
    (pydicom.uid.ImplicitVRLittleEndian, False), (pydicom.uid.ImplicitVRLittleEndian, True)])
def test_raw_items_hold_what_pydicom_parses(seg_path, tmp_path, syntax, undefined_items):
    ds = pydicom.dcmread(seg_path)
    frames = ds.PerFrameFunctionalGroupsSequence
    for item in frames:
        item.is_undefined_length_sequence_item = undefined_items
        for element in item:
            element.is_undefined_length = undefined_items
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(tmp_path / "re-encoded.dcm", enforce_file_format=True)
    again = pydicom.dcmread(tmp_path / "re-encoded.dcm")
    raw = again.get_item(0x52009230)
    assert raw.is_raw, "a defined-length sequence stays raw until asked for"
    items = parse_sequence(raw.value, implicit=raw.is_implicit_VR)
    parsed = again.PerFrameFunctionalGroupsSequence
    assert len(items) == len(parsed) > 10
    for ours, theirs in zip(items, parsed, strict=True):
        assert all(isinstance(v, RawItem) for v in ours.get("PlanePositionSequence"))
        for path in PATHS:
            assert _value(ours, path) == _value(theirs, path), path
    seg = SegFile(tmp_path / "re-encoded.dcm")
    assert [(f.segment_number, f.source_sop_instance_uid) for f in seg.frames] == \
        [(int(_value(f, PATHS[0])), _value(f, PATHS[3])) for f in parsed]
    assert all(np.allclose(f.position, _value(p, PATHS[1])) for f, p in zip(seg.frames, parsed, strict=True))


def test_bytes_that_are_not_a_sequence_are_refused_and_pydicom_reads_the_file(seg_path, tmp_path):
    raw = pydicom.dcmread(seg_path).get_item(0x52009230)
    with pytest.raises(RawSequenceError):
        parse_sequence(raw.value[:-3], implicit=False)
    with pytest.raises(RawSequenceError):
        parse_sequence(b"\x08\x00\x18\x00" + raw.value[4:], implicit=False)
    expected = [(f.segment_number, f.source_sop_instance_uid) for f in SegFile(seg_path).frames]
    ds = pydicom.dcmread(seg_path)
    ds["PerFrameFunctionalGroupsSequence"].is_undefined_length = True  # then pydicom parses it on reading
    ds.save_as(tmp_path / "undefined.dcm")
    assert not pydicom.dcmread(tmp_path / "undefined.dcm").get_item(0x52009230).is_raw
    assert [(f.segment_number, f.source_sop_instance_uid) for f in SegFile(tmp_path / "undefined.dcm").frames] == \
        expected


def test_display_colours_are_highdicoms():
    from highdicom.color import CIELabColor

    for rgb in itertools.product(range(0, 256, 17), repeat=3):
        lab = CIELabColor.from_rgb(*rgb).value
        assert dicom_lab_to_rgb(lab) == rgb == tuple(CIELabColor.from_dicom_value(lab).to_rgb(clip=True))
    for lab in ([0, 0, 0], [65535, 65535, 65535], [30000, 0, 65535], [65535, 0, 0]):  # outside sRGB: clipped
        theirs = CIELabColor.from_dicom_value(lab).to_rgb(clip=True)
        assert all(abs(a - b) <= 0.5 for a, b in zip(dicom_lab_to_rgb(lab), theirs, strict=True))
