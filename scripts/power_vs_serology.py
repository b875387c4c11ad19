"""Power against the serologically active fraction: a sweep of ``population.anti_dsdna``.

Anti-dsDNA positivity is both an entry route (ANA or anti-dsDNA positive) and part of the
serologically active subgroup whose drug effect is modified by
``drug.modifiers.serologically_active``, so its share in the source population moves power
through the enrolled mix. Copy and adapt: swap ``PATH`` for ``population.low_c3`` or any
other field. Checkpointed in ``OUT/checkpoints`` (rerun the same command to resume).

    python scripts/power_vs_serology.py [--config configs/bliss76.yaml]
        [--values 0.3,0.4,0.5,0.6,0.7,0.8] [--replicates 500] [--n-jobs 2]
        [--out results/power_vs_serology]

Writes ``sweep.csv`` and ``power_vs_serology.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trialsim import load_scenario
from trialsim.core.io import write_csv
from trialsim.experiments.power import RunSettings, select_targets, sweep
from trialsim.report.plots import save_figure
from trialsim.report.plots_experiments import plot_power_lines

PATH = "population.anti_dsdna"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/bliss76.yaml")
    ap.add_argument("--values", default="0.3,0.4,0.5,0.6,0.7,0.8",
                    help="anti-dsDNA positive share of the source population")
    ap.add_argument("--replicates", type=int, default=500)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--backend", default="local", choices=("local", "dask"))
    ap.add_argument("--scheduler", help="dask scheduler address")
    ap.add_argument("--out", default="results/power_vs_serology")
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
        power, PATH, series=["comparison"], xlabel="anti-dsDNA positive (source population)",
        title=f"{scenario.name}: {endpoint} week {week} power by anti-dsDNA positivity",
    )
    save_figure(fig, out / "power_vs_serology.png")
    shown = power[power.statistic == "power"].pivot_table(index=PATH, columns="comparison",
                                                          values="value")
    print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"written to {out}/")


if __name__ == "__main__":
    main()
