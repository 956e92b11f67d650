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
    info = commands.add_parser("info", help="geometry of one series (size, spacing, LPS affine), or of 2D images "
                                            "and cine with their calibration")
    add_series_arguments(info)
    add_json_argument(info, '{"kind": "volume"|"image"|"cine", "series_instance_uid", "modality", '
                            '"size": [columns, rows, slices_or_frames], "spacing": [mm, mm(, mm)] or null, '
                            '"calibration": "patient"|"pixel_spacing"|"imager_pixel_spacing"|"magnification_corrected"'
                            '|"ultrasound_regions"|"none", "affine": 4x4 row-major voxel (i, j, k) to patient LPS mm '
                            '(volumes only), "instances"}')
    info.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from ..imaging import ReferenceSeries, open_images
    from .output import emit

    series = open_images(args.series, series_uid=args.series_uid)
    payload = series.to_json()
    if not isinstance(series, ReferenceSeries):
        emit(args.json, payload, _planar_text(series))
        return 0
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


def _planar_text(series) -> str:
    """``series info`` for people, on 2D images and cine: each image's size, frames and calibration."""
    lines = [f"Series {series.series_instance_uid} ({series.modality}, {series.instance_count} "
             f"{'image' if series.instance_count == 1 else 'images'}, {series.kind})"]
    for image in series.images:
        spacing = image.calibration.spacing
        measured = (" x ".join(f"{v:.6g}" for v in spacing) + " mm per pixel (column x row)") if spacing \
            else "uncalibrated: measurements in pixels"
        lines.append(f"  {image.sop_instance_uid}: {image.columns} x {image.rows}"
                     + (f", {image.frame_count} frames" if image.frame_count > 1 else "")
                     + f", {image.photometric_interpretation}; {image.calibration.kind.value}: {measured}")
    return "\n".join(lines)
