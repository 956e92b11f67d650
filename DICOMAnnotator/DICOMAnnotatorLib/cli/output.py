"""How commands speak: one JSON object with ``--json``, text for people otherwise, logs on stderr."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from typing import Any

log = logging.getLogger("dicom_annotator")


def emit(as_json: bool, payload: dict[str, Any], text: str | None = None) -> None:
    """Print ``payload`` as exactly one JSON object, or ``text`` (default: indented JSON) for people."""
    if as_json:
        sys.stdout.write(json.dumps(payload, sort_keys=False) + "\n")
    else:
        sys.stdout.write((text if text is not None else json.dumps(payload, indent=2)) + "\n")


def warn(message: str) -> None:
    """A warning for the user, on stderr (never PHI)."""
    log.warning(message)


def configure_logging(verbose: bool) -> None:
    # highdicom warns when it copies a source's single-component Patient's Name (e.g. "JANCT000"); the
    # name is the source's to keep, so the warning says nothing the user can act on.
    warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("dicom_annotator")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    # The core's modules log under their package (e.g. a colour series measured without intensities):
    # their warnings reach the user in the same form, their details only with --verbose.
    core = logging.StreamHandler(sys.stderr)
    core.setFormatter(handler.formatter)
    core.setLevel(logging.DEBUG if verbose else logging.WARNING)
    core_logger = logging.getLogger(__name__.split(".")[0])
    core_logger.handlers[:] = [core]
    if verbose:
        core_logger.setLevel(logging.DEBUG)
