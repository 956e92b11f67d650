"""Outputs stay valid: no new dciodvfy error on any IOD of the test data, and attributes whose presence
PS3.3 conditions on a removed one go with it; dates of every kind and VR go as the profile says."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pydicom
import pytest
from conftest import TEST_DATA, dciodvfy_errors, require_tool, third_party_file
from deid_support import run_deidentify
from DICOMAnnotatorLib.deid.options import DatePolicy, DeidOptions
from DICOMAnnotatorLib.deid.profile import ActionTable, standard_table, supplements
from pydicom.datadict import DicomDictionary

PYDICOM_TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
#: Option sets of the sweep: the default, and every option that rewrites rather than removes.
SWEEP_OPTIONS = {
    "default": ["--pixels", "keep"],
    "cleaning": ["--pixels", "keep", "--shift-dates", "--clean-descriptors", "--clean-structured-content",
                 "--clean-graphics", "--retain-patient-characteristics"],
}


_VALUE, _NUMBER = re.compile(r"= <[^>]*>"), re.compile(r"\b\d+(?:\.\d+)*\b")


def _errors(path: Path) -> set[str]:
    """dciodvfy's errors with values, UIDs and numbers left out (de-identification changes them, not what is wrong)."""
    return {_NUMBER.sub("<n>", _VALUE.sub("= <>", line)) for line in dciodvfy_errors(path)}


def _one_file_per_iod() -> dict[str, Path]:
    """For every SOP class in the shared data and pydicom's test files, the file dciodvfy finds fewest errors in."""
    found: dict[str, list[Path]] = {}
    for root in (TEST_DATA, PYDICOM_TEST_FILES):
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".png", ".json", ".md")):
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:  # not DICOM (licences, NRRD, ...)
                continue
            if "SOPClassUID" in ds and "SOPInstanceUID" in ds and "DirectoryRecordSequence" not in ds:
                found.setdefault(str(ds.SOPClassUID), []).append(path)
    return {sop: min(paths[:4], key=lambda p: len(dciodvfy_errors(p))) for sop, paths in sorted(found.items())}


@pytest.mark.shared_data
def test_no_iod_of_the_test_data_gets_a_new_dciodvfy_error(tmp_path):
    require_tool("dciodvfy")
    third_party_file("highdicom/dx_image.dcm")
    files = _one_file_per_iod()
    assert len(files) >= 15, sorted(files)
    new_errors = {}
    for number, (sop_class, source) in enumerate(files.items()):
        before = _errors(source)
        for name, options in SWEEP_OPTIONS.items():
            (tmp_path / f"in{number}").mkdir(exist_ok=True)
            shutil.copy(source, tmp_path / f"in{number}" / "x.dcm")
            out = tmp_path / f"out{number}-{name}"
            status, report = run_deidentify(tmp_path / f"in{number}", out, *options)
            assert status == 0, (source, report["problems"])
            [written] = list(out.rglob("*.dcm"))
            added = _errors(written) - before
            if added:
                new_errors[f"{source.name} ({pydicom.uid.UID(sop_class).name}, {name})"] = sorted(added)
    assert new_errors == {}


@pytest.mark.shared_data
def test_responsible_person_role_goes_with_responsible_person_on_a_real_mr(tmp_path):
    """Responsible Person Role (0010,2298) is Type 1C, required if Responsible Person is present and
    has a value (PS3.3 C.7.1.1): the profile removes the person, so the role must go too."""
    require_tool("dciodvfy")
    source = third_party_file("dicom2nifti/tests/data/siemens/anatomical/001/IM-0001-0112-0001.dcm")
    ds = pydicom.dcmread(source)
    ds.ResponsiblePerson, ds.ResponsiblePersonRole = "Hartwell^Jo", "PARENT"
    ds.ResponsibleOrganization = "Hartwell Farm"
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "mr.dcm")
    before = _errors(tmp_path / "in" / "mr.dcm")
    status, _ = run_deidentify(tmp_path / "in", tmp_path / "out", "--pixels", "keep")
    assert status == 0
    [written] = list((tmp_path / "out").rglob("*.dcm"))
    out = pydicom.dcmread(written)
    assert not {"ResponsiblePerson", "ResponsiblePersonRole", "ResponsibleOrganization"} & set(out.dir())
    assert _errors(written) - before == set()


@pytest.mark.shared_data
def test_patient_dates_in_an_alternative_calendar_go_as_dates_do(tmp_path):
    """(0010,0033) and (0010,0034) are LO, outside Table E.1-1: treated as the Patient module's dates, and
    Patient's Alternative Calendar (0010,0035), Type 1C on either of them, goes when both are gone."""
    require_tool("dciodvfy")
    ds = pydicom.dcmread(third_party_file("highdicom/ct_image.dcm"))
    ds.PatientBirthDateInAlternativeCalendar = "5 Tishri 5731"
    ds.PatientDeathDateInAlternativeCalendar = "12 Nisan 5784"
    ds.PatientAlternativeCalendar = "HEBREW"
    (tmp_path / "in").mkdir()
    ds.save_as(tmp_path / "in" / "ct.dcm")
    before = _errors(tmp_path / "in" / "ct.dcm")
    keywords = ("PatientBirthDateInAlternativeCalendar", "PatientDeathDateInAlternativeCalendar",
                "PatientAlternativeCalendar")
    kept = {}
    for name, options in {"basic": [], "shifted": ["--shift-dates"], "full": ["--retain-dates"]}.items():
        status, _ = run_deidentify(tmp_path / "in", tmp_path / name, "--pixels", "keep", *options)
        assert status == 0
        [written] = list((tmp_path / name).rglob("*.dcm"))
        out = pydicom.dcmread(written)
        kept[name] = [keyword for keyword in keywords if keyword in out]
        assert _errors(written) - before == set(), name
        assert b"5731" not in written.read_bytes(), "the birth date never stays"
    assert kept == {"basic": [], "shifted": [],
                    "full": ["PatientDeathDateInAlternativeCalendar", "PatientAlternativeCalendar"]}


