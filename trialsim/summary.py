"""Summaries over replicates, each with its Monte Carlo standard error (MCSE)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .analysis import Z_95
from .analysis.comparisons import RESULT_FIELDS
from .analysis.survival import HAZARD_RATIO, LOG_HR, P_LOGRANK
from .baseline import BASELINE_KINDS, BASELINE_NAMES
from .engine import ChunkResult, Plan
from .results import SUMMARY_COLUMNS

F = {name: i for i, name in enumerate(RESULT_FIELDS)}


def mean_mcse(x: np.ndarray) -> tuple[float, float]:
    """Mean of replicate values and its MCSE (SD / sqrt(R)); nan-aware."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), se


def proportion_mcse(hits: np.ndarray) -> tuple[float, float]:
    """Share of replicates with an event (e.g. rejection) and its binomial MCSE."""
    p = float(np.mean(hits))
    return p, float(np.sqrt(p * (1 - p) / hits.size))


def quantile_mcse(x: np.ndarray, q: float) -> tuple[float, float]:
    """Sample quantile and its MCSE from the distribution-free order-statistic interval.

    The 95% interval for the ``q`` quantile runs between the order statistics of ranks
    ``R q ∓ z sqrt(R q (1 - q))`` (z = ``Z_95``); its half-width / z is reported as the MCSE.
    """
    x = np.sort(x[~np.isnan(x)])  # nan: not estimable; inf (e.g. a median never reached) stays
    r = x.size
    if r == 0:
        return float("nan"), float("nan")
    if np.isinf(x).any():  # no interpolation with infinite order statistics
        value = float(np.quantile(x, q, method="inverted_cdf"))
    else:
        value = float(np.quantile(x, q))
    half = Z_95 * np.sqrt(r * q * (1 - q))
    lo = int(np.clip(np.floor(r * q - half), 0, r - 1))
    hi = int(np.clip(np.ceil(r * q + half), 0, r - 1))
    spread = x[hi] - x[lo] if np.isfinite(x[hi]) and np.isfinite(x[lo]) else np.inf
    return value, float(spread / (2 * Z_95))


