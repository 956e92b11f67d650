"""The folder run: bad files reported not fatal, no OCR means not written, folders guarded, real PHI pixels."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from canary_study import ultrasound, write_canary_study
from conftest import REPO, require_tool, third_party_file
from deid_support import KEY, outputs_by_modality, run_deidentify
from DICOMAnnotatorLib.cli.main import main
from DICOMAnnotatorLib.deid.ocr import read_text
from DICOMAnnotatorLib.deid.pixels import to_gray8
from DICOMAnnotatorLib.imaging import phantoms


@pytest.fixture
def small_study(tmp_path):
    """A CT series plus one ultrasound image with burned-in text."""
    geometry = phantoms.phantom_geometry(size=(16, 16, 3))
    hu, _ = phantoms.phantom_volume(geometry)
    cts = phantoms.ct_datasets(geometry, hu)
    phantoms.write_datasets(cts, tmp_path / "in" / "ct")
    ultrasound(cts[0]).save_as(tmp_path / "in" / "us.dcm", enforce_file_format=True)
    return tmp_path / "in"


def test_corrupt_and_non_dicom_files_are_reported_and_the_rest_written(small_study, tmp_path):
    (small_study / "notes.txt").write_text("not DICOM")
    good = (small_study / "ct" / "0001.dcm").read_bytes()
    (small_study / "truncated.dcm").write_bytes(good[: len(good) // 3])
    status, report = run_deidentify(small_study, tmp_path / "out", "--pixels", "flag")
    assert status == 3
    problems = {p["source"]: p for p in report["problems"]}
    assert set(problems) == {"notes.txt", "truncated.dcm"}
    assert "not a DICOM file" in problems["notes.txt"]["reason"]
    assert problems["truncated.dcm"]["status"] == "failed" and problems["truncated.dcm"]["reason"]
    assert report["summary"]["written"] == 4
    assert not list((tmp_path / "out").rglob("*.partial")), "no half-written output"


def test_without_ocr_images_at_risk_are_not_written_and_say_so(small_study, tmp_path):
    """Run as a user without tesseract on PATH: the command must not claim the pixels were checked."""
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin"), "PYTHONPATH": str(REPO / "DICOMAnnotator")}
    report = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "DICOMAnnotatorLib.cli.main", "deidentify", str(small_study),
                          str(tmp_path / "out"), "--key", KEY, "--report", str(report), "--jobs", "1"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 3, run.stderr
    payload = json.loads(report.read_text())
    assert payload["summary"]["ocr"] is None and payload["summary"]["written"] == 3
    [problem] = payload["problems"]
    assert problem["source"] == "us.dcm" and problem["status"] == "not_written"
    assert "OCR is not available" in problem["reason"] and "not checked" in problem["reason"]
    assert problem["pixels"]["checked_by"] is None
    assert "us.dcm [not_written]" in run.stdout and "OCR: not available" in run.stdout
    assert "US" not in outputs_by_modality(tmp_path / "out")


def test_flag_writes_images_at_risk_unchanged_and_lists_them(small_study, tmp_path):
    status, report = run_deidentify(small_study, tmp_path / "out", "--pixels", "flag")
    assert status == 0
    [flagged] = report["flagged"]
    assert flagged["source"] == "us.dcm" and flagged["pixels"]["checked_by"] is None
    us = outputs_by_modality(tmp_path / "out")["US"][0]
    source = pydicom.dcmread(small_study / "us.dcm")
    assert np.array_equal(us.pixel_array, source.pixel_array)
    assert us.BurnedInAnnotation == "YES", "unchecked pixels are not claimed clean"
    assert "113101" not in [item.CodeValue for item in us.DeidentificationMethodCodeSequence]


def test_configured_rectangles_are_blanked_for_the_matching_model(small_study, tmp_path):
    regions = tmp_path / "regions.json"
    regions.write_text(json.dumps({"regions": [
        {"manufacturer": "sonic acme", "model": "Echo 5", "boxes": [[0, 200, 320, 240]]},
        {"manufacturer": "Other", "boxes": [[0, 0, 10, 10]]}]}))
    status, report = run_deidentify(small_study, tmp_path / "out", "--pixels", "flag", "--regions", str(regions))
    assert status == 0 and report["flagged"][0]["pixels"]["configured_regions"] == 1
    us = outputs_by_modality(tmp_path / "out")["US"][0]
    assert not us.pixel_array[:, 200:].any() and us.pixel_array[:, :200].any()


def test_folders_are_guarded(small_study, tmp_path, capsys):
    assert main(["deidentify", str(small_study), str(small_study / "out"), "--key", KEY]) == 1
    assert "overlaps the input" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    assert main(["deidentify", str(small_study), str(tmp_path / "busy"), "--key", KEY, "--pixels", "keep"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["deidentify", str(small_study), str(tmp_path / "busy"), "--key", KEY, "--pixels", "keep",
                 "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["written"] == 4
    assert main(["deidentify", str(small_study), str(tmp_path / "o"), "--key", "short"]) == 1
    assert "at least 16 bytes" in capsys.readouterr().err


def test_a_dicomdir_is_skipped_not_copied(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(pydicom.data.get_testdata_file("DICOMDIR"), source / "DICOMDIR")
    status, report = run_deidentify(source, tmp_path / "out", "--pixels", "keep")
    assert status == 0 and report["problems"][0]["status"] == "skipped"
    assert not list((tmp_path / "out").rglob("*.dcm"))


@pytest.mark.shared_data
def test_real_burned_in_names_and_dates_are_removed_from_an_rle_cr(tmp_path):
    """TCIA Pseudo-PHI CR (RLE, MONOCHROME1, 2140x1760) with a name and dates burned into the pixels."""
    require_tool("tesseract")
    source = third_party_file("presidio/presidio-image-redactor/tests/test_data/0_ORIGINAL_compressed.dcm")
    (tmp_path / "in").mkdir()
    shutil.copy(source, tmp_path / "in" / "cr.dcm")
    status, report = run_deidentify(tmp_path / "in", tmp_path / "out")
    assert status == 0, report["problems"]
    [cr] = outputs_by_modality(tmp_path / "out")["CR"]
    assert cr.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert cr.PhotometricInterpretation == "MONOCHROME1" and cr.pixel_array.shape == (1760, 2140)
    words = set(re.findall(r"\w+", read_text(to_gray8(cr.pixel_array)).upper()))
    assert not words & {"DAVIDSON", "DOUGLAS", "1976", "2012", "DOB"}, words
    original = pydicom.dcmread(source).pixel_array
    assert np.array_equal(cr.pixel_array[400:], original[400:]), "anatomy below the text is untouched"


def test_a_real_ct_with_its_patients_name_burned_in_is_read_and_cleaned(tmp_path):
    """TCIA Pseudo-PHI CT: no Burned In Annotation, a CT SOP class, and the patient's name and birth
    date written into the top rows at 32767 (tissue stays below 1000): the text screen finds it."""
    require_tool("tesseract")
    source = third_party_file(
        "presidio/presidio-image-redactor/tests/test_data/dicom_dir_1/dicom_dir_2/2_ORIGINAL.dicom")
    original = pydicom.dcmread(source).pixel_array
    assert {"KAUFMAN", "SCOTT", "1943"} <= set(re.findall(r"\w+", read_text(to_gray8(original)).upper()))
    (tmp_path / "in").mkdir()
    shutil.copy(source, tmp_path / "in" / "ct.dcm")
    status, report = run_deidentify(tmp_path / "in", tmp_path / "out")
    assert status == 0, report["problems"]
    [risk] = report["flagged"][0]["pixels"]["risks"]
    assert risk.endswith("line(s) that look like text in its pixels"), "found by the text screen, not the header"
    [ct] = outputs_by_modality(tmp_path / "out")["CT"]
    assert not set(re.findall(r"\w+", read_text(to_gray8(ct.pixel_array)).upper())) & {"KAUFMAN", "SCOTT", "1943"}
    assert int((ct.pixel_array == 32767).sum()) == 0, "every stroke of the text is blanked"
    assert np.array_equal(ct.pixel_array[40:], original[40:]), "the anatomy below the text is untouched"
    assert "113101" in [item.CodeValue for item in ct.DeidentificationMethodCodeSequence]
    assert "Clean Pixel Data Option" in ct.DeidentificationMethod, "the text names what the codes say"


def test_segmentations_at_full_probability_are_not_screened_for_text():
    """A FRACTIONAL SEG's certain voxels sit at 255, the end of its range: they are values, not burned-in text."""
    from DICOMAnnotatorLib.deid.burned_in import burned_in_risks

    seg = pydicom.dcmread(third_party_file("highdicom/seg_image_ct_binary_fractional.dcm"))
    assert int((seg.pixel_array == 255).sum()) >= 20 and burned_in_risks(seg) == []


