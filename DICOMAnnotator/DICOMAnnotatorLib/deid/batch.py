"""De-identifying a folder of any size: files streamed to worker processes, results summarised.

Only paths and small per-file results cross process boundaries, and at most a few files per
worker are in flight, so memory does not grow with the dataset. Inputs are only read; OUT may
not lie inside IN (it would be read back as input) nor IN inside OUT.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..atomic import atomic_path, check_output
from ..errors import InputError, OutputExistsError
from ..parallel import run_chunks
from .files import FAILED, NOT_WRITTEN, WRITTEN, FileDeidentifier, FileResult
from .ocr import tesseract_version
from .options import DeidOptions, PixelPolicy
from .profile import standard_table


@dataclass
class BatchSummary:
    """Counts over a whole run and every file that was not written, or written with a flag."""

    files: int = 0
    statuses: Counter = field(default_factory=Counter)
    removed: int = 0
    replaced: int = 0
    flagged: int = 0
    redacted: int = 0
    ocr: str | None = None
    seconds: float = 0.0
    problems: list[FileResult] = field(default_factory=list)
    flagged_files: list[FileResult] = field(default_factory=list)
    mapping: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every input file was written (or deliberately skipped)."""
        return self.statuses[FAILED] == 0 and self.statuses[NOT_WRITTEN] == 0

    def add(self, result: FileResult) -> None:
        self.files += 1
        self.statuses[result.status] += 1
        self.removed += result.removed
        self.replaced += result.replaced
        if result.flagged:
            self.flagged += 1
        if result.pixels is not None and result.pixels.redacted and result.status == WRITTEN:
            self.redacted += 1
        if result.status != WRITTEN:
            self.problems.append(result)
        elif result.flagged:
            self.flagged_files.append(result)
        for kind, original, replacement in result.mapping:
            self.mapping[(kind, original)] = replacement

    def to_json(self) -> dict:
        return {
            "files": self.files,
            "written": self.statuses[WRITTEN],
            "failed": self.statuses[FAILED],
            "not_written": self.statuses[NOT_WRITTEN],
            "skipped": self.statuses["skipped"],
            "attributes_removed": self.removed,
            "attributes_replaced": self.replaced,
            "flagged_images": self.flagged,
            "redacted_images": self.redacted,
            "ocr": self.ocr,
            "seconds": round(self.seconds, 3),
        }


def iter_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root`` (or ``root`` itself), in a stable order, hidden files skipped."""
    if root.is_file():
        yield root
        return
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(folder) / name


def check_folders(source: Path, output: Path, *, force: bool) -> None:
    """Refuse a missing input, overlapping folders, and a non-empty OUT without ``force``."""
    if not source.exists():
        raise InputError(f"{source} does not exist; give a DICOM file or a folder of them")
    src, out = source.resolve(), output.resolve()
    if out == src or src in out.parents or (source.is_dir() and out in src.parents):
        raise InputError(f"The output {output} overlaps the input {source}; choose an output folder outside it")
    if output.exists() and not output.is_dir():
        raise OutputExistsError(f"{output} exists and is not a folder; choose another output folder")
    if output.is_dir() and any(output.iterdir()) and not force:
        raise OutputExistsError(f"{output} is not empty; choose an empty output folder or pass --force")


def _work(worker: FileDeidentifier, chunk: list[tuple[str, str]]) -> list[FileResult]:
    return [worker.process(path, display) for path, display in chunk]


def deidentify_tree(source: str | os.PathLike[str], output: str | os.PathLike[str], options: DeidOptions,
                    key: bytes, *, jobs: int = 1, force: bool = False, record_mapping: bool = False,
                    progress: Callable[[int, int], None] | None = None, scheduler: str | None = None) -> BatchSummary:
    """De-identify every file under ``source`` into ``output``; never raises for one bad file.

    Files go to ``jobs`` local worker processes, or to the Dask cluster at ``scheduler`` (whose workers must
    see ``source`` and ``output`` at the same paths); each file's output depends on it and the key only, so
    the files written are the same whichever runs them."""
    source, output = Path(source), Path(output)
    check_folders(source, output, force=force)
    # Built here first so that a bad key or option fails once, clearly, not inside every worker.
    local = FileDeidentifier(options, key, output, force=force, record_mapping=record_mapping)
    output.mkdir(parents=True, exist_ok=True)
    paths = list(iter_files(source))
    base = source if source.is_dir() else source.parent
    summary = BatchSummary()
    started = time.perf_counter()
    outputs: dict[str, str] = {}

    def collect(result: FileResult) -> None:
        if result.status == WRITTEN and result.output in outputs:
            result.status, result.reason = FAILED, (f"has the same SOP Instance UID as {outputs[result.output]}; "
                                                    "only one of them is in the output")
        elif result.status == WRITTEN:
            outputs[result.output] = result.source
        summary.add(result)
        if progress is not None:
            progress(summary.files, len(paths))

    items = [(str(path), str(path.relative_to(base))) for path in paths]
    setup = partial(FileDeidentifier, options, key, output, force=force, record_mapping=record_mapping)
    if jobs <= 1 and scheduler is None:
        setup = partial(_same, local)
    for results in run_chunks(_work, items, setup=setup, jobs=jobs, scheduler=scheduler):
        for result in results:
            collect(result)
    summary.seconds = time.perf_counter() - started
    if summary.flagged and options.pixels is PixelPolicy.REDACT:
        summary.ocr = tesseract_version()
    return summary


def _same(worker: FileDeidentifier) -> FileDeidentifier:
    return worker


def write_report(path: str | os.PathLike[str], summary: BatchSummary, options: DeidOptions, *,
                 source: str, output: str, force: bool) -> None:
    """The run's report: options, profile edition, counts, every problem file and every flagged one."""
    table = standard_table()
    payload = {
        "input": source,
        "output": output,
        "profile": "Basic Application Level Confidentiality Profile",
        "standard": f"{table['standard']}, {table['table']}",
        "options": sorted(options.enabled_options()),
        "pixels": options.pixels.value,
        "summary": summary.to_json(),
        "problems": [r.to_json() for r in sorted(summary.problems, key=lambda r: r.source)],
        "flagged": [r.to_json() for r in sorted(summary.flagged_files, key=lambda r: r.source)],
    }
    with atomic_path(path, force=force) as temporary:
        temporary.write_text(json.dumps(payload, indent=2) + "\n")


def write_mapping(path: str | os.PathLike[str], summary: BatchSummary, *, force: bool) -> None:
    """The data owner's table from source values to replacements (it holds identifiers: keep it apart)."""
    with atomic_path(path, force=force) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", "original", "replacement"])
        for (kind, original), replacement in sorted(summary.mapping.items()):
            writer.writerow([kind, original, replacement])


def check_outputs_free(paths: list[str | None], *, force: bool) -> None:
    """Refuse existing report or mapping files before any work is done."""
    for path in paths:
        if path is not None:
            check_output(path, force=force)
