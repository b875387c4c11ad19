"""Assurance: the probability of success of a design, over the calibration's uncertainty.

Power answers "if the model's parameters are exactly these, how often does the trial
succeed?". The calibration (``trialsim calibrate``) knows them only up to its covariance.
Assurance (O'Hagan et al. 2005, "Assurance in clinical trial design", Pharm Stat 4:187)
integrates power over that uncertainty:

    assurance = E_θ[power(θ)],   θ ~ N(θ̂, V)  (the fit's asymptotic normal; on the log
    scale for log-scale parameters, truncated to the fitted bounds by rejection).

Two levels of sampling: K parameter draws, and R simulated trials per draw. Every draw uses
the same seed (common random numbers), so the differences between draws are the parameters'
doing and not the trials'. The Monte Carlo SE of the assurance has a between-draw part,
``sd_k(power_k) / sqrt(K)``, and a within-draw part, at most ``sqrt(mean_k p_k (1 - p_k) / R)``
(the trials' noise is shared by the draws through the common random numbers, so it does not
average out over K; this bound treats it as fully shared). Both are reported, and their
root sum of squares is the MCSE.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trialsim.config.scenario import Scenario, ScenarioError, with_overrides
from trialsim.experiments.calibration import from_optimizer_scale, to_optimizer_scale
from trialsim.experiments.power import (
    POWER_STATISTICS,
    RunSettings,
    _power_selection,
    _runner,
)
from trialsim.run.trial import Plan
from trialsim.summarize.tables import summarize, whole_trial

#: most parameter draws of one assurance run
MAX_DRAWS = 10_000


@dataclass
class Posterior:
    """The calibration's estimate and its asymptotic normal covariance (optimizer scale)."""

    names: list[str]
    paths: list[list[str]]
    scales: list[str]
    fitted: np.ndarray  # natural scale
    lower: np.ndarray
    upper: np.ndarray
    cov: np.ndarray  # on the optimizer's scale (log for log-scale parameters)
    source: str

    @property
    def _logs(self) -> np.ndarray:
        return np.array([s == "log" for s in self.scales])

    def draws(self, k: int, seed: int) -> tuple[np.ndarray, float]:
        """The estimate (row 0) and ``k`` parameter draws (rows 1…k), natural scale, shape
        (k + 1, n_parameters), and the share of proposals accepted.

        The draws come from the asymptotic normal truncated to the fitted bounds (the
        parameters' support): proposals outside are rejected, not clipped, so no mass piles
        up on a bound (a probability of exactly 0, an effect of exactly 0)."""
        logs = self._logs
        mean, lo, hi = (to_optimizer_scale(v, logs) for v in (self.fitted, self.lower, self.upper))
        rng = np.random.default_rng(seed)
        kept, proposed = [], 0
        while sum(len(b) for b in kept) < k:
            if proposed > 1000 * k:
                raise ScenarioError(
                    f"--calibration {self.source}: fewer than 1 in 1,000 draws of the fit's "
                    "normal approximation lie inside the parameters' bounds; the fit's "
                    "covariance is not usable for assurance (rerun `trialsim calibrate`)")
            x = rng.multivariate_normal(mean, self.cov, size=max(k, 100), method="eigh")
            proposed += len(x)
            kept.append(x[np.all((x >= lo) & (x <= hi), axis=1)])
        inside = np.vstack(kept)
        accepted = len(inside) / proposed if proposed else 1.0
        x = np.vstack([mean[None, :], inside[:k]])
        return from_optimizer_scale(x, logs), float(accepted)

    def replaced(self, scenario: Scenario) -> list[str]:
        """The calibrated paths at which ``scenario`` holds a value other than the fit's:
        the draws replace them (a design's own dropout, say), which the user should know."""
        data = scenario.model_dump()
        out = []
        for paths, value in zip(self.paths, self.fitted, strict=True):
            for path in paths:
                node = data
                for key in path.split("."):
                    node = node.get(key) if isinstance(node, dict) else None
                if node is None or not np.isclose(float(node), value, rtol=1e-3):
                    out.append(f"{path} ({node} in the scenario, {value:g} fitted)")
        return out

    def overrides(self, theta: np.ndarray) -> dict[str, float]:
        return {path: float(v) for paths, v in zip(self.paths, theta, strict=True)
                for path in paths}


