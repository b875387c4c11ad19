"""One scenario end to end: simulate, summarize, write tables, figures and provenance.

The replicates stream through: each chunk, in replicate order, goes to the summaries'
reducer and to the replicate-level parquet datasets, and is dropped (``reduce``), so memory
does not grow with the number of replicates. Everything is written into a staging folder
beside the results folder, which replaces the results folder in one rename at the end (other
commands' results and files in it are kept): the outputs of a run appear as one unit or not
at all.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
import time
import uuid
import weakref
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialsim import __version__
from trialsim.config.scenario import Scenario
from trialsim.core.io import write_csv, write_json
from trialsim.errors import ScenarioError
from trialsim.report import plots
from trialsim.run.backends import iter_chunks
from trialsim.run.checkpoint import ChunkStore, locked
from trialsim.run.trial import Plan
from trialsim.summarize.reduce import PartWriter, Reducer, dataset_columns
from trialsim.summarize.tables import baseline_from, summarize_from, trajectory_from

#: the replicate-level datasets of a results folder
DATASETS = ("replicates", "trials")


@dataclass
class RunOutput:
    """What a run produced: the summary tables, and the folder with everything."""

    plan: Plan
    summary: pd.DataFrame
    baseline: pd.DataFrame
    trajectory: pd.DataFrame
    provenance: dict
    #: the results folder (a temporary one, deleted with this object, when none was given)
    folder: Path
    _cleanup: object = field(default=None, repr=False)

    @property
    def replicates(self) -> pd.DataFrame:
        """``replicates/``: one row per replicate x endpoint x week x comparison."""
        return pd.read_parquet(self.folder / "replicates")

    @property
    def trials(self) -> pd.DataFrame:
        """``trials/``: one row per replicate."""
        return pd.read_parquet(self.folder / "trials")


def run_scenario(
    scenario: Scenario,
    out_dir: str | Path | None = None,
    replicates: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    figures: bool = True,
    backend: str = "local",
    scheduler: str | None = None,
    checkpoint_dir: str | Path | None = None,
    chunk_size: int | None = None,
) -> RunOutput:
    """Simulate a scenario and write its results folder.

    Files: ``summary.csv``, ``baseline.csv``, ``trajectory.csv``, ``run.json``, the datasets
    ``replicates/`` and ``trials/`` and PNG figures. Without ``out_dir`` the folder is a
    temporary one, deleted with the returned object. ``backend``, ``scheduler`` and
    ``checkpoint_dir`` are as in :func:`trialsim.run.simulate.simulate`.
    """
    eng = scenario.engine
    replicates = replicates or eng.replicates
    n_jobs = n_jobs or eng.n_jobs
    chunk_size = chunk_size or eng.chunk_size
    t0 = time.perf_counter()
    plan = Plan(scenario)
    final = checked_output_folder(out_dir) if out_dir is not None else None
    if final is not None:
        final.parent.mkdir(parents=True, exist_ok=True)
        # the pid in the name lets a later run remove only what dead runs left behind
        staging = final.parent / f".{final.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        remove_dead_staging(final, keep=staging)
    else:
        staging = Path(tempfile.mkdtemp(prefix=f"trialsim-{scenario.name}-"))
    try:
        red = Reducer(plan)
        writer = PartWriter(plan, staging)
        guard = locked(checkpoint_dir) if checkpoint_dir is not None else nullcontext()
        with guard:
            store = (
                ChunkStore(checkpoint_dir, scenario, chunk_size)
                if checkpoint_dir is not None else None
            )
            for chunk in iter_chunks(scenario, replicates, chunk_size, n_jobs=n_jobs,
                                     backend=backend, scheduler=scheduler, store=store,
                                     progress=progress):
                red.add(chunk)
                writer.add(chunk)
        writer.close()
        wall = time.perf_counter() - t0
        columns = dataset_columns(staging / "trials")
        out = RunOutput(
            plan=plan,
            summary=summarize_from(plan, red, columns),
            baseline=baseline_from(plan, red),
            trajectory=trajectory_from(plan, columns),
            provenance={
                "scenario": scenario.name,
                "scenario_sha256": scenario.digest(),
                "seed": scenario.seed,
                "replicates": replicates,
                "n_jobs": n_jobs,
                "chunk_size": chunk_size,
                "trialsim_version": __version__,
                "python": platform.python_version(),
                "wall_time_seconds": round(wall, 3),
                "trials_per_second": round(replicates / wall, 3),
                "candidates_screened_per_trial": red.screened / red.replicates,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            folder=staging,
        )
        write_outputs(out, staging, figures=figures)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final is None:
        out._cleanup = weakref.finalize(out, shutil.rmtree, str(staging), True)
        return out
    try:
        publish(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    out.folder = final
    return out


def checked_output_folder(out_dir: str | Path) -> Path:
    """The results folder as an absolute path; it may not be (or contain) the working
    directory, which a run replaces."""
    final = Path(out_dir).resolve()
    cwd = Path.cwd().resolve()
    if final == cwd or final in cwd.parents or final.parent == final:
        raise ScenarioError(
            f"--out {out_dir}: the results folder is replaced as a whole by each run, so it "
            "cannot be the current directory or one containing it; name a subfolder such as "
            "results/NAME"
        )
    return final


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_dead_staging(final: Path, keep: Path) -> None:
    """Remove the staging folders of runs into ``final`` whose process is gone (killed)."""
    for stale in final.parent.glob(f".{final.name}.staging-*"):
        if stale == keep:
            continue
        pid = stale.name.rsplit(".staging-", 1)[1].split("-")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def publish(staging: Path, final: Path) -> None:
    """Put the staged results folder in place of ``final``.

    The old folder is renamed aside, the entries this run does not produce (another
    command's results such as ``power/``, a checkpoint directory, the user's own files) are
    moved from it into the staged folder, and the staged folder takes the old one's name;
    the old folder is removed after. On any failure the kept entries go back and the old
    folder gets its name back, so nothing of the user's is lost.
    """
    if not final.exists():
        os.replace(staging, final)
        return
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(final, old)
    moved: list[str] = []
    try:
        for entry in old.iterdir():
            if not (staging / entry.name).exists():
                os.replace(entry, staging / entry.name)
                moved.append(entry.name)
        os.replace(staging, final)
    except BaseException:
        for name in moved:
            with contextlib.suppress(OSError):
                os.replace(staging / name, old / name)
        with contextlib.suppress(OSError):
            os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_outputs(out: RunOutput, out_dir: Path, figures: bool = True) -> None:
    """Write the tables, provenance and figures of a run into ``out_dir`` (the datasets are
    already there)."""
    write_csv(out.summary, out_dir / "summary.csv")
    write_csv(out.baseline, out_dir / "baseline.csv")
    write_csv(out.trajectory, out_dir / "trajectory.csv")
    write_json(
        {**out.provenance, "scenario_config": out.plan.scenario.model_dump(mode="json")},
        out_dir / "run.json",
    )
    if not figures:
        return
    name = out.plan.scenario.name
    plots.save_figure(
        plots.plot_response_rates(out.summary, title=f"{name}: response rates"),
        out_dir / "response_rates.png",
    )
    plots.save_figure(plots.plot_power(out.summary, title=f"{name}: power"), out_dir / "power.png")
    primary = out.plan.scenario.analysis.endpoints[0]
    plots.save_figure(
        plots.plot_odds_ratio_distribution(
            pd.read_parquet(
                out_dir / "replicates",
                columns=["endpoint", "week", "comparison", "odds_ratio", "p_value"],
                filters=[("endpoint", "==", primary)],
            ),
            endpoint=primary,
            week=out.plan.scenario.design.endpoint_weeks[0],
            title=f"{name}: {primary} odds ratios",
        ),
        out_dir / "odds_ratio_distribution.png",
    )
    plots.save_figure(
        plots.plot_sledai_trajectory(out.trajectory, title=f"{name}: mean SELENA-SLEDAI"),
        out_dir / "sledai_trajectory.png",
    )
