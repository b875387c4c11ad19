"""``trialsim calibrate`` and ``trialsim explain``.

Both write their results folder as the other commands do (``trialsim.experiments.pipeline``):
checked and locked before anything is simulated, written into a staging folder, put in
place as one unit at the end, with a ``run.json`` saying which command wrote it.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from trialsim.cli.main import _int_at_least, _positive_int, stamp
from trialsim.core.io import atomic_write, write_csv, write_json
from trialsim.errors import ScenarioError

#: what each command writes in its results folder (see ``cli.experiments.OUTPUTS``)
OUTPUTS = {
    "calibrate": ("parameters.csv", "fit_table.csv", "dose_contrasts.csv", "fitted.yaml",
                  "report.json", "fit.png", "cross_validation.csv", "holdout_*.csv",
                  "run.json", "report.html"),
    "explain": ("protocol_by_population.csv", "decomposition.csv", "waterfall.png",
                "run.json", "report.html"),
}


def register(sub: argparse._SubParsersAction) -> None:
    from trialsim.experiments.calibration import MAX_EVALUATIONS
    from trialsim.experiments.explain import MAX_BATCHES

    cal = sub.add_parser("calibrate", help="fit the shared model to published trials")
    cal.add_argument("spec", help="calibration spec, e.g. configs/calibration.yaml")
    cal.add_argument("--out", default="results/calibration", help="output folder")
    cal.add_argument("--max-evaluations", type=_int_at_least(1, MAX_EVALUATIONS),
                     help="override the spec's budget")
    cal.add_argument("--hold-out", metavar="SCENARIO",
                     help="leave this scenario's targets out of the fit and predict them, "
                          "each with its 95%% prediction interval (cross-validation)")
    cal.add_argument("--cross-validate", action="store_true",
                     help="after the fit, leave each scenario out in turn: fit the others and "
                          "predict it (holdout_<scenario>.csv, cross_validation.csv)")
    cal.add_argument("--n-jobs", type=_int_at_least(1, 64), default=1,
                     help="with --cross-validate: fits run at once in separate processes "
                          "(each fit is seeded on its own: the results do not depend on it)")
    cal.set_defaults(func=cmd_calibrate)
    exp = sub.add_parser("explain", help="decompose why two trials' treatment effects differ")
    exp.add_argument("a", help="first scenario (e.g. configs/bliss52.yaml)")
    exp.add_argument("b", help="second scenario (e.g. configs/bliss76.yaml)")
    exp.add_argument("--endpoint", default="sri4")
    exp.add_argument("--week", type=_positive_int, default=52)
    exp.add_argument("--treated", default="bel10", help="treated arm compared with control")
    exp.add_argument("--patients-per-arm", type=_positive_int, default=4000,
                     help="patients per arm in each batch")
    exp.add_argument("--batches", type=_int_at_least(2, MAX_BATCHES), default=10,
                     help="independent CRN-paired trials per configuration (>= 2; MCSE)")
    exp.add_argument("--seed", type=_int_at_least(0), default=20261122)
    exp.add_argument("--out", default="results/explain", help="output folder")
    exp.add_argument("--quiet", action="store_true", help="no progress report")
    exp.set_defaults(func=cmd_explain)


@contextlib.contextmanager
def _writing(out: Path, command: str) -> Iterator[Path]:
    """The results folder held from before the work starts; yields its staging folder."""
    from trialsim.experiments.pipeline import results_folder, staged

    with results_folder(out, OUTPUTS[command], command) as final, \
            staged(final, OUTPUTS[command]) as stage:
        yield stage


def _provenance(command: str, t0: float, **extra) -> dict:
    return {"command": command, **extra, **stamp(t0)}


class _Log:
    """Progress lines of one fit, named by what it leaves out (fits may run at once)."""

    def __init__(self, hold_out: str | None):
        self.prefix = "fit" if hold_out is None else f"fit without {hold_out}"

    def __call__(self, line: str) -> None:
        print(f"{self.prefix}:{line}", flush=True)


def held_out_report(fit, hold_out: str | None) -> dict:
    """Coverage of a held-out scenario's published values by their prediction intervals."""
    if hold_out is None:
        return {}
    h = fit[fit.scenario == hold_out]
    return {"held_out": hold_out, "held_out_targets": len(h),
            "held_out_covered": int(h.inside_prediction.sum()),
            "held_out_coverage": float(h.inside_prediction.mean())}


