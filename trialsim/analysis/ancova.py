"""Change from baseline in SELENA-SLEDAI, analysed by ANCOVA: one home for the continuous
endpoint ``sledai_change``.

At each endpoint week every randomized patient's change from baseline in SELENA-SLEDAI is
taken at the endpoint visit, or, for a patient who dropped out or became a treatment failure
before it, at the last visit on study (last observation carried forward, LOCF, as BLISS
analysed the SELENA-SLEDAI change: Navarra et al., Lancet 2011;377:721; Furie et al.,
Arthritis Rheum 2011;63:3918); a patient off study from visit 1 carries the baseline forward
(change 0). For each (treated, control) comparison, the patients of the two arms are fitted
by ordinary least squares::

    change ~ 1 + treated + baseline SELENA-SLEDAI + stratification indicators

(the strata of the logistic comparisons, ``analysis.adjust_for_strata``; columns constant or
linearly dependent within the two arms dropped, as there). The treatment coefficient is the
adjusted mean difference (treated minus control: negative when SELENA-SLEDAI falls more on
treatment), with its OLS standard error, the two-sided t test on ``n - p`` degrees of freedom
and the ``1 - alpha`` t confidence interval.

Everything runs in the compiled trial (``ancova_kernel``, ``locf_change``); the Student t
tail and quantile are computed here (``t_sf``, ``t_ppf``) from the regularized incomplete
beta function, checked against scipy in the tests.
"""

from __future__ import annotations

import math

import numpy as np

from trialsim.analysis.comparisons import comparison_patients, norm_ppf
from trialsim.analysis.logistic import _cholesky, _cholesky_solve, estimable_design
from trialsim.core.jit import jit

#: fields of ``ancova_kernel``'s output, last axis
ANCOVA_FIELDS = (
    "difference",
    "se",
    "t",
    "df",
    "p_value",
    "ci_low",
    "ci_high",
    "mean_change_treated",
    "mean_change_control",
    "n_treated",
    "n_control",
    "fitted",
)
(DIFFERENCE, SE, T, DF, P_VALUE, CI_LOW, CI_HIGH, MEAN_TREATED, MEAN_CONTROL, N_TREATED,
 N_CONTROL, FITTED) = range(len(ANCOVA_FIELDS))
N_ANCOVA_FIELDS = len(ANCOVA_FIELDS)
#: the endpoints' names in summary.csv and the per-trial columns: the change in SELENA-SLEDAI
#: (every patient) and in CLASI-A (the patients with the CLASI endpoints' baseline threshold,
#: adjusted for baseline CLASI-A; with a CLASI endpoint only, docs/model.md §7a)
SLEDAI_CHANGE = "sledai_change"
CLASI_CHANGE = "clasi_change"

_CF_EPS = 1e-16
_CF_TINY = 1e-300
_CF_MAX_ITER = 10_000


@jit
def _lentz_step(aa, c, d):
    """One step of the modified Lentz method with partial numerator ``aa``: the new ``c``,
    ``d`` and the factor ``d c`` that multiplies the fraction."""
    d = 1.0 + aa * d
    if abs(d) < _CF_TINY:
        d = _CF_TINY
    c = 1.0 + aa / c
    if abs(c) < _CF_TINY:
        c = _CF_TINY
    d = 1.0 / d
    return c, d, d * c


@jit
def _beta_cf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz; Press et al.,
    Numerical Recipes, 3rd ed., §6.4)."""
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _CF_TINY:
        d = _CF_TINY
    d = 1.0 / d
    h = d
    for m in range(1, _CF_MAX_ITER):
        m2 = 2 * m
        c, d, delta = _lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), c, d)
        h *= delta
        c, d, delta = _lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), c, d)
        h *= delta
        if abs(delta - 1.0) < _CF_EPS:
            break
    return h


@jit
def betainc(a, b, x, y):
    """Regularized incomplete beta function I_x(a, b), with ``y = 1 - x`` given separately
    (so that a value of x close to 1 loses no precision)."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
                 + b * math.log(y))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, y) / b


