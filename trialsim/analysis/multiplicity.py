"""Familywise error control over several hypotheses of one trial (doses x endpoints).

Each procedure takes one trial's vector of ``m`` p-values (one- or two-sided: the procedures
only compare them) and a level ``alpha``, and returns which hypotheses it rejects and their
adjusted p-values (the smallest level at which each would be rejected, capped at 1).
:func:`multiplicity_adjust` dispatches on a :class:`MultiplicityParams` record and
:func:`multiplicity_adjust_trials` does a whole batch, p of shape ``(n_trials, m)``.

* **Bonferroni** (weighted): reject ``H_i`` when ``p_i <= w_i alpha``; adjusted
  ``min(1, p_i / w_i)``.
* **Holm** (weighted, Holm 1979): step down in order of ``p_i / w_i``; with ``A`` the
  hypotheses not yet rejected, ``H_j`` is rejected when ``p_j <= alpha S w_j / W_A``
  (``W_A`` the weight of ``A``, ``S`` the sum of all weights); the first failure stops. With
  ``S = 1`` and equal weights this is Holm's ``p_(k) <= alpha / (m - k + 1)``; with ``S < 1``
  the procedure spends ``S alpha`` at every step (it is the graphical procedure of
  ``holm_graph(m, weights)``).
* **Hochberg** (unweighted step-up, Hochberg 1988): the largest ``k`` with
  ``p_(k) <= alpha / (m - k + 1)`` rejects ``H_(1) .. H_(k)``. Its FWER control needs
  independent or positively dependent test statistics (Sarkar 1998).
* **Fixed sequence**: test ``H_order[0]`` at ``alpha``, then the next, as long as each is
  rejected; adjusted p of the k-th is the largest p among the first k.
* **Graphical** (Bretz, Maurer, Brannath & Posch, Stat Med 2009;28:586): initial weights
  ``w`` (sum <= 1) and a transition matrix ``G`` (zero diagonal, rows summing to <= 1). A
  hypothesis with ``p_j <= w_j alpha`` is rejected and its weight passed on along its edges,
  ``w_l += w_j g_jl``, while the graph is rewired around it, ``g_lk = (g_lk + g_lj g_jk) /
  (1 - g_lj g_jl)`` (0 when ``g_lj g_jl = 1``): :func:`remove_hypothesis`, the paper's
  Algorithm 1 (:func:`graphical_reject`); the adjusted p-values follow its adjusted p-value
  algorithm (:func:`graphical_adjusted`). Holm, fixed sequence, fallback and gatekeeping
  procedures are special graphs (:func:`holm_graph`, :func:`fixed_sequence_graph`,
  :func:`hierarchy_graph`).
* **None**: reject ``p_i <= alpha``; adjusted = p (no multiplicity control).

Conventions
-----------
* Rejection is ``<=`` (a p-value equal to its critical value rejects), as in the paper and in
  statsmodels' ``multipletests``. The comparisons allow a relative :data:`BOUNDARY_RTOL`:
  ``p / (1/3)``, ``3 p`` and ``p <= alpha / 3`` are equal in exact arithmetic but not in
  floating point, and a p-value on a critical value gets the same decision whichever way
  the procedure computes it (graphicalMCP rounds adjusted p-values to 10 digits for the same
  reason). Every kernel decides from the same number it reports: a hypothesis is rejected
  exactly when its adjusted p-value is ``<= alpha (1 + BOUNDARY_RTOL)``.
* A hypothesis of weight 0 is never rejected at that step, even with ``p = 0`` (its ratio
  ``p / w`` is taken as infinite); it can be rejected once it has received weight.
* A nan p-value (a test that could not be computed) is treated as 1 by the procedure: it is
  never rejected and passes no alpha on; its adjusted p-value is nan.
* Among hypotheses tied in ``p / w`` the lower index goes first. Algorithm 1 may reject any
  hypothesis below its critical value (the paper shows the result does not depend on the
  choice); :func:`graphical_reject` takes the smallest ``p_j / w_j``, the order of the
  adjusted p-value algorithm, so the two agree to the last bit.

Procedure kernels expect p-values in [0, 1] without nan; the dispatcher handles nan. Input is
validated once, at the edge, by :func:`multiplicity_params`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from trialsim.config.multiplicity import (
    PROCEDURES,
    as_number,
    check_multiplicity,
    check_order,
    check_weights,
)
from trialsim.config.scenario import parse_hypothesis
from trialsim.core.jit import jit

__all__ = [
    "PROCEDURES", "NONE", "BONFERRONI", "HOLM", "HOCHBERG", "FIXED_SEQUENCE", "GRAPHICAL",
    "BOUNDARY_RTOL", "MultiplicityParams", "multiplicity_params",
    "bonferroni", "holm", "hochberg", "fixed_sequence", "graphical", "graphical_reject",
    "graphical_adjusted", "remove_hypothesis", "multiplicity_adjust",
    "multiplicity_adjust_trials", "holm_graph", "fixed_sequence_graph", "hierarchy_graph",
    "MultiplicityPlan", "multiplicity_plan", "one_sided_p_values", "trial_rejections",
]

NONE, BONFERRONI, HOLM, HOCHBERG, FIXED_SEQUENCE, GRAPHICAL = range(len(PROCEDURES))

#: relative tolerance of "p at its critical value" (module docstring, Conventions)
BOUNDARY_RTOL = 1e-10
#: the scenario's ``analysis.alpha`` default (two-sided p-values)
DEFAULT_ALPHA = 0.05


class MultiplicityParams(NamedTuple):
    """A multiplicity procedure as the kernels read it (build it with
    :func:`multiplicity_params`). Fields a procedure does not use hold neutral values: equal
    weights, a zero transition matrix, the identity order."""

    procedure: int  # index in PROCEDURES
    weights: np.ndarray  # (m,) float64, >= 0, sum <= 1 (bonferroni, holm, graphical)
    transitions: np.ndarray  # (m, m) float64, zero diagonal, rows sum <= 1 (graphical)
    order: np.ndarray  # (m,) int64, a permutation of 0..m-1 (fixed_sequence)
    alpha: float  # in (0, 1)


# ---------------------------------------------------------------------------- the kernels


@jit
def _critical(alpha):
    """The largest adjusted p-value still rejected at level ``alpha`` (BOUNDARY_RTOL)."""
    return alpha * (1.0 + BOUNDARY_RTOL)


@jit
def _ratio(p, w):
    """``p / w``, the level at which a hypothesis of weight ``w`` is rejected; infinite
    without weight."""
    if w > 0.0:
        return p / w
    return np.inf


@jit
def _stable_order(key):
    """Indices that sort ``key`` ascending, ties in index order (an insertion sort: a trial
    has a handful of hypotheses, and ``np.argsort(kind="mergesort")`` costs seconds to
    compile)."""
    m = key.size
    idx = np.arange(m)
    for i in range(1, m):
        v = idx[i]
        k = i
        while k > 0 and key[idx[k - 1]] > key[v]:
            idx[k] = idx[k - 1]
            k -= 1
        idx[k] = v
    return idx


@jit
def bonferroni(p, weights, alpha):
    """Weighted Bonferroni test of ``m`` hypotheses.

    Parameters
    ----------
    p : ndarray of float64, shape (m,)
        p-values in [0, 1].
    weights : ndarray of float64, shape (m,)
        Shares of ``alpha``, >= 0, summing to at most 1 (``np.full(m, 1 / m)``: Bonferroni).
    alpha : float

    Returns
    -------
    reject : ndarray of bool, shape (m,)
        ``p_i <= w_i alpha``.
    adjusted : ndarray of float64, shape (m,)
        ``min(1, p_i / w_i)`` (1 for a hypothesis of weight 0).
    """
    m = p.size
    crit = _critical(alpha)
    reject = np.zeros(m, dtype=np.bool_)
    adjusted = np.empty(m)
    for i in range(m):
        r = _ratio(p[i], weights[i])
        reject[i] = r <= crit
        adjusted[i] = min(r, 1.0)
    return reject, adjusted


@jit
def holm(p, weights, alpha):
    """Weighted Holm step-down test (module docstring).

    Parameters
    ----------
    p : ndarray of float64, shape (m,)
    weights : ndarray of float64, shape (m,)
        >= 0, summing to ``S`` in (0, 1]; equal weights give Holm's procedure.
    alpha : float

    Returns
    -------
    reject : ndarray of bool, shape (m,)
    adjusted : ndarray of float64, shape (m,)
        The running maximum, in step order, of ``p_j W_A / (S w_j)``, capped at 1.
    """
    m = p.size
    key = np.empty(m)
    for i in range(m):
        key[i] = _ratio(p[i], weights[i])
    steps = _stable_order(key)  # ties: the lower index first
    remaining = np.empty(m)  # remaining[k]: weight of the hypotheses of steps k..m-1
    acc = 0.0
    for k in range(m - 1, -1, -1):
        acc += weights[steps[k]]
        remaining[k] = acc
    total = remaining[0] if m > 0 else 1.0
    level = np.empty(m)  # level[k]: step k's hypothesis rejected at alpha >= level[k]
    for k in range(m):
        j = steps[k]
        level[k] = key[j] * (remaining[k] / total) if key[j] < np.inf else np.inf
    crit = _critical(alpha)
    reject = np.zeros(m, dtype=np.bool_)
    for k in range(m):  # step down: stop at the first hypothesis not rejected
        if level[k] > crit:
            break
        reject[steps[k]] = True
    adjusted = np.empty(m)
    running = 0.0
    for k in range(m):
        running = max(running, level[k])
        adjusted[steps[k]] = min(running, 1.0)
    return reject, adjusted


@jit
def hochberg(p, alpha):
    """Hochberg's step-up test (unweighted).

    Parameters
    ----------
    p : ndarray of float64, shape (m,)
    alpha : float

    Returns
    -------
    reject : ndarray of bool, shape (m,)
        ``H_(1) .. H_(k)`` for the largest ``k`` with ``(m - k + 1) p_(k) <= alpha``.
    adjusted : ndarray of float64, shape (m,)
        ``min over j >= k of (m - j + 1) p_(j)``, capped at 1.
    """
    m = p.size
    steps = _stable_order(p)
    level = np.empty(m)
    for k in range(m):
        level[k] = p[steps[k]] * (m - k)
    crit = _critical(alpha)
    reject = np.zeros(m, dtype=np.bool_)
    last = -1  # step up: the largest step whose own level is below the critical value
    for k in range(m - 1, -1, -1):
        if level[k] <= crit:
            last = k
            break
    for k in range(last + 1):
        reject[steps[k]] = True
    adjusted = np.empty(m)
    running = np.inf
    for k in range(m - 1, -1, -1):
        running = min(running, level[k])
        adjusted[steps[k]] = min(running, 1.0)
    return reject, adjusted


@jit
def fixed_sequence(p, order, alpha):
    """Fixed-sequence test: each hypothesis at full ``alpha``, in ``order``, while rejecting.

    Parameters
    ----------
    p : ndarray of float64, shape (m,)
    order : ndarray of int64, shape (m,)
        A permutation of ``0 .. m-1``: ``order[0]`` is tested first.
    alpha : float

    Returns
    -------
    reject : ndarray of bool, shape (m,)
    adjusted : ndarray of float64, shape (m,)
        The largest p-value up to and including the hypothesis, in ``order``.
    """
    m = p.size
    crit = _critical(alpha)
    reject = np.zeros(m, dtype=np.bool_)
    for k in range(m):
        if p[order[k]] > crit:
            break
        reject[order[k]] = True
    adjusted = np.empty(m)
    running = 0.0
    for k in range(m):
        running = max(running, p[order[k]])
        adjusted[order[k]] = min(running, 1.0)
    return reject, adjusted


@jit
def remove_hypothesis(j, weights, transitions, active):
    """Take hypothesis ``j`` out of a graph (Bretz et al. 2009, Algorithm 1, step 2), in place.

    ``w_l += w_j g_jl`` for every remaining ``l``; ``g_lk = (g_lk + g_lj g_jk) /
    (1 - g_lj g_jl)`` for remaining ``l != k`` (0 when ``g_lj g_jl = 1``), all from the
    transitions before the update; ``j``'s weight, row and column become 0.

    Parameters
    ----------
    j : int
    weights : ndarray of float64, shape (m,)
    transitions : ndarray of float64, shape (m, m)
    active : ndarray of bool, shape (m,)
        The hypotheses still in the graph; ``active[j]`` is set False.
    """
    m = weights.size
    wj = weights[j]
    for k in range(m):
        if active[k] and k != j:
            weights[k] += wj * transitions[j, k]
    updated = np.zeros((m, m))
    for i in range(m):
        if not active[i] or i == j:
            continue
        loop = transitions[i, j] * transitions[j, i]
        if loop >= 1.0:
            continue  # i and j pass all to each other: i's edges now lead nowhere
        for k in range(m):
            if active[k] and k != j and k != i:
                updated[i, k] = (transitions[i, k] + transitions[i, j] * transitions[j, k]) / (
                    1.0 - loop)
    for i in range(m):  # (an explicit loop: a 2-d slice assignment costs seconds to compile)
        for k in range(m):
            transitions[i, k] = updated[i, k]
    weights[j] = 0.0
    active[j] = False


@jit
def _next_hypothesis(p, weights, active):
    """The remaining hypothesis of smallest ``p / w`` (the lower index on ties) and that
    ratio."""
    best = -1
    level = np.inf
    for i in range(p.size):
        if active[i]:
            r = _ratio(p[i], weights[i])
            if best < 0 or r < level:
                best = i
                level = r
    return best, level


@jit
def graphical_reject(p, weights, transitions, alpha):
    """The sequentially rejective graphical test (Bretz et al. 2009, Algorithm 1).

    While some remaining hypothesis has ``p_j <= w_j alpha``, reject the one of smallest
    ``p_j / w_j`` and remove it from the graph (:func:`remove_hypothesis`).

    Parameters
    ----------
    p : ndarray of float64, shape (m,)
    weights : ndarray of float64, shape (m,)
        Initial weights, >= 0, sum <= 1.
    transitions : ndarray of float64, shape (m, m)
        Zero diagonal, entries >= 0, rows summing to <= 1.
    alpha : float

    Returns
    -------
    reject : ndarray of bool, shape (m,)
    """
    m = p.size
    w = weights.copy()
    g = transitions.copy()
    active = np.ones(m, dtype=np.bool_)
    reject = np.zeros(m, dtype=np.bool_)
    crit = _critical(alpha)
    for _ in range(m):
        j, level = _next_hypothesis(p, w, active)
        if level > crit:
            break
        reject[j] = True
        remove_hypothesis(j, w, g, active)
    return reject


@jit
def graphical_adjusted(p, weights, transitions):
    """Adjusted p-values of the graphical test (Bretz et al. 2009, the adjusted p-value
    algorithm of section 3).

    Remove every hypothesis in turn, each time the one of smallest ``p_j / w_j`` in the
    current graph; its adjusted p-value is the largest such ratio so far, capped at 1.

    Parameters
    ----------
    p, weights, transitions
        As :func:`graphical_reject`.

    Returns
    -------
    adjusted : ndarray of float64, shape (m,)
    """
    m = p.size
    w = weights.copy()
    g = transitions.copy()
    active = np.ones(m, dtype=np.bool_)
    adjusted = np.empty(m)
    running = 0.0
    for _ in range(m):
        j, level = _next_hypothesis(p, w, active)
        running = max(running, level)
        adjusted[j] = min(running, 1.0)
        remove_hypothesis(j, w, g, active)
    return adjusted


@jit
def graphical(p, weights, transitions, alpha):
    """The graphical test: rejections by :func:`graphical_reject`, adjusted p-values by
    :func:`graphical_adjusted`; returns ``(reject, adjusted)``."""
    return (graphical_reject(p, weights, transitions, alpha),
            graphical_adjusted(p, weights, transitions))


@jit
def _unadjusted(p, alpha):
    crit = _critical(alpha)
    reject = np.zeros(p.size, dtype=np.bool_)
    adjusted = np.empty(p.size)
    for i in range(p.size):
        reject[i] = p[i] <= crit
        adjusted[i] = p[i]
    return reject, adjusted


@jit
def multiplicity_adjust(p, mp):
    """One trial's hypotheses under the procedure of ``mp``.

    Parameters
    ----------
    p : ndarray of float64, shape (m,)
        p-values; nan (a test not computed) counts as 1 and gets a nan adjusted p-value.
    mp : MultiplicityParams

    Returns
    -------
    reject : ndarray of bool, shape (m,)
    adjusted : ndarray of float64, shape (m,)
    """
    m = p.size
    q = np.empty(m)
    for i in range(m):
        q[i] = 1.0 if np.isnan(p[i]) else p[i]
    if mp.procedure == BONFERRONI:
        reject, adjusted = bonferroni(q, mp.weights, mp.alpha)
    elif mp.procedure == HOLM:
        reject, adjusted = holm(q, mp.weights, mp.alpha)
    elif mp.procedure == HOCHBERG:
        reject, adjusted = hochberg(q, mp.alpha)
    elif mp.procedure == FIXED_SEQUENCE:
        reject, adjusted = fixed_sequence(q, mp.order, mp.alpha)
    elif mp.procedure == GRAPHICAL:
        reject, adjusted = graphical(q, mp.weights, mp.transitions, mp.alpha)
    else:
        reject, adjusted = _unadjusted(q, mp.alpha)
    for i in range(m):
        if np.isnan(p[i]):
            adjusted[i] = np.nan
    return reject, adjusted


@jit
def multiplicity_adjust_trials(p, mp):
    """:func:`multiplicity_adjust` for each row of ``p`` (n_trials, m): returns ``reject``
    (n_trials, m) bool and ``adjusted`` (n_trials, m) float64."""
    n, m = p.shape
    reject = np.zeros((n, m), dtype=np.bool_)
    adjusted = np.empty((n, m))
    for t in range(n):
        r, a = multiplicity_adjust(p[t], mp)
        for i in range(m):  # (element by element: row slice assignments are slow to compile)
            reject[t, i] = r[i]
            adjusted[t, i] = a[i]
    return reject, adjusted


# ------------------------------------------------------- building and checking the record


def multiplicity_params(
    procedure: str,
    hypotheses: int | Sequence[str],
    *,
    alpha: float = DEFAULT_ALPHA,
    weights: Sequence[float] | None = None,
    transitions: Sequence[Sequence[float]] | None = None,
    order: Sequence[int | str] | None = None,
) -> MultiplicityParams:
    """Check a multiplicity procedure given as plain values and build its kernel record.

    Parameters
    ----------
    procedure : str
        One of :data:`PROCEDURES`.
    hypotheses : int or sequence of str
        The number of hypotheses, or their names (distinct; named in error messages, and
        usable in ``order``).
    alpha : float
        Familywise level, in (0, 1).
    weights : sequence of float, optional
        Shares of alpha, >= 0, summing to at most 1 (and to more than 0). Bonferroni and Holm:
        equal by default; graphical: required; none of the other procedures takes weights.
    transitions : sequence of sequences of float, optional
        Graphical only, and required there: row ``i`` gives the shares of ``H_i``'s alpha
        passed to each other hypothesis when ``H_i`` is rejected (``m`` rows of ``m``
        entries, >= 0, zero diagonal, each row summing to at most 1).
    order : sequence of int or str, optional
        Fixed sequence only: the testing order, a permutation of the hypotheses (indices or
        names); the listed order by default.

    Returns
    -------
    MultiplicityParams

    Raises
    ------
    ValueError
        Naming the entry at fault, its value and what is allowed.
    """
    code, w, g, o, a = check_multiplicity(procedure, hypotheses, alpha, weights, transitions,
                                          order)
    return MultiplicityParams(procedure=code, weights=w, transitions=g, order=o, alpha=a)


# ------------------------------------------------------------------------- common graphs


def holm_graph(m: int, weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The graph of (weighted) Holm: ``g_ij = w_j / (S - w_i)``, ``S`` the sum of the weights.

    With equal weights (the default) every edge is ``1 / (m - 1)``: a rejected hypothesis
    passes its alpha equally to all others (gMCP's ``BonferroniHolm(m)``). With weights, the
    remaining hypotheses share a rejected one's alpha in proportion to their weights, which
    is the weighted Holm procedure of :func:`holm` (module docstring).

    Returns
    -------
    weights : ndarray of float64, shape (m,)
    transitions : ndarray of float64, shape (m, m)
    """
    if int(m) != m or m < 1:
        raise ValueError(f"m = {m!r}: a graph needs at least one hypothesis")
    m = int(m)
    w = np.full(m, 1.0 / m) if weights is None else check_weights(weights, m, None)
    total = math.fsum(w)
    g = np.zeros((m, m))
    for i in range(m):
        rest = total - w[i]
        if rest > 0.0:
            for j in range(m):
                if j != i:
                    g[i, j] = w[j] / rest
    return w, g


