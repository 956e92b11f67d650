"""The browser app under load: time from "open case" to the first rendered slice, and each session's memory.

    .venv/bin/python benchmarks/web_benchmark.py [--users 1 4] [--size 512 512 300]

Starts a team server with a CT phantom series per user (512 x 512 x 300 by default), ``dicom-annotator
web``, and Debian's Chromium through Playwright with one browser context per user. All users sign in
together, then click "Next case" together; for each, the time runs from the click to the moment the
axial view in the page shows the case's slice (its picture is no longer uniform), and the resident memory
of their Slicer session process is read from /proc then.

The contender is the desktop path on the same data: the MRML desk the Slicer module runs
(``AnnotatorDesk.open_next_case``, fetching the case from the same team server) in a slicer-core process
of its own, timed to its first axial slice rendered offscreen (Testing/bridge/views.py). Printed as JSON:
one object per number of users, with the ratios against one user and against the desktop path.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "Testing"), str(REPO / "Testing" / "web"), str(REPO / "Testing" / "bridge")]

PASSWORD = "benchmark-correct horse battery"
PROJECT = "bench"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def is_a_slice(grey) -> bool:
    """Whether a picture has more than one grey level (a slice, not an empty view)."""
    return float(grey.std()) > 5.0


def axial_shows_an_image(page) -> bool:
    import io

    import numpy as np
    from PIL import Image
    from web_app import axial_view

    return is_a_slice(np.asarray(Image.open(io.BytesIO(page.screenshot(clip=axial_view(page)))).convert("L")))


@contextmanager
def team_with_cases(folder: Path, names: list[str], size: tuple[int, int, int]):
    """A team server where each annotator of ``names`` has a case of their own: (server URL)."""
    from DICOMAnnotatorLib.imaging import phantoms
    from team_server import TeamServer, Workstation

    server = TeamServer(f"sqlite:///{folder / 'server.db'}", folder)
    server.add_first_lead("lead", PASSWORD)
    server.start()
    try:
        lead = Workstation(folder / "lead", server)
        lead.login("lead", PASSWORD)
        for name in names:
            lead.ok("user", "add", name, "--role", "annotator", "--password-stdin", stdin=PASSWORD + "\n")
        lead.ok("project", "create", PROJECT, "--protocol", "liver-lesions-ct", "--annotators", "1")
        geometry = phantoms.phantom_geometry(size=size, spacing=(0.7, 0.7, 1.0))
        hu = phantoms.phantom_volume(geometry)[0]
        for n in range(len(names)):
            phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), folder / f"series-{n}")
        lead.ok("case", "add", PROJECT, *[folder / f"series-{n}" for n in range(len(names))])
        lead.ok("case", "assign", PROJECT)
        yield server
    finally:
        server.stop()


def web(users: int, size: tuple[int, int, int], folder: Path) -> dict:
    from web_app import Browser, WebApp, sign_in, wait_for_desk

    names = [f"user{n}" for n in range(users)]
    with team_with_cases(folder, names, size) as server:
        app = WebApp(server, folder, max_sessions=users).start()
        browser = Browser(folder / "shots", folder / "profile")
        try:
            pages = [browser.page(app.url) for _ in names]
            for page, name in zip(pages, names, strict=True):
                sign_in(page, name, PASSWORD)
            for page in pages:
                wait_for_desk(page)
                page.fill("#da-project", PROJECT)
            processes = app.session_processes()
            started = time.monotonic()
            timings: list[float] = []
            for page in pages:  # the clicks go out together; the sessions work in parallel
                page.click("#da-next-case")
            for page in pages:
                page.wait_for_selector("#da-annotate-case", timeout=600_000)
                while not axial_shows_an_image(page):
                    page.wait_for_timeout(100)
                timings.append(time.monotonic() - started)
            memory = [rss_mb(pid) for pid in processes]
        finally:
            browser.close()
            app.stop()
    return {"users": users, "size": list(size), "open_to_first_slice_s": [round(t, 2) for t in timings],
            "session_rss_mb": [round(m) for m in memory]}


def desktop(size: tuple[int, int, int], folder: Path) -> dict:
    """The desktop path, in a process of its own (``--desktop``): its time and its resident memory then."""
    with team_with_cases(folder, ["desk"], size) as server:
        shown = subprocess.run([sys.executable, __file__, "--desktop", server.url, str(folder / "desk-work")],
                               capture_output=True, text=True, check=True, timeout=1800)
    return {"contender": "desktop MRML desk (slicer-core, offscreen)", "size": list(size),
            **json.loads(shown.stdout.strip().splitlines()[-1])}


def desktop_open(url: str, work: Path) -> dict:
    """Sign in, open the next case at the annotator's desk, render the axial slice: seconds and memory."""
    import os

    import numpy as np
    from DICOMAnnotatorLib.mrml import AnnotatorDesk, create_headless_scene
    from DICOMAnnotatorLib.server import RemoteService, sign_in
    from views import OffscreenViews

    service = RemoteService(url, token=sign_in(url, "desk", PASSWORD)["token"])
    scene = create_headless_scene()
    views = OffscreenViews(scene)
    started = time.monotonic()
    session = AnnotatorDesk(scene, None, "desk", work, service=service).open_next_case(PROJECT)
    axial = views.slice_view(session.volume_node, (512, 512))
    assert is_a_slice(np.asarray(axial.pixels()).mean(axis=2))
    seconds = time.monotonic() - started
    return {"open_to_first_slice_s": round(seconds, 2), "rss_mb": round(rss_mb(os.getpid()))}


def main() -> None:
    if sys.argv[1:2] == ["--desktop"]:
        print(json.dumps(desktop_open(sys.argv[2], Path(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--size", type=int, nargs=3, default=[512, 512, 300])
    parser.add_argument("--no-desktop", action="store_true", help="leave out the desktop path")
    args = parser.parse_args()
    size = tuple(args.size)
    results = []
    for users in args.users:
        with tempfile.TemporaryDirectory(prefix="web-benchmark-") as folder:
            results.append(web(users, size, Path(folder)))
    one = results[0]
    reference = None
    if not args.no_desktop:
        with tempfile.TemporaryDirectory(prefix="web-benchmark-") as folder:
            reference = desktop(size, Path(folder))
    for result in results:
        slowest = max(result["open_to_first_slice_s"])
        result["slowest_vs_one_user"] = round(slowest / max(one["open_to_first_slice_s"]), 2)
        result["memory_vs_one_user"] = round(max(result["session_rss_mb"]) / max(one["session_rss_mb"]), 2)
        if reference:
            result["slowest_vs_desktop"] = round(slowest / reference["open_to_first_slice_s"], 2)
            result["memory_vs_desktop"] = round(max(result["session_rss_mb"]) / reference["rss_mb"], 2)
    print(json.dumps({"web": results, "desktop": reference}, indent=1))


if __name__ == "__main__":
    main()
