"""The SEG header we build is the one highdicom builds for the same segmentation, attribute by attribute.

``seg.header`` replaced highdicom's Segmentation constructor in the writer (for speed); highdicom
stays the reference for what the modules hold. Left out of the comparison, on purpose: new UIDs
and creation times, the frames (their order and which empty ones are kept differ; the readers'
tests check their content), highdicom naming itself as contributing equipment, and the Dimension
Organization Type highdicom adds to LABELMAP SEGs (Type 3).
"""

from __future__ import annotations

import dataclasses

import highdicom as hd
import numpy as np
import pydicom
import pytest
from conftest import dciodvfy_errors
from DICOMAnnotatorLib import __version__
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.dicom.person_names import to_person_name
from DICOMAnnotatorLib.errors import SegmentationError
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.segmentation import AlgorithmType, Segmentation
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.descriptions import to_highdicom_segment_description
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.seg.writer import build_seg, write_seg
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

#: Different in every instance, or describing frames: not compared.
NOT_COMPARED = {"SOPInstanceUID", "SeriesInstanceUID", "InstanceCreationDate", "InstanceCreationTime", "ContentDate",
                "ContentTime", "DimensionOrganizationUID", "TrackingUID", "NumberOfFrames",
                "PerFrameFunctionalGroupsSequence", "PixelData", "DimensionOrganizationType"}

#: A segment using every part of the Segment Description macro.
AUTOMATIC_LESION = dataclasses.replace(
    phantoms.PHANTOM_SEGMENTS[1], algorithm_type=AlgorithmType.AUTOMATIC, algorithm_name="lesion-net",
    type_modifier=Code("255503000", "SCT", "Entire"), anatomic_region=Code("10200004", "SCT", "Liver"),
    anatomic_region_modifier=Code("24028007", "SCT", "Right"), tracking_id="lesion 1",
    tracking_uid=pydicom.uid.generate_uid())


def _case(write_phantom, orientation: str, enhanced: bool, segments):
    folder, _, _, labels = write_phantom(orientation, enhanced=enhanced)
    series = ReferenceSeries.from_paths(folder)
    labels[labels > len(segments)] = 0
    return Segmentation.from_labelmap(series.geometry, labels, segments, reference=series, author="Doe^Jane")


def _plant_patient_and_study_attributes(source: pydicom.Dataset) -> None:
    """Attributes of the Patient, Clinical Trial Subject and Patient Study modules (the SEG copies them)
    and one of the series (it must not)."""
    source.PatientAge = "054Y"
    source.ClinicalTrialSubjectID = "S-7"
    source.ClinicalTrialSponsorName = "Sponsor"
    source.PatientIdentityRemoved = "NO"
    other = pydicom.Dataset()
    other.PatientID, other.TypeOfPatientID = "MRN-2", "TEXT"
    source.OtherPatientIDsSequence = [other]
    source.BodyPartExamined = "ABDOMEN"


def _highdicoms(segmentation: Segmentation, seg_type: str, ours: pydicom.Dataset) -> pydicom.Dataset:
    """highdicom's SEG of the same segmentation, given every source image and the whole array."""
    series = segmentation.reference
    if seg_type == "labelmap":
        pixels = segmentation.to_labelmap()
    else:
        pixels = np.stack([segmentation.mask(s.number) for s in segmentation.segments], axis=-1)
        pixels = pixels.astype(np.float32) if seg_type == "fractional" else pixels
    return hd.seg.Segmentation(
        source_images=series.datasets, pixel_array=pixels, segmentation_type=seg_type.upper(),
        segment_descriptions=[to_highdicom_segment_description(s, algorithm_version=__version__)
                              for s in segmentation.segments],
        series_instance_uid=hd.UID(), series_number=int(ours.SeriesNumber), sop_instance_uid=hd.UID(),
        series_description=str(ours.SeriesDescription), instance_number=1, manufacturer="DICOMAnnotator",
        manufacturer_model_name="DICOMAnnotatorLib",
        software_versions=__version__, device_serial_number="none",
        fractional_type="PROBABILITY" if seg_type == "fractional" else None, max_fractional_value=255,
        content_label="ANNOTATION", content_description=str(ours.ContentDescription),
        content_creator_name=to_person_name("Doe^Jane"),
        transfer_syntax_uid=RLELossless if seg_type == "labelmap" else ExplicitVRLittleEndian)


def _differences(ours: pydicom.Dataset, theirs: pydicom.Dataset, where: str = "") -> list[str]:
    found = []
    keywords = {e.keyword for e in ours} | {e.keyword for e in theirs}
    for keyword in sorted(keywords - NOT_COMPARED):
        if keyword not in ours or keyword not in theirs:
            found.append(f"{where}{keyword}: only in {'ours' if keyword in ours else 'highdicom'}")
            continue
        a, b = ours[keyword], theirs[keyword]
        if a.VR == "SQ":
            if len(a.value) != len(b.value):
                found.append(f"{where}{keyword}: {len(a.value)} items, highdicom {len(b.value)}")
            for n, (x, y) in enumerate(zip(a.value, b.value, strict=False)):
                found.extend(_differences(x, y, f"{where}{keyword}[{n}]."))
        elif a.VR == "DS":
            if not np.allclose(np.atleast_1d(np.asarray(a.value, dtype=float)),
                               np.atleast_1d(np.asarray(b.value, dtype=float)), atol=1e-6):
                found.append(f"{where}{keyword}: {a.value} != {b.value}")
        elif a.value != b.value:
            found.append(f"{where}{keyword}: {a.value!r} != {b.value!r}")
    return found