def test_no_date_or_time_attribute_is_kept_unless_an_option_names_it():
    """Every standard attribute of VR DA, DT or TM, listed or not: never K or C under the Basic Profile, and
    K or C under an option only where Table E.1-1 (or the supplements) gives that option's column K or C."""
    table = {row["tag"]: row for row in [*standard_table()["attributes"], *supplements()["attributes"]]}
    dated = [tag for tag, entry in DicomDictionary.items() if entry[0] in ("DA", "DT", "TM")]
    assert len(dated) > 150
    options = {"basic": DeidOptions(), "device": DeidOptions(retain_device_identity=True),
               "descriptors": DeidOptions(clean_descriptors=True), "uids": DeidOptions(retain_uids=True),
               "characteristics": DeidOptions(retain_patient_characteristics=True),
               "institution": DeidOptions(retain_institution_identity=True),
               "structured": DeidOptions(clean_structured_content=True),
               "full dates": DeidOptions(dates=DatePolicy.KEEP), "shifted": DeidOptions(dates=DatePolicy.SHIFT)}
    loose = []
    for name, option in options.items():
        actions = ActionTable.for_options(option)
        columns = option.enabled_columns()
        for tag in dated:
            action = actions.exact.get(tag) or actions.by_vr[DicomDictionary[tag][0]]
            row = table.get(f"{tag:08X}", {"options": supplements()["by_vr"][DicomDictionary[tag][0]]["options"]})
            allowed = {row["options"][column] for column in columns if column in row["options"]}
            if action in ("K", "C") and action not in allowed:
                loose.append((name, f"{tag:08X}", action))
    assert loose == []


def test_descriptors_keep_their_technical_numbers_and_lose_every_date_form():
    from DICOMAnnotatorLib.deid.scrub import TextScrubber

    scrub = TextScrubber([]).scrub
    for technical in ("LORAD IP 4.9.0", "G1.2e#1.60-0.10,MCR2.0AN0.4", "compression ratio 0.084906",
                      "JPEG 2000 irreversible (lossy) 2097:1", "syngo MR XA30 v2.0.12345", "10-12 mm, 3-5-7",
                      "release 2019.1", "patient may have 3 lesions"):
        assert scrub(technical) == technical
    dates = {"PARENCHYMAL PHASE Sep1999": "PARENCHYMAL PHASE ***", "seen 23 Sep 1999": "seen ***",
             "Sep 23, 1999 and 1999 Sep 23": "*** and ***", "23SEP99 / Sep '99": "*** / ***",
             "September 1999 follow-up": "*** follow-up", "09/1999 and 1999-09": "*** and ***",
             "9/1/12, 2012-09-01, 01.09.2012, 20120901": "***, ***, ***, ***", "on 3rd March": "on ***"}
    assert {text: scrub(text) for text in dates} == dates


@pytest.mark.shared_data
def test_clean_descriptors_on_real_files_blanks_a_month_year_and_keeps_processing_codes(tmp_path):
    """A real DX's Derivation Description is a processing code, not an identifier (it became '***'), and
    a month-year in a series description ('PARENCHYMAL PHASE Sep1999', from a TCIA pseudo-PHI CT) goes."""
    dx = pydicom.dcmread(third_party_file("highdicom/dx_image.dcm"))
    assert dx.DerivationDescription == "G1.2e#1.60-0.10,MCR2.0AN0.4"
    ct = pydicom.dcmread(third_party_file("highdicom/ct_image.dcm"))
    ct.SeriesDescription = "PARENCHYMAL PHASE Sep1999"
    ct.DerivationDescription = "LORAD IP 4.9.0"
    (tmp_path / "in").mkdir()
    dx.save_as(tmp_path / "in" / "dx.dcm")
    ct.save_as(tmp_path / "in" / "ct.dcm")
    status, _ = run_deidentify(tmp_path / "in", tmp_path / "out", "--pixels", "keep", "--clean-descriptors")
    assert status == 0
    out = {str(d.Modality): d for d in map(pydicom.dcmread, (tmp_path / "out").rglob("*.dcm"))}
    assert out["DX"].DerivationDescription == "G1.2e#1.60-0.10,MCR2.0AN0.4"
    assert out["CT"].DerivationDescription == "LORAD IP 4.9.0"
    assert out["CT"].SeriesDescription == "PARENCHYMAL PHASE ***"


def test_big_endian_files_keep_a_readable_deidentification_method_sequence(tmp_path):
    """The de-identification marks are copied as encoded bytes: they must be in the file's byte order."""
    require_tool("dciodvfy")
    source = PYDICOM_TEST_FILES / "ExplVR_BigEnd.dcm"
    (tmp_path / "in").mkdir()
    shutil.copy(source, tmp_path / "in" / "us.dcm")
    status, _ = run_deidentify(tmp_path / "in", tmp_path / "out", "--pixels", "keep")
    assert status == 0
    [written] = list((tmp_path / "out").rglob("*.dcm"))
    out = pydicom.dcmread(written)
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRBigEndian
    assert [item.CodeValue for item in out.DeidentificationMethodCodeSequence] == ["113100"]
    assert _errors(written) - _errors(source) == set()

