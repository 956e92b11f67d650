"""Retries with exponential back-off for transfers over a network that may drop or refuse.

A :class:`TransientError` is what may succeed when tried again (a refused or broken connection,
a timeout, HTTP 408/429/5xx, a DIMSE association that could not be made or was aborted); any
other error is final at once. The caller decides what "again" means: a pull recomputes what is
still missing before each attempt, so an attempt never repeats what already arrived.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..errors import DICOMAnnotatorError

log = logging.getLogger("dicom_annotator.pacs")
T = TypeVar("T")


class TransferError(DICOMAnnotatorError):
    """A transfer failed for a reason that trying again will not change (refused, not found, bad data)."""


class TransientError(TransferError):
    """A transfer failed in a way that may pass when tried again."""


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; the wait before try n+1 is ``first_delay * 2**(n-1)``, at most ``max_delay``."""

    attempts: int = 4
    first_delay: float = 1.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise DICOMAnnotatorError(f"--retries must be 0 or more, got {self.attempts - 1}")
        if self.first_delay < 0:
            raise DICOMAnnotatorError(f"--retry-delay must be 0 or more seconds, got {self.first_delay:g}")

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.first_delay * 2 ** (attempt - 1))

    def run(self, action: Callable[[], T], what: str, *, sleep: Callable[[float], None] = time.sleep) -> T:
        """``action()``, tried again after each :class:`TransientError` until the attempts are spent."""
        for attempt in range(1, self.attempts + 1):
            try:
                return action()
            except TransientError as error:
                if attempt == self.attempts:
                    raise
                wait = self.delay(attempt)
                log.warning("%s failed (%s); trying again in %.1f s (%d of %d)", what, error, wait, attempt + 1,
                            self.attempts)
                sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
