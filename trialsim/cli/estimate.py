"""Before a long command: an estimate of its time, disk and memory, printed to stderr.

Everything comes from a short pilot: up to 15 replicates of the scenario simulated in this
process (after one untimed replicate that loads, or compiles, the compiled trial), timed and
written to memory buffers in the formats of a run. Their serial time per trial is scaled by
the trials of every point (a trial's time grows with its patients × weeks) and divided among
the workers; their bytes per replicate (in memory, in a compressed checkpoint chunk, in the
parquet datasets without the files' fixed metadata) are scaled by the replicates.

Small commands get no pilot: a prior guess from the documented serial cost (``make bench``:
16 ms per bliss76 trial, 819 patients over 76 weeks, i.e. about 0.26 µs per patient-week)
and the uncompressed size of the datasets decides whether the pilot is worth running.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trialsim.config.scenario import Scenario, ScenarioError

#: prior serial cost of one patient-week of one trial, seconds (make bench, bliss76)
PRIOR_SECONDS_PER_PATIENT_WEEK = 16e-3 / (819 * 76)
#: an estimate is printed above this wall time (seconds) ...
LONG_SECONDS = 60.0
#: ... or above this many bytes of disk or memory
LARGE_BYTES = 1e9
#: the pilot runs when the prior guess exceeds these fractions of the limits (machines differ)
_PRIOR_FRACTION = 1 / 6
#: the pilot stops after this many timed seconds or trials
_PILOT_SECONDS = 0.25
_PILOT_TRIALS = 15


@dataclass
class Estimate:
    """What a command is expected to cost.

    Attributes
    ----------
    trials : int
        Trials to simulate (over every point).
    seconds_per_trial : float
        Serial seconds per trial of the scenario, timed on ``timed`` trials.
    workers : int
        Processes the trials are spread over.
    seconds : float
        Expected wall time.
    dataset_bytes, checkpoint_bytes, memory_bytes : float
        The replicate-level datasets written, the checkpoint chunks kept while the command
        runs and the replicates held in memory at once.
    free_bytes, ram_bytes : float
        Free disk space where the outputs go, and this machine's memory (nan when unknown).
    """

    trials: int
    seconds_per_trial: float
    timed: int
    workers: int
    seconds: float
    dataset_bytes: float
    checkpoint_bytes: float
    memory_bytes: float
    free_bytes: float = float("nan")
    ram_bytes: float = float("nan")
    note: str = ""

    @property
    def disk_bytes(self) -> float:
        """Disk used at the peak (datasets and checkpoint together)."""
        return self.dataset_bytes + self.checkpoint_bytes

    def long(self) -> bool:
        """Worth announcing: above a minute, or above a gigabyte of disk or memory."""
        return (self.seconds > LONG_SECONDS or self.disk_bytes > LARGE_BYTES
                or self.memory_bytes > LARGE_BYTES)

    def message(self) -> str:
        """The lines printed before the command (each starts with ``trialsim: ``)."""
        each = _duration(self.seconds_per_trial)
        parts = [
            f"about {_duration(self.seconds)} on {self.workers} worker"
            f"{'s' if self.workers > 1 else ''} ({each} per trial, timed on {self.timed})"
        ]
        if self.disk_bytes:
            what = []
            if self.dataset_bytes:
                what.append(f"{_size(self.dataset_bytes)} of results")
            if self.checkpoint_bytes:
                what.append(f"{_size(self.checkpoint_bytes)} of checkpoint chunks")
            parts.append(f"disk about {_size(self.disk_bytes)} ({', '.join(what)})")
        if self.memory_bytes:
            parts.append(f"memory about {_size(self.memory_bytes)}")
        lines = [f"trialsim: estimate: {self.trials:,} trials, " + "; ".join(parts)]
        if self.note:
            lines.append(f"trialsim: ({self.note})")
        if self.disk_bytes > self.free_bytes:
            lines.append(f"trialsim: warning: only {_size(self.free_bytes)} of disk is free "
                         "there")
        if self.memory_bytes > self.ram_bytes:
            lines.append(f"trialsim: warning: this machine has {_size(self.ram_bytes)} of "
                         "memory")
        if self.checkpoint_bytes:
            lines.append("trialsim: Ctrl-C stops it; rerunning the same command resumes from "
                         "the checkpoint")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{1000 * seconds:.2g} ms"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size or (unit != "days" and seconds >= size):
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _size(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1e3:.0f} kB"


def _cost(sc: Scenario) -> float:
    """Patient-weeks of one trial: what the serial time scales with."""
    return sc.design.sample_size * sc.design.duration_weeks


def dataset_bytes_per_replicate(scenario: Scenario) -> float:
    """Bytes of ``replicates/`` and ``trials/`` per replicate, before compression (the
    prior guess; the pilot measures the compressed size)."""
    from trialsim.analysis.comparisons import RESULT_FIELDS
    from trialsim.run.trial import Plan
    from trialsim.summarize.reduce import trial_columns

    plan = Plan(scenario)
    rows = len(plan.targets) * len(plan.comparisons)
    return 8.0 * (rows * (len(RESULT_FIELDS) + 2) + len(trial_columns(plan)) + 1)


@dataclass
class Pilot:
    """A few replicates of a scenario, timed and measured in this process."""

    seconds_per_trial: float
    #: trials timed (after one untimed trial that loads, or compiles, the compiled code)
    timed: int
    #: bytes per replicate: its arrays in memory (a ``ChunkResult``), in a checkpoint chunk
    #: (compressed ``.npz``) and in the ``replicates/`` and ``trials/`` parquet datasets
    memory: float
    checkpoint: float
    datasets: float


def pilot(scenario: Scenario) -> Pilot:
    """Simulate up to ``_PILOT_TRIALS`` replicates (about ``_PILOT_SECONDS``), timed, and
    measure what they take in memory, in a checkpoint and in the datasets."""
    import io

    import numpy as np

    from trialsim.run.trial import ChunkResult, Plan, run_chunk
    from trialsim.summarize.reduce import replicate_table, trial_table

    parts = [run_chunk(scenario, 0, 1)]
    done, spent, k = 0, 0.0, 1
    while spent < _PILOT_SECONDS and done < _PILOT_TRIALS:
        t0 = time.perf_counter()
        parts.append(run_chunk(scenario, 1 + done, 1 + done + k))
        spent += time.perf_counter() - t0
        done += k
        k *= 2
    res = ChunkResult.concat(parts)
    fields = ChunkResult.__annotations__
    r = res.replicates.size
    half = res.take(slice(0, r // 2))
    plan = Plan(scenario)

    def stored(write) -> float:
        """Bytes per replicate of a file format, without its fixed overhead (metadata):
        the growth from half of the pilot's replicates to all of them."""
        sizes = []
        for part in (half, res):
            buf = io.BytesIO()
            write(part, buf)
            sizes.append(buf.getbuffer().nbytes)
        return max(sizes[1] - sizes[0], 0) / (r - r // 2)

    return Pilot(
        seconds_per_trial=spent / done,
        timed=done,
        memory=sum(getattr(res, name).nbytes for name in fields) / r,
        checkpoint=stored(lambda part, b: np.savez_compressed(
            b, **{name: getattr(part, name) for name in fields})),
        datasets=(stored(lambda part, b: replicate_table(plan, part).to_parquet(b, index=False))
                  + stored(lambda part, b: trial_table(plan, part).to_parquet(b, index=False))),
    )


def relative_cost(scenario: Scenario, point: Scenario) -> float:
    """Serial cost of a trial of ``point`` relative to one of ``scenario``: the time of a
    trial grows with its patients × weeks."""
    return _cost(point) / _cost(scenario)


def estimate(
    scenario: Scenario,
    points: Sequence[tuple[float, int]],
    *,
    n_jobs: int,
    chunk_size: int,
    datasets: bool = False,
    checkpoint: bool = False,
    held: int = 0,
    backend: str = "local",
    where: str | Path | None = None,
    note: str = "",
) -> Estimate | None:
    """Estimate the cost of a command that simulates variants of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        The scenario timed by the pilot.
    points : sequence of (float, int)
        Every point simulated: its cost per trial relative to ``scenario``
        (:func:`relative_cost`) and its number of replicates.
    n_jobs, chunk_size : int
    datasets : bool
        The replicate-level datasets are written (``trialsim run``).
    checkpoint : bool
        Every chunk is kept in a checkpoint while the command runs.
    held : int
        Replicates held in memory at once (an experiment holds those of all its points).
    backend : {"local", "dask"}
        With ``local``, no more workers than CPUs count.
    where : str or Path, optional
        Where the outputs go (for the free disk space).
    note : str
        Said after the estimate (e.g. how a search's points were counted).

    Returns
    -------
    Estimate or None
        None when the command is clearly short and small (no pilot is run then).
    """
    trials = sum(r for _, r in points)
    if trials == 0:
        return None
    tasks = sum(math.ceil(r / chunk_size) for _, r in points)
    workers = max(1, min(n_jobs, tasks))
    if backend == "local":
        workers = min(workers, os.cpu_count() or 1)
    work = sum(c * r for c, r in points)  # in trials of ``scenario``
    prior_seconds = PRIOR_SECONDS_PER_PATIENT_WEEK * _cost(scenario) * work / workers
    prior_bytes = dataset_bytes_per_replicate(scenario) * max(
        trials if (datasets or checkpoint) else 0, held)
    if (prior_seconds < _PRIOR_FRACTION * LONG_SECONDS
            and prior_bytes < _PRIOR_FRACTION * LARGE_BYTES):
        return None
    p = pilot(scenario)
    return Estimate(
        trials=trials,
        seconds_per_trial=p.seconds_per_trial,
        timed=p.timed,
        workers=workers,
        seconds=p.seconds_per_trial * work / workers,
        dataset_bytes=p.datasets * trials if datasets else 0.0,
        checkpoint_bytes=p.checkpoint * trials if checkpoint else 0.0,
        memory_bytes=p.memory * held,
        free_bytes=_free_bytes(where),
        ram_bytes=_ram_bytes(),
        note=note,
    )


def check_resources(est: Estimate | None, force: bool = False) -> None:
    """Refuse, before anything is simulated, a command whose estimate needs more memory than
    this machine has or more disk than is free where its outputs go (unless ``force``).

    Raises
    ------
    ScenarioError
        Naming what is short, by how much, and what to do.
    """
    if est is None or force:
        return
    short = []
    if est.memory_bytes > est.ram_bytes:
        short.append(f"about {_size(est.memory_bytes)} of memory, and this machine has "
                     f"{_size(est.ram_bytes)}")
    if est.disk_bytes > est.free_bytes:
        short.append(f"about {_size(est.disk_bytes)} of disk, and {_size(est.free_bytes)} is "
                     "free there")
    if short:
        raise ScenarioError(
            f"this command would need {'; '.join(short)} (the estimate of its "
            f"{est.trials:,} trials, from a short pilot run); use fewer --replicates (or "
            "sizes / sweep points), or --no-checkpoint, or give --force to run it anyway"
        )


def announce(est: Estimate | None, file=None) -> None:
    """Print ``est`` to stderr when it is long or large."""
    if est is not None and est.long():
        print(est.message(), file=file or sys.stderr, flush=True)


def _free_bytes(where: str | Path | None) -> float:
    if where is None:
        return float("nan")
    path = Path(where).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return float(shutil.disk_usage(path).free)
    except OSError:
        return float("nan")


def _ram_bytes() -> float:
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("nan")
