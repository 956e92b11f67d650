"""``dicom-annotator case add|assign|next|submit|review|consensus|finalize|show``."""

from __future__ import annotations

import argparse

from .review_options import acting_user, add_review_arguments, open_store


def register(subparsers: argparse._SubParsersAction) -> None:
    case = subparsers.add_parser("case", help="review cases: add, assign, work, review, sign")
    commands = case.add_subparsers(dest="case_command", metavar="SUBCOMMAND")
    commands.required = True

    add = commands.add_parser("add", help="one case per DICOM series folder (a lead acts)")
    add.add_argument("project", metavar="PROJECT")
    add.add_argument("series", nargs="+", metavar="SERIES", help="DICOM series folders (searched recursively)")
    add.add_argument("--priority", type=int, default=0, help="higher comes first in the queues (default 0)")
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
    add_review_arguments(finalize, json=True)
    finalize.set_defaults(func=_finalize)

    show = commands.add_parser("show", help="a case as the user may see it (annotators are blinded until final)")
    show.add_argument("case", type=int, metavar="CASE")
    add_review_arguments(show, json='{"case", "state", "annotators", "submissions": [{"user", "seg", '
                                    '"seg_sha256", "sr", "sr_sha256", ...}], "reviews": [...], '
                                    '"consensus": [{"seg", "sr", ...}]}')
    show.set_defaults(func=_show)


def _add(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..imaging import ReferenceSeries
    from ..review import SeriesRef, add_cases
    from .output import emit

    refs = []
    for folder in args.series:
        series = ReferenceSeries.from_paths([folder])
        refs.append(SeriesRef(series.study_instance_uid, series.series_instance_uid, series.modality,
                              str(Path(folder).absolute())))
    with open_store(args) as store:
        ids = add_cases(store, args.project, refs, actor=acting_user(args), priority=args.priority)
    emit(args.json, {"cases": ids},
         "\n".join(f"Case {case_id}: series {ref.series_uid}" for case_id, ref in zip(ids, refs, strict=True)))
    return 0


def _assign(args: argparse.Namespace) -> int:
    from ..review import assign_cases
    from .output import emit

    with open_store(args) as store:
        made = assign_cases(store, args.project, actor=acting_user(args), case_id=args.case,
                            annotators=args.annotator)
    emit(args.json, {"assignments": [a.to_json() for a in made]},
         "\n".join(f"Case {a.case}: {a.user}" for a in made) or "Nothing to assign: every open case is full")
    return 0


def _next(args: argparse.Namespace) -> int:
    from ..review import next_case
    from .output import emit

    with open_store(args) as store:
        found = next_case(store, args.project, acting_user(args), claim=args.claim)
    payload = found.to_json()
    emit(args.json, payload, f"Case {payload['case']} ({payload['state']}): {payload['action']} series "
                             f"{payload['series']} in {payload['images']}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from ..review import submit, submitted_files
    from .output import emit

    seg, sr = submitted_files(args.seg, args.sr)
    with open_store(args) as store:
        case = submit(store, args.case, acting_user(args), seg, sr)
    emit(args.json, case.to_json(), f"Case {case.id} submitted; now {case.state.value}")
    return 0


def _review(args: argparse.Namespace) -> int:
    from ..review import review_case
    from .output import emit

    with open_store(args) as store:
        case = review_case(store, args.case, acting_user(args), args.decision, args.comment)
    where = f"{case.state.value}" + (f" (tier {case.tier})" if case.tier else "")
    emit(args.json, case.to_json(), f"Case {case.id} reviewed ({args.decision}); now {where}")
    return 0


def _consensus(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..errors import InputError
    from ..review import record_consensus
    from .output import emit

    agreement = None
    if args.agreement:
        try:
            agreement = json.loads(Path(args.agreement).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"Cannot read the agreement report {args.agreement}: {error}") from error
    with open_store(args) as store:
        case = record_consensus(store, args.case, acting_user(args), method=args.method,
                                consensus_seg=args.consensus_seg, output=args.output, agreement=agreement)
    emit(args.json, case.to_json(), f"Case {case.id}: consensus recorded; now {case.state.value}")
    return 0


def _finalize(args: argparse.Namespace) -> int:
    from ..review import finalize_case
    from .output import emit

    with open_store(args) as store:
        signature = finalize_case(store, args.case, acting_user(args), args.meaning)
    emit(args.json, signature.to_json(),
         f"Case {signature.case} final: signed by {signature.user} at {signature.signed_at} ({signature.meaning}); "
         f"{signature.result.path} sha256 {signature.result.sha256}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ..review import show_case
    from .output import emit

    with open_store(args) as store:
        payload = show_case(store, args.case, acting_user(args))
    lines = [f"Case {payload['case']} of project {payload['project']}: {payload['state']}"
             + (f" (tier {payload['tier']}: {payload['tier_name']})" if payload["tier"] else "")
             + f", round {payload['round']}", f"Series {payload['series']} in {payload['images']}",
             "Annotators: " + (", ".join(payload["annotators"]) or "none")]
    lines += [f"  submitted by {s['user']} (round {s['round']}): {s['seg']}" for s in payload["submissions"]]
    lines += [f"  consensus ({c['method']}, round {c['round']}): {c['seg']}" for c in payload["consensus"]]
    lines += [f"  review tier {r['tier']} by {r['user']}: {r['decision']}" + (f" - {r['comment']}" if r["comment"]
                                                                             else "") for r in payload["reviews"]]
    if payload["signature"]:
        s = payload["signature"]
        lines.append(f"  signed by {s['user']} at {s['signed_at']}: {s['meaning']}")
    emit(args.json, payload, "\n".join(lines))
    return 0
