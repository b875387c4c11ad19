"""Per-trial analysis: each treated arm versus control on binary endpoints.

For every endpoint and every (treated, control) pair of arms a logistic
regression of response on a treatment indicator, adjusted for the
stratification factors, is fitted on the patients of the two arms. The
treatment coefficient gives the adjusted log odds ratio with a Wald test and
confidence interval; the unadjusted rates and their difference are reported
alongside.

The whole endpoints x comparisons loop runs inside :func:`compare_arms_kernel`
(numba), so a simulated trial is analysed without Python overhead per fit.
:func:`compare_arms` is a thin Python wrapper that validates and coerces its
inputs before calling the kernel.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from trialsim.analysis.endpoints import NOT_EVALUABLE
from trialsim.analysis.logistic import (
    columns_into,
    drop_constant_columns,
    fit_patterns_into,
    fit_work,
    pattern_groups,
)
from trialsim.core.jit import CACHE

#: Names of the result fields, in the order of the last axis of the output.
RESULT_FIELDS = (
    "log_or",
    "se",
    "z",
    "p_value",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "rate_treated",
    "rate_control",
    "n_treated",
    "n_control",
    "risk_difference",
    "rd_se",
    "converged",
)

LOG_OR = 0
SE = 1
Z = 2
P_VALUE = 3
ODDS_RATIO = 4
CI_LOW = 5
CI_HIGH = 6
RATE_TREATED = 7
RATE_CONTROL = 8
N_TREATED = 9
N_CONTROL = 10
RISK_DIFFERENCE = 11
RD_SE = 12
CONVERGED = 13
N_FIELDS = 14

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@njit(cache=CACHE)
def norm_ppf(q):
    """Standard normal quantile function.

    Parameters
    ----------
    q : float
        Probability in (0, 1).

    Returns
    -------
    float
        ``x`` such that ``Phi(x) == q``; nan outside (0, 1).

    Notes
    -----
    Acklam's rational approximation (relative error about 1e-9) followed by
    one Halley refinement step using ``math.erfc``, which brings the result
    to near machine precision.
    """
    if not (0.0 < q < 1.0):
        return np.nan
    a1 = -3.969683028665376e01
    a2 = 2.209460984245205e02
    a3 = -2.759285104469687e02
    a4 = 1.383577518672690e02
    a5 = -3.066479806614716e01
    a6 = 2.506628277459239e00
    b1 = -5.447609879822406e01
    b2 = 1.615858368580409e02
    b3 = -1.556989798598866e02
    b4 = 6.680131188771972e01
    b5 = -1.328068155288572e01
    c1 = -7.784894002430293e-03
    c2 = -3.223964580411365e-01
    c3 = -2.400758277161838e00
    c4 = -2.549732539343734e00
    c5 = 4.374664141464968e00
    c6 = 2.938163982698783e00
    d1 = 7.784695709041462e-03
    d2 = 3.224671290700398e-01
    d3 = 2.445134137142996e00
    d4 = 3.754408661907416e00
    p_low = 0.02425
    if q < p_low:
        r = math.sqrt(-2.0 * math.log(q))
        x = (((((c1 * r + c2) * r + c3) * r + c4) * r + c5) * r + c6) / (
            (((d1 * r + d2) * r + d3) * r + d4) * r + 1.0
        )
    elif q <= 1.0 - p_low:
        s = q - 0.5
        r = s * s
        x = (
            (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6)
            * s
            / (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0)
        )
    else:
        r = math.sqrt(-2.0 * math.log1p(-q))
        x = -(((((c1 * r + c2) * r + c3) * r + c4) * r + c5) * r + c6) / (
            (((d1 * r + d2) * r + d3) * r + d4) * r + 1.0
        )
    # Halley refinement on Phi(x) - q, using the upper tail when x > 0 so that
    # no precision is lost to cancellation near q = 1 (1 - q is exact there)
    if x > 0.0:
        err = (1.0 - q) - 0.5 * math.erfc(x / _SQRT2)
    else:
        err = 0.5 * math.erfc(-x / _SQRT2) - q
    u = err * _SQRT2PI * math.exp(0.5 * x * x)
    x = x - u / (1.0 + 0.5 * x * u)
    return x


@njit(cache=CACHE)
def critical_z(alpha):
    """The normal quantile of a two-sided ``1 - alpha`` confidence interval."""
    return norm_ppf(1.0 - 0.5 * alpha)


@njit(cache=CACHE)
def fill_unanalysable(out, e, c):
    """``out[e, c]``'s model fields as not analysable (the rates are left as they are)."""
    out[e, c, LOG_OR] = np.nan
    out[e, c, SE] = np.nan
    out[e, c, Z] = np.nan
    out[e, c, P_VALUE] = 1.0
    out[e, c, ODDS_RATIO] = np.nan
    out[e, c, CI_LOW] = np.nan
    out[e, c, CI_HIGH] = np.nan
    out[e, c, CONVERGED] = 0.0


