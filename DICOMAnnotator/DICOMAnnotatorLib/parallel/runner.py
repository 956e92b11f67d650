"""Chunks of a batch to workers: in this process, in local processes, or on a Dask cluster.

``work(state, chunk)`` runs where the chunk lands, with the state ``setup()`` built once per worker
process (once per run in this process); both must be picklable module-level callables (or
``functools.partial`` of them) so they can travel. Results come back in completion order: callers
that need a stable order sort them (outputs written by the workers do not depend on it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from itertools import islice
from typing import Any, TypeVar

from ..errors import InputError, MissingDependencyError

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Chunks in flight per worker: enough to keep it busy, few enough to bound memory.
IN_FLIGHT_PER_WORKER = 4
#: Largest chunk: one task per file costs more in messages than small files take to process.
MAX_CHUNK = 16
#: How much larger a chunk sent to a Dask worker may be (a task costs milliseconds to schedule there).
DASK_CHUNK_FACTOR = 4

_state: Any = None  # this worker process's state (local process pools)
_states: dict[str, Any] = {}  # per run, this worker process's state (Dask workers outlive one run)


def run_chunks(work: Callable[[Any, list[Item]], list[Result]], items: Sequence[Item], *,
               setup: Callable[[], Any], jobs: int = 1, scheduler: str | None = None,
               max_chunk: int = MAX_CHUNK) -> Iterator[list[Result]]:
    """The results of ``work`` over ``items`` in chunks: here (``jobs`` 1), in ``jobs`` local processes, or on
    the Dask cluster whose scheduler is at ``scheduler``."""
    if scheduler is not None:
        yield from _on_dask(work, items, setup, scheduler, max_chunk)
        return
    if jobs <= 1 or len(items) <= 1:
        state = setup()
        for chunk in _chunks(items, 1, max_chunk):
            yield work(state, chunk)
        return
    with ProcessPoolExecutor(max_workers=jobs, initializer=_set_up_process, initargs=(setup,)) as pool:
        pending: set[Future] = set()
        for chunk in _chunks(items, jobs, max_chunk):
            pending.add(pool.submit(_run_in_process, work, chunk))
            if len(pending) >= jobs * IN_FLIGHT_PER_WORKER:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)


def _chunks(items: Sequence[Item], workers: int, max_chunk: int) -> Iterator[list[Item]]:
    size = max(1, min(max_chunk, len(items) // max(1, workers * IN_FLIGHT_PER_WORKER)))
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _set_up_process(setup: Callable[[], Any]) -> None:
    global _state
    _state = setup()


def _run_in_process(work: Callable[[Any, list[Item]], list[Result]], chunk: list[Item]) -> list[Result]:
    return work(_state, chunk)


def _run_on_dask_worker(work: Callable[[Any, list[Item]], list[Result]], setup: Callable[[], Any], run: str,
                        chunk: list[Item]) -> list[Result]:
    """A chunk on a Dask worker: the run's state is built on the first chunk this process gets."""
    if run not in _states:
        _states.clear()  # an earlier run's state (its key, its folders) is not kept beyond the next run
        _states[run] = setup()
    return work(_states[run], chunk)


def _on_dask(work: Callable[[Any, list[Item]], list[Result]], items: Sequence[Item], setup: Callable[[], Any],
             scheduler: str, max_chunk: int) -> Iterator[list[Result]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise MissingDependencyError("dask.distributed", "--scheduler (batch work on a Dask cluster)",
                                     "pip install 'dicom-annotator[cluster]'") from None
    if not scheduler.startswith(("tcp://", "tls://", "inproc://")):
        raise InputError(f"--scheduler {scheduler!r} is not a Dask scheduler address; give tcp://HOST:PORT")
    try:
        client = Client(scheduler, timeout="30s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise InputError(f"Cannot reach the Dask scheduler at {scheduler} ({type(error).__name__}); check the "
                         "address and that `dask scheduler` runs there") from None
    try:
        workers = max(1, sum(client.nthreads().values()))
        run = uuid.uuid4().hex
        # tasks on a cluster cost more to dispatch than local ones: bigger chunks, as many in flight
        chunks = _chunks(items, workers, max_chunk * DASK_CHUNK_FACTOR)

        def submit(chunk: list[Item]) -> Any:  # pure=False: every chunk is a task of its own, even two equal ones
            return client.submit(_run_on_dask_worker, work, setup, run, chunk, pure=False)

        running = as_completed([submit(chunk) for chunk in islice(chunks, workers * IN_FLIGHT_PER_WORKER)],
                               loop=client.loop)
        for future in running:
            yield future.result()
            future.release()
            following = next(chunks, None)
            if following is not None:
                running.add(submit(following))
    finally:
        client.close()
