"""PHI canary suite: a study with identifiers planted everywhere comes out with none of them.

The study (see canary_study.py) goes through the real command with two worker processes; every
byte of every output is scanned for every planted value and every source UID, OCR reads the
redacted pixels, the attributes the profile keeps are compared with the source, the SEG's and
SR's references are resolved, and dciodvfy compares each output with its source.
"""

from __future__ import annotations

import re
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from canary_study import BURNED_WORDS, CANARIES, DESCRIPTIVE, FAMILY, write_canary_study
from conftest import require_tool
from deid_support import KEY, leaks, outputs_by_modality, run_deidentify
from DICOMAnnotatorLib.deid.mapping import KeyedMapper
from DICOMAnnotatorLib.deid.ocr import read_text
from DICOMAnnotatorLib.deid.pixels import to_gray8


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_canary_study(tmp_path_factory.mktemp("canary") / "in")


@pytest.fixture(scope="module")
def default_run(study, tmp_path_factory):
    """The Basic Profile with its defaults (pixels redacted with OCR), two worker processes."""
    require_tool("tesseract")
    out = tmp_path_factory.mktemp("default") / "out"
    status, report = run_deidentify(study.folder, out, "--jobs", "2")
    return status, report, out


def _frames(ds: pydicom.Dataset) -> np.ndarray:
    pixels = ds.pixel_array
    return pixels if int(ds.get("NumberOfFrames", 1)) > 1 else pixels[np.newaxis]


def test_basic_profile_leaves_no_planted_identifier_in_any_output_byte(study, default_run):
    status, report, out = default_run
    assert status == 0, report["problems"]
    assert report["summary"]["written"] == len(study.ct_files) + 4
    assert leaks(out, study) == []
    assert not [p for p in out.rglob("*") if FAMILY.lower() in p.name.lower()], "input names must not be reused"
    for path in out.rglob("*.dcm"):
        assert path.read_bytes()[:128] == b"\0" * 128, "the preamble is replaced"


def test_ocr_reads_the_planted_text_before_and_none_of_it_after(study, default_run):
    _, report, out = default_run
    for source in (study.us_file, study.sc_file):  # the check can fail: OCR does read the originals
        assert {"PLUMTREE", "83927461"} <= set(re.findall(r"\w+", read_text(to_gray8(_frames(pydicom.dcmread(
            source))[0])).upper()))
    images = outputs_by_modality(out)
    redacted = images["US"] + images["OT"]
    for ds in redacted:
        for frame in _frames(ds):
            text = read_text(to_gray8(frame)).upper()
            assert not [word for word in BURNED_WORDS if word in text], text
        assert ds.BurnedInAnnotation == "NO"
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert "113101" in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    us = images["US"][0]
    assert (us.NumberOfFrames, us.SamplesPerPixel, us.PhotometricInterpretation) == (3, 3, "RGB")
    source = _frames(pydicom.dcmread(study.us_file))
    assert np.array_equal(_frames(us)[:, 120:], source[:, 120:]), "pixels away from the text are untouched"
    assert report["summary"]["redacted_images"] == 2 and report["summary"]["ocr"].startswith("tesseract")


def test_attributes_the_profile_keeps_are_intact(study, default_run):
    _, _, out = default_run
    images = outputs_by_modality(out)
    sources = sorted((pydicom.dcmread(p) for p in study.ct_files), key=lambda ds: int(ds.InstanceNumber))
    cts = sorted(images["CT"], key=lambda ds: int(ds.InstanceNumber))
    for source, ct in zip(sources, cts, strict=True):
        assert np.array_equal(ct.pixel_array, source.pixel_array)
        for keyword in ("SOPClassUID", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                        "SliceThickness", "Rows", "Columns", "RescaleSlope", "RescaleIntercept", "ImageType",
                        "Modality", "Manufacturer", "KVP"):
            assert ct[keyword].value == source[keyword].value, keyword
        assert 0x60003000 not in ct and not any(tag >> 16 == 0x6000 for tag in ct.keys())
        assert not any(tag >> 16 & 1 for tag in ct.keys()), "no private attribute without Retain Safe Private"
        assert ct.file_meta.ImplementationVersionName.startswith("DICOMANNOT")
        assert "SourceApplicationEntityTitle" not in ct.file_meta
    everything = [ds for group in images.values() for ds in group]
    assert len({ds.PatientID for ds in everything}) == 1 and everything[0].PatientID.startswith("ANON")
    assert {str(ds.PatientName) for ds in everything} == {everything[0].PatientID}
    assert len({ds.StudyInstanceUID for ds in everything}) == 1
    assert len({ds.AccessionNumber for ds in everything}) == 1
    for ds in everything:
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert ds.SOPInstanceUID.startswith("2.25.") and len(ds.SOPInstanceUID) <= 64
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert not ds.get("StudyDate") and not ds.get("PatientBirthDate")


