"""Stochastic root finding of power(N) = target on a common-random-number power curve.

Pure numerics, independent of the simulator: :func:`find_sample_size` takes a function
that returns, for a list of sample sizes, the per-replicate rejections of the *same*
replicates at every size (common random numbers), and finds the smallest N whose power
reaches the target, with its Monte Carlo uncertainty. ``trialsim.experiments.power.sample_size``
connects it to the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from trialsim.analysis import Z_95
from trialsim.config.scenario import ScenarioError
from trialsim.summarize.tables import proportion_mcse

#: most bootstrap resamples of a search (its Monte Carlo SE of N is already exact to ~0.2%)
MAX_BOOTSTRAP = 100_000
#: bootstrap rows resampled at once (bounds memory: rows × replicates counts)
_BOOT_BLOCK = 100


#: columns of ``SampleSizeResult.points``
POINT_COLUMNS = ["sample_size", "power", "mcse", "replicates", "stage"]


def binomial_mcse(hits: np.ndarray) -> float:
    """Monte Carlo SE ``sqrt(p (1 - p) / R)`` of a rejection rate (nan with fewer than two
    replicates: the spread of one trial cannot be estimated)."""
    return proportion_mcse(hits)[1]


@dataclass
class ProbitFit:
    """``power(N) = Φ(a + b (√N − centre) / scale)``, fitted by maximum likelihood."""

    a: float
    b: float
    centre: float
    scale: float

    def power(self, n: float | np.ndarray) -> np.ndarray:
        return probit_sqrt_power(self.a, self.b, self.centre, self.scale, n)

    def root(self, target: float) -> float:
        """The N at which the fitted power equals ``target`` (nan without a rising fit)."""
        return float(probit_sqrt_roots(np.array([self.a]), np.array([self.b]), self.centre,
                                       self.scale, target)[0])


def probit_sqrt_power(a, b, centre: float, scale: float, n) -> np.ndarray:
    """The power at ``n`` of fitted probit-√N curves (``fit_probit_sqrt``)."""
    return ndtr(np.asarray(a) + np.asarray(b) * (np.sqrt(n) - centre) / scale)


def probit_sqrt_roots(a: np.ndarray, b: np.ndarray, centre: float, scale: float,
                      target: float) -> np.ndarray:
    """The N at which each fitted probit-√N curve (``fit_probit_sqrt``) reaches ``target``
    (nan where the fit failed)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (ndtri(target) - a) / b * scale + centre
    return np.where(np.isfinite(x) & (b > 0), np.maximum(x, 0.0) ** 2, np.nan)


