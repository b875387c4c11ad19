"""The Newton--Raphson iteration of the logistic fits, on flat work arrays.

``newton_fit`` runs ``logistic.fit_binomial``'s iteration (see its docstring for the rules)
with every array of the fit carved, by offsets, from two flat buffers (``floats``, ``ints``):
no allocation and no array view inside the iteration. A fit in a subgroup analysis has a
few dozen rows and a handful of columns, so the bookkeeping of arrays (each view and each
array argument costs an atomic reference count in numba) would otherwise cost more than the
arithmetic. The small kernels here (Cholesky factor, solves, inverse, the deviance, score and
information) are inlined into the iteration.

Every sum is taken in the order of the plain matrix form (rows in order, columns ascending),
and no fastmath: the results are the same to the last bit on every machine. In a 0/1 design
the products with a 1.0 are left out (``x * 1.0 == x`` exactly).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from trialsim.core.jit import CACHE

#: Largest absolute coefficient accepted before a fit is declared divergent
#: (a symptom of complete or quasi-complete separation).
MAX_ABS_BETA = 30.0

# Relative pivot tolerance below which the information matrix is treated as
# singular by the Cholesky factorization.
PIVOT_RTOL = 1e-13

#: numba's numpy error model: a float division by zero gives inf or nan instead of raising
#: (Python's model tests every divisor, a branch that also keeps the lanes of
#: ``newton_batch`` from running as vectors). No divisor here can be zero: pivots and
#: diagonals of the factor are positive, 1 + exp(-|t|) >= 1, ...; the results are the same.
_njit = njit(cache=CACHE, error_model="numpy")
#: the kernels of the iteration, inlined into it (numba IR)
_inline = njit(cache=CACHE, inline="always", error_model="numpy")


@_njit
def fit_sizes(n, p):
    """Floats and ints of ``newton_fit`` on ``n`` rows and ``p`` columns."""
    return 7 * p + 5 * p * p + 3 * n + n * p, n * p + n


@_inline
def cholesky_flat(F, oa, oL, p):
    """Lower Cholesky factor of the symmetric p x p matrix at ``F[oa:]`` (row-major; only
    its lower triangle read) into the lower triangle of the one at ``F[oL:]`` (its upper
    triangle neither read nor written); returns False if the matrix is not numerically
    positive definite."""
    for j in range(p):
        ajj = F[oa + j * p + j]
        if not (ajj > 0.0) or not np.isfinite(ajj):
            return False
        d = ajj
        for k in range(j):
            d -= F[oL + j * p + k] * F[oL + j * p + k]
        if not (d > PIVOT_RTOL * ajj):
            return False
        ljj = math.sqrt(d)
        F[oL + j * p + j] = ljj
        for i in range(j + 1, p):
            s = F[oa + i * p + j]
            for k in range(j):
                s -= F[oL + i * p + k] * F[oL + j * p + k]
            F[oL + i * p + j] = s / ljj
    return True


@_inline
def cholesky_solve_flat(F, oL, ob, oz, ox, p):
    """Solve ``L @ L.T @ x = b`` (``L`` lower triangular at ``F[oL:]``, ``b`` at ``F[ob:]``)
    into ``x`` at ``F[ox:]``, with p floats at ``F[oz:]`` as work space."""
    for i in range(p):
        s = F[ob + i]
        for k in range(i):
            s -= F[oL + i * p + k] * F[oz + k]
        F[oz + i] = s / F[oL + i * p + i]
    for i in range(p - 1, -1, -1):
        s = F[oz + i]
        for k in range(i + 1, p):
            s -= F[oL + k * p + i] * F[ox + k]
        F[ox + i] = s / F[oL + i * p + i]


@_inline
def cholesky_inverse_flat(F, oL, oz, oinv, oacc, p):
    """Inverse of ``L @ L.T`` (``L`` lower triangular at ``F[oL:]``), symmetrized, into the
    p x p matrix at ``F[oinv:]``, with p x p floats at ``F[oz:]`` and p at ``F[oacc:]`` as
    work space.

    Column j is ``cholesky_solve_flat`` of the unit vector j, every column's sums in that
    function's order; the p solves advance side by side (the column is the inner loop), so
    their chains of dependent subtractions overlap.
    """
    for i in range(p):
        for j in range(p):
            F[oacc + j] = 1.0 if i == j else 0.0
        for k in range(i):
            lik = F[oL + i * p + k]
            for j in range(p):
                F[oacc + j] -= lik * F[oz + k * p + j]
        for j in range(p):
            F[oz + i * p + j] = F[oacc + j] / F[oL + i * p + i]
    for i in range(p - 1, -1, -1):
        for j in range(p):
            F[oacc + j] = F[oz + i * p + j]
        for k in range(i + 1, p):
            lki = F[oL + k * p + i]
            for j in range(p):
                F[oacc + j] -= lki * F[oinv + k * p + j]
        for j in range(p):
            F[oinv + i * p + j] = F[oacc + j] / F[oL + i * p + i]
    for i in range(p):
        for j in range(i + 1, p):
            v = 0.5 * (F[oinv + i * p + j] + F[oinv + j * p + i])
            F[oinv + i * p + j] = v
            F[oinv + j * p + i] = v


@_inline
def _active_columns(X, F, I, ovals, n, p):
    """Each row's nonzero columns (ascending) into ``I[i * p:]``, their values into
    ``F[ovals + i * p:]`` and their number into ``I[n * p + i]``; every column of every row
    when a value is not finite. Returns whether every value kept is 1.0 (a 0/1 design).

    A term with a zero factor adds a signed zero to a sum that is never -0.0 (it starts at
    +0.0, and only -0.0 + -0.0 gives -0.0), so leaving those terms out changes no bit, and
    a row of a 0/1 design costs its few ones instead of all p columns.
    """
    finite = True
    binary = True
    for i in range(n):
        c = 0
        for j in range(p):
            x = X[i, j]
            if not np.isfinite(x):
                finite = False
            if x != 0.0:
                I[i * p + c] = j
                F[ovals + i * p + c] = x
                if x != 1.0:
                    binary = False
                c += 1
        I[n * p + i] = c
    if not finite:
        for i in range(n):
            for j in range(p):
                I[i * p + j] = j
                F[ovals + i * p + j] = X[i, j]
            I[n * p + i] = p
        return False
    return binary


@_inline
def _linear_predictor(F, I, ovals, obeta, oeta, n, p, binary):
    """``eta = X @ beta`` over each row's active columns, each row's sum in column order."""
    for i in range(n):
        s = 0.0
        for a in range(I[n * p + i]):
            c = I[i * p + a]
            if binary:
                s += F[obeta + c]
            else:
                s += F[ovals + i * p + a] * F[obeta + c]
        F[oeta + i] = s


@_inline
def _deviance(F, I, y, m, ovals, obeta, oeta, n, p, binary):
    """Binomial deviance ``-2 log L`` at the coefficients ``F[obeta:]``, overflow-safe; the
    linear predictor into ``F[oeta:]``. Rows of equal eta share the log1p."""
    _linear_predictor(F, I, ovals, obeta, oeta, n, p, binary)
    dev = 0.0
    prev = np.nan
    lg = 0.0
    for i in range(n):
        t = F[oeta + i]
        if t != prev:  # log(1 + exp(t)) without overflow, a function of |t|
            lg = math.log1p(math.exp(-abs(t)))
            prev = t
        dev += m[i] * (max(t, 0.0) + lg) - y[i] * t
    return 2.0 * dev


@_inline
def _evaluate(F, I, y, m, ovals, obeta, oeta, ow, orr, oscore, oinfo, n, p, binary):
    """Deviance (returned), score ``X'(y - m mu)`` and Fisher information ``X'WX`` (p x p,
    symmetric) at the coefficients ``F[obeta:]``, into ``F[oscore:]`` and ``F[oinfo:]``;
    ``F[oeta:]``, ``F[ow:]`` and ``F[orr:]`` (n each) are work space.

    One ``exp`` and one ``log1p`` per row, shared by consecutive rows of equal linear
    predictor (every row at the start, where only the intercept is nonzero): the same values
    as their own. Every sum runs over the rows in order (the rows are the outer loop, the
    sums advance side by side).
    """
    _linear_predictor(F, I, ovals, obeta, oeta, n, p, binary)
    dev = 0.0
    prev = np.nan
    e = lg = inv = mu = 0.0
    for i in range(n):
        t = F[oeta + i]
        if t != prev:
            e = math.exp(-abs(t))
            lg = math.log1p(e)
            inv = 1.0 / (1.0 + e)
            mu = inv if t >= 0.0 else e * inv  # the same for -0.0 and 0.0
            prev = t
        dev += m[i] * (max(t, 0.0) + lg) - y[i] * t
        # mu * (1 - mu) without cancellation for large |eta|
        F[ow + i] = m[i] * e * inv * inv
        F[orr + i] = y[i] - m[i] * mu
    for j in range(p):
        F[oscore + j] = 0.0
    for jk in range(p * p):
        F[oinfo + jk] = 0.0
    for i in range(n):
        ri = F[orr + i]
        wi = F[ow + i]
        for a in range(I[n * p + i]):
            j = I[i * p + a]
            row = oinfo + j * p
            if binary:  # x = 1.0: x * r == r, (w * x) * x == w
                F[oscore + j] += ri
                for b in range(a + 1):
                    F[row + I[i * p + b]] += wi
            else:
                xj = F[ovals + i * p + a]
                F[oscore + j] += xj * ri
                wx = wi * xj
                for b in range(a + 1):
                    F[row + I[i * p + b]] += wx * F[ovals + i * p + b]
    for j in range(p):
        for k in range(j):
            F[oinfo + k * p + j] = F[oinfo + j * p + k]
    return 2.0 * dev


@_inline
def _max_abs(F, o, p):
    """``np.max(np.abs(F[o:o + p]))`` (nan if any element is nan)."""
    mx = abs(F[o])
    for j in range(p):
        v = abs(F[o + j])
        if v != v:
            return v
        if v > mx:
            mx = v
    return mx


@_njit
def newton_fit(X, y, m, max_iter, tol, F, I):
    """``logistic.fit_binomial``'s iteration on ``X`` (n, p), ``y`` and ``m`` (n,), in the
    flat work arrays ``F`` (float64) and ``I`` (int64), at least ``fit_sizes(n, p)`` long.

    Returns
    -------
    obeta : int
        Offset of the coefficients in ``F`` (p floats); the covariance is the p x p matrix
        at ``F[cov_offset(p):]``. Both meaningful only when converged.
    converged : bool
    """
    n, p = X.shape
    # offsets: two of each of beta, score and information (each Newton step writes the
    # "new" ones, then swaps them in), the step, solve work, the factor, the covariance
    ob, onb = 0, p
    osc, onsc = 2 * p, 3 * p
    ostep, oz, oacc = 4 * p, 5 * p, 6 * p
    oinfo, oninfo = 7 * p, 7 * p + p * p
    oL, ocov, ozz = 7 * p + 2 * p * p, 7 * p + 3 * p * p, 7 * p + 4 * p * p
    oeta = 7 * p + 5 * p * p
    ow, orr, ovals = oeta + n, oeta + 2 * n, oeta + 3 * n
    if n == 0 or p == 0:
        return ob, False
    for j in range(7 * p + 5 * p * p):  # the coefficients start at 0
        F[j] = 0.0
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
        F[ob] = math.log(ysum / (msum - ysum))
    binary = _active_columns(X, F, I, ovals, n, p)
    dev = _evaluate(F, I, y, m, ovals, ob, oeta, ow, orr, osc, oinfo, n, p, binary)
    converged = False
    for _ in range(max_iter):
        if not cholesky_flat(F, oinfo, oL, p):
            return ob, False
        cholesky_solve_flat(F, oL, osc, oz, ostep, p)
        # Step-halving: accept the first step length that does not increase
        # the deviance (up to rounding noise in the deviance itself).
        slack = 1e-12 * (abs(dev) + 1.0)
        t = 1.0
        for j in range(p):
            F[onb + j] = F[ob + j] + F[ostep + j]
        new_dev = _evaluate(F, I, y, m, ovals, onb, oeta, ow, orr, onsc, oninfo, n, p, binary)
        n_halve = 0
        while not (new_dev <= dev + slack) and n_halve < 60:
            t *= 0.5
            for j in range(p):
                F[onb + j] = F[ob + j] + t * F[ostep + j]
            new_dev = _deviance(F, I, y, m, ovals, onb, oeta, n, p, binary)
            n_halve += 1
        if not (new_dev <= dev + slack):
            # No step length improves the deviance: we sit at the optimum to
            # machine precision if the full Newton step was already tiny.
            if _max_abs(F, ostep, p) < 1e-6:
                converged = True
            break
        if n_halve > 0:
            new_dev = _evaluate(F, I, y, m, ovals, onb, oeta, ow, orr, onsc, oninfo, n, p,
                                binary)
        max_step = t * _max_abs(F, ostep, p)
        rel_change = abs(dev - new_dev) / (abs(new_dev) + 0.1)
        ob, onb = onb, ob
        dev = new_dev
        osc, onsc = onsc, osc
        oinfo, oninfo = oninfo, oinfo
        if not (_max_abs(F, ob, p) <= MAX_ABS_BETA):  # too large, infinite or nan
            return ob, False
        if max_step < tol or (rel_change < 1e-3 * tol and max_step < 1e-6):
            converged = True
            break
    if not converged:
        return ob, False
    # the information at the final coefficients
    if not cholesky_flat(F, oinfo, oL, p):
        return ob, False
    cholesky_inverse_flat(F, oL, ozz, ocov, oacc, p)
    for j in range(p):
        v = F[ocov + j * p + j]
        if not (v > 0.0) or not np.isfinite(v):
            return ob, False
    return ob, True


@_njit
def cov_offset(p):
    """Offset in ``newton_fit``'s floats of the covariance of a fit of ``p`` columns."""
    return 7 * p + 3 * p * p


