"""``dicom-annotator deidentify IN OUT``: the Basic Profile of PS3.15 Annex E over a folder."""

from __future__ import annotations

import argparse
import os

from .series import add_json_argument
from .workers import add_worker_arguments, check_jobs

KEY_ENVIRONMENT = "DICOM_ANNOTATOR_DEID_KEY"
MAX_LISTED_PROBLEMS = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "deidentify", help="de-identify DICOM files (PS3.15 Basic Profile, keyed UIDs, burned-in text)",
        description="Write de-identified copies of every DICOM file under IN to OUT/<Study>/<Series>/<SOP>.dcm "
        "with the Basic Application Level Confidentiality Profile of DICOM PS3.15 Annex E and the options chosen. "
        "Exit 3 when some files were not written (each is listed, and in --report).")
    parser.add_argument("input", metavar="IN", help="a DICOM file or a folder (searched recursively)")
    parser.add_argument("output", metavar="OUT", help="the output folder (empty, outside IN)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--key", metavar="SECRET", help="secret for the keyed UID and ID mapping (visible to other "
                     f"users of this machine: prefer --key-file or ${KEY_ENVIRONMENT})")
    key.add_argument("--key-file", metavar="FILE", help="file holding the secret; the same key gives the same UIDs")
    parser.add_argument("--mapping", metavar="FILE.csv", help="also write the table from original to replacement "
                        "values for the data owner (it holds identifiers; it may not be inside OUT)")
    add_worker_arguments(parser, "IN and OUT")
    parser.add_argument("--report", metavar="FILE.json", help="write every problem and flagged file as JSON")
    parser.add_argument("--pixels", choices=["redact", "flag", "keep"], default="redact",
                        help="images that may show burned-in text: redact with OCR (default; not written when OCR "
                        "is missing), flag (write and list them), keep (do not look)")
    parser.add_argument("--ocr-all-images", action="store_true", help="with --pixels redact, OCR every image")
    parser.add_argument("--regions", metavar="FILE.json",
                        help="rectangles always blanked per manufacturer/model: "
                        '{"regions": [{"manufacturer", "model", "rows", "columns", "boxes": [[x0, y0, x1, y1]]}]}')
    dates = parser.add_mutually_exclusive_group()
    dates.add_argument("--retain-dates", action="store_true", help="Retain Longitudinal Temporal Information "
                       "with full dates")
    dates.add_argument("--shift-dates", action="store_true", help="Retain Longitudinal Temporal Information "
                       "with modified dates: shifted by a keyed per-patient number of days")
    parser.add_argument("--retain-uids", action="store_true", help="Retain UIDs option")
    parser.add_argument("--retain-device", action="store_true", help="Retain Device Identity option")
    parser.add_argument("--retain-institution", action="store_true", help="Retain Institution Identity option")
    parser.add_argument("--retain-patient-characteristics", action="store_true",
                        help="Retain Patient Characteristics option (age, sex, size, weight...)")
    parser.add_argument("--retain-safe-private", action="store_true", help="Retain Safe Private option")
    parser.add_argument("--clean-descriptors", action="store_true",
                        help="Clean Descriptors option: keep descriptions with identifiers blanked out")
    parser.add_argument("--clean-structured-content", action="store_true", help="Clean Structured Content option")
    parser.add_argument("--clean-graphics", action="store_true",
                        help="Clean Graphics option: keep overlays and annotations, their text cleaned")
    parser.add_argument("--clean-recognizable-visual-features", action="store_true",
                        help="Clean Recognizable Visual Features option: this tool does not deface or mask faces, so "
                        "photographs of the patient and CT/MR/SEG of the head (or of an unnamed body part) are not "
                        "written and are listed (exit 3); other images are marked as free of such features")
    parser.add_argument("--force", action="store_true", help="write into a non-empty OUT, replace report/mapping")
    add_json_argument(parser)
    parser.set_defaults(func=_deidentify)


