"""Options of commands that spread work: local worker processes (``--jobs``) or a Dask cluster (``--scheduler``)."""

from __future__ import annotations

import argparse
import os


def add_worker_arguments(parser: argparse.ArgumentParser, shared: str) -> None:
    """``--jobs N`` and ``--scheduler tcp://HOST:PORT``; ``shared`` names what the cluster's workers must see."""
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes (default: the number of CPUs)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask cluster instead of local "
                        f"processes (its workers must see {shared} at the same paths); the same files result")


def check_jobs(args: argparse.Namespace) -> None:
    from ..errors import InputError

    if args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
