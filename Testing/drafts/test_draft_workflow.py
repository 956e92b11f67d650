"""Annotators start from the AI draft; the store records at each submission how they changed it (Dice, HD95,
voxels added and removed, time from opening to submitting), equal to an independent computation; the queue can
put the cases the model was least sure of first. On SQLite and PostgreSQL, and through a real team server.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
from DICOMAnnotatorLib.imaging import write_image
from draft_support import (
    TOTALSEGMENTATOR_CLASSES,
    independent_figures,
    phantom_series,
    softmax,
    write_protocol,
    write_totalsegmentator_output,
)
from review_support import dump_tables
from scipy import ndimage

pytest_plugins = ["review_fixtures"]


def _setup(cli, url, tmp_path, cases: int = 1, *, assign: bool = True) -> list:
    """Lead, annotators ann and ben, a project on the test protocol with ``cases`` phantom cases."""
    protocol = write_protocol(tmp_path / "protocol.json")
    made = [phantom_series(tmp_path / f"series-{n}") for n in range(cases)]
    steps = [("user", "add", "lead", "--role", "lead"),
             ("user", "add", "ann", "--role", "annotator", "--user", "lead"),
             ("user", "add", "ben", "--role", "annotator", "--user", "lead"),
             ("project", "create", "abdomen", "--protocol", protocol, "--user", "lead"),
             ("case", "add", "abdomen", *(tmp_path / f"series-{n}" for n in range(cases)), "--user", "lead")]
    if assign:
        steps.append(("case", "assign", "abdomen", "--annotator", "ann", "--user", "lead"))
    for args in steps:
        status, _, err = cli(*args, "--store", url)
        assert status == 0, err
    return made


def _human_seg(cli, series, labels, path):
    """What the annotator submits: the label map (1 liver, 2 lesion, 3 vertebra) as a SEG of the test protocol."""
    write_image(labels.astype(np.uint8), series.geometry, path.with_suffix(".nii.gz"))
    status, _, err = cli("seg", "export", series.slices[0].path.parent, path.with_suffix(".nii.gz"), "-o", path,
                         "--protocol", path.parent / "protocol.json")
    assert status == 0, err
    return path


def test_annotators_start_from_the_draft_and_their_corrections_are_recorded(cli, store_url, tmp_path):
    ((series, _, labels),) = _setup(cli, store_url, tmp_path)
    spacing_kji = tuple(reversed(series.geometry.spacing))
    liver = np.isin(labels, (1, 2))
    drafted_liver = ndimage.binary_dilation(liver, structure=ndimage.generate_binary_structure(3, 1))
    drafted_vertebra = ndimage.binary_erosion(labels == 3)
    ts = np.where(drafted_liver, 5, 0).astype(np.uint8)
    ts[drafted_vertebra] = 32
    output = write_totalsegmentator_output(tmp_path / "segmentations.nii", ts, series, TOTALSEGMENTATOR_CLASSES)
    (tmp_path / "labels.json").write_text(json.dumps({"vertebrae_L1": "Vertebra"}))
    status, _, err = cli("draft", "import", "1", output, "--algorithm", "TotalSegmentator", "--algorithm-version",
                         "2.4.0", "--labels", tmp_path / "labels.json", "--drop-unmapped", "--store", store_url,
                         "--user", "lead")
    assert status == 0, err

    # The annotator's fetch lists the draft (role "draft", with its algorithm) and is their opening of the case.
    status, out, err = cli("case", "fetch", "1", "-o", tmp_path / "fetched", "--json", "--user", "ann",
                           "--store", store_url)
    assert status == 0, err
    (draft,) = [f for f in json.loads(out)["files"] if f["role"] == "draft"]
    assert (draft["algorithm"], draft["algorithm_version"]) == ("TotalSegmentator", "2.4.0")

    # They correct it: the liver without its lesion, which they draw as a lesion, and the whole vertebra.
    human = _human_seg(cli, series, labels, tmp_path / "ann.seg.dcm")
    status, _, err = cli("case", "submit", "1", human, "--user", "ann", "--store", store_url)
    assert status == 0, err

    status, out, err = cli("project", "status", "abdomen", "--json", "--store", store_url)
    assert status == 0, err
    recorded = {s["segment"]: s for s in json.loads(out)["drafts"]["segments"]}
    assert sorted(recorded) == ["Liver", "Vertebra"]  # the draft's structures only
    at = {row[3]: datetime.fromisoformat(row[1]) for row in dump_tables(store_url)["audit_log"]
          if row[3] in ("case.open", "case.submit")}
    seconds = (at["case.submit"] - at["case.open"]).total_seconds()
    for structure, drafted, kept in (("Liver", drafted_liver, labels == 1),
                                     ("Vertebra", drafted_vertebra, labels == 3)):
        expected = independent_figures(drafted, kept, spacing_kji)
        entry = recorded[structure]
        assert (entry["cases"], entry["submissions"]) == (1, 1)
        assert entry["mean_dice"] == pytest.approx(expected["dice"], abs=5e-5)
        assert entry["mean_hd95_mm"] == pytest.approx(expected["hd95_mm"], abs=5e-5)
        assert entry["voxels_added"] == expected["voxels_added"]
        assert entry["voxels_removed"] == expected["voxels_removed"]
        assert entry["mean_seconds_open_to_submit"] == pytest.approx(seconds, abs=1e-3)
    assert recorded["Liver"]["voxels_removed"] > 0 and recorded["Vertebra"]["voxels_added"] > 0

    # `case show` lists the same figures with the submission they were measured on.
    status, out, err = cli("case", "show", "1", "--json", "--user", "lead", "--store", store_url)
    (submission,) = json.loads(out)["submissions"]
    assert datetime.fromisoformat(submission["opened_at"]) == at["case.open"]
    shown = {c["segment"]: c for c in submission["corrections"]}
    for structure, entry in recorded.items():
        assert shown[structure]["dice"] == pytest.approx(entry["mean_dice"], abs=5e-5)
        assert (shown[structure]["voxels_added"], shown[structure]["voxels_removed"]) == (entry["voxels_added"],
                                                                                          entry["voxels_removed"])


def test_a_version_3_store_is_upgraded_and_takes_drafts(cli, store_url, monkeypatch, tmp_path):
    """A store written before AI drafts (schema version 3, a submission in it) opens at version 4 with its rows kept,
    and drafts, openings and corrections work on it."""
    import sqlalchemy
    from DICOMAnnotatorLib.review import ReviewStore, migrations, resolve_store_url

    monkeypatch.setattr(migrations, "UPGRADES", migrations.UPGRADES[:2])  # this program at version 3
    made = _setup(cli, store_url, tmp_path, cases=2)
    series, _, labels = made[0]
    assert cli("case", "submit", "1", _human_seg(cli, series, labels, tmp_path / "ann-1.seg.dcm"), "--user", "ann",
               "--store", store_url)[0] == 0
    engine = sqlalchemy.create_engine(resolve_store_url(store_url))
    with engine.begin() as conn:  # back to version 3's tables: no AI drafts, corrections, openings
        for table in ("draft_corrections", "drafts", "case_opens"):
            conn.execute(sqlalchemy.text(f"DROP TABLE {table}"))
        conn.execute(sqlalchemy.text("ALTER TABLE submissions DROP COLUMN opened_at"))
    listed = "SELECT id, case_id, seg_sha256, submitted_at FROM submissions"
    with engine.connect() as conn:
        submitted = conn.execute(sqlalchemy.text(listed)).all()
    monkeypatch.undo()

    with ReviewStore(store_url) as store, store.read() as conn:
        assert migrations.stored_version(conn) == migrations.current_version() == 4
        assert {"drafts", "draft_corrections", "case_opens"} <= set(sqlalchemy.inspect(conn).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text(listed)).all() == submitted
        assert conn.execute(sqlalchemy.text("SELECT opened_at FROM submissions")).all() == [(None,)]
    engine.dispose()
    upgrades = [row for row in dump_tables(store_url)["audit_log"] if row[3] == "store.upgrade"]
    assert [row[6] for row in upgrades] == ["AI drafts, their corrections, case openings"]

    # The upgraded store takes a draft of case 2; the annotator's submission is measured against it.
    series, _, labels = made[1]
    output = write_totalsegmentator_output(tmp_path / "segmentations.nii", np.where(labels == 1, 5, 0).astype(
        np.uint8), series, TOTALSEGMENTATOR_CLASSES)
    assert cli("draft", "import", "2", output, "--algorithm", "TotalSegmentator", "--algorithm-version", "2",
               "--drop-unmapped", "--store", store_url, "--user", "lead")[0] == 0
    assert cli("case", "submit", "2", _human_seg(cli, series, labels, tmp_path / "ann-2.seg.dcm"), "--user", "ann",
               "--store", store_url)[0] == 0
    status, out, _ = cli("project", "status", "abdomen", "--json", "--store", store_url)
    (liver,) = json.loads(out)["drafts"]["segments"]
    assert (liver["segment"], liver["cases"], liver["mean_dice"]) == ("Liver", 1, 1.0)


def _probability_draft(cli, url, case: int, series, labels, sharpness: float, folder) -> float:
    """An nnU-Net .npz of the liver, as sure of itself as ``sharpness`` (its logits' scale) says, imported; returns
    the draft's uncertainty."""
    logits = np.stack([np.zeros(labels.shape), sharpness * (2.0 * np.isin(labels, (1, 2)) - 1)])
    np.savez_compressed(folder / f"case-{case}.npz", probabilities=softmax(logits))
    (folder / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "liver": 1},
                                                     "channel_names": {"0": "CT"}, "file_ending": ".nii.gz"}))
    status, out, err = cli("draft", "import", str(case), folder / f"case-{case}.npz", "--algorithm", "nnUNet",
                           "--algorithm-version", "2", "--label-table", folder / "dataset.json", "--json",
                           "--store", url, "--user", "lead")
    assert status == 0, err
    return json.loads(out)["uncertainty"]["mean_entropy_bits"]


