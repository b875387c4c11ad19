"""Analyses of a single-arm observational skin cohort: CLASI by visit and CLASI-k response.

What such a cohort reports at each assessment (months 0, 3, 6, 12, 24, …) for all patients and
for each subtype: how many were assessed, the mean CLASI activity with its t-interval, the mean
change from baseline with a Wilcoxon signed-rank p-value, and the number of CLASI-k responders
among the patients with an assessable baseline.

The per-replicate work is numba kernels (:func:`wilcoxon_signed_rank`, :func:`mean_ci`,
:func:`cohort_statistics`); scipy is used only once per simulation, to tabulate the t quantiles
(:func:`t_quantiles`), and for the Clopper–Pearson bounds of the summary table
(:func:`clopper_pearson`, :func:`statistics_frame`).

The Wilcoxon test reproduces ``scipy.stats.wilcoxon(d, zero_method="wilcox", correction=False,
alternative="two-sided", method="auto")`` of scipy 1.17:

- zero differences are dropped before ranking (``zero_method="wilcox"``); the statistic is
  ``min(R+, R-)`` over average ranks of the non-zero ``|d|``;
- with ``n`` the length of ``d`` *including* its zeros, "auto" uses
  the exact null distribution when ``n <= 50`` and there are neither ties among the non-zero
  ``|d|`` nor zeros; the exact sign-flip permutation distribution when ``n <= 13`` and there are
  ties or zeros (scipy's ``permutation_test``, exhaustive since ``2**13 <= 9999``; a distribution
  over the average ranks, so still exact); and otherwise the normal approximation with the tie
  correction ``sum(t**3 - t) / 48`` of the variance and no continuity correction;
- the exact p-value is ``min(1, 2 * min(P(S <= R+), P(S >= R+)))``.

Both exact cases are one dynamic program over the sum of doubled ranks, which is an integer
even with ties; the counts are exact integers (``2**50`` at most) so the p-value is the very
float scipy computes. Where no non-zero difference remains this module returns
``(nan, nan)``: scipy then returns statistic 0 with p = 1 (2 to 13 zeros), p = nan (more than
13) or raises (a single zero), none of which is a test result.
"""

from __future__ import annotations

import math

import numpy as np

from trialsim.core.jit import jit
from trialsim.model.clasi import RESPONSE_TOLERANCE, clasi_response

#: indices along the last axis of :func:`cohort_statistics`'s result; the responder count of
#: threshold ``r`` is at ``STAT_RESP + r``
STAT_N, STAT_MEAN, STAT_LO, STAT_HI, STAT_CHANGE, STAT_P, STAT_N_ELIGIBLE, STAT_RESP = range(8)

#: absolute tolerance of the CLASI-k rule, so that 8 is 20% below 10 whatever the rounding
RESPONSE_TOL = RESPONSE_TOLERANCE  # relative to the baseline: model/clasi.py, the rule's home

#: scipy's "auto" rule: the normal approximation above this many differences (zeros included)
_EXACT_MAX_N = 50
#: ... and, with ties or zeros, above this many (where its permutation test stops being exact)
_PERMUTATION_MAX_N = 13


def STAT_NAMES(thresholds) -> list[str]:  # noqa: N802 (a constant that depends on thresholds)
    """Names of the statistics along the last axis of :func:`cohort_statistics`'s result.

    Parameters
    ----------
    thresholds : sequence of float
        CLASI-k response percents, as passed to :func:`cohort_statistics`.

    Returns
    -------
    list of str
        ``["n", "mean", "lower", "upper", "change", "p_wilcoxon", "n_eligible"]`` followed by
        ``"clasi<k>"`` for each threshold (``clasi50``; ``clasi12.5`` for 12.5).
    """
    names = ["n", "mean", "lower", "upper", "change", "p_wilcoxon", "n_eligible"]
    return names + [f"clasi{float(k):g}" for k in np.asarray(thresholds, dtype=np.float64)]


@jit
def _normal_two_sided_p(z):
    """Two-sided normal p-value ``2 * Phi(-|z|)``."""
    return math.erfc(abs(z) / math.sqrt(2.0))


@jit
def _subset_sum_counts(doubled_ranks):
    """Number of subsets of the items with each total of doubled ranks (0 .. sum)."""
    total = 0
    for w in doubled_ranks:
        total += w
    counts = np.zeros(total + 1, dtype=np.int64)
    counts[0] = 1
    hi = 0
    for w in doubled_ranks:
        hi += w
        for s in range(hi, w - 1, -1):
            counts[s] += counts[s - w]
    return counts


