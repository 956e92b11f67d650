"""A real Dask cluster for the ``--scheduler`` tests: a ``distributed.LocalCluster`` of 2 worker processes.

Test modules load it with ``pytest_plugins = ["cluster_fixtures"]``. The scheduler listens on
127.0.0.1 on a free port, without a dashboard; one cluster serves the whole session.
"""

from __future__ import annotations

import pytest
from conftest import require_module


@pytest.fixture(scope="session")
def dask_scheduler():
    """The address (tcp://127.0.0.1:PORT) of a LocalCluster with 2 single-threaded worker processes."""
    distributed = require_module("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       scheduler_port=0, dashboard_address=None, silence_logs=40)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
