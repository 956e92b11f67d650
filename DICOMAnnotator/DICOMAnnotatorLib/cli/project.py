"""``dicom-annotator project create|status``."""

from __future__ import annotations

import argparse

from .review_options import add_review_arguments, open_service


def register(subparsers: argparse._SubParsersAction) -> None:
    project = subparsers.add_parser("project", help="review projects: a protocol and its cases")
    commands = project.add_subparsers(dest="project_command", metavar="SUBCOMMAND")
    commands.required = True

    create = commands.add_parser("create", help="a new project on a protocol (a lead acts)")
    create.add_argument("project", metavar="ID", help="the project's name")
    create.add_argument("--protocol", required=True, metavar="FILE|ID", help="a protocol file or a shipped protocol id")
    create.add_argument("--annotators", type=int, metavar="N",
                        help="annotators per case (default: the protocol's annotators_per_case)")
    add_review_arguments(create, json=True)
    create.set_defaults(func=_create)

    status = commands.add_parser("status", help="cases by state, per-annotator throughput, agreement so far")
    status.add_argument("project", metavar="ID", help="the project's name")
    add_review_arguments(status, json='{"cases", "by_state": {STATE: N}, "annotators": {...}, '
                                      '"agreement": {"segments", "labels", "marks"}, "drafts": {"segments": '
                                      '[{"segment", "cases", "submissions", "mean_dice", "mean_hd95_mm", '
                                      '"voxels_added", "voxels_removed", "mean_seconds_open_to_submit"}]}}')
    status.set_defaults(func=_status)


def _create(args: argparse.Namespace) -> int:
    from ..protocols import load_protocol
    from .output import emit

    protocol = load_protocol(args.protocol)
    with open_service(args) as service:
        project = service.create_project(args.project, protocol, annotators=args.annotators)
    tiers = " -> ".join(f"{t['name']} ({t['role']})" for t in project["review_tiers"]) or "none"
    emit(args.json, project,
         f"Project {project['project']}: protocol {project['protocol']['id']} {project['protocol']['version']}, "
         f"{project['annotators_per_case']} annotator(s) per case, review: {tiers}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args, need_user=False) as service:
        status = service.project_status(args.project)
    lines = [f"Project {status['project']}: {status['cases']} case(s)"]
    lines += [f"  {state:<18} {count:>7}" for state, count in status["by_state"].items() if count]
    if status["annotators"]:
        lines.append("Annotators (assigned / open / submissions / per day):")
        lines += [f"  {name:<18} {s['assigned']:>7} {s['open']:>7} {s['submissions']:>7} {s['per_day']:>9.3f}"
                  for name, s in status["annotators"].items()]
    for segment in status["agreement"]["segments"]:
        lines.append(f"Agreement {segment['segment']}: mean Dice {segment['mean_dice']:.3f} over "
                     f"{segment['pairs']} pair(s)")
    for segment in status["drafts"]["segments"]:
        lines.append(f"Draft corrections {segment['segment']}: mean Dice to the draft {segment['mean_dice']:.3f} over "
                     f"{segment['submissions']} submission(s); {segment['voxels_added']} voxels added, "
                     f"{segment['voxels_removed']} removed")
    emit(args.json, status, "\n".join(lines))
    return 0