@pytest.mark.parametrize(("orientation", "enhanced", "seg_type", "segments"), [
    ("axial", False, "binary", phantoms.PHANTOM_SEGMENTS),
    ("oblique", False, "fractional", phantoms.PHANTOM_SEGMENTS),
    ("axial", True, "binary", [AUTOMATIC_LESION]),
    ("oblique", True, "labelmap", phantoms.PHANTOM_SEGMENTS),
    ("coronal", False, "labelmap", [phantoms.PHANTOM_SEGMENTS[0], AUTOMATIC_LESION]),
])
def test_header_is_highdicoms(write_phantom, orientation, enhanced, seg_type, segments):
    segmentation = _case(write_phantom, orientation, enhanced, [dataclasses.replace(s, number=n)
                                                                for n, s in enumerate(segments, start=1)])
    if seg_type == "fractional":
        segmentation = Segmentation(segmentation.geometry, segmentation.segments,
                                    {s.number: segmentation.mask(s.number) * np.float32(0.6)
                                     for s in segmentation.segments},
                                    kind="FRACTIONAL", reference=segmentation.reference, author="Doe^Jane")
    _plant_patient_and_study_attributes(segmentation.reference.datasets[0])
    ours = build_seg(segmentation, segmentation_type=seg_type)
    theirs = _highdicoms(segmentation, seg_type, ours)
    assert (ours.PatientAge, ours.ClinicalTrialSubjectID, ours.OtherPatientIDsSequence[0].PatientID) == \
        ("054Y", "S-7", "MRN-2") and "BodyPartExamined" not in ours
    contributing = theirs.ContributingEquipmentSequence
    assert contributing[-1].ManufacturerModelName == "highdicom"
    theirs.ContributingEquipmentSequence = contributing[:-1]  # highdicom names itself; we are the Manufacturer
    assert _differences(ours, theirs) == []
    for keyword in ("MediaStorageSOPClassUID", "TransferSyntaxUID"):
        assert ours.file_meta[keyword].value == theirs.file_meta[keyword].value


def test_content_label_and_series_number_must_be_dicom_values(write_phantom):
    segmentation = _case(write_phantom, "axial", False, phantoms.PHANTOM_SEGMENTS)
    with pytest.raises(SegmentationError, match="Content label 'my annotation'"):
        build_seg(segmentation, content_label="my annotation")
    with pytest.raises(SegmentationError, match="Series number 0 is out of range"):
        build_seg(segmentation, series_number=0)


@pytest.mark.parametrize(("change", "message"), [
    ({"label": "Lesion " * 10}, "its label has 70 characters"),
    ({"label": "Liver\\left"}, "its label has a backslash"),
    ({"type": Code("10200004", "SCT", "Liver " * 11)}, "its code meaning has 66 characters"),
])
def test_segment_texts_dicom_cannot_hold_are_refused_naming_the_segment(write_phantom, change, message):
    """Slicer segment names have no length limit; a SEG's Segment Label (LO) has 64 characters."""
    segments = [phantoms.PHANTOM_SEGMENTS[0], dataclasses.replace(phantoms.PHANTOM_SEGMENTS[1], **change)]
    segmentation = _case(write_phantom, "axial", False, segments)
    with pytest.raises(SegmentationError, match=rf"Segment 2 \(.*{message}"):
        build_seg(segmentation)


def test_sources_without_frame_of_reference_or_with_invalid_values_give_a_valid_seg(write_phantom, tmp_path):
    """Anonymisers remove the Frame of Reference UID, blank the sex, leave ages like "0Y": the SEG
    leaves the Frame of Reference module out (its frames name their source images), keeps Type 2
    attributes empty and drops invalid optional values, and still round-trips voxel for voxel."""
    folder, _, _, labels = write_phantom()
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        del ds.FrameOfReferenceUID, ds.PatientSex
        with pytest.warns(UserWarning, match="Invalid value for VR"):  # pydicom warns and writes them
            ds.PatientAge, ds.StudyDate = "0Y", "2026-11-25"
        ds.save_as(path)
    series = ReferenceSeries.from_paths(folder)
    segmentation = Segmentation.from_labelmap(series.geometry, labels, phantoms.PHANTOM_SEGMENTS,
                                              reference=series, author="Doe^Jane")
    for seg_type in ("binary", "labelmap"):
        path = write_seg(segmentation, tmp_path / f"{seg_type}.dcm", segmentation_type=seg_type)
        seg = pydicom.dcmread(path)
        assert "FrameOfReferenceUID" not in seg and "PatientAge" not in seg
        assert (seg.PatientSex, seg.StudyDate) == ("", "")
        if seg_type == "binary":  # the installed dciodvfy predates the Label Map SEG IOD
            assert dciodvfy_errors(path) == []
        back = read_seg(path, series)
        for segment in segmentation.segments:
            assert np.array_equal(back.mask(segment.number), segmentation.mask(segment.number))
