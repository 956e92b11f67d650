"""``dicom-annotator draft import|run``: a model's output, or a MONAI bundle run here, becomes a case's AI draft."""

from __future__ import annotations

import argparse
from typing import Any

from .review_options import add_review_arguments, open_service

_IMPORT_JSON = ('{"case", "draft", "seg", "seg_sha256", "algorithm", "algorithm_version", "segmentation_type", '
                '"source": {"file", "form", "label_table"}, "structures": [{"structure", "labels": [{"name", "values", '
                '"matched_by"}], "voxels"}], "dropped": [{"name", "values"}], "uncertainty": {"mean_entropy_bits", '
                '"segments"} or null}')


def register(subparsers: argparse._SubParsersAction) -> None:
    draft = subparsers.add_parser("draft", help="AI drafts: a model's output as the case's starting segmentation")
    commands = draft.add_subparsers(dest="draft_command", metavar="SUBCOMMAND")
    commands.required = True

    imported = commands.add_parser(
        "import", help="a model's output (label map, probability maps or DICOM SEG) as the case's draft (a lead acts)",
        description="The output's labels become the protocol's structures: by --labels, else by code (SEG), else by "
                    "name. Its label table comes from --label-table, TotalSegmentator's NIfTI header, or a `seg "
                    "import` sidecar (OUTPUT.json). Probability maps (a 4D image, one channel per label, or nnU-Net's "
                    ".npz) are kept as a FRACTIONAL SEG and give the case its uncertainty.")
    imported.add_argument("case", type=int, metavar="CASE")
    imported.add_argument("output", metavar="LABELMAP|SEG",
                          help="the model's output on the case's series: a label map (.nii.gz, .nrrd, .mha), "
                               "probability maps (4D NIfTI, nnU-Net .npz) or a DICOM SEG")
    _draft_arguments(imported, required=True)
    imported.add_argument("--label-table", metavar="FILE|BUNDLE",
                          help="what the output's values are: TotalSegmentator's class map JSON, nnU-Net's "
                               "dataset.json, a MONAI bundle (its folder or configs/metadata.json)")
    add_review_arguments(imported, json=_IMPORT_JSON)
    imported.set_defaults(func=_import)

    run = commands.add_parser(
        "run", help="run a MONAI bundle on the case's series (CPU) and import its output as the draft (a lead acts)",
        description="Needs PyTorch and MONAI (pip install 'dicom-annotator[ai]'); nothing is downloaded. The bundle "
                    "(configs/metadata.json, configs/inference.json, models/model.pt or models/model.ts) runs as its "
                    "inference config says, without its writers; its config can run Python: run only bundles you "
                    "trust.")
    run.add_argument("case", type=int, metavar="CASE")
    run.add_argument("--bundle", required=True, metavar="DIR", help="the MONAI bundle's folder")
    _draft_arguments(run, required=False)
    run.add_argument("--probabilities", action="store_true",
                     help="keep the model's probabilities (stop before its argmax): a FRACTIONAL draft with the "
                          "case's uncertainty")
    add_review_arguments(run, json=_IMPORT_JSON)
    run.set_defaults(func=_run)


def _draft_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    default = "" if required else " (default: the bundle's name and version, from its metadata)"
    parser.add_argument("--algorithm", required=required, metavar="NAME",
                        help=f"the model's name, written to each segment's Algorithm Identification{default}")
    parser.add_argument("--algorithm-version", required=required, metavar="V", help=f"the model's version{default}")
    parser.add_argument("--labels", metavar="FILE.json",
                        help='{"label value or label name": "protocol structure label" | null} (null: leave out)')
    parser.add_argument("--drop-unmapped", action="store_true",
                        help="leave out labels that match no structure (listed as dropped) instead of failing")


def _import(args: argparse.Namespace) -> int:
    with open_service(args) as service:
        result = service.import_draft(args.case, args.output, algorithm=args.algorithm,
                                      algorithm_version=args.algorithm_version, label_table=args.label_table,
                                      labels=read_label_mapping(args.labels), drop_unmapped=args.drop_unmapped)
    _emit(args, result)
    return 0


def _run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from ..drafts import read_bundle, run_bundle
    from ..imaging import ReferenceSeries

    bundle = read_bundle(args.bundle)
    labels = read_label_mapping(args.labels)
    with open_service(args) as service, tempfile.TemporaryDirectory(prefix="dicom-annotator-draft-") as work:
        shown = service.show_case(args.case)
        images = Path(shown["images"])
        if not images.is_dir():  # the case's images are on the team server: fetch them
            images = Path(service.fetch_case(args.case, Path(work) / "case")["images"])
        series = ReferenceSeries.from_paths([images], series_uid=shown["series"])
        prediction = run_bundle(bundle, series, Path(work) / f"{bundle.name}-prediction.nii.gz",
                                probabilities=args.probabilities)
        result = service.import_draft(args.case, prediction, algorithm=args.algorithm or bundle.name,
                                      algorithm_version=args.algorithm_version or bundle.version,
                                      label_table=bundle.metadata, labels=labels, drop_unmapped=args.drop_unmapped,
                                      output_name=f"{bundle.root.name}: {prediction.name}")
    _emit(args, result)
    return 0


def read_label_mapping(path: str | None) -> dict[str, str | None] | None:
    import json
    from pathlib import Path

    from ..errors import InputError

    if path is None:
        return None
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"Cannot read the label mapping {path}: {error}") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) or v is None for v in mapping.values()):
        raise InputError(f'{path} must be one JSON object {{"label value or name": "structure label" or null}}')
    return {str(key): value for key, value in mapping.items()}


def _emit(args: argparse.Namespace, result: dict[str, Any]) -> None:
    from .output import emit

    lines = [f"Case {result['case']}: draft {result['draft']} by {result['algorithm']} {result['algorithm_version']} "
             f"({result['segmentation_type']} SEG, from {result['source']['form']})"]
    for entry in result["structures"]:
        labels = ", ".join(f"'{label['name']}' by {label['matched_by']}" for label in entry["labels"])
        lines.append(f"  {entry['structure']}: {entry['voxels']} voxels, from {labels}")
    if result["dropped"]:
        lines.append("  left out: " + ", ".join(f"'{label['name']}'" for label in result["dropped"]))
    if result["uncertainty"] and result["uncertainty"]["mean_entropy_bits"] is not None:
        lines.append(f"  uncertainty: mean entropy {result['uncertainty']['mean_entropy_bits']:.4f} bits")
    lines.append(f"  kept as {result['seg']}")
    emit(args.json, result, "\n".join(lines))
