"""Maximum-likelihood logistic regression as numba kernels.

The functions here operate on plain NumPy arrays so that they can be called
from other ``@njit`` code (for example the per-trial analysis loop in
:mod:`trialsim.analysis.comparisons`) without any Python overhead per fit.

The fit is a Newton--Raphson (equivalently IRLS, since the logit link is
canonical) iteration with step-halving, solved through a hand-written
Cholesky factorization that *reports* a singular information matrix instead
of raising, which numba-compiled code could not catch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from trialsim.core.jit import CACHE

#: Largest absolute coefficient accepted before a fit is declared divergent
#: (a symptom of complete or quasi-complete separation).
MAX_ABS_BETA = 30.0

# Relative pivot tolerance below which the information matrix is treated as
# singular by the Cholesky factorization.
_PIVOT_RTOL = 1e-13

# Relative residual-norm tolerance used to detect (near) linear dependence
# when choosing design columns.
_RANK_RTOL = 1e-9


@njit(cache=CACHE)
def _cholesky(a):
    """Lower Cholesky factor of a symmetric matrix, signalling failure.

    Parameters
    ----------
    a : ndarray of float64, shape (p, p)
        Symmetric matrix; only the lower triangle is read.

    Returns
    -------
    L : ndarray of float64, shape (p, p)
        Lower-triangular factor with ``L @ L.T == a`` (garbage if not ok).
    ok : bool
        False if ``a`` is not numerically positive definite.
    """
    L = np.zeros(a.shape)
    return L, _cholesky_into(a, L)


@njit(cache=CACHE)
def _cholesky_into(a, L):
    """``_cholesky`` into the lower triangle and diagonal of ``L`` (its upper triangle is
    neither read nor written); returns ok."""
    p = a.shape[0]
    for j in range(p):
        ajj = a[j, j]
        if not (ajj > 0.0) or not np.isfinite(ajj):
            return False
        d = ajj
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not (d > _PIVOT_RTOL * ajj):
            return False
        ljj = math.sqrt(d)
        L[j, j] = ljj
        for i in range(j + 1, p):
            s = a[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / ljj
    return True


@njit(cache=CACHE)
def _cholesky_solve(L, b):
    """Solve ``L @ L.T @ x = b`` for a lower-triangular ``L``."""
    x = np.empty(L.shape[0])
    _cholesky_solve_into(L, b, np.empty(L.shape[0]), x)
    return x


@njit(cache=CACHE)
def _cholesky_solve_into(L, b, z, x):
    """``_cholesky_solve`` into ``x``, with ``z`` as work space (both of length p)."""
    p = L.shape[0]
    for i in range(p):
        s = b[i]
        for k in range(i):
            s -= L[i, k] * z[k]
        z[i] = s / L[i, i]
    for i in range(p - 1, -1, -1):
        s = z[i]
        for k in range(i + 1, p):
            s -= L[k, i] * x[k]
        x[i] = s / L[i, i]


@njit(cache=CACHE)
def _cholesky_inverse(L):
    """Inverse of ``L @ L.T`` for a lower-triangular ``L`` (symmetrized).

    Column j is ``_cholesky_solve(L, e_j)``, every column's sums in that function's order;
    the p solves advance side by side (the column is the inner loop), so their chains of
    dependent subtractions overlap.
    """
    p = L.shape[0]
    z = np.empty((p, p))  # z[i, j]: the forward solution of column j
    inv = np.empty((p, p))
    acc = np.empty(p)
    for i in range(p):
        for j in range(p):
            acc[j] = 1.0 if i == j else 0.0
        for k in range(i):
            lik = L[i, k]
            for j in range(p):
                acc[j] -= lik * z[k, j]
        for j in range(p):
            z[i, j] = acc[j] / L[i, i]
    for i in range(p - 1, -1, -1):
        for j in range(p):
            acc[j] = z[i, j]
        for k in range(i + 1, p):
            lki = L[k, i]
            for j in range(p):
                acc[j] -= lki * inv[k, j]
        for j in range(p):
            inv[i, j] = acc[j] / L[i, i]
    for i in range(p):
        for j in range(i + 1, p):
            m = 0.5 * (inv[i, j] + inv[j, i])
            inv[i, j] = m
            inv[j, i] = m
    return inv


@njit(cache=CACHE)
def _active_columns(X):
    """Each row's nonzero columns (ascending) and their values: ``cols`` and ``vals`` (n, p),
    the first ``count[i]`` of row i used. A design with a non-finite value keeps every
    column of every row.

    A term with a zero factor adds a signed zero to a sum that is never -0.0 (it starts at
    +0.0, and only -0.0 + -0.0 gives -0.0), so leaving those terms out changes no bit, and
    a row of a 0/1 design costs its few ones instead of all p columns.
    """
    n, p = X.shape
    cols = np.empty((n, p), dtype=np.int64)
    vals = np.empty((n, p))
    count = np.zeros(n, dtype=np.int64)
    finite = True
    for i in range(n):
        for j in range(p):
            x = X[i, j]
            if not np.isfinite(x):
                finite = False
            if x != 0.0:
                cols[i, count[i]] = j
                vals[i, count[i]] = x
                count[i] += 1
    if not finite:
        for i in range(n):
            for j in range(p):
                cols[i, j] = j
                vals[i, j] = X[i, j]
            count[i] = p
    return cols, vals, count


@njit(cache=CACHE)
def _linear_predictor(cols, vals, count, beta, eta):
    """Fill ``eta`` with ``X @ beta`` given the active columns of ``X`` (``_active_columns``),
    each row's sum in column order."""
    for i in range(eta.shape[0]):
        s = 0.0
        for a in range(count[i]):
            s += vals[i, a] * beta[cols[i, a]]
        eta[i] = s


