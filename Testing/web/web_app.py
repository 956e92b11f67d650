"""The web app as a user meets it: ``dicom-annotator web`` as a process in front of a real team server, and
Debian's Chromium driven by Playwright (no browser download: ``executable_path``).

:class:`WebApp` starts the launcher on a free port; :class:`Browser` signs a user in on a page of its own
(each page is a separate browser context, so cookies are never shared) and writes a screenshot of each
step into the folder the run prints. Waits are on the page's own state (an element, a text), never sleeps.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import numpy as np
from conftest import COMMAND, chromium_command, require_tool
from processes import stop_process
from team_server import TeamServer, free_port, wait_until_answering

#: Slicer session processes take 7-30 s to answer on two busy cores; a case opens in a few seconds.
START_TIMEOUT_MS = 120_000
ACTION_TIMEOUT_MS = 60_000


class WebApp:
    """``dicom-annotator web --store URL`` on 127.0.0.1, its session processes' work under ``folder``."""

    def __init__(self, server: TeamServer, folder: Path, *, max_sessions: int = 4, idle_timeout: float = 1800) -> None:
        self.server, self.folder = server, folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [COMMAND, "web", "--store", server.url, "--port", str(self.port), "--work", str(folder / "work"),
                     "--max-sessions", str(max_sessions), "--idle-timeout", str(idle_timeout)]
        self.log = folder / "web.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> WebApp:
        env = dict(os.environ, DICOM_ANNOTATOR_CONFIG=str(self.folder / "config"))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_until_answering(self.process, self.url, self.log, "the web app")
        return self

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT, timeout=60)
        self.process = None

    def session_processes(self) -> dict[int, str]:
        """The launcher's running Slicer session processes: pid -> command line."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.process.pid and "DICOMAnnotatorLib.web.desk_app" in command:
                found[int(entry.name)] = command
        return found


class Browser:
    """Headless Chromium (Debian's) with one page per signed-in user; screenshots numbered by step."""

    def __init__(self, screenshots: Path, profile: Path) -> None:
        from playwright.sync_api import sync_playwright

        chromium = require_tool("chromium")
        self.screenshots, self.step = screenshots, 0
        self._playwright = sync_playwright().start()
        flags = [flag for flag in chromium_command(chromium, profile)[1:]
                 if flag != "--headless" and not flag.startswith("--user-data-dir")]
        self.browser = self._playwright.chromium.launch(executable_path=chromium, args=flags, headless=True)

    def page(self, url: str):
        """A new page in a browser context of its own (its own cookies: another user's browser)."""
        context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = context.new_page()
        page.goto(url)
        return page

    def shot(self, page, name: str) -> Path:
        self.step += 1
        path = self.screenshots / f"{self.step:02d}-{name}.png"
        page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


def sign_in(page, user: str, password: str) -> None:
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("#sign-in")


def wait_for_desk(page) -> None:
    """The user's Slicer session answers: the case panel is there."""
    page.wait_for_selector("#da-next-case", timeout=START_TIMEOUT_MS)


def click_and_wait(page, selector: str) -> str:
    """Click an action button and wait for the action to end; returns the line it left (green or red)."""
    count = "document.querySelector('.v-window-item--active .da-messages').dataset.actions"
    before = page.evaluate(count)
    page.click(selector)
    page.wait_for_function(f"([before]) => {count} !== before", arg=[before])
    return page.locator(".v-window-item--active .da-messages .v-alert").inner_text()


def axial_view(page):
    """The axial slice view's image: in trame-slicer's "Quad View" it is the bottom-right one."""
    boxes = [image.bounding_box() for image in page.query_selector_all("img.image-display-area")]
    return max(boxes, key=lambda box: (box["x"], box["y"]))


def three_d_view(page):
    """The 3D view's image: in trame-slicer's "Quad View" it is the top-right one."""
    boxes = [image.bounding_box() for image in page.query_selector_all("img.image-display-area")]
    return max(boxes, key=lambda box: (box["x"], -box["y"]))


def view_pixels(page, box) -> np.ndarray:
    """What the page shows in ``box`` (a view's image) as RGB rows, top row first."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")).astype(int)


PROBE = re.compile(r"RAS \(([-\d.]+), ([-\d.]+), ([-\d.]+)\) mm\s+IJK \((\d+), (\d+), (\d+)\).*brush ([\d.]+) mm")


def probe_at(page, x: float, y: float) -> tuple[tuple[float, float, float], tuple[int, int, int], float]:
    """Move the mouse to (x, y) and read the data probe there: (RAS mm, IJK, brush diameter mm)."""
    before = page.inner_text("#da-probe")
    page.mouse.move(x, y)
    page.wait_for_function("([before]) => { const t = document.querySelector('#da-probe').innerText;"
                           " return t !== before && t.includes('IJK'); }", arg=[before])
    found = PROBE.search(page.inner_text("#da-probe"))
    assert found, page.inner_text("#da-probe")
    values = found.groups()
    ras = json.loads(page.get_attribute("#da-probe", "data-ras"))  # to the micrometre, where the text rounds
    return tuple(ras), tuple(int(v) for v in values[3:6]), float(values[6])


#: The brush is a polygonal sphere (16 x 16 facets, inside the true sphere by at most 2 % of its radius) whose
#: positions along a stroke are at most a tenth of its diameter apart, rasterized onto the voxel grid: every voxel
#: whose centre is nearer the stroke than 97 % of the radius is painted, and no voxel that the brush does not reach
#: (centre farther than the radius plus half the voxel's in-plane diagonal).
SURELY_INSIDE = 0.97


def paint_stroke(page, browser: Browser, name: str, segment: str = "Liver"):
    """Paint a horizontal stroke across the middle of the axial view with the editor's selected segment (the
    first, ``segment``); returns its two ends (RAS mm) and the brush diameter (mm), as the data probe read them."""
    size = ("([segment]) => { const cells = [...document.querySelectorAll('#da-measurements td')];"
            " const n = cells.findIndex(cell => cell.innerText === segment);"
            " return n < 0 ? null : cells[n + 1].innerText; }")
    before = page.evaluate(size, [segment])
    page.click("#da-tool-SegmentEditorUI")
    page.click("button:has(i.mdi-brush):not(#da-tool-SegmentEditorUI) >> nth=0")
    view = axial_view(page)
    y = view["y"] + view["height"] * 0.5
    x0, x1 = view["x"] + view["width"] * 0.42, view["x"] + view["width"] * 0.58
    end, _, _ = probe_at(page, x1, y)  # one mouse move each: the probe shows that position
    start, _, brush = probe_at(page, x0, y)
    page.mouse.down()
    page.mouse.move(x0 + 0.01, y)  # the brush starts painting at the first move with the button down
    page.mouse.move(x1, y, steps=12)
    page.mouse.move(x1, y)
    page.mouse.up()
    page.click("#da-tool-CasePanel")
    page.wait_for_function(f"([segment, before]) => {{ const now = ({size})([segment]);"
                           " return now !== null && now !== before; }", arg=[segment, before])
    browser.shot(page, name)
    return np.array(start), np.array(end), brush


def stroke_voxels(geometry, start_ras, end_ras, radius: float,
                  surely_inside: float = SURELY_INSIDE) -> tuple[np.ndarray, np.ndarray]:
    """Masks ([k, j, i]) of the voxels whose centres lie within ``surely_inside * radius`` of the stroke, and of those
    the brush reaches (centre within the radius plus half the voxel's in-plane diagonal), on ``geometry`` (a
    series' grid, or a 2D image's or cine frame's as the views show it)."""
    k, j, i = np.indices(geometry.array_shape)
    centres_lps = geometry.index_to_lps(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(float))
    centres = centres_lps * np.array([-1.0, -1.0, 1.0])  # LPS -> RAS
    direction = end_ras - start_ras
    along = np.clip((centres - start_ras) @ direction / (direction @ direction), 0.0, 1.0)
    distance = np.linalg.norm(centres - (start_ras + along[:, None] * direction), axis=1).reshape(k.shape)
    reach = radius + 0.5 * float(np.hypot(*geometry.spacing[:2]))
    return distance <= surely_inside * radius, distance <= reach
