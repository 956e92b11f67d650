"""``dicom-annotator protocol list|validate|show|terminology``."""

from __future__ import annotations

import argparse
import sys

from .series import add_json_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    protocol = subparsers.add_parser("protocol", help="annotation protocols: coded structures, kinds, windows")
    commands = protocol.add_subparsers(dest="protocol_command", metavar="SUBCOMMAND")
    commands.required = True

    listing = commands.add_parser("list", help="the protocols shipped with the package")
    add_json_argument(listing, '{"protocols": [{"id", "version", "title", "path"}]}')
    listing.set_defaults(func=_list)

    validate = commands.add_parser(
        "validate", help="check protocol files; prints every problem with its JSON path (exit 1 if any)")
    validate.add_argument("files", nargs="+", metavar="FILE", help="protocol JSON files")
    add_json_argument(validate)
    validate.set_defaults(func=_validate)

    show = commands.add_parser("show", help="a protocol's structures, codes, windows and review setup")
    show.add_argument("protocol", metavar="FILE|ID", help="a protocol file or a shipped protocol id")
    add_json_argument(show)
    show.set_defaults(func=_show)

    terminology = commands.add_parser(
        "terminology", help="write the protocol's codes as a Slicer terminology context (JSON)")
    terminology.add_argument("protocol", metavar="FILE|ID", help="a protocol file or a shipped protocol id")
    terminology.add_argument("-o", "--output", required=True, metavar="OUT.json", help="the context file to write")
    terminology.add_argument("--anatomic-context", metavar="REGIONS.json",
                             help="also write the anatomic regions the structures use (Slicer region context)")
    terminology.add_argument("--force", action="store_true", help="replace existing output files")
    terminology.set_defaults(func=_terminology)


def _list(args: argparse.Namespace) -> int:
    from ..protocols import shipped_protocols
    from .output import emit

    protocols = shipped_protocols()
    payload = {"protocols": [{"id": p.id, "version": p.version, "title": p.title, "path": str(p.source)}
                             for p in protocols]}
    width = max((len(p.id) for p in protocols), default=2)
    text = "\n".join(f"{p.id:<{width}}  {p.version:<8} {p.title}" for p in protocols)
    emit(args.json, payload, text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ..errors import InputError, ProtocolError
    from ..protocols import load_protocol_file
    from .output import emit

    results = []
    for name in args.files:
        try:
            protocol = load_protocol_file(name)
        except ProtocolError as exc:
            results.append({"path": name, "valid": False, "problems": exc.problems})
        except InputError as exc:
            results.append({"path": name, "valid": False, "problems": [str(exc)]})
        else:
            results.append({"path": name, "valid": True, "problems": [], "id": protocol.id,
                            "version": protocol.version, "structures": len(protocol.structures)})
    lines = []
    for result in results:
        if result["valid"]:
            lines.append(f"{result['path']}: valid ({result['id']} {result['version']}, "
                         f"{result['structures']} structures)")
        else:
            lines.extend(f"{result['path']}: {problem}" for problem in result["problems"])
    emit(args.json, {"files": results}, "\n".join(lines))
    invalid = sum(not r["valid"] for r in results)
    if invalid:
        print(f"error: {invalid} of {len(results)} protocol file(s) invalid; fix the problems listed above",
              file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace) -> int:
    from ..protocols import load_protocol
    from .output import emit

    protocol = load_protocol(args.protocol)
    emit(args.json, protocol.to_dict(), protocol.summary())
    return 0


def _terminology(args: argparse.Namespace) -> int:
    from ..atomic import check_output
    from ..protocols import load_protocol, write_slicer_anatomic_context, write_slicer_terminology

    protocol = load_protocol(args.protocol)
    if args.anatomic_context:  # refuse before writing anything, so no half of the pair is left behind
        check_output(args.anatomic_context, force=args.force)
    check_output(args.output, force=args.force)
    written = [write_slicer_terminology(protocol, args.output, force=args.force)]
    if args.anatomic_context:
        written.append(write_slicer_anatomic_context(protocol, args.anatomic_context, force=args.force))
    for path in written:
        print(f"Wrote {path}")
    return 0
