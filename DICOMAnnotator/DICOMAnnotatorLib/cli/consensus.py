"""``dicom-annotator consensus`` and ``dicom-annotator agreement``: several annotators' SEGs of one series."""

from __future__ import annotations

import argparse
from pathlib import Path

from .series import add_json_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    consensus = subparsers.add_parser("consensus", help="merge annotators' SEGs into one (majority vote or STAPLE)")
    consensus.add_argument("segs", nargs="+", metavar="SEG", help="DICOM SEG files of the same series")
    consensus.add_argument("-o", "--output", required=True, metavar="OUT.dcm", help="the consensus SEG to write")
    consensus.add_argument("--method", choices=["staple", "majority"], default="staple")
    consensus.add_argument("--threshold", type=float, default=0.5,
                           help="a voxel is in the consensus when its probability is above this (default 0.5)")
    consensus.add_argument("--type", choices=["binary", "fractional"], default="binary",
                           help="BINARY (thresholded) or FRACTIONAL (probabilities) output SEG")
    consensus.add_argument("--missing-as-empty", action="store_true",
                           help="a structure absent from some SEGs counts as empty there (default: an error)")
    _add_common(consensus)
    consensus.add_argument("--creator", help="content creator of the consensus SEG (Family^Given)")
    consensus.add_argument("--html", type=Path, help="also write the agreement report (with the consensus) here")
    consensus.add_argument("--force", action="store_true", help="replace existing outputs")
    add_json_argument(consensus, '{"method", "inputs", "segments": [{"type": CODE, "annotators": [{"input", '
                                 '"sensitivity", "specificity"}]}]} (sensitivity and specificity from STAPLE)')
    consensus.set_defaults(func=_consensus)

    agreement = subparsers.add_parser("agreement", help="inter-annotator agreement of SEGs (Dice, HD95, ...), or of "
                                      "SRs (landmark distances, box IoU, kappa of classification answers)")
    agreement.add_argument("segs", nargs="+", metavar="SEG", help="DICOM SEG files of the same series, or the "
                           "annotators' TID 1500 SRs")
    agreement.add_argument("--html", type=Path, help="write the report as an HTML page")
    agreement.add_argument("--title", default="Inter-annotator agreement", help="title of the HTML report")
    agreement.add_argument("--force", action="store_true", help="replace an existing report")
    _add_common(agreement)
    add_json_argument(agreement, 'SEGs: {"inputs", "segments": [{"type": CODE, "label", "pairs": [{"a", "b", '
                                 '"dice", "jaccard", "volume_diff_ml", "hausdorff_mm", "hd95_mm", "assd_mm"}]}]} '
                                 '(a, b index inputs; both empty: dice 1, distances 0; one empty: dice 0, distances '
                                 'null); SRs: {"inputs", "annotations"} (landmark distances, box IoU, kappa)')
    agreement.set_defaults(func=_agreement)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--series", nargs="+", metavar="SERIES",
                        help="the image series the SEGs segment (folder or files); without it the grid and the source "
                        "references come from the SEGs themselves")
    parser.add_argument("--series-uid", help="the series to use when the folder holds several")


def _read_inputs(args: argparse.Namespace):
    from ..errors import InputError
    from ..imaging import ReferenceSeries
    from ..seg import read_segs

    if len(args.segs) < 2:
        raise InputError(f"Give at least 2 SEG files to compare, got {len(args.segs)}")
    series = ReferenceSeries.from_paths(args.series, series_uid=args.series_uid) if args.series else None
    return read_segs(args.segs, series), [str(p) for p in args.segs]