@njit(cache=CACHE)
def unseparated_rows(full, y, first=2, stop=-1):
    """Rows left once strata that perfectly predict the response are set aside.

    When every patient with (or without) a stratum indicator has the same response, the
    maximum-likelihood coefficient of that indicator is infinite and the likelihood of the
    other coefficients is maximized by the fit without those patients and without the column
    (the limit that SAS and R report with a warning). This returns the rows of that limiting
    fit, applying the rule until no stratum column separates; column 1 (treatment) is never
    used to set rows aside. Columns ``first`` … ``stop - 1`` are the strata (``stop`` -1: to
    the last column). One patient per row; ``unseparated_groups`` for patterns.
    """
    return unseparated_groups(full, y, np.ones(full.shape[0]), first, stop)


@njit(cache=CACHE)
def _level_counts(full, y, m, j, rows, masked):
    """Patients and responders at levels 0 and 1 of column ``j``, and all patients, in one
    pass over the rows (``rows[k]`` only when ``masked``; integer counts: exact sums)."""
    c0 = 0.0
    t0 = 0.0
    c1 = 0.0
    t1 = 0.0
    total = 0.0
    for k in range(full.shape[0]):
        if masked and not rows[k]:
            continue
        x = full[k, j]
        total += m[k]
        if x == 0.0:
            c0 += m[k]
            t0 += y[k]
        elif x == 1.0:
            c1 += m[k]
            t1 += y[k]
    return c0, t0, c1, t1, total


@njit(cache=CACHE)
def _separating(count, responders, total):
    """A level that holds patients who all respond, or none do, while the column's other
    level holds patients too."""
    return count > 0.0 and (responders == 0.0 or responders == count) and total - count > 0.0


@njit(cache=CACHE)
def unseparated_groups(full, y, m, first=2, stop=-1):
    """``unseparated_rows`` on rows that are covariate patterns: ``y`` the responders and
    ``m`` (> 0) the patients of each; the same rule, counting patients."""
    n, width = full.shape
    if stop < 0:
        stop = width
    rows = np.ones(n, dtype=np.bool_)
    changed = True
    while changed:
        changed = False
        for j in range(first, stop):
            # the patients and responders left at levels 0 and 1 and in all, in one pass;
            # level 0 is decided first, then level 1 among the patients level 0 leaves (its
            # own patients are the same)
            c0, t0, c1, t1, total = _level_counts(full, y, m, j, rows, True)
            for level in (0.0, 1.0):
                cnt = c0 if level == 0.0 else c1
                tot = t0 if level == 0.0 else t1
                # the other level must still hold patients, or this is a constant column
                if _separating(cnt, tot, total):
                    for k in range(n):
                        if full[k, j] == level:
                            rows[k] = False
                    total -= cnt
                    changed = True
    return rows


