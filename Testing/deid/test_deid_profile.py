"""The profile's table and each option's effect on single datasets; keyed values; dates; text cleaning."""

from __future__ import annotations

import copy
import uuid

import pydicom
import pytest
from deid_support import KEY
from DICOMAnnotatorLib.deid.dataset import Deidentifier
from DICOMAnnotatorLib.deid.dates import shift_da, shift_dt
from DICOMAnnotatorLib.deid.mapping import KeyedMapper
from DICOMAnnotatorLib.deid.options import DatePolicy, DeidOptions
from DICOMAnnotatorLib.deid.profile import ActionTable, standard_table
from DICOMAnnotatorLib.deid.scrub import TextScrubber
from DICOMAnnotatorLib.dicom.part10 import save_part10
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.imaging import phantoms
from pydicom.dataset import Dataset


def test_the_shipped_table_is_ps315_2024b_table_e11():
    table = standard_table()
    assert table["standard"] == "DICOM PS3.15 2024b" and table["table"].startswith("Table E.1-1")
    rows = {row["tag"]: row for row in table["attributes"]}
    assert len(rows) == 621
    assert rows["00100010"]["basic"] == "Z" and rows["00100020"]["basic"] == "Z/D"
    assert rows["00080018"]["basic"] == "U" and rows["00080018"]["options"] == {"retain_uids": "K"}
    assert rows["00081140"]["basic"] == "X/Z/U*" and rows["private"]["options"] == {"retain_safe_private": "C"}
    assert rows["60XX3000"]["options"] == {"clean_graphics": "C"}


def test_options_override_the_basic_profile_and_keep_beats_clean():
    basic = ActionTable.for_options(DeidOptions())
    assert basic.exact[0x00100010] == "Z" and basic.exact[0x00080018] == "U" and basic.private == "X"
    retained = ActionTable.for_options(DeidOptions(retain_uids=True, retain_device_identity=True,
                                                   dates=DatePolicy.SHIFT, retain_safe_private=True))
    assert retained.exact[0x00080018] == "K" and retained.private == "C"
    assert retained.exact[0x00080020] == "C", "Study Date: modified dates clean"
    assert retained.exact[0x0018700C] == "K", "Date of Last Detector Calibration: device K beats dates C"
    assert retained.by_vr["DA"] == "C" and basic.by_vr["PN"] == "X/Z/D"
    assert basic.repeating_action(0x60023000) == "X" and basic.repeating_action(0x50001234) == "X"


def _ct() -> Dataset:
    geometry = phantoms.phantom_geometry(size=(8, 8, 1))
    hu, _ = phantoms.phantom_volume(geometry)
    ds = phantoms.ct_datasets(geometry, hu, patient_name="Kettleby^Rose", patient_id="PID42")[0]
    ds.StudyDate = ds.ContentDate = "20230517"
    ds.StudyTime = "101112"
    ds.PatientAge, ds.PatientSex, ds.PatientWeight = "052Y", "F", "61"
    ds.DeviceSerialNumber, ds.StationName = "SN1234", "CTROOM7"
    ds.InstitutionName = "Kettleby Clinic"
    ds.StudyDescription = "CT chest for Kettleby PID42 17.05.2023"
    return ds


def _deidentify(ds: Dataset, **options) -> Dataset:
    Deidentifier(DeidOptions(**options), KeyedMapper(KEY.encode())).deidentify(ds)
    return ds


def test_basic_profile_actions_on_a_ct():
    source = _ct()
    ds = _deidentify(copy.deepcopy(source))
    assert "PatientAge" not in ds and "StudyDescription" not in ds
    assert not ds.StudyDate and not ds.StudyTime and not ds.PatientSex and "StudyDate" in ds  # Z
    assert ds.PatientID == str(ds.PatientName) and ds.PatientID != "PID42"
    assert ds.SOPInstanceUID != source.SOPInstanceUID and ds.Modality == "CT"
    assert [item.CodeValue for item in ds.DeidentificationMethodCodeSequence] == ["113100"]


