"""``dicom-annotator case add|assign|next|submit|review|consensus|finalize|show|fetch``."""

from __future__ import annotations

import argparse

from .pacs import add_pacs_arguments
from .review_options import (
    add_password_argument,
    add_review_arguments,
    is_server_url,
    open_service,
    read_password,
    store_url,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    case = subparsers.add_parser("case", help="review cases: add, assign, work, review, sign")
    commands = case.add_subparsers(dest="case_command", metavar="SUBCOMMAND")
    commands.required = True

    add = commands.add_parser("add", help="one case per DICOM series folder, or per image series of a PACS study "
                                          "(a lead acts)")
    add.add_argument("project", metavar="PROJECT")
    add.add_argument("series", nargs="*", metavar="SERIES", help="DICOM series folders (searched recursively)")
    add.add_argument("--priority", type=int, default=0, help="higher comes first in the queues (default 0)")
    pacs = add.add_argument_group("from a PACS", "instead of SERIES: pull studies (one case per image series; SEG, "
                                                 "SR and other non-image series are left out)")
    pacs.add_argument("--pacs", metavar="URL", help="DICOMweb base or dimse://AET@host:port")
    pacs.add_argument("--study", action="append", metavar="UID", help="Study Instance UID (repeat for several)")
    pacs.add_argument("--deidentify-key-file", metavar="FILE", help="de-identify on the way in (PS3.15 Basic "
                      "Profile, UIDs and IDs keyed by the secret in FILE: the same key gives the same UIDs)")
    pacs.add_argument("--images", metavar="DIR", help="where the pulled series are kept in local mode (default: "
                      "images/ in the store's files folder); a team server keeps its own copies")
    add_pacs_arguments(pacs, prefix="pacs-")
    add_review_arguments(add, json='{"cases": [ID, ...]}')
    add.set_defaults(func=_add)

    assign = commands.add_parser("assign", help="fill the cases' annotator places, least-loaded annotator first")
    assign.add_argument("project", metavar="PROJECT")
    assign.add_argument("--case", type=int, metavar="ID", help="only this case")
    assign.add_argument("--annotator", action="append", metavar="NAME",
                        help="assign only among these annotators (repeat; default: every annotator)")
    add_review_arguments(assign, json=True)
    assign.set_defaults(func=_assign)

    nxt = commands.add_parser("next", help="the user's most urgent case (exit 1 when there is none)")
    nxt.add_argument("project", metavar="PROJECT")
    nxt.add_argument("--claim", action="store_true",
                     help="an annotator with nothing open takes a free place on the most urgent unassigned case")
    nxt.add_argument("--order", choices=("priority", "uncertainty"), default="priority",
                     help="an annotator's queue by priority (default), or by uncertainty: the cases whose AI draft "
                          "(probability maps) the model was least sure of first, as active learning does")
    add_review_arguments(nxt, json='{"case", "series", "state"}')
    nxt.set_defaults(func=_next)

    submit = commands.add_parser("submit", help="record the user's SEG (and SR) for a case assigned to them")
    submit.add_argument("case", type=int, metavar="CASE")
    submit.add_argument("seg", metavar="SEG", help="the DICOM SEG of the case's series; for protocols of landmarks, "
                        "boxes and labels only, the DICOM SR alone")
    submit.add_argument("sr", nargs="?", metavar="SR", help="a DICOM SR with measurements, labels and marks")
    add_review_arguments(submit, json=True)
    submit.set_defaults(func=_submit)

    review = commands.add_parser("review", help="approve at the case's current tier, or request changes")
    review.add_argument("case", type=int, metavar="CASE")
    review.add_argument("--decision", required=True, choices=("approve", "changes"))
    review.add_argument("--comment", help="why; required with --decision changes")
    add_review_arguments(review, json=True)
    review.set_defaults(func=_review)

    consensus = commands.add_parser("consensus", help="record the consensus of the round's submissions")
    consensus.add_argument("case", type=int, metavar="CASE")
    consensus.add_argument("--method", choices=("staple", "majority"), help="default: the protocol's")
    consensus.add_argument("--consensus-seg", metavar="SEG",
                           help="an already computed consensus SEG (e.g. by `dicom-annotator consensus`) to record")
    consensus.add_argument("-o", "--output", metavar="SEG", help="where to write a computed consensus")
    consensus.add_argument("--agreement", metavar="REPORT.json",
                           help="the `agreement --json` report of the submissions, for the project's agreement figures")
    add_review_arguments(consensus, json=True)
    consensus.set_defaults(func=_consensus)

    finalize = commands.add_parser("finalize", help="sign the approved result (electronic signature)")
    finalize.add_argument("case", type=int, metavar="CASE")
    finalize.add_argument("--meaning", required=True, help="what the signature means, e.g. 'Approved as reference'")
    add_password_argument(finalize, "your password, which signing asks for again (on a team server always)")
    add_review_arguments(finalize, json=True)
    finalize.set_defaults(func=_finalize)

    show = commands.add_parser("show", help="a case as the user may see it (annotators are blinded until final)")
    show.add_argument("case", type=int, metavar="CASE")
    add_review_arguments(show, json='{"case", "state", "annotators", "submissions": [{"user", "seg", '
                                    '"seg_sha256", "sr", "sr_sha256", ...}], "reviews": [...], '
                                    '"consensus": [{"seg", "sr", ...}]}')
    show.set_defaults(func=_show)

    fetch = commands.add_parser("fetch", help="download the case's images and every file you may see of it")
    fetch.add_argument("case", type=int, metavar="CASE")
    fetch.add_argument("-o", "--output", required=True, metavar="DIR", help="a new folder: DIR/images, DIR/files")
    add_review_arguments(fetch, json='{"case", "images": DIR/images, "files": [{"role", "user", "round", "path", '
                                     '"sha256"}]} (checksums verified)')
    fetch.set_defaults(func=_fetch)


def _add(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from ..errors import InputError
    from .output import emit

    if bool(args.series) == bool(args.pacs):
        raise InputError("Give either SERIES folders or --pacs URL with --study UID, not both and not neither")
    if args.pacs and not args.study:
        raise InputError("--pacs needs the studies to pull: --study UID (repeat for several)")
    with open_service(args) as service, tempfile.TemporaryDirectory(prefix="dicom-annotator-pacs-") as scratch:
        folders = args.series
        if args.pacs:
            local = not is_server_url(store_url(args))
            keep = args.images or str(service.store.files.root / "images" if local else Path(scratch) / "images")
            folders = [str(folder) for folder in _pull_series(args, keep)]
        result = service.add_cases(args.project, folders, priority=args.priority)
    emit(args.json, result, "\n".join(f"Case {case_id}: {folder}"
                                      for case_id, folder in zip(result["cases"], folders, strict=True)))
    return 0


#: Modalities of series that are results or documents, not images to annotate (PS3.3 C.7.3.1.1.1).
NON_IMAGE_MODALITIES = frozenset({"SEG", "SR", "PR", "KO", "RTSTRUCT", "RTPLAN", "RTRECORD", "DOC", "REG", "FID"})


def _pull_series(args: argparse.Namespace, keep: str) -> list:
    """Pull ``args.study`` into ``keep`` (de-identified on the way with ``--deidentify-key-file``); the image
    series folders. What was pulled before is not pulled again: an interrupted pull is finished by a re-run."""
    from pathlib import Path

    from ..dicom import read_header
    from ..errors import InputError
    from ..pacs import pull_studies
    from .pacs import pacs_connection

    root = Path(keep)
    # De-identified copies go to ``keep``; the identified originals wait beside it (never inside: the output may
    # not hold its input), so that a re-run pulls only what is missing and a new key needs no new pull.
    pulled = root.with_name(f".{root.name}.identified") if args.deidentify_key_file else root
    report = pull_studies(**pacs_connection(args, args.pacs, prefix="pacs-"), studies=args.study, output=pulled)
    if not report.complete:
        first = report.failed[0]
        raise InputError(f"{len(report.failed)} item(s) of the studies could not be pulled from {args.pacs} (first: "
                         f"{first.get('sop_instance_uid') or first['study']}: {first['reason']}); no case was added. "
                         "Run the command again to pull what is missing")
    studies = set(args.study)
    if args.deidentify_key_file:
        from ..deid import DeidOptions, deidentify_tree, load_key

        key = load_key(key_file=args.deidentify_key_file)
        studies = set()
        for study in sorted(set(args.study)):
            summary = deidentify_tree(pulled / study, root, DeidOptions(), key, jobs=1, force=True,
                                      record_mapping=True)
            if not summary.complete:
                problem = summary.problems[0]
                raise InputError(f"{len(summary.problems)} file(s) of study {study} could not be de-identified "
                                 f"({problem.reason}); no case was added")
            studies.add(summary.mapping[("uid", study)])
    folders = []
    for study in sorted(studies):
        for series in sorted(p for p in (root / study).iterdir() if p.is_dir()):
            first = next(series.glob("*.dcm"), None)
            modality = str(read_header(first).get("Modality", "")) if first else ""
            if first is not None and modality not in NON_IMAGE_MODALITIES:
                folders.append(series)
    if not folders:
        raise InputError(f"The studies pulled from {args.pacs} have no image series to annotate")
    return folders


def _assign(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args) as service:
        result = service.assign(args.project, case=args.case, annotators=args.annotator)
    emit(args.json, result, "\n".join(f"Case {a['case']}: {a['user']}" for a in result["assignments"])
         or "Nothing to assign: every open case is full")
    return 0


def _next(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args) as service:
        payload = service.next_case(args.project, claim=args.claim, order=args.order)
    emit(args.json, payload, f"Case {payload['case']} ({payload['state']}): {payload['action']} series "
                             f"{payload['series']} in {payload['images']}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from ..review import submitted_files
    from .output import emit

    seg, sr = submitted_files(args.seg, args.sr)
    with open_service(args) as service:
        case = service.submit(args.case, seg, sr)
    emit(args.json, case, f"Case {case['case']} submitted; now {case['state']}")
    return 0


def _review(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args) as service:
        case = service.review(args.case, args.decision, args.comment)
    where = f"{case['state']}" + (f" (tier {case['tier']})" if case["tier"] else "")
    emit(args.json, case, f"Case {case['case']} reviewed ({args.decision}); now {where}")
    return 0


def _consensus(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..errors import InputError
    from .output import emit

    agreement = None
    if args.agreement:
        try:
            agreement = json.loads(Path(args.agreement).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"Cannot read the agreement report {args.agreement}: {error}") from error
    with open_service(args) as service:
        case = service.consensus(args.case, method=args.method, consensus_seg=args.consensus_seg,
                                 output=args.output, agreement=agreement)
    emit(args.json, case, f"Case {case['case']}: consensus recorded; now {case['state']}")
    return 0


def _finalize(args: argparse.Namespace) -> int:
    from .output import emit

    password = read_password(args, "Your password, to sign: ") if (
        args.password_stdin or is_server_url(store_url(args))) else None
    with open_service(args) as service:
        signature = service.finalize(args.case, args.meaning, password=password)
    emit(args.json, signature,
         f"Case {signature['case']} final: signed by {signature['name']} ({signature['user']}) at "
         f"{signature['signed_at']} ({signature['meaning']}); {signature['file']} sha256 {signature['sha256']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args) as service:
        payload = service.show_case(args.case)
    lines = [f"Case {payload['case']} of project {payload['project']}: {payload['state']}"
             + (f" (tier {payload['tier']}: {payload['tier_name']})" if payload["tier"] else "")
             + f", round {payload['round']}", f"Series {payload['series']} in {payload['images']}",
             "Annotators: " + (", ".join(payload["annotators"]) or "none")]
    lines += [f"  submitted by {s['user']} (round {s['round']}): {s['seg'] or s['sr']}" for s in payload["submissions"]]
    lines += [f"  consensus ({c['method']}, round {c['round']}): {c['seg'] or c['sr']}" for c in payload["consensus"]]
    lines += [f"  review tier {r['tier']} by {r['user']}: {r['decision']}" + (f" - {r['comment']}" if r["comment"]
                                                                             else "") for r in payload["reviews"]]
    if payload["signature"]:
        s = payload["signature"]
        lines.append(f"  signed by {s['name']} ({s['user']}) at {s['signed_at']}: {s['meaning']}")
    emit(args.json, payload, "\n".join(lines))
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from .output import emit

    with open_service(args) as service:
        result = service.fetch_case(args.case, args.output)
    emit(args.json, result, "\n".join([f"Images of case {result['case']}: {result['images']}",
                                        *(f"  {f['role']} of {f['user']}: {f['path']}" for f in result["files"])]))
    return 0
