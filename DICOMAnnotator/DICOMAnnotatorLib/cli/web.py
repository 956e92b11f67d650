"""``dicom-annotator web``: the browser app, signing users in on a team server."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    web = subparsers.add_parser(
        "web", help="serve the browser app: sign-in with the team server's users, one Slicer session per user",
        description="Serves the annotate, review and sign pages on 127.0.0.1 (behind a TLS proxy for other "
                    "machines). Users sign in with their account on the team server; each signed-in user gets a "
                    "Slicer session process of their own (trame-slicer), stopped at sign-out or after the idle "
                    "time. Needs: pip install 'dicom-annotator[web]'.")
    web.add_argument("--store", metavar="URL", default=os.environ.get("DICOM_ANNOTATOR_STORE"),
                     help="the team server (https://host:port, or http://127.0.0.1:port); default "
                          "$DICOM_ANNOTATOR_STORE")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; loopback only)")
    web.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    web.add_argument("--max-sessions", type=int, default=4, metavar="N",
                     help="most users signed in at once, one Slicer session process each (default 4; each takes "
                          "about 0.6 GB)")
    web.add_argument("--idle-timeout", type=float, default=1800, metavar="SECONDS",
                     help="stop a user's session after this long without use (default 1800)")
    web.add_argument("--work", type=Path, metavar="DIR",
                     help="where each user's fetched case files, drafts and session log go (default "
                          "$XDG_DATA_HOME/dicom-annotator/web)")
    web.set_defaults(func=_web)


def _web(args: argparse.Namespace) -> int:
    from ..server import is_server_url
    from ..web import LauncherSettings, default_work_root, run_launcher

    if not is_server_url(args.store):
        raise InputError(f"The web app signs users in on a team server; give --store https://HOST:PORT (or "
                         f"http://127.0.0.1:PORT), not {args.store or 'nothing'}")
    run_launcher(LauncherSettings(server_url=args.store, work_root=args.work or default_work_root(), host=args.host,
                                  port=args.port, max_sessions=args.max_sessions, idle_seconds=args.idle_timeout))
    return 0