@njit(cache=CACHE)
def _deviance(cols, vals, count, y, m, beta, eta):
    """Binomial deviance ``-2 log L``, evaluated in an overflow-safe way.

    ``cols``, ``vals``, ``count`` are the design's active columns (``_active_columns``);
    ``y`` the successes and ``m`` the trials of each row (covariate pattern); ``eta`` is work
    space (n,).
    """
    _linear_predictor(cols, vals, count, beta, eta)
    dev = 0.0
    for i in range(eta.shape[0]):
        t = eta[i]
        # log(1 + exp(t)) without overflow
        dev += m[i] * (max(t, 0.0) + math.log1p(math.exp(-abs(t)))) - y[i] * t
    return 2.0 * dev


@njit(cache=CACHE)
def _evaluate(cols, vals, count, y, m, beta, eta, w, r, score, info):
    """Deviance (returned), score ``X'(y - m mu)`` and Fisher information ``X'WX`` at
    ``beta``, into ``score`` (p,) and ``info`` (p, p).

    ``cols``, ``vals``, ``count`` are the design's active columns (``_active_columns``);
    ``y`` and ``m`` the successes and trials of each row; ``eta``, ``w`` and ``r`` are work
    arrays of length n. One ``exp`` and one ``log1p`` per row. Every sum runs over the rows
    in order (the rows are the outer loop, the sums advance side by side).
    """
    p = score.shape[0]
    _linear_predictor(cols, vals, count, beta, eta)
    dev = 0.0
    for i in range(eta.shape[0]):
        t = eta[i]
        e = math.exp(-abs(t))
        dev += m[i] * (max(t, 0.0) + math.log1p(e)) - y[i] * t
        inv = 1.0 / (1.0 + e)
        mu = inv if t >= 0.0 else e * inv
        # mu * (1 - mu) without cancellation for large |eta|
        w[i] = m[i] * e * inv * inv
        r[i] = y[i] - m[i] * mu
    for j in range(p):
        score[j] = 0.0
        for k in range(j + 1):
            info[j, k] = 0.0
    for i in range(eta.shape[0]):
        for a in range(count[i]):
            j = cols[i, a]
            xj = vals[i, a]
            score[j] += xj * r[i]
            wx = w[i] * xj
            for b in range(a + 1):
                info[j, cols[i, b]] += wx * vals[i, b]
    for j in range(p):
        for k in range(j):
            info[k, j] = info[j, k]
    return 2.0 * dev


@njit(cache=CACHE)
def _max_abs(a):
    """``np.max(np.abs(a))`` without the temporary (nan if any element is nan)."""
    mx = abs(a[0])
    for j in range(a.shape[0]):
        v = abs(a[j])
        if v != v:
            return v
        if v > mx:
            mx = v
    return mx


@njit(cache=CACHE)
def _nan_result(p):
    beta = np.full(p, np.nan)
    cov = np.full((p, p), np.nan)
    return beta, cov, False


@njit(cache=CACHE)
def fit_logistic(X, y, max_iter=50, tol=1e-10):
    """Logistic regression of 0/1 outcomes ``y`` on ``X`` (``fit_binomial`` with one trial
    per row); see ``fit_binomial``."""
    return fit_binomial(X, y, np.ones(X.shape[0]), max_iter, tol)