def _options(args: argparse.Namespace):
    from ..deid import DatePolicy, DeidOptions, PixelPolicy, load_regions

    return DeidOptions(
        retain_safe_private=args.retain_safe_private,
        retain_uids=args.retain_uids,
        retain_device_identity=args.retain_device,
        retain_institution_identity=args.retain_institution,
        retain_patient_characteristics=args.retain_patient_characteristics,
        dates=DatePolicy.KEEP if args.retain_dates else DatePolicy.SHIFT if args.shift_dates else DatePolicy.REMOVE,
        clean_descriptors=args.clean_descriptors,
        clean_structured_content=args.clean_structured_content,
        clean_graphics=args.clean_graphics,
        clean_recognizable_visual_features=args.clean_recognizable_visual_features,
        pixels=PixelPolicy(args.pixels),
        ocr_all_images=args.ocr_all_images,
        regions=load_regions(args.regions) if args.regions else (),
    )


def _key(args: argparse.Namespace) -> bytes:
    import secrets

    from ..deid import load_key
    from .output import warn

    key = load_key(secret=args.key, key_file=args.key_file)
    if key is None and os.environ.get(KEY_ENVIRONMENT):
        key = os.environ[KEY_ENVIRONMENT].encode()
    if key is None:
        warn("no --key, --key-file or $" + KEY_ENVIRONMENT + ": a random key was used, so the replaced UIDs and IDs "
             "will not match any other run")
        key = secrets.token_bytes(32)
    return key


def _deidentify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..deid import check_outputs_free, deidentify_tree, write_mapping, write_report
    from ..errors import InputError
    from ..parallel import ProgressBar
    from .output import emit, warn

    check_jobs(args)
    output = Path(args.output).resolve()
    if args.mapping and output in Path(args.mapping).resolve().parents:
        raise InputError(f"The mapping table {args.mapping} holds identifiers and may not be written inside the "
                         f"de-identified output {args.output}; write it elsewhere")
    check_outputs_free([args.report, args.mapping], force=args.force)
    options = _options(args)
    summary = deidentify_tree(args.input, args.output, options, _key(args), jobs=args.jobs, force=args.force,
                              record_mapping=bool(args.mapping), progress=ProgressBar("deidentify"),
                              scheduler=args.scheduler)
    if args.report:
        write_report(args.report, summary, options, source=args.input, output=args.output, force=args.force)
    if args.mapping:
        write_mapping(args.mapping, summary, force=args.force)
    if options.pixels.value == "redact" and summary.ocr is None and summary.flagged:
        warn(f"OCR is not available: {summary.flagged} image(s) that may show burned-in text were not written")
    payload = {"summary": summary.to_json(), "problems": [r.to_json() for r in summary.problems]}
    emit(args.json, payload, _text(summary, options, args))
    return 0 if summary.complete else 3


def _text(summary, options, args: argparse.Namespace) -> str:
    counts = summary.to_json()
    enabled = ", ".join(sorted(options.enabled_options())) or "none"
    lines = [
        f"De-identified {counts['written']} of {counts['files']} files into {args.output} "
        f"in {counts['seconds']:.1f} s (Basic Profile; options: {enabled})",
        f"Attributes removed: {counts['attributes_removed']}, replaced: {counts['attributes_replaced']}",
        f"Images that may show burned-in text: {counts['flagged_images']}, redacted: {counts['redacted_images']} "
        f"(OCR: {summary.ocr or ('not available' if summary.flagged else 'not needed')}; "
        f"pixels: {options.pixels.value})",
    ]
    if summary.problems:
        lines.append(f"Not written: {len(summary.problems)} file(s)" + ("" if args.report else
                                                                        " (--report FILE.json lists all)"))
        lines.extend(f"  {r.source} [{r.status}]: {r.reason}" for r in summary.problems[:MAX_LISTED_PROBLEMS])
        if len(summary.problems) > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {len(summary.problems) - MAX_LISTED_PROBLEMS} more")
    return "\n".join(lines)