def load_posterior(folder: str | Path) -> Posterior:
    """Read a ``trialsim calibrate`` results folder (parameters.csv, report.json)."""
    folder = Path(folder)
    params_csv, report_json = folder / "parameters.csv", folder / "report.json"
    for f in (params_csv, report_json):
        if not f.is_file():
            raise ScenarioError(
                f"--calibration {folder}: {f.name} not found; give the results folder of "
                "`trialsim calibrate` (e.g. results/calibration; `make calibrate` writes it)")
    try:
        report = json.loads(report_json.read_text())
        params = pd.read_csv(params_csv)
        names = list(report["parameter_names"])
        cov = np.asarray(report["parameter_covariance"], dtype=float)
    except (ValueError, KeyError, OSError) as exc:
        raise ScenarioError(f"--calibration {folder}: not a calibration result this version "
                            f"of trialsim can read ({type(exc).__name__}: {exc}); rerun "
                            "`trialsim calibrate`") from None
    need = {"parameter", "paths", "scale", "fitted", "lower_bound", "upper_bound"}
    missing = sorted(need - set(params.columns))
    if missing:
        raise ScenarioError(f"--calibration {folder}: parameters.csv lacks column(s) "
                            f"{', '.join(missing)}; rerun `trialsim calibrate`")
    absent = [n for n in names if n not in set(params.parameter)]
    if absent:
        raise ScenarioError(f"--calibration {folder}: report.json names parameter(s) "
                            f"{', '.join(absent)} that parameters.csv does not list; rerun "
                            "`trialsim calibrate`")
    rows = params.set_index("parameter").loc[names]
    if cov.shape != (len(names), len(names)) or not np.isfinite(cov).all():
        raise ScenarioError(f"--calibration {folder}: its parameter covariance is not a finite "
                            f"{len(names)} x {len(names)} matrix; rerun `trialsim calibrate`")
    cov = (cov + cov.T) / 2
    if np.linalg.eigvalsh(cov).min() < -1e-10 * max(np.abs(cov).max(), 1e-300):
        raise ScenarioError(f"--calibration {folder}: its parameter covariance is not positive "
                            "semi-definite; rerun `trialsim calibrate`")
    try:
        return Posterior(
            names=names,
            paths=[str(p).split(";") for p in rows.paths],
            scales=[str(s) for s in rows["scale"]],
            fitted=rows.fitted.to_numpy(float),
            lower=rows.lower_bound.to_numpy(float),
            upper=rows.upper_bound.to_numpy(float),
            cov=cov,
            source=str(folder),
        )
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"--calibration {folder}: parameters.csv has a value that is not "
                            f"a number ({exc}); rerun `trialsim calibrate`") from None


def _quantile(x: np.ndarray, q: float) -> float:
    """The ``q`` quantile of the finite values of ``x`` (nan when there are none)."""
    x = x[np.isfinite(x)]
    return float(np.quantile(x, q)) if x.size else float("nan")


