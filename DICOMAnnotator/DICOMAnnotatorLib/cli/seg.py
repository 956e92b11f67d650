"""``dicom-annotator seg export|import|info``: label maps to DICOM SEG and back, and what a SEG holds."""

from __future__ import annotations

import argparse

from .series import add_json_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    seg = subparsers.add_parser("seg", help="DICOM Segmentation objects")
    commands = seg.add_subparsers(dest="seg_command", metavar="SUBCOMMAND")
    commands.required = True

    export = commands.add_parser(
        "export", help="a label map (or probability maps) on a series as a DICOM SEG",
        description="Label value v becomes the protocol structure with label_value v. With --type fractional, "
                    "give one probability image in [0, 1] per --structure, after the series.")
    export.add_argument("inputs", nargs="+", metavar="SERIES... LABELMAP",
                        help="the series (a folder or its files), then the label map (or the probability maps)")
    export.add_argument("-o", "--output", required=True, metavar="OUT.dcm", help="the SEG file to write")
    export.add_argument("--series-uid", help="the series to use when the folder holds several")
    export.add_argument("--protocol", metavar="FILE|ID", help="the protocol whose structures the label values are")
    export.add_argument("--type", choices=["binary", "labelmap", "fractional"], default="binary",
                        help="SEG type (default binary: read by every viewer)")
    export.add_argument("--structure", action="append", default=[], metavar="LABEL",
                        help="for --type fractional: the structure of each probability map, in order")
    export.add_argument("--creator", metavar="Family^Given", help="the annotator (Content Creator's Name)")
    export.add_argument("--series-number", type=int, help="series number of the SEG (default: source's + 1000)")
    export.add_argument("--series-description", help="series description of the SEG")
    export.add_argument("--force", action="store_true", help="replace an existing output")
    add_json_argument(export)
    export.set_defaults(func=_export)

    imported = commands.add_parser("import", help="a SEG as a label map (or one mask per segment) on its series")
    imported.add_argument("seg", metavar="SEG", help="the DICOM SEG file")
    imported.add_argument("--series", nargs="+", required=True, metavar="SERIES",
                          help="the image series the SEG segments (folder or files)")
    imported.add_argument("--series-uid", help="the series to use when the folder holds several")
    imported.add_argument("-o", "--output", required=True, metavar="OUT",
                          help="label-map file (.nii.gz, .nrrd, .mha), or a folder with --split")
    imported.add_argument("--split", action="store_true", help="one mask per segment (needed for overlaps)")
    imported.add_argument("--protocol", metavar="FILE|ID",
                          help="give segments the protocol's label values (matched by their codes)")
    imported.add_argument("--force", action="store_true", help="replace existing outputs")
    add_json_argument(imported, 'the sidecar OUT.json: {"segments": [{"number", "label", "label_value", '
                                '"type": CODE}]}; CODE is [code_value, coding_scheme_designator, code_meaning]')
    imported.set_defaults(func=_import)

    info = commands.add_parser("info", help="segments, codes and voxel counts of a SEG (no series needed)")
    info.add_argument("seg", metavar="SEG", help="the DICOM SEG file")
    add_json_argument(info, '{"sop_class_uid", "segmentation_type": BINARY|FRACTIONAL|LABELMAP, '
                            '"transfer_syntax_uid", "referenced_series_uid", "frames", "content_creator", '
                            '"segments": [{"number", "label", "category": CODE, "type": CODE, "voxels", '
                            '"fraction_sum" (FRACTIONAL)}]}')
    info.set_defaults(func=_info)


def _protocol(source: str | None):
    if source is None:
        return None
    from ..protocols import load_protocol

    return load_protocol(source)


def _export(args: argparse.Namespace) -> int:
    from ..atomic import check_output
    from ..errors import InputError
    from ..imaging import from_labelmap_file, from_probability_files, open_grid
    from ..seg import write_seg
    from .output import emit, warn

    check_output(args.output, force=args.force)
    fractional = args.type == "fractional"
    if fractional and not args.structure:
        raise InputError("--type fractional needs --structure LABEL for each probability map")
    if args.structure and not fractional:
        raise InputError("--structure is for --type fractional; a label map's values name its structures")
    image_count = len(args.structure) if fractional else 1
    if len(args.inputs) <= image_count:
        raise InputError(f"Give the series and then {image_count} image file(s); got {len(args.inputs)} path(s)")
    series_paths, images = args.inputs[:-image_count], args.inputs[-image_count:]
    protocol = _protocol(args.protocol)
    series = open_grid(series_paths, series_uid=args.series_uid, purpose="a label map")
    if fractional:
        segmentation = from_probability_files(series, images, args.structure, protocol=protocol, author=args.creator)
    else:
        result = from_labelmap_file(series, images[0], protocol=protocol, author=args.creator)
        segmentation = result.segmentation
        if result.undescribed_labels:
            warn(f"Label values {list(result.undescribed_labels)} of {images[0]} have no protocol: written as "
                 "'Segment v' with the generic code Tissue; give --protocol to code them")
    write_seg(segmentation, args.output, segmentation_type=args.type, force=args.force, creator=args.creator,
              series_number=args.series_number, series_description=args.series_description)
    segments = [{"number": n, "label": d.label, "label_value": d.number, "type": d.type.as_list(),
                 "voxels": segmentation.voxel_count(d.number)}
                for n, d in enumerate(segmentation.segments, start=1)]
    emit(args.json, {"output": str(args.output), "segmentation_type": args.type.upper(), "segments": segments},
         f"Wrote {args.output}: {args.type.upper()} SEG of {len(segments)} segment(s) on series "
         f"{series.series_instance_uid}\n" + "\n".join(
             f"  {s['number']:>3}  {s['label']:<28} {s['voxels']:>10} voxels" for s in segments))
    return 0


def _import(args: argparse.Namespace) -> int:
    from ..atomic import check_output
    from ..imaging import label_values, open_grid, write_labelmap_files
    from ..seg import read_seg
    from .output import emit

    check_output(args.output, force=args.force)
    series = open_grid(args.series, series_uid=args.series_uid, purpose="a SEG")
    segmentation = read_seg(args.seg, series)
    values = label_values(segmentation, _protocol(args.protocol))
    files = write_labelmap_files(segmentation, args.output, values=values, split=args.split, force=args.force)
    segments = [{"number": d.number, "label": d.label, "label_value": values[d.number], "type": d.type.as_list(),
                 "voxels": segmentation.voxel_count(d.number)} for d in segmentation.segments]
    emit(args.json, {"files": [str(f) for f in files], "segments": segments},
         "Wrote\n" + "\n".join(f"  {f}" for f in files))
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..seg import seg_summary
    from .output import emit

    summary = seg_summary(args.seg)
    lines = [f"{args.seg}: {summary['segmentation_type']} SEG, {summary['frames']} frames, "
             f"series {summary['referenced_series_uid']}, by {summary['content_creator'] or 'unknown'}"]
    for segment in summary["segments"]:
        kind = segment["type"][2] if segment["type"] else "uncoded"
        lines.append(f"  {segment['number']:>3}  {segment['label']:<28} {kind:<24} {segment['voxels']:>10} voxels")
    emit(args.json, summary, "\n".join(lines))
    return 0
