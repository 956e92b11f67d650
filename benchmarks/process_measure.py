"""Running one measurement in a new process, so that its time and peak memory are its own.

Processes are spawned (not forked) from the benchmark's small main process: Linux carries a
parent's peak resident memory into a child, so a large parent would inflate every figure.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable


def in_new_process(function: Callable, *args) -> dict:
    """``function(*args, queue)`` in a spawned process; the dict it put in the queue.

    When the process dies without answering (killed for memory, a crash in native code), the
    answer is ``{"failed": ...}`` with its exit code.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=function, args=(*args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Exception:  # queue.Empty: the child may have died without answering
            if not process.is_alive():
                return {"failed": f"the measuring process died (exit code {process.exitcode})"}
    process.join()
    return result