def test_seg_and_sr_references_resolve_to_the_deidentified_images(default_run):
    _, _, out = default_run
    images = outputs_by_modality(out)
    ct_uids = {ds.SOPInstanceUID for ds in images["CT"]}
    ct_series = images["CT"][0].SeriesInstanceUID
    seg_path = next(p for p in out.rglob("*.dcm") if pydicom.dcmread(p, stop_before_pixels=True).Modality == "SEG")
    seg = hd.seg.segread(seg_path)
    references = seg.get_source_image_uids()
    assert {sop for _, _, sop in references} == ct_uids
    assert {series for _, series, _ in references} == {ct_series}
    assert seg.FrameOfReferenceUID == images["CT"][0].FrameOfReferenceUID
    assert seg.get_segment_description(1).segment_label == "Liver"
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0]
        assert source.ReferencedSOPInstanceUID in ct_uids
    sr = images["SR"][0]
    image_item = next(item for item in sr.ContentSequence if item.ValueType == "IMAGE")
    assert image_item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID in ct_uids
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == ct_series
    text = next(item for item in sr.ContentSequence if item.ValueType == "TEXT")
    assert text.TextValue == "ANONYMIZED" and text.ConceptNameCodeSequence[0].CodeValue == "121071"


def _dciodvfy_errors(path) -> set[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return {line.strip() for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")}


def test_dciodvfy_reports_no_new_error_on_any_output(study, default_run):
    require_tool("dciodvfy")
    _, _, out = default_run
    mapper = KeyedMapper(KEY.encode())
    sources = [*study.ct_files, study.seg_file, study.sr_file, study.us_file, study.sc_file]
    for source in sources:
        ds = pydicom.dcmread(source, stop_before_pixels=True)
        output = (out / mapper.uid(ds.StudyInstanceUID) / mapper.uid(ds.SeriesInstanceUID)
                  / f"{mapper.uid(ds.SOPInstanceUID)}.dcm")
        new = _dciodvfy_errors(output) - _dciodvfy_errors(source)
        assert not new, f"{source.name} ({ds.Modality}): {sorted(new)}"


def test_cleaning_options_keep_descriptions_but_no_identifier(study, tmp_path):
    """Clean Descriptors, Structured Content and Graphics keep the text's meaning, never its identifiers."""
    require_tool("tesseract")
    out = tmp_path / "out"
    status, report = run_deidentify(study.folder, out, "--shift-dates", "--clean-descriptors",
                                    "--clean-structured-content", "--clean-graphics", "--retain-safe-private")
    assert status == 0, report["problems"]
    # Times survive a whole-day date shift by design; descriptive words survive cleaning by design.
    identifiers = {k: v for k, v in CANARIES.items() if k not in DESCRIPTIVE and k != "acquisition time"}
    assert leaks(out, study, identifiers) == []
    images = outputs_by_modality(out)
    ct = next(ds for ds in images["CT"] if 0x60003000 in ds)
    assert CANARIES["study description"] in ct.StudyDescription and FAMILY.upper() not in ct.StudyDescription
    assert "PLUMTREE" not in read_text(np.uint8(255) - ct.overlay_array(0x6000) * np.uint8(255)).upper()
    block = ct.private_block(0x0019, "GEMS_ACQU_01")
    assert block[0x23].value == "39.375", "a safe private attribute is retained"
    sr = images["SR"][0]
    text = next(item for item in sr.ContentSequence if item.ValueType == "TEXT").TextValue
    assert CANARIES["sr text"] in text and FAMILY not in text
    assert {item.CodeValue for item in ct.DeidentificationMethodCodeSequence} >= {"113103", "113104", "113105",
                                                                                  "113107", "113111"}
    assert ct.LongitudinalTemporalInformationModified == "MODIFIED"
