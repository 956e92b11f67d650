"""Entry point: builds the argument parser from the command modules and maps errors to exit codes.

Exit status (shared/CLI.md): 0 done, 1 failed (one ``error: `` line on stderr), 2 usage
error, 3 a batch finished with some items failed. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import DICOMAnnotatorError
from .output import configure_logging

#: Each module has ``register(subparsers)`` and sets ``func`` on the parsers it adds;
#: ``func(args) -> int`` returns the exit status. Heavy imports stay inside ``func``.
COMMAND_MODULES = ("series", "seg", "sr", "consensus", "export", "protocol", "deidentify", "user", "project", "case",
                   "draft", "evaluate", "audit", "server", "pacs", "dataset", "pet", "rtstruct", "web", "demo")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

#: What holds for every command (the top of --help and of docs/cli.md).
CONVENTIONS = """\
Every command:
  exit status   0 done; 1 failed (one line on stderr starting "error: " naming the file, series,
                segment or case and what to do; a traceback only with --debug); 2 usage error;
                3 a batch finished but some items failed (each listed in its report)
  --json        prints exactly one JSON object on stdout and nothing else there; without it the
                output is for people; progress and logs go to stderr
  outputs       written to a temporary name, then renamed; an existing output is an error unless
                --force; inputs are never modified
  geometry      Slicer/ITK order: size = [columns, rows, slices], spacing in mm in the same order,
                affine = 4x4 row-major from voxel index (i=column, j=row, k=slice) to patient LPS mm
  codes         [code_value, coding_scheme_designator, code_meaning]
  SERIES        a folder (searched recursively; exactly one series unless --series-uid picks one)
                or a list of files; a LABELMAP is any image SimpleITK reads (.nii.gz, .nrrd, .mha)
                on the series geometry (within 1e-3 mm)
  review store  --store URL, else $DICOM_ANNOTATOR_STORE, else a SQLite file in the user's data
                directory; the acting user is --user NAME (or $DICOM_ANNOTATOR_USER)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicom-annotator",
        description="Clinical-grade annotation of DICOM studies for medical AI: series, protocols, "
        "DICOM SEG/SR, consensus, agreement, de-identification and review, without Slicer.",
        epilog=CONVENTIONS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dicom-annotator {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="more log messages on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(subparsers)
    return parser


def _tune_process() -> None:
    """Settings for a process that runs one command, made before numpy is imported.

    OpenBLAS starts a thread per core at numpy's import, which spin for a while: CPU time spent for
    nothing here, where arrays are worked element by element (PyTorch, in ``draft run``, has threads of
    its own); ``OPENBLAS_NUM_THREADS`` set by the user still decides. Python's cyclic garbage collector
    walks the young objects after every 700 new ones, and now and then all of them: through the imports
    of pydicom, numpy and SQLAlchemy and a series' headers, a tenth of a short command's CPU time. Every
    10,000 still frees the rare cycles of a long batch in time.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.set_threshold(10_000, 10, 10)


def main(argv: Sequence[str] | None = None) -> int:
    _tune_process()
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.func(args) or EXIT_OK)
    except DICOMAnnotatorError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted; outputs not finished were not written", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # an unforeseen failure still gets the one-line contract
        if args.debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (run again with --debug for details)",
              file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
