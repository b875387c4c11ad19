"""``trialsim calibrate`` and ``trialsim explain``."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from trialsim.cli.main import MAX_REPLICATES, _int_at_least
from trialsim.core.io import atomic_write, write_csv, write_json


def register(sub: argparse._SubParsersAction) -> None:
    cal = sub.add_parser("calibrate", help="fit the shared model to published trials")
    cal.add_argument("spec", help="calibration spec, e.g. configs/calibration.yaml")
    cal.add_argument("--out", default="results/calibration", help="output folder")
    cal.add_argument("--max-evaluations", type=int, help="override the spec's budget")
    cal.set_defaults(func=cmd_calibrate)
    exp = sub.add_parser("explain", help="decompose why two trials' treatment effects differ")
    exp.add_argument("a", help="first scenario (e.g. configs/bliss52.yaml)")
    exp.add_argument("b", help="second scenario (e.g. configs/bliss76.yaml)")
    exp.add_argument("--endpoint", default="sri4")
    exp.add_argument("--week", type=int, default=52)
    exp.add_argument("--treated", default="bel10", help="treated arm compared with control")
    exp.add_argument("--patients-per-arm", type=int, default=4000,
                     help="patients per arm in each batch")
    exp.add_argument("--batches", type=_int_at_least(2, MAX_REPLICATES, "engine.replicates"),
                     default=10,
                     help="independent CRN-paired trials per configuration (>= 2; MCSE)")
    exp.add_argument("--seed", type=int, default=20261122)
    exp.add_argument("--out", default="results/explain", help="output folder")
    exp.set_defaults(func=cmd_explain)


def cmd_calibrate(args) -> int:
    from trialsim.experiments.calibration import calibrate, load_spec
    from trialsim.report.plots import save_figure
    from trialsim.report.plots_calibration import plot_calibration_fit

    spec, scenarios = load_spec(args.spec)
    if args.max_evaluations is not None and args.max_evaluations < 1:
        from trialsim.config.scenario import ScenarioError

        raise ScenarioError(f"--max-evaluations must be at least 1, got {args.max_evaluations}")
    res = calibrate(spec, scenarios, max_evaluations=args.max_evaluations)
    out = Path(args.out)
    params = res.parameter_table()
    fit = res.fit_table()
    write_csv(params, out / "parameters.csv")
    write_csv(fit, out / "fit_table.csv")
    fitted = {
        path: round(float(v), 4)
        for p, v in zip(spec.parameters.values(), res.theta, strict=True)
        for path in p.paths
    }
    atomic_write(out / "fitted.yaml", lambda p: p.write_text(
        "# fitted values (paste into configs/model.yaml)\n" + yaml.safe_dump(fitted)))
    write_json({"cost": res.cost, "evaluations": res.evaluations, "message": res.message,
                "targets_inside_ci": int(fit.inside_ci.sum()), "targets": len(fit)},
               out / "report.json")
    save_figure(plot_calibration_fit(fit), out / "fit.png")
    print(params[["parameter", "start", "fitted", "se", "identified_by"]].to_string(index=False))
    print(f"{int(fit.inside_ci.sum())} of {len(fit)} targets inside the published 95% CI; "
          f"results in {out}/")
    return 0


def cmd_explain(args) -> int:
    from trialsim.config.scenario import load_scenario
    from trialsim.experiments.explain import explain
    from trialsim.report.plots import save_figure
    from trialsim.report.plots_calibration import plot_waterfall

    a, b = load_scenario(args.a), load_scenario(args.b)
    grid, steps = explain(a, b, endpoint=args.endpoint, week=args.week, treated=args.treated,
                          patients_per_arm=args.patients_per_arm, seed=args.seed,
                          batches=args.batches)
    out = Path(args.out)
    write_csv(grid, out / "protocol_by_population.csv")
    write_csv(steps, out / "decomposition.csv")
    save_figure(plot_waterfall(steps, title=f"{args.endpoint} week {args.week}, {args.treated} "
                               f"vs control: {b.name} → {a.name}"), out / "waterfall.png")
    print(grid.to_string(index=False))
    print(steps.to_string(index=False))
    return 0
