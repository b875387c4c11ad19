"""Execution backends: run chunks of replicates locally (joblib) or on a dask cluster.

Every backend runs the same pure task, ``engine.run_chunk(scenario, start, stop)``, whose
result depends only on its arguments, so the backend, the number of workers and the order
in which chunks finish never change the numbers. :func:`run_scenarios` is the one driver
used by ``simulation.simulate`` and the experiments: it skips chunks already in a checkpoint,
runs the rest on the chosen backend, stores each chunk as soon as it finishes and returns
every scenario's replicates in replicate order.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from trialsim.config.scenario import Scenario, ScenarioError
from trialsim.run.checkpoint import ChunkStore, code_fingerprint, scenario_key
from trialsim.run.trial import ChunkResult, run_chunk

BACKENDS = ("local", "dask")


@dataclass(frozen=True)
class ChunkTask:
    """Replicates ``[start, stop)`` of scenario number ``point``."""

    point: int
    start: int
    stop: int


def chunk_ranges(first: int, stop: int, chunk_size: int) -> list[tuple[int, int]]:
    """Chunks covering replicates ``[first, stop)``, cut at multiples of ``chunk_size``.

    Cutting at fixed multiples (rather than every ``chunk_size`` from ``first``) makes the
    same replicates fall in the same chunk files whatever range a run asks for.
    """
    out = []
    s = first
    while s < stop:
        e = min((s // chunk_size + 1) * chunk_size, stop)
        out.append((s, e))
        s = e
    return out


def _run_task(index: int, scenario: Scenario, start: int, stop: int) -> tuple[int, ChunkResult]:
    return index, run_chunk(scenario, start, stop)


def execute(
    scenarios: Sequence[Scenario],
    tasks: Sequence[ChunkTask],
    backend: str = "local",
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> Iterator[tuple[int, ChunkResult]]:
    """Run chunk tasks; yield ``(task index, result)`` as each one finishes.

    Parameters
    ----------
    scenarios : sequence of Scenario
        The scenarios the tasks refer to (``task.point`` indexes them).
    tasks : sequence of ChunkTask
    backend : {"local", "dask"}
        ``local``: in this process when ``n_jobs == 1``, else a joblib (loky) process pool.
        ``dask``: a dask.distributed cluster, the one at ``scheduler`` or a new LocalCluster.
    n_jobs : int
        Local worker processes (and the workers of a new LocalCluster).
    scheduler : str, optional
        Address of a running dask scheduler, e.g. ``tcp://10.0.0.5:8786``.

    Yields
    ------
    (int, ChunkResult)
        In completion order, which may differ from task order.
    """
    if backend not in BACKENDS:
        raise ScenarioError(f"--backend {backend!r}: allowed backends are {', '.join(BACKENDS)}")
    if scheduler is not None and backend != "dask":
        raise ScenarioError("--scheduler needs --backend dask")
    if not tasks:
        return
    if backend == "dask":
        yield from _execute_dask(scenarios, tasks, n_jobs, scheduler)
    elif n_jobs == 1 or len(tasks) == 1:
        for i, t in enumerate(tasks):
            yield _run_task(i, scenarios[t.point], t.start, t.stop)
    else:
        from joblib import Parallel, delayed

        pool = Parallel(n_jobs=min(n_jobs, len(tasks)), return_as="generator_unordered")
        yield from pool(
            delayed(_run_task)(i, scenarios[t.point], t.start, t.stop) for i, t in enumerate(tasks)
        )


def _dask_client(n_jobs: int, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ScenarioError(
            "--backend dask needs the optional dependency dask.distributed: "
            "pip install 'trialsim[dask]'"
        ) from None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: never clashes with a running cluster
        )
        try:
            return Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:  # waits distributed.comm.timeouts.connect (dask config, default 30 s)
        return Client(scheduler), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError(f"--scheduler {scheduler}: cannot connect ({exc})") from None


def _worker_fingerprint() -> str:
    from trialsim.run.checkpoint import code_fingerprint as fingerprint

    return fingerprint()


def check_workers(client) -> None:
    """Refuse a cluster whose workers run other simulation code than this process."""
    mine = code_fingerprint()
    client.wait_for_workers(1)  # an empty cluster would pass the check vacuously
    theirs = client.run(_worker_fingerprint)
    odd = sorted(w for w, fp in theirs.items() if fp != mine)
    if odd:
        raise ScenarioError(
            f"dask workers {', '.join(odd)} run different trialsim simulation code than this "
            "process (install the same trialsim version on every worker); their numbers would "
            "not match a local run"
        )


def _execute_dask(scenarios, tasks, n_jobs, scheduler) -> Iterator[tuple[int, ChunkResult]]:
    from dask.distributed import as_completed

    client, cluster = _dask_client(n_jobs, scheduler)
    try:
        check_workers(client)
        run_id = uuid.uuid4().hex
        futures = {}
        for i, t in enumerate(tasks):
            fut = client.submit(
                _run_task,
                i,
                scenarios[t.point],
                t.start,
                t.stop,
                pure=False,
                key=f"trialsim-chunk-{run_id}-{i}",
            )
            futures[fut] = i
        for fut in as_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_scenarios(
    scenarios: Sequence[Scenario],
    replicates: int,
    chunk_size: int,
    *,
    first: int = 0,
    n_jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    stores: Sequence[ChunkStore | None] | None = None,
    progress: bool | None = None,
    desc: str | None = None,
) -> list[ChunkResult]:
    """Simulate replicates ``[first, first + replicates)`` of each scenario.

    All chunks of all scenarios go to one pool, so a grid of small points keeps every worker
    busy. Chunks found in ``stores`` are loaded instead of simulated; each newly finished
    chunk is written to its store at once.

    Parameters
    ----------
    scenarios : sequence of Scenario
    replicates, chunk_size : int
    first : int
        Index of the first replicate (a confirmation run uses fresh replicates after the
        ones a search used).
    n_jobs, backend, scheduler
        See :func:`execute`.
    stores : sequence of ChunkStore or None, optional
        One checkpoint store per scenario (None: no checkpoint for it).
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    list of ChunkResult
        One per scenario, replicates in order; bit-identical whatever the backend, ``n_jobs``
        or checkpoint history.
    """
    ranges = chunk_ranges(first, first + replicates, chunk_size)
    stores = list(stores) if stores is not None else [None] * len(scenarios)
    # a scenario listed twice (e.g. the base point of a one-at-a-time sweep) runs once
    keys = [scenario_key(sc) for sc in scenarios]
    first_of: dict[str, int] = {}
    unique = []
    for p, key in enumerate(keys):
        if key not in first_of:
            first_of[key] = p
            unique.append(p)
    parts: dict[tuple[int, int], ChunkResult] = {}
    tasks: list[ChunkTask] = []
    for p in unique:
        for s, e in ranges:
            cached = stores[p].load(s, e) if stores[p] is not None else None
            if cached is None:
                tasks.append(ChunkTask(p, s, e))
            else:
                parts[(p, s)] = cached
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm.auto import tqdm

    done = sum(part.replicates.size for part in parts.values())
    bar = tqdm(
        total=len(unique) * replicates,
        initial=done,
        unit="trial",
        disable=not progress,
        desc=desc or (scenarios[0].name if scenarios else None),
    )
    try:
        for i, result in execute(scenarios, tasks, backend, n_jobs, scheduler):
            t = tasks[i]
            if stores[t.point] is not None:
                stores[t.point].save(result)
            parts[(t.point, t.start)] = result
            bar.update(t.stop - t.start)
    finally:
        bar.close()
    out = []
    for key in keys:
        p = first_of[key]
        out.append(ChunkResult.concat([parts[(p, s)] for s, _ in ranges]))
    return out


def iter_chunks(
    scenario: Scenario,
    replicates: int,
    chunk_size: int,
    *,
    n_jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    store: ChunkStore | None = None,
    progress: bool | None = None,
) -> Iterator[ChunkResult]:
    """The chunks of replicates ``[0, replicates)`` of one scenario, in replicate order.

    Chunks in ``store`` are loaded, the others run on the backend and saved to ``store`` as
    soon as they finish; chunks that finish early wait (in memory) only until the ones before
    them are done, so a run holds a few chunks, never all of them.
    """
    ranges = chunk_ranges(0, replicates, chunk_size)
    ready: dict[int, ChunkResult] = {}
    stored = set()
    tasks: list[ChunkTask] = []
    for s, e in ranges:
        if store is not None and store.chunk_path(s, e).is_file():
            stored.add(s)  # loaded when its turn comes: a resumed run holds few chunks too
        else:
            tasks.append(ChunkTask(0, s, e))
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm.auto import tqdm

    done = sum(e - s for s, e in ranges if s in stored)
    bar = tqdm(total=replicates, initial=done, unit="trial", disable=not progress,
               desc=scenario.name)
    k = 0
    results = execute([scenario], tasks, backend, n_jobs, scheduler)
    try:
        while k < len(ranges):
            s, e = ranges[k]
            if s in stored:
                chunk = store.load(s, e)
                if chunk is None:  # unreadable after all (cut short): compute it here
                    chunk = run_chunk(scenario, s, e)
                    store.save(chunk)
                yield chunk
                k += 1
                continue
            if s in ready:
                yield ready.pop(s)
                k += 1
                continue
            i, result = next(results)
            t = tasks[i]
            if store is not None:
                store.save(result)
            ready[t.start] = result
            bar.update(t.stop - t.start)
    finally:
        bar.close()
        results.close()  # stop the pool when the consumer stops early
