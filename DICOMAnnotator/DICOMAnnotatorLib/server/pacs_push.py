"""Signed results sent on to the hospital's PACS (``serve --push-to URL``), never in the signature's way.

A signature is recorded first and answered at once; the signed SEG (or SR) and the SR beside it are
then queued here and sent by one background thread (STOW-RS or C-STORE, :mod:`..pacs`), which tries
again with growing waits while the PACS is away. Each attempt's outcome is an audit record
(``pacs.push``: destination, status, instances, the first failure's reason), so a lead sees what
reached the PACS, and a restarted server sends what an earlier one had not: at start every signed
case without a ``pushed`` record for this destination is queued again. The files sent are the
store's own kept copies, checked against their recorded SHA-256 first.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from ..pacs import Credentials, PacsEndpoint, RetryPolicy, push_files
from ..review import SYSTEM_ACTOR, ReviewStore, audit_details, signed_cases, signed_result_files

log = logging.getLogger(__name__)

PUSH_ACTION = "pacs.push"


@dataclass(frozen=True)
class PushTarget:
    """Where signed results go, and how hard to try."""

    endpoint: PacsEndpoint
    credentials: Credentials | None = None
    policy: RetryPolicy = RetryPolicy(attempts=2, first_delay=1.0)
    timeout: float = 60.0
    #: Waits between rounds of attempts while the PACS stays away: first, then doubled up to the last.
    backoff: tuple[float, float] = (5.0, 600.0)


class ResultPusher:
    """A queue of signed cases and the thread that sends them; :meth:`submit` never blocks on the PACS."""

    def __init__(self, store: ReviewStore, target: PushTarget) -> None:
        self.store, self.target = store, target
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pacs-push", daemon=True)
        self._waits: dict[int, float] = {}

    def start(self) -> ResultPusher:
        for case in self.unsent():
            self._queue.put(case)
        self._thread.start()
        return self

    def submit(self, case: int) -> None:
        self._queue.put(case)

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def unsent(self) -> list[int]:
        """Signed cases without a ``pushed`` record for this destination, oldest signature first."""
        destination = str(self.target.endpoint)
        pushed = {case for case, details in audit_details(self.store, PUSH_ACTION)
                  if details.get("destination") == destination and details.get("status") == "pushed"}
        return [case for case in signed_cases(self.store) if case not in pushed]

    def _run(self) -> None:
        while not self._stopping.is_set():
            case = self._queue.get()
            if case is None:
                return
            try:
                sent = self._push(case)
            except Exception:  # the pusher must outlive any one case; the failure is in the log
                log.exception("Sending the signed result of case %s to the PACS failed", case)
                sent = False
            if not sent and not self._stopping.is_set():
                self._retry_later(case)

    def _push(self, case: int) -> bool:
        files = signed_result_files(self.store, case)
        paths = [str(self.store.files.open_verified(entry["sha256"])) for entry in files]
        report = push_files(self.target.endpoint, paths, credentials=self.target.credentials,
                            policy=self.target.policy, timeout=self.target.timeout)
        totals = report.totals()
        details = {"destination": str(self.target.endpoint), "status": "pushed" if report.complete else "failed",
                   "instances": totals["instances"], "sent": totals["transferred"],
                   "already_there": totals["already_there"], "failed": totals["failed"]}
        if report.failed:
            details["reason"] = report.failed[0]["reason"]
        with self.store.write(SYSTEM_ACTOR) as tx:
            tx.record(PUSH_ACTION, case=case, details=details)
        if report.complete:
            self._waits.pop(case, None)
            log.warning("Case %s: signed result sent to %s (%d instance(s))", case, self.target.endpoint,
                        totals["instances"])
        else:
            log.warning("Case %s: the signed result could not be sent to %s yet; trying again later", case,
                        self.target.endpoint)
        return report.complete

    def _retry_later(self, case: int) -> None:
        first, last = self.target.backoff
        wait = min(last, self._waits.get(case, first / 2) * 2)
        self._waits[case] = wait
        timer = threading.Timer(wait, self._queue.put, args=(case,))
        timer.daemon = True
        timer.start()
