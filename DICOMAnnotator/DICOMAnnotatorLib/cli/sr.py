"""``dicom-annotator sr export|info``: TID 1500 Measurement Reports of segments, labels and marks."""

from __future__ import annotations

import argparse

from .series import add_json_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    sr = subparsers.add_parser("sr", help="DICOM SR TID 1500 measurement reports")
    commands = sr.add_subparsers(dest="sr_command", metavar="SUBCOMMAND")
    commands.required = True

    export = commands.add_parser(
        "export", help="measure every segment of a SEG (volume, maximum diameter, intensity) into a TID 1500 SR, "
                       "with marks (SCOORD3D on volumes, SCOORD on 2D images and cine) and labels; with a protocol "
                       "that names an ejection fraction rule, the EDV, ESV and EF of its two segments")
    export.add_argument("seg", metavar="SEG", nargs="?",
                        help="the DICOM SEG file (optional with --marks or --labels: a report of those alone)")
    export.add_argument("--series", nargs="+", required=True, metavar="SERIES",
                        help="the image series the SEG segments or the marks are on: a folder (searched "
                             "recursively) or files; 2D images and cine too")
    export.add_argument("--series-uid", help="the series to use when the folder holds several")
    export.add_argument("-o", "--output", required=True, metavar="OUT.dcm", help="the SR file to write")
    export.add_argument("--protocol", metavar="FILE|ID",
                        help="protocol that labels and marks are checked against (and whose ejection fraction rule, "
                             "if any, is applied)")
    export.add_argument("--labels", metavar="FILE.json",
                        help='coded classification labels: {"labels": [{"segment": LABEL_OR_NUMBER | "mark": INDEX, '
                             '"name": CODE, "value": CODE}]}')
    export.add_argument("--marks", metavar="FILE.json", help="boxes, landmarks and other marks (CLI.md's marks form)")
    export.add_argument("--creator", metavar="Family^Given",
                        help="the observer (default: the SEG's content creator)")
    export.add_argument("--force", action="store_true", help="replace an existing output")
    add_json_argument(export)
    export.set_defaults(func=_export)

    info = commands.add_parser("info", help="measurements, labels and regions of a TID 1500 SR")
    info.add_argument("sr", metavar="SR", help="the DICOM SR file")
    add_json_argument(info, '{"measurements": [{"segment", "tracking_uid", "name": CODE, "value", '
                            '"unit": CODE, "derivation": CODE, "method": CODE}], "labels": [...]}')
    info.set_defaults(func=_info)


def _export(args: argparse.Namespace) -> int:
    from ..sr import export_sr, sr_summary
    from .output import emit

    export_sr(args.seg, args.series, args.output, series_uid=args.series_uid, protocol=args.protocol,
              labels_path=args.labels, marks_path=args.marks, creator=args.creator, force=args.force)
    summary = sr_summary(args.output)
    payload = {"output": str(args.output), **summary}
    lines = [f"Wrote {args.output}: {len(summary['measurements'])} measurements, {len(summary['labels'])} labels, "
             f"{len(summary['regions'])} regions"]
    lines += [f"  {_measurement_line(m)}" for m in summary["measurements"] if m["segment"] is None and m["method"]]
    emit(args.json, payload, "\n".join(lines))
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..sr import sr_summary
    from .output import emit

    summary = sr_summary(args.sr)
    lines = [f"{args.sr}: {summary['title'][2]}, {len(summary['measurements'])} measurements, "
             f"{len(summary['labels'])} labels, {len(summary['regions'])} regions"]
    lines += [f"  {_target(m):<28} {_measurement_line(m)}" for m in summary["measurements"]]
    for label in summary["labels"]:
        lines.append(f"  {_target(label):<28} {label['name'][2]}: {label['value'][2]}")
    for region in summary["regions"]:
        points = region.get("points_mm") or region["points"]
        lines.append(f"  {_target(region):<28} {region['graphic_type']} of {len(points)} points")
    emit(args.json, summary, "\n".join(lines))
    return 0


def _measurement_line(m: dict) -> str:
    """A measurement for people: its name, derivation or method, value and unit."""
    modifier = m["derivation"] or m["method"]
    name = m["name"][2] + (f" ({modifier[2]})" if modifier else "")
    value = "n/a" if m["value"] is None else f"{m['value']:.6g} {m['unit'][0]}"
    return f"{name:<40} {value}"


def _target(entry: dict) -> str:
    """How a measurement's group is named for people: segment number and tracking identifier."""
    parts = [f"segment {entry['segment']}" if entry["segment"] is not None else None, entry["tracking_id"]]
    return " ".join(part for part in parts if part) or "-"