def test_a_ct_whose_metal_reaches_the_top_of_its_range_is_left_as_it_is(tmp_path):
    """12-bit CT: a screw saturates at 4095, as burned-in text would be stored; it is no line of letters, so
    the screen sends nothing to OCR and no pixel changes."""
    geometry = phantoms.phantom_geometry(size=(64, 64, 2))
    hu, _ = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, hu)
    for ds in datasets:
        stored = np.clip(ds.pixel_array.astype(np.int32) + 1024, 0, 4095).astype(np.uint16)
        stored[30:34, 30:40] = 4095  # a screw
        ds.PixelRepresentation, ds.BitsStored, ds.HighBit, ds.RescaleIntercept = 0, 12, 11, -1024
        ds.PixelData = stored.tobytes()
    phantoms.write_datasets(datasets, tmp_path / "in")
    status, report = run_deidentify(tmp_path / "in", tmp_path / "out")
    assert status == 0 and report["flagged"] == [], report["flagged"]
    for ds in outputs_by_modality(tmp_path / "out")["CT"]:
        assert int(ds.pixel_array.max()) == 4095 and np.count_nonzero(ds.pixel_array == 4095) == 40


def test_a_name_on_one_frame_of_a_real_cine_is_found_and_blanked_on_every_frame(tmp_path):
    """A real SonoSite echo cine (pydicom's examples_ybr_color.dcm, 30 frames) with a name burned into
    frame 9 only (neither first, middle nor last) and frames 12 to 29 frozen (copies of frame 11)."""
    from canary_study import BURNED_WORDS, FONT
    from PIL import Image, ImageDraw, ImageFont

    require_tool("tesseract")
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("examples_ybr_color.dcm"))
    frames = ds.pixel_array.copy()  # decoded to RGB
    frames[12:] = frames[11]
    picture = Image.fromarray(frames[9])
    ImageDraw.Draw(picture).text((60, 110), f"{BURNED_WORDS[0]} {BURNED_WORDS[1]}", fill=(255, 255, 255),
                                 font=ImageFont.truetype(FONT, 16))
    text_pixels = (np.asarray(picture) != frames[9]).any(axis=-1)
    frames[9] = np.asarray(picture)
    assert BURNED_WORDS[0] in read_text(to_gray8(frames[9])).upper(), "OCR reads the planted name"
    ds.set_pixel_data(frames, "RGB", 8, generate_instance_uid=False)
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "cine.dcm", enforce_file_format=True)
    status, report = run_deidentify(tmp_path / "in", tmp_path / "out")
    assert status == 0, report["problems"]
    pixels = report["flagged"][0]["pixels"]
    distinct = len({frame.tobytes() for frame in frames})
    assert distinct <= 12 and (pixels["frames_checked"], pixels["frames_read"]) == (30, distinct), \
        "every frame is checked, each distinct frame is read once"
    [us] = outputs_by_modality(tmp_path / "out")["US"]
    output = us.pixel_array
    assert not output[:, text_pixels].any(), "the name's place is blanked on every frame"
    for frame in {frame.tobytes(): frame for frame in output}.values():
        text = read_text(to_gray8(frame)).upper()
        assert not [word for word in BURNED_WORDS[:2] if word in text], text


