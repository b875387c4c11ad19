"""Group-sequential designs: spending functions, boundaries and crossing probabilities.

The canonical joint distribution (Jennison & Turnbull 2000, §3.1): at looks k = 1, ..., K
with information I_k = t_k I_max (``t`` the *information fractions*, t_K = 1),

    Z_k ~ N(delta sqrt(t_k), 1),   Cov(Z_j, Z_k) = sqrt(t_j / t_k)  (j <= k),

where ``delta = theta sqrt(I_max)`` is the *drift*. The test is one-sided: H0 (theta = 0)
is rejected at the first look with ``Z_k >= c_k``. Efficacy bounds come from a Lan-DeMets
alpha-spending function; optional non-binding futility bounds ``Z_k <= f_k`` come from a
beta-spending function as in rpact (``typeBetaSpending``, ``bindingFutility = FALSE``):
the efficacy bounds ignore them, so stopping for futility can only lower the type I error.

Every probability is computed by the recursive numerical integration of Armitage,
McPherson & Rowe (1969) on the grid of Jennison & Turnbull (2000, ch. 19): the sub-density
of Z_k on the continuation region is carried from look to look on a grid of about 12 r
Simpson points, so a crossing probability costs a few matrix-vector products. With the
default r = 32, probabilities and bounds are within 1e-7 of r = 256 (converged), and of
rpact (``tests/unit/test_group_sequential.py``). The work is a handful of small dense
products, done in NumPy: there is no per-replicate loop here to compile (a numba kernel
would spend longer compiling than all of a design's computations take).

The public functions validate their inputs and raise ``ValueError`` naming the bad value;
the private ``_`` functions assume valid input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri

from trialsim.config.vocab import SPENDING_FAMILIES

#: the spending-function families (``config.vocab``): Lan-DeMets O'Brien-Fleming-like (rpact
#: ``asOF``/``bsOF``), Pocock-like (``asP``/``bsP``) and Hwang-Shih-DeCani with parameter gamma
#: (``asHSD``/``bsHSD``)

#: Jennison & Turnbull's grid parameter r (ch. 19): 6r - 1 points before the Simpson midpoints
GRID_R = 32

#: root-finding tolerance on the Z scale (bounds) and on the drift
_XTOL = 1e-12

#: bracket of every Z-scale root search; a bound beyond it is +-inf (nothing left to spend)
_Z_BRACKET = (-40.0, 40.0)

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- validation

def check_level(value: float, name: str = "alpha") -> float:
    """``value`` as a float in the open interval (0, 1), else ``ValueError`` naming it.

    Parameters
    ----------
    value : float
        A significance level (alpha), a type II error (beta) or a power.
    name : str
        How the message calls it.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}") from None
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return v


def check_information_fractions(fractions) -> np.ndarray:
    """The information fractions t_1 < ... < t_K = 1 as a float array, validated.

    Parameters
    ----------
    fractions : sequence of float
        Information at each look as a fraction of the maximum information.

    Returns
    -------
    ndarray of float64, shape (K,)

    Raises
    ------
    ValueError
        If the sequence is empty or not one-dimensional, a value is not finite or outside
        (0, 1], the values are not strictly increasing, or the last is not 1.
    """
    t = np.asarray(fractions, dtype=float)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(
            f"information fractions must be a non-empty list of numbers, got {fractions!r}")
    for k, v in enumerate(t):
        if not (np.isfinite(v) and 0.0 < v <= 1.0):
            raise ValueError(
                f"information fraction {float(v)!r} at look {k + 1} is outside (0, 1]; "
                "each must be in (0, 1]")
    for k in range(1, t.size):
        if not t[k] > t[k - 1]:
            raise ValueError(
                f"information fractions must be strictly increasing: {float(t[k])!r} at look "
                f"{k + 1} follows {float(t[k - 1])!r}")
    if t[-1] != 1.0:
        raise ValueError(
            f"the last information fraction must be 1 (the final analysis at the maximum "
            f"information), got {float(t[-1])!r}")
    return t