@jit
def wilcoxon_signed_rank(d):
    """Two-sided Wilcoxon signed-rank test of paired differences, as scipy's "auto".

    Parameters
    ----------
    d : ndarray of float64, shape (n,)
        Paired differences (follow-up minus baseline). Zeros are dropped (Wilcoxon's rule).

    Returns
    -------
    statistic : float
        ``min(R+, R-)``, the smaller sum of the average ranks of ``|d|`` over the positive and
        the negative differences.
    p : float
        Two-sided p-value: exact (null distribution of the signed ranks, conditional on ties)
        for ``n <= 50`` without ties or zeros and for ``n <= 13``, else the normal
        approximation with tie correction and no continuity correction (module docstring).
        ``(nan, nan)`` when ``d`` is empty, all zero or contains a nan.
    """
    n = d.size
    n_zero = 0
    for i in range(n):
        if np.isnan(d[i]):
            return np.nan, np.nan
        if d[i] == 0.0:
            n_zero += 1
    count = n - n_zero
    if count == 0:
        return np.nan, np.nan
    a = np.empty(count)
    positive = np.empty(count, dtype=np.bool_)
    k = 0
    for i in range(n):
        if d[i] != 0.0:
            a[k] = abs(d[i])
            positive[k] = d[i] > 0.0
            k += 1
    order = np.argsort(a, kind="mergesort")
    doubled = np.empty(count, dtype=np.int64)  # 2 * average rank: an integer even with ties
    tie_term = 0.0
    has_ties = False
    start = 0
    while start < count:
        stop = start + 1
        while stop < count and a[order[stop]] == a[order[start]]:
            stop += 1
        t = stop - start
        if t > 1:
            has_ties = True
            tie_term += float(t) ** 3 - t
        for m in range(start, stop):
            doubled[order[m]] = start + stop + 1  # 2 * ((start + 1 + stop) / 2)
        start = stop
    r2_plus = 0
    r2_minus = 0
    for m in range(count):
        if positive[m]:
            r2_plus += doubled[m]
        else:
            r2_minus += doubled[m]
    r_plus = 0.5 * r2_plus
    statistic = 0.5 * min(r2_plus, r2_minus)

    if n > _EXACT_MAX_N or ((has_ties or n_zero > 0) and n > _PERMUTATION_MAX_N):
        c = float(count)
        mean = c * (c + 1.0) * 0.25
        var = c * (c + 1.0) * (2.0 * c + 1.0)
        se = math.sqrt((var - tie_term / 2.0) / 24.0)
        return statistic, _normal_two_sided_p((r_plus - mean) / se)

    counts = _subset_sum_counts(doubled)
    below = 0
    above = 0
    for s in range(counts.size):
        if s <= r2_plus:
            below += counts[s]
        if s >= r2_plus:
            above += counts[s]
    p = 2.0 * (min(below, above) / 2.0**count)
    return statistic, min(p, 1.0)