@njit(cache=CACHE)
def separates(full, y, m, first=2, stop=-1):
    """Whether ``unseparated_groups`` would set any pattern aside (False: it keeps them all),
    without its work: some column level holds patients who all respond, or none do, while
    the column's other level holds patients too (each column checked on every pattern, as the
    first of its passes checks them)."""
    n, width = full.shape
    if stop < 0:
        stop = width
    no_mask = np.empty(0, dtype=np.bool_)
    for j in range(first, stop):
        c0, t0, c1, t1, total = _level_counts(full, y, m, j, no_mask, False)
        if _separating(c0, t0, total) or _separating(c1, t1, total):
            return True
    return False


@njit(cache=CACHE)
def comparison_patients(arm, patients, trt, ctl):
    """The patients (of ``patients``, in its order) on a comparison's two arms: their indices
    and whether each is on the treated arm."""
    m = 0
    for i in patients:
        if arm[i] == trt or arm[i] == ctl:
            m += 1
    idx = np.empty(m, dtype=np.int64)
    is_trt = np.zeros(m, dtype=np.bool_)
    k = 0
    for i in patients:
        if arm[i] == trt or arm[i] == ctl:
            idx[k] = i
            is_trt[k] = arm[i] == trt
            k += 1
    return idx, is_trt


@njit(cache=CACHE)
def pattern_counts(group, n_groups, response, idx):
    """Each endpoint's evaluable patients and responders per covariate pattern, in one pass
    over the patients ``idx``.

    ``group`` is the pattern of each design row (``pattern_groups``; row k: patient
    ``idx[k]``); ``response`` is (n_endpoints, n_patients) as in ``compare_arms_kernel``.
    Returns ``s`` and ``m`` (n_endpoints, n_groups), the responders and evaluable patients
    (float64), and per endpoint the patterns holding an evaluable patient in the order of
    their first one (``order[e, :n_seen[e]]``).
    """
    n_end = response.shape[0]
    s = np.zeros((n_end, n_groups))
    m = np.zeros((n_end, n_groups))
    order = np.empty((n_end, n_groups), dtype=np.int64)
    n_seen = np.zeros(n_end, dtype=np.int64)
    for k in range(idx.shape[0]):
        i = idx[k]
        g = group[k]
        for e in range(n_end):
            v = response[e, i]
            if v != NOT_EVALUABLE:
                if m[e, g] == 0.0:
                    order[e, n_seen[e]] = g
                    n_seen[e] += 1
                m[e, g] += 1.0
                if v:
                    s[e, g] += 1.0
    return s, m, order, n_seen


@njit(cache=CACHE)
def evaluable_patterns(patterns, s, m, order, n_seen):
    """One endpoint's rows of ``pattern_counts`` (``s[e]``, ``m[e]``, ``order[e]``,
    ``n_seen[e]``): the patterns that hold an evaluable patient, in the order of their first
    one (the order of ``fit_logistic_grouped`` on those patients), with their responders and
    patients, and their indices in ``patterns``."""
    n_g = patterns.shape[0]
    order = order[:n_seen]
    if n_seen == n_g:
        same = True
        for g in range(n_g):
            if order[g] != g:
                same = False
                break
        if same:  # every pattern, in its own order: no copies
            return patterns, s, m, order
    return patterns[order], s[order], m[order], order


@njit(cache=CACHE)
def compare_arms_kernel(response, arm, strata, pairs, alpha):
    """Stratification-adjusted logistic comparisons of arm pairs (numba).

    Parameters
    ----------
    response : ndarray of uint8 or bool, shape (n_endpoints, n_patients)
        1 (True) for a responder, 0 for a non-responder; ``NOT_EVALUABLE`` (2,
        ``analysis.endpoints``) for a patient outside the endpoint's denominator, who is left
        out of that endpoint's rates, counts and fit.
    arm : ndarray of int64, shape (n_patients,)
        Arm code of each patient.
    strata : ndarray of float64, shape (n_patients, q)
        Adjustment covariates (typically 0/1 stratum indicators); q may be 0.
    pairs : ndarray of int64, shape (n_comparisons, 2)
        Rows of ``(treated_arm_code, control_arm_code)``.
    alpha : float
        Two-sided significance level for the confidence interval.

    Returns
    -------
    out : ndarray of float64, shape (n_endpoints, n_comparisons, N_FIELDS)
        Results; see ``RESULT_FIELDS`` for the order of the last axis.

    Notes
    -----
    No input validation is done here; see :func:`compare_arms`. ``compare_patients`` with
    every patient.
    """
    return compare_patients(response, arm, strata, pairs, alpha, np.arange(arm.shape[0]))


