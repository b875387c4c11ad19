"""``trialsim run`` and ``trialsim power`` of a skin scenario (``design.type: cohort | rct``).

The SLE commands hand over to these when the scenario file is a skin scenario
(``config.skin.is_skin_file``). Outputs appear as one unit (a staging folder published in
one step) or not at all, in a results folder checked and locked first, as for the SLE runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from trialsim.cli.main import SCENARIO_FAMILIES, check_path_options, set_overrides, stamp
from trialsim.config.skin import CohortDesign, SkinScenario, is_skin_file, load_skin_scenario
from trialsim.core.io import write_csv, write_json, write_parquet
from trialsim.errors import ScenarioError

COHORT_OUTPUTS = ("summary.csv", "study_table.csv", "patients.csv", "replicates.parquet",
                  "seed_comparison.csv", "clasi_trajectory.png", "clasi50_distribution.png",
                  "subtype_response.png", "run.json", "report.html")
TRIAL_OUTPUTS = ("summary.csv", "response_rates.png", "run.json", "report.html")
POWER_OUTPUTS = ("power.csv", "power.png", "run.json", "report.html")
SWEEP_OUTPUTS = ("sweep.csv", "sweep.png", "run.json", "report.html")


def load(args) -> SkinScenario:
    """The skin scenario of a command's CONFIG, ``--set`` overrides and ``--seed``."""
    check_path_options(args)
    return load_skin_scenario(args.config, set_overrides(args))


def _refuse_sle_options(args) -> None:
    if getattr(args, "backend", "local") != "local":
        raise ScenarioError("--backend dask: skin scenarios run on the local backend "
                            "(joblib processes, --n-jobs)")


def _provenance(command: str, scenario: SkinScenario, replicates: int, n_jobs: int,
                t0: float, **extra) -> dict:
    return {"command": command, "scenario": scenario.name, "design": scenario.design.type,
            "seed": scenario.seed, "replicates": replicates, "n_jobs": n_jobs,
            "chunk_size": scenario.engine.chunk_size, **extra, **stamp(t0),
            "scenario_config": scenario.model_dump(mode="json")}


def cmd_run_skin(args) -> int:
    """``trialsim run`` of a skin scenario."""
    from trialsim.experiments.pipeline import results_folder, staged

    _refuse_sle_options(args)
    t0 = time.perf_counter()
    scenario = load(args)
    out_dir = Path(args.out) if args.out else Path("results") / scenario.name
    cohort = isinstance(scenario.design, CohortDesign)
    outputs = COHORT_OUTPUTS if cohort else TRIAL_OUTPUTS
    reps = args.replicates or scenario.engine.replicates
    jobs = args.n_jobs or scenario.engine.n_jobs
    with results_folder(out_dir, outputs) as final, staged(final, outputs) as stage:
        if cohort:
            headline = _write_cohort(scenario, stage, reps, jobs, not args.no_figures)
        else:
            headline = _write_trial(scenario, stage, reps, jobs, not args.no_figures)
        write_json(_provenance("run", scenario, reps, jobs, t0), stage / "run.json")
        if args.report:
            from trialsim.report.html import write_report

            write_report(stage, stage / "report.html")
    if not args.quiet:
        print(headline)
        print(f"results written to {out_dir}/")
    return 0


def _write_cohort(scenario: SkinScenario, stage: Path, reps: int, jobs: int,
                  figures: bool) -> str:
    from trialsim.experiments.skin import SEED_004, run_cohort
    from trialsim.report import plots_skin as ps
    from trialsim.report.plots import save_figure

    res = run_cohort(scenario, reps, jobs)
    write_csv(res.summary, stage / "summary.csv")
    write_csv(res.first_study, stage / "study_table.csv")
    write_csv(res.patients, stage / "patients.csv")
    write_parquet(res.replicates, stage / "replicates.parquet")
    compare = scenario.analysis.compare_with == "seed_004"
    if compare:
        write_csv(res.seed_comparison, stage / "seed_comparison.csv")
    if figures:
        reported = SEED_004["mean"] if compare else None
        save_figure(ps.plot_cohort_trajectory(
            res.replicates, reported, title=f"{scenario.name}: mean CLASI-A, "
            f"{reps} simulated studies of {scenario.design.sample_size}"),
            stage / "clasi_trajectory.png")
        month = 12 if 12 in scenario.design.assessment_months else \
            scenario.design.assessment_months[-1]
        save_figure(ps.plot_response_distribution(
            res.replicates, "clasi50_rate", month,
            SEED_004["clasi50_rate"].get(month) if compare else None,
            title=f"{scenario.name}: CLASI-50 at month {month:g} over simulated studies"),
            stage / "clasi50_distribution.png")
        save_figure(ps.plot_subtype_trajectory(
            res.summary, title=f"{scenario.name}: by cutaneous subtype"),
            stage / "subtype_response.png")
    s = res.summary
    x = s[(s.source == "study") & (s.group == "all") & (s.statistic == "mean")]
    curve = ", ".join(f"{m:g}: {v:.2f} ({e:.2f})" for m, v, e in
                      zip(x.month, x.value, x.mcse, strict=True))
    return (f"{scenario.name}: mean CLASI-A of the evaluable patients by month, over {reps} "
            f"simulated studies (MCSE): {curve}")


