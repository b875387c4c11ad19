"""Long runs report progress off a terminal, and submit their tasks lazily.

* Off a terminal (a log file, a pipe) a run prints a progress line with an ETA to stderr every
  ~10% or every 30 s, unless ``--quiet`` (issue 14, item 16).
* Chunk tasks are created and submitted a bounded number at a time, on the local and the dask
  backend: a run of 10⁷ replicates starts at once, in little memory, and the results stay
  bit-identical to a serial run and in replicate order (issue 14, item 15).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tracemalloc
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

import trialsim.run.backends as backends
from trialsim.run.backends import ChunkTask, execute, iter_chunks, run_scenarios
from trialsim.run.trial import ChunkResult, run_chunk

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "bliss76.yaml")
LINE = re.compile(r"^trialsim: (?P<desc>.+): (?P<done>[\d,]+)/(?P<total>[\d,]+) trials "
                  r"\((?P<pct>\d+)%\), (?P<rest>.*)$")


def _same(a: ChunkResult, b: ChunkResult) -> None:
    for f in fields(ChunkResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.dtype == y.dtype and x.shape == y.shape, f.name
        assert np.array_equal(x, y, equal_nan=True), f.name


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- progress lines


def test_progress_lines_every_tenth_and_every_30_seconds():
    from trialsim.run.progress import Progress

    clock, stream = Clock(), io.StringIO()
    bar = Progress(1000, desc="bliss76", stream=stream, clock=clock)
    for _ in range(20):  # 50 trials a second: a line at every 10%
        clock.now += 1
        bar.update(50)
    bar.close()
    lines = stream.getvalue().splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [int(m["pct"]) for m in parsed] == list(range(0, 101, 10))
    assert parsed[1]["rest"] == "2 s elapsed, ETA 18 s", lines[1]
    assert parsed[-1]["rest"].startswith("20 s elapsed, done"), lines[-1]

    clock, stream = Clock(), io.StringIO()
    bar = Progress(100_000, initial=40_000, desc="slow", stream=stream, clock=clock)
    for _ in range(3):  # 1% every 31 s: a line every 30 s, with the ETA of what is left
        clock.now += 31
        bar.update(1000)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[0].startswith("trialsim: slow: 40,000/100,000 trials (40%)")
    assert lines[1] == ("trialsim: slow: 41,000/100,000 trials (41%), 31 s elapsed, "
                        "ETA 30 min 29 s"), lines[1]


def test_progress_is_silent_when_asked_or_when_nothing_is_left():
    from trialsim.run.progress import Progress

    for kwargs in ({"show": False}, {"initial": 10}):
        stream = io.StringIO()
        bar = Progress(10, stream=stream, **kwargs)
        bar.update(0)
        bar.close()
        assert stream.getvalue() == ""


def test_experiment_runs_report_progress_off_a_terminal(tiny, monkeypatch):
    err = io.StringIO()  # not a terminal: a log file
    monkeypatch.setattr(sys, "stderr", err)
    run_scenarios([tiny], 10, 1)
    lines = err.getvalue().splitlines()
    assert lines and all(LINE.match(line) for line in lines), lines
    assert lines[-1].startswith(f"trialsim: {tiny.name}: 10/10 trials (100%)")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    run_scenarios([tiny], 10, 1, progress=False)
    assert sys.stderr.getvalue() == ""


def test_cli_run_prints_progress_lines_into_a_log_file(tmp_path):
    common = ["run", CONFIG, "--replicates", "20", "--n-jobs", "1", "--no-figures",
              "--set", "design.sample_size=60", "--set", "engine.chunk_size=2"]
    log = tmp_path / "run.log"
    with open(log, "w") as handle:
        proc = subprocess.run([sys.executable, "-m", "trialsim.cli", *common,
                               "--out", str(tmp_path / "a")],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=handle, timeout=120)
    assert proc.returncode == 0, log.read_text()
    lines = [m for m in map(LINE.match, log.read_text().splitlines()) if m]
    assert [int(m["pct"]) for m in lines] == list(range(0, 101, 10)), log.read_text()
    assert all("ETA" in m["rest"] for m in lines[1:-1])
    quiet = subprocess.run([sys.executable, "-m", "trialsim.cli", *common, "--quiet",
                            "--out", str(tmp_path / "b")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


# --------------------------------------------------------------------------- lazy submission


def _bounded_run(scenario, backend: str, limit: int, **kw):
    """Run 12 one-replicate tasks through ``execute``, recording how many were taken from
    the task generator and not yet handed back at every step."""
    state = {"taken": 0, "back": 0, "worst": 0}

    def tasks():
        for s in range(12):
            state["taken"] += 1
            state["worst"] = max(state["worst"], state["taken"] - state["back"])
            yield ChunkTask(0, s, s + 1)

    got = {}
    for task, result in execute([scenario], tasks(), backend, max_pending=limit, **kw):
        state["back"] += 1
        got[task.start] = result
    assert sorted(got) == list(range(12))
    for s, result in got.items():
        _same(result, run_chunk(scenario, s, s + 1))
    return state["worst"]


def test_local_pool_keeps_few_tasks_pending(tiny):
    assert _bounded_run(tiny, "local", 3, n_jobs=2) <= 3


def test_dask_keeps_few_tasks_pending(tiny):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0") as cluster:
        worst = _bounded_run(tiny, "dask", 3, scheduler=cluster.scheduler_address)
    assert worst <= 3


def test_a_huge_run_starts_at_once_in_little_memory(tiny):
    run_chunk(tiny, 0, 1)  # compiled and warm
    tracemalloc.start()
    try:
        stream = iter_chunks(tiny, 10_000_000, 50, progress=False)
        first = next(stream)
        stream.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first.replicates.tolist() == list(range(50))
    assert peak < 5e6, f"{peak / 1e6:.1f} MB before the first chunk"  # 200,000 tasks: 43 MB


def test_a_small_window_keeps_results_bit_identical_and_in_order(tiny, monkeypatch):
    serial = run_scenarios([tiny], 9, 2, progress=False)[0]
    chunks = list(iter_chunks(tiny, 9, 2, progress=False))
    monkeypatch.setattr(backends, "PENDING_PER_WORKER", 1)  # 2 workers: 2 tasks at a time
    _same(run_scenarios([tiny], 9, 2, n_jobs=2, progress=False)[0], serial)
    window = list(iter_chunks(tiny, 9, 2, n_jobs=2, progress=False))
    assert [c.replicates[0] for c in window] == [0, 2, 4, 6, 8]
    _same(ChunkResult.concat(window), ChunkResult.concat(chunks))
    _same(ChunkResult.concat(chunks), serial)


def _square(x: int) -> int:
    return x * x


def test_joblib_parallel_still_works_after_a_run_in_the_same_process(tiny):
    """The local pool is joblib's own: a user's (or a test's) later ``joblib.Parallel`` in the
    same process must not find the shared loky executor in a state it does not expect."""
    from joblib import Parallel, delayed

    run_scenarios([tiny], 4, 2, n_jobs=2, progress=False)
    assert Parallel(n_jobs=2)(delayed(_square)(i) for i in range(4)) == [0, 1, 4, 9]
    run_scenarios([tiny], 4, 2, n_jobs=2, progress=False)


def test_a_long_chunk_still_gets_a_line_every_interval():
    """Progress lines came only when a chunk finished, so a chunk longer than 30 s left the
    log silent (hostile re-test of issue 14)."""
    import time

    from trialsim.run.progress import Progress

    stream = io.StringIO()
    bar = Progress(1000, desc="big", stream=stream, interval=0.2)
    time.sleep(0.9)  # no chunk finishes
    bar.update(1000)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    working = [ln for ln in lines if "working (no chunk finished in the last 0 s)" in ln]
    assert len(working) >= 2, lines
    assert working[0].startswith("trialsim: big: 0/1,000 trials (0%), ")
    assert lines[-1].startswith("trialsim: big: 1,000/1,000 trials (100%)")
    time.sleep(0.5)  # closed: no more lines
    assert stream.getvalue().splitlines() == lines


def test_the_heartbeat_gives_the_eta_while_chunks_finish():
    """The 30-s line said 'no chunk finished' although chunks were finishing, and gave no ETA
    (second hostile re-test of issue 14)."""
    import time

    from trialsim.run.progress import Progress

    stream = io.StringIO()
    bar = Progress(10_000_000, desc="long", stream=stream, interval=0.3)
    for _ in range(12):  # a small chunk every 0.1 s: far from any 10% mark
        time.sleep(0.1)
        bar.update(10)
    bar.close()
    lines = stream.getvalue().splitlines()[1:]
    assert lines, stream.getvalue()
    assert all("ETA" in ln and "working" not in ln for ln in lines), lines


def test_progress_goes_silent_when_stderr_is_closed():
    from trialsim.run.progress import Progress

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    bar = Progress(100, desc="x", stream=Closed(), interval=0.1)
    bar.update(50)  # no exception: a closed log must not stop the run
    bar.update(50)
    bar.close()
