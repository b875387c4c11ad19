"""Execution backends: run chunks of replicates locally (joblib) or on a dask cluster.

Every backend runs the same pure task, ``engine.run_chunk(scenario, start, stop)``, whose
result depends only on its arguments, so the backend, the number of workers and the order
in which chunks finish never change the numbers. :func:`run_scenarios` is the one driver
used by ``simulation.simulate`` and the experiments: it skips chunks already in a checkpoint,
runs the rest on the chosen backend, stores each chunk as soon as it finishes and returns
every scenario's replicates in replicate order; :func:`iter_chunks` streams one scenario's
chunks in order (``trialsim run``).

Tasks are created and submitted lazily, a few per worker at a time (:func:`execute`), so a
run of millions of chunks starts at once and holds only a handful of tasks and results. A
dask scheduler is asked who it is, with a deadline, before a client connects to it: an
address where nothing answers, or something other than a scheduler answers, or a scheduler
without workers, is a :class:`ScenarioError` within ``dask_timeout`` seconds, not a hang.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from trialsim.config.scenario import Scenario, ScenarioError
from trialsim.run.checkpoint import ChunkStore, code_fingerprint, scenario_key
from trialsim.run.progress import Progress
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
    return list(iter_chunk_ranges(first, stop, chunk_size))


def iter_chunk_ranges(first: int, stop: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """:func:`chunk_ranges`, one at a time (a run of millions of chunks never lists them)."""
    s = first
    while s < stop:
        e = min((s // chunk_size + 1) * chunk_size, stop)
        yield s, e
        s = e


#: tasks kept submitted per worker: enough to keep every worker busy while the caller stores
#: a result, few enough that a run of millions of chunks holds only a handful of tasks and
#: results at a time
PENDING_PER_WORKER = 4

#: the thread-pool sizes joblib limits in its worker processes (to cpu_count // n_jobs)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS",
                "NUMEXPR_NUM_THREADS")


def _run_task(scenario: Scenario, start: int, stop: int) -> ChunkResult:
    return run_chunk(scenario, start, stop)


def execute(
    scenarios: Sequence[Scenario],
    tasks: Iterable[ChunkTask],
    backend: str = "local",
    n_jobs: int = 1,
    scheduler: str | None = None,
    *,
    dask_timeout: float | None = None,
    max_pending: int | None = None,
) -> Iterator[tuple[ChunkTask, ChunkResult]]:
    """Run chunk tasks; yield ``(task, result)`` as each one finishes.

    The tasks are taken from ``tasks`` lazily (it may be a generator of millions): a task is
    taken only when it lies fewer than ``max_pending`` tasks after the oldest task not yet
    finished, so at most ``max_pending`` tasks are submitted and not yet handed back, and a
    caller that puts the results back in task order never buffers more than that.

    Parameters
    ----------
    scenarios : sequence of Scenario
        The scenarios the tasks refer to (``task.point`` indexes them).
    tasks : iterable of ChunkTask
    backend : {"local", "dask"}
        ``local``: in this process when ``n_jobs == 1``, else a pool of ``n_jobs`` worker
        processes (joblib's loky). ``dask``: a dask.distributed cluster, the one at
        ``scheduler`` or a new LocalCluster of ``n_jobs`` workers.
    n_jobs : int
        Local worker processes (and the workers of a new LocalCluster).
    scheduler : str, optional
        Address of a running dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    dask_timeout : float, optional
        Seconds to wait for the scheduler to answer and for its first worker (default: dask's
        ``distributed.comm.timeouts.connect``, 30 s).
    max_pending : int, optional
        Tasks submitted at a time (default :data:`PENDING_PER_WORKER` per worker).

    Yields
    ------
    (ChunkTask, ChunkResult)
        In completion order, which may differ from task order.

    Raises
    ------
    ScenarioError
        Unknown backend; ``scheduler`` or ``dask_timeout`` without the dask backend; a bad
        timeout; a scheduler that cannot be reached, does not answer as a dask scheduler
        within the timeout, or has no workers.
    """
    dask_timeout = _check_backend(backend, scheduler, dask_timeout)
    if max_pending is not None and max_pending < 1:
        raise ValueError(f"max_pending must be at least 1, got {max_pending}")
    tasks = iter(tasks)
    if backend == "dask":
        head = list(itertools.islice(tasks, 1))
        if head:  # no cluster for a run whose chunks are all in its checkpoint
            yield from _execute_dask(scenarios, itertools.chain(head, tasks), n_jobs, scheduler,
                                     dask_timeout, max_pending)
        return
    window = max_pending or PENDING_PER_WORKER * n_jobs
    peek = min(n_jobs, window)
    head = list(itertools.islice(tasks, peek))
    if len(head) <= 1:  # one worker, one task, or one task at a time: no pool to start
        for t in itertools.chain(head, tasks):
            yield t, _run_task(scenarios[t.point], t.start, t.stop)
        return
    # as many workers as tasks can run at once (fewer when the run has fewer tasks)
    yield from _execute_local(scenarios, itertools.chain(head, tasks), len(head), n_jobs,
                              window)


def _check_backend(backend: str, scheduler: str | None, dask_timeout) -> float | None:
    """Refuse backend options that do not go together; the checked ``dask_timeout``."""
    if backend not in BACKENDS:
        raise ScenarioError(f"--backend {backend!r}: allowed backends are {', '.join(BACKENDS)}")
    if scheduler is not None and backend != "dask":
        raise ScenarioError("--scheduler needs --backend dask")
    if dask_timeout is not None and backend != "dask":
        raise ScenarioError("--dask-timeout needs --backend dask")
    timeout = None if dask_timeout is None else _checked_timeout(dask_timeout)
    if scheduler is not None:  # ask it now, before any progress is reported
        _probe_scheduler(scheduler, _default_timeout() if timeout is None else timeout)
    return timeout


def _default_timeout() -> float:
    """dask's connect timeout (``distributed.comm.timeouts.connect``, 30 s unless set)."""
    try:
        import dask
        from dask.utils import parse_timedelta
    except ImportError:
        raise ScenarioError(
            "--backend dask needs the optional dependency dask.distributed: "
            "pip install 'trialsim[dask]'"
        ) from None
    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s"))


def _bounded(
    tasks: Iterator[ChunkTask],
    window: int,
    submit: Callable[[ChunkTask], Any],
    next_done: Callable[[dict], Any],
    abort: Callable[[list], None],
) -> Iterator[tuple[ChunkTask, ChunkResult]]:
    """Keep tasks submitted ``window`` at a time; yield ``(task, result)`` as they finish.

    ``submit(task)`` returns a future; ``next_done(pending)`` blocks until one of the pending
    futures is finished and returns it with its result (fetching the result is the backend's
    business: a dask result can be lost with its worker after the future finished);
    ``abort(futures)`` gives up the unfinished ones when the consumer stops early or a task
    fails.
    """
    pending: dict[Any, tuple[int, ChunkTask]] = {}
    finished: set[int] = set()
    oldest = taken = 0  # every task before ``oldest`` has finished
    more = True
    try:
        while True:
            while more and taken < oldest + window:
                task = next(tasks, None)
                if task is None:
                    more = False
                    break
                pending[submit(task)] = (taken, task)
                taken += 1
            if not pending:
                return
            future, result = next_done(pending)
            index, task = pending.pop(future)
            finished.add(index)
            while oldest in finished:
                finished.remove(oldest)
                oldest += 1
            yield task, result
    except BaseException:  # a failed task, the consumer closing the stream, Ctrl-C
        if pending:
            abort(list(pending))
        raise


def _execute_local(scenarios, tasks, workers: int, n_jobs: int, window: int):
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    from joblib import cpu_count
    from joblib.executor import get_memmapping_executor

    threads = str(max(cpu_count() // n_jobs, 1))  # per n_jobs: one pool for every call
    env = {var: os.environ.get(var, threads) for var in _THREAD_VARS}
    # joblib's own reusable loky pool, the one joblib.Parallel uses (so a later Parallel in
    # the same process finds it in the state it expects): workers stay up between the calls
    # of an experiment (a sample-size search runs many) and stop after 300 s idle
    pool = get_memmapping_executor(workers, timeout=300, env=env)

    def submit(t: ChunkTask):
        return pool.submit(_run_task, scenarios[t.point], t.start, t.stop)

    def next_done(pending: dict):
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        future = min(done, key=lambda f: pending[f][0])
        return future, future.result()

    def abort(futures: list) -> None:
        running = [f for f in futures if not f.cancel() and not f.done()]
        if running:  # stop the work nobody will read, as joblib.Parallel does
            pool.shutdown(wait=False, kill_workers=True)

    try:
        yield from _bounded(tasks, window, submit, next_done, abort)
    except BrokenProcessPool as exc:  # loky's TerminatedWorkerError is one
        codes = re.search(r"exit codes of the workers are (\{.*?\})", str(exc))
        raise ScenarioError(
            "a worker process was killed mid-run (by the system when memory ran short, or "
            f"by a signal{'; exit codes ' + codes.group(1) if codes else ''}); run the "
            "command again, with fewer --n-jobs if memory is short"
        ) from None


#: longest --dask-timeout (s): beyond it, dask's clock arithmetic overflows
MAX_DASK_TIMEOUT = 86_400.0


def _checked_timeout(value) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_DASK_TIMEOUT:
        raise ScenarioError(
            f"--dask-timeout {value}: must be a number of seconds above 0 and at most "
            f"{MAX_DASK_TIMEOUT:g} (a day), e.g. 30"
        )
    return seconds


_FIX_ADDRESS = (
    "check the address and port (the scheduler prints its address as 'Scheduler at: "
    "tcp://HOST:PORT'; the dashboard's port, e.g. 8787, is not it)"
)


def _probe_scheduler(address: str, timeout: float) -> None:
    """Ask ``address`` whether it is a dask scheduler, all within ``timeout`` seconds.

    ``dask.distributed.Client`` waits without end for the reply of a server that accepts the
    connection and never answers, and dies deep in deserialization on one that answers
    something else; this asks first, with a deadline, so that both become a user error.

    Raises
    ------
    ScenarioError
        Not a dask address, nothing to connect to, no dask reply within ``timeout``, or a
        reply that is not the dask protocol or not a scheduler's.
    """
    import asyncio
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend
    from distributed.security import Security

    where = f"--scheduler {address}"
    more_time = "or allow more time with --dask-timeout SECONDS"
    try:
        scheme, loc = parse_address(address)
        get_backend(scheme)
        host_port = parse_host_port(loc) if scheme in ("tcp", "tls", "ws", "wss") else None
    except ValueError as exc:
        raise ScenarioError(
            f"{where}: not a dask scheduler address ({exc}); give the address the scheduler "
            "prints, e.g. tcp://10.0.0.5:8786"
        ) from None
    deadline = time.monotonic() + timeout
    if host_port is not None:  # first: does anything accept connections there?
        delay = 0.05
        while True:
            try:
                left = max(deadline - time.monotonic(), 0.01)
                socket.create_connection(host_port, timeout=left).close()
                break
            except OSError as exc:
                if time.monotonic() + delay >= deadline:
                    raise ScenarioError(
                        f"{where}: cannot connect within {timeout:g} s ({exc}); check the "
                        f"address and that the scheduler is running, {more_time}"
                    ) from None
                time.sleep(delay)
                delay = min(2 * delay, 1.0)

    async def ask():
        args = Security().get_connection_args("client")
        comm = await connect(address, timeout=max(deadline - time.monotonic(), 0.01), **args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def run():
        return asyncio.run(asyncio.wait_for(ask(), max(deadline - time.monotonic(), 0.01)))

    with ThreadPoolExecutor(1, thread_name_prefix="trialsim-dask-probe") as probe:
        try:
            reply = probe.submit(run).result()
        except (asyncio.TimeoutError, TimeoutError):
            raise ScenarioError(
                f"{where}: not a dask scheduler: it accepted the connection but sent no dask "
                f"reply within {timeout:g} s; {_FIX_ADDRESS}, {more_time}"
            ) from None
        except Exception as exc:  # whatever garbage does to the decoder
            why = f": {exc}" if isinstance(exc, OSError) else f" with {type(exc).__name__}"
            raise ScenarioError(
                f"{where}: not a dask scheduler: its reply is not the dask protocol (reading "
                f"it failed{why}); "
                f"{_FIX_ADDRESS}"
            ) from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        what = f"a dask {kind}" if isinstance(kind, str) else "something else"
        raise ScenarioError(
            f"{where}: not a dask scheduler but {what}; give the scheduler's address"
        )


def _dask_client(n_jobs: int, scheduler: str | None, timeout: float | None = None):
    """A client of the cluster at ``scheduler`` (checked first), or of a new LocalCluster."""
    if timeout is None:
        timeout = _default_timeout()  # also refuses a missing dask.distributed
    from dask.distributed import Client, LocalCluster

    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: never clashes with a running cluster
        )
        try:
            return Client(cluster), cluster, timeout
        except BaseException:
            cluster.close()
            raise
    _probe_scheduler(scheduler, timeout)
    try:
        return Client(scheduler, timeout=timeout), None, timeout
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError(f"--scheduler {scheduler}: cannot connect ({exc})") from None


def _worker_fingerprint() -> str:
    from trialsim.run.checkpoint import code_fingerprint as fingerprint

    return fingerprint()


def check_workers(client, timeout: float | None = None, where: str = "--backend dask") -> int:
    """Refuse a cluster without workers, or whose workers run other simulation code.

    Parameters
    ----------
    client : dask.distributed.Client
    timeout : float, optional
        Seconds to wait for a first worker (default: without end).
    where : str
        How the error messages name the cluster (``--scheduler ADDRESS``).

    Returns
    -------
    int
        Worker threads of the cluster.
    """
    mine = code_fingerprint()
    try:  # an empty cluster would pass the check vacuously
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ScenarioError(
            f"{where}: the dask scheduler has no workers: none joined within {timeout:g} s; "
            "start some (dask worker SCHEDULER-ADDRESS) or allow them more time with "
            "--dask-timeout SECONDS"
        ) from None
    theirs = client.run(_worker_fingerprint)
    odd = sorted(w for w, fp in theirs.items() if fp != mine)
    if odd:
        raise ScenarioError(
            f"dask workers {', '.join(odd)} run different trialsim simulation code than this "
            "process (install the same trialsim version on every worker); their numbers would "
            "not match a local run"
        )
    return sum(client.nthreads().values())


#: how often (s) a dask run waiting for chunks checks that the cluster still works
POLL_SECONDS = 1.0


def _check_cluster(client, where: str, timeout: float, alive: float) -> float:
    """Refuse to wait on a cluster that lost its scheduler, or its workers for ``timeout`` s.

    Returns the time the cluster was last seen with a worker (``alive`` if it has none now).
    """
    if client.status != "running":
        raise ScenarioError(
            f"{where}: the connection to the dask scheduler was lost mid-run (client "
            f"{client.status}); check the scheduler and run the command again"
        )
    if client.nthreads():
        return time.monotonic()
    if time.monotonic() - alive > timeout:
        raise ScenarioError(
            f"{where}: the dask cluster lost its workers mid-run and none joined within "
            f"{timeout:g} s; start workers (dask worker SCHEDULER-ADDRESS) or allow them "
            f"more time with --dask-timeout SECONDS"
        )
    return alive


def _execute_dask(scenarios, tasks, n_jobs, scheduler, timeout, max_pending):
    from concurrent.futures import CancelledError

    from dask.distributed import KilledWorker, as_completed, wait
    from distributed.comm import CommClosedError

    client, cluster, timeout = _dask_client(n_jobs, scheduler, timeout)
    failed = False
    try:
        where = f"--scheduler {scheduler}" if scheduler is not None else "--backend dask"
        threads = check_workers(client, timeout, where)
        window = max_pending or PENDING_PER_WORKER * max(threads, 1)
        run_id = uuid.uuid4().hex
        keys = itertools.count()
        finished = as_completed()

        def submit(t: ChunkTask):
            future = client.submit(_run_task, scenarios[t.point], t.start, t.stop, pure=False,
                                   key=f"trialsim-chunk-{run_id}-{next(keys)}")
            finished.add(future)
            return future

        def next_done(pending: dict):
            alive = time.monotonic()  # when the cluster last had a worker
            while not finished.has_ready():
                try:
                    wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    alive = _check_cluster(client, where, timeout, alive)
            future = next(finished)
            # a finished chunk whose worker died before its result was fetched is computed
            # again, by no one if no worker is left: fetch it under the same watch
            while True:
                try:
                    return future, future.result(timeout=POLL_SECONDS)
                except TimeoutError:
                    alive = _check_cluster(client, where, timeout, alive)

        def abort(futures: list) -> None:
            if client.status == "running":
                client.cancel(futures)

        try:
            yield from _bounded(tasks, window, submit, next_done, abort)
        except (CancelledError, CommClosedError):  # the client lost its scheduler: dask
            # cancels the futures, or the fetch of a finished one finds the connection closed
            raise ScenarioError(
                f"{where}: the connection to the dask scheduler was lost mid-run; check the "
                "scheduler and run the command again"
            ) from None
        except KilledWorker as exc:
            raise ScenarioError(
                f"{where}: a chunk of replicates killed the dask workers that ran it ({exc}); "
                "workers may be short of memory: give them more, or a smaller "
                "engine.chunk_size"
            ) from None
    except BaseException:
        failed = True  # stopped by an error (e.g. the cluster lost): nothing more to report
        raise
    finally:
        if failed or client.status != "running":
            # dask logs its own failed reconnection, with a traceback, as the client closes;
            # and a result fetch cut short by the error leaves a gather task that fails with
            # AllExit when the client closes, which asyncio reports (with a traceback) when the
            # task is collected: the user has had the one-line error already
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        client.close()
        if cluster is not None:
            cluster.close()


def _in_grid(start: int, stop: int, first: int, end: int, chunk_size: int) -> bool:
    """Whether ``[start, stop)`` is one of the chunks of ``iter_chunk_ranges(first, end, ...)``."""
    return (
        first <= start < stop <= end
        and (start == first or start % chunk_size == 0)
        and stop == min((start // chunk_size + 1) * chunk_size, end)
    )


def _stored(store: ChunkStore | None, first: int, end: int, chunk_size: int) -> list[tuple]:
    """The chunks of ``[first, end)`` that have a file in ``store`` (one directory listing, not
    one look-up per chunk: a run of millions of chunks)."""
    if store is None:
        return []
    return [(s, e) for s, e in store.finished() if _in_grid(s, e, first, end, chunk_size)]


def run_scenarios(
    scenarios: Sequence[Scenario],
    replicates: int,
    chunk_size: int,
    *,
    first: int = 0,
    n_jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    dask_timeout: float | None = None,
    stores: Sequence[ChunkStore | None] | None = None,
    progress: bool | None = None,
    desc: str | None = None,
) -> list[ChunkResult]:
    """Simulate replicates ``[first, first + replicates)`` of each scenario.

    All chunks of all scenarios go to one pool, so a grid of small points keeps every worker
    busy; they are submitted a few at a time (:func:`execute`), never listed all at once.
    Chunks found in ``stores`` are loaded instead of simulated; each newly finished chunk is
    written to its store at once.

    Parameters
    ----------
    scenarios : sequence of Scenario
    replicates, chunk_size : int
    first : int
        Index of the first replicate (a confirmation run uses fresh replicates after the
        ones a search used).
    n_jobs, backend, scheduler, dask_timeout
        See :func:`execute`.
    stores : sequence of ChunkStore or None, optional
        One checkpoint store per scenario (None: no checkpoint for it).
    progress : bool, optional
        False: silent. True: a progress bar. None (default): a bar when stderr is a
        terminal, else a line with the ETA every ~10% or 30 s (:class:`Progress`).
    desc : str, optional
        Label of the progress report.

    Returns
    -------
    list of ChunkResult
        One per scenario, replicates in order; bit-identical whatever the backend, ``n_jobs``
        or checkpoint history.
    """
    _check_backend(backend, scheduler, dask_timeout)  # before anything is reported
    end = first + replicates
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
    for p in unique:
        for s, e in _stored(stores[p], first, end, chunk_size):
            cached = stores[p].load(s, e)
            if cached is not None:  # else (cut short): simulated again
                parts[(p, s)] = cached

    def tasks() -> Iterator[ChunkTask]:
        for p in unique:
            for s, e in iter_chunk_ranges(first, end, chunk_size):
                if (p, s) not in parts:
                    yield ChunkTask(p, s, e)

    bar = Progress(
        len(unique) * replicates,
        initial=sum(part.replicates.size for part in parts.values()),
        desc=desc or (scenarios[0].name if scenarios else None),
        show=progress,
    )
    try:
        for t, result in execute(scenarios, tasks(), backend, n_jobs, scheduler,
                                 dask_timeout=dask_timeout):
            if stores[t.point] is not None:
                stores[t.point].save(result)
            parts[(t.point, t.start)] = result
            bar.update(t.stop - t.start)
    finally:
        bar.close()
    out = []
    for key in keys:
        p = first_of[key]
        out.append(ChunkResult.concat(
            [parts[(p, s)] for s, _ in iter_chunk_ranges(first, end, chunk_size)]
        ))
    return out


def iter_chunks(
    scenario: Scenario,
    replicates: int,
    chunk_size: int,
    *,
    n_jobs: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    dask_timeout: float | None = None,
    store: ChunkStore | None = None,
    progress: bool | None = None,
) -> Iterator[ChunkResult]:
    """The chunks of replicates ``[0, replicates)`` of one scenario, in replicate order.

    Chunks in ``store`` are loaded, the others run on the backend and are saved to ``store``
    as soon as they finish. Tasks are created and submitted a few at a time
    (:func:`execute`), and a chunk that finishes early waits (in memory) only until the ones
    before it are done, so a run of any length holds a few chunks, never all of them.
    ``progress`` is as in :func:`run_scenarios`.
    """
    _check_backend(backend, scheduler, dask_timeout)  # before anything is reported
    stored = {s: e for s, e in _stored(store, 0, replicates, chunk_size)}

    def tasks() -> Iterator[ChunkTask]:
        for s, e in iter_chunk_ranges(0, replicates, chunk_size):
            if s not in stored:  # a stored chunk is loaded when its turn comes
                yield ChunkTask(0, s, e)

    bar = Progress(replicates, initial=sum(e - s for s, e in stored.items()),
                   desc=scenario.name, show=progress)
    ready: dict[int, ChunkResult] = {}
    results = execute([scenario], tasks(), backend, n_jobs, scheduler,
                      dask_timeout=dask_timeout)
    try:
        for s, e in iter_chunk_ranges(0, replicates, chunk_size):
            if s in stored:
                chunk = store.load(s, e)
                if chunk is None:  # unreadable after all (cut short): compute it here
                    chunk = run_chunk(scenario, s, e)
                    store.save(chunk)
                yield chunk
                continue
            while s not in ready:
                t, result = next(results)
                if store is not None:
                    store.save(result)
                ready[t.start] = result
                bar.update(t.stop - t.start)
            yield ready.pop(s)
    finally:
        bar.close()
        results.close()  # stop the pool when the consumer stops early
