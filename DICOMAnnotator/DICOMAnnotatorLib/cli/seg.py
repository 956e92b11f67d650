"""``dicom-annotator seg info``: what a SEG holds, from the file alone."""

from __future__ import annotations

import argparse

from .series import add_json_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    seg = subparsers.add_parser("seg", help="DICOM Segmentation objects")
    commands = seg.add_subparsers(dest="seg_command", metavar="SUBCOMMAND")
    commands.required = True
    info = commands.add_parser("info", help="segments, codes and voxel counts of a SEG (no series needed)")
    info.add_argument("seg", metavar="SEG", help="the DICOM SEG file")
    add_json_argument(info)
    info.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    from ..seg_info import seg_summary
    from .output import emit

    summary = seg_summary(args.seg)
    lines = [f"{args.seg}: {summary['segmentation_type']} SEG, {summary['frames']} frames, "
             f"series {summary['referenced_series_uid']}, by {summary['content_creator'] or 'unknown'}"]
    for segment in summary["segments"]:
        kind = segment["type"][2] if segment["type"] else "uncoded"
        lines.append(f"  {segment['number']:>3}  {segment['label']:<28} {kind:<24} {segment['voxels']:>10} voxels")
    emit(args.json, summary, "\n".join(lines))
    return 0
