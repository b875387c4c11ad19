"""``--backend dask --scheduler ADDRESS`` against things that are not a working scheduler.

A listener that never answers, an HTTP server, a service that answers random bytes and a
scheduler without workers each end, within ``--dask-timeout``, in a one-line user error (exit
2, no traceback) that names the address and what to do, and leave nothing behind: no results
folder, no checkpoint manifest or lock (issue 14, items 8 and 9).

The commands run in subprocesses with a timeout, so a regression fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trialsim.config.scenario import ScenarioError

distributed = pytest.importorskip("dask.distributed")

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "bliss76.yaml")
B = ["--replicates", "20", "--n-jobs", "1", "--no-figures", "--set", "design.sample_size=60"]
TIMEOUT = 3  # --dask-timeout of these tests
#: what a failing command may take beyond --dask-timeout (interpreter start, imports, scenario)
SLACK = 30


def _listener() -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


@contextlib.contextmanager
def silent_listener():
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    s = _listener()
    try:
        yield f"tcp://127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


@contextlib.contextmanager
def http_server():
    """``python -m http.server``, as in the issue."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def garbage_service():
    """Accepts every connection and writes random bytes into it."""
    s = _listener()
    stop = threading.Event()

    def talk(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while not stop.is_set():
                conn.sendall(os.urandom(4096))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while not stop.is_set():
                conn, _ = s.accept()
                threading.Thread(target=talk, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{s.getsockname()[1]}"
    finally:
        stop.set()
        s.close()


@contextlib.contextmanager
def scheduler_without_workers():
    with distributed.LocalCluster(
        n_workers=0, processes=True, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


SERVICES = {
    "silent": silent_listener,
    "http": http_server,
    "garbage": garbage_service,
    "no-workers": scheduler_without_workers,
}
EXPECTED = {
    "silent": "not a dask scheduler: it accepted the connection but sent no dask reply within 3 s",
    "http": "not a dask scheduler: ",
    "garbage": "not a dask scheduler: ",
    "no-workers": "has no workers",
}


def _cli(*args: str, timeout: float = TIMEOUT + SLACK) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trialsim.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("kind", list(SERVICES))
def test_a_scheduler_that_does_not_work_is_a_user_error(kind, tmp_path):
    out = tmp_path / "res" / "x"
    with SERVICES[kind]() as address:
        t0 = time.monotonic()
        proc = _cli("run", CONFIG, *B, "--backend", "dask", "--scheduler", address,
                    "--dask-timeout", str(TIMEOUT), "--out", str(out))
        took = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "EiB" not in proc.stderr, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith(f"trialsim: error: --scheduler {address}: "), proc.stderr
    assert EXPECTED[kind] in error, error
    assert "--dask-timeout" in error or kind == "garbage", error  # what to do
    assert took < TIMEOUT + SLACK
    if kind != "no-workers":  # the address is asked before any progress is reported
        assert proc.stderr.lstrip().startswith("trialsim: error:"), proc.stderr
    # nothing written: no results folder, no checkpoint manifest or lock
    assert not out.exists() and not (tmp_path / "res").exists()


def test_experiments_take_the_timeout_too(tmp_path):
    out = tmp_path / "power"
    with silent_listener() as address:
        proc = _cli("power", CONFIG, "--sizes", "60,90", "--replicates", "4", "--no-figures",
                    "--backend", "dask", "--scheduler", address, "--dask-timeout", "2",
                    "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert "sent no dask reply within 2 s" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_garbage_is_a_user_error_in_the_library_too(tiny, tmp_path):
    from trialsim.run.simulate import simulate

    with garbage_service() as address:
        with pytest.raises(ScenarioError, match="not a dask scheduler"):
            simulate(tiny, replicates=2, backend="dask", scheduler=address, progress=False,
                     dask_timeout=TIMEOUT, checkpoint_dir=tmp_path / "ck")


def test_bad_timeouts_and_addresses_are_refused(tiny):
    from trialsim.run.backends import ChunkTask, execute, run_scenarios

    assert _cli("run", CONFIG, "--dask-timeout", "0", timeout=60).returncode == 2
    with pytest.raises(ScenarioError, match="--dask-timeout needs --backend dask"):
        list(execute([], [], backend="local", dask_timeout=5))
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ScenarioError, match="--dask-timeout"):
            run_scenarios([], 1, 1, backend="dask", scheduler="tcp://127.0.0.1:9",
                          dask_timeout=bad)
    with pytest.raises(ScenarioError, match="--scheduler http://127.0.0.1:1: not a dask"):
        list(execute([tiny], [ChunkTask(0, 0, 1)], backend="dask",
                     scheduler="http://127.0.0.1:1", dask_timeout=1))


def test_a_run_stopped_before_any_chunk_leaves_no_checkpoint(tiny, tmp_path):
    """Ctrl-C (or a crash) while waiting for the scheduler: nothing to resume, nothing kept;
    once a chunk finished, the checkpoint is kept for the rerun."""
    from trialsim.run.checkpoint import ChunkStore, command_checkpoint, locked
    from trialsim.run.trial import run_chunk

    path = tmp_path / "out" / "checkpoints"
    with pytest.raises(KeyboardInterrupt):
        with command_checkpoint(path, keep=False), locked(path):
            ChunkStore(path, tiny, 2)
            raise KeyboardInterrupt
    assert not (tmp_path / "out").exists()
    with pytest.raises(MemoryError):
        with command_checkpoint(path, keep=False), locked(path):
            ChunkStore(path, tiny, 2).save(run_chunk(tiny, 0, 2))
            raise MemoryError
    assert sorted(p.name for p in path.iterdir()) == [
        "chunk-000000000-000000002.npz", "lock", "manifest.json"]


def _wait_for_chunk(checkpoints: Path, proc: subprocess.Popen, limit: float = 240) -> None:
    t0 = time.monotonic()
    while not any(checkpoints.glob("chunk-*.npz")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < limit, "no chunk was saved"
        time.sleep(0.2)


def _popen_run(address: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "trialsim.cli", "run", CONFIG, "--replicates", "2000",
         "--set", "engine.chunk_size=10", "--no-figures", "--backend", "dask",
         "--scheduler", address, "--dask-timeout", str(TIMEOUT), "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def cluster_processes(tmp_path: Path):
    """A dask scheduler and one worker (no nanny, so a killed worker stays dead), each its
    own process: ``(address, scheduler process, worker process)``."""
    bin_dir = Path(sys.executable).parent
    file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen(
        [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", ":0", "--scheduler-file", str(file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        t0 = time.monotonic()
        while not file.exists() or not file.read_text().strip().endswith("}"):
            assert time.monotonic() - t0 < 60, "the scheduler did not start"
            time.sleep(0.2)
        procs.append(subprocess.Popen(
            [str(bin_dir / "dask"), "worker", "--scheduler-file", str(file), "--nthreads", "1",
             "--no-nanny", "--no-dashboard"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        import json

        yield json.loads(file.read_text())["address"], procs[0], procs[1]
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.parametrize("loss", ["workers", "scheduler"])
def test_a_cluster_lost_mid_run_is_a_user_error_and_the_checkpoint_is_kept(loss, tmp_path):
    """The only worker killed (or the scheduler) mid-run used to leave the run waiting
    forever on chunks nobody would compute (hostile re-test of issue 14)."""
    out = tmp_path / "res"
    with cluster_processes(tmp_path) as (address, scheduler, worker):
        proc = _popen_run(address, out)
        try:
            _wait_for_chunk(out / "checkpoints", proc)
            t0 = time.monotonic()
            (worker if loss == "workers" else scheduler).kill()
            _, stderr = proc.communicate(timeout=TIMEOUT + 90)
        finally:
            proc.kill()
    took = time.monotonic() - t0
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    error = stderr[stderr.index("trialsim: error:"):]
    assert error.startswith("trialsim: error: --scheduler "), stderr
    expected = "lost its workers mid-run" if loss == "workers" else "connection to the dask"
    assert expected in error and "finished before the error are kept" in error, error
    assert took < TIMEOUT + 90
    # what finished is kept for the rerun; no results were published
    assert any((out / "checkpoints").glob("chunk-*.npz"))
    assert not (out / "summary.csv").exists()


@pytest.mark.parametrize("loss", ["worker", "scheduler", "connection"])
def test_a_cluster_lost_between_finishing_a_chunk_and_handing_it_over(loss, tiny,
                                                                      monkeypatch):
    """The races behind two CI failures: a chunk finished on the only worker, which died
    before the client fetched the result, so dask computes the chunk again, by no one
    (fetching it without a watch waited forever); or the scheduler died then, and the fetch
    found its connection closed (a traceback). Made deterministic here: the worker (or the
    scheduler) is closed the moment the client learns that the first chunk finished."""
    from distributed.utils import sync

    from trialsim.run.backends import ChunkTask, execute
    from trialsim.run.trial import run_chunk

    run_chunk(tiny, 0, 1)  # compiled and warm: the worker runs in this process
    real = distributed.as_completed

    class LoseTheWorker(real):
        def __next__(self):
            future = super().__next__()
            if loss == "worker":
                for worker in list(cluster.workers.values()):
                    sync(cluster.loop, worker.close)
            elif loss == "scheduler":
                sync(cluster.loop, cluster.scheduler.close)
            return future

    def closed(self, timeout=None):  # the scheduler's connection closed during the fetch
        from distributed.comm import CommClosedError

        raise CommClosedError("in <TCP (closed) ConnectionPool.gather>: Stream is closed")

    monkeypatch.setattr(distributed, "as_completed", LoseTheWorker)
    if loss == "connection":
        monkeypatch.setattr(distributed.Future, "result", closed)
    outcome: dict = {}

    def run() -> None:
        try:
            list(execute([tiny], [ChunkTask(0, s, s + 1) for s in range(4)], backend="dask",
                         scheduler=cluster.scheduler_address, dask_timeout=TIMEOUT))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(TIMEOUT + 3 * SLACK)
        hung = thread.is_alive()
    assert not hung, "the run waited for a result no worker would compute"
    error = outcome.get("error")
    assert isinstance(error, ScenarioError), repr(error)
    expected = ("lost its workers mid-run and none joined within 3 s" if loss == "worker"
                else "the connection to the dask scheduler was lost mid-run")
    assert expected in str(error)
