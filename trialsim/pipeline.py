"""One scenario end to end: simulate, summarize, write tables, figures and provenance."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import __version__, plots
from .engine import ChunkResult, Plan
from .results import write_csv, write_json, write_parquet
from .scenario import Scenario
from .simulation import simulate
from .summary import baseline_table, replicate_table, summarize, trajectory_table


@dataclass
class RunOutput:
    """Everything a run produced (the same tables as the files)."""

    plan: Plan
    raw: ChunkResult
    summary: pd.DataFrame
    replicates: pd.DataFrame
    baseline: pd.DataFrame
    trajectory: pd.DataFrame
    provenance: dict


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
) -> RunOutput:
    """Simulate a scenario and (if ``out_dir`` is given) write its results folder.

    Files: ``summary.csv``, ``replicates.parquet``, ``baseline.csv``, ``trajectory.csv``,
    ``run.json`` and PNG figures, each written atomically. ``backend``, ``scheduler`` and
    ``checkpoint_dir`` are passed to :func:`trialsim.simulation.simulate`.
    """
    replicates = replicates or scenario.engine.replicates
    n_jobs = n_jobs or scenario.engine.n_jobs
    t0 = time.perf_counter()
    plan = Plan(scenario)
    raw = simulate(
        scenario,
        replicates=replicates,
        n_jobs=n_jobs,
        progress=progress,
        backend=backend,
        scheduler=scheduler,
        checkpoint_dir=checkpoint_dir,
    )
    wall = time.perf_counter() - t0
    out = RunOutput(
        plan=plan,
        raw=raw,
        summary=summarize(plan, raw),
        replicates=replicate_table(plan, raw),
        baseline=baseline_table(plan, raw),
        trajectory=trajectory_table(plan, raw),
        provenance={
            "scenario": scenario.name,
            "scenario_sha256": scenario.digest(),
            "seed": scenario.seed,
            "replicates": replicates,
            "n_jobs": n_jobs,
            "chunk_size": scenario.engine.chunk_size,
            "trialsim_version": __version__,
            "python": platform.python_version(),
            "wall_time_seconds": round(wall, 3),
            "trials_per_second": round(replicates / wall, 3),
            "candidates_screened_per_trial": float(raw.screened.mean()),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    if out_dir is not None:
        write_outputs(out, Path(out_dir), figures=figures)
    return out


def write_outputs(out: RunOutput, out_dir: Path, figures: bool = True) -> None:
    """Write the results folder of a run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out.summary, out_dir / "summary.csv")
    write_parquet(out.replicates, out_dir / "replicates.parquet")
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
            out.replicates,
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
