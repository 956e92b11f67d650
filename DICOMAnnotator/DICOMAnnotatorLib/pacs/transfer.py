"""Pulling studies from a PACS into a folder and pushing files to it, resumably, with a report.

Both directions first ask the PACS what it lists, then move only what is missing on the other
side: a pull skips the instances whose SOP Instance UID is already in the folder, a push skips
those the PACS already holds. A batch interrupted anywhere (the PACS stopped, the network broke,
the process killed) is finished by running the same command again, without duplicates and
without losses. Transient failures are tried again with back-off (:class:`RetryPolicy`); what
still failed is listed in the report, one entry per instance (or per study when it could not even
be listed), and the command exits 3.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .credentials import Credentials
from .dicomweb import DicomWebPacs
from .dimse import DimsePacs
from .endpoints import PacsEndpoint
from .instances import InstanceFolder, InstanceRef, check_uid, dicom_files, header_ref
from .retry import RetryPolicy, TransferError, TransientError

Progress = Callable[[int, int], None]


@dataclass
class TransferReport:
    """What one pull or push did: per study, the instances listed, moved, already there, and every failure."""

    operation: str
    pacs: str
    studies: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed

    def count(self, study: str, key: str, number: int = 1) -> None:
        entry = self.studies.setdefault(study, {"instances": 0, "transferred": 0, "already_there": 0, "failed": 0})
        entry[key] += number

    def fail(self, reason: str, *, study: str | None = None, ref: InstanceRef | None = None,
             path: str | None = None) -> None:
        entry: dict[str, Any] = {"study": study or (ref.study if ref else None), "reason": reason}
        if ref is not None:
            entry.update(series=ref.series, sop_instance_uid=ref.sop)
        if path is not None:
            entry["path"] = path
        self.failed.append(entry)
        if entry["study"]:
            self.count(entry["study"], "failed")

    def totals(self) -> dict[str, int]:
        keys = ("instances", "transferred", "already_there")
        totals = {key: sum(s[key] for s in self.studies.values()) for key in keys}
        totals["failed"] = len(self.failed)
        return totals

    def to_json(self) -> dict[str, Any]:
        return {"operation": self.operation, "pacs": self.pacs, **self.totals(), "complete": self.complete,
                "studies": [{"study": uid, **counts} for uid, counts in self.studies.items()],
                "failures": self.failed}


def open_pacs(endpoint: PacsEndpoint, credentials: Credentials | None = None, *,
              timeout: float = 60.0) -> DicomWebPacs | DimsePacs:
    """The PACS behind ``endpoint``; DIMSE has no passwords (AE titles identify), so credentials are refused there."""
    if endpoint.is_dicomweb:
        return DicomWebPacs(endpoint, credentials, timeout=timeout)
    if credentials is not None:
        raise TransferError(f"{endpoint} is a DIMSE peer, which identifies callers by AE title (--calling-aet), not "
                            f"by password; the credentials from {credentials.source} are for DICOMweb URLs")
    return DimsePacs(endpoint, timeout=timeout)


def query_studies(endpoint: PacsEndpoint, *, study: str | None = None, patient_id: str | None = None,
                  credentials: Credentials | None = None, policy: RetryPolicy | None = None,
                  timeout: float = 60.0) -> list[dict[str, Any]]:
    """The studies the PACS lists (QIDO-RS or C-FIND at STUDY level) matching the filters."""
    pacs = open_pacs(endpoint, credentials, timeout=timeout)
    try:
        return (policy or RetryPolicy()).run(lambda: pacs.studies(study=study, patient_id=patient_id),
                                             f"searching {endpoint}")
    finally:
        pacs.close()


def pull_studies(endpoint: PacsEndpoint, studies: Sequence[str], output: str | os.PathLike[str], *,
                 credentials: Credentials | None = None, policy: RetryPolicy | None = None, timeout: float = 60.0,
                 progress: Progress | None = None) -> TransferReport:
    """Every instance of ``studies`` into ``output``/<study>/<series>/<sop>.dcm; what is there already stays."""
    policy = policy or RetryPolicy()
    folder = InstanceFolder(output)
    folder.remove_partials()
    report = TransferReport("pull", str(endpoint))
    pacs = open_pacs(endpoint, credentials, timeout=timeout)
    try:
        for study in dict.fromkeys(studies):
            _pull_study(pacs, study, folder, report, policy, progress)
    finally:
        pacs.close()
        folder.finish()
    return report


def _pull_study(pacs: DicomWebPacs | DimsePacs, study: str, folder: InstanceFolder, report: TransferReport,
                policy: RetryPolicy, progress: Progress | None) -> None:
    def receive(data: bytes) -> None:
        folder.write(data)
        if progress is not None:
            progress(folder.received, max(report.totals()["instances"], folder.received))

    def listing() -> list[InstanceRef]:
        return policy.run(lambda: pacs.instances(study), f"listing study {study}")

    received_before = folder.received
    fresh = not (folder.root / check_uid(study)).exists()
    try:
        if not fresh:
            listed = listing()
        else:  # nothing of it here yet: the whole study streams in while the PACS lists it (a slow search)
            listed = _while_streaming(listing, lambda: pacs.retrieve(study, None, None, receive))
    except TransferError as error:
        report.fail(str(error), study=study)
        report.count(study, "transferred", folder.received - received_before)
        return
    if not listed:
        report.fail(f"the PACS lists no instance of study {study}; check the Study Instance UID", study=study)
        return
    report.count(study, "instances", len(listed))
    series: dict[str, list[InstanceRef]] = {}
    for ref in listed:
        series.setdefault(ref.series, []).append(ref)
    streamed = folder.received - received_before
    report.count(study, "transferred", streamed)
    for uid, refs in series.items():
        if not fresh:
            report.count(study, "already_there", sum(folder.has(ref) for ref in refs))

        def attempt(uid: str = uid, refs: list[InstanceRef] = refs) -> None:
            missing = [ref for ref in refs if not folder.has(ref)]
            if not missing:
                return
            whole = len(missing) == len(refs)
            classes = sorted({ref.sop_class for ref in refs if ref.sop_class})
            pacs.retrieve(study, uid, None if whole else [r.sop for r in missing], receive, sop_classes=classes)
            still = sum(not folder.has(ref) for ref in refs)
            if still:
                raise TransientError(f"{still} instance(s) of series {uid} did not arrive")

        received_before = folder.received
        try:
            policy.run(attempt, f"pulling series {uid} of study {study}")
        except TransferError as error:
            for ref in refs:
                if not folder.has(ref):
                    report.fail(str(error), ref=ref)
        report.count(study, "transferred", folder.received - received_before)


def push_files(endpoint: PacsEndpoint, paths: Iterable[str | os.PathLike[str]], *,
               credentials: Credentials | None = None, policy: RetryPolicy | None = None, timeout: float = 60.0,
               progress: Progress | None = None) -> TransferReport:
    """Send the DICOM files under ``paths``; instances the PACS already lists are not sent again."""
    policy = policy or RetryPolicy()
    report = TransferReport("push", str(endpoint))
    by_study: dict[str, list[InstanceRef]] = {}
    for path in dicom_files(paths):
        try:
            ref = header_ref(path)
        except TransferError as error:
            report.fail(f"{path} is {error}", path=str(path))
            continue
        by_study.setdefault(ref.study, []).append(ref)
    total = sum(len(refs) for refs in by_study.values())
    done = 0
    pacs = open_pacs(endpoint, credentials, timeout=timeout)
    try:
        for study, refs in by_study.items():
            report.count(study, "instances", len(refs))
            try:
                held = {r.sop for r in policy.run(lambda study=study: pacs.instances(study), f"listing study {study}")}
            except TransferError as error:
                for ref in refs:
                    report.fail(str(error), ref=ref, path=ref.path)
                continue
            unique = {ref.sop: ref for ref in refs if ref.sop not in held}
            report.count(study, "already_there", len(refs) - len(unique))
            waiting = dict(unique)

            def attempt(waiting: dict[str, InstanceRef] = waiting) -> None:
                if not waiting:
                    return
                outcome = pacs.store([Path(ref.path) for ref in waiting.values() if ref.path])
                for sop, problem in outcome.items():
                    if problem is None and sop in waiting:
                        del waiting[sop]
                if waiting:
                    reasons = [outcome.get(sop) or "the PACS did not confirm it" for sop in waiting]
                    raise TransientError(f"{len(waiting)} file(s) not stored: {reasons[0]}")

            try:
                policy.run(attempt, f"pushing {len(unique)} file(s) of study {study}")
            except TransferError as error:
                for ref in waiting.values():
                    report.fail(str(error), ref=ref, path=ref.path)
            report.count(study, "transferred", len(unique) - len(waiting))
            done += len(refs)
            if progress is not None:
                progress(done, total)
    finally:
        pacs.close()
    return report


def _while_streaming(listing: Callable[[], list[InstanceRef]], stream: Callable[[], None]) -> list[InstanceRef]:
    """``listing()`` on a thread while ``stream()`` runs here; the listing (its error, if it failed). A stream cut
    short is not an error here: the listing then shows what is missing, and the series are pulled as usual."""
    import threading

    outcome: dict[str, Any] = {}

    def run_listing() -> None:
        try:
            outcome["listed"] = listing()
        except TransferError as error:
            outcome["error"] = error

    thread = threading.Thread(target=run_listing, name="pacs-listing", daemon=True)
    thread.start()
    try:
        stream()
    except TransferError:
        pass  # what arrived is kept; the series below fetch the rest
    finally:
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["listed"]
