"""The browser app under load: time from "open case" to the first rendered slice, and each session's memory.

    .venv/bin/python benchmarks/web_benchmark.py [--users 1 4] [--size 512 512 300]

Starts a team server with a CT phantom series per user (512 x 512 x 300 by default), ``dicom-annotator
web``, and Debian's Chromium through Playwright with one browser context per user. All users sign in
together, then click "Next case" together; for each, the time runs from the click to the moment the
axial view shows the case's slice (its image is no longer uniform), and the resident memory of their
Slicer session process is read from /proc then. Printed as JSON, one object per number of users, with
the ratios against one user.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "Testing"), str(REPO / "Testing" / "web")]

PASSWORD = "benchmark-correct horse battery"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def axial_shows_an_image(page) -> bool:
    """Whether the axial view's picture has more than one grey level (a slice, not the empty view)."""
    import io

    import numpy as np
    from PIL import Image
    from web_app import axial_view

    box = axial_view(page)
    picture = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=box))).convert("L"))
    return float(picture.std()) > 5.0


def run(users: int, size: tuple[int, int, int], folder: Path) -> dict:
    from DICOMAnnotatorLib.imaging import phantoms
    from team_server import TeamServer, Workstation
    from web_app import Browser, WebApp, sign_in, wait_for_desk

    server = TeamServer(f"sqlite:///{folder / 'server.db'}", folder)
    server.add_first_lead("lead", PASSWORD)
    server.start()
    try:
        lead = Workstation(folder / "lead", server)
        lead.login("lead", PASSWORD)
        names = [f"user{n}" for n in range(users)]
        for name in names:
            lead.ok("user", "add", name, "--role", "annotator", "--password-stdin", stdin=PASSWORD + "\n")
        lead.ok("project", "create", "bench", "--protocol", "liver-lesions-ct", "--annotators", "1")
        geometry = phantoms.phantom_geometry(size=size, spacing=(0.7, 0.7, 1.0))
        hu = phantoms.phantom_volume(geometry)[0]
        for n in range(users):
            phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), folder / f"series-{n}")
        lead.ok("case", "add", "bench", *[folder / f"series-{n}" for n in range(users)])
        lead.ok("case", "assign", "bench")
        web = WebApp(server, folder, max_sessions=users).start()
        browser = Browser(folder / "shots", folder / "profile")
        try:
            pages = [browser.page(web.url) for _ in names]
            for page, name in zip(pages, names, strict=True):
                sign_in(page, name, PASSWORD)
            for page in pages:
                wait_for_desk(page)
                page.fill("#da-project", "bench")
            processes = web.session_processes()
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
            web.stop()
    finally:
        server.stop()
    return {"users": users, "size": list(size), "open_to_first_slice_s": [round(t, 2) for t in timings],
            "session_rss_mb": [round(m) for m in memory]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--size", type=int, nargs=3, default=[512, 512, 300])
    args = parser.parse_args()
    results = []
    for users in args.users:
        with tempfile.TemporaryDirectory(prefix="web-benchmark-") as folder:
            results.append(run(users, tuple(args.size), Path(folder)))
    one = results[0]
    for result in results:
        result["slowest_vs_one_user"] = round(max(result["open_to_first_slice_s"]) /
                                              max(one["open_to_first_slice_s"]), 2)
        result["memory_vs_one_user"] = round(max(result["session_rss_mb"]) / max(one["session_rss_mb"]), 2)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