# --- many fits on one design, side by side --------------------------------------------

#: ``newton_batch`` lane states
LANE_FAILED, LANE_CONVERGED, LANE_SCALAR = 0, 1, 2


class BatchWork(NamedTuple):
    """The work arrays of ``newton_batch`` for up to n rows, p columns and L lanes (lanes
    last), made once for many calls (``batch_work``)."""

    Y: np.ndarray  # (n, L): each lane's successes, then trials, per row
    M: np.ndarray
    eta: np.ndarray  # (n, L): linear predictor, exp(-|eta|), log1p of it, weights, residuals
    E: np.ndarray
    LG: np.ndarray
    w: np.ndarray
    r: np.ndarray
    beta: np.ndarray  # (p, L): coefficients, score, step, solve work (two of some)
    nbeta: np.ndarray
    score: np.ndarray
    nscore: np.ndarray
    step: np.ndarray
    z: np.ndarray
    info: np.ndarray  # (p * p, L): information (two), Cholesky factor
    ninfo: np.ndarray
    L: np.ndarray
    dev: np.ndarray  # (L,): deviance (two), running sums
    ndev: np.ndarray
    acc: np.ndarray
    ok: np.ndarray  # bool (L,)
    done: np.ndarray  # bool (L,)
    lane: np.ndarray  # int64 (L,): the lane in each slot
    final_info: np.ndarray  # (L, p * p): the information of each converged lane
    cols: np.ndarray  # int64 (n, p), (n,): each row's nonzero columns and their number
    count: np.ndarray