def t_quantiles(n_max: int, level: float = 0.95) -> np.ndarray:
    """Two-sided Student t quantiles by degrees of freedom, for :func:`mean_ci`.

    Parameters
    ----------
    n_max : int
        Largest degrees of freedom needed (the largest sample size minus one suffices; the
        number of patients is always enough).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    ndarray of float64, shape (n_max + 1,)
        ``q[df] = scipy.stats.t.ppf(1 - (1 - level) / 2, df)`` for ``df = 1 .. n_max``;
        ``q[0]`` is nan.
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    if n_max < 0:
        raise ValueError(f"n_max must be non-negative, got {n_max}")
    q = np.full(int(n_max) + 1, np.nan)
    q[1:] = stats.t.ppf(1.0 - (1.0 - level) / 2.0, np.arange(1, int(n_max) + 1))
    return q


@jit
def mean_ci(x, tq):
    """Mean and its two-sided t confidence interval.

    Parameters
    ----------
    x : ndarray of float64, shape (n,)
        Values, no nan.
    tq : ndarray of float64
        Quantiles from :func:`t_quantiles` (which fixes the level), of size at least ``n``.

    Returns
    -------
    mean, lower, upper : float
        ``mean -+ tq[n - 1] * sd / sqrt(n)`` with the sample sd (ddof 1); (nan, nan, nan) for
        no value and (mean, nan, nan) for one. Equal values give the zero-width interval
        (mean, mean, mean), where ``scipy.stats.t.interval`` with scale 0 gives nan.
    """
    n = x.size
    if n == 0:
        return np.nan, np.nan, np.nan
    total = 0.0
    for v in x:
        total += v
    mean = total / n
    if n == 1:
        return mean, np.nan, np.nan
    if n - 1 >= tq.size:
        raise ValueError("tq is too short for this sample: build it with t_quantiles(n_max)")
    ss = 0.0
    for v in x:
        ss += (v - mean) ** 2
    half = tq[n - 1] * math.sqrt(ss / (n - 1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def clopper_pearson(k, n, level: float = 0.95):
    """Exact (Clopper–Pearson) binomial confidence interval.

    Parameters
    ----------
    k, n : array_like of int
        Successes and trials (broadcast together), ``0 <= k <= n``.
    level : float
        Confidence level.

    Returns
    -------
    lower, upper : ndarray of float64
        Beta quantiles ``B(alpha/2; k, n-k+1)`` and ``B(1-alpha/2; k+1, n-k)``, with lower 0
        when ``k = 0``, upper 1 when ``k = n`` and both nan when ``n = 0``. 0-d for scalar
        input.
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    k, n = np.broadcast_arrays(np.asarray(k), np.asarray(n))
    if np.any(k != np.round(k)) or np.any(n != np.round(n)):
        raise ValueError("k and n must be whole numbers")
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("need 0 <= k <= n")
    k = k.astype(np.float64)
    n = n.astype(np.float64)
    alpha = 1.0 - level
    some = k > 0
    not_all = k < n
    # the unused branch gets harmless shape parameters (1) so that no nan warning is raised
    lower = np.where(some, stats.beta.ppf(alpha / 2.0, np.where(some, k, 1.0),
                                          np.where(some, n - k + 1.0, 1.0)), 0.0)
    upper = np.where(not_all, stats.beta.ppf(1.0 - alpha / 2.0, np.where(not_all, k + 1.0, 1.0),
                                             np.where(not_all, n - k, 1.0)), 1.0)
    lower = np.where(n > 0, lower, np.nan)
    upper = np.where(n > 0, upper, np.nan)
    return lower, upper


@jit
def cohort_statistics(clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds, tq):
    """CLASI by assessment for all patients and each subtype: mean, change, p, responders.

    Parameters
    ----------
    clasi : ndarray of float64, shape (n_patients, n_times)
        CLASI activity at each assessment, column 0 the baseline. Cells that are not evaluable
        are never read (any value, nan included).
    evaluable : ndarray of bool, shape (n_patients, n_times)
        Whether the patient was assessed.
    subtype : ndarray of int64, shape (n_patients,)
        Subtype codes ``0 .. n_subtypes - 1``.
    n_subtypes : int
    min_baseline : float
        CLASI-k response is defined only for baseline CLASI ``>= min_baseline``.
    thresholds : ndarray of float64, shape (n_thresholds,)
        Response percents k: a CLASI-k responder at time j has an evaluable baseline
        ``>= min_baseline`` (and above 0), is evaluable at j and responds by the instrument's
        rule (``model.clasi.clasi_response``: ``clasi[:, j] <= baseline * (1 - k/100)`` up
        to a relative ``RESPONSE_TOL``; CLASI-100 means a score of 0).
    tq : ndarray of float64
        :func:`t_quantiles` of size at least ``n_patients``.

    Returns
    -------
    ndarray of float64, shape (n_subtypes + 1, n_times, STAT_RESP + n_thresholds)
        Group 0 is all patients, group ``1 + s`` subtype ``s``; along the last axis
        (``STAT_NAMES``): the number evaluable, their mean CLASI and its t-interval, the mean
        change from baseline and the Wilcoxon signed-rank p-value of the changes (nan at
        baseline), the number eligible for response (evaluable, baseline ``>= min_baseline``, > 0)
        and the responders to each threshold. Changes and response use the patients evaluable
        at both baseline and j. Means and p-values are nan where nobody counts.
    """
    n_patients, n_times = clasi.shape
    n_thr = thresholds.size
    out = np.full((n_subtypes + 1, n_times, STAT_RESP + n_thr), np.nan)
    values = np.empty(n_patients)
    changes = np.empty(n_patients)
    for g in range(n_subtypes + 1):
        for j in range(n_times):
            n = 0
            n_change = 0
            n_eligible = 0
            responders = np.zeros(n_thr)
            for i in range(n_patients):
                if (g > 0 and subtype[i] != g - 1) or not evaluable[i, j]:
                    continue
                values[n] = clasi[i, j]
                n += 1
                if not evaluable[i, 0]:
                    continue
                baseline = clasi[i, 0]
                changes[n_change] = clasi[i, j] - baseline
                n_change += 1
                if baseline >= min_baseline and baseline > 0.0:
                    n_eligible += 1
                    for r in range(n_thr):
                        if clasi_response(baseline, clasi[i, j], thresholds[r], min_baseline):
                            responders[r] += 1.0
            res = out[g, j]
            res[STAT_N] = n
            res[STAT_MEAN], res[STAT_LO], res[STAT_HI] = mean_ci(values[:n], tq)
            if n_change > 0:
                res[STAT_CHANGE] = changes[:n_change].sum() / n_change
            if j > 0:
                res[STAT_P] = wilcoxon_signed_rank(changes[:n_change])[1]
            res[STAT_N_ELIGIBLE] = n_eligible
            res[STAT_RESP:] = responders
    return out


