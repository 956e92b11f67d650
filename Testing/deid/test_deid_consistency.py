"""Keyed consistency: same key, same UIDs (across runs, folders and worker counts); dates per patient."""

from __future__ import annotations

import csv
from datetime import date

import pydicom
import pytest
from canary_study import segmentation
from deid_support import KEY, outputs_by_modality, run_deidentify
from DICOMAnnotatorLib.cli.main import main
from DICOMAnnotatorLib.imaging import phantoms


def _write_patient(folder, patient_id: str, study_date: str, slices: int = 3) -> list[pydicom.Dataset]:
    geometry = phantoms.phantom_geometry(size=(16, 16, slices))
    hu, _ = phantoms.phantom_volume(geometry)
    datasets = phantoms.ct_datasets(geometry, hu, patient_name=f"Doe^{patient_id}", patient_id=patient_id)
    for ds in datasets:
        ds.StudyDate = ds.ContentDate = study_date
        ds.PatientBirthDate = "19600101"
    phantoms.write_datasets(datasets, folder)
    return datasets


@pytest.fixture
def ct_and_seg(tmp_path):
    cts = _write_patient(tmp_path / "in" / "ct", "P1", "20230517", slices=4)
    seg = segmentation(cts)
    (tmp_path / "in" / "seg").mkdir()
    seg.save_as(tmp_path / "in" / "seg" / "seg.dcm", enforce_file_format=True)
    return tmp_path / "in"


def _tree(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.dcm"))}


def test_same_key_gives_identical_outputs_across_runs_and_worker_counts(ct_and_seg, tmp_path):
    run = [run_deidentify(ct_and_seg, tmp_path / name, "--pixels", "keep", "--jobs", jobs)
           for name, jobs in (("a", "1"), ("b", "2"))]
    assert [status for status, _ in run] == [0, 0]
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    status, _ = run_deidentify(ct_and_seg, tmp_path / "c", "--pixels", "keep", key="another-secret-key-0001")
    assert status == 0
    first, other = set(_tree(tmp_path / "a")), set(_tree(tmp_path / "c"))
    assert first and not first & other, "another key gives other UIDs"


def test_a_seg_deidentified_in_a_separate_run_still_references_its_images(ct_and_seg, tmp_path):
    assert run_deidentify(ct_and_seg / "ct", tmp_path / "ct-out", "--pixels", "keep")[0] == 0
    assert run_deidentify(ct_and_seg / "seg", tmp_path / "seg-out", "--pixels", "keep")[0] == 0
    cts = outputs_by_modality(tmp_path / "ct-out")["CT"]
    seg = outputs_by_modality(tmp_path / "seg-out")["SEG"][0]
    referenced = {item.ReferencedSOPInstanceUID
                  for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == {ds.SOPInstanceUID for ds in cts}
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == cts[0].SeriesInstanceUID
    assert seg.StudyInstanceUID == cts[0].StudyInstanceUID and seg.PatientID == cts[0].PatientID


def test_shifted_dates_keep_each_patients_intervals(tmp_path):
    source = tmp_path / "in"
    studies = {("A", "20230517"), ("A", "20230801"), ("B", "20230517"), ("B", "20240229")}
    for n, (patient, day) in enumerate(sorted(studies)):
        _write_patient(source / f"s{n}", patient, day, slices=1)
    status, report = run_deidentify(source, tmp_path / "out", "--shift-dates", "--pixels", "keep")
    assert status == 0
    shifted: dict[str, list[date]] = {}
    for ds in outputs_by_modality(tmp_path / "out")["CT"]:
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
        assert ds.ContentDate == ds.StudyDate and not ds.get("PatientBirthDate")
        assert ds.StudyDate not in {day for _, day in studies}
        shifted.setdefault(ds.PatientID, []).append(date.fromisoformat(
            f"{ds.StudyDate[:4]}-{ds.StudyDate[4:6]}-{ds.StudyDate[6:]}"))
    intervals = sorted((max(days) - min(days)).days for days in shifted.values())
    assert intervals == sorted([(date(2023, 8, 1) - date(2023, 5, 17)).days,
                                (date(2024, 2, 29) - date(2023, 5, 17)).days])
    assert len({min(days) for days in shifted.values()}) == 2, "each patient has an own offset"


def test_the_mapping_table_lists_each_replacement_and_stays_out_of_the_output(ct_and_seg, tmp_path, capsys):
    mapping = tmp_path / "mapping.csv"
    status, _ = run_deidentify(ct_and_seg, tmp_path / "out", "--pixels", "keep", "--mapping", str(mapping))
    assert status == 0
    rows = list(csv.DictReader(mapping.open()))
    by_original = {(r["kind"], r["original"]): r["replacement"] for r in rows}
    for ds in outputs_by_modality(tmp_path / "out")["CT"]:
        assert ds.SOPInstanceUID in by_original.values()
    assert by_original[("patient_id", "P1")].startswith("ANON")
    inside = tmp_path / "out2" / "mapping.csv"
    argv = ["deidentify", str(ct_and_seg), str(tmp_path / "out2"), "--key", KEY, "--mapping", str(inside)]
    assert main(argv) == 1
    assert "holds identifiers" in capsys.readouterr().err and not (tmp_path / "out2").exists()