def cross_validate(held_out_fits: dict, stage: Path):
    """The leave-one-scenario-out fits (scenario -> the fit without it) as predictions of the
    scenario left out: writes ``holdout_<scenario>.csv`` (its targets with prediction
    intervals) and returns the coverage table (one row per held-out scenario, and all of
    them together)."""
    import numpy as np
    import pandas as pd

    rows, held = [], []
    for name, res in held_out_fits.items():
        h = res.fit_table()
        h = h[h.scenario == name]
        write_csv(h, stage / f"holdout_{name}.csv")
        held.append(h.assign(held_out=name, j_df=res.j_test()[1],
                             moved=float(np.max(np.abs(res.theta - res.start)
                                                / np.maximum(np.abs(res.start), 1e-12)))))
    for name, h in [(h.held_out.iloc[0], h) for h in held] + [("all", pd.concat(held))]:
        width = h.prediction_high - h.prediction_low
        ratio = h.comparison.fillna("") != ""
        rate = (h.kind == "rate")
        days = (h.kind == "median")
        rows.append({
            "held_out": name, "targets": len(h),
            # degrees of freedom of the fit without it (< 0: not identified), and the largest
            # relative move of a parameter from its start (0: the fit stayed where it began)
            "fit_df": int(h.j_df.iloc[0]) if name != "all" else None,
            "largest_relative_move": float(h.moved.max()),
            "covered": int(h.inside_prediction.sum()),
            "coverage": float(h.inside_prediction.mean()),
            "median_width_rate_pp": float(np.median(100 * width[rate])) if rate.any() else None,
            "median_width_ratio": (float(np.median(h.prediction_high[ratio]
                                                   / h.prediction_low[ratio]))
                                   if ratio.any() else None),
            "median_width_days": float(np.median(width[days])) if days.any() else None,
        })
    return pd.DataFrame(rows)


