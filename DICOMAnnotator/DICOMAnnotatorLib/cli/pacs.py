"""``dicom-annotator pacs query|pull|push``: studies from and results to a PACS (DICOMweb or DIMSE)."""

from __future__ import annotations

import argparse
from typing import Any

from .series import add_json_argument

MAX_LISTED_FAILURES = 20
URL_HELP = "the PACS: a DICOMweb base (http://host:8042/dicom-web) or dimse://AET@host:port"
REPORT_SHAPE = ('{"operation", "pacs", "instances", "transferred", "already_there", "failed", "complete", '
                '"studies": [{"study", "instances", "transferred", "already_there", "failed"}], '
                '"failures": [{"study", "series", "sop_instance_uid", "path", "reason"}]}')


def add_pacs_arguments(parser: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """How to reach a PACS: our AE title, credentials, retries and time-out (``prefix`` names them for a command
    that has other such options, e.g. ``--pacs-credentials``)."""
    parser.add_argument(f"--{prefix}calling-aet", metavar="AET", help="our AE title for dimse:// URLs (default "
                        "DICOMANNOTATOR; the PACS must know it to answer C-GET)")
    parser.add_argument(f"--{prefix}credentials", metavar="FILE", help='DICOMweb credentials: JSON {"user", '
                        '"password"} or {"token"} (default: $DICOM_ANNOTATOR_PACS_USER and _PASSWORD, or _TOKEN); '
                        "never give them on the command line or in the URL")
    parser.add_argument(f"--{prefix}retries", type=int, default=3, metavar="N",
                        help="tries again after a transient failure (default 3), with back-off")
    parser.add_argument(f"--{prefix}retry-delay", type=float, default=1.0, metavar="SECONDS",
                        help="wait before the first retry, doubled after each (default 1)")
    parser.add_argument(f"--{prefix}timeout", type=float, default=60.0, metavar="SECONDS",
                        help="longest wait for the PACS to answer (default 60)")


def pacs_connection(args: argparse.Namespace, url: str, *, prefix: str = "") -> dict[str, Any]:
    """``endpoint``, ``credentials``, ``policy`` and ``timeout`` from the options :func:`add_pacs_arguments` added."""
    from ..pacs import RetryPolicy, load_credentials, parse_endpoint

    option = prefix.replace("-", "_")
    return {"endpoint": parse_endpoint(url, calling_aet=getattr(args, f"{option}calling_aet")),
            "credentials": load_credentials(getattr(args, f"{option}credentials")),
            "policy": RetryPolicy(attempts=getattr(args, f"{option}retries") + 1,
                                  first_delay=getattr(args, f"{option}retry_delay")),
            "timeout": getattr(args, f"{option}timeout")}


def register(subparsers: argparse._SubParsersAction) -> None:
    pacs = subparsers.add_parser("pacs", help="query a PACS, pull studies from it, push results to it")
    commands = pacs.add_subparsers(dest="pacs_command", metavar="SUBCOMMAND")
    commands.required = True

    query = commands.add_parser("query", help="the studies a PACS lists (QIDO-RS or C-FIND)")
    query.add_argument("url", metavar="URL", help=URL_HELP)
    query.add_argument("--study", metavar="UID", help="only this Study Instance UID")
    query.add_argument("--patient-id", metavar="ID", help="only this patient's studies")
    add_pacs_arguments(query)
    add_json_argument(query, '{"pacs", "studies": [{"study", "patient_id", "study_date", "description", '
                             '"modalities", "instances"}]}')
    query.set_defaults(func=_query)

    pull = commands.add_parser(
        "pull", help="pull studies into a folder (WADO-RS or C-GET); a re-run fetches only what is missing",
        description="Every instance of each study is written to DIR/<Study>/<Series>/<SOP Instance UID>.dcm as the "
                    "PACS holds it (whole files only: each is written under a temporary name, then renamed). DIR "
                    "may hold an earlier, interrupted pull of the same studies: instances already there are skipped. "
                    "Exit 3 when some instances could not be pulled (each is listed, and in --report).")
    pull.add_argument("url", metavar="URL", help=URL_HELP)
    pull.add_argument("--study", required=True, action="append", metavar="UID",
                      help="a Study Instance UID (repeat, or give several after one --study)", nargs="+")
    pull.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder receiving the instances")
    add_pacs_arguments(pull)
    pull.add_argument("--report", metavar="FILE.json", help="also write the report as JSON (replaced if it exists)")
    add_json_argument(pull, REPORT_SHAPE)
    pull.set_defaults(func=_pull)

    push = commands.add_parser(
        "push", help="send DICOM files to a PACS (STOW-RS or C-STORE); instances it holds already are skipped",
        description="Exit 3 when some files could not be stored (each is listed, and in --report).")
    push.add_argument("url", metavar="URL", help=URL_HELP)
    push.add_argument("files", nargs="+", metavar="FILE", help="DICOM files or folders of them (searched recursively)")
    add_pacs_arguments(push)
    push.add_argument("--report", metavar="FILE.json", help="also write the report as JSON (replaced if it exists)")
    add_json_argument(push, REPORT_SHAPE)
    push.set_defaults(func=_push)


def _query(args: argparse.Namespace) -> int:
    from ..pacs import query_studies
    from .output import emit

    connection = pacs_connection(args, args.url)
    studies = query_studies(**connection, study=args.study, patient_id=args.patient_id)
    lines = [f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} at {connection['endpoint']}"]
    lines += [f"  {s['study']}  {s['study_date'] or '-'}  {','.join(s['modalities']) or '-'}  "
              f"{s['instances'] if s['instances'] is not None else '?'} instance(s)" for s in studies]
    emit(args.json, {"pacs": str(connection["endpoint"]), "studies": studies}, "\n".join(lines))
    return 0


def _pull(args: argparse.Namespace) -> int:
    from ..pacs import pull_studies
    from ..parallel import ProgressBar

    studies = [uid for group in args.study for uid in group]
    report = pull_studies(**pacs_connection(args, args.url), studies=studies, output=args.output,
                          progress=ProgressBar("pull"))
    return _finish(args, report, f"into {args.output}")


def _push(args: argparse.Namespace) -> int:
    from ..pacs import push_files
    from ..parallel import ProgressBar

    report = push_files(**pacs_connection(args, args.url), paths=args.files, progress=ProgressBar("push"))
    return _finish(args, report, f"to {args.url}")


def _finish(args: argparse.Namespace, report: Any, where: str) -> int:
    import json

    from ..atomic import atomic_path
    from .output import emit

    payload = report.to_json()
    if args.report:
        with atomic_path(args.report, force=True) as temporary:
            temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    verb = "Pulled" if report.operation == "pull" else "Pushed"
    lines = [f"{verb} {payload['transferred']} of {payload['instances']} instance(s) of {len(payload['studies'])} "
             f"stud{'y' if len(payload['studies']) == 1 else 'ies'} {where} ({payload['already_there']} already "
             f"there, {payload['failed']} failed)"]
    for failure in report.failed[:MAX_LISTED_FAILURES]:
        what = failure.get("sop_instance_uid") or failure.get("path") or f"study {failure['study']}"
        lines.append(f"  failed: {what}: {failure['reason']}")
    if len(report.failed) > MAX_LISTED_FAILURES:
        lines.append(f"  ... and {len(report.failed) - MAX_LISTED_FAILURES} more" +
                     ("" if args.report else " (--report FILE.json lists all)"))
    emit(args.json, payload, "\n".join(lines))
    return 0 if report.complete else 3