def fit_probit_sqrt(
    sizes: np.ndarray, hits: np.ndarray, trials: int, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Probit regression of rejection on √N, for many count vectors at once.

    Under a normal approximation the power of a Wald test is Φ(δ√N − z) (ignoring the far
    tail), i.e. probit(power) is linear in √N; on a narrow window around the root any
    smooth monotone power curve is close to this form.

    Parameters
    ----------
    sizes : ndarray, shape (k,)
        Sample sizes.
    hits : ndarray, shape (b, k)
        Rejections out of ``trials`` at each size, for ``b`` data sets (bootstrap rows).
    trials : int

    Returns
    -------
    a, b : ndarray, shape (b,)
        Intercept and slope on the standardized scale ``(√N − centre) / scale`` (nan where
        the fit failed or the slope is not positive).
    centre, scale : float
    """
    root = np.sqrt(np.asarray(sizes, dtype=float))
    centre = float(root.mean())
    scale = float(root.std()) or 1.0
    x = (root - centre) / scale
    y = np.atleast_2d(hits).astype(float) / trials
    a = ndtri(np.clip(y.mean(axis=1), 0.02, 0.98))
    b = np.full(a.shape, 0.5)
    for _ in range(iterations):  # Fisher scoring (IRLS), vectorized over the rows
        eta = np.clip(a[:, None] + b[:, None] * x[None, :], -8.0, 8.0)
        mu = np.clip(ndtr(eta), 1e-12, 1 - 1e-12)
        dens = np.exp(-0.5 * eta * eta) / math.sqrt(2 * math.pi)
        w = trials * dens * dens / (mu * (1 - mu))
        score = trials * (y - mu) * dens / (mu * (1 - mu))
        s0, s1 = score.sum(axis=1), (score * x).sum(axis=1)
        i00, i01, i11 = w.sum(axis=1), (w * x).sum(axis=1), (w * x * x).sum(axis=1)
        det = i00 * i11 - i01 * i01
        with np.errstate(divide="ignore", invalid="ignore"):
            da = (i11 * s0 - i01 * s1) / det
            db = (i00 * s1 - i01 * s0) / det
        step = np.nan_to_num(np.hypot(da, db), nan=0.0)
        shrink = np.minimum(1.0, 2.0 / np.maximum(step, 1e-300))  # damp wild first steps
        a = a + np.nan_to_num(da) * shrink
        b = b + np.nan_to_num(db) * shrink
        if np.all(step < 1e-10):
            break
    bad = ~np.isfinite(a) | ~np.isfinite(b) | (b <= 0)
    return np.where(bad, np.nan, a), np.where(bad, np.nan, b), centre, scale


@dataclass
class SampleSizeResult:
    """Outcome of :func:`find_sample_size` (and ``experiments.sample_size``).

    Attributes
    ----------
    n_required : int
        Smallest total N (a multiple of ``step``) whose fitted power reaches the target.
    n_estimate, n_se : float
        Root of the fitted power curve and its Monte Carlo SE (bootstrap over replicates).
    n_low, n_high : int
        95% Monte Carlo interval of the required N (bootstrap percentiles, rounded up to
        ``step``).
    power_fit, power_fit_se : float
        Fitted power at ``n_required`` and its bootstrap SE.
    confirm_power, confirm_mcse : float
        Power at ``n_required`` on fresh replicates (nan without a confirmation run).
    confirmed : bool
        The confirmation is not significantly below the target: ``confirm_z ≥ −1.96``
        (``note`` says when it is significantly above or below).
    points : pandas.DataFrame
        Every size simulated: ``sample_size, power, mcse, replicates, stage``.
    note : str
        Why the search stopped where it did, or what to watch, when there is something.
    """

    target: float
    step: int
    n_required: int
    n_estimate: float
    n_se: float
    n_low: int
    n_high: int
    power_fit: float
    power_fit_se: float
    replicates: int
    confirm_power: float = float("nan")
    confirm_mcse: float = float("nan")
    confirm_replicates: int = 0
    confirmed: bool = False
    bootstrap: int = 0
    fit: ProbitFit | None = None
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def confirm_z(self) -> float:
        """Score test of the confirmation power against the target: ``(confirm_power −
        target) / sqrt(target (1 − target) / confirm_replicates)``.

        The SE is the one under the hypothesis power = target, so it is never 0 (a
        confirmation with no or every trial rejecting has a binomial MCSE of 0); nan without
        a confirmation run.
        """
        if not self.confirm_replicates:
            return float("nan")
        se = math.sqrt(self.target * (1 - self.target) / self.confirm_replicates)
        return (self.confirm_power - self.target) / se

    def add_confirmation(self, hits: np.ndarray) -> None:
        """Record a confirmation run: rejections at ``n_required`` on fresh replicates."""
        self.confirm_power, self.confirm_mcse = float(np.mean(hits)), binomial_mcse(hits)
        self.confirm_replicates = int(hits.size)
        z = self.confirm_z
        self.confirmed = bool(z >= -Z_95)
        if abs(z) > Z_95:
            side, way = ("above", "over") if z > 0 else ("below", "under")
            self.note = " ".join(filter(None, [self.note, (
                f"the confirmation power is significantly {side} the target (z = {z:.1f}): "
                f"Monte Carlo error of the search has {way}estimated N (see its MC "
                "interval); more --replicates narrow it"
            )]))
        row = pd.DataFrame([(self.n_required, self.confirm_power, self.confirm_mcse,
                             self.confirm_replicates, "confirm")], columns=POINT_COLUMNS)
        self.points = (row if self.points.empty
                       else pd.concat([self.points, row], ignore_index=True))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the points table; nan as null)."""
        out = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "points"}
        out["fit"] = asdict(self.fit) if self.fit is not None else None
        return _plain(out)


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    return v


def round_up(n: float, step: int) -> int:
    """The smallest multiple of ``step`` that is at least ``n``."""
    return int(math.ceil(n / step - 1e-9) * step)


