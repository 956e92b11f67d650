"""``dicom-annotator demo``: the whole flow on generated sample data."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the whole flow on generated sample data")
    demo.add_argument("-o", "--output", default="dicom-annotator-demo",
                      help="folder for the demo's files (default: ./dicom-annotator-demo)")
    demo.add_argument("--force", action="store_true", help="replace an existing output folder")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    for line in run_demo(args.output, force=args.force):
        print(line, flush=True)
    return 0