@njit(cache=CACHE)
def compare_patients(response, arm, strata, pairs, alpha, patients):
    """``compare_arms_kernel`` on the patients ``patients`` (ascending indices) only: a
    subgroup's analysis, without copying its patients.

    The patients of a comparison are grouped once by covariate pattern (treatment and
    strata: ``pattern_groups``); each endpoint then counts its evaluable patients and
    responders per pattern and runs its separation check, estimable columns and fit on those
    few dozen rows, which is the same likelihood, and the same fit to the last bit, as on the
    patients one by one. The estimable columns of every pattern serve every endpoint that has
    an evaluable patient in each; another endpoint gets those of its own patterns.
    """
    n_end = response.shape[0]
    q = strata.shape[1]
    n_cmp = pairs.shape[0]
    out = np.empty((n_end, n_cmp, N_FIELDS))
    z_crit = critical_z(alpha)
    for c in range(n_cmp):
        trt = pairs[c, 0]
        ctl = pairs[c, 1]
        idx, is_trt = comparison_patients(arm, patients, trt, ctl)
        m = idx.shape[0]
        # full design: intercept, treatment, strata; grouped by pattern
        full = np.empty((m, 2 + q))
        for k in range(m):
            full[k, 0] = 1.0
            full[k, 1] = 1.0 if is_trt[k] else 0.0
            for j in range(q):
                full[k, 2 + j] = strata[idx[k], j]
        patterns, group = pattern_groups(full)
        wk = fit_work(patterns.shape[0], 2 + q)  # the work arrays of every fit below
        keep_all = drop_constant_columns(patterns, 1)
        s, counted, first, n_seen = pattern_counts(group, patterns.shape[0], response, idx)
        for e in range(n_end):
            rows, y, n_rows, order = evaluable_patterns(patterns, s[e], counted[e], first[e],
                                                        n_seen[e])
            # (the estimable columns depend on the set of patterns, not on their order)
            every = order.shape[0] == patterns.shape[0]
            keep = keep_all if every else drop_constant_columns(rows, 1)
            compare_counts(out, e, c, rows, y, n_rows, keep, z_crit, wk)
    return out


@njit(cache=CACHE)
def compare_counts(out, e, c, full, y, m, keep, z_crit, wk):
    """Endpoint ``e``, comparison ``c`` of ``compare_arms_kernel`` on the patients analysed,
    as covariate patterns: their full design rows ``full`` (intercept, treatment, strata),
    responders ``y`` and patients ``m``, and the estimable columns of ``full``; into
    ``out[e, c]``. The fit runs in the work arrays ``wk`` (``logistic.fit_work``)."""
    if not compare_rates(out, e, c, full, y, m):
        return
    if not separates(full, y, m):  # (``unseparated_groups`` would keep every pattern)
        beta, cov, converged = fit_patterns_into(columns_into(full, keep, wk), y, m, wk)
    else:
        rows, analysable = fitted_rows(full, y, m)
        if not analysable:
            fill_unanalysable(out, e, c)
            return
        sub = full[rows]
        kept = drop_constant_columns(sub, 1)
        beta, cov, converged = fit_patterns_into(sub[:, kept], y[rows], m[rows], wk)
    compare_result(out, e, c, beta, cov, converged, z_crit)


