"""``dicom-annotator evaluate``: a model's drafts against the signed results of the same cases."""

from __future__ import annotations

import argparse

from .review_options import add_review_arguments, open_service


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "evaluate", help="an algorithm's AI drafts against the signed results: Dice, HD95, volume difference",
        description="Every final case with a draft by the algorithm (its latest, or of --algorithm-version) is "
                    "compared with its signed result, per structure of the draft; the report gives the distribution "
                    "over cases (n, mean, sd, median, quartiles, range) and each case's figures.")
    evaluate.add_argument("project", metavar="PROJECT")
    evaluate.add_argument("--algorithm", required=True, metavar="NAME", help="the drafts' algorithm name")
    evaluate.add_argument("--algorithm-version", metavar="V", help="only the drafts of this version")
    evaluate.add_argument("--html", metavar="REPORT.html", help="also write the report as one HTML page (plots inline)")
    evaluate.add_argument("--force", action="store_true", help="replace an existing HTML report")
    add_review_arguments(evaluate, json='{"project", "algorithm", "algorithm_versions", "reference", "definitions", '
                                        '"cases_evaluated", "cases_final", "cases_with_draft", "not_evaluated": '
                                        '[{"case", "reason"}], "segments": [{"segment", "type", "cases", '
                                        '"cases_both_empty", "dice", "hd95_mm", "volume_difference_ml", '
                                        '"volume_difference_percent"}] (each {"n", "undefined", "mean", "sd", '
                                        '"median", "q1", "q3", "min", "max"}), "cases": [{"case", "segments": '
                                        '[{"segment", "dice", "hd95_mm", "volume_difference_ml", ...}]}]}')
    evaluate.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from ..agreement import render_evaluation_report
    from ..atomic import atomic_path, check_output
    from .output import emit

    if args.html:
        check_output(args.html, force=args.force)
    with open_service(args, need_user=False) as service:
        result = service.evaluate(args.project, args.algorithm, version=args.algorithm_version)
    if args.html:
        with atomic_path(args.html, force=args.force) as temporary:
            temporary.write_text(render_evaluation_report(result), encoding="utf-8")
    lines = [f"{result['algorithm']} on project {result['project']}: {result['cases_evaluated']} case(s) evaluated "
             f"against {result['reference']}"]
    for segment in result["segments"]:
        dice, hd95 = segment["dice"], segment["hd95_mm"]
        median = f"{hd95['median']:.2f} mm" if hd95["median"] is not None else "undefined"
        lines.append(f"  {segment['segment']}: Dice mean {_number(dice['mean'])} median {_number(dice['median'])} "
                     f"over {segment['cases']} case(s); HD95 median {median}")
    lines += [f"  case {item['case']} not evaluated: {item['reason']}" for item in result["not_evaluated"]]
    if args.html:
        lines.append(f"Report: {args.html}")
    emit(args.json, result, "\n".join(lines))
    return 0


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