def test_the_queue_can_put_the_least_certain_drafts_first(cli, store_url, tmp_path):
    made = _setup(cli, store_url, tmp_path, cases=4, assign=False)
    uncertainty = {case: _probability_draft(cli, store_url, case, made[case - 1][0], made[case - 1][2], sharpness,
                                            tmp_path) for case, sharpness in ((2, 4.0), (3, 0.6), (4, 1.5))}
    hardest_first = sorted(uncertainty, key=uncertainty.get, reverse=True)
    assert hardest_first == [3, 4, 2]

    def next_case(user, *options):
        status, out, err = cli("case", "next", "abdomen", "--user", user, "--json", "--store", store_url, *options)
        assert status == 0, err
        return json.loads(out)["case"]

    # Claimed in the model's order of doubt; the case without a probability draft comes last.
    claimed = []
    for _ in range(4):
        case = next_case("ann", "--claim", "--order", "uncertainty")
        claimed.append(case)
        human = _human_seg(cli, made[case - 1][0], made[case - 1][2], tmp_path / f"ann-{case}.seg.dcm")
        assert cli("case", "submit", str(case), human, "--user", "ann", "--store", store_url)[0] == 0
    assert claimed == [*hardest_first, 1]
    status, _, err = cli("case", "next", "abdomen", "--user", "ben", "--claim", "--order", "sideways",
                         "--store", store_url)
    assert status == 2 and "invalid choice" in err