def statistics_frame(out, times, group_names, thresholds, level: float = 0.95):
    """Tidy table of :func:`cohort_statistics`'s result with response rates and their CIs.

    Parameters
    ----------
    out : ndarray of float64, shape (n_groups, n_times, STAT_RESP + n_thresholds)
    times : sequence, length n_times
        Assessment times (e.g. months).
    group_names : sequence of str, length n_groups
        Group 0 first ("all"), then the subtypes.
    thresholds : sequence of float
        The thresholds ``out`` was computed with.
    level : float
        Confidence level of the Clopper–Pearson intervals (the t-intervals in ``out`` have the
        level of the ``tq`` they were computed with).

    Returns
    -------
    pandas.DataFrame
        One row per (group, time), group-major, with columns ``group``, ``time``, the names
        of :func:`STAT_NAMES` (counts as int64) and for each threshold ``clasi<k>_rate`` (the
        responders among the eligible, nan when none is eligible), ``clasi<k>_lower`` and
        ``clasi<k>_upper`` (Clopper–Pearson).
    """
    import pandas as pd

    out = np.asarray(out, dtype=np.float64)
    names = STAT_NAMES(thresholds)
    n_groups, n_times, n_stat = out.shape
    if n_stat != len(names):
        raise ValueError(f"last axis of out has {n_stat} statistics, thresholds imply "
                         f"{len(names)}")
    if len(group_names) != n_groups or len(times) != n_times:
        raise ValueError("group_names and times do not match the shape of out")
    flat = out.reshape(n_groups * n_times, n_stat)
    data = {
        "group": np.repeat(np.asarray(group_names, dtype=object), n_times),
        "time": np.tile(np.asarray(times), n_groups),
    }
    counts = {STAT_N, STAT_N_ELIGIBLE} | set(range(STAT_RESP, n_stat))
    for f, name in enumerate(names):
        data[name] = flat[:, f].astype(np.int64) if f in counts else flat[:, f]
    eligible = data["n_eligible"]
    for name in names[STAT_RESP:]:
        k = data[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            data[f"{name}_rate"] = np.where(eligible > 0, k / eligible, np.nan)
        data[f"{name}_lower"], data[f"{name}_upper"] = clopper_pearson(k, eligible, level)
    return pd.DataFrame(data)


@jit
def first_response_times(clasi, evaluable, times, percent, min_baseline):
    """Each patient's time to a first CLASI-``percent`` response, for a Kaplan-Meier
    estimate: the first evaluable assessment time with a response (observed), else the last
    evaluable time (censored). Patients whose baseline is not evaluable, below
    ``min_baseline`` or 0 are left out (``eligible`` False).

    Returns
    -------
    time : float64 (n_patients,)
    observed, eligible : bool (n_patients,)
    """
    n, t = clasi.shape
    time = np.zeros(n)
    observed = np.zeros(n, dtype=np.bool_)
    eligible = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        base = clasi[i, 0]
        if not evaluable[i, 0] or base < min_baseline or base <= 0.0:
            continue
        eligible[i] = True
        time[i] = times[0]
        for j in range(1, t):
            if not evaluable[i, j]:
                continue
            time[i] = times[j]
            if clasi_response(base, clasi[i, j], percent, min_baseline):
                observed[i] = True
                break
    return time, observed, eligible
