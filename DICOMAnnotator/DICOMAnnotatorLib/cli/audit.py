"""``dicom-annotator audit verify|export``: the hash-chained audit log."""

from __future__ import annotations

import argparse
import sys

from .review_options import add_review_arguments, open_service


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="the review store's append-only, hash-chained audit log")
    commands = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    commands.required = True

    verify = commands.add_parser("verify", help="check the chain; exit 1 naming the first bad record")
    add_review_arguments(verify, json=True)
    verify.set_defaults(func=_verify)

    export = commands.add_parser("export", help="every record as CSV or JSON (for a regulatory submission)")
    export.add_argument("--format", required=True, choices=("csv", "json"))
    export.add_argument("-o", "--output", required=True, metavar="FILE")
    export.add_argument("--force", action="store_true", help="replace an existing output file")
    add_review_arguments(export)
    export.set_defaults(func=_export)


def _verify(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args, need_user=False) as service:
        report = service.verify_audit()
    if report["intact"]:
        emit(args.json, report, f"Audit chain intact: {report['records']} record(s), head {report['head_hash']}")
        return 0
    if args.json:
        emit(True, report)
    print(f"error: the audit log is broken at record {report['first_bad_record']}: {report['problem']}",
          file=sys.stderr)
    return 1


def _export(args: argparse.Namespace) -> int:
    with open_service(args, need_user=False) as service:
        result = service.export_audit(args.output, args.format, force=args.force)
    print(f"Wrote {result['records']} audit record(s) to {args.output}")
    return 0