@_njit
def batch_work(n, p, n_lanes):
    """``BatchWork`` for up to ``n`` rows, ``p`` columns and ``n_lanes`` lanes."""
    L = n_lanes
    return BatchWork(np.empty((n, L)), np.empty((n, L)), np.empty((n, L)), np.empty((n, L)),
                     np.empty((n, L)), np.empty((n, L)), np.empty((n, L)), np.empty((p, L)),
                     np.empty((p, L)), np.empty((p, L)), np.empty((p, L)), np.empty((p, L)),
                     np.empty((p, L)), np.empty((p * p, L)), np.empty((p * p, L)),
                     np.empty((p * p, L)), np.empty(L), np.empty(L), np.empty(L),
                     np.empty(L, dtype=np.bool_), np.empty(L, dtype=np.bool_),
                     np.empty(L, dtype=np.int64), np.empty((L, p * p)),
                     np.empty((n, p), dtype=np.int64), np.empty(n, dtype=np.int64))


@_njit
def newton_batch(X, Y, M, max_iter, tol, beta_out, cov_out, status, wk):
    """``newton_fit`` of many fits (lanes) on one 0/1 design, side by side: each lane's
    arithmetic is ``newton_fit``'s, in the same order, so each lane's result is the one
    ``newton_fit`` gives on its own, to the last bit; the lanes advance together, so the
    arithmetic of one step runs in vector lanes (the exp and log1p of each lane stay the
    library's scalar ones).

    Parameters
    ----------
    X : ndarray of float64, shape (n, p)
        The design, 0/1 values only (rows already pooled).
    Y, M : ndarray of float64, shape (n, n_lanes)
        Each lane's successes and trials per row (lanes last).
    max_iter : int
    tol : float
    beta_out : ndarray of float64, shape (n_lanes, p)
    cov_out : ndarray of float64, shape (n_lanes, p, p)
        Each converged lane's coefficients and covariance.
    status : ndarray of int64, shape (n_lanes,)
        ``LANE_CONVERGED``, ``LANE_FAILED`` (not converged: ``newton_fit`` fails the same
        way) or ``LANE_SCALAR``: the step needs halving, which this does not do; run that
        lane's fit on its own (``newton_fit``), from the start.
    wk : BatchWork
        Work arrays (``batch_work``) of at least n rows, p columns and n_lanes lanes.
    """
    n, p = X.shape
    n_lanes = Y.shape[1]
    cols = wk.cols
    count = wk.count
    intercept = True
    for i in range(n):
        c = 0
        for j in range(p):
            if X[i, j] != 0.0:
                cols[i, c] = j
                c += 1
        count[i] = c
        if X[i, 0] != 1.0:
            intercept = False
    # lanes last; each slot holds a lane (``lane``), the active ones in 0 … na - 1
    Yw, Mw, eta, E, LG, w, r = wk.Y, wk.M, wk.eta, wk.E, wk.LG, wk.w, wk.r
    beta, nbeta, score, nscore, step, z = wk.beta, wk.nbeta, wk.score, wk.nscore, wk.step, wk.z
    info, ninfo, L = wk.info, wk.ninfo, wk.L
    dev, ndev, acc, ok, lane, final_info = wk.dev, wk.ndev, wk.acc, wk.ok, wk.lane, \
        wk.final_info
    for s in range(n_lanes):
        lane[s] = s
        status[s] = LANE_FAILED
        for i in range(n):
            Yw[i, s] = Y[i, s]
            Mw[i, s] = M[i, s]
        for j in range(p):
            beta[j, s] = 0.0
        # Start the intercept (column 0, if it is one) at the logit of the mean.
        ysum = 0.0
        msum = 0.0
        for i in range(n):
            ysum += Yw[i, s]
            msum += Mw[i, s]
        if intercept and 0.0 < ysum < msum:
            beta[0, s] = math.log(ysum / (msum - ysum))
    na = n_lanes
    source, start, rows = _cell_rows(X)
    _batch_evaluate(source, start, rows, cols, count, Yw, Mw, beta, eta, E, LG, w, r, score,
                    info, dev, na, n, p)
    it = 0
    while na > 0 and it < max_iter:
        it += 1
        _batch_cholesky(info, L, ok, acc, na, p)
        _batch_solve(L, score, z, step, acc, na, p)
        for j in range(p):
            for s in range(na):
                nbeta[j, s] = beta[j, s] + step[j, s]
        _batch_evaluate(source, start, rows, cols, count, Yw, Mw, nbeta, eta, E, LG, w, r,
                        nscore, ninfo, ndev, na, n, p)
        # each lane's decisions, as newton_fit takes them (its step length 1)
        done = wk.done
        for s in range(na):
            done[s] = False
        for s in range(na):
            if not ok[s]:  # not positive definite
                done[s] = True
                continue
            if not (ndev[s] <= dev[s] + 1e-12 * (abs(dev[s]) + 1.0)):
                status[lane[s]] = LANE_SCALAR  # step-halving: on its own
                done[s] = True
                continue
            max_step = 1.0 * _lane_max_abs(step, s, p)
            rel_change = abs(dev[s] - ndev[s]) / (abs(ndev[s]) + 0.1)
            if not (_lane_max_abs(nbeta, s, p) <= MAX_ABS_BETA):
                done[s] = True
            elif max_step < tol or (rel_change < 1e-3 * tol and max_step < 1e-6):
                status[lane[s]] = LANE_CONVERGED
                for j in range(p):
                    beta_out[lane[s], j] = nbeta[j, s]
                for jk in range(p * p):
                    final_info[lane[s], jk] = ninfo[jk, s]
                done[s] = True
        beta, nbeta = nbeta, beta
        score, nscore = nscore, score
        info, ninfo = ninfo, info
        dev, ndev = ndev, dev
        na = _compact(done, na, lane, beta, score, info, dev, Yw, Mw)
    # lanes left after max_iter did not converge (LANE_FAILED); the others' covariance,
    # side by side too
    nc = 0
    for e in range(n_lanes):
        if status[e] == LANE_CONVERGED:
            lane[nc] = e
            for jk in range(p * p):
                info[jk, nc] = final_info[e, jk]
            nc += 1
    _batch_cholesky(info, L, ok, acc, nc, p)
    _batch_inverse(L, ninfo, score, info, nc, p)  # (the inverse over the information)
    for s in range(nc):
        e = lane[s]
        if not ok[s]:
            status[e] = LANE_FAILED
            continue
        for j in range(p):
            v = info[j * p + j, s]
            if not (v > 0.0) or not np.isfinite(v):
                status[e] = LANE_FAILED
        for j in range(p):
            for k in range(p):
                cov_out[e, j, k] = info[j * p + k, s]