@jit
def t_sf(t, df):
    """Upper tail P(T > t) of Student's t with ``df`` > 0 degrees of freedom."""
    if not math.isfinite(t):
        return 0.0 if t > 0 else 1.0
    t2 = t * t
    tail = 0.5 * betainc(0.5 * df, 0.5, df / (df + t2), t2 / (df + t2))
    return tail if t > 0 else 1.0 - tail


@jit
def t_pdf(t, df):
    """Density of Student's t with ``df`` degrees of freedom."""
    return math.exp(math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df)
                    - 0.5 * math.log(df * math.pi) - 0.5 * (df + 1.0) * math.log1p(t * t / df))


@jit
def t_ppf(q, df):
    """Quantile of Student's t for ``q`` in (0.5, 1): Newton's method on the upper tail from
    the normal quantile, which lies below it; the tail is convex there, so the iterates
    increase to the root."""
    upper = 1.0 - q
    x = norm_ppf(q)
    for _ in range(200):
        step = (t_sf(x, df) - upper) / t_pdf(x, df)
        x += step
        if abs(step) <= 1e-15 * abs(x):
            break
    return x


@jit
def locf_change(sledai, dropout, failure, visits):
    """Change from baseline in SELENA-SLEDAI at each visit of ``visits``, by last observation
    carried forward from the last visit on study.

    Parameters
    ----------
    sledai : ndarray, shape (n_patients, n_visits)
    dropout, failure : ndarray of int64, shape (n_patients,)
        First visit missed and first visit a treatment failure (``protocol.is_on_study``).
    visits : ndarray of int64, shape (n_weeks,)

    Returns
    -------
    ndarray of float64, shape (n_weeks, n_patients)
        ``sledai[i, u] - sledai[i, 0]`` with ``u = min(v, dropout - 1, failure - 1)`` (at
        least 0: baseline carried forward).
    """
    n = sledai.shape[0]
    out = np.empty((visits.shape[0], n))
    for w in range(visits.shape[0]):
        for i in range(n):
            u = max(min(visits[w], dropout[i] - 1, failure[i] - 1), 0)
            out[w, i] = float(sledai[i, u]) - float(sledai[i, 0])
    return out


@jit
def arm_means(change, arm, n_arms):
    """Mean of each row of ``change`` (n_weeks, n) per arm: (n_weeks, n_arms), nan for an
    empty arm."""
    n_w, n = change.shape
    out = np.zeros((n_w, n_arms))
    count = np.zeros(n_arms)
    for i in range(n):
        count[arm[i]] += 1.0
    for w in range(n_w):
        for i in range(n):
            out[w, arm[i]] += change[w, i]
        for a in range(n_arms):
            out[w, a] = out[w, a] / count[a] if count[a] > 0 else np.nan
    return out


