"""``dicom-annotator dataset export|card``: final cases as a training dataset, and its card."""

from __future__ import annotations

import argparse
import os

from .review_options import add_review_arguments, open_service
from .workers import add_worker_arguments, check_jobs


def register(subparsers: argparse._SubParsersAction) -> None:
    dataset = subparsers.add_parser("dataset", help="export the final cases for training; the dataset card")
    commands = dataset.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND")
    commands.required = True

    export = commands.add_parser(
        "export", help="final cases as NIfTI (or DICOM) with manifest.csv/.json and patient-level splits",
        description="Writes DIR/cases/case-NNNNN/ (image.nii.gz, labels.nii.gz with the protocol's label values, "
                    "labels.json, sr.dcm; or images/, seg.dcm, sr.dcm with --format dicom), DIR/manifest.json and "
                    "DIR/manifest.csv. Every case of a patient is in the same split. Exit 3 when some cases could not "
                    "be exported (listed in the manifest's \"failed\").")
    export.add_argument("project", metavar="PROJECT")
    export.add_argument("-o", "--output", required=True, metavar="DIR", help="a new folder (created whole)")
    export.add_argument("--format", choices=("nifti", "dicom"), default="nifti",
                        help="nifti: image + label map (default); dicom: the images and the signed SEG/SR as they are")
    export.add_argument("--splits", default="0.7,0.15,0.15", metavar="TRAIN[,VALIDATION],TEST",
                        help="fractions of cases per split, drawn by patient (default 0.7,0.15,0.15)")
    export.add_argument("--seed", type=int, default=0, help="seed of the patients' shuffle (default 0)")
    export.add_argument("--stratify-by", metavar="QUESTION", help="keep the answers to this protocol question "
                        "(a classification structure's label) in the same proportion in every split")
    add_worker_arguments(export, "the store's files and DIR")
    export.add_argument("--force", action="store_true", help="replace DIR if it exists")
    add_review_arguments(export, json='{"output", "manifest", "cases", "patients", "splits": {"cases": {SPLIT: N}, '
                                      '"patients": {SPLIT: N}}, "failed": [{"case", "error"}]}')
    export.set_defaults(func=_export)

    card = commands.add_parser(
        "card", help="the dataset card (HTML with plots, and card.json) of an export or of a project",
        description="Composition, label coverage, agreement, review, de-identification, protocol versions and AI "
                    "drafts, each figure counted from the manifest (an exported DIR's manifest.json, or the "
                    "project's final cases read from the store).")
    card.add_argument("source", metavar="PROJECT|DIR", help="a folder written by `dataset export`, or a project")
    card.add_argument("-o", "--output", required=True, metavar="card.html", help="the card; card.json is written "
                      "beside it (same name, .json)")
    card.add_argument("--splits", default="0.7,0.15,0.15", metavar="FRACTIONS", help="for a PROJECT: as in export")
    card.add_argument("--seed", type=int, default=0, help="for a PROJECT: as in export")
    card.add_argument("--force", action="store_true", help="replace card.html and card.json")
    add_review_arguments(card, json='{"card", "json", "cases", "patients"}')
    card.set_defaults(func=_card)


def _export(args: argparse.Namespace) -> int:
    from ..dataset import export_dataset, parse_fractions
    from ..parallel import ProgressBar
    from .output import emit, warn

    check_jobs(args)
    fractions = parse_fractions(args.splits)
    with open_service(args) as service:
        manifest = export_dataset(service, args.project, args.output, fmt=args.format, fractions=fractions,
                                  seed=args.seed, stratify_by=args.stratify_by, jobs=args.jobs,
                                  scheduler=args.scheduler, force=args.force, progress=ProgressBar("export"))
    identified = [e["case"] for e in manifest["cases"] if e["deidentification"]["patient_identity_removed"] != "YES"]
    if identified:
        warn(f"{len(identified)} case(s) (first: {identified[0]}) have images not marked de-identified (Patient "
             "Identity Removed is not YES): the dataset and its manifest carry their patient IDs and UIDs as they are")
    splits = manifest["splits"]
    payload = {"output": args.output, "manifest": os.path.join(args.output, "manifest.json"),
               "cases": manifest["dataset"]["cases"], "patients": manifest["dataset"]["patients"],
               "splits": {"cases": splits["cases"], "patients": splits["patients"]}, "failed": manifest["failed"]}
    lines = [f"Exported {payload['cases']} final case(s) of {payload['patients']} patient(s) into {args.output} "
             f"({args.format}); manifest: {payload['manifest']} (and manifest.csv)",
             "Splits by patient: " + ", ".join(f"{name} {n} case(s) / {splits['patients'][name]} patient(s)"
                                               for name, n in splits["cases"].items())]
    lines += [f"  not exported: case {f['case']}: {f['error']}" for f in manifest["failed"]]
    emit(args.json, payload, "\n".join(lines))
    return 3 if manifest["failed"] else 0


def _card(args: argparse.Namespace) -> int:
    import json
    import tempfile
    from pathlib import Path

    from ..atomic import atomic_path, check_output
    from ..dataset import build_card, collect_manifest, parse_fractions, read_manifest, render_card
    from .output import emit

    html_path = Path(args.output)
    json_path = html_path.with_suffix(".json")
    for path in (html_path, json_path):
        check_output(path, force=args.force)
    if Path(args.source).is_dir():
        manifest = read_manifest(args.source)
    else:
        with open_service(args) as service, tempfile.TemporaryDirectory() as staging:
            manifest = collect_manifest(service, args.source, Path(staging), fractions=parse_fractions(args.splits),
                                        seed=args.seed, write_files=False)
    card = build_card(manifest)
    with atomic_path(json_path, force=args.force) as temporary:
        temporary.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    with atomic_path(html_path, force=args.force) as temporary:
        temporary.write_text(render_card(card), encoding="utf-8")
    payload = {"card": str(html_path), "json": str(json_path), "cases": card["size"]["cases"],
               "patients": card["size"]["patients"]}
    emit(args.json, payload, f"Dataset card of {payload['cases']} case(s) from {payload['patients']} patient(s): "
                             f"{html_path} (figures in {json_path})")
    return 0