@njit(cache=CACHE)
def fit_binomial(X, y, m, max_iter=50, tol=1e-10):
    """Fit a logistic regression by Newton--Raphson with step-halving.

    Parameters
    ----------
    X : ndarray of float64, shape (n, p)
        Design matrix, already including an intercept column; one row per covariate
        pattern.
    y : ndarray of float64, shape (n,)
        Successes of each row.
    m : ndarray of float64, shape (n,)
        Trials of each row (rows with ``m = 1`` and ``y`` in {0, 1}: individual patients).
        Patients grouped by covariate pattern give the same likelihood, hence the same fit,
        with one row per pattern.
    max_iter : int, optional
        Maximum number of Newton iterations.
    tol : float, optional
        Convergence tolerance on the largest absolute Newton step.

    Returns
    -------
    beta : ndarray of float64, shape (p,)
        Maximum-likelihood estimates (all nan if the fit failed).
    cov : ndarray of float64, shape (p, p)
        Inverse Fisher information at the MLE (all nan if the fit failed).
    converged : bool
        True only if the iteration converged to a finite MLE with a
        non-singular information matrix.

    Notes
    -----
    Iteration stops when the largest absolute step is below ``tol``, or when
    the relative deviance change is below ``1e-3 * tol`` while the step is
    already below ``1e-6`` (Newton's quadratic convergence then makes the
    remaining error negligible). If the deviance increases, the step is
    halved until it does not. The fit is declared failed when the
    information matrix is numerically singular, when any ``|beta|`` exceeds
    ``MAX_ABS_BETA`` (complete or quasi-complete separation), or when
    ``max_iter`` is reached without convergence.

    Coefficients start at 0, except that column 0, if it is all ones, starts
    at the logit of the mean outcome. No fastmath: reassociated or fused
    sums would make the last bits depend on the machine's vector width and
    FMA support, and results must be bit-identical everywhere; they agree
    with statsmodels to about 1e-12.
    """
    n, p = X.shape
    if n == 0 or p == 0:
        return _nan_result(p)
    beta = np.zeros(p)
    # Start the intercept (column 0, if it is one) at the logit of the mean.
    intercept = True
    ysum = 0.0
    msum = 0.0
    for i in range(n):
        ysum += y[i]
        msum += m[i]
        if X[i, 0] != 1.0:
            intercept = False
    if intercept and 0.0 < ysum < msum:
        beta[0] = math.log(ysum / (msum - ysum))
    cols, vals, count = _active_columns(X)
    # work space (rows of three arrays, fewer allocations): each Newton step writes the
    # "new_" arrays, then swaps them in
    rows = np.empty((3, n))
    eta, w, r = rows[0], rows[1], rows[2]
    vectors = np.empty((5, p))
    score, new_score, new_beta, step, z = (vectors[0], vectors[1], vectors[2], vectors[3],
                                           vectors[4])
    matrices = np.zeros((3, p, p))
    info, new_info, L = matrices[0], matrices[1], matrices[2]
    dev = _evaluate(cols, vals, count, y, m, beta, eta, w, r, score, info)
    converged = False
    for _ in range(max_iter):
        if not _cholesky_into(info, L):
            return _nan_result(p)
        _cholesky_solve_into(L, score, z, step)
        # Step-halving: accept the first step length that does not increase
        # the deviance (up to rounding noise in the deviance itself).
        slack = 1e-12 * (abs(dev) + 1.0)
        t = 1.0
        for j in range(p):
            new_beta[j] = beta[j] + step[j]
        new_dev = _evaluate(cols, vals, count, y, m, new_beta, eta, w, r, new_score, new_info)
        n_halve = 0
        while not (new_dev <= dev + slack) and n_halve < 60:
            t *= 0.5
            for j in range(p):
                new_beta[j] = beta[j] + t * step[j]
            new_dev = _deviance(cols, vals, count, y, m, new_beta, eta)
            n_halve += 1
        if not (new_dev <= dev + slack):
            # No step length improves the deviance: we sit at the optimum to
            # machine precision if the full Newton step was already tiny.
            if _max_abs(step) < 1e-6:
                converged = True
            break
        if n_halve > 0:
            new_dev = _evaluate(cols, vals, count, y, m, new_beta, eta, w, r, new_score, new_info)
        max_step = t * _max_abs(step)
        rel_change = abs(dev - new_dev) / (abs(new_dev) + 0.1)
        beta, new_beta = new_beta, beta
        dev = new_dev
        score, new_score = new_score, score
        info, new_info = new_info, info
        if not (_max_abs(beta) <= MAX_ABS_BETA):  # too large, infinite or nan
            return _nan_result(p)
        if max_step < tol or (rel_change < 1e-3 * tol and max_step < 1e-6):
            converged = True
            break
    if not converged:
        return _nan_result(p)
    # ``info`` is the information at the final ``beta``
    L, ok = _cholesky(info)
    if not ok:
        return _nan_result(p)
    cov = _cholesky_inverse(L)
    for j in range(p):
        if not (cov[j, j] > 0.0) or not np.isfinite(cov[j, j]):
            return _nan_result(p)
    return beta, cov, True


