"""Landmarks, boxes and classification answers through the review workflow: SR-only submissions,
the annotators' agreement on them (distances, IoU, kappa) and the consensus SR.

Real DICOM throughout: a phantom CT series, TID 1500 SRs written by our SR writer, the
consensus SR checked by dciodvfy; on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy
from conftest import dciodvfy_errors
from DICOMAnnotatorLib.agreement.annotations import (
    box_iou_in_plane,
    compare_annotations,
    consensus_content,
    read_annotations,
)
from DICOMAnnotatorLib.agreement.raters import fleiss_kappa, krippendorff_alpha
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.protocols.loading import load_protocol
from DICOMAnnotatorLib.review import ReviewStore, migrations
from DICOMAnnotatorLib.review.url import resolve_store_url
from DICOMAnnotatorLib.sr.labels import read_labels
from DICOMAnnotatorLib.sr.marks import read_marks
from DICOMAnnotatorLib.sr.reader import sr_summary
from DICOMAnnotatorLib.sr.writer import build_sr, write_sr
from review_support import assert_refusal_recorded, dump_tables, write_header, write_seg, write_series

pytest_plugins = ["review_fixtures"]

VERTEBRAE = ("T12", "L1", "L2")
GENANT = "Genant fracture grade"


def _write_sr(folder: Path, series: ReferenceSeries, protocol, who: str, points: dict[str, list[float]],
              grades: dict[str, str], *, kind: str = "point") -> Path:
    """An annotator's SR of marks (``kind`` point: one point each; box: four corners) and answers about them."""
    marks_file, labels_file = folder / f"{who}-marks.json", folder / f"{who}-labels.json"
    marks_file.write_text(json.dumps({"marks": [{"kind": kind, "label": label, "points_mm": value}
                                                for label, value in points.items()]}))
    labels = [{"mark": n, "name": GENANT, "value": grades[label]} for n, label in enumerate(points) if label in grades]
    labels_file.write_text(json.dumps({"labels": labels}))
    marks = read_marks(marks_file, series, protocol)
    sr = build_sr(None, None, [], marks=marks, labels=read_labels(labels_file, [], marks, protocol),
                  creator=f"{who}^test", protocol_id=protocol.id, reference=series)
    return write_sr(sr, folder / f"{who}-sr.dcm")


def _centre(series: ReferenceSeries, k: int) -> np.ndarray:
    size = np.array(series.geometry.size)
    return series.geometry.index_to_lps(np.array([[size[0] / 2, size[1] / 2, k]]))[0]


@pytest.fixture
def vertebrae(tmp_path):
    """A series and three annotators' SRs: landmarks 0, 2 and 4 mm apart, Genant grades partly disputed."""
    folder, datasets, _ = write_series(tmp_path / "spine")
    series = ReferenceSeries.from_paths(folder)
    protocol = load_protocol("vertebral-fractures-ct")
    grades = {"a": {"T12": "None", "L1": "Mild", "L2": "Severe"},
              "b": {"T12": "None", "L1": "Moderate", "L2": "Severe"},
              "c": {"T12": "None", "L1": "Mild", "L2": "Moderate"}}
    srs = {}
    for shift, who in ((0.0, "a"), (2.0, "b"), (4.0, "c")):
        points = {label: [(_centre(series, k) + [shift, 0, 0]).tolist()] for k, label in enumerate(VERTEBRAE, start=2)}
        if who == "c":
            del points["L2"]  # c did not find L2, so answered nothing about it
        srs[who] = _write_sr(tmp_path, series, protocol, who, points, grades[who])
    return folder, datasets[0].SeriesInstanceUID, series, protocol, srs