@_inline
def _batch_inverse(L, z, acc, inv, na, p):
    """``cholesky_inverse_flat`` of each lane's factor ``L[:, s]`` into ``inv[:, s]``
    (p * p, lanes), with ``z`` (p * p, lanes) and ``acc`` (at least p rows, lanes) as work
    space; each lane's sums in that function's order."""
    for i in range(p):
        for j in range(p):
            for s in range(na):
                acc[j, s] = 1.0 if i == j else 0.0
        for k in range(i):
            ik = i * p + k
            for j in range(p):
                for s in range(na):
                    acc[j, s] -= L[ik, s] * z[k * p + j, s]
        for j in range(p):
            for s in range(na):
                z[i * p + j, s] = acc[j, s] / L[i * p + i, s]
    for i in range(p - 1, -1, -1):
        for j in range(p):
            for s in range(na):
                acc[j, s] = z[i * p + j, s]
        for k in range(i + 1, p):
            ki = k * p + i
            for j in range(p):
                for s in range(na):
                    acc[j, s] -= L[ki, s] * inv[k * p + j, s]
        for j in range(p):
            for s in range(na):
                inv[i * p + j, s] = acc[j, s] / L[i * p + i, s]
    for i in range(p):
        for j in range(i + 1, p):
            for s in range(na):
                v = 0.5 * (inv[i * p + j, s] + inv[j * p + i, s])
                inv[i * p + j, s] = v
                inv[j * p + i, s] = v