def test_the_canary_study_generator_plants_what_it_claims(tmp_path):
    """The leak scan is only as good as the planting: the sources hold every canary."""
    from canary_study import CANARIES

    study = write_canary_study(tmp_path / "in")
    data = b"".join(p.read_bytes().lower() for p in study.folder.rglob("*.dcm"))
    assert [name for name, value in CANARIES.items() if value.lower().encode() not in data] == []
    assert len(study.source_uids) >= 10


def test_the_progress_bar_draws_only_on_a_terminal():
    import io

    from DICOMAnnotatorLib.parallel import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar("deidentify", stream)
        bar(1, 2)
        bar(2, 2)
    assert pipe.getvalue() == ""
    assert terminal.getvalue().endswith("deidentify [" + "#" * 30 + "] 2/2\n")


def test_ocr_all_images_reads_every_image_the_screen_passes(tmp_path):
    """--ocr-all-images keeps its meaning: a CT slice without text, which the screen sends nowhere by
    default, is read whole by OCR and then claimed clean (Burned In Annotation NO, code 113101)."""
    require_tool("tesseract")
    geometry = phantoms.phantom_geometry(size=(64, 64, 1))
    hu, _ = phantoms.phantom_volume(geometry)
    phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), tmp_path / "in")
    status, report = run_deidentify(tmp_path / "in", tmp_path / "default")
    assert status == 0 and report["flagged"] == []
    status, report = run_deidentify(tmp_path / "in", tmp_path / "all", "--ocr-all-images")
    assert status == 0
    [flagged] = report["flagged"]
    assert flagged["pixels"]["risks"] == ["OCR of every image was asked for"]
    assert flagged["pixels"]["checked_by"].startswith("tesseract") and flagged["pixels"]["regions"] == []
    [ct] = outputs_by_modality(tmp_path / "all")["CT"]
    assert ct.BurnedInAnnotation == "NO" and "113101" in [i.CodeValue for i in ct.DeidentificationMethodCodeSequence]
