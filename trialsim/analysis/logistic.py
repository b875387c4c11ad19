"""Maximum-likelihood logistic regression as numba kernels.

The functions here operate on plain NumPy arrays so that they can be called
from other ``@njit`` code (for example the per-trial analysis loop in
:mod:`trialsim.analysis.comparisons`) without any Python overhead per fit.

The fit is a Newton--Raphson (equivalently IRLS, since the logit link is
canonical) iteration with step-halving, solved through a hand-written
Cholesky factorization that *reports* a singular information matrix instead
of raising, which numba-compiled code could not catch. The iteration itself
lives in :mod:`trialsim.analysis.newton` (on flat work arrays, and many fits
on one design side by side); the functions here pool covariate patterns and
choose the design's estimable columns.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from trialsim.analysis.newton import (  # noqa: F401 (MAX_ABS_BETA: part of this API)
    MAX_ABS_BETA,
    cholesky_flat,
    cholesky_solve_flat,
    cov_offset,
    fit_sizes,
    newton_fit,
)
from trialsim.core.jit import CACHE

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
    p = a.shape[0]
    F = np.zeros(2 * p * p)
    for i in range(p):
        for j in range(p):
            F[i * p + j] = a[i, j]
    ok = cholesky_flat(F, 0, p * p, p)
    return F[p * p:].reshape((p, p)), ok


@njit(cache=CACHE)
def _cholesky_solve(L, b):
    """Solve ``L @ L.T @ x = b`` for a lower-triangular ``L``."""
    p = L.shape[0]
    F = np.empty(p * p + 3 * p)
    for i in range(p):
        for j in range(p):
            F[i * p + j] = L[i, j]
        F[p * p + i] = b[i]
    cholesky_solve_flat(F, 0, p * p, p * p + p, p * p + 2 * p, p)
    return F[p * p + 2 * p:].copy()


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
    wk = fit_work(n, p)
    beta, cov, converged = _fit_into(X, y, m, max_iter, tol, wk.floats, wk.ints)
    if not converged:
        return _nan_result(p)
    return beta, cov, True


class FitWork(NamedTuple):
    """Work arrays of many logistic fits in a row (``fit_work``): the fits of one analysis
    share them instead of allocating their own.

    ``floats`` and ``ints`` are carved into each fit's arrays; ``slot`` is the table of
    pattern codes of ``fit_patterns_into``, all -1 between fits; ``design`` holds a
    caller's design of up to n rows and p columns (``columns_into``, ``rows_into``).
    """

    floats: np.ndarray  # float64
    ints: np.ndarray  # int64
    slot: np.ndarray  # int64, (2^min(p, 12),)
    design: np.ndarray  # float64, (n * p,)


@njit(cache=CACHE)
def fit_work(n, p):
    """Work arrays for fits (``fit_patterns_into``) of up to ``n`` rows and ``p`` columns."""
    nf, ni = fit_sizes(n, p)
    return FitWork(np.zeros(nf + n * p + 2 * n), np.zeros(ni + 2 * n, dtype=np.int64),
                   np.full(1 << min(p, 12), -1, dtype=np.int64), np.zeros(n * p))


@njit(cache=CACHE)
def columns_into(full, keep, wk):
    """``full[:, keep]`` (``keep`` ascending column indices), in ``wk.design`` unless it is
    every column (then ``full`` itself)."""
    n, width = full.shape
    p = keep.shape[0]
    if p == width:
        return full
    X = wk.design[:n * p].reshape((n, p))
    for i in range(n):
        for j in range(p):
            X[i, j] = full[i, keep[j]]
    return X


@njit(cache=CACHE)
def rows_into(X, order, wk):
    """``X[order]`` in ``wk.design``, or ``X`` itself when ``order`` is 0 … n - 1."""
    n, p = X.shape
    g = order.shape[0]
    same = g == n
    if same:
        for k in range(g):
            if order[k] != k:
                same = False
                break
    if same:
        return X
    out = wk.design[:g * p].reshape((g, p))
    for k in range(g):
        for j in range(p):
            out[k, j] = X[order[k], j]
    return out


@njit(cache=CACHE)
def _fit_into(X, y, m, max_iter, tol, floats, ints):
    """``fit_binomial`` in work arrays: ``floats`` and ``ints`` (1-D, at least
    ``newton.fit_sizes(n, p)`` long) hold every array of the fit (``newton.newton_fit``), so
    it allocates nothing.

    Returns
    -------
    beta : ndarray of float64, shape (p,)
    cov : ndarray of float64, shape (p, p)
        Views into ``floats`` (valid until its next use), meaningful only when converged.
    converged : bool
    """
    p = X.shape[1]
    ob, converged = newton_fit(X, y, m, max_iter, tol, floats, ints)
    oc = cov_offset(p)
    return floats[ob:ob + p], floats[oc:oc + p * p].reshape((p, p)), converged


@njit(cache=CACHE)
def _binary_codes(X):
    """Each row's pattern code (bit j: column j is 1) if ``X`` is a 0/1 design of at most 62
    columns; else an empty array."""
    codes = np.zeros(X.shape[0], dtype=np.int64)
    if not _binary_codes_into(X, codes):
        return codes[:0]
    return codes


@njit(cache=CACHE)
def _binary_codes_into(X, codes):
    """``_binary_codes`` into ``codes`` (n,); returns whether ``X`` is such a design."""
    n, p = X.shape
    if p > 62:
        return False
    for i in range(n):
        c = 0
        for j in range(p):
            x = X[i, j]
            if x == 1.0:
                c |= 1 << j
            elif x != 0.0:
                return False
        codes[i] = c
    return True


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
    if n == 0 or p == 0:
        return _nan_result(p)
    beta, cov, converged = fit_patterns_into(X, y, m, fit_work(n, p), max_iter, tol)
    if not converged:
        return _nan_result(p)
    return beta, cov, True


@njit(cache=CACHE)
def fit_patterns_into(X, y, m, wk, max_iter=50, tol=1e-10):
    """``fit_pattern_groups`` in the work arrays ``wk`` (``fit_work``; replaced by larger
    ones if too small), allocating nothing: the same fit to the last bit.

    Returns
    -------
    beta, cov, converged
        As ``fit_binomial``, but ``beta`` and ``cov`` are views into the work arrays (valid
        until their next use) and meaningful only when converged.
    """
    n, p = X.shape
    nf, ni = fit_sizes(n, p)
    if (wk.floats.shape[0] < nf + n * p + 2 * n or wk.ints.shape[0] < ni + 2 * n
            or wk.slot.shape[0] < 1 << min(p, 12)):
        wk = fit_work(n, p)
    G = wk.floats[:n * p].reshape((n, p))
    group = wk.ints[n:2 * n]
    g = _pool_rows_into(X, wk.ints[:n], wk.slot, G, group)
    if g < 0:  # not a 0/1 design: row by row
        return _fit_into(X, y, m, max_iter, tol, wk.floats, wk.ints)
    s = wk.floats[n * p:n * p + n]
    t = wk.floats[n * p + n:n * p + 2 * n]
    for k in range(g):
        s[k] = 0.0
        t[k] = 0.0
    for i in range(n):
        s[group[i]] += y[i]
        t[group[i]] += m[i]
    return _fit_into(G[:g], s[:g], t[:g], max_iter, tol, wk.floats[n * p + 2 * n:],
                     wk.ints[2 * n:])


@njit(cache=CACHE)
def _pool_rows_into(X, codes, slot, G, group):
    """The pooling of ``fit_patterns_into``: the distinct rows of a 0/1 design ``X`` (n, p)
    into ``G``, up to 12 columns in the order of first occurrence (``slot``: a table of 2^p
    entries, all -1, left so), beyond in the order of their codes; each row's pooled row into
    ``group``. Returns their number, or -1 if ``X`` is not a 0/1 design of at most 62
    columns. (Each pooled row's patients then add up in the order of the rows.)"""
    n, p = X.shape
    if not _binary_codes_into(X, codes):
        return -1
    g = 0
    if p <= 12:
        for i in range(n):
            k = slot[codes[i]]
            if k < 0:
                k = g
                slot[codes[i]] = g
                for j in range(p):
                    G[g, j] = X[i, j]
                g += 1
            group[i] = k
        for i in range(n):  # the table back to all -1
            slot[codes[i]] = -1
        return g
    order = np.argsort(codes[:n], kind="mergesort")
    g = -1
    for k in range(n):
        i = order[k]
        if g < 0 or codes[i] != codes[order[k - 1]]:
            g += 1
            for j in range(p):
                G[g, j] = X[i, j]
        group[i] = g
    return g + 1


@njit(cache=CACHE)
def pool_rows(X):
    """``_pool_rows_into`` with its own arrays: the pooled rows ``G`` and each row's pooled
    row ``group`` (``G`` is empty, ``group`` too, if ``X`` is not a 0/1 design)."""
    n, p = X.shape
    G = np.empty((n, p))
    group = np.empty(n, dtype=np.int64)
    g = _pool_rows_into(X, np.empty(n, dtype=np.int64),
                        np.full(1 << min(p, 12), -1, dtype=np.int64), G, group)
    if g < 0:
        return G[:0], group[:0]
    return G[:g], group


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
    basis = np.zeros((p, n))  # row b: basis vector b
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
            norm = _orthogonalized_norm(basis, n_basis, v)
            independent = norm0 > 0.0 and norm > _RANK_RTOL * norm0
            if not forced and not independent:
                keep = False
            if keep and independent:
                for i in range(n):
                    basis[n_basis, i] = v[i] / norm
                n_basis += 1
        if keep:
            keep_mask[j] = True
    return np.flatnonzero(keep_mask).astype(np.int64)


@njit(cache=CACHE)
def _orthogonalized_norm(basis, n_basis, v):
    """Modified Gram--Schmidt, twice: ``v`` (n,) loses, in place, its components along the
    first ``n_basis`` rows of ``basis``; returns the norm of what is left (the one projection
    step of ``drop_constant_columns`` and ``in_column_space``)."""
    n = v.shape[0]
    for _ in range(2):
        for b in range(n_basis):
            d = 0.0
            for i in range(n):
                d += basis[b, i] * v[i]
            for i in range(n):
                v[i] -= d * basis[b, i]
    norm = 0.0
    for i in range(n):
        norm += v[i] * v[i]
    return math.sqrt(norm)


@njit(cache=CACHE)
def in_column_space(X, d):
    """Whether ``d`` (n,) is a linear combination of the columns of ``X`` (n, p) to the
    relative tolerance of ``drop_constant_columns`` (its modified Gram--Schmidt with
    re-orthogonalization, on the columns of ``X`` then ``d``)."""
    n, p = X.shape
    basis = np.zeros((p, n))
    n_basis = 0
    v = np.empty(n)
    for j in range(p + 1):
        norm0 = 0.0
        for i in range(n):
            v[i] = X[i, j] if j < p else d[i]
            norm0 += v[i] * v[i]
        norm0 = math.sqrt(norm0)
        norm = _orthogonalized_norm(basis, n_basis, v)
        independent = norm0 > 0.0 and norm > _RANK_RTOL * norm0
        if j == p:
            return not independent
        if independent:
            for i in range(n):
                basis[n_basis, i] = v[i] / norm
            n_basis += 1
    return False