def cmd_calibrate(args) -> int:
    from joblib import Parallel, delayed

    from trialsim.experiments.calibration import calibrate, check_hold_out, load_spec
    from trialsim.report.plots import save_figure
    from trialsim.report.plots_calibration import plot_calibration_fit

    t0 = time.perf_counter()
    spec, scenarios = load_spec(args.spec)
    if args.hold_out is not None and args.cross_validate:
        raise ScenarioError("--hold-out and --cross-validate: give one; --cross-validate "
                            "already leaves each scenario out in turn")
    if args.cross_validate:
        bare = [n for n in scenarios if not any(t.scenario == n and t.fit for t in spec.targets)]
        if len(scenarios) < 2 or bare:
            raise ScenarioError(
                "--cross-validate leaves each scenario out in turn: it needs at least two "
                "scenarios, each with fitted targets"
                + (f" ({', '.join(bare)} has none)" if bare else ""))
    check_hold_out(scenarios, args.hold_out)  # before the results folder is touched
    out = Path(args.out)
    with _writing(out, "calibrate") as stage:
        # the fit itself, then (--cross-validate) one fit without each scenario: independent
        # jobs, run at once with --n-jobs
        jobs = [args.hold_out] + (list(scenarios) if args.cross_validate else [])
        fits = Parallel(n_jobs=min(args.n_jobs, len(jobs)))(
            delayed(calibrate)(spec, scenarios, max_evaluations=args.max_evaluations,
                               hold_out=h, log=_Log(h)) for h in jobs)
        res = fits[0]
        params = res.parameter_table()
        fit = res.fit_table()
        write_csv(params, stage / "parameters.csv")
        write_csv(fit, stage / "fit_table.csv")
        doses = res.dose_contrasts()
        write_csv(doses, stage / "dose_contrasts.csv")
        j, df, p_j = res.j_test()
        fitted = {
            path: round(float(v), 4)
            for p, v in zip(spec.parameters.values(), res.theta, strict=True)
            for path in p.paths
        }
        atomic_write(stage / "fitted.yaml", lambda p: p.write_text(
            "# fitted values (paste into configs/model.yaml)\n" + yaml.safe_dump(fitted)))
        write_json({"gmm_distance": 2 * res.cost, "j_df": df, "j_p_value": p_j,
                    "evaluations": res.evaluations, "message": res.message,
                    "targets_inside_ci": int(fit.inside_ci.sum()), "targets": len(fit),
                    "fitted_targets": int(fit.fitted.sum()),
                    "parameter_covariance": res.cov.tolist(),
                    "parameter_names": list(spec.parameters),
                    **held_out_report(fit, args.hold_out)},
                   stage / "report.json")
        save_figure(plot_calibration_fit(fit), stage / "fit.png")
        cv = None
        if args.cross_validate:
            cv = cross_validate(dict(zip(jobs[1:], fits[1:], strict=True)), stage)
            write_csv(cv, stage / "cross_validation.csv")
        write_json(_provenance("calibrate", t0, spec=str(args.spec),
                               max_evaluations=args.max_evaluations,
                               hold_out=args.hold_out, cross_validate=args.cross_validate,
                               n_jobs=args.n_jobs,
                               spec_config=spec.model_dump(mode="json")),
                   stage / "run.json")
    cols = ["parameter", "start", "fitted", "se", "ci_low", "ci_high", "identified_by"]
    print(params[cols].to_string(index=False))
    if len(doses):
        print(doses.round(3).to_string(index=False))
    if args.hold_out is not None:
        h = held_out_report(fit, args.hold_out)
        print(f"held out {args.hold_out}: {h['held_out_covered']} of {h['held_out_targets']} "
              "published values inside their 95% prediction intervals")
    if cv is not None:
        print(cv.round(3).to_string(index=False))
    print(f"{int(fit.inside_ci.sum())} of {len(fit)} targets inside the published 95% CI; "
          f"J = {j:.1f} on {df} df (p = {p_j:.3f}); results in {out}/")
    return 0


def cmd_explain(args) -> int:
    from trialsim.config.scenario import load_scenario
    from trialsim.experiments.explain import check_explain, explain
    from trialsim.report.plots import save_figure
    from trialsim.report.plots_calibration import plot_waterfall

    t0 = time.perf_counter()
    a, b = load_scenario(args.a), load_scenario(args.b)
    settings = dict(endpoint=args.endpoint, week=args.week, treated=args.treated,
                    patients_per_arm=args.patients_per_arm, batches=args.batches)
    check_explain(a, b, **settings)  # before the results folder is touched
    out = Path(args.out)
    with _writing(out, "explain") as stage:
        grid, steps = explain(a, b, seed=args.seed, progress=False if args.quiet else None,
                              **settings)
        write_csv(grid, stage / "protocol_by_population.csv")
        write_csv(steps, stage / "decomposition.csv")
        save_figure(plot_waterfall(steps, title=f"{args.endpoint} week {args.week}, "
                                   f"{args.treated} vs control: {b.name} → {a.name}"),
                    stage / "waterfall.png")
        write_json(_provenance("explain", t0, a=str(args.a), b=str(args.b), seed=args.seed,
                               a_sha256=a.digest(), b_sha256=b.digest(), **settings),
                   stage / "run.json")
    if not args.quiet:
        print(grid.to_string(index=False))
        print(steps.to_string(index=False))
    return 0