@njit(cache=CACHE)
def fitted_rows(full, y, m):
    """The patterns ``compare_counts`` fits when a stratum separates
    (``unseparated_groups``), and whether the odds ratio is still estimable on them (the
    treated and the control patients left each hold responders and non-responders)."""
    rows = unseparated_groups(full, y, m)
    t1 = 0.0
    t0 = 0.0
    s1 = 0.0
    s0 = 0.0
    for k in range(full.shape[0]):
        if rows[k]:
            if full[k, 1] == 1.0:
                t1 += m[k]
                s1 += y[k]
            else:
                t0 += m[k]
                s0 += y[k]
    analysable = not (t1 == 0 or t0 == 0 or s1 == 0 or s1 == t1 or s0 == 0 or s0 == t0)
    return rows, analysable


@njit(cache=CACHE)
def compare_rates(out, e, c, full, y, m):
    """The arm sizes, rates and risk difference of ``compare_counts`` into ``out[e, c]``;
    returns whether the odds ratio is to be fitted (else ``out[e, c]`` is filled as not
    analysable: an arm empty, all responders or all non-responders, where the treatment
    coefficient is infinite or undefined)."""
    n1 = 0
    n0 = 0
    r1 = 0
    r0 = 0
    for k in range(full.shape[0]):
        if full[k, 1] == 1.0:
            n1 += int(m[k])
            r1 += int(y[k])
        else:
            n0 += int(m[k])
            r0 += int(y[k])
    out[e, c, N_TREATED] = n1
    out[e, c, N_CONTROL] = n0
    if n1 > 0 and n0 > 0:
        p1 = r1 / n1
        p0 = r0 / n0
        out[e, c, RATE_TREATED] = p1
        out[e, c, RATE_CONTROL] = p0
        out[e, c, RISK_DIFFERENCE] = p1 - p0
        out[e, c, RD_SE] = math.sqrt(p1 * (1.0 - p1) / n1 + p0 * (1.0 - p0) / n0)
    else:
        out[e, c, RATE_TREATED] = r1 / n1 if n1 > 0 else np.nan
        out[e, c, RATE_CONTROL] = r0 / n0 if n0 > 0 else np.nan
        out[e, c, RISK_DIFFERENCE] = np.nan
        out[e, c, RD_SE] = np.nan
    if n1 == 0 or n0 == 0 or r1 == 0 or r1 == n1 or r0 == 0 or r0 == n0:
        fill_unanalysable(out, e, c)
        return False
    return True


@njit(cache=CACHE)
def compare_result(out, e, c, beta, cov, converged, z_crit):
    """The odds-ratio fields of ``out[e, c]`` from the fit (column 1: treatment)."""
    se = math.sqrt(cov[1, 1]) if converged else np.nan
    if not converged or not (se > 0.0) or not np.isfinite(se):
        fill_unanalysable(out, e, c)
        return
    b = beta[1]
    z = b / se
    out[e, c, LOG_OR] = b
    out[e, c, SE] = se
    out[e, c, Z] = z
    out[e, c, P_VALUE] = math.erfc(abs(z) / _SQRT2)
    out[e, c, ODDS_RATIO] = math.exp(b)
    out[e, c, CI_LOW] = math.exp(b - z_crit * se)
    out[e, c, CI_HIGH] = math.exp(b + z_crit * se)
    out[e, c, CONVERGED] = 1.0