def test_landmarks_and_answers_are_matched_measured_and_merged(vertebrae):
    _, _, series, protocol, srs = vertebrae
    result = compare_annotations([read_annotations(srs[w]) for w in "abc"], ["a", "b", "c"], threshold=0.5)
    report = result.to_json()
    by_label = {mark["label"]: mark for mark in report["marks"]}
    assert set(by_label) == set(VERTEBRAE) and by_label["L2"]["marked_by"] == [True, True, False]
    assert [pair["distance_mm"] for pair in by_label["L1"]["pairs"]] == pytest.approx([2.0, 4.0, 2.0], abs=1e-3)
    marks, labels = consensus_content(result, protocol)
    assert [m.label for m in marks] == list(VERTEBRAE) and all(m.kind == "point" for m in marks)
    assert np.allclose(marks[1].points_mm[0], _centre(series, 3) + [2.0, 0, 0])  # mean of 0, 2 and 4 mm
    assert marks[1].finding == protocol.structure("L1").type
    answers = {(marks[label.mark].label, label.value.meaning) for label in labels}
    assert answers == {("T12", "None"), ("L1", "Mild"), ("L2", "Severe")}, "majority of those who answered"
    # Agreement over the case's subjects: three vertebrae, one question
    grade = {entry["target"]: [a[2] if a else None for a in entry["answers"]] for entry in report["labels"]}
    assert grade == {"T12": ["None"] * 3, "L1": ["Mild", "Moderate", "Mild"], "L2": ["Severe", "Severe", None]}
    row = report["label_agreement"][0]
    assert row["question"] == protocol.structure(GENANT).type.as_list() and row["subjects"] == 3
    assert row["percent_agreement"] == pytest.approx(66.67)
    assert row["fleiss_kappa"] is None, "L2 was graded by two annotators, the others by three"
    assert row["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(list(grade.values())), abs=1e-4)


def test_boxes_are_compared_in_their_plane(tmp_path):
    folder, _, _ = write_series(tmp_path / "series")
    series = ReferenceSeries.from_paths(folder)
    corner = _centre(series, 4)
    square = np.array([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0], [0, 0, 0]], dtype=float)
    assert box_iou_in_plane(corner + square, corner + square + [5, 0, 0]) == pytest.approx(50 / 150)
    assert box_iou_in_plane(corner + square, corner + square + [0, 0, 3]) == 0.0, "another slice"
    protocol = load_protocol("breast-lesions-mg")
    srs = [_write_sr(tmp_path, series, protocol, who, {"Mass": (corner + square[:4] + [shift, 0, 0]).tolist()}, {},
                     kind="box") for who, shift in (("a", 0.0), ("b", 5.0))]
    result = compare_annotations([read_annotations(p) for p in srs], ["a", "b"])
    mark = result.to_json()["marks"][0]
    assert mark["kind"] == "box" and mark["pairs"] == [{"a": 0, "b": 1, "iou": pytest.approx(1 / 3, abs=1e-4)}]
    merged = consensus_content(result, protocol)[0][0]
    assert np.allclose(merged.points_mm[[0, 2]], [corner + [2.5, 0, 0], corner + [12.5, 10, 0]])


@pytest.fixture
def spine_project(cli, store_url, vertebrae):
    folder, series_uid, _, _, srs = vertebrae

    def ok(*args):
        status, out, err = cli(*args, "--store", store_url)
        assert status == 0, err
        return out

    ok("user", "add", "lead", "--role", "lead")
    for name in ("ann", "ben"):
        ok("user", "add", name, "--role", "annotator", "--user", "lead")
    ok("user", "add", "rad", "--role", "radiologist", "--user", "lead")
    ok("project", "create", "spine", "--protocol", "vertebral-fractures-ct", "--user", "lead")
    case = json.loads(ok("case", "add", "spine", str(folder), "--user", "lead", "--json"))["cases"][0]
    ok("case", "assign", "spine", "--user", "lead")
    return ok, case, series_uid, srs


def test_sr_only_submissions_go_through_consensus_review_and_sign_off(cli, store_url, spine_project, tmp_path):
    ok, case, series_uid, srs = spine_project

    def fails(*args, says):
        before = dump_tables(store_url)
        status, _, err = cli(*args, "--store", store_url)
        assert status == 1 and err.startswith("error: ") and says in err, err
        assert_refusal_recorded(store_url, before)

    seg = write_header(tmp_path / "not-wanted-seg.dcm", series_uid)
    fails("case", "submit", str(case), str(seg), str(srs["a"]), "--user", "ann", says="without a SEG")
    ok("case", "submit", str(case), str(srs["a"]), "--user", "ann")
    ok("case", "submit", str(case), str(srs["b"]), "--user", "ben")
    shown = json.loads(ok("case", "show", str(case), "--user", "lead", "--json"))
    assert [(s["seg"], s["sr_sha256"]) for s in shown["submissions"]] == [
        (None, hashlib.sha256(srs[name].read_bytes()).hexdigest()) for name in ("a", "b")]
    assert all(Path(s["sr"]).read_bytes() == srs[name].read_bytes()  # the store's own copies
               for s, name in zip(shown["submissions"], ("a", "b"), strict=True))
    fails("case", "consensus", str(case), "--consensus-seg", str(seg), "--user", "rad", says="SR submissions only")

    merged = json.loads(ok("case", "consensus", str(case), "--user", "rad", "--json"))
    assert merged["state"] == "in_review"  # by a musculoskeletal radiologist, as the protocol says
    recorded = json.loads(ok("case", "show", str(case), "--user", "lead", "--json"))["consensus"][0]
    assert recorded["seg"] is None and recorded["method"] == "majority"
    consensus_sr = Path(recorded["sr"])
    assert dciodvfy_errors(consensus_sr) == []
    summary = sr_summary(consensus_sr)
    assert sorted(r["tracking_id"] for r in summary["regions"]) == sorted(VERTEBRAE)
    agreement = recorded["agreement"]["annotations"]
    assert agreement["annotators"] == ["ann", "ben"]
    assert {m["label"]: m["pairs"][0]["distance_mm"] for m in agreement["marks"]} == \
        pytest.approx({"T12": 2.0, "L1": 2.0, "L2": 2.0}, abs=1e-3)
    # Two annotators, every vertebra graded by both: Cohen's = Fleiss' setting, kappa defined
    grades = [["None", "None"], ["Mild", "Moderate"], ["Severe", "Severe"]]
    status = json.loads(ok("project", "status", "spine", "--json"))["agreement"]
    assert status["labels"][0]["fleiss_kappa"] == pytest.approx(fleiss_kappa(grades), abs=1e-4)
    assert status["labels"][0]["percent_agreement"] == pytest.approx(66.67)
    assert [m["label"] for m in status["marks"]] == sorted(VERTEBRAE)

    ok("case", "review", str(case), "--decision", "approve", "--user", "rad")
    signature = json.loads(ok("case", "finalize", str(case), "--meaning", "Reference standard", "--user", "rad",
                              "--json"))
    assert signature["file"] == str(consensus_sr)
    assert ok("audit", "verify").strip()


