"""A project of final cases made through the real workflow, for the dataset export and card tests.

Phantom CT series for a number of patients (several studies each; sex, age, scanner and slice
thickness varying), de-identified with the Basic Profile (patient characteristics kept), added as
cases of a liver-lesions-ct project; two annotators each submit a SEG and an SR answering the
lesion-type question, the consensus is computed in the store (STAPLE, with its agreement), a
reviewer and a radiologist approve (some cases after a change request) and the radiologist signs.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from DICOMAnnotatorLib.deid import DeidOptions, deidentify_tree
from DICOMAnnotatorLib.imaging import ReferenceSeries, Segmentation, ct_datasets, phantom_geometry, phantom_volume
from DICOMAnnotatorLib.imaging.phantoms import write_datasets
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review import LocalService, ReviewStore
from DICOMAnnotatorLib.seg import write_seg
from DICOMAnnotatorLib.sr import ClassificationLabel, build_sr, write_sr
from scipy import ndimage

PROTOCOL = "liver-lesions-ct"
PROJECT = "liver"
ANSWERS = ("Cyst", "Neoplasm", "Abscess")
SCANNERS = (("Acme Medical", "Helix 64", 2.5), ("Globex", "Vista 128", 1.25))
KEY = b"dataset tests key - not a secret"


@dataclass(frozen=True)
class BuiltProject:
    url: str
    folder: Path
    cases: list[int]
    answers: dict[int, str]  # case -> lesion type answered by both annotators
    patient_of_case: dict[int, str]  # case -> source patient ID (before de-identification)


def patient_plan(cases: int, patients: int) -> list[int]:
    """Which patient each case belongs to: every patient has at least one case, the first ones more."""
    return [n % patients for n in range(cases)]


def build_project(folder: Path, *, cases: int = 30, patients: int = 12, changes_requested: int = 2) -> BuiltProject:
    raw, deidentified = folder / "raw", folder / "images"
    plan = patient_plan(cases, patients)
    studies = [_write_case_series(raw / f"case{n:02d}", patient) for n, patient in enumerate(plan)]
    summary = deidentify_tree(raw, deidentified, DeidOptions(retain_patient_characteristics=True), KEY, jobs=1,
                              record_mapping=True)
    assert summary.complete, summary.problems
    new_uid = {original: new for (kind, original), new in summary.mapping.items() if kind == "uid"}
    by_source = {n: next((deidentified / new_uid[study]).iterdir()) for n, study in enumerate(studies)}
    url = f"sqlite:///{folder / 'review.db'}"
    protocol = load_protocol(PROTOCOL)
    with ReviewStore(url) as store:
        lead = LocalService(store, None)
        lead.add_user("lead", ["lead"])
        lead = LocalService(store, "lead")
        for name, role in (("ann1", "annotator"), ("ann2", "annotator"), ("rev", "reviewer"), ("rad", "radiologist")):
            lead.add_user(name, [role], full_name=f"{name.title()}^Test")
        lead.create_project(PROJECT, protocol, annotators=2)
        ids = lead.add_cases(PROJECT, [str(by_source[n]) for n in range(cases)])["cases"]
        lead.assign(PROJECT)
    answers = {case: ANSWERS[n % len(ANSWERS)] for n, case in enumerate(ids)}
    # Cases are independent: two processes work on them at once, as a team would (the store serialises writers).
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_annotate, *zip(*[(url, case, by_source[n], folder / "work" / f"case{case}", answers[case], n,
                                         2 if n < changes_requested else 1) for n, case in enumerate(ids)],
                                      strict=True)))
    return BuiltProject(url, folder, ids, answers, {case: f"PAT-{plan[n]:02d}" for n, case in enumerate(ids)})


def _write_case_series(folder: Path, patient: int) -> str:
    """One study of one CT series of ``patient``; its Study Instance UID."""
    manufacturer, model, thickness = SCANNERS[patient % 2]
    geometry = phantom_geometry(size=(32, 24, 8), spacing=(0.8, 0.8, thickness))
    hu, _ = phantom_volume(geometry)
    datasets = ct_datasets(geometry, hu, patient_name=f"Patient^{patient:02d}", patient_id=f"PAT-{patient:02d}")
    for ds in datasets:
        ds.PatientSex = "F" if patient % 3 == 0 else "M"
        ds.PatientAge = f"{25 + 5 * patient:03d}Y"
        ds.Manufacturer, ds.ManufacturerModelName = manufacturer, model
    write_datasets(datasets, folder)
    return str(datasets[0].StudyInstanceUID)


def _annotate(url: str, case: int, images: Path, work: Path, answer: str, n: int, rounds: int) -> None:
    """Case ``case`` from its submissions to its signature; annotators answer in SRs of labels only (the
    consensus SR measures the merged segments)."""
    protocol = load_protocol(PROTOCOL)
    series = ReferenceSeries.from_paths(images)
    _hu, labels = phantom_volume(series.geometry)
    labels[labels == 3] = 0  # the vertebra is not a structure of the protocol
    question = protocol.structure("Liver lesion type")
    value = next(v for v in question.values if v.meaning == answer)
    with ReviewStore(url) as store:
        for round_number in range(1, rounds + 1):
            for who, grow in (("ann1", 0), ("ann2", 1 + n % 2)):
                drawn = labels.copy()
                if grow:  # the second annotator draws the liver a little larger, by a case-dependent margin
                    drawn[ndimage.binary_dilation(labels == 1, iterations=grow) & (labels != 2)] = 1
                segmentation = Segmentation.from_labelmap(series.geometry, drawn.astype(np.uint8),
                                                          protocol.segment_descriptions(), reference=series,
                                                          author=f"{who}^Test")
                seg = write_seg(segmentation, work / f"r{round_number}-{who}-seg.dcm")
                sr = write_sr(build_sr(None, None, [], labels=[ClassificationLabel(question.type, value)],
                                       reference=series, creator=f"{who}^Test", protocol_id=protocol.id),
                              work / f"r{round_number}-{who}-sr.dcm")
                LocalService(store, who).submit(case, seg, sr)
            LocalService(store, "rev").consensus(case, method="staple")
            if round_number < rounds:
                LocalService(store, "rev").review(case, "changes", "Liver margin too generous")
        LocalService(store, "rev").review(case, "approve")
        LocalService(store, "rad").review(case, "approve", "Checked")
        LocalService(store, "rad").finalize(case, "Approved as reference standard")