def fixed_sequence_graph(order: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The graph of the fixed sequence ``order`` (a permutation of ``0 .. m-1``): all weight on
    ``order[0]``, an edge of 1 from each hypothesis to the next; the last passes nothing.

    Returns
    -------
    weights : ndarray of float64, shape (m,)
    transitions : ndarray of float64, shape (m, m)
    """
    m = len(order)
    if m < 1:
        raise ValueError("order is empty: a graph needs at least one hypothesis")
    o = check_order(order, m, None)
    w = np.zeros(m)
    w[o[0]] = 1.0
    g = np.zeros((m, m))
    for k in range(m - 1):
        g[o[k], o[k + 1]] = 1.0
    return w, g


def hierarchy_graph(
    n_doses: int,
    n_endpoints: int,
    dose_weights: Sequence[float] | None = None,
    gamma: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Doses (or comparisons) tested in parallel, each down its own chain of endpoints.

    Hypothesis ``d * n_endpoints + e`` is dose ``d`` on endpoint ``e`` (dose-major: names
    ``[f"{dose}.{endpoint}" for dose in doses for endpoint in endpoints]``). The initial alpha
    sits on the primaries (``e = 0``): ``dose_weights``, equal by default. When a hypothesis
    is rejected its alpha goes

    * from an endpoint that is not its dose's last: ``1 - gamma`` to the next endpoint of the
      same dose, ``gamma`` to the same endpoint of the other doses (split equally);
    * from a dose's last endpoint: all of it to the other doses' primaries (split equally),
      so a dose whose hypotheses are all rejected hands its alpha on to the others.

    Two doses and three endpoints are the two graphs of Bretz et al. 2009, Figure 14:
    ``gamma = 0`` and ``gamma = 1/2`` (gMCP's ``BretzEtAl2009a`` and ``BretzEtAl2009b``,
    there in endpoint-major order). Two doses and two endpoints are Maurer, Glimm & Bretz's
    successive graphs (gMCP's ``simpleSuccessiveI`` for ``gamma = 0``,
    ``generalSuccessive(gamma, delta=gamma)``). One dose is a fixed sequence down its
    endpoints; one endpoint with equal dose weights is Holm
    over the doses (:func:`holm_graph`).

    Parameters
    ----------
    n_doses, n_endpoints : int
        At least 1 each.
    dose_weights : sequence of float, optional
        Initial weight of each dose's primary (>= 0, sum <= 1); equal by default.
    gamma : float
        In [0, 1]; must be 0 with one dose (no other dose to pass to) or one endpoint (no
        chain to split with).

    Returns
    -------
    weights : ndarray of float64, shape (n_doses * n_endpoints,)
    transitions : ndarray of float64, shape (n_doses * n_endpoints, n_doses * n_endpoints)
    """
    for name, v in (("n_doses", n_doses), ("n_endpoints", n_endpoints)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} = {v!r} must be a whole number >= 1")
    D, E = int(n_doses), int(n_endpoints)
    gam = as_number("gamma", gamma)
    if not 0.0 <= gam <= 1.0:
        raise ValueError(f"gamma = {gam} is outside [0, 1]")
    if gam > 0.0 and (D == 1 or E == 1):
        raise ValueError(f"gamma = {gam} must be 0 with {D} dose(s) and {E} endpoint(s): "
                         f"it is the share a non-final endpoint passes to the other doses")
    dw = (np.full(D, 1.0 / D) if dose_weights is None
          else check_weights(dose_weights, D, None, "dose_weights"))
    m = D * E
    w = np.zeros(m)
    g = np.zeros((m, m))
    others = [[o for o in range(D) if o != d] for d in range(D)]
    for d in range(D):
        w[d * E] = dw[d]
        for e in range(E):
            i = d * E + e
            if e < E - 1:
                g[i, i + 1] = 1.0 - gam
                for o in others[d]:
                    g[i, o * E + e] = gam / (D - 1)
            else:
                for o in others[d]:
                    g[i, o * E] = 1.0 / (D - 1)
    return w, g


# ------------------------------------------------------------------------- in a scenario


class MultiplicityPlan(NamedTuple):
    """A scenario's ``analysis.multiplicity`` (``multiplicity_plan``)."""

    params: MultiplicityParams  # at one-sided level analysis.alpha / 2
    names: list[str]  # the hypotheses as the scenario names them
    target: np.ndarray  # (m,) int64: each hypothesis's (endpoint, week) target
    comparison: np.ndarray  # (m,) int64: and comparison
    success: list[int]  # the ``success`` subset (indices), empty without one


def multiplicity_plan(scenario, targets, comparisons) -> MultiplicityPlan | None:
    """The procedure of ``scenario.analysis.multiplicity`` over its hypotheses, located
    among the run's ``targets`` ((endpoint, week) pairs) and ``comparisons`` (names), or None.
    The scenario was validated (``config.scenario``), so every hypothesis exists."""
    mult = scenario.analysis.multiplicity
    if mult is None:
        return None
    first_week = scenario.design.endpoint_weeks[0]
    target, comparison = [], []
    for h in mult.hypotheses:
        comp, endpoint, week = parse_hypothesis(h, first_week)
        target.append(targets.index((endpoint, week)))
        comparison.append(comparisons.index(comp))
    params = multiplicity_params(mult.procedure, mult.hypotheses,
                                 alpha=scenario.analysis.alpha / 2.0, weights=mult.weights,
                                 transitions=mult.transitions, order=mult.order)
    success = [mult.hypotheses.index(h) for h in (mult.success or ())]
    return MultiplicityPlan(params, list(mult.hypotheses), np.array(target, dtype=np.int64),
                            np.array(comparison, dtype=np.int64), success)


def one_sided_p_values(p_two_sided: np.ndarray, log_or: np.ndarray) -> np.ndarray:
    """One-sided p-values of "the treated arm responds more" from the two-sided Wald p and
    the sign of the log odds ratio: p / 2 when log OR > 0, 1 - p / 2 otherwise; 1 for an
    unanalysable comparison (log OR nan)."""
    p = np.asarray(p_two_sided, dtype=np.float64)
    b = np.asarray(log_or, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        one = np.where(b > 0.0, 0.5 * p, 1.0 - 0.5 * p)
    return np.where(np.isfinite(b), one, 1.0)


def trial_rejections(mp: MultiplicityPlan, analysis: np.ndarray, p_field: int,
                     log_or_field: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each trial's one-sided p-values, rejections and adjusted p-values of the hypotheses,
    from a chunk's ``analysis`` array (r, targets, comparisons, fields)."""
    sel = analysis[:, mp.target, mp.comparison]
    p = one_sided_p_values(sel[..., p_field], sel[..., log_or_field])
    reject, adjusted = multiplicity_adjust_trials(np.ascontiguousarray(p), mp.params)
    return p, reject, adjusted
