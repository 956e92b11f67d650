"""Batch work spread over local worker processes or a Dask cluster, with the same results either way.

``runner`` hands small chunks of items to workers that each build their state once (a
de-identifier with its key, an exporter with its settings), keeps a bounded number of chunks in
flight so memory does not grow with the batch, and yields each chunk's results as it completes;
``progress`` draws a batch's bar on stderr.
``--scheduler tcp://HOST:PORT`` names a ``dask.distributed`` scheduler; its workers must see the
same paths (a shared file system) and have this package installed.
"""

from ..lazy import public_api

__getattr__, __dir__, __all__ = public_api(__name__, {
    "progress": ["ProgressBar"],
    "runner": ["run_chunks"],
})