@njit(cache=CACHE)
def _binary_codes(X):
    """Each row's pattern code (bit j: column j is 1) if ``X`` is a 0/1 design of at most 62
    columns; else an empty array."""
    n, p = X.shape
    codes = np.zeros(n, dtype=np.int64)
    if p > 62:
        return codes[:0]
    for i in range(n):
        c = 0
        for j in range(p):
            x = X[i, j]
            if x == 1.0:
                c |= 1 << j
            elif x != 0.0:
                return codes[:0]
        codes[i] = c
    return codes


@njit(cache=CACHE)
def pattern_groups(X):
    """The rows of a design grouped by covariate pattern, for many fits on the same rows.

    Parameters
    ----------
    X : ndarray of float64, shape (n, p)

    Returns
    -------
    patterns : ndarray of float64, shape (n_groups, p)
        The distinct rows, in the order of their first occurrence.
    group : ndarray of int64, shape (n,)
        The pattern of each row.

    Notes
    -----
    Only 0/1 designs of at most 62 columns are grouped; any other design gives every row its
    own group (``patterns`` is a copy of ``X``), so that its fits run row by row, as
    ``fit_logistic_grouped`` runs them.
    """
    n, p = X.shape
    codes = _binary_codes(X)
    group = np.arange(n)
    if codes.shape[0] < n:
        return X.copy(), group
    if p <= 12:  # a table of 2^p slots
        slot = np.full(1 << p, -1, dtype=np.int64)
        first = np.empty(n, dtype=np.int64)
        n_g = 0
        for i in range(n):
            g = slot[codes[i]]
            if g < 0:
                g = n_g
                slot[codes[i]] = g
                first[g] = i
                n_g += 1
            group[i] = g
        patterns = np.empty((n_g, p))
        for g in range(n_g):
            for j in range(p):
                patterns[g, j] = X[first[g], j]
        return patterns, group
    order = np.argsort(codes, kind="mergesort")
    first = np.empty(n, dtype=np.int64)  # first row of each distinct code, by code
    n_g = 0
    for k in range(n):
        i = order[k]
        if k == 0 or codes[i] != codes[order[k - 1]]:
            first[n_g] = i
            n_g += 1
        group[i] = n_g - 1
    by_first = np.argsort(first[:n_g])
    rank = np.empty(n_g, dtype=np.int64)
    for g in range(n_g):
        rank[by_first[g]] = g
    patterns = np.empty((n_g, p))
    for g in range(n_g):
        for j in range(p):
            patterns[g, j] = X[first[by_first[g]], j]
    for i in range(n):
        group[i] = rank[group[i]]
    return patterns, group


@njit(cache=CACHE)
def fit_pattern_groups(X, y, m, max_iter=50, tol=1e-10):
    """``fit_binomial`` on rows pooled by covariate pattern, in ``fit_logistic_grouped``'s
    order: the one home of that grouping.

    ``X`` (n, p) holds rows already grouped, or not, in the order of their first patient;
    ``y`` their successes and ``m`` their patients. A 0/1 design of at most 62 columns has
    its equal rows pooled: up to 12 columns in the order of first occurrence, beyond by
    their pattern codes, ascending (sorted, as a table of 2^p slots would be too large).
    Any other design is fitted row by row. So the patients of a trial grouped once
    (``pattern_groups``) and fitted for many endpoints give each endpoint the same fit, to
    the last bit, as ``fit_logistic_grouped`` on its patients.
    """
    n, p = X.shape
    codes = _binary_codes(X)
    if codes.shape[0] < n:
        return fit_binomial(X, y, m, max_iter, tol)
    G = np.empty((n, p))
    s = np.zeros(n)
    t = np.zeros(n)
    g = 0
    if p <= 12:
        slot = np.full(1 << p, -1, dtype=np.int64)
        for i in range(n):
            k = slot[codes[i]]
            if k < 0:
                k = g
                slot[codes[i]] = g
                for j in range(p):
                    G[g, j] = X[i, j]
                g += 1
            s[k] += y[i]
            t[k] += m[i]
    else:
        order = np.argsort(codes, kind="mergesort")
        g = -1
        for k in range(n):
            i = order[k]
            if g < 0 or codes[i] != codes[order[k - 1]]:
                g += 1
                for j in range(p):
                    G[g, j] = X[i, j]
            s[g] += y[i]
            t[g] += m[i]
        g += 1
    return fit_binomial(G[:g], s[:g], t[:g], max_iter, tol)


