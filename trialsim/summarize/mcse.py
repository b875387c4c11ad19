"""Monte Carlo standard errors of means and shares over replicates (a leaf of
``trialsim.summarize``: the tables and the multiplicity summaries both use it)."""

from __future__ import annotations

import numpy as np

from trialsim.analysis import Z_95

__all__ = ["mean_mcse", "proportion_of", "median_mcse", "wilson_interval"]


def wilson_interval(p: np.ndarray, n: int, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions ``p`` from ``n`` trials each (where a
    share of trials is 0 or 1 and its binomial MCSE, 0, says nothing)."""
    p = np.asarray(p, dtype=float)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def mean_mcse(x: np.ndarray) -> tuple[float, float]:
    """Mean of replicate values and its MCSE (SD / sqrt(R)); nan-aware."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    se = float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), se


def proportion_of(hits: int, n: int) -> tuple[float, float]:
    """Share of ``n`` replicates with an event and its binomial MCSE.

    The MCSE is nan (undefined, not 0) with fewer than two replicates; the share is nan
    with none.
    """
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    return p, float(np.sqrt(p * (1 - p) / n)) if n > 1 else float("nan")


def median_mcse(x: np.ndarray, batches: int = 20) -> tuple[float, float]:
    """Median of replicate values and its MCSE by batch medians: the replicates, in order,
    in ``batches`` equal batches; the SD of the batch medians over sqrt(batches) (nan with
    fewer than two replicates per batch). ``inf`` values count (a median never reached)."""
    x = x[~np.isnan(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(x))
    size = x.size // batches
    if size < 2:
        return med, float("nan")
    parts = np.median(x[: size * batches].reshape(batches, size), axis=1)
    if not np.isfinite(parts).all():
        return med, float("nan")
    return med, float(parts.std(ddof=1) / np.sqrt(batches))
