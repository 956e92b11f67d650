"""Stopping a server process a test started: politely first, then for good."""

from __future__ import annotations

import signal
import subprocess


def stop_process(process: subprocess.Popen | None, stop_signal: int = signal.SIGTERM, *, timeout: float = 30) -> None:
    """Send ``stop_signal`` and wait up to ``timeout`` seconds; a process still running then is killed."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