@njit(cache=CACHE)
def fit_logistic_grouped(X, y, max_iter=50, tol=1e-10):
    """``fit_logistic`` on patients grouped by covariate pattern (``fit_pattern_groups``).

    With 0/1 covariates (treatment and stratum indicators) a trial of ~550 patients has at
    most 2^p patterns (16 with three strata), so each Newton step costs a few dozen rows
    instead of hundreds; the likelihood is the same, so is the fit (to rounding). Designs
    with other values are fitted row by row.
    """
    return fit_pattern_groups(X, y, np.ones(X.shape[0]), max_iter, tol)


@njit(cache=CACHE)
def estimable_design(full, treat_col=1):
    """``full`` restricted to the columns ``drop_constant_columns`` keeps.

    Returns
    -------
    X : ndarray of float64, shape (n, p)
    keep : ndarray of int64, shape (p,)
        Sorted indices of the kept columns of ``full``.
    """
    m = full.shape[0]
    keep = drop_constant_columns(full, treat_col)
    p = keep.shape[0]
    X = np.empty((m, p))
    for k in range(m):
        for j in range(p):
            X[k, j] = full[k, keep[j]]
    return X, keep


@njit(cache=CACHE)
def drop_constant_columns(X, treat_col=1):
    """Indices of design columns to keep so that the design has full rank.

    Parameters
    ----------
    X : ndarray of float64, shape (n, p)
        Design matrix restricted to the rows used in the fit, with the
        intercept in column 0.
    treat_col : int, optional
        Index of the treatment column, which is never dropped.

    Returns
    -------
    keep : ndarray of int64
        Sorted indices of the columns to keep. Column 0 and ``treat_col`` are
        always kept. A covariate column is dropped if it is constant over the
        rows (e.g. a stratum indicator that is all 0 in a small trial), if it
        is an exact duplicate of an earlier kept column, or if it is (to a
        relative tolerance of 1e-9) a linear combination of the columns
        already kept, e.g. the last level of a fully dummy-coded factor.

    Notes
    -----
    Columns are considered in the order 0, ``treat_col``, then the remaining
    columns left to right; the rank check uses modified Gram--Schmidt with
    re-orthogonalization.
    """
    n, p = X.shape
    order = np.empty(p, dtype=np.int64)
    order[0] = 0
    m = 1
    if treat_col != 0 and 0 <= treat_col < p:
        order[1] = treat_col
        m = 2
    for j in range(1, p):
        if j != treat_col:
            order[m] = j
            m += 1
    keep_mask = np.zeros(p, dtype=np.bool_)
    basis = np.zeros((n, p))
    n_basis = 0
    v = np.empty(n)
    for pos in range(p):
        j = order[pos]
        forced = pos == 0 or j == treat_col
        keep = True
        if not forced:
            # constant within the rows used
            if n > 0:
                x0 = X[0, j]
                const = True
                for i in range(1, n):
                    if X[i, j] != x0:
                        const = False
                        break
                if const:
                    keep = False
            else:
                keep = False
            # exact duplicate of an earlier kept column
            if keep:
                for k in range(p):
                    if keep_mask[k]:
                        same = True
                        for i in range(n):
                            if X[i, j] != X[i, k]:
                                same = False
                                break
                        if same:
                            keep = False
                            break
        # general linear dependence on the columns kept so far
        norm0 = 0.0
        for i in range(n):
            v[i] = X[i, j]
            norm0 += v[i] * v[i]
        norm0 = math.sqrt(norm0)
        if keep:
            for _ in range(2):
                for b in range(n_basis):
                    d = 0.0
                    for i in range(n):
                        d += basis[i, b] * v[i]
                    for i in range(n):
                        v[i] -= d * basis[i, b]
            norm = 0.0
            for i in range(n):
                norm += v[i] * v[i]
            norm = math.sqrt(norm)
            independent = norm0 > 0.0 and norm > _RANK_RTOL * norm0
            if not forced and not independent:
                keep = False
            if keep and independent:
                for i in range(n):
                    basis[i, n_basis] = v[i] / norm
                n_basis += 1
        if keep:
            keep_mask[j] = True
    return np.flatnonzero(keep_mask).astype(np.int64)