def test_combined_actions_follow_the_type_in_the_files_iod():
    """X/Z/D and Z/D: removed where the IOD has the attribute as Type 3, emptied as Type 2, a dummy as Type 1."""
    ct = _deidentify(_ct())  # CT Image: General Equipment (Type 3), General Image Content Date (Type 2C)
    assert not {"DeviceSerialNumber", "StationName", "InstitutionName"} & set(ct.dir()), "Type 3: removed"
    assert "ContentDate" in ct and not ct.ContentDate, "Z/D on Type 2: zero length"
    geometry = phantoms.phantom_geometry(size=(8, 8, 2))
    [enhanced] = phantoms.ct_datasets(geometry, phantoms.phantom_volume(geometry)[0], enhanced=True)
    enhanced.DeviceSerialNumber, enhanced.StationName, enhanced.ContentDate = "SN1234", "CTROOM7", "20230517"
    enhanced = _deidentify(enhanced)  # Enhanced CT: Enhanced General Equipment, Multi-frame Functional Groups
    assert enhanced.DeviceSerialNumber == "ANONYMIZED" and enhanced.ContentDate == "19000101", "Type 1: a dummy"
    assert "StationName" not in enhanced
    unknown = _ct()
    unknown.SOPClassUID = "1.2.840.10008.5.1.4.1.1.999"  # not in the PS3.3 table: conservative dummies
    unknown = _deidentify(unknown)
    assert unknown.DeviceSerialNumber == unknown.StationName == "ANONYMIZED" and unknown.ContentDate == "19000101"


def test_combined_actions_on_sequences():
    """X/Z/D on a Type 2 sequence empties it (SR); inside sequences the conservative choice is kept."""
    sr = _ct()
    sr.SOPClassUID, sr.Modality = "1.2.840.10008.5.1.4.1.1.88.33", "SR"  # Comprehensive SR
    step = Dataset()
    step.ReferencedSOPClassUID, step.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.3", "1.2.3.4"
    sr.ReferencedPerformedProcedureStepSequence = [step]
    item = Dataset()
    item.StationName = "CTROOM7"  # X/Z/D nested: a dummy (the type inside a sequence is not looked up)
    sr.ReferencedRequestSequence = [item]
    sr = _deidentify(sr)
    assert "ReferencedPerformedProcedureStepSequence" in sr and len(sr.ReferencedPerformedProcedureStepSequence) == 0
    assert sr.ReferencedRequestSequence[0].StationName == "ANONYMIZED"
    ct = _ct()
    ct.ReferencedPerformedProcedureStepSequence = [step]
    assert "ReferencedPerformedProcedureStepSequence" not in _deidentify(ct), "Type 3 in CT Image: removed"


def test_retain_options_keep_what_they_name():
    source = _ct()
    ds = _deidentify(copy.deepcopy(source), retain_uids=True, retain_patient_characteristics=True,
                     retain_device_identity=True, retain_institution_identity=True, dates=DatePolicy.KEEP)
    assert ds.SOPInstanceUID == source.SOPInstanceUID and ds.StudyInstanceUID == source.StudyInstanceUID
    assert (ds.PatientAge, ds.PatientSex, ds.PatientWeight) == ("052Y", "F", 61)
    assert (ds.DeviceSerialNumber, ds.StationName, ds.InstitutionName) == ("SN1234", "CTROOM7", "Kettleby Clinic")
    assert (ds.StudyDate, ds.StudyTime) == ("20230517", "101112")
    assert ds.LongitudinalTemporalInformationModified == "UNMODIFIED"
    assert {item.CodeValue for item in ds.DeidentificationMethodCodeSequence} == {
        "113100", "113106", "113108", "113109", "113110", "113112"}


def test_clean_descriptors_keeps_the_words_and_drops_the_identifiers():
    ds = _deidentify(_ct(), clean_descriptors=True)
    assert ds.StudyDescription == "CT chest for *** *** ***"


def test_keyed_uids_are_uuid_derived_and_depend_on_the_key():
    mapper = KeyedMapper(KEY.encode())
    uid = mapper.uid("1.2.3.4")
    assert uid == KeyedMapper(KEY.encode()).uid("1.2.3.4 ") and uid != KeyedMapper(b"x" * 32).uid("1.2.3.4")
    assert uid.startswith("2.25.") and len(uid) <= 64
    as_uuid = uuid.UUID(int=int(uid[5:]))
    assert as_uuid.version == 8 and as_uuid.variant == uuid.RFC_4122
    assert -3650 <= mapper.date_offset_days("PID42") <= -1
    with pytest.raises(InputError, match="at least 16 bytes"):
        KeyedMapper(b"short")