def test_the_default_order_ignores_uncertainty(cli, store_url, tmp_path):
    made = _setup(cli, store_url, tmp_path, cases=3)
    _probability_draft(cli, store_url, 3, made[2][0], made[2][2], 0.6, tmp_path)
    status, out, _ = cli("case", "next", "abdomen", "--user", "ann", "--json", "--store", store_url)
    assert status == 0 and json.loads(out)["case"] == 1
    status, out, _ = cli("case", "next", "abdomen", "--user", "ann", "--json", "--order", "uncertainty",
                         "--store", store_url)
    assert status == 0 and json.loads(out)["case"] == 3


def test_drafts_through_a_team_server(tmp_path):
    """The same commands against a real team server: the model's output and label mapping are sent, the server
    makes and keeps the draft (and nothing else of the upload), the annotator fetches it, and `evaluate` runs there."""
    from team_server import TeamServer, Workstation

    server = TeamServer(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
    server.add_first_lead("lead", "lead-correct horse battery")
    server.start()
    try:
        lead, ann, rad = (Workstation(tmp_path / name, server) for name in ("lead-ws", "ann-ws", "rad-ws"))
        lead.login("lead", "lead-correct horse battery")
        for name, role in (("ann", "annotator"), ("rad", "radiologist")):
            lead.ok("user", "add", name, "--role", role, "--password-stdin", stdin=f"{name}-correct horse battery\n")
        protocol = write_protocol(lead.folder / "protocol.json")
        series, _, labels = phantom_series(lead.folder / "series")
        lead.ok("project", "create", "abdomen", "--protocol", protocol)
        lead.ok("case", "add", "abdomen", lead.folder / "series")
        lead.ok("case", "assign", "abdomen")
        ts = np.where(np.isin(labels, (1, 2)), 5, np.where(labels == 3, 32, 0)).astype(np.uint8)
        output = write_totalsegmentator_output(lead.folder / "segmentations.nii", ts, series, TOTALSEGMENTATOR_CLASSES)
        (lead.folder / "labels.json").write_text(json.dumps({"vertebrae_L1": "Vertebra"}))
        imported = json.loads(lead.ok("draft", "import", "1", output, "--algorithm", "TotalSegmentator",
                                      "--algorithm-version", "2.4.0", "--labels", lead.folder / "labels.json",
                                      "--drop-unmapped", "--json"))
        assert imported["source"]["file"] == "segmentations.nii"
        assert [e["structure"] for e in imported["structures"]] == ["Liver", "Vertebra"]
        kept = sorted(p.name for p in (server.files / "sha256").rglob("*") if p.is_file())
        assert imported["seg_sha256"] in kept and not any(server.files.glob("incoming/*")), "the upload was kept"

        ann.login("ann", "ann-correct horse battery")
        fetched = json.loads(ann.ok("case", "fetch", "1", "-o", ann.folder / "case", "--json"))
        assert [f["role"] for f in fetched["files"]] == ["draft"]
        images = ann.folder / "case" / "images"
        write_image(labels.astype(np.uint8), series.geometry, ann.folder / "ann.nii.gz")
        ann.ok("seg", "export", images, ann.folder / "ann.nii.gz", "-o", ann.folder / "ann.dcm", "--protocol",
               protocol)
        ann.ok("case", "submit", "1", ann.folder / "ann.dcm")
        rad.login("rad", "rad-correct horse battery")
        rad.ok("case", "finalize", "1", "--meaning", "Reference standard", "--password-stdin",
               stdin="rad-correct horse battery\n")

        status = json.loads(lead.ok("project", "status", "abdomen", "--json"))["drafts"]["segments"]
        assert {s["segment"] for s in status} == {"Liver", "Vertebra"} and all(s["cases"] == 1 for s in status)
        evaluation = json.loads(lead.ok("evaluate", "abdomen", "--algorithm", "TotalSegmentator", "--json"))
        liver = {s["segment"]: s for s in evaluation["cases"][0]["segments"]}["Liver"]
        assert evaluation["cases_evaluated"] == 1 and liver["voxels_added"] == 0
        assert liver["voxels_removed"] == int((labels == 2).sum()), "TotalSegmentator's liver holds the lesion"
    finally:
        server.stop()