def test_a_segmentation_protocol_still_needs_its_seg(cli, store_url, tmp_path):
    folder, datasets, _ = write_series(tmp_path / "liver")
    status = [cli(*args, "--store", store_url)[0] for args in (
        ("user", "add", "lead", "--role", "lead"),
        ("user", "add", "ann", "--role", "annotator", "--user", "lead"),
        ("project", "create", "liver", "--protocol", "liver-lesions-ct", "--annotators", "1", "--user", "lead"),
        ("case", "add", "liver", str(folder), "--user", "lead"))]
    assert status == [0, 0, 0, 0]
    sr = write_header(tmp_path / "sr.dcm", datasets[0].SeriesInstanceUID, modality="SR")
    code, _, err = cli("case", "submit", "1", str(sr), "--user", "ann", "--store", store_url)
    assert code == 1 and "takes a DICOM SEG" in err


def test_a_version_1_store_is_upgraded_keeping_its_rows(cli, store_url, monkeypatch, tmp_path):
    monkeypatch.setattr(migrations, "UPGRADES", [])
    folder, _, _ = write_series(tmp_path / "series")
    for args in (("user", "add", "lead", "--role", "lead"),
                 ("project", "create", "liver", "--protocol", "liver-lesions-ct", "--user", "lead"),
                 ("case", "add", "liver", str(folder), "--user", "lead")):
        assert cli(*args, "--store", store_url)[0] == 0
    engine = sqlalchemy.create_engine(resolve_store_url(store_url))
    with engine.begin() as conn:  # back to version 1's tables: SEG required, no output kind nor consensus SR
        # nor version 4's AI drafts and case openings, nor version 3's identity and case images
        for table in ("draft_corrections", "drafts", "case_opens", "sessions", "case_images"):
            conn.execute(sqlalchemy.text(f"DROP TABLE {table}"))
        for column in ("full_name", "password_hash", "failed_logins", "locked_until"):
            conn.execute(sqlalchemy.text(f"ALTER TABLE users DROP COLUMN {column}"))
        conn.execute(sqlalchemy.text("ALTER TABLE signatures DROP COLUMN printed_name"))
        conn.execute(sqlalchemy.text("DROP TABLE submissions"))
        for column in ("output_kind", "sr_path", "sr_sha256"):
            conn.execute(sqlalchemy.text(f"ALTER TABLE consensus DROP COLUMN {column}"))
        conn.execute(sqlalchemy.text(
            "CREATE TABLE submissions (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases (id), "
            "user_id INTEGER NOT NULL REFERENCES users (id), "
            "round INTEGER NOT NULL, seg_path TEXT NOT NULL, seg_sha256 VARCHAR(64) NOT NULL, sr_path TEXT, "
            "sr_sha256 VARCHAR(64), submitted_at VARCHAR(32) NOT NULL, "
            "CONSTRAINT uq_submission_round UNIQUE (case_id, user_id, round))"))
        conn.execute(sqlalchemy.text(
            "INSERT INTO submissions VALUES (7, 1, 1, 1, '/a/seg.dcm', :h, NULL, NULL, '2026-11-25T00:00:00Z')"),
            {"h": "0" * 64})
    monkeypatch.undo()
    with ReviewStore(store_url) as store, store.read() as conn:
        assert migrations.stored_version(conn) == migrations.current_version() == 4
        assert {"drafts", "draft_corrections", "case_opens"} <= set(sqlalchemy.inspect(conn).get_table_names())
        assert "opened_at" in {c["name"] for c in sqlalchemy.inspect(conn).get_columns("submissions")}
        assert {"password_hash", "failed_logins", "locked_until"} <= {
            c["name"] for c in sqlalchemy.inspect(conn).get_columns("users")}
        assert [tuple(row) for row in conn.execute(sqlalchemy.text("SELECT id, seg_path FROM submissions"))] == \
            [(7, "/a/seg.dcm")]
        columns = {c["name"]: c for c in sqlalchemy.inspect(conn).get_columns("submissions")}
        assert columns["seg_path"]["nullable"] and {"output_kind", "sr_path", "sr_sha256"} <= {
            c["name"] for c in sqlalchemy.inspect(conn).get_columns("consensus")}
    with engine.begin() as conn, pytest.raises(sqlalchemy.exc.IntegrityError):
        conn.execute(sqlalchemy.text(
            "INSERT INTO submissions (case_id, user_id, round, submitted_at) VALUES (1, 1, 2, 'now')"))
    engine.dispose()


