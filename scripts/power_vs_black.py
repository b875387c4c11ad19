"""Power against the share of Black patients: a sweep of ``population.race.black``.

Copy and adapt: the experiment is one call to :func:`trialsim.experiments.power.sweep`. Setting one
race share rescales the other shares so the mix still sums to 1; every point uses the same
seed (common random numbers), so the curve is smooth. The run keeps a checkpoint in
``OUT/checkpoints``: interrupt it and run the same command again to continue.

    python scripts/power_vs_black.py [--config configs/bliss76.yaml]
        [--values 0,0.1,0.2,0.3,0.4,0.5] [--replicates 500] [--n-jobs 2]
        [--backend dask --scheduler tcp://HOST:8786] [--out results/power_vs_black]

Writes ``sweep.csv`` (every summary statistic at every point) and ``power_vs_black.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trialsim import load_scenario
from trialsim.core.io import write_csv
from trialsim.experiments.power import RunSettings, select_targets, sweep
from trialsim.report.plots import save_figure
from trialsim.report.plots_experiments import plot_power_lines

PATH = "population.race.black"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/bliss76.yaml")
    ap.add_argument("--values", default="0,0.1,0.2,0.3,0.4,0.5",
                    help="shares of Black patients in the source population")
    ap.add_argument("--replicates", type=int, default=500)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--backend", default="local", choices=("local", "dask"))
    ap.add_argument("--scheduler", help="dask scheduler address")
    ap.add_argument("--out", default="results/power_vs_black")
    args = ap.parse_args()

    scenario = load_scenario(args.config)
    out = Path(args.out)
    settings = RunSettings(
        replicates=args.replicates,
        n_jobs=args.n_jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        checkpoint_dir=out / "checkpoints",
    )
    values = [float(v) for v in args.values.split(",")]
    table = sweep(scenario, {PATH: values}, settings=settings)
    write_csv(table, out / "sweep.csv")

    (endpoint,), (week,), _ = select_targets(scenario)  # primary endpoint and week
    power = table[(table.endpoint == endpoint) & (table.week == week) & (table.comparison != "")]
    fig = plot_power_lines(
        power, PATH, series=["comparison"], xlabel="share of Black patients (source population)",
        title=f"{scenario.name}: {endpoint} week {week} power by share of Black patients",
    )
    save_figure(fig, out / "power_vs_black.png")
    shown = power[power.statistic == "power"].pivot_table(index=PATH, columns="comparison",
                                                          values="value")
    print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"written to {out}/")


if __name__ == "__main__":
    main()