@jit
def ancova_kernel(change, baseline, arm, strata, pairs, alpha):
    """ANCOVA of the change from baseline per week and comparison (see the module docstring).

    Parameters
    ----------
    change : ndarray of float64, shape (n_weeks, n_patients)
        ``locf_change``.
    baseline : ndarray, shape (n_patients,)
        Baseline SELENA-SLEDAI (the covariate).
    arm : ndarray of int64, shape (n_patients,)
    strata : ndarray of float64, shape (n_patients, q)
        The stratification indicators (q may be 0).
    pairs : ndarray of int64, shape (n_comparisons, 2)
        Rows of ``(treated, control)`` arm codes.
    alpha : float
        Two-sided level of the test; the CI has level ``1 - alpha``.

    Returns
    -------
    ndarray of float64, shape (n_weeks, n_comparisons, N_ANCOVA_FIELDS)
        ``ANCOVA_FIELDS``. Not estimable (an empty arm, no residual degrees of freedom, a
        singular design or a zero residual variance): the model fields nan, ``p_value`` 1.0
        (not rejecting), ``fitted`` 0; the arm means and sizes are still filled.
    """
    n_w = change.shape[0]
    q = strata.shape[1]
    n_cmp = pairs.shape[0]
    out = np.empty((n_w, n_cmp, N_ANCOVA_FIELDS))
    for c in range(n_cmp):
        trt = pairs[c, 0]
        ctl = pairs[c, 1]
        idx, is_trt = comparison_patients(arm, np.arange(arm.shape[0]), trt, ctl)
        m = idx.shape[0]
        n1 = 0
        centre = 0.0
        for k in range(m):
            if is_trt[k]:
                n1 += 1
            centre += baseline[idx[k]]
        n0 = m - n1
        centre = centre / m if m > 0 else 0.0
        # design: intercept, treatment, baseline (centred: the treatment coefficient is the
        # same, the normal equations better conditioned), strata
        full = np.empty((m, 3 + q))
        for k in range(m):
            i = idx[k]
            full[k, 0] = 1.0
            full[k, 1] = 1.0 if arm[i] == trt else 0.0
            full[k, 2] = baseline[i] - centre
            for j in range(q):
                full[k, 3 + j] = strata[i, j]
        X, _ = estimable_design(full, 1)
        L, ok = _cholesky(_crossprod(X))
        ok = ok and n1 > 0 and n0 > 0 and m > X.shape[1]
        for w in range(n_w):
            s1 = 0.0
            s0 = 0.0
            for k in range(m):
                if full[k, 1] == 1.0:
                    s1 += change[w, idx[k]]
                else:
                    s0 += change[w, idx[k]]
            out[w, c, MEAN_TREATED] = s1 / n1 if n1 > 0 else np.nan
            out[w, c, MEAN_CONTROL] = s0 / n0 if n0 > 0 else np.nan
            out[w, c, N_TREATED] = n1
            out[w, c, N_CONTROL] = n0
            _fill_not_estimable(out, w, c)
            if ok:
                _ols_treatment(out, w, c, X, L, change[w], idx, alpha)
    return out


@jit
def _crossprod(X):
    """X'X."""
    m, p = X.shape
    out = np.zeros((p, p))
    for k in range(m):
        for a in range(p):
            xa = X[k, a]
            for b in range(a + 1):
                out[a, b] += xa * X[k, b]
    for a in range(p):
        for b in range(a + 1, p):
            out[a, b] = out[b, a]
    return out


@jit
def _fill_not_estimable(out, w, c):
    for f in (DIFFERENCE, SE, T, DF, CI_LOW, CI_HIGH):
        out[w, c, f] = np.nan
    out[w, c, P_VALUE] = 1.0
    out[w, c, FITTED] = 0.0


@jit
def _ols_treatment(out, w, c, X, L, y_all, idx, alpha):
    """OLS of ``y_all[idx]`` on ``X`` (Cholesky factor ``L`` of X'X): the treatment
    coefficient (column 1) with its SE, t test and t CI, into ``out[w, c]``."""
    m, p = X.shape
    y = np.empty(m)
    for k in range(m):
        y[k] = y_all[idx[k]]
    xty = np.zeros(p)
    for k in range(m):
        for j in range(p):
            xty[j] += X[k, j] * y[k]
    beta = _cholesky_solve(L, xty)
    rss = 0.0
    for k in range(m):
        fit = 0.0
        for j in range(p):
            fit += X[k, j] * beta[j]
        rss += (y[k] - fit) ** 2
    df = m - p
    e1 = np.zeros(p)
    e1[1] = 1.0
    v11 = _cholesky_solve(L, e1)[1]
    se = math.sqrt(rss / df * v11)
    if not (se > 0.0) or not math.isfinite(se):
        return
    b = beta[1]
    t = b / se
    half = t_ppf(1.0 - 0.5 * alpha, float(df)) * se
    out[w, c, DIFFERENCE] = b
    out[w, c, SE] = se
    out[w, c, T] = t
    out[w, c, DF] = df
    out[w, c, P_VALUE] = min(2.0 * t_sf(abs(t), float(df)), 1.0)
    out[w, c, CI_LOW] = b - half
    out[w, c, CI_HIGH] = b + half
    out[w, c, FITTED] = 1.0