def test_srs_that_are_no_measurement_report_do_not_stop_a_seg_consensus(cli, store_url, tmp_path, caplog):
    folder, datasets, labels = write_series(tmp_path / "liver")
    uid = datasets[0].SeriesInstanceUID
    for args in (("user", "add", "lead", "--role", "lead"),
                 ("user", "add", "rev", "--role", "reviewer", "--user", "lead"),
                 ("user", "add", "ann", "--role", "annotator", "--user", "lead"),
                 ("user", "add", "ben", "--role", "annotator", "--user", "lead"),
                 ("project", "create", "liver", "--protocol", "liver-lesions-ct", "--user", "lead"),
                 ("case", "add", "liver", str(folder), "--user", "lead"),
                 ("case", "assign", "liver", "--user", "lead")):
        assert cli(*args, "--store", store_url)[0] == 0
    for who in ("ann", "ben"):
        seg = write_seg(datasets, labels == 1, tmp_path / f"{who}.dcm", f"{who}^test")
        sr = write_header(tmp_path / f"{who}-sr.dcm", uid, modality="SR")  # an SR, but no TID 1500 report
        assert cli("case", "submit", "1", str(seg), str(sr), "--user", who, "--store", store_url)[0] == 0
    assert cli("case", "consensus", "1", "--user", "rev", "--store", store_url)[0] == 0
    assert "Case 1: the annotators' SRs are not compared" in caplog.text
    recorded = json.loads(cli("case", "show", "1", "--user", "rev", "--json", "--store", store_url)[1])["consensus"][0]
    assert recorded["seg"] and recorded["sr"] is None and "annotations" not in recorded["agreement"]


def test_the_agreement_command_compares_srs_too(cli, vertebrae):
    *_, srs = vertebrae
    status, out, err = cli("agreement", *(str(srs[w]) for w in "abc"), "--json")
    assert status == 0, err
    report = json.loads(out)
    assert report["inputs"] == [str(srs[w]) for w in "abc"]
    by_label = {mark["label"]: mark for mark in report["annotations"]["marks"]}
    assert [p["distance_mm"] for p in by_label["T12"]["pairs"]] == pytest.approx([2.0, 4.0, 2.0], abs=1e-3)
    assert report["annotations"]["label_agreement"][0]["subjects"] == 3
    status, _, err = cli("agreement", str(srs["a"]))
    assert status == 1 and err.startswith("error: Give at least 2 SR files")


def test_the_consensus_command_merges_srs_on_their_series(cli, vertebrae, tmp_path):
    folder, _, series, protocol, srs = vertebrae
    inputs = [str(srs[w]) for w in "abc"]
    status, _, err = cli("consensus", *inputs, "-o", str(tmp_path / "merged.dcm"))
    assert status == 1 and "give --series" in err
    status, out, err = cli("consensus", *inputs, "--series", str(folder), "-o", str(tmp_path / "merged.dcm"), "--json")
    assert status == 0, err
    assert json.loads(out)["inputs"] == inputs and dciodvfy_errors(tmp_path / "merged.dcm") == []
    merged = sr_summary(tmp_path / "merged.dcm")
    assert sorted(r["tracking_id"] for r in merged["regions"]) == sorted(VERTEBRAE)
    l1 = next(r for r in merged["regions"] if r["tracking_id"] == "L1")
    assert np.allclose(l1["points_mm"][0], _centre(series, 3) + [2.0, 0, 0], atol=1e-3)