def test_dates_shift_by_whole_days_and_invalid_ones_are_emptied():
    assert shift_da("20240301", -1) == "20240229"
    assert shift_dt("20240301093000.5+0100", -1) == "20240229093000.5+0100"
    assert shift_da("2024", -1) == "" and shift_da("20241301", 3) == "" and shift_dt("2024", 1) == ""


def test_text_scrubber_removes_known_values_and_identifier_shapes():
    scrub = TextScrubber(["Kettleby^Rose", "PID42"]).scrub
    assert scrub("Dr said Rose KETTLEBY (pid42) ok") == "Dr said *** *** (***) ok"
    assert scrub("seen 17.05.2023, tel +44 1234 567890, mail a.b@example.org, MRN 1234567") == \
        "seen ***, tel ***, mail ***, MRN ***"
    assert scrub("Rosemary kept") == "Rosemary kept", "only whole words are identifiers"


@pytest.mark.parametrize("syntax", [pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian])
def test_the_fast_writer_writes_the_bytes_pydicom_writes(tmp_path, syntax):
    source = _ct()
    source.file_meta.TransferSyntaxUID = syntax
    source.save_as(tmp_path / "in.dcm", enforce_file_format=True)
    for name in ("fast", "pydicom"):
        ds = pydicom.dcmread(tmp_path / "in.dcm")
        Deidentifier(DeidOptions(clean_descriptors=True), KeyedMapper(KEY.encode())).deidentify(ds)
        if name == "fast":
            save_part10(ds, tmp_path / "fast.dcm")
        else:
            ds.save_as(tmp_path / "pydicom.dcm", enforce_file_format=True)
    assert (tmp_path / "fast.dcm").read_bytes() == (tmp_path / "pydicom.dcm").read_bytes()
    assert pydicom.dcmread(tmp_path / "fast.dcm").DeidentificationMethodCodeSequence[1].CodeValue == "113105"


def test_waveform_annotations_lose_their_text_or_are_cleaned():
    def with_annotation() -> Dataset:
        ds = _ct()
        annotation = Dataset()
        annotation.UnformattedTextValue = "Kettleby fainted at 10:02"
        annotation.ConceptNameCodeSequence = [Dataset()]
        annotation.ConceptNameCodeSequence[0].CodeValue = "109002"
        annotation.ConceptNameCodeSequence[0].CodingSchemeDesignator = "DCM"
        annotation.ConceptNameCodeSequence[0].CodeMeaning = "Annotation"
        annotation.ReferencedWaveformChannels = [1, 1]
        ds.WaveformAnnotationSequence = [annotation]
        return ds

    basic = _deidentify(with_annotation()).WaveformAnnotationSequence[0]
    assert basic.UnformattedTextValue == "ANONYMIZED" and basic.ConceptNameCodeSequence[0].CodeValue == "109002"
    cleaned = _deidentify(with_annotation(), clean_graphics=True).WaveformAnnotationSequence[0]
    assert cleaned.UnformattedTextValue == "*** fainted at 10:02"
    assert list(cleaned.ReferencedWaveformChannels) == [1, 1]


def test_safe_private_attributes_of_table_e3101_are_kept_only_with_the_option():
    """Entries of PS3.15 2020b Table E.3.10-1 that the earlier list lacked; a UID entry is never kept."""
    def with_private() -> Dataset:
        ds = _ct()
        ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True).add_new(0x0E, "FL", 1.5)  # Scale Slope
        ds.private_block(0x0199, "NQLeft", create=True).add_new(0x0B, "FL", 3.25)  # Left Hippocampus
        siemens = ds.private_block(0x0129, "SIEMENS Ultrasound SC2000", create=True)
        siemens.add_new(0x30, "CS", "RAW")  # Raw Data Object Type
        siemens.add_new(0x02, "UI", "1.2.3.4.5")  # Bookmark UID: on the table, left out (a source UID)
        return ds

    kept = _deidentify(with_private(), retain_safe_private=True)
    assert kept.private_block(0x2005, "Philips MR Imaging DD 001")[0x0E].value == 1.5
    assert kept.private_block(0x0199, "NQLeft")[0x0B].value == 3.25
    siemens = kept.private_block(0x0129, "SIEMENS Ultrasound SC2000")
    assert siemens[0x30].value == "RAW" and siemens.get_tag(0x02) not in kept
    removed = _deidentify(with_private())
    assert not any(tag >> 16 & 1 for tag in removed.keys())
