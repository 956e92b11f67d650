"""The team deployment end to end: a real server process, workstations that share nothing but its URL.

A lead adds users and a case (its images uploaded), two annotators on their own workstations
fetch the case and submit SEGs drawn there, a reviewer on another workstation fetches and
merges them, a radiologist signs with the password. Around that path, every refusal the
issue names: with a clear message, an audit record, and no other change to the store or its
files. SQLite and PostgreSQL behind the server.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from DICOMAnnotatorLib.imaging import ReferenceSeries, write_image
from review_support import dump_tables, write_series
from team_server import TeamServer, Workstation

pytest_plugins = ["review_fixtures"]

PASSWORDS = {name: f"{name}-correct horse battery" for name in ("lead", "ann", "ben", "rev", "rad", "cat")}
ROLES = {"ann": "annotator", "ben": "annotator", "cat": "annotator", "rev": "reviewer", "rad": "radiologist"}


@pytest.fixture
def team(store_url, tmp_path):
    """A running server with users and a project of two cases, and three workstations."""
    server = TeamServer(store_url, tmp_path)
    server.add_first_lead("lead", PASSWORDS["lead"])
    server.start()
    lead = Workstation(tmp_path / "lead-ws", server)
    lead.login("lead", PASSWORDS["lead"])
    for name, role in ROLES.items():
        lead.ok("user", "add", name, "--role", role, "--full-name", f"Dr {name.title()}", "--password-stdin",
                stdin=PASSWORDS[name] + "\n")
    lead.ok("project", "create", "liver", "--protocol", "liver-lesions-ct")
    series = {}
    for name in ("first", "second"):
        folder, datasets, labels = write_series(lead.folder / f"series-{name}")
        series[name] = (folder, labels)
    added = json.loads(lead.ok("case", "add", "liver", series["first"][0], series["second"][0], "--json"))
    lead.ok("case", "assign", "liver", "--annotator", "ann", "--annotator", "ben")
    workstations = {"lead": lead, "one": Workstation(tmp_path / "ws-one", server),
                    "two": Workstation(tmp_path / "ws-two", server)}
    try:
        yield server, workstations, added["cases"], series
    finally:
        server.stop()


def draw_seg(ws: Workstation, images: Path, labels: np.ndarray, name: str, *, protocol: bool = True) -> Path:
    """What an annotator draws on the fetched images, written as a SEG by the command on their workstation."""
    geometry = ReferenceSeries.from_paths([images]).geometry
    write_image(labels.astype(np.uint8), geometry, ws.folder / f"{name}.nii.gz")
    options = ["--protocol", "liver-lesions-ct"] if protocol else []
    ws.ok("seg", "export", images, ws.folder / f"{name}.nii.gz", "-o", ws.folder / f"{name}.seg.dcm", *options,
          "--creator", name)
    return ws.folder / f"{name}.seg.dcm"


def refused(server: TeamServer, result, *fragments: str, before: dict, failed_sign_in: str | None = None) -> None:
    """One ``error:`` line naming ``fragments``; the store changed by one audit record of a refusal, its
    files not at all (and, for a wrong password, the failure count of ``failed_sign_in``, the lock-out's)."""
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    after = dump_tables(server.store_url)
    if failed_sign_in is not None:
        counts = {table: {row[1]: row[5] for row in rows} for table, rows in (("before", before["users"]),
                                                                               ("after", after["users"]))}
        assert int(counts["after"][failed_sign_in]) == int(counts["before"][failed_sign_in]) + 1
        after["users"], before = before["users"], {**before}
    for table, rows in after.items():
        if table not in ("audit_log", "audit_head"):
            assert rows == before[table], f"a refusal changed {table}"
    added = [row for row in after["audit_log"] if row not in before["audit_log"]]
    assert len(added) == 1 and added[0][3] == "refused", added
    assert kept_files(server) == before["__files__"], "a refusal kept a file"


def snapshot(server: TeamServer) -> dict:
    return {**dump_tables(server.store_url), "__files__": kept_files(server)}


def kept_files(server: TeamServer) -> list[str]:
    root = server.files / "sha256"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def test_annotate_review_and_sign_across_workstations(team, tmp_path):
    server, ws, (first, second), series = team
    one, two, lead = ws["one"], ws["two"], ws["lead"]
    one.login("ann", PASSWORDS["ann"])
    two.login("ben", PASSWORDS["ben"])
    # Each annotator fetches the case on their own machine: the images arrive with verified checksums.
    fetched = {}
    for who, ws_ in (("ann", one), ("ben", two)):
        nxt = json.loads(ws_.ok("case", "next", "liver", "--json"))
        assert nxt["case"] == first
        fetched[who] = json.loads(ws_.ok("case", "fetch", str(first), "-o", ws_.folder / "case", "--json"))
        images = sorted(Path(fetched[who]["images"]).iterdir())
        originals = sorted(series["first"][0].iterdir())
        assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in images] == \
               [hashlib.sha256(p.read_bytes()).hexdigest() for p in originals]
        assert fetched[who]["files"] == []
    labels = series["first"][1]
    ann_seg = draw_seg(one, Path(fetched["ann"]["images"]), np.where(labels == 1, 1, 0), "ann")
    ben_seg = draw_seg(two, Path(fetched["ben"]["images"]), np.where(labels == 3, 0, labels), "ben")
    one.ok("case", "submit", first, ann_seg)
    ann_seg.unlink()  # the store kept its own copy: the submitter's file is not needed any more

    # Blinding: ben cannot download ann's SEG before the case is final, even knowing its hash.
    ann_sha = json.loads(one.ok("case", "show", first, "--json"))["submissions"][0]["seg_sha256"]
    before = snapshot(server)
    response = requests.get(f"{server.url}/api/cases/{first}/files/{ann_sha}",
                            headers={"Authorization": f"Bearer {two.token()}"}, timeout=30)
    assert response.status_code == 403 and "may not download" in response.json()["error"]
    refused(server, _as_result(response), "may not download", before=before)
    two.ok("case", "submit", first, ben_seg)

    # The reviewer, on the second workstation, sees both SEGs once the round is complete.
    two.ok("logout", server.url)
    two.login("rev", PASSWORDS["rev"])
    review = json.loads(two.ok("case", "fetch", str(first), "-o", two.folder / "review", "--json"))
    assert sorted((f["role"], f["user"]) for f in review["files"]) == [("seg", "ann"), ("seg", "ben")]
    for entry in review["files"]:
        assert hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    two.ok("case", "consensus", first, "--method", "majority")
    two.ok("case", "review", first, "--decision", "approve")

    # The radiologist signs, with the password asked again.
    one.ok("logout", server.url)
    one.login("rad", PASSWORDS["rad"])
    one.ok("case", "review", first, "--decision", "approve")
    before = snapshot(server)
    refused(server, one.run("case", "finalize", first, "--meaning", "Approved"), "password", before=before)
    before = snapshot(server)
    refused(server, one.run("case", "finalize", first, "--meaning", "Approved", "--password-stdin",
                            stdin="not my password\n"), "Wrong user name or password", before=before,
            failed_sign_in="rad")
    signed = json.loads(one.ok("case", "finalize", first, "--meaning", "Approved as reference standard",
                               "--password-stdin", "--json", stdin=PASSWORDS["rad"] + "\n"))
    shown = json.loads(lead.ok("case", "show", first, "--json"))
    assert shown["state"] == "final"
    assert shown["signature"] == {**shown["signature"], "user": "rad", "name": "Dr Rad",
                                  "meaning": "Approved as reference standard", "sha256": signed["sha256"]}
    assert shown["signature"]["sha256"] == shown["consensus"][-1]["seg_sha256"]
    before = snapshot(server)
    refused(server, one.run("case", "finalize", first, "--meaning", "Again", "--password-stdin",
                            stdin=PASSWORDS["rad"] + "\n"), "final", before=before)
    # After the signature, every file of the case reaches anyone on it, checksums verified.
    final = json.loads(one.ok("case", "fetch", str(first), "-o", one.folder / "final", "--json"))
    assert {f["role"] for f in final["files"]} == {"seg", "consensus_seg"}
    assert lead.ok("audit", "verify").startswith("Audit chain intact")


