"""The browser app end to end: a real team server, the real launcher, real Slicer session processes, Chromium.

Annotators paint in a slice view of their own session and submit; the SEG the server keeps has the
stroke's voxels, found through the core from the submission (not from the page). The reviewer merges and
approves, the radiologist signs with the password. Refusals (a wrong password, a case not assigned, a
reviewer's action by an annotator, a broken series, no session place left) show the core's message in the
page and change nothing in the store. A radiograph (highdicom's DX image) and a generated ultrasound cine open
in the annotate panel, a stroke paints on the image and on two frames chosen with the frame slider, and the
submitted SEG holds them (the cine's, one frame for each painted frame, naming it); an exam's second view is chosen
from its image list. Screenshots of every step go
to the folder the run prints (or $DICOM_ANNOTATOR_SCREENSHOTS).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import require_module, third_party_file
from DICOMAnnotatorLib.imaging import ImageGrid, ReferenceSeries, open_images, phantoms
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.seg import read_seg
from DICOMAnnotatorLib.server import RemoteService
from planar_cases import cine_protocol, exam_folder, fracture_protocol, write_protocol
from pydicom.data import get_testdata_file
from team_server import TeamServer, Workstation
from web_app import (
    START_TIMEOUT_MS,
    Browser,
    WebApp,
    click_and_wait,
    paint_stroke,
    stroke_voxels,
    three_d_view,
    view_pixels,
    wait_for_desk,
)
from web_app import sign_in as sign_in_page

pytestmark = pytest.mark.web

PASSWORDS = {name: f"{name}-correct horse battery" for name in ("lead", "ann", "ben", "cy", "rev", "rad")}
#: Nine slices 3 mm apart: a 5 mm brush reaches at most the slices next to the one it is on.
GEOMETRY = {"size": (64, 48, 9), "spacing": (0.9, 0.7, 3.0)}
#: Pixels of the 3D view that the stroke's closed surface changes at least, where an empty view changes none: Show
#: 3D frames the camera on the surfaces, so the stroke fills much of the view (about 38,000 pixels; about 60 when
#: the camera stayed on the scene's default box).
SURFACE_PIXELS = 5000


@pytest.fixture(scope="module", autouse=True)
def web_extra() -> None:
    """The session processes run on trame-slicer (the web extra, which the test command installs)."""
    require_module("trame_slicer")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("DICOM_ANNOTATOR_SCREENSHOTS") or tmp_path_factory.mktemp("web-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the web app's steps: {folder}")
    return folder


def started_team(folder: Path, users: dict[str, str]) -> tuple[TeamServer, Workstation]:
    """A team server in ``folder`` with its lead signed in at a workstation and the users {name: role} added."""
    server = TeamServer(f"sqlite:///{folder / 'server.db'}", folder)
    server.add_first_lead("lead", PASSWORDS["lead"])
    server.start()
    lead = Workstation(folder / "lead", server)
    lead.login("lead", PASSWORDS["lead"])
    for name, role in users.items():
        lead.ok("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORDS[name] + "\n")
    return server, lead


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """A team server with annotators ann, ben, cy, reviewer rev, radiologist rad; project liver with case 1 (ann and
    ben), case 2 (ben and cy) and case 3 (ann and ben, a slice whose pixel data is cut short)."""
    folder = tmp_path_factory.mktemp("web-team")
    server, lead = started_team(folder, {"ann": "annotator", "ben": "annotator", "cy": "annotator",
                                         "rev": "reviewer", "rad": "radiologist"})
    lead.ok("project", "create", "liver", "--protocol", "liver-lesions-ct")
    series = []
    for name in ("case-1", "case-2", "case-3"):
        geometry = phantoms.phantom_geometry(**GEOMETRY)
        datasets = phantoms.ct_datasets(geometry, phantoms.phantom_volume(geometry)[0])
        if name == "case-3":
            datasets[4].PixelData = datasets[4].PixelData[:100]
        phantoms.write_datasets(datasets, folder / name)
        series.append(folder / name)
    lead.ok("case", "add", "liver", *series)
    service = RemoteService(server.url, token=lead.token())
    for case, annotators in ((1, ["ann", "ben"]), (2, ["ben", "cy"]), (3, ["ann", "ben"])):
        service.assign("liver", case=case, annotators=annotators)
    yield server, lead, series
    server.stop()


@pytest.fixture(scope="module")
def browser(screenshots, tmp_path_factory):
    require_module("playwright")  # the test extra; under CI its absence fails
    opened = Browser(screenshots, tmp_path_factory.mktemp("chromium-profile"))
    yield opened
    opened.close()


def case_state(lead: Workstation, case: int) -> dict:
    shown = json.loads(lead.ok("case", "show", str(case), "--json"))
    return {key: shown[key] for key in ("state", "round", "submissions", "reviews", "consensus")}


def show_3d_changes_the_three_d_view(page, browser: Browser) -> int:
    """Turn Show 3D on; returns how many pixels of the 3D view then differ from its empty background (it is
    rendered again once the surfaces are made, so the view is read until it changes)."""
    box = three_d_view(page)
    empty = view_pixels(page, box)
    assert click_and_wait(page, "#da-show-3d") == "Segments shown in 3D"
    changed, deadline = 0, time.monotonic() + 30
    while changed < SURFACE_PIXELS and time.monotonic() < deadline:
        changed = int((np.abs(view_pixels(page, box) - empty).max(axis=2) > 40).sum())
        time.sleep(0.2)
    browser.shot(page, "annotator-show-3d")
    return changed


def choose_consensus_method(page, method: str) -> None:
    page.click("#da-consensus-method", force=True)
    page.click(f".v-overlay .v-list-item:has-text('{method}')")


def test_wrong_password_is_refused_in_the_page_and_changes_nothing(team, browser, tmp_path):
    server, lead, _ = team
    web = WebApp(server, tmp_path).start()
    try:
        before = case_state(lead, 1)
        page = browser.page(web.url)
        sign_in_page(page, "ann", "not the password")
        assert "name or password" in page.inner_text("#sign-in-error").lower()
        browser.shot(page, "wrong-password")
        assert web.session_processes() == {}
        assert case_state(lead, 1) == before
        page.context.close()
    finally:
        web.stop()


def test_annotate_review_and_sign_in_the_browser(team, browser, tmp_path):
    server, lead, series_folders = team
    web = WebApp(server, tmp_path, max_sessions=2).start()
    try:
        # two annotators signed in at once: two session processes
        ann, ben = browser.page(web.url), browser.page(web.url)
        sign_in_page(ann, "ann", PASSWORDS["ann"])
        sign_in_page(ben, "ben", PASSWORDS["ben"])
        wait_for_desk(ann)
        wait_for_desk(ben)
        sessions = web.session_processes()
        assert len(sessions) == 2 and all("token" not in command for command in sessions.values())
        browser.shot(ann, "annotator-signed-in")

        # no third place: a clear message, no process
        rev = browser.page(web.url)
        sign_in_page(rev, "rev", PASSWORDS["rev"])
        assert "all 2 places" in rev.inner_text("#sign-in-error").lower()
        browser.shot(rev, "no-session-place-left")
        assert len(web.session_processes()) == 2
        rev.context.close()

        # an annotator opening a case not assigned to them; a broken series: refused, nothing changed
        before = {case: case_state(lead, case) for case in (1, 2, 3)}
        ann.fill("#da-case-number", "2")
        assert "not assigned to ann" in click_and_wait(ann, "#da-open-case")
        browser.shot(ann, "case-not-assigned")
        ann.fill("#da-case-number", "3")
        refused = click_and_wait(ann, "#da-open-case")
        assert "Cannot decode the pixel data" in refused and "0005" in refused, refused
        browser.shot(ann, "broken-series")
        assert {case: case_state(lead, case) for case in (1, 2, 3)} == before

        # each opens case 1 in their own scene
        for page in (ann, ben):
            page.fill("#da-project", "liver")
            assert click_and_wait(page, "#da-next-case") == "Case 1 opened"
        browser.shot(ann, "annotator-case-open")
        start, end, brush = paint_stroke(ann, browser, "annotator-stroke")
        assert show_3d_changes_the_three_d_view(ann, browser) >= SURFACE_PIXELS, "the stroke's surface in 3D"
        ben_rows = ben.locator("#da-measurements tr").all_inner_texts()
        assert any(row.startswith("Liver") and "\t0\t" in row for row in ben_rows), ben_rows  # not ann's stroke
        ben_start, ben_end, _ = paint_stroke(ben, browser, "second-annotator-stroke")
        assert click_and_wait(ann, "#da-save-draft") == "Draft of case 1 saved; it opens again with the case"
        painted = ann.locator("#da-measurements tr").all_inner_texts()
        ann.fill("#da-case-number", "1")
        assert click_and_wait(ann, "#da-open-case") == "Case 1 opened"  # resumed from the draft
        assert ann.locator("#da-measurements tr").all_inner_texts() == painted

        for page in (ann, ben):
            assert "submitted" in click_and_wait(page, "#da-submit")
        browser.shot(ann, "annotator-submitted")

        # the submitted SEG holds the stroke: every voxel nearer than the brush's radius, none beyond
        service = RemoteService(server.url, token=lead.token())
        fetched = service.fetch_case(1, tmp_path / "fetched")
        reference = ReferenceSeries.from_paths([series_folders[0]])
        segs = {e["user"]: Path(e["path"]) for e in fetched["files"] if e["role"] == "seg"}
        for user, (a, b) in (("ann", (start, end)), ("ben", (ben_start, ben_end))):
            submitted = read_seg(segs[user], reference)
            liver = next(d.number for d in submitted.segments if d.label == "Liver")
            painted = submitted.mask(liver).astype(bool)
            surely, at_most = stroke_voxels(reference.geometry, a, b, brush / 2)
            assert surely.sum() > 10
            assert_only_the_stroke(painted, surely, at_most, f"{user}'s stroke {a} -> {b}")

        # ben signs out (a place for the reviewer); ann stays
        ben.click("#da-sign-out")
        ben.wait_for_selector("#sign-in-note")
        deadline = time.monotonic() + 30
        while len(web.session_processes()) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(web.session_processes()) == 1

        # the reviewer merges
        rev = browser.page(web.url)
        sign_in_page(rev, "rev", PASSWORDS["rev"])
        wait_for_desk(rev)
        rev.click("#da-tab-review")
        rev.fill("#da-review-project", "liver")
        assert click_and_wait(rev, "#da-review-next") == "Case 1 opened to consensus"
        rev.click("#da-review-submissions button:has-text('ann')")
        browser.shot(rev, "reviewer-submissions")
        choose_consensus_method(rev, "majority")
        assert "Consensus (majority) built" in click_and_wait(rev, "#da-build-consensus")
        agreement = [row.split("\t") for row in rev.locator("#da-agreement tbody tr").all_inner_texts()]
        liver = next(row for row in agreement if row[:3] == ["Liver", "ann", "ben"])
        assert 0.5 < float(liver[3]) <= 1.0, agreement  # Dice of the two strokes, computed by the core
        browser.shot(rev, "reviewer-consensus")
        assert "recorded" in click_and_wait(rev, "#da-record-consensus")

        # a reviewer's action by an annotator: the server refuses it, by her role
        before = case_state(lead, 1)
        assert before["state"] == "in_review"
        ann.click("#da-tab-review")
        ann.fill("#da-review-case-number", "1")
        assert click_and_wait(ann, "#da-review-open") == "Case 1 opened to in_review"
        shown = [name.strip().lower() for name in ann.locator("#da-review-submissions button").all_inner_texts()]
        assert shown == ["all", "ann"], shown  # blinded: her own submission only
        refused = click_and_wait(ann, "#da-approve")
        assert refused.startswith("ann (annotator) cannot review case 1"), refused  # the server's words
        browser.shot(ann, "annotator-may-not-review")
        assert case_state(lead, 1) == before
        ann.click("#da-sign-out")
        ann.wait_for_selector("#sign-in-note")

        # the reviewer approves
        assert "approved" in click_and_wait(rev, "#da-approve")
        browser.shot(rev, "reviewer-approved")
        rev.click("#da-sign-out")
        rev.wait_for_selector("#sign-in-note")

        # the radiologist approves and signs with the password
        rad = browser.page(web.url)
        sign_in_page(rad, "rad", PASSWORDS["rad"])
        wait_for_desk(rad)
        rad.click("#da-tab-review")
        rad.fill("#da-review-project", "liver")
        assert click_and_wait(rad, "#da-review-next").startswith("Case 1 opened")
        assert "approved" in click_and_wait(rad, "#da-approve")
        rad.fill("#da-sign-password", "wrong password")
        assert "password" in click_and_wait(rad, "#da-sign").lower()
        assert case_state(lead, 1)["state"] == "approved"
        rad.fill("#da-sign-password", PASSWORDS["rad"])
        assert "signed by" in click_and_wait(rad, "#da-sign")
        browser.shot(rad, "radiologist-signed")
        shown = json.loads(lead.ok("case", "show", "1", "--json"))
        assert shown["state"] == "final" and shown["signature"]["user"] == "rad"
        rad.click("#da-sign-out")
    finally:
        web.stop()
    assert PASSWORDS["rad"] not in (tmp_path / "web.log").read_text()
    for log in (tmp_path / "work").rglob("session.log"):
        text = log.read_text(errors="replace")
        assert not any(password in text for password in PASSWORDS.values()), log


def test_the_session_process_answers_its_launcher_only(team, browser, tmp_path):
    """A local account that finds a session's port gets nothing without the launcher's key."""
    import requests

    server, _, _ = team
    web = WebApp(server, tmp_path).start()
    try:
        page = browser.page(web.url)
        sign_in_page(page, "cy", PASSWORDS["cy"])
        page.wait_for_selector("#da-next-case", timeout=START_TIMEOUT_MS)
        (command,) = web.session_processes().values()
        port = int(command.split("--port")[1].split()[0])
        assert requests.get(f"http://127.0.0.1:{port}/index.html", timeout=10).status_code == 403
        assert requests.get(f"{web.url}/app/index.html", timeout=10).status_code == 401  # no cookie: no session
    finally:
        web.stop()


def test_an_idle_session_is_stopped_and_its_server_session_ended(team, tmp_path):
    """Signed in and then left alone: after the idle time the session process stops, the team server's session
    ends with it, and the browser is sent back to the sign-in page."""
    import requests

    server, _, _ = team
    web = WebApp(server, tmp_path, idle_timeout=3).start()
    try:
        browser = requests.Session()
        answer = browser.post(f"{web.url}/sign-in", data={"user": "cy", "password": PASSWORDS["cy"]},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and answer.headers["Location"] == "/app/"
        assert len(web.session_processes()) == 1
        deadline = time.monotonic() + 60
        while web.session_processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert web.session_processes() == {}
        page = browser.get(f"{web.url}/app/", timeout=30)
        assert page.status_code == 401 and "Your session has ended" in page.text
        ended, log = "Ended the server session of cy", tmp_path / "web.log"
        deadline = time.monotonic() + 30  # the launcher ends the server session just after stopping the process
        while ended not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ended in log.read_text()
    finally:
        web.stop()


# --------------------------------------------------------------------- 2D images and cine loops
@pytest.fixture(scope="module")
def planar_team(tmp_path_factory):
    """A team server with annotator ann: project dx (highdicom's DX image, case 1), project echo (a generated
    ultrasound cine of 12 frames, case 2) and project mg (an exam of two views, pydicom's palette image twice, case
    3), one annotator per case."""
    folder = tmp_path_factory.mktemp("web-planar-team")
    server, lead = started_team(folder, {"ann": "annotator"})
    radiograph, cine = folder / "dx", folder / "echo"
    radiograph.mkdir()
    shutil.copy(third_party_file("highdicom/dx_image.dcm"), radiograph / "image.dcm")
    phantoms.write_datasets([phantoms.ultrasound_cine_dataset(frames=12)], cine)
    exam = exam_folder(folder / "mg", get_testdata_file("examples_palette.dcm"))
    service = RemoteService(server.url, token=lead.token())
    for number, (project, protocol, images) in enumerate((("dx", fracture_protocol(), radiograph),
                                                          ("echo", cine_protocol(), cine),
                                                          ("mg", load_protocol("breast-lesions-mg"), exam)), start=1):
        lead.ok("project", "create", project, "--protocol", write_protocol(protocol, folder / f"{project}.json"),
                "--annotators", "1")
        lead.ok("case", "add", project, images)
        service.assign(project, case=number, annotators=["ann"])
    yield server, lead, {"dx": radiograph, "echo": cine, "mg": exam}
    server.stop()


def show_frame(page, frame: int) -> str:
    """Move the frame slider to ``frame`` with the keyboard, a frame per key press (each an action of the page);
    returns the line the last one left."""
    thumb = page.locator("#da-frame .v-slider-thumb")
    current = int(thumb.get_attribute("aria-valuenow"))
    count = "document.querySelector('.v-window-item--active .da-messages').dataset.actions"
    for _ in range(abs(frame - current)):
        before = page.evaluate(count)
        thumb.press("ArrowRight" if frame > current else "ArrowLeft")
        page.wait_for_function(f"([before]) => {count} !== before", arg=[before])
    return page.locator(".v-window-item--active .da-messages .v-alert").inner_text()


def open_next_case_as_ann(browser, web: WebApp, project: str) -> tuple:
    """ann signs in and opens her next case of ``project``: the page and the line the action left."""
    page = browser.page(web.url)
    sign_in_page(page, "ann", PASSWORDS["ann"])
    wait_for_desk(page)
    page.fill("#da-project", project)
    return page, click_and_wait(page, "#da-next-case")


def assert_only_the_stroke(painted: np.ndarray, surely: np.ndarray, at_most: np.ndarray, stroke: str) -> None:
    """Every voxel surely under the brush is painted, and none the brush cannot reach ((k, j, i) listed if not)."""
    missed, beyond = np.argwhere(surely & ~painted), np.argwhere(painted & ~at_most)
    assert len(missed) == 0, f"{stroke}: voxels (k, j, i) on the stroke not painted: {missed}"
    assert len(beyond) == 0, f"{stroke}: voxels (k, j, i) beyond the brush painted: {beyond}"


def submitted_seg(server, lead: Workstation, case: int, folder: Path) -> Path:
    """The SEG the team server keeps for ``case``, fetched as the lead."""
    fetched = RemoteService(server.url, token=lead.token()).fetch_case(case, folder)
    return next(Path(entry["path"]) for entry in fetched["files"] if entry["role"] == "seg")


def test_a_radiograph_is_painted_and_submitted_in_the_browser(planar_team, browser, tmp_path):
    """highdicom's DX image opens as one image (no frame slider), sized in mm²; the stroke is in the stored SEG."""
    server, lead, folders = planar_team
    web = WebApp(server, tmp_path, max_sessions=1).start()
    try:
        page, opened = open_next_case_as_ann(browser, web, "dx")
        assert opened == "Case 1 opened"
        assert page.locator("#da-frame").count() == 0 and page.locator("#da-image").count() == 0
        assert page.locator("#da-measurements th").all_inner_texts() == ["Segment", "Voxels", "Area (mm²)"]
        start, end, brush = paint_stroke(page, browser, "radiograph-stroke", "Fracture")
        assert "submitted" in click_and_wait(page, "#da-submit")
        browser.shot(page, "radiograph-submitted")
    finally:
        web.stop()
    [image] = open_images(folders["dx"]).images
    painted = read_seg(submitted_seg(server, lead, 1, tmp_path / "fetched"), image).mask(1).astype(bool)
    surely, at_most = stroke_voxels(image.geometry, start, end, brush / 2)
    assert surely.sum() > 10
    assert_only_the_stroke(painted, surely, at_most, f"the stroke {start} -> {end}")