def summarize(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """The tidy summary table (``summary.csv``).

    Statistics: per arm ``response_rate`` (mean over replicates of the arm's rate) and its
    2.5/97.5% quantiles over replicates; per comparison ``power`` (two-sided rejection rate at
    alpha), ``power_favoring_treatment`` (rejection with OR > 1), ``odds_ratio_median`` and
    its 2.5/97.5% quantiles, ``risk_difference_mean`` and ``analyzable`` (share of trials
    whose logistic model could be fitted). Endpoint ``time_to_first_flare`` (SFI, at the last
    visit week): per arm the median over trials of the Kaplan–Meier median (``km_median_days``),
    per comparison log-rank ``power`` and the Cox (Efron) ``hazard_ratio_median`` and quantiles.
    """
    sc = plan.scenario
    alpha = sc.analysis.alpha
    rows = []

    def add(endpoint, week, arm, comparison, statistic, value, mcse):
        rows.append((sc.name, endpoint, week, arm, comparison, statistic, value, mcse))

    for t, (endpoint, week) in enumerate(plan.targets):
        for a, arm in enumerate(plan.arms):
            x = res.rates[:, t, a]
            add(endpoint, week, arm, "", "response_rate", *mean_mcse(x))
            add(endpoint, week, arm, "", "response_rate_q025", *quantile_mcse(x, 0.025))
            add(endpoint, week, arm, "", "response_rate_q975", *quantile_mcse(x, 0.975))
        for c, comp in enumerate(plan.comparisons):
            a = res.analysis[:, t, c, :]
            reject = a[:, F["p_value"]] < alpha
            add(endpoint, week, "", comp, "power", *proportion_mcse(reject))
            favor = reject & (a[:, F["log_or"]] > 0)
            add(endpoint, week, "", comp, "power_favoring_treatment", *proportion_mcse(favor))
            odds = a[:, F["odds_ratio"]]
            add(endpoint, week, "", comp, "odds_ratio_median", *quantile_mcse(odds, 0.5))
            add(endpoint, week, "", comp, "odds_ratio_q025", *quantile_mcse(odds, 0.025))
            add(endpoint, week, "", comp, "odds_ratio_q975", *quantile_mcse(odds, 0.975))
            add(
                endpoint,
                week,
                "",
                comp,
                "risk_difference_mean",
                *mean_mcse(a[:, F["risk_difference"]]),
            )
            add(endpoint, week, "", comp, "analyzable", *proportion_mcse(a[:, F["converged"]] > 0))
    flare = "time_to_first_flare"
    last_week = plan.scenario.design.duration_weeks
    for a, arm in enumerate(plan.arms):
        km = quantile_mcse(res.flare_median_days[:, a], 0.5)
        add(flare, last_week, arm, "", "km_median_days", *km)
    for c, comp in enumerate(plan.comparisons):
        f = res.flare_analysis[:, c, :]
        reject = f[:, P_LOGRANK] < alpha
        add(flare, last_week, "", comp, "power", *proportion_mcse(reject))
        favor = reject & (f[:, LOG_HR] < 0)
        add(flare, last_week, "", comp, "power_favoring_treatment", *proportion_mcse(favor))
        hr = f[:, HAZARD_RATIO]
        add(flare, last_week, "", comp, "hazard_ratio_median", *quantile_mcse(hr, 0.5))
        add(flare, last_week, "", comp, "hazard_ratio_q025", *quantile_mcse(hr, 0.025))
        add(flare, last_week, "", comp, "hazard_ratio_q975", *quantile_mcse(hr, 0.975))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def replicate_table(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """One row per replicate × endpoint × week × comparison (``replicates.parquet``)."""
    r, n_t, n_c, n_f = res.analysis.shape
    idx = np.indices((r, n_t, n_c)).reshape(3, -1)
    df = pd.DataFrame(res.analysis.reshape(-1, n_f), columns=list(RESULT_FIELDS))
    df.insert(0, "comparison", np.array(plan.comparisons)[idx[2]])
    df.insert(0, "week", np.array([w for _, w in plan.targets])[idx[1]])
    df.insert(0, "endpoint", np.array([e for e, _ in plan.targets])[idx[1]])
    df.insert(0, "replicate", res.replicates[idx[0]])
    df["converged"] = df["converged"] > 0
    return df


def baseline_table(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """Simulated baseline characteristics per arm and overall, pooled over replicates.

    Percent characteristics report the percentage; mean characteristics the mean and the
    patient-level SD. ``mcse`` is the Monte Carlo SE of the value from the spread of the
    per-trial values.
    """
    names, kinds = BASELINE_NAMES, BASELINE_KINDS
    m = res.baseline  # (r, arms, 3, k)
    groups = [(arm, m[:, a]) for a, arm in enumerate(plan.arms)] + [("overall", m.sum(axis=1))]
    rows = []
    for group, mom in groups:
        n, s, ss = mom[:, 0], mom[:, 1], mom[:, 2]
        tot_n, tot_s, tot_ss = n.sum(axis=0), s.sum(axis=0), ss.sum(axis=0)
        mean = tot_s / tot_n
        sd = np.sqrt(np.maximum(tot_ss / tot_n - mean**2, 0.0))
        per_trial = s / np.maximum(n, 1)
        mcse = (
            per_trial.std(axis=0, ddof=1) / np.sqrt(per_trial.shape[0])
            if per_trial.shape[0] > 1
            else np.full(mean.shape, np.nan)
        )
        n_per_trial = float(n[:, 0].mean())
        rows.append(("n_per_trial", "count", group, n_per_trial, float("nan"), float("nan")))
        for k, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            scale = 100.0 if kind == "percent" else 1.0
            rows.append(
                (
                    name,
                    kind,
                    group,
                    mean[k] * scale,
                    sd[k] if kind == "mean" else float("nan"),
                    mcse[k] * scale,
                )
            )
    return pd.DataFrame(rows, columns=["characteristic", "kind", "arm", "value", "sd", "mcse"])


def trajectory_table(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """Mean SELENA-SLEDAI of patients on study by arm and week, with replicate quantiles."""
    rows = []
    interval = plan.scenario.design.visit_interval_weeks
    for a, arm in enumerate(plan.arms):
        x = res.sledai_mean[:, a, :]
        for v in range(x.shape[1]):
            col = x[:, v][np.isfinite(x[:, v])]
            rows.append(
                (
                    arm,
                    v * interval,
                    float(col.mean()),
                    float(np.quantile(col, 0.025)),
                    float(np.quantile(col, 0.975)),
                )
            )
    return pd.DataFrame(rows, columns=["arm", "week", "mean", "q025", "q975"])