def test_refusals_are_clear_audited_and_change_nothing(team):
    server, ws, (first, second), series = team
    one, two = ws["one"], ws["two"]
    one.login("ann", PASSWORDS["ann"])
    images = Path(json.loads(one.ok("case", "fetch", str(first), "-o", one.folder / "c", "--json"))["images"])

    # A SEG of other structures than the protocol's: refused naming them and the protocol's.
    stranger = draw_seg(one, images, np.where(series["first"][1] == 1, 1, 0), "stranger", protocol=False)
    before = snapshot(server)
    refused(server, one.run("case", "submit", first, stranger), "is not a structure of protocol 'liver-lesions-ct'",
            "'Liver'", before=before)
    # A user acting on a case not assigned to them.
    two.login("cat", PASSWORDS["cat"])
    seg = draw_seg(two, images, np.where(series["first"][1] == 1, 1, 0), "cat")
    before = snapshot(server)
    refused(server, two.run("case", "submit", first, seg), "not assigned to cat", before=before)
    before = snapshot(server)
    refused(server, two.run("case", "fetch", str(first), "-o", two.folder / "x"), "not assigned to cat",
            before=before)
    assert not (two.folder / "x").exists()
    # An annotator approving a case that waits for its review.
    one.ok("case", "submit", first, seg)
    two.ok("logout", server.url)
    two.login("ben", PASSWORDS["ben"])
    two.ok("case", "submit", first, seg)
    two.ok("logout", server.url)
    two.login("rev", PASSWORDS["rev"])
    two.ok("case", "consensus", first, "--method", "majority")
    before = snapshot(server)
    refused(server, one.run("case", "review", first, "--decision", "approve"), "ann", "reviewer", before=before)
    # Naming another user than the one logged in.
    before = snapshot(server)
    result = two.run("case", "show", first, "--user", "cat")
    assert result.returncode == 1 and "logged in" in result.stderr and snapshot(server) == before


