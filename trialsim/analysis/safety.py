"""Adverse events of one trial compared between arms, and the size of a safety study.

Per event and comparison (treated vs control): the risk difference in the share of patients
with at least one event, the incidence rate ratio (events per patient-year at risk) and the
exact conditional test of equal rates: given the two arms' ``x1 + x0`` events, ``x1`` is
binomial with probability ``t1 / (t1 + t0)`` (the treated arm's share of the time at risk)
under the null; the two-sided p-value sums the outcomes no more probable than the one
observed ("minlike", as ``scipy.stats.binomtest`` and statsmodels'
``test_poisson_2indep(method="exact-cond")``; Gu et al., Biom J 2008;50:283).

``safety_study_size`` is the patients per arm a two-arm study needs to detect a rate ratio
with a two-sided Wald test of the log rate ratio (Zhu & Lakkis 2014; statsmodels'
``power_poisson_ratio_2indep``).
"""

from __future__ import annotations

import math

import numpy as np

from trialsim.analysis.comparisons import norm_ppf
from trialsim.core.jit import jit

__all__ = [
    "SAFETY_FIELDS", "exact_rate_p_value", "compare_safety", "safety_study_size",
]

#: per-trial comparison fields of each event
SAFETY_FIELDS = ("risk_difference", "rate_ratio", "p_value")
RISK_DIFFERENCE, RATE_RATIO, P_VALUE = range(len(SAFETY_FIELDS))
#: relative tolerance of "no more probable than observed" (scipy.stats.binomtest's)
MINLIKE_RTOL = 1e-7


@jit
def _binomial_log_pmf(k, n, log_p, log_q):
    return (math.lgamma(n + 1.0) - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0)
            + k * log_p + (n - k) * log_q)


@jit
def exact_rate_p_value(x1, t1, x0, t0):
    """Two-sided exact conditional p-value of equal event rates (module docstring): ``x1``
    events in ``t1`` patient-years against ``x0`` in ``t0``. 1 without events; nan without
    time at risk in an arm."""
    if not (t1 > 0.0 and t0 > 0.0):
        return np.nan
    n = x1 + x0
    if n == 0:
        return 1.0
    p = t1 / (t1 + t0)
    log_p, log_q = math.log(p), math.log1p(-p)
    observed = _binomial_log_pmf(x1, n, log_p, log_q)
    bound = observed + math.log1p(MINLIKE_RTOL)
    total = 0.0
    for k in range(n + 1):
        lk = _binomial_log_pmf(k, n, log_p, log_q)
        if lk <= bound:
            total += math.exp(lk)
    return min(total, 1.0)


@jit
def compare_safety(counts, years, arm, pairs, n_arms):
    """The adverse events of one trial by arm, and each comparison's statistics.

    Parameters
    ----------
    counts : ndarray of int64, shape (n_events, n)
        Each patient's events (``model.safety.draw_adverse_events``).
    years : ndarray of float64, shape (n,)
        Each patient's time at risk.
    arm : ndarray of int64, shape (n,)
    pairs : ndarray of int64, shape (n_comparisons, 2)
        Treated and control arm of each comparison.
    n_arms : int

    Returns
    -------
    with_event : ndarray of int64, shape (n_events, n_arms)
        Patients with at least one event.
    events : ndarray of int64, shape (n_events, n_arms)
    arm_years : ndarray of float64, shape (n_arms,)
        Patient-years at risk.
    out : ndarray of float64, shape (n_events, n_comparisons, len(SAFETY_FIELDS))
        Risk difference (share with an event, treated minus control; nan with an empty arm),
        rate ratio (inf with events on treatment only, nan with none) and exact p-value.
    """
    n_events, n = counts.shape
    with_event = np.zeros((n_events, n_arms), dtype=np.int64)
    events = np.zeros((n_events, n_arms), dtype=np.int64)
    arm_years = np.zeros(n_arms)
    size = np.zeros(n_arms)
    for i in range(n):
        a = arm[i]
        size[a] += 1.0
        arm_years[a] += years[i]
        for e in range(n_events):
            events[e, a] += counts[e, i]
            if counts[e, i] > 0:
                with_event[e, a] += 1
    out = np.full((n_events, pairs.shape[0], len(SAFETY_FIELDS)), np.nan)
    for e in range(n_events):
        for c in range(pairs.shape[0]):
            t, k = pairs[c, 0], pairs[c, 1]
            if size[t] > 0 and size[k] > 0:
                out[e, c, RISK_DIFFERENCE] = with_event[e, t] / size[t] - with_event[e, k] / size[k]
            if arm_years[t] > 0.0 and arm_years[k] > 0.0:
                r1 = events[e, t] / arm_years[t]
                r0 = events[e, k] / arm_years[k]
                if r0 > 0.0:
                    out[e, c, RATE_RATIO] = r1 / r0
                elif r1 > 0.0:
                    out[e, c, RATE_RATIO] = np.inf
            out[e, c, P_VALUE] = exact_rate_p_value(events[e, t], arm_years[t], events[e, k],
                                                    arm_years[k])
    return with_event, events, arm_years, out


def safety_study_size(rate_control: float, rate_treated: float, years: float, alpha: float,
                      power: float) -> float:
    """Patients per arm (1:1) for a two-sided level-``alpha`` Wald test of the log rate ratio
    to reach ``power``: ``(z_{1-alpha/2} + z_power)^2 (1/r0 + 1/r1) / (T ln(r1/r0)^2)``,
    rounded up, with rates per patient-year and ``T`` years at risk per patient (the
    opposite tail ignored, as in statsmodels' ``power_poisson_ratio_2indep``). nan when the
    rates are equal or either is 0 (no ratio to detect)."""
    if not (rate_control > 0.0 and rate_treated > 0.0 and years > 0.0) or (
            rate_control == rate_treated):
        return float("nan")
    z = norm_ppf(1.0 - alpha / 2.0) + norm_ppf(power)
    n = z * z * (1.0 / rate_control + 1.0 / rate_treated) / (
        years * math.log(rate_treated / rate_control) ** 2)
    return float(math.ceil(n))
