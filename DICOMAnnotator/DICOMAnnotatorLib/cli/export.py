"""``dicom-annotator export nifti|models``: a SEG on its series, for training pipelines and surgical planning."""

from __future__ import annotations

import argparse

from .series import add_json_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser("export", help="export a SEG as NIfTI (image + labels) or surface models")
    commands = export.add_subparsers(dest="export_command", metavar="SUBCOMMAND")
    commands.required = True
    nifti = commands.add_parser("nifti", help="DIR/image.nii.gz, DIR/labels.nii.gz and DIR/labels.json")
    models = commands.add_parser("models", help="one surface per segment (NN-label.stl, or .obj + .mtl)")
    models.add_argument("--format", choices=["stl", "obj"], default="stl")
    for parser in (nifti, models):
        parser.add_argument("seg", metavar="SEG", help="the DICOM SEG file")
        parser.add_argument("--series", nargs="+", required=True, metavar="SERIES",
                            help="the image series the SEG segments (folder or files)")
        parser.add_argument("--series-uid", help="the series to use when the folder holds several")
        parser.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to create")
        parser.add_argument("--force", action="store_true", help="replace an existing folder")
        add_json_argument(parser)
    nifti.set_defaults(func=_nifti)
    models.set_defaults(func=_models)


def _read(args: argparse.Namespace):
    from ..imaging import ReferenceSeries
    from ..seg import read_seg

    series = ReferenceSeries.from_paths(args.series, series_uid=args.series_uid)
    return read_seg(args.seg, series)


def _nifti(args: argparse.Namespace) -> int:
    from ..atomic import check_output
    from ..export import export_nifti, label_table
    from .output import emit

    check_output(args.output, force=args.force)
    segmentation = _read(args)
    folder = export_nifti(segmentation, args.output, force=args.force, source=str(args.seg))
    files = [str(folder / name) for name in ("image.nii.gz", "labels.nii.gz", "labels.json")]
    emit(args.json, {"files": files, "labels": label_table(segmentation)["labels"]},
         "Wrote\n" + "\n".join(f"  {f}" for f in files))
    return 0


def _models(args: argparse.Namespace) -> int:
    from ..atomic import check_output
    from ..export import export_models
    from .output import emit, warn

    check_output(args.output, force=args.force)
    segmentation = _read(args)
    files = export_models(segmentation, args.output, file_format=args.format, force=args.force)
    empty = [d.label for d in segmentation.segments if segmentation.voxel_count(d.number) == 0]
    if empty:
        warn(f"No model for empty segment(s): {', '.join(empty)}")
    emit(args.json, {"files": [str(f) for f in files]}, "Wrote\n" + "\n".join(f"  {f}" for f in files))
    return 0