def test_a_cine_is_painted_on_two_frames_in_the_browser(planar_team, browser, tmp_path):
    """A generated ultrasound cine opens with a frame slider; strokes on frames 3 and 8 (not on the others) are the
    stored SEG's two frames, each naming the cine and its frame."""
    server, lead, folders = planar_team
    web = WebApp(server, tmp_path, max_sessions=1).start()
    try:
        page, opened = open_next_case_as_ann(browser, web, "echo")
        assert opened == "Case 2 opened"
        strokes = []
        for frame in (3, 8):
            assert show_frame(page, frame) == f"Frame {frame} of 12 shown"
            strokes.append(paint_stroke(page, browser, f"cine-stroke-frame-{frame}", "LV endocardium ED"))
        assert "submitted" in click_and_wait(page, "#da-submit")
    finally:
        web.stop()
    seg = submitted_seg(server, lead, 2, tmp_path / "fetched")
    [cine] = open_images(folders["echo"]).images
    stored = read_seg(seg, cine).mask(1).astype(bool)
    assert [int(k) for k in np.flatnonzero(stored.any(axis=(1, 2)))] == [2, 7]
    frame_grid = ImageGrid.of_pixels(cine.columns, cine.rows, 1, cine.calibration.spacing)
    for k, (start, end, brush) in zip((2, 7), strokes, strict=True):
        # 0.3 mm pixels, each about 4 pixels of the page: the mouse stands a page pixel (0.08 mm) from where the
        # probe read it, which the 3 % margin of SURELY_INSIDE (0.075 mm of the 2.5 mm radius) does not cover
        surely, at_most = stroke_voxels(frame_grid, start, end, brush / 2, surely_inside=0.9)
        assert surely.sum() > 10
        assert_only_the_stroke(stored[k:k + 1], surely, at_most, f"frame {k + 1}'s stroke {start} -> {end}")
    references = []
    for frame in pydicom.dcmread(seg).PerFrameFunctionalGroupsSequence:
        [source] = frame.DerivationImageSequence[0].SourceImageSequence
        references.append((source.ReferencedSOPInstanceUID, int(source.ReferencedFrameNumber)))
    assert references == [(cine.sop_instance_uid, 3), (cine.sop_instance_uid, 8)]


def test_an_exams_views_are_chosen_in_the_browser(planar_team, browser, tmp_path):
    """A case of two images opens on the first with an image list (no frame slider); choosing the second brings it
    into view (the desk says so: both views are copies of one image, so the pixels shown do not tell)."""
    server, _, _ = planar_team
    web = WebApp(server, tmp_path, max_sessions=1).start()
    try:
        page, opened = open_next_case_as_ann(browser, web, "mg")
        assert opened == "Case 3 opened"
        assert page.locator("#da-frame").count() == 0
        count = "document.querySelector('.v-window-item--active .da-messages').dataset.actions"
        before = page.evaluate(count)
        page.click("#da-image", force=True)
        page.click(".v-overlay .v-list-item:has-text('2: ')")
        page.wait_for_function(f"([before]) => {count} !== before", arg=[before])
        assert page.locator(".v-window-item--active .da-messages .v-alert").inner_text() == "Image 2 of 2 shown"
        browser.shot(page, "exam-second-view")
    finally:
        web.stop()