@_njit
def _cell_rows(X):
    """The sums of the information of a 0/1 design ``X`` (n, p): cell ``j * p + k``
    (k <= j) sums the weights of the rows where columns j and k are both 1, in the order of
    the rows. Cells over the same rows have the same sum, so each is computed once: the
    first cell of its rows (in the order j, k) holds them, ``rows[start[c]:start[c + 1]]``;
    ``source[c]`` is that first cell (-1: no rows, the sum is 0.0)."""
    n, p = X.shape
    nw = (n + 63) // 64
    col = np.zeros((p, nw), dtype=np.uint64)  # each column's rows, as bits
    for i in range(n):
        bit = np.uint64(1) << np.uint64(i % 64)
        for j in range(p):
            if X[i, j] != 0.0:
                col[j, i // 64] |= bit
    canon = np.empty((p * p, nw), dtype=np.uint64)  # the rows of each first cell
    first = np.empty(p * p, dtype=np.int64)
    n_canon = 0
    source = np.full(p * p, -1, dtype=np.int64)
    start = np.zeros(p * p + 1, dtype=np.int64)
    rows = np.empty(n * p * (p + 1) // 2, dtype=np.int64)
    cell = np.empty(nw, dtype=np.uint64)
    pos = 0
    for j in range(p):
        for k in range(j + 1):
            c = j * p + k
            start[c] = pos
            empty = True
            for v in range(nw):
                cell[v] = col[j, v] & col[k, v]
                if cell[v] != 0:
                    empty = False
            if not empty:
                for q in range(n_canon):
                    same = True
                    for v in range(nw):
                        if canon[q, v] != cell[v]:
                            same = False
                            break
                    if same:
                        source[c] = first[q]
                        break
                if source[c] < 0:
                    source[c] = c
                    first[n_canon] = c
                    for v in range(nw):
                        canon[n_canon, v] = cell[v]
                    n_canon += 1
                    for i in range(n):
                        if (cell[i // 64] >> np.uint64(i % 64)) & np.uint64(1):
                            rows[pos] = i
                            pos += 1
            start[c + 1] = pos
    return source, start, rows


@_inline
def _batch_evaluate(source, start, rows, cols, count, Y, M, B, eta, E, LG, w, r, score, info,
                    dev, na, n, p):
    """``_evaluate`` (0/1 design) of lanes 0 … na - 1 at their coefficients ``B`` (p, lanes):
    deviance into ``dev``, score and information into ``score`` (p, lanes) and ``info``
    (p * p, lanes); the sums advance side by side over the lanes, each lane's in the order
    of the rows. The information's sums by ``_cell_rows``."""
    for i in range(n):
        for s in range(na):
            eta[i, s] = 0.0
        for a in range(count[i]):
            c = cols[i, a]
            for s in range(na):
                eta[i, s] += B[c, s]
    for s in range(na):  # the library's exp and log1p, shared by equal eta in a run of rows
        prev = np.nan
        e = lg = 0.0
        for i in range(n):
            t = eta[i, s]
            if t != prev:
                e = math.exp(-abs(t))
                lg = math.log1p(e)
                prev = t
            E[i, s] = e
            LG[i, s] = lg
    for s in range(na):
        dev[s] = 0.0
    for i in range(n):
        for s in range(na):
            t = eta[i, s]
            e = E[i, s]
            inv = 1.0 / (1.0 + e)
            mu = inv if t >= 0.0 else e * inv
            dev[s] += M[i, s] * (max(t, 0.0) + LG[i, s]) - Y[i, s] * t
            # mu * (1 - mu) without cancellation for large |eta|
            w[i, s] = M[i, s] * e * inv * inv
            r[i, s] = Y[i, s] - M[i, s] * mu
    for s in range(na):
        dev[s] = 2.0 * dev[s]
    for j in range(p):
        for s in range(na):
            score[j, s] = 0.0
        src = source[j * p + j]  # the rows of column j
        if src < 0:
            continue
        for q in range(start[src], start[src + 1]):
            i = rows[q]
            for s in range(na):
                score[j, s] += r[i, s]
    for j in range(p):
        for k in range(j + 1):
            c = j * p + k
            src = source[c]
            if src == c:
                for s in range(na):
                    info[c, s] = 0.0
                for q in range(start[c], start[c + 1]):
                    i = rows[q]
                    for s in range(na):
                        info[c, s] += w[i, s]
            elif src < 0:
                for s in range(na):
                    info[c, s] = 0.0
            else:
                for s in range(na):
                    info[c, s] = info[src, s]
            for s in range(na):
                info[k * p + j, s] = info[c, s]


@_inline
def _batch_cholesky(A, L, ok, acc, na, p):
    """``cholesky_flat`` of each lane's ``A[:, s]`` into ``L[:, s]``, each lane's sums in its
    order (the lanes innermost, running sums in ``acc``); ``ok[s]`` False where it fails
    (the lane's factor is then garbage)."""
    for s in range(na):
        ok[s] = True
    for j in range(p):
        jj = j * p + j
        for s in range(na):
            ajj = A[jj, s]
            if not (ajj > 0.0) or not np.isfinite(ajj):
                ok[s] = False
            acc[s] = ajj
        for k in range(j):
            jk = j * p + k
            for s in range(na):
                acc[s] -= L[jk, s] * L[jk, s]
        for s in range(na):
            d = acc[s]
            if not (d > PIVOT_RTOL * A[jj, s]):
                ok[s] = False
                d = 1.0
            L[jj, s] = math.sqrt(d)
        for i in range(j + 1, p):
            ij = i * p + j
            for s in range(na):
                acc[s] = A[ij, s]
            for k in range(j):
                ik = i * p + k
                jk = j * p + k
                for s in range(na):
                    acc[s] -= L[ik, s] * L[jk, s]
            for s in range(na):
                L[ij, s] = acc[s] / L[jj, s]


@_inline
def _batch_solve(L, b, z, x, acc, na, p):
    """``cholesky_solve_flat`` of each lane, each lane's sums in its order (running sums in
    ``acc``)."""
    for i in range(p):
        for s in range(na):
            acc[s] = b[i, s]
        for k in range(i):
            ik = i * p + k
            for s in range(na):
                acc[s] -= L[ik, s] * z[k, s]
        for s in range(na):
            z[i, s] = acc[s] / L[i * p + i, s]
    for i in range(p - 1, -1, -1):
        for s in range(na):
            acc[s] = z[i, s]
        for k in range(i + 1, p):
            ki = k * p + i
            for s in range(na):
                acc[s] -= L[ki, s] * x[k, s]
        for s in range(na):
            x[i, s] = acc[s] / L[i * p + i, s]


@_inline
def _lane_max_abs(A, s, p):
    """``_max_abs`` of lane ``s`` of ``A`` (p, lanes)."""
    mx = abs(A[0, s])
    for j in range(p):
        v = abs(A[j, s])
        if v != v:
            return v
        if v > mx:
            mx = v
    return mx


@_inline
def _compact(done, na, lane, beta, score, info, dev, Y, M):
    """Move the lanes still running to slots 0 … (returned count) - 1, in order."""
    k = 0
    for s in range(na):
        if done[s]:
            continue
        if k != s:
            lane[k] = lane[s]
            dev[k] = dev[s]
            for j in range(beta.shape[0]):
                beta[j, k] = beta[j, s]
                score[j, k] = score[j, s]
            for jk in range(info.shape[0]):
                info[jk, k] = info[jk, s]
            for i in range(Y.shape[0]):
                Y[i, k] = Y[i, s]
                M[i, k] = M[i, s]
        k += 1
    return k
