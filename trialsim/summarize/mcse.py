"""Monte Carlo standard errors of means and shares over replicates (a leaf of
``trialsim.summarize``: the tables and the multiplicity summaries both use it)."""

from __future__ import annotations

import numpy as np

__all__ = ["mean_mcse", "proportion_of"]


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
