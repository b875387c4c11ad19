"""Power against the SRI threshold (SRI-4 … SRI-8) at a few total sample sizes.

Every trial is scored on all SRI-k endpoints at once, so this is one power curve
(:func:`trialsim.experiments.power.power_curve`) read across endpoints: a stricter threshold means
fewer responders in every arm and, usually, less power. Common random numbers make the
points at different sizes share their first patients. Checkpointed in ``OUT/checkpoints``.

    python scripts/power_vs_threshold.py [--config configs/bliss76.yaml]
        [--sizes 450,819] [--comparison bel10_vs_placebo] [--replicates 500] [--n-jobs 2]
        [--out results/power_vs_threshold]

Writes ``power.csv`` and ``power_vs_threshold.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trialsim import load_scenario
from trialsim.core.io import write_csv
from trialsim.experiments.power import RunSettings, power_curve
from trialsim.report.plots import save_figure
from trialsim.report.plots_experiments import plot_power_lines

ENDPOINTS = ["sri4", "sri5", "sri6", "sri7", "sri8"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/bliss76.yaml")
    ap.add_argument("--sizes", default=None, help="total sample sizes (default: N/2 and N)")
    ap.add_argument("--comparison", default="bel10_vs_placebo")
    ap.add_argument("--week", type=int, default=None, help="default: the primary week")
    ap.add_argument("--replicates", type=int, default=500)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--backend", default="local", choices=("local", "dask"))
    ap.add_argument("--scheduler", help="dask scheduler address")
    ap.add_argument("--out", default="results/power_vs_threshold")
    args = ap.parse_args()

    scenario = load_scenario(args.config)
    n = scenario.design.sample_size
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [n // 2, n]
    out = Path(args.out)
    settings = RunSettings(
        replicates=args.replicates,
        n_jobs=args.n_jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        checkpoint_dir=out / "checkpoints",
    )
    table = power_curve(
        scenario,
        sizes,
        endpoints=ENDPOINTS,
        weeks=[args.week] if args.week else None,
        comparisons=[args.comparison],
        settings=settings,
    )
    write_csv(table, out / "power.csv")
    fig = plot_power_lines(
        table, "endpoint", series=["sample_size", "week", "comparison"],
        xlabel="SRI threshold (SLEDAI reduction ≥ k)",
        title=f"{scenario.name}: power by SRI threshold, {args.comparison}",
    )
    save_figure(fig, out / "power_vs_threshold.png")
    shown = table[table.statistic == "power"].pivot_table(
        index="endpoint", columns="sample_size", values="value", sort=False
    )
    print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"written to {out}/")


if __name__ == "__main__":
    main()