def check_spending(family: str, gamma: float | None = None) -> float | None:
    """Validate a spending family and its parameter; returns gamma as a float (or None).

    Parameters
    ----------
    family : str
        One of :data:`SPENDING_FAMILIES`.
    gamma : float or None
        The Hwang-Shih-DeCani parameter: required (any finite number) for ``"hsd"``, not
        allowed for the other families.
    """
    if family not in SPENDING_FAMILIES:
        raise ValueError(
            f"spending family {family!r} is unknown; allowed: {', '.join(SPENDING_FAMILIES)}")
    if family != "hsd":
        if gamma is not None:
            raise ValueError(
                f"gamma = {gamma!r} is only a parameter of the 'hsd' family, not of {family!r}")
        return None
    if gamma is None:
        raise ValueError("the 'hsd' spending family needs gamma (a finite number, e.g. -4)")
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be a finite number, got {gamma!r}") from None
    if not math.isfinite(g):
        raise ValueError(f"gamma must be a finite number, got {gamma!r}")
    return g


# --------------------------------------------------------------------------- spending

def obrien_fleming_spending(t, level: float) -> np.ndarray:
    """Lan-DeMets O'Brien-Fleming-like spending ``2 - 2 Phi(z_{1 - level/2} / sqrt(t))``.

    Parameters
    ----------
    t : array_like
        Information fractions in [0, 1].
    level : float
        The total to spend (alpha, or beta for futility).

    Returns
    -------
    ndarray
        Cumulative amount spent at ``t`` (0 at t = 0, ``level`` at t = 1).
    """
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore"):
        return 2.0 * ndtr(ndtri(level / 2.0) / np.sqrt(t))


def pocock_spending(t, level: float) -> np.ndarray:
    """Lan-DeMets Pocock-like spending ``level ln(1 + (e - 1) t)``.

    Parameters
    ----------
    t : array_like
        Information fractions in [0, 1].
    level : float
        The total to spend.

    Returns
    -------
    ndarray
    """
    return level * np.log1p((math.e - 1.0) * np.asarray(t, dtype=float))


def hsd_spending(t, level: float, gamma: float) -> np.ndarray:
    """Hwang-Shih-DeCani spending ``level (1 - exp(-gamma t)) / (1 - exp(-gamma))``.

    gamma = 0 is the limit ``level t``; gamma = -4 is close to O'Brien-Fleming, gamma = 1 to
    Pocock. For gamma < 0 the ratio is evaluated as ``exp(gamma (1 - t)) expm1(gamma t) /
    expm1(gamma)``, which cannot overflow.

    Parameters
    ----------
    t : array_like
        Information fractions in [0, 1].
    level : float
        The total to spend.
    gamma : float
        Any finite number.

    Returns
    -------
    ndarray
    """
    t = np.asarray(t, dtype=float)
    if gamma == 0.0:
        return level * t
    if gamma > 0.0:
        return level * np.expm1(-gamma * t) / math.expm1(-gamma)
    return level * np.exp(gamma * (1.0 - t)) * np.expm1(gamma * t) / math.expm1(gamma)


def spending(t, level: float, family: str = "obrien_fleming",
             gamma: float | None = None) -> np.ndarray:
    """Cumulative amount of ``level`` spent at information fractions ``t``.

    Parameters
    ----------
    t : array_like
        Information fractions in [0, 1].
    level : float
        The total to spend, in (0, 1): alpha for efficacy, beta for futility.
    family : str
        One of :data:`SPENDING_FAMILIES`.
    gamma : float, optional
        The Hwang-Shih-DeCani parameter (``family="hsd"`` only).

    Returns
    -------
    ndarray
        Nondecreasing in ``t``, 0 at t = 0 and ``level`` at t = 1.
    """
    level = check_level(level, "level")
    gamma = check_spending(family, gamma)
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t) | (t < 0.0) | (t > 1.0)):
        bad = t[~np.isfinite(t) | (t < 0.0) | (t > 1.0)].ravel()[0]
        raise ValueError(f"information fraction {float(bad)!r} is outside [0, 1]")
    return _spending(t, level, family, gamma)