class _Search:
    """The sizes simulated so far and their rejections (same replicates at every size)."""

    def __init__(self, evaluate: Callable[[list[int]], dict[int, np.ndarray]]):
        self.evaluate = evaluate
        self.data: dict[int, np.ndarray] = {}
        self.stage: dict[int, str] = {}

    def run(self, sizes: list[int], label: str) -> None:
        new = sorted({int(n) for n in sizes} - set(self.data))
        if new:
            got = self.evaluate(new)
            for n in new:
                self.data[n] = np.asarray(got[n], dtype=bool)
                self.stage[n] = label

    def power(self, n: int) -> float:
        return float(self.data[n].mean())

    def matrix(self, sizes: list[int]) -> np.ndarray:
        """Rejections, shape (replicates, len(sizes))."""
        return np.stack([self.data[m] for m in sizes], axis=1)

    def table(self) -> pd.DataFrame:
        rows = [(n, self.power(n), binomial_mcse(self.data[n]), self.data[n].size,
                 self.stage[n]) for n in sorted(self.data)]
        return pd.DataFrame(rows, columns=POINT_COLUMNS)


def _bracket(s: _Search, target: float, start: int, step: int, n_min: int, n_max: int):
    """Double or halve N from ``start`` until power crosses the target: ``(lo, hi)``, or
    None when the target is already reached at ``n_min``."""
    n = min(max(round_up(start, step), n_min), n_max)
    s.run([n], "bracket")
    if s.power(n) >= target:
        hi = n
        while hi > n_min:
            lo = max(round_up(hi / 2, step), n_min)
            s.run([lo], "bracket")
            if s.power(lo) < target:
                return lo, hi
            hi = lo
        return None
    lo = n
    while lo < n_max:
        hi = min(round_up(lo * 2, step), n_max)
        s.run([hi], "bracket")
        if s.power(hi) >= target:
            return lo, hi
        lo = hi
    raise ScenarioError(
        f"the target power {target:g} is not reached up to N = {n_max} (power "
        f"{s.power(lo):.3f}, MCSE {binomial_mcse(s.data[lo]):.3f}); raise --n-max or check "
        "the effect size"
    )


def _fit(s: _Search, sizes: list[int]) -> ProbitFit:
    y = s.matrix(sizes)
    a, b, centre, scale = fit_probit_sqrt(np.array(sizes, float), y.sum(axis=0)[None, :],
                                          y.shape[0])
    return ProbitFit(float(a[0]), float(b[0]), centre, scale)


def _bootstrap(y: np.ndarray, sizes: list[int], rounds: int, rng: np.random.Generator):
    """Refit on replicates resampled with replacement (whole rows: every size keeps the
    same resampled replicates, i.e. their CRN correlation). Returns bootstrap (a, b)."""
    r = y.shape[0]
    yf = y.astype(float)
    blocks = [  # resampling with replacement = multinomial counts of each replicate
        rng.multinomial(r, np.full(r, 1.0 / r), size=min(_BOOT_BLOCK, rounds - b0)) @ yf
        for b0 in range(0, rounds, _BOOT_BLOCK)
    ]
    hits = np.concatenate(blocks) if blocks else np.empty((0, len(sizes)))
    a, b, _, _ = fit_probit_sqrt(np.array(sizes, float), hits, r)
    return a, b