def _consensus(args: argparse.Namespace) -> int:
    from ..agreement import build_consensus, render_case_report, segmentation_agreement
    from ..atomic import atomic_path, check_output
    from ..seg import write_seg
    from .output import emit

    check_output(args.output, force=args.force)
    if args.html:
        check_output(args.html, force=args.force)
    if _all_srs(args.segs):
        return _sr_consensus(args)
    segmentations, names = _read_inputs(args)
    result = build_consensus(segmentations, names, method=args.method, threshold=args.threshold, kind=args.type.upper(),
                             missing_as_empty=args.missing_as_empty, author=args.creator)
    write_seg(result.segmentation, args.output, segmentation_type=args.type, force=args.force,
              content_label="CONSENSUS", series_description=f"SEG {args.method} consensus of {len(names)}")
    if args.html:
        report = segmentation_agreement(segmentations, names, reference=result.segmentation)
        with atomic_path(args.html, force=args.force) as temporary:
            temporary.write_text(render_case_report(report, consensus=result, title="Consensus and agreement"),
                                 encoding="utf-8")
    payload = result.to_json()
    lines = [f"Wrote {args.output}: {args.method} consensus of {len(names)} SEGs"]
    for segment in result.segments:
        lines.append(f"  {segment.number:>3}  {segment.matched.description.label}: "
                     f"{result.segmentation.voxel_count(segment.number)} voxels")
        for annotator in segment.annotators:
            if annotator.sensitivity is not None:
                lines.append(f"         {annotator.input}: sensitivity {annotator.sensitivity:.3f}, "
                             f"specificity {annotator.specificity:.6f}")
    emit(args.json, payload, "\n".join(lines))
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from ..agreement import render_case_report, segmentation_agreement
    from ..atomic import atomic_path, check_output
    from .output import emit

    if args.html:
        check_output(args.html, force=args.force)
    if _all_srs(args.segs):
        return _sr_agreement(args)
    segmentations, names = _read_inputs(args)
    report = segmentation_agreement(segmentations, names)
    if args.html:
        with atomic_path(args.html, force=args.force) as temporary:
            temporary.write_text(render_case_report(report, title=args.title), encoding="utf-8")
    lines = [f"{len(names)} inputs: " + ", ".join(f"[{n}] {name}" for n, name in enumerate(names))]
    for segment in report.segments:
        lines.append(f"{segment.matched.description.label} ({segment.matched.description.type.meaning})")
        for pair in segment.pairs:
            m = pair.metrics
            hd95 = "undefined" if m.hd95_mm is None else f"{m.hd95_mm:.2f} mm"
            lines.append(f"  [{pair.a}] vs [{pair.b}]: Dice {m.dice:.3f}, HD95 {hd95}")
    emit(args.json, report.to_json(), "\n".join(lines))
    return 0


def _all_srs(paths: list[str]) -> bool:
    from ..review import submitted_files

    return all(submitted_files(path, None)[0] is None for path in paths)


def _sr_consensus(args: argparse.Namespace) -> int:
    """``consensus SR... --series SERIES -o OUT.dcm``: marks at the annotators' mean position, answers by majority."""
    from ..agreement import compare_annotations, read_annotations
    from ..errors import InputError
    from ..imaging import ReferenceSeries
    from ..review import write_consensus_sr
    from .output import emit

    if len(args.segs) < 2 or not args.series or args.html:
        raise InputError("Give at least 2 SR files" if len(args.segs) < 2 else
                         "--html reports segment agreement; for SRs use --json" if args.html else
                         "A consensus of SRs needs the image series they report on: give --series")
    names = [str(path) for path in args.segs]
    compared = compare_annotations([read_annotations(path) for path in args.segs], names, threshold=args.threshold)
    reference = ReferenceSeries.from_paths(args.series, series_uid=args.series_uid)
    write_consensus_sr(compared, Path(args.output), seg=None, reference=reference, protocol=None,
                       creator=args.creator, force=args.force)
    report = compared.to_json()
    kept = [mark["label"] for mark in report["marks"] if mark["in_consensus"]]
    emit(args.json, {"method": "mean positions, majority answers", "inputs": names, "annotations": report},
         f"Wrote {args.output}: consensus of {len(names)} SRs, marks {', '.join(kept) or 'none'}")
    return 0


def _sr_agreement(args: argparse.Namespace) -> int:
    """``agreement SR...``: the annotators' marks and answers compared (``{"inputs", "annotations"}``)."""
    from ..agreement import compare_annotations, read_annotations
    from ..errors import InputError
    from .output import emit

    if len(args.segs) < 2 or args.html:
        raise InputError("Give at least 2 SR files to compare" if len(args.segs) < 2
                         else "--html reports segment agreement; for SRs use --json")
    names = [str(path) for path in args.segs]
    report = compare_annotations([read_annotations(path) for path in args.segs], names).to_json()
    lines = [f"{len(names)} inputs: " + ", ".join(f"[{n}] {name}" for n, name in enumerate(names))]
    for mark in report["marks"]:
        figures = ", ".join(f"[{p['a']}] vs [{p['b']}]: " + (f"IoU {p['iou']:.2f}" if "iou" in p
                                                             else f"{p['distance_mm']:.1f} mm") for p in mark["pairs"])
        lines.append(f"{mark['label']} ({mark['kind']}): {figures or 'marked by one annotator'}")
    for row in report["label_agreement"]:
        kappa = "undefined" if row["fleiss_kappa"] is None else f"{row['fleiss_kappa']:.2f}"
        lines.append(f"{row['question'][2]}: {row['subjects']} subjects, {row['percent_agreement']}% unanimous, "
                     f"Fleiss' kappa {kappa}")
    emit(args.json, {"inputs": names, "annotations": report}, "\n".join(lines))
    return 0
