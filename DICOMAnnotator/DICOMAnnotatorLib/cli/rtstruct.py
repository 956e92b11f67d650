"""``dicom-annotator rtstruct import|export``: RT Structure Set ROIs to label maps, and SEG segments to ROIs."""

from __future__ import annotations

import argparse

from .series import add_json_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    rtstruct = subparsers.add_parser("rtstruct", help="DICOM RT Structure Sets (contours)")
    commands = rtstruct.add_subparsers(dest="rtstruct_command", metavar="SUBCOMMAND")
    commands.required = True

    imported = commands.add_parser(
        "import", help="an RT Structure Set's ROIs as a label map (or one mask per ROI) on their series",
        description="Closed planar contours are filled on their slice (voxel centres inside, even-odd across "
                    "a slice's contours); an ROI without closed contours is listed, empty. With --protocol the "
                    "ROIs become the protocol's structures (by --labels, then by code, then by name, as draft "
                    "import maps labels) and the label values are the structures'.")
    imported.add_argument("rtstruct", metavar="RTSTRUCT", help="the RT Structure Set file")
    imported.add_argument("--series", nargs="+", required=True, metavar="SERIES",
                          help="the image series the contours were drawn on (folder or files)")
    imported.add_argument("--series-uid", help="the series to use when the folder holds several")
    imported.add_argument("-o", "--output", required=True, metavar="OUT",
                          help="label-map file (.nii.gz, .nrrd, .mha), or a folder with --split")
    imported.add_argument("--split", action="store_true", help="one mask per ROI (needed for overlaps)")
    imported.add_argument("--protocol", metavar="FILE|ID",
                          help="map the ROIs onto this protocol's volume and contour structures; an ROI that maps "
                               "onto none is an error naming it and the structures")
    imported.add_argument("--labels", metavar="FILE.json",
                          help='with --protocol: {"ROI name or number": "structure label" | null} decides first '
                               "(null leaves the ROI out)")
    imported.add_argument("--drop-unmapped", action="store_true",
                          help="with --protocol: leave out ROIs that map onto no structure (they are listed)")
    imported.add_argument("--force", action="store_true", help="replace existing outputs")
    add_json_argument(imported, '{"files", "segments": [{"number", "label", "label_value", "type": CODE, "voxels", '
                                '"contours"}], with --protocol "structures": [{"structure", "labels": [{"name", '
                                '"values", "matched_by"}]}], "dropped"}; the sidecar OUT.json names each label value')
    imported.set_defaults(func=_import)

    export = commands.add_parser("export", help="a SEG's segments as the ROIs of an RT Structure Set",
                                 description="One ROI per segment (name = segment label, colour and type code "
                                             "kept), its contours along the voxels' edges on each slice.")
    export.add_argument("seg", metavar="SEG", help="the DICOM SEG file")
    export.add_argument("--series", nargs="+", required=True, metavar="SERIES",
                        help="the image series the SEG segments (folder or files)")
    export.add_argument("--series-uid", help="the series to use when the folder holds several")
    export.add_argument("-o", "--output", required=True, metavar="OUT.dcm", help="the RT Structure Set to write")
    export.add_argument("--series-number", type=int, help="series number (default: the source's + 2000)")
    export.add_argument("--series-description", help="series description of the RT Structure Set")
    export.add_argument("--force", action="store_true", help="replace an existing output")
    add_json_argument(export, '{"output", "rois": [{"number", "name", "contours"}]}')
    export.set_defaults(func=_export)


def _volume(paths, series_uid):
    from ..errors import InputError
    from ..imaging import ReferenceSeries, open_images

    series = open_images(paths, series_uid=series_uid)
    if not isinstance(series, ReferenceSeries):
        raise InputError(f"Series {series.series_instance_uid} holds 2D images without a place in the patient; "
                         "RT Structure Set contours lie in a volume's frame of reference")
    return series


def _import(args: argparse.Namespace) -> int:
    from ..atomic import check_output
    from ..errors import InputError
    from ..imaging import label_values, write_labelmap_files
    from ..rtstruct import read_rtstruct
    from .output import emit

    if args.protocol is None and (args.labels is not None or args.drop_unmapped):
        raise InputError("--labels and --drop-unmapped map ROIs onto a protocol's structures; give --protocol too")
    check_output(args.output, force=args.force)
    series = _volume(args.series, args.series_uid)
    result = read_rtstruct(args.rtstruct, series)
    segmentation = result.segmentation
    contours = {roi.number: roi.closed_planar for roi in result.rois}
    mapping = None
    if args.protocol is not None:
        segmentation, mapping, contours = _onto_protocol(args, segmentation, contours)
    values = label_values(segmentation)
    files = write_labelmap_files(segmentation, args.output, values=values, split=args.split, force=args.force)
    segments = [{"number": d.number, "label": d.label, "label_value": values[d.number], "type": d.type.as_list(),
                 "voxels": segmentation.voxel_count(d.number), "contours": contours[d.number]}
                for d in segmentation.segments]
    lines = [f"  {s['number']:>3}  {s['label']:<28} {s['contours']:>5} contours {s['voxels']:>10} voxels"
             for s in segments]
    if mapping is not None:
        lines += [f"  {entry['structure']}: from " + ", ".join(
            f"'{label['name']}' by {label['matched_by']}" for label in entry["labels"])
            for entry in mapping["structures"]]
        if mapping["dropped"]:
            lines.append("  left out: " + ", ".join(f"'{label['name']}'" for label in mapping["dropped"]))
    emit(args.json, {"files": [str(f) for f in files], "segments": segments, **(mapping or {})},
         "Wrote\n" + "\n".join(f"  {f}" for f in files) + "\n" + "\n".join(lines))
    return 0


def _onto_protocol(args: argparse.Namespace, segmentation, contours: dict[int, int]):
    """The ROIs as the protocol's structures (draft import's mapping rule), the mapping as JSON and each
    structure's number of contours (those of the ROIs mapped onto it)."""
    from ..drafts import map_segmentation
    from ..protocols import load_protocol
    from .draft import read_label_mapping

    protocol = load_protocol(args.protocol)
    mapped, mapping = map_segmentation(segmentation, protocol, explicit=read_label_mapping(args.labels),
                                       drop_unmapped=args.drop_unmapped,
                                       source=f"RT Structure Set {args.rtstruct}")
    per_structure = {structure.label_value: sum(contours[entry.label.values[0]] for entry in entries)
                     for structure, entries in mapping.structures()}
    return mapped, mapping.to_json(), per_structure


def _export(args: argparse.Namespace) -> int:
    from ..atomic import check_output
    from ..rtstruct import write_rtstruct
    from ..seg import read_seg
    from .output import emit

    check_output(args.output, force=args.force)
    series = _volume(args.series, args.series_uid)
    segmentation = read_seg(args.seg, series)
    rois = [roi.to_json() for roi in write_rtstruct(
        segmentation, args.output, force=args.force, series_number=args.series_number,
        series_description=args.series_description)]
    emit(args.json, {"output": str(args.output), "rois": rois},
         f"Wrote {args.output}: RT Structure Set of {len(rois)} ROI(s) on series {series.series_instance_uid}\n"
         + "\n".join(f"  {r['number']:>3}  {r['name']:<28} {r['contours']:>5} contours" for r in rois))
    return 0