def compare_arms(response, arm, strata, pairs, alpha=0.05):
    """Compare each treated arm with its control on many binary endpoints.

    For each endpoint and each pair of arms, the patients in either arm are
    selected and the model ``logit P(response) = b0 + b1 * treated + strata``
    is fitted by maximum likelihood; stratum columns that are constant (or
    redundant) within the selected patients are dropped.

    Parameters
    ----------
    response : array_like of uint8 or bool, shape (n_endpoints, n_patients)
        1 (True) for a responder. A 1-D array is treated as one endpoint.
    arm : array_like of int, shape (n_patients,)
        Arm code of each patient, ``0 .. n_arms - 1``.
    strata : array_like of float, shape (n_patients, q)
        Stratification covariates (0/1 indicators); q may be 0. ``None``
        means no adjustment.
    pairs : array_like of int, shape (n_comparisons, 2)
        Rows of ``(treated_arm_code, control_arm_code)``.
    alpha : float, optional
        Two-sided level; the confidence interval has level ``1 - alpha``.

    Returns
    -------
    out : ndarray of float64, shape (n_endpoints, n_comparisons, N_FIELDS)
        ``out[e, c, f]`` is field ``RESULT_FIELDS[f]`` for endpoint ``e`` and
        comparison ``c``:

        - ``log_or``, ``se``, ``z``, ``p_value``: Wald inference on the
          adjusted treatment log odds ratio (two-sided normal p-value);
        - ``odds_ratio``, ``ci_low``, ``ci_high``: the odds ratio and its
          ``1 - alpha`` Wald confidence interval;
        - ``rate_treated``, ``rate_control``, ``n_treated``, ``n_control``:
          unadjusted response rates and arm sizes;
        - ``risk_difference``, ``rd_se``: unadjusted difference in
          proportions and its Wald standard error;
        - ``converged``: 1.0 if the model was fitted, else 0.0.

        If the model cannot be fitted (an arm with no or only responders,
        separation, non-convergence) the model fields are nan, ``p_value``
        is 1.0 (an unanalysable trial does not reject) and ``converged`` is
        0.0; the rates and risk difference are still filled.
    """
    response = np.asarray(response)
    if response.ndim == 1:
        response = response[np.newaxis, :]
    if response.dtype != np.bool_ and response.dtype != np.uint8:
        response = response != 0
    response = np.ascontiguousarray(response)
    arm = np.ascontiguousarray(arm, dtype=np.int64)
    n_pat = arm.shape[0]
    if strata is None:
        strata = np.empty((n_pat, 0))
    strata = np.ascontiguousarray(strata, dtype=np.float64)
    if strata.ndim == 1:
        strata = strata[:, np.newaxis]
    pairs = np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 2)
    if response.ndim != 2 or response.shape[1] != n_pat:
        raise ValueError("response must have shape (n_endpoints, n_patients)")
    if arm.ndim != 1:
        raise ValueError("arm must be one-dimensional")
    if strata.ndim != 2 or strata.shape[0] != n_pat:
        raise ValueError("strata must have shape (n_patients, q)")
    if np.any(pairs[:, 0] == pairs[:, 1]):
        raise ValueError("each comparison must involve two different arms")
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be in (0, 1)")
    return compare_arms_kernel(response, arm, strata, pairs, float(alpha))


def results_to_frame(out, endpoint_names, comparison_names):
    """Tidy table of the output of :func:`compare_arms`.

    Parameters
    ----------
    out : ndarray of float64, shape (n_endpoints, n_comparisons, N_FIELDS)
        Output of :func:`compare_arms`.
    endpoint_names : sequence of str, length n_endpoints
    comparison_names : sequence of str, length n_comparisons

    Returns
    -------
    pandas.DataFrame
        One row per (endpoint, comparison), endpoint-major, with columns
        ``endpoint``, ``comparison`` and one column per name in
        ``RESULT_FIELDS``. ``n_treated`` and ``n_control`` are integers and
        ``converged`` is boolean; all other fields are float.
    """
    import pandas as pd

    out = np.asarray(out, dtype=np.float64)
    n_end, n_cmp, n_fields = out.shape
    if n_fields != N_FIELDS:
        raise ValueError(f"last axis of out must have length {N_FIELDS}")
    if len(endpoint_names) != n_end or len(comparison_names) != n_cmp:
        raise ValueError("names do not match the shape of out")
    data = {
        "endpoint": np.repeat(np.asarray(endpoint_names, dtype=object), n_cmp),
        "comparison": np.tile(np.asarray(comparison_names, dtype=object), n_end),
    }
    flat = out.reshape(n_end * n_cmp, N_FIELDS)
    for f, name in enumerate(RESULT_FIELDS):
        col = flat[:, f]
        if f in (N_TREATED, N_CONTROL):
            col = col.astype(np.int64)
        elif f == CONVERGED:
            col = col == 1.0
        data[name] = col
    return pd.DataFrame(data)
