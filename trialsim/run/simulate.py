"""Simulate a scenario: all its replicates, in chunks, on a backend, with checkpoints.

The driver above the engine (``engine.run_chunk`` simulates one chunk): it picks the backend
(``backends``), keeps finished chunks (``checkpoint``) and returns every replicate in order.
"""

from __future__ import annotations

import sys

from trialsim.config.scenario import Scenario
from trialsim.run.backends import run_scenarios
from trialsim.run.checkpoint import ChunkStore, locked
from trialsim.run.trial import ChunkResult


def simulate(
    scenario: Scenario,
    replicates: int | None = None,
    n_jobs: int | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    backend: str = "local",
    scheduler: str | None = None,
    checkpoint_dir: str | None = None,
    dask_timeout: float | None = None,
) -> ChunkResult:
    """Run all replicates of a scenario.

    Parameters
    ----------
    scenario : Scenario
    replicates, n_jobs, chunk_size : int, optional
        Override the scenario's ``engine`` block.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    backend : {"local", "dask"}
        ``local``: this process (``n_jobs == 1``) or a joblib process pool; ``dask``: a
        dask.distributed cluster (``trialsim.run.backends``).
    scheduler : str, optional
        Address of a running dask scheduler; without it ``backend="dask"`` starts a
        LocalCluster of ``n_jobs`` workers.
    checkpoint_dir : str or Path, optional
        Keep every finished chunk there (``trialsim.run.checkpoint``) and reuse the chunks a
        previous, interrupted run of the same scenario left.
    dask_timeout : float, optional
        Seconds to wait for the scheduler to answer and for a first worker (default dask's
        ``distributed.comm.timeouts.connect``, 30 s); a scheduler that does not answer as one,
        or has no workers, raises :class:`ScenarioError`.

    Returns
    -------
    ChunkResult
        All replicates, in replicate order; bit-identical for any ``n_jobs``, chunk size,
        backend and checkpoint history.
    """
    eng = scenario.engine
    replicates = replicates or eng.replicates
    n_jobs = n_jobs or eng.n_jobs
    chunk_size = chunk_size or eng.chunk_size
    if progress is None:
        progress = sys.stderr.isatty()
    run = dict(n_jobs=n_jobs, backend=backend, scheduler=scheduler, progress=progress,
               dask_timeout=dask_timeout)
    if checkpoint_dir is None:
        return run_scenarios([scenario], replicates, chunk_size, **run)[0]
    with locked(checkpoint_dir):
        store = ChunkStore(checkpoint_dir, scenario, chunk_size)
        return run_scenarios([scenario], replicates, chunk_size, stores=[store], **run)[0]
