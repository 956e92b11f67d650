"""The whole review workflow through the command line, on SQLite and on a real PostgreSQL server.

Real DICOM: phantom CT series on disk, SEGs written by highdicom. Two annotators per case and
two review tiers (reviewer, then radiologist) as the shipped liver protocol says.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from DICOMAnnotatorLib.seg.info import seg_summary
from review_support import assert_refusal_recorded, dump_tables, write_header, write_seg, write_series

pytest_plugins = ["review_fixtures"]

PROTOCOL = "liver-lesions-ct"


@pytest.fixture
def team(cli, store_url, tmp_path):
    """A store with a lead, three annotators, a reviewer who also annotates, a reviewer and a radiologist,
    a project on the liver protocol, and two cases (the second more urgent) with real SEGs on disk."""
    def ok(*args):
        status, out, err = cli(*args, "--store", store_url)
        assert status == 0, err
        return out

    ok("user", "add", "lead", "--role", "lead")
    for name in ("ann", "ben", "cat"):
        ok("user", "add", name, "--role", "annotator", "--user", "lead")
    ok("user", "add", "dora", "--role", "annotator", "--role", "reviewer", "--user", "lead")
    ok("user", "add", "rev", "--role", "reviewer", "--user", "lead")
    ok("user", "add", "rad", "--role", "radiologist", "--user", "lead")
    created = json.loads(ok("project", "create", "liver", "--protocol", PROTOCOL, "--user", "lead", "--json"))
    assert created["annotators_per_case"] == 2
    assert [t["role"] for t in created["review_tiers"]] == ["reviewer", "radiologist"]
    files = {}
    for name in ("routine", "urgent"):
        folder, datasets, labels = write_series(tmp_path / name)
        files[name] = {"folder": folder, "series": datasets[0].SeriesInstanceUID}
        for who, mask in (("a", labels == 1), ("b", labels >= 1), ("consensus", labels == 1)):
            files[name][who] = write_seg(datasets, mask, tmp_path / f"{name}-{who}.dcm", f"{who}^test")
    routine = json.loads(ok("case", "add", "liver", files["routine"]["folder"], "--user", "lead", "--json"))
    urgent = json.loads(ok("case", "add", "liver", files["urgent"]["folder"], "--priority", "5", "--user", "lead",
                           "--json"))
    files["routine"]["case"], files["urgent"]["case"] = routine["cases"][0], urgent["cases"][0]
    return ok, files


def test_whole_workflow(cli, store_url, team, tmp_path):
    ok, files = team
    urgent, routine = files["urgent"], files["routine"]

    def fails(*args, says, refusal=True):
        before = dump_tables(store_url)
        status, out, err = cli(*args, "--store", store_url)
        assert status == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert says in err, err
        if refusal:
            assert_refusal_recorded(store_url, before)
        else:  # nothing to do is no refusal: nothing is recorded
            assert dump_tables(store_url) == before

    # Assignment: balanced by load, urgent case first, never beyond 2 annotators per case.
    assigned = json.loads(ok("case", "assign", "liver", "--annotator", "ann", "--annotator", "ben",
                             "--annotator", "dora", "--user", "lead", "--json"))["assignments"]
    assert [(a["case"], a["user"]) for a in assigned] == [
        (urgent["case"], "ann"), (urgent["case"], "ben"), (routine["case"], "dora"), (routine["case"], "ann")]
    fails("case", "assign", "liver", "--case", urgent["case"], "--user", "lead", says="already has its 2 annotator")
    fails("case", "assign", "liver", "--user", "ann", says="needs the role lead")

    nxt = json.loads(ok("case", "next", "liver", "--user", "ann", "--json"))
    assert nxt == {**nxt, "case": urgent["case"], "series": urgent["series"], "state": "assigned"}
    fails("case", "next", "liver", "--user", "cat", says="No case waits for cat", refusal=False)
    fails("case", "submit", urgent["case"], urgent["a"], "--user", "cat", says="not assigned to cat")
    fails("case", "submit", urgent["case"], routine["a"], "--user", "ann", says=f"case {urgent['case']} is series")
    fails("case", "review", urgent["case"], "--decision", "approve", "--user", "rev", says="possible only when")

    # Round 1: both submit (one with an SR), the case waits for its consensus.
    sr = write_header(tmp_path / "urgent-ann.sr.dcm", urgent["series"], modality="SR")
    assert json.loads(ok("case", "submit", urgent["case"], urgent["a"], sr, "--user", "ann", "--json"))["state"] == \
        "in_progress"
    fails("case", "submit", urgent["case"], urgent["a"], "--user", "ann", says="already submitted")

    # Blinding: ben sees neither ann's submission nor her name; the reviewer sees everything.
    ben_view = json.loads(ok("case", "show", urgent["case"], "--user", "ben", "--json"))
    assert ben_view["blinded"] and ben_view["annotators"] == ["ben"] and ben_view["submissions"] == []
    fails("case", "show", urgent["case"], "--user", "cat", says="not assigned to cat")
    early = json.loads(ok("case", "show", urgent["case"], "--user", "rev", "--json"))
    assert early["state"] == "in_progress" and early["submissions"] == []  # until the round's last one is in
    ok("case", "submit", urgent["case"], urgent["b"], "--user", "ben")
    ann_view = json.loads(ok("case", "show", urgent["case"], "--user", "ann", "--json"))
    assert [s["user"] for s in ann_view["submissions"]] == ["ann"]
    assert ann_view["submissions"][0]["sr_sha256"] == hashlib.sha256(sr.read_bytes()).hexdigest()
    rev_view = json.loads(ok("case", "show", urgent["case"], "--user", "rev", "--json"))
    assert rev_view["state"] == "submitted" and not rev_view["blinded"]
    assert [s["user"] for s in rev_view["submissions"]] == ["ann", "ben"]

    # Consensus: by a reviewer, never by an annotator of the case.
    assert json.loads(ok("case", "next", "liver", "--user", "rev", "--json"))["action"] == "consensus"
    fails("case", "consensus", urgent["case"], "--user", "ann", says="needs the role radiologist or reviewer")
    agreement = tmp_path / "agreement.json"
    agreement.write_text(json.dumps({"inputs": ["a", "b"], "segments": [
        {"type": ["10200004", "SCT", "Liver"], "label": "Liver", "pairs": [{"a": 0, "b": 1, "dice": 0.8}]}]}))
    state = json.loads(ok("case", "consensus", urgent["case"], "--consensus-seg", urgent["consensus"],
                          "--agreement", agreement, "--user", "rev", "--json"))
    assert (state["state"], state["tier"]) == ("in_review", 1)

    # Tier 1 requests changes (with a comment): back to both annotators for round 2.
    fails("case", "review", urgent["case"], "--decision", "approve", "--user", "rad", says="needs the role reviewer")
    fails("case", "review", urgent["case"], "--decision", "changes", "--user", "rev", says="needs a comment")
    ok("case", "review", urgent["case"], "--decision", "changes", "--comment", "Liver dome missed", "--user", "rev")
    assert json.loads(ok("case", "next", "liver", "--user", "ben", "--json"))["case"] == urgent["case"]
    ben_view = json.loads(ok("case", "show", urgent["case"], "--user", "ben", "--json"))
    assert ben_view["reviews"][0]["comment"] == "Liver dome missed" and ben_view["round"] == 2
    ok("case", "submit", urgent["case"], urgent["a"], "--user", "ann")
    ok("case", "submit", urgent["case"], urgent["b"], "--user", "ben")
    computed = tmp_path / "urgent-round2-majority.dcm"  # computed from the round's SEGs by the store's seam
    ok("case", "consensus", urgent["case"], "--method", "majority", "-o", computed, "--user", "rev")
    merged = {s["label"]: s["voxels"] for s in seg_summary(computed)["segments"]}
    expected = {s["label"]: s["voxels"] for s in seg_summary(urgent["consensus"])["segments"]}
    assert merged == expected, "the majority of 'liver' and 'liver or more' is the liver"
    measured = json.loads(ok("case", "show", urgent["case"], "--user", "rev", "--json"))["consensus"][-1]["agreement"]
    assert measured["segments"][0]["pairs"][0]["dice"] < 1, "the computed consensus recorded the annotators' agreement"

    # Tier 1 then tier 2 approve (by two different people), then the radiologist signs.
    ok("case", "review", urgent["case"], "--decision", "approve", "--user", "rev")
    fails("case", "finalize", urgent["case"], "--meaning", "Approved", "--user", "rad", says="possible only when")
    ok("case", "review", urgent["case"], "--decision", "approve", "--user", "rad")
    fails("case", "finalize", urgent["case"], "--meaning", "Approved", "--user", "rev",
          says="needs the role radiologist")
    signature = json.loads(ok("case", "finalize", urgent["case"], "--meaning", "Approved as reference standard",
                              "--user", "rad", "--json"))
    assert signature["user"] == "rad" and signature["meaning"] == "Approved as reference standard"
    assert signature["sha256"] == hashlib.sha256(computed.read_bytes()).hexdigest()
    assert Path(signature["file"]).read_bytes() == computed.read_bytes()  # the store's copy of the consensus
    fails("case", "review", urgent["case"], "--decision", "changes", "--comment", "x", "--user", "rev",
          says="is final")

    # Final: the blinding is lifted.
    ben_view = json.loads(ok("case", "show", urgent["case"], "--user", "ben", "--json"))
    assert not ben_view["blinded"] and ben_view["annotators"] == ["ann", "ben"]
    assert len(ben_view["submissions"]) == 4 and [c["method"] for c in ben_view["consensus"]] == ["staple", "majority"]
    assert ben_view["signature"]["user"] == "rad"

    status = json.loads(ok("project", "status", "liver", "--json"))
    assert status["cases"] == 2 and status["by_state"]["final"] == 1 and status["by_state"]["assigned"] == 1
    assert status["annotators"]["ann"]["submissions"] == 2 and status["annotators"]["ann"]["open"] == 1
    assert status["annotators"]["ben"] == {**status["annotators"]["ben"], "assigned": 1, "open": 0, "submissions": 2}
    round_two_dice = round(measured["segments"][0]["pairs"][0]["dice"], 4)  # the latest round's report counts
    assert status["agreement"] == {"cases": 1, "segments": [
        {"segment": measured["segments"][0]["label"], "pairs": 1, "mean_dice": round_two_dice,
         "min_dice": round_two_dice}], "labels": [], "marks": []}

    assert "intact" in ok("audit", "verify")
    ok("audit", "export", "--format", "csv", "-o", tmp_path / "audit.csv")
    with open(tmp_path / "audit.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    refused = [row for row in rows if row["action"] == "refused"]
    assert refused and all(row["reason"] and row["actor"] for row in refused)  # every refusal: who, what, why
    assert any(row["actor"] == "cat" and "not assigned to cat" in row["reason"] for row in refused)
    rows = [row for row in rows if row["action"] != "refused"]
    actions = [row["action"] for row in rows]
    assert actions[:9] == ["store.create", *["user.add"] * 7, "project.create"]
    assert actions.count("case.submit") == 4 and actions.count("case.request_changes") == 1
    assert actions[-1] == "case.finalize"
    last = rows[-1]
    assert last["actor"] == "rad" and last["reason"] == "Approved as reference standard"
    assert json.loads(last["files"])[0]["sha256"] == signature["sha256"]
    submit = next(row for row in rows if row["action"] == "case.submit")
    assert {f["role"] for f in json.loads(submit["files"])} == {"seg", "sr"}
    ok("audit", "export", "--format", "json", "-o", tmp_path / "audit.json")
    exported = json.loads((tmp_path / "audit.json").read_text())
    assert len(exported["records"]) == len(rows) + len(refused) and exported["chain"]["intact"]
    status, _, err = cli("audit", "export", "--format", "json", "-o", tmp_path / "audit.json", "--store", store_url)
    assert status == 1 and "already exists" in err


def test_self_review_and_role_rules(cli, store_url, team):
    ok, files = team
    routine = files["routine"]
    ok("case", "assign", "liver", "--case", routine["case"], "--annotator", "dora", "--annotator", "ann",
       "--user", "lead")
    ok("case", "submit", routine["case"], routine["a"], "--user", "dora")
    ok("case", "submit", routine["case"], routine["b"], "--user", "ann")
    # dora holds the reviewer role but annotated this case: her queue does not offer it, the store refuses it.
    status, _, err = cli("case", "next", "liver", "--user", "dora", "--store", store_url)
    assert status == 1 and "No case waits for dora" in err
    before = dump_tables(store_url)
    status, _, err = cli("case", "consensus", routine["case"], "--consensus-seg", routine["consensus"],
                         "--user", "dora", "--store", store_url)
    assert status == 1 and "nobody reviews, merges or signs their own work" in err
    assert_refusal_recorded(store_url, before)
    ok("case", "consensus", routine["case"], "--consensus-seg", routine["consensus"], "--user", "rev")
    status, _, err = cli("case", "review", routine["case"], "--decision", "approve", "--user", "dora",
                         "--store", store_url)
    assert status == 1 and "own work" in err
    # The store keeps its own copy: the submitter's file may change, the recorded one may not.
    ok("case", "review", routine["case"], "--decision", "approve", "--user", "rev")
    ok("case", "review", routine["case"], "--decision", "approve", "--user", "rad")
    Path(routine["consensus"]).write_bytes(Path(routine["consensus"]).read_bytes() + b"\0\0")
    shown = json.loads(ok("case", "show", routine["case"], "--user", "rad", "--json"))
    kept = Path(shown["consensus"][-1]["seg"])
    assert kept.parent.parent.name == "sha256" and kept.name == shown["consensus"][-1]["seg_sha256"]
    kept.chmod(0o644)
    original = kept.read_bytes()
    kept.write_bytes(original + b"\0\0")  # changed behind the store's back: cannot be signed
    before = dump_tables(store_url)
    status, _, err = cli("case", "finalize", routine["case"], "--meaning", "Approved", "--user", "rad",
                         "--store", store_url)
    assert status == 1 and "changed since it was recorded" in err
    assert_refusal_recorded(store_url, before)
    kept.write_bytes(original)
    signed = json.loads(ok("case", "finalize", routine["case"], "--meaning", "Approved", "--user", "rad", "--json"))
    assert signed["sha256"] == shown["consensus"][-1]["seg_sha256"] and signed["name"] == "rad"


def test_claiming_and_queue_order(cli, store_url, team):
    ok, files = team
    urgent, routine = files["urgent"]["case"], files["routine"]["case"]
    status, _, err = cli("case", "next", "liver", "--user", "cat", "--store", store_url)
    assert status == 1 and "--claim" in err
    claimed = [json.loads(ok("case", "next", "liver", "--claim", "--user", name, "--json"))["case"]
               for name in ("cat", "ann", "ben")]
    assert claimed == [urgent, urgent, routine]  # the urgent case is full after two claims
    assert json.loads(ok("case", "next", "liver", "--claim", "--user", "cat", "--json"))["case"] == urgent
    status, _, err = cli("case", "next", "liver", "--claim", "--user", "rev", "--store", store_url)
    assert status == 1 and "No case waits for rev" in err


def test_first_user_must_be_a_lead_and_users_need_a_lead(cli, store_url):
    status, _, err = cli("user", "add", "ann", "--role", "annotator", "--store", store_url)
    assert status == 1 and "first user must be a lead" in err
    assert cli("user", "add", "lead", "--role", "lead", "--store", store_url)[0] == 0
    status, _, err = cli("user", "add", "ann", "--role", "annotator", "--store", store_url)
    assert status == 1 and "needs a lead" in err
    assert cli("user", "add", "ann", "--role", "annotator", "--user", "lead", "--store", store_url)[0] == 0
    status, _, err = cli("user", "add", "ben", "--role", "annotator", "--user", "ann", "--store", store_url)
    assert status == 1 and "needs the role lead" in err
    status, out, _ = cli("user", "add", "ann", "--role", "reviewer", "--user", "lead", "--json", "--store", store_url)
    assert status == 0 and json.loads(out) == {"user": "ann", "roles": ["annotator", "reviewer"]}
    status, _, err = cli("user", "add", "ann", "--role", "reviewer", "--user", "lead", "--store", store_url)
    assert status == 1 and "already has" in err
    status, _, err = cli("project", "status", "nope", "--store", store_url)
    assert status == 1 and "No project 'nope'" in err
    status, _, err = cli("case", "show", "7", "--user", "ann", "--store", store_url)
    assert status == 1 and "No case 7" in err
