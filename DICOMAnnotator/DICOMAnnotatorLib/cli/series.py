"""``dicom-annotator series info``."""

from __future__ import annotations

import argparse


def add_series_arguments(parser: argparse.ArgumentParser, name: str = "series") -> None:
    """The SERIES argument of every command: a folder or a list of files, plus --series-uid."""
    parser.add_argument(name, nargs="+", metavar=name.upper(),
                        help="a folder (searched recursively) or DICOM files of one series")
    parser.add_argument("--series-uid", help="the series to use when the folder holds several")


def add_json_argument(parser: argparse.ArgumentParser, shape: str | None = None) -> None:
    """``--json``; ``shape`` names the keys of the object printed, for ``--help`` and docs/cli.md."""
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    if shape:
        parser.epilog = f"With --json: {shape}"


def register(subparsers: argparse._SubParsersAction) -> None:
    series = subparsers.add_parser("series", help="inspect DICOM image series")
    commands = series.add_subparsers(dest="series_command", metavar="SUBCOMMAND")
    commands.required = True
    info = commands.add_parser("info", help="geometry of one series (size, spacing, LPS affine)")
    add_series_arguments(info)
    add_json_argument(info, '{"series_instance_uid", "modality", "size": [columns, rows, slices], '
                            '"spacing": [mm, mm, mm], "affine": 4x4 row-major voxel (i, j, k) to patient LPS mm, '
                            '"instances"}')
    info.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from ..imaging import ReferenceSeries
    from .output import emit

    series = ReferenceSeries.from_paths(args.series, series_uid=args.series_uid)
    payload = series.to_json()
    g = series.geometry
    text = "\n".join([
        f"Series {series.series_instance_uid} ({series.modality}, {series.instance_count} instances)",
        f"Size:    {g.size[0]} x {g.size[1]} x {g.size[2]} (columns x rows x slices)",
        "Spacing: " + " x ".join(f"{v:.6g}" for v in g.spacing) + " mm",
        "Affine (voxel index to LPS mm):",
        *("  " + " ".join(f"{v:12.6g}" for v in row) for row in g.affine),
    ])
    emit(args.json, payload, text)
    return 0