def test_identity_wrong_passwords_tokens_and_lockout(team):
    server, ws, _, _ = team
    one, lead = ws["one"], ws["lead"]
    # A wrong password and an unknown user get the same message.
    wrong = one.run("login", server.url, "--user", "ann", "--password-stdin", stdin="nope nope nope\n")
    unknown = one.run("login", server.url, "--user", "nobody", "--password-stdin", stdin="nope nope nope\n")
    assert wrong.returncode == unknown.returncode == 1 and wrong.stderr == unknown.stderr
    assert "Wrong user name or password" in wrong.stderr
    # An altered token, a revoked one, an expired one: log in again.
    one.login("ann", PASSWORDS["ann"])
    sessions = one.config / "sessions.json"
    saved = json.loads(sessions.read_text())
    token = saved[server.url]["token"]
    altered = dict(saved)
    altered[server.url] = {**saved[server.url], "token": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")}
    sessions.write_text(json.dumps(altered))
    before = snapshot(server)
    refused(server, one.run("case", "next", "liver"), "log in again", before=before)
    sessions.write_text(json.dumps(saved))
    one.ok("logout", server.url)
    sessions.write_text(json.dumps(saved))  # the revoked token, kept by someone
    before = snapshot(server)
    refused(server, one.run("case", "next", "liver"), "log in again", before=before)
    # 20 wrong passwords lock the account; the lead sees it and lifts it.
    for _ in range(20):
        assert one.run("login", server.url, "--user", "ben", "--password-stdin", stdin="wrong guess\n").returncode == 1
    locked = one.run("login", server.url, "--user", "ben", "--password-stdin", stdin=PASSWORDS["ben"] + "\n")
    assert locked.returncode == 1 and locked.stderr == wrong.stderr  # locked: the same message, no hint
    users = {u["name"]: u for u in json.loads(lead.ok("user", "list", "--json"))["users"]}
    assert users["ben"]["locked"] and not users["ann"]["locked"]
    lead.ok("user", "unlock", "ben")
    one.login("ben", PASSWORDS["ben"])
    assert json.loads(one.ok("case", "next", "liver", "--json"))["case"]


def test_no_password_or_token_is_kept_in_clear(team, tmp_path):
    server, ws, (first, _), _ = team
    one, lead = ws["one"], ws["lead"]
    one.login("ann", PASSWORDS["ann"])
    token = one.token()
    one.run("login", server.url, "--user", "ann", "--password-stdin", stdin="a wrong password\n")
    one.login("ann", PASSWORDS["ann"])
    lead.ok("user", "passwd", "ann", "--password-stdin", stdin="ann's new password 2026\n")
    lead.ok("audit", "export", "--format", "json", "-o", tmp_path / "audit.json")
    secrets = [*PASSWORDS.values(), "ann's new password 2026", "a wrong password", token, one.token()]
    texts = {"audit export": (tmp_path / "audit.json").read_text(),
             "server log": server.log.read_text(),
             "database": json.dumps(dump_tables(server.store_url))}
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a password or token in the {where}"
    assert oct((one.config / "sessions.json").stat().st_mode & 0o777) == "0o600"
    hashes = [row for row in dump_tables(server.store_url)["users"] if "argon2id" in " ".join(row)]
    assert len(hashes) == 6


def test_a_server_killed_during_an_upload_keeps_nothing_and_the_upload_then_succeeds(team):
    server, ws, (first, _), series = team
    one = ws["one"]
    one.login("ann", PASSWORDS["ann"])
    before = snapshot(server)
    payload = np.random.default_rng(7).bytes(8 << 20)

    def slow_body():
        for start in range(0, len(payload), 1 << 20):
            yield payload[start:start + (1 << 20)]
            time.sleep(0.2)

    errors = []

    def upload():
        try:
            requests.put(f"{server.url}/api/files", data=slow_body(), timeout=60,
                         headers={"Authorization": f"Bearer {one.token()}"})
        except requests.RequestException as error:
            errors.append(error)

    sender = threading.Thread(target=upload)
    sender.start()
    deadline = time.monotonic() + 30
    while not list((server.files / "incoming").glob("partial-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((server.files / "incoming").glob("partial-*")), "the upload did not start"
    server.kill()
    sender.join()
    assert errors, "the client saw the server die"
    server.start()
    assert not any((server.files / "incoming").iterdir()), "a partial upload survived the restart"
    assert snapshot(server) == before, "a killed upload left a record or a kept file"
    response = requests.put(f"{server.url}/api/files", data=payload, timeout=60,
                            headers={"Authorization": f"Bearer {one.token()}",
                                     "X-Content-SHA256": hashlib.sha256(payload).hexdigest()})
    assert response.ok and response.json()["sha256"] == hashlib.sha256(payload).hexdigest()


def _as_result(response: requests.Response):
    """A refused HTTP call in the shape :func:`refused` reads (exit 1, one error line)."""
    from types import SimpleNamespace

    return SimpleNamespace(returncode=1, stdout="", stderr=f"error: {response.json()['error']}\n")