def _write_trial(scenario: SkinScenario, stage: Path, reps: int, jobs: int,
                 figures: bool) -> str:
    from trialsim.experiments.skin import run_trial
    from trialsim.report import plots_skin as ps
    from trialsim.report.plots import save_figure

    table = run_trial(scenario, reps, jobs)
    write_csv(table, stage / "summary.csv")
    stat = f"clasi{scenario.design.primary_response}_rate"
    if figures:
        save_figure(ps.plot_skin_rates(table, stat, title=f"{scenario.name}: {stat} at week "
                                       f"{scenario.design.primary_week}"),
                    stage / "response_rates.png")
    p = table[table.statistic == "power"]
    return "; ".join(f"{c}: power {v:.3f} (MCSE {e:.3f})"
                     for c, v, e in zip(p.comparison, p.value, p.mcse, strict=True))


def _trial_scenario(args, command: str) -> SkinScenario:
    """The skin scenario of ``power`` or ``sweep``: a trial (a cohort has no power)."""
    _refuse_sle_options(args)
    scenario = load(args)
    if isinstance(scenario.design, CohortDesign):
        raise ScenarioError(f"design.type: cohort has no power; trialsim {command} of a skin "
                            "scenario needs design.type: rct")
    return scenario


def cmd_power_skin(args) -> int:
    """``trialsim power`` of a skin trial: power.csv, power.png, run.json."""
    from trialsim.experiments.pipeline import results_folder, staged
    from trialsim.experiments.skin import run_trial
    from trialsim.report import plots_skin as ps
    from trialsim.report.plots import save_figure

    t0 = time.perf_counter()
    scenario = _trial_scenario(args, "power")
    n0 = scenario.design.sample_size
    sizes = args.sizes or sorted({max(4, round(n0 * f)) for f in (0.5, 0.75, 1, 1.25, 1.5)})
    out = Path(args.out) if args.out else Path("results") / scenario.name / "power"
    reps = args.replicates or scenario.engine.replicates
    jobs = args.n_jobs or scenario.engine.n_jobs
    with results_folder(out, POWER_OUTPUTS, "power") as final, \
            staged(final, POWER_OUTPUTS) as stage:
        import pandas as pd

        table = pd.concat([run_trial(scenario, reps, jobs, sample_size=int(n))
                           for n in sorted(set(sizes))], ignore_index=True)
        write_csv(table, stage / "power.csv")
        if not args.no_figures:
            save_figure(ps.plot_skin_power(table, title=f"{scenario.name}: power of CLASI-"
                                           f"{scenario.design.primary_response} at week "
                                           f"{scenario.design.primary_week}"),
                        stage / "power.png")
        write_json(_provenance("power", scenario, reps, jobs, t0,
                               sizes=[int(n) for n in sorted(set(sizes))]),
                   stage / "run.json")
    if not args.quiet:
        p = table[table.statistic == "power"]
        for (n, c), g in p.groupby(["sample_size", "comparison"]):
            print(f"N = {n}: {c}: power {g.value.iloc[0]:.3f} (MCSE {g.mcse.iloc[0]:.3f})")
        print(f"results written to {out}/")
    return 0



def cmd_sweep_skin(args) -> int:
    """``trialsim sweep`` of a skin trial: every combination of the ``--sweep`` values
    (factorial), power and rates at each; sweep.csv, sweep.png, run.json."""
    import itertools

    import pandas as pd

    from trialsim.experiments.pipeline import results_folder, staged
    from trialsim.experiments.skin import run_trial
    from trialsim.report import plots_skin as ps
    from trialsim.report.plots import save_figure

    t0 = time.perf_counter()
    scenario = _trial_scenario(args, "sweep")
    if getattr(args, "one_at_a_time", False):
        raise ScenarioError("--one-at-a-time: a skin sweep is factorial (give one --sweep "
                            "for one factor at a time)")
    factors = dict(args.sweep)
    if not factors:
        raise ScenarioError("give at least one --sweep PATH=v1,v2,... (e.g. "
                            "population.subtypes.scle=0,0.3,0.5)")
    base = set_overrides(args)
    points = [dict(zip(factors, combo, strict=True))
              for combo in itertools.product(*factors.values())]
    for point in points:  # every point validated before anything runs
        load_skin_scenario(args.config, {**base, **point})
    out = Path(args.out) if args.out else Path("results") / scenario.name / "sweep"
    reps = args.replicates or scenario.engine.replicates
    jobs = args.n_jobs or scenario.engine.n_jobs
    with results_folder(out, SWEEP_OUTPUTS, "sweep") as final, \
            staged(final, SWEEP_OUTPUTS) as stage:
        frames = []
        for point in points:
            t = run_trial(load_skin_scenario(args.config, {**base, **point}), reps, jobs)
            for path, value in point.items():
                t[path] = value if not isinstance(value, (list, dict)) else str(value)
            frames.append(t)
        table = pd.concat(frames, ignore_index=True)
        write_csv(table, stage / "sweep.csv")
        if not args.no_figures:
            save_figure(ps.plot_skin_sweep(table, list(factors),
                                           title=f"{scenario.name}: power by "
                                           f"{', '.join(factors)}"), stage / "sweep.png")
        write_json(_provenance("sweep", scenario, reps, jobs, t0,
                               factors={k: list(map(str, v)) for k, v in factors.items()}),
                   stage / "run.json")
    if not args.quiet:
        p = table[table.statistic == "power"]
        print(p[[*factors, "comparison", "value", "mcse"]].to_string(index=False))
        print(f"results written to {out}/")
    return 0


def register(subparsers) -> None:
    """No commands of its own: ``run``, ``power`` and ``sweep`` hand skin scenarios over."""
    family = (is_skin_file, {"run": cmd_run_skin, "power": cmd_power_skin,
                             "sweep": cmd_sweep_skin})
    if family not in SCENARIO_FAMILIES:
        SCENARIO_FAMILIES.append(family)