def _spending(t, level, family, gamma):
    if family == "obrien_fleming":
        return obrien_fleming_spending(t, level)
    if family == "pocock":
        return pocock_spending(t, level)
    return hsd_spending(t, level, gamma)


# --------------------------------------------------------------------------- integration

def _grid(lo: float, hi: float, mean: float, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Points and Simpson weights for integrating over (lo, hi) a density centred at ``mean``.

    Jennison & Turnbull (2000, §19.2.1): 6r - 1 points, evenly spaced within 3 of the mean
    and spreading out logarithmically to about 3 + 4 ln r beyond it; points outside (lo, hi)
    are replaced by the end points; midpoints are added and Simpson's rule is applied on
    each interval. An empty interval gives empty arrays.
    """
    i = np.arange(1, 6 * r, dtype=float)
    x = np.where(
        i < r, mean - 3.0 - 4.0 * np.log(r / i),
        np.where(i <= 5 * r, mean - 3.0 + 3.0 * (i - r) / (2.0 * r),
                 mean + 3.0 + 4.0 * np.log(r / np.maximum(6.0 * r - i, 1.0))))
    if not hi > lo:
        return np.empty(0), np.empty(0)
    inside = x[(x > lo) & (x < hi)]
    pts = np.concatenate([[lo] if lo > x[0] else [], inside, [hi] if hi < x[-1] else []])
    if pts.size < 2:  # (lo, hi) beyond the grid's tails (16.9 sd out for r = 32): no mass
        return np.empty(0), np.empty(0)
    z = np.empty(2 * pts.size - 1)
    z[0::2] = pts
    z[1::2] = 0.5 * (pts[:-1] + pts[1:])
    d = np.diff(pts) / 6.0
    w = np.zeros(z.size)
    w[1::2] = 4.0 * d
    w[0:-1:2] += d
    w[2::2] += d
    return z, w


def _phi(x):
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


@dataclass
class _Stage:
    """The sub-density of Z_k on the continuation region of look k, on its grid.

    ``h`` holds density times Simpson weight, so ``h.sum()`` is the probability of going on
    past look k, and a sum ``h @ g(z)`` integrates ``g`` against the sub-density.
    """

    t: float
    z: np.ndarray
    h: np.ndarray


def _first_stage(t: float, drift: float, lo: float, hi: float, r: int) -> _Stage:
    mean = drift * math.sqrt(t)
    z, w = _grid(lo, hi, mean, r)
    return _Stage(t, z, w * _phi(z - mean))


def _next_stage(prev: _Stage, t: float, drift: float, lo: float, hi: float, r: int) -> _Stage:
    """Carry the sub-density one look on, with
    Z_k sqrt(t_k) = Z_{k-1} sqrt(t_{k-1}) + N(drift dt, dt), dt = t_k - t_{k-1}."""
    dt = t - prev.t
    sd = math.sqrt(dt)
    z, w = _grid(lo, hi, drift * math.sqrt(t), r)
    if z.size == 0 or prev.z.size == 0:
        return _Stage(t, np.empty(0), np.empty(0))
    u = (z[:, None] * math.sqrt(t) - prev.z[None, :] * math.sqrt(prev.t) - drift * dt) / sd
    return _Stage(t, z, w * (math.sqrt(t) / sd) * (_phi(u) @ prev.h))


def _above(prev: _Stage | None, t: float, drift: float, c: float) -> float:
    """P(continue to look k, Z_k >= c) with ``prev`` the stage before (None at look 1)."""
    if prev is None:
        return float(ndtr(drift * math.sqrt(t) - c))
    dt = t - prev.t
    return float(prev.h @ ndtr(
        (prev.z * math.sqrt(prev.t) + drift * dt - c * math.sqrt(t)) / math.sqrt(dt)))


def _below(prev: _Stage | None, t: float, drift: float, f: float) -> float:
    """P(continue to look k, Z_k <= f) with ``prev`` the stage before (None at look 1)."""
    if prev is None:
        return float(ndtr(f - drift * math.sqrt(t)))
    dt = t - prev.t
    return float(prev.h @ ndtr(
        (f * math.sqrt(t) - prev.z * math.sqrt(prev.t) - drift * dt) / math.sqrt(dt)))


def _advance(prev: _Stage | None, t: float, drift: float, lo: float, hi: float, r: int):
    if prev is None:
        return _first_stage(t, drift, lo, hi, r)
    return _next_stage(prev, t, drift, lo, hi, r)


def _crossing(t: np.ndarray, upper: np.ndarray, lower: np.ndarray, drift: float,
              r: int = GRID_R) -> tuple[np.ndarray, np.ndarray]:
    """Per-look probabilities of stopping above ``upper`` and below ``lower`` (-inf: none).

    The last look's ``lower`` is usually ``upper[-1]`` (every trial ends there); a look with
    ``lower >= upper`` ends every trial that reaches it.
    """
    k_max = t.size
    above, below = np.zeros(k_max), np.zeros(k_max)
    prev = None
    for k in range(k_max):
        above[k] = _above(prev, t[k], drift, upper[k])
        below[k] = _below(prev, t[k], drift, min(lower[k], upper[k]))
        if k < k_max - 1:
            prev = _advance(prev, t[k], drift, lower[k], upper[k], r)
    return above, below


def _monotone_root(fn) -> float:
    """The root of a monotone ``fn`` on the Z bracket; +-inf when it lies beyond an end."""
    lo, hi = _Z_BRACKET
    a, b = fn(lo), fn(hi)
    if a * b > 0.0:
        increasing = b > a
        return math.inf if (a < 0.0) == increasing else -math.inf
    return brentq(fn, lo, hi, xtol=_XTOL, rtol=4 * np.finfo(float).eps)


def _efficacy_bounds(t: np.ndarray, increments: np.ndarray, r: int = GRID_R) -> np.ndarray:
    """Critical values spending ``increments`` of alpha under H0 (no futility bounds)."""
    c = np.empty(t.size)
    prev = None
    for k in range(t.size):
        if increments[k] <= 0.0:
            c[k] = math.inf  # nothing to spend at this look (or it underflowed)
        else:
            c[k] = _monotone_root(lambda x, p=prev, k=k: _above(p, t[k], 0.0, x) - increments[k])
        if k < t.size - 1:
            prev = _advance(prev, t[k], 0.0, -math.inf, c[k], r)
    return c


def _futility_bounds(t: np.ndarray, c: np.ndarray, increments: np.ndarray, drift: float,
                     r: int = GRID_R) -> np.ndarray:
    """Bounds f_k spending ``increments`` of beta under ``drift``, with efficacy at ``c``.

    An interim bound above the efficacy bound is lowered to it (the look then ends every
    trial, and later bounds are +inf); the last bound is returned as found, so ``f_K - c_K``
    tells how far ``drift`` is from the one at which the two meet.
    """
    f = np.empty(t.size)
    prev = None
    for k in range(t.size):
        if prev is not None and prev.h.size == 0:
            f[k] = math.inf  # no trial gets here: the beta left cannot be spent
        elif increments[k] <= 0.0:
            f[k] = -math.inf
        else:
            f[k] = _monotone_root(lambda x, p=prev, k=k: _below(p, t[k], drift, x) - increments[k])
        if k < t.size - 1:
            f[k] = min(f[k], c[k])
            prev = _advance(prev, t[k], drift, f[k], c[k], r)
    return f


def _binding_bounds(t: np.ndarray, alpha_increments: np.ndarray, beta_increments: np.ndarray,
                    drift: float, r: int = GRID_R) -> tuple[np.ndarray, np.ndarray]:
    """Efficacy and binding futility bounds together, look by look.

    With binding futility bounds a trial below f_k stops, so the efficacy bound c_k spends
    its alpha under H0 on the trials that continued past both bounds of the earlier looks;
    f_k spends its beta under ``drift`` on the same continuation region. As in
    ``_futility_bounds``, an interim f_k above c_k is lowered to it, and the last f_K is
    returned as found.
    """
    k_max = t.size
    c, f = np.empty(k_max), np.empty(k_max)
    h0 = h1 = None
    for k in range(k_max):
        if h0 is not None and h0.h.size == 0:
            c[k], f[k] = math.inf, math.inf
        else:
            c[k] = math.inf if alpha_increments[k] <= 0.0 else _monotone_root(
                lambda x, p=h0, k=k: _above(p, t[k], 0.0, x) - alpha_increments[k])
            f[k] = -math.inf if beta_increments[k] <= 0.0 else _monotone_root(
                lambda x, p=h1, k=k: _below(p, t[k], drift, x) - beta_increments[k])
        if k < k_max - 1:
            f[k] = min(f[k], c[k])
            h0 = _advance(h0, t[k], 0.0, f[k], c[k], r)
            h1 = _advance(h1, t[k], drift, f[k], c[k], r)
    return c, f


# --------------------------------------------------------------------------- designs

@dataclass(frozen=True)
class GroupSequentialDesign:
    """A one-sided group-sequential design on the Z scale.

    Attributes
    ----------
    information_fractions : ndarray, shape (K,)
        t_1 < ... < t_K = 1.
    alpha : float
        One-sided significance level.
    efficacy_spending, efficacy_gamma : str, float or None
        The alpha-spending family and its parameter.
    critical_values : ndarray, shape (K,)
        Efficacy bounds c_k: reject H0 at the first look with Z_k >= c_k (inf: no
        efficacy stop possible at that look).
    alpha_spent : ndarray, shape (K,)
        Cumulative type I error at each look (the spending function at t_k).
    beta : float
        Type II error: the design's power is 1 - beta (the target of
        :func:`design_characteristics` and, with futility, of the beta spending).
    futility_spending, futility_gamma : str, float or None
        The beta-spending family and its parameter (None: no futility bounds).
    futility_bounds : ndarray, shape (K - 1,), or None
        Futility bounds f_k at the interim looks: stop for futility at the first look with
        Z_k <= f_k (the final look's bound is c_K).
    futility_drift : float or None
        The drift at which the beta spending was done, where the last futility bound meets
        c_K (rpact's "shift").
    binding_futility : bool
        The futility bounds bind: the efficacy bounds were computed with them, so the
        type I error is alpha only when every futility stop is obeyed (rpact
        ``bindingFutility = TRUE``). False (non-binding): the efficacy bounds ignore them
        and the type I error is at most alpha whether they are obeyed or not.
    """

    information_fractions: np.ndarray
    alpha: float
    efficacy_spending: str
    efficacy_gamma: float | None
    critical_values: np.ndarray
    alpha_spent: np.ndarray
    beta: float = 0.2
    futility_spending: str | None = None
    futility_gamma: float | None = None
    futility_bounds: np.ndarray | None = None
    futility_drift: float | None = None
    binding_futility: bool = False

    @property
    def k_max(self) -> int:
        """Number of looks K."""
        return int(self.information_fractions.size)

    def lower_bounds(self, futility: bool = True) -> np.ndarray:
        """The K lower (futility) bounds used in the recursion, with f_K = c_K.

        Without futility bounds, or with ``futility=False`` (the non-binding bounds
        ignored), every interim bound is -inf.
        """
        lower = np.full(self.k_max, -math.inf)
        if futility and self.futility_bounds is not None:
            lower[:-1] = self.futility_bounds
        lower[-1] = self.critical_values[-1]
        return lower


def efficacy_bounds(information_fractions, alpha: float = 0.025,
                    spending_family: str = "obrien_fleming",
                    gamma: float | None = None) -> np.ndarray:
    """One-sided critical values c_k whose cumulative crossing probability under H0 is the
    alpha spent at each look.

    Parameters
    ----------
    information_fractions : sequence of float
        t_1 < ... < t_K = 1.
    alpha : float
        One-sided level in (0, 1).
    spending_family : str
        One of :data:`SPENDING_FAMILIES`.
    gamma : float, optional
        Hwang-Shih-DeCani parameter (``spending_family="hsd"`` only).

    Returns
    -------
    ndarray, shape (K,)
        c_1, ..., c_K on the Z scale.
    """
    return design_group_sequential(information_fractions, alpha, spending_family,
                                   gamma).critical_values


def design_group_sequential(
    information_fractions,
    alpha: float = 0.025,
    efficacy_spending: str = "obrien_fleming",
    efficacy_gamma: float | None = None,
    futility_spending: str | None = None,
    futility_gamma: float | None = None,
    beta: float = 0.2,
    binding_futility: bool = False,
) -> GroupSequentialDesign:
    """Efficacy bounds by alpha spending and, optionally, futility bounds by beta spending
    (rpact ``getDesignGroupSequential`` with ``sided = 1``).

    The futility bounds follow rpact's ``typeBetaSpending``. Non-binding
    (``bindingFutility = FALSE``, the default): the efficacy bounds are computed without
    them; then, under a drift delta, f_k is set so that the probability of stopping for
    futility by look k is the beta spent at t_k, and delta is the one at which f_K = c_K
    (so the power at delta, with the futility bounds obeyed, is 1 - beta). Binding
    (``binding_futility=True``, rpact ``bindingFutility = TRUE``): the efficacy bound of
    each look spends its alpha on the trials that passed the earlier futility bounds too
    (``_binding_bounds``), so the efficacy bounds are lower and depend on delta as well.

    Parameters
    ----------
    information_fractions : sequence of float
        t_1 < ... < t_K = 1.
    alpha : float
        One-sided level in (0, 1).
    efficacy_spending : str
        Alpha-spending family, one of :data:`SPENDING_FAMILIES`.
    efficacy_gamma : float, optional
        Its Hwang-Shih-DeCani parameter.
    futility_spending : str, optional
        Beta-spending family (None: no futility bounds).
    futility_gamma : float, optional
        Its Hwang-Shih-DeCani parameter.
    beta : float
        Type II error in (0, 1 - alpha).
    binding_futility : bool
        Whether the futility bounds bind (needs ``futility_spending``).

    Returns
    -------
    GroupSequentialDesign
    """
    t = check_information_fractions(information_fractions)
    alpha = check_level(alpha, "alpha")
    beta = check_level(beta, "beta")
    if beta >= 1.0 - alpha:
        raise ValueError(f"beta = {beta!r} must be below 1 - alpha = {1 - alpha!r} "
                         "(a power above the level)")
    efficacy_gamma = check_spending(efficacy_spending, efficacy_gamma)
    spent = _spending(t, alpha, efficacy_spending, efficacy_gamma)
    spent[-1] = alpha
    c = _efficacy_bounds(t, np.diff(spent, prepend=0.0))
    design = GroupSequentialDesign(t, alpha, efficacy_spending, efficacy_gamma, c, spent, beta)
    if futility_spending is None:
        if futility_gamma is not None:
            raise ValueError(f"futility_gamma = {futility_gamma!r} given without a "
                             "futility_spending family")
        if binding_futility:
            raise ValueError("binding_futility needs futility bounds (a futility_spending "
                             "family)")
        return design
    futility_gamma = check_spending(futility_spending, futility_gamma)
    if t.size == 1:
        raise ValueError("futility bounds need at least one interim look (K >= 2)")
    beta_spent = _spending(t, beta, futility_spending, futility_gamma)
    beta_spent[-1] = beta
    increments = np.diff(beta_spent, prepend=0.0)

    if binding_futility:
        alpha_increments = np.diff(spent, prepend=0.0)

        def bounds(drift):
            return _binding_bounds(t, alpha_increments, increments, drift)
    else:
        def bounds(drift):
            return c, _futility_bounds(t, c, increments, drift)

    def gap(drift):
        c_d, f_d = bounds(drift)
        if not math.isfinite(c_d[-1]):
            return 1.0  # the futility bounds closed the continuation region: drift too high
        return float(np.clip(f_d[-1], *_Z_BRACKET)) - c_d[-1]

    drift = brentq(gap, -5.0, 15.0, xtol=_XTOL)
    c, f = bounds(drift)
    return GroupSequentialDesign(
        t, alpha, efficacy_spending, efficacy_gamma, c, spent, beta,
        futility_spending, futility_gamma, f[:-1], float(drift), bool(binding_futility))


def bounds_at(design: GroupSequentialDesign, fractions) -> tuple[np.ndarray, np.ndarray]:
    """The design's bounds at the information fractions a trial observed (Lan-DeMets).

    Looks planned at calendar dates happen at fractions t_k that vary from trial to trial;
    the spending functions are evaluated at them. An interim look is kept when its t_k is
    in (0, 1) and above the last kept one; the others get no bounds (c_k = inf, f_k =
    -inf: they cannot stop the trial). The last look is the final analysis (t = 1). The
    futility bounds spend the beta of the observed fractions under the design's
    ``futility_drift`` (binding or not, as the design).

    Parameters
    ----------
    design : GroupSequentialDesign
    fractions : sequence of float, length K
        The observed fractions of the K looks (the last is taken as 1).

    Returns
    -------
    efficacy : ndarray, shape (K,)
        c_k (inf where the look was dropped).
    futility : ndarray, shape (K - 1,)
        f_k of the interim looks (-inf where dropped or without futility bounds).
    """
    t = np.asarray(fractions, dtype=np.float64).copy()
    k_max = design.k_max
    if t.shape != (k_max,):
        raise ValueError(f"{t.size} fractions for a design of {k_max} looks")
    t[-1] = 1.0
    keep = np.zeros(k_max, dtype=bool)
    last = 0.0
    for k in range(k_max - 1):
        if last < t[k] < 1.0:
            keep[k] = True
            last = t[k]
    keep[-1] = True
    tk = t[keep]
    spent = _spending(tk, design.alpha, design.efficacy_spending, design.efficacy_gamma)
    spent[-1] = design.alpha
    a_inc = np.diff(spent, prepend=0.0)
    efficacy = np.full(k_max, math.inf)
    futility = np.full(k_max - 1, -math.inf)
    if design.futility_bounds is None or tk.size == 1:
        efficacy[keep] = _efficacy_bounds(tk, a_inc)
        return efficacy, futility
    beta_spent = _spending(tk, design.beta, design.futility_spending, design.futility_gamma)
    beta_spent[-1] = design.beta
    b_inc = np.diff(beta_spent, prepend=0.0)
    if design.binding_futility:
        c, f = _binding_bounds(tk, a_inc, b_inc, design.futility_drift)
    else:
        c = _efficacy_bounds(tk, a_inc)
        f = _futility_bounds(tk, c, b_inc, design.futility_drift)
    efficacy[keep] = c
    futility[keep[:-1]] = f[:-1]
    return efficacy, futility


# --------------------------------------------------------------------------- operating chars.

@dataclass(frozen=True)
class Crossing:
    """Stopping probabilities of a design under one drift.

    Attributes
    ----------
    drift : float
        ``theta sqrt(I_max)``: the mean of Z_K.
    efficacy : ndarray, shape (K,)
        P(stop for efficacy at look k).
    futility : ndarray, shape (K - 1,)
        P(stop for futility at interim look k) (zeros without futility bounds, or when
        they are ignored).
    expected_information : float
        Expected information at stopping as a fraction of the maximum: sum of t_k times
        P(stop at look k), every trial reaching look K stopping there.
    """

    drift: float
    efficacy: np.ndarray
    futility: np.ndarray
    expected_information: float

    @property
    def power(self) -> float:
        """P(reject H0 at some look)."""
        return float(self.efficacy.sum())

    @property
    def cumulative_power(self) -> np.ndarray:
        """P(reject H0 by look k)."""
        return np.cumsum(self.efficacy)

    @property
    def early_stop(self) -> float:
        """P(stop at an interim look, for efficacy or futility)."""
        return float(self.efficacy[:-1].sum() + self.futility.sum())


def crossing_probabilities(design: GroupSequentialDesign, drift: float,
                           futility: bool = True) -> Crossing:
    """Per-look stopping probabilities and expected information under a drift.

    Parameters
    ----------
    design : GroupSequentialDesign
    drift : float
        ``theta sqrt(I_max)`` (0 under H0).
    futility : bool
        Obey the (non-binding) futility bounds (True, as rpact's power and ASN do) or
        ignore them (False: the efficacy-only design that defines the type I error).

    Returns
    -------
    Crossing
    """
    drift = float(drift)
    if not math.isfinite(drift):
        raise ValueError(f"drift must be a finite number, got {drift!r}")
    t = design.information_fractions
    above, below = _crossing(t, design.critical_values, design.lower_bounds(futility), drift)
    stop = above + below
    stop[-1] = max(0.0, 1.0 - stop[:-1].sum())  # everyone left stops at the last look
    return Crossing(drift, above, below[:-1], float(t @ stop))


def fixed_design_drift(alpha: float, power: float) -> float:
    """Drift ``z_{1-alpha} + z_{power}`` at which a single-look level-alpha test has the
    given power."""
    return float(-ndtri(check_level(alpha, "alpha")) + ndtri(check_level(power, "power")))


def drift_for_power(design: GroupSequentialDesign, power: float | None = None,
                    futility: bool = True) -> float:
    """The drift ``theta sqrt(I_max)`` at which the design has the given power.

    Parameters
    ----------
    design : GroupSequentialDesign
    power : float, optional
        Target power in (alpha, 1); default ``1 - design.beta``.
    futility : bool
        Whether the futility bounds are obeyed (see :func:`crossing_probabilities`).

    Returns
    -------
    float
    """
    power = 1.0 - design.beta if power is None else check_level(power, "power")
    if power <= design.alpha:
        raise ValueError(f"power = {power!r} must exceed alpha = {design.alpha!r}")
    t, c = design.information_fractions, design.critical_values
    lower = design.lower_bounds(futility)

    def gap(drift):
        return _crossing(t, c, lower, drift)[0].sum() - power

    hi = 2.0 * fixed_design_drift(design.alpha, power) + 2.0
    return float(brentq(gap, 0.0, hi, xtol=_XTOL))


def inflation_factor(design: GroupSequentialDesign, power: float | None = None,
                     futility: bool = True) -> float:
    """Maximum information of the design over the information of a single-look test with
    the same level and power (rpact's ``inflationFactor``).

    Parameters
    ----------
    design : GroupSequentialDesign
    power : float, optional
        Target power; default ``1 - design.beta``.
    futility : bool
        Whether the futility bounds are obeyed.

    Returns
    -------
    float
        ``(drift_for_power / (z_{1-alpha} + z_{power}))**2``.
    """
    power = 1.0 - design.beta if power is None else check_level(power, "power")
    drift = drift_for_power(design, power, futility)
    return (drift / fixed_design_drift(design.alpha, power)) ** 2


@dataclass(frozen=True)
class DesignCharacteristics:
    """What rpact's ``getDesignCharacteristics`` reports, at the power ``1 - beta``.

    Attributes
    ----------
    power : float
        The target power.
    drift : float
        Drift ``theta sqrt(I_max)`` at which the design has that power.
    inflation_factor : float
        Maximum information over the fixed design's information.
    h1, h01, h0 : Crossing
        Stopping probabilities under the drift, half of it, and H0 (futility bounds
        obeyed). Their ``expected_information`` are fractions of the maximum; times
        ``inflation_factor`` they are rpact's ``averageSampleNumber1``, ``...01`` and
        ``...0`` (fractions of the fixed design's sample size).
    """

    power: float
    drift: float
    inflation_factor: float
    h1: Crossing
    h01: Crossing
    h0: Crossing


def design_characteristics(design: GroupSequentialDesign,
                           power: float | None = None) -> DesignCharacteristics:
    """Drift, inflation factor and stopping probabilities at the design's power.

    Parameters
    ----------
    design : GroupSequentialDesign
    power : float, optional
        Target power; default ``1 - design.beta``.

    Returns
    -------
    DesignCharacteristics
    """
    power = 1.0 - design.beta if power is None else check_level(power, "power")
    drift = drift_for_power(design, power)
    return DesignCharacteristics(
        power, drift, (drift / fixed_design_drift(design.alpha, power)) ** 2,
        crossing_probabilities(design, drift), crossing_probabilities(design, drift / 2.0),
        crossing_probabilities(design, 0.0))