def assurance(
    scenario: Scenario,
    posterior: Posterior,
    draws: int,
    sizes: Sequence[int] | None = None,
    endpoints: Sequence[str] | None = None,
    weeks: Sequence[int] | None = None,
    comparisons: Sequence[str] | None = None,
    draw_seed: int = 0,
    settings: RunSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Power integrated over the calibration's parameter uncertainty.

    Parameters
    ----------
    scenario : Scenario
        The design; its parameters at the calibrated paths are replaced by each draw's.
    posterior : Posterior
    draws : int
        Parameter draws K; the estimate itself is simulated too (draw 0), for
        ``power_at_estimate``, and is not one of the K.
    sizes : sequence of int, optional
        Total sample sizes (default: the scenario's).
    endpoints, weeks, comparisons : optional
        As for the power curve (``select_targets``).
    draw_seed : int
        Seed of the parameter draws (the trials use the scenario's seed in every draw).
    settings : RunSettings, optional

    Returns
    -------
    summary : DataFrame
        Per size, endpoint, week, comparison and statistic (``power``,
        ``power_favoring_treatment``): ``assurance``, ``mcse``, ``mcse_between``,
        ``mcse_within``, ``power_at_estimate`` and quantiles of power over draws
        (``power_q05``, ``power_q50``, ``power_q95``), ``prob_power_above_80``, and the
        distribution of the true effect over draws (median odds ratio of the draw's trials:
        ``odds_ratio_q05/_q50/_q95``).
    per_draw : DataFrame
        Every draw's parameter values, power and median odds ratio (draw 0: the estimate).
    """
    if not 2 <= draws <= MAX_DRAWS:
        raise ScenarioError(f"--draws {draws}: give 2 to {MAX_DRAWS:,} parameter draws")
    settings = settings or RunSettings()
    endpoints, weeks, comparisons = _power_selection(scenario, endpoints, weeks, comparisons)
    sizes = sorted(dict.fromkeys(int(n) for n in (sizes or [scenario.design.sample_size])))
    theta, accepted = posterior.draws(draws, draw_seed)
    points, keys = [], []
    for k in range(draws + 1):
        over = posterior.overrides(theta[k])
        for n in sizes:
            try:
                points.append(with_overrides(scenario, {**over, "design.sample_size": n}))
            except ScenarioError as exc:
                raise ScenarioError(f"parameter draw {k} at N = {n} is not a valid scenario "
                                    f"(the calibration's bounds allow it):\n{exc}") from None
            keys.append((k, n))
    with _runner("assurance", scenario, settings) as run:
        results = run(points)
        replicates = run.replicates
    rows = []
    for (k, n), sc, res in zip(keys, points, results, strict=True):
        s = whole_trial(summarize(Plan(sc), res))
        s = s[(s.comparison != "") & s.statistic.isin((*POWER_STATISTICS, "odds_ratio_median"))]
        if endpoints is not None:
            s = s[s.endpoint.isin(endpoints)]
            if weeks is not None:
                s = s[s.week.isin(weeks)]
        s = s[s.comparison.isin(comparisons)]
        rows.append(s.assign(draw=k, sample_size=n))
    long = pd.concat(rows, ignore_index=True)
    idx = ["sample_size", "endpoint", "week", "comparison", "draw"]
    wide = long.pivot_table(index=idx, columns="statistic", values="value").reset_index()
    for j, name in enumerate(posterior.names):
        wide[name] = theta[wide.draw.to_numpy(), j]
    summary = []
    for key, g in wide.groupby(["sample_size", "endpoint", "week", "comparison"], sort=False):
        at_estimate = g[g.draw == 0]
        g = g[g.draw > 0]  # the draws; draw 0 is the estimate
        odds = (g["odds_ratio_median"].to_numpy(float) if "odds_ratio_median" in g
                else np.full(len(g), np.nan))
        for stat in POWER_STATISTICS:
            if stat not in g:
                continue
            p = g[stat].to_numpy(float)
            between = float(np.std(p, ddof=1) / np.sqrt(len(p)))
            within = float(np.sqrt(np.mean(p * (1 - p)) / replicates))
            summary.append({
                **dict(zip(["sample_size", "endpoint", "week", "comparison"], key,
                           strict=True)),
                "statistic": stat, "assurance": float(p.mean()),
                "mcse": float(np.hypot(between, within)), "mcse_between": between,
                "mcse_within": within,
                "power_at_estimate": float(at_estimate[stat].iloc[0]),
                "power_q05": float(np.quantile(p, 0.05)),
                "power_q50": float(np.quantile(p, 0.5)),
                "power_q95": float(np.quantile(p, 0.95)),
                "prob_power_above_80": float(np.mean(p >= 0.8)),
                **{f"odds_ratio_q{round(100 * q):02d}": _quantile(odds, q)
                   for q in (0.05, 0.5, 0.95)},
                "draws": len(p), "replicates": replicates, "draws_accepted_share": accepted,
            })
    out = pd.DataFrame(summary)
    out.insert(0, "scenario", scenario.name)
    return out, wide.assign(scenario=scenario.name)