def find_sample_size(
    evaluate: Callable[[list[int]], dict[int, np.ndarray]],
    target: float,
    start: int,
    step: int,
    n_min: int,
    n_max: int,
    bootstrap: int = 1000,
    rng: np.random.Generator | None = None,
    window: float = 0.15,
) -> SampleSizeResult:
    """Stochastic root finding of power(N) = target on a common-random-number power curve.

    1. Bracket: starting at ``start``, double (or halve) N until the estimated power crosses
       the target.
    2. Fit ``power(N) = Φ(a + b √N)`` (:func:`fit_probit_sqrt`) on the bracket and take its
       root ``N1``.
    3. Simulate a local design ``N1 × (1 − window, 1, 1 + window)`` and refit on the points
       within ``N1 × [1 − 2 window, 1 + 2 window]`` (a narrow window, where the probit form is
       accurate): the root is ``n_estimate``, rounded up to ``step`` it is ``n_required``.
    4. Monte Carlo uncertainty: a bootstrap that resamples replicates (the same replicates at
       every N, which keeps their CRN correlation), refits and recomputes the root.

    Parameters
    ----------
    evaluate : callable
        ``evaluate([N1, N2, ...])`` returns ``{N: rejections}``, boolean arrays of the same
        replicates at every N (common random numbers).
    target : float
        Target power, in (0, 1).
    start, step, n_min, n_max : int
        First size tried, granularity of N (the allocation total, so arm sizes stay whole)
        and the search limits.
    bootstrap : int
        Bootstrap resamples for the Monte Carlo uncertainty.
    rng : numpy.random.Generator, optional
        Bootstrap generator.
    window : float
        Relative half-width of the local design.

    Raises
    ------
    ScenarioError
        The target is not in (0, 1), or it is not reached at ``n_max``.
    """
    if not 0 < target < 1:
        raise ScenarioError(f"--target-power {target}: must lie strictly between 0 and 1")
    rng = rng if rng is not None else np.random.default_rng(0)
    n_min = round_up(max(n_min, step), step)
    n_max = max(n_max // step * step, n_min)
    s = _Search(evaluate)
    bracket = _bracket(s, target, start, step, n_min, n_max)
    if bracket is None:
        return _at_lower_limit(s, target, step, n_min)
    lo, hi = bracket
    n1 = _fit(s, sorted(m for m in s.data if lo <= m <= hi)).root(target)
    if not np.isfinite(n1):
        n1 = 0.5 * (lo + hi)
    s.run([min(max(round_up(n1 * f, step), n_min), n_max) for f in (1 - window, 1, 1 + window)],
          "local")
    near = sorted(m for m in s.data if (1 - 2 * window) * n1 <= m <= (1 + 2 * window) * n1)
    near = near if len(near) >= 2 else sorted(s.data)
    fit = _fit(s, near)
    n_hat = fit.root(target)
    if not np.isfinite(n_hat):
        raise ScenarioError(
            "the power curve near the target is flat or decreasing at these replicates; "
            "increase --replicates"
        )
    if n_hat > n_max:
        raise ScenarioError(
            f"the fitted power curve reaches the target power {target:g} only at N ≈ "
            f"{n_hat:.0f}, beyond --n-max {n_max} (fitted power at {n_max}: "
            f"{fit.power(n_max):.3f}); raise --n-max or --replicates, or check the effect size"
        )
    n_req = min(max(round_up(n_hat, step), n_min), n_max)
    ba, bb = _bootstrap(s.matrix(near), near, bootstrap, rng)
    boot_n = probit_sqrt_roots(ba, bb, fit.centre, fit.scale, target)
    # a resample whose curve is flat never reaches the target: its N is infinite, not absent
    boot_n = np.where(np.isnan(boot_n) | (boot_n <= 0), np.inf, boot_n)
    boot_p = ndtr(ba + bb * (math.sqrt(n_req) - fit.centre) / fit.scale)
    boot_p = boot_p[np.isfinite(boot_p)]
    failed = int(np.isinf(boot_n).sum())
    q25, q75 = np.quantile(boot_n, [0.25, 0.75], method="inverted_cdf")
    low = float(np.quantile(boot_n, 0.025, method="inverted_cdf"))
    high = float(np.quantile(boot_n, 0.975, method="inverted_cdf"))
    return SampleSizeResult(
        target=target,
        step=step,
        n_required=n_req,
        n_estimate=n_hat,
        # robust spread: failed (infinite) resamples count, they do not vanish
        n_se=float((q75 - q25) / 1.349) if np.isfinite(q75) else float("inf"),
        n_low=round_up(low, step) if np.isfinite(low) else n_max,
        n_high=round_up(high, step) if np.isfinite(high) else n_max,
        power_fit=float(fit.power(n_req)),
        power_fit_se=float(boot_p.std(ddof=1)) if boot_p.size > 1 else float("nan"),
        replicates=s.data[near[0]].size,
        bootstrap=bootstrap,
        fit=fit,
        points=s.table(),
        note=(f"{failed} of {bootstrap} bootstrap fits never reach the target (counted as N = "
              f"infinity; the upper limit is shown as n_max={n_max}); increase --replicates"
              if failed > 0.025 * bootstrap else ""),
    )


def _at_lower_limit(s: _Search, target: float, step: int, n_min: int) -> SampleSizeResult:
    y = s.data[n_min]
    return SampleSizeResult(
        target=target,
        step=step,
        n_required=n_min,
        n_estimate=float(n_min),
        n_se=float("nan"),
        n_low=n_min,
        n_high=n_min,
        power_fit=float(y.mean()),
        power_fit_se=binomial_mcse(y),
        replicates=y.size,
        points=s.table(),
        note=f"the target is already reached at the smallest size searched (N = {n_min}, "
        "--n-min); the required N may be smaller",
    )
