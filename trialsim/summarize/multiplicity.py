"""Power of a multiplicity procedure over simulated trials, each with its Monte Carlo SE.

From the rejections of many trials (``analysis.multiplicity.multiplicity_adjust_trials``):

* per-hypothesis power: the share of trials rejecting each hypothesis;
* disjunctive power: the share rejecting at least one; conjunctive power: all of them;
* the expected number of rejections;
* for a subset of the hypotheses (for example both doses' primaries): the share rejecting
  at least one of them and the share rejecting all of them.

Shares have the binomial MCSE ``sqrt(p (1 - p) / n)`` and the expected count the MCSE
``SD / sqrt(n)`` (sample SD), both nan with fewer than two trials, as every summary of
trialsim (``summarize.tables.proportion_of`` and ``mean_mcse``). Under the null hypotheses
(for example a scenario with the drug off) the same shares are error rates: the disjunctive
power over the true nulls is the familywise error rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from trialsim.summarize.mcse import mean_mcse, proportion_of

__all__ = ["RejectionSummary", "summarize_rejections", "rejection_table"]


class RejectionSummary(NamedTuple):
    """Power of a multiplicity procedure over ``n_trials`` trials (module docstring); the
    subset fields are nan without a subset."""

    n_trials: int
    power: np.ndarray  # (m,) share of trials rejecting each hypothesis
    power_mcse: np.ndarray  # (m,)
    disjunctive: float  # at least one rejected
    disjunctive_mcse: float
    conjunctive: float  # all rejected
    conjunctive_mcse: float
    expected_rejections: float
    expected_rejections_mcse: float
    subset: tuple[int, ...]  # the subset's hypotheses (empty without one)
    subset_any: float  # at least one of the subset rejected
    subset_any_mcse: float
    subset_all: float  # all of the subset rejected
    subset_all_mcse: float


def summarize_rejections(reject: np.ndarray, subset: Sequence[int] | None = None,
                         ) -> RejectionSummary:
    """Power summaries of a procedure's rejections.

    Parameters
    ----------
    reject : ndarray of bool, shape (n_trials, m)
        Each trial's rejected hypotheses.
    subset : sequence of int, optional
        Indices of some hypotheses (distinct, at least one) for ``subset_any`` / ``subset_all``.

    Returns
    -------
    RejectionSummary
    """
    r = np.asarray(reject)
    if r.ndim != 2 or r.dtype != np.bool_:
        raise ValueError(f"reject must be a 2-d boolean array (n_trials, m); got dtype "
                         f"{r.dtype} and shape {r.shape}")
    n, m = r.shape
    shares = [proportion_of(int(c), n) for c in r.sum(axis=0)]
    power = np.array([s[0] for s in shares], dtype=np.float64)
    power_mcse = np.array([s[1] for s in shares], dtype=np.float64)
    disjunctive = proportion_of(int(r.any(axis=1).sum()), n)
    conjunctive = proportion_of(int(r.all(axis=1).sum()), n)
    count = mean_mcse(r.sum(axis=1).astype(np.float64))
    nan = (float("nan"), float("nan"))
    any_, all_, chosen = nan, nan, ()
    if subset is not None:
        chosen = tuple(_check_subset(subset, m))
        part = r[:, list(chosen)]
        any_ = proportion_of(int(part.any(axis=1).sum()), n)
        all_ = proportion_of(int(part.all(axis=1).sum()), n)
    return RejectionSummary(
        n_trials=n, power=power, power_mcse=power_mcse,
        disjunctive=disjunctive[0], disjunctive_mcse=disjunctive[1],
        conjunctive=conjunctive[0], conjunctive_mcse=conjunctive[1],
        expected_rejections=count[0], expected_rejections_mcse=count[1],
        subset=chosen, subset_any=any_[0], subset_any_mcse=any_[1],
        subset_all=all_[0], subset_all_mcse=all_[1],
    )


def _check_subset(subset: Sequence[int], m: int) -> list[int]:
    out = []
    for k, i in enumerate(subset):
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"subset[{k}] = {i!r} is not a hypothesis index")
        if not 0 <= i < m:
            raise ValueError(f"subset[{k}] = {i} is not a hypothesis index (0 to {m - 1})")
        if int(i) in out:
            raise ValueError(f"subset[{k}] = {i} is listed twice")
        out.append(int(i))
    if not out:
        raise ValueError("subset is empty; name at least one hypothesis")
    return out


def rejection_table(summary: RejectionSummary, names: Sequence[str] | None = None,
                    ) -> pd.DataFrame:
    """The summary as a tidy table: columns ``statistic`` (``power``, ``disjunctive_power``,
    ``conjunctive_power``, ``expected_rejections``, ``subset_any_power``,
    ``subset_all_power``), ``hypothesis`` (its name for ``power``, the subset's names joined
    by ``+`` for the subset rows, else empty), ``value``, ``mcse``."""
    m = summary.power.size
    labels = list(names) if names is not None else [f"H{i}" for i in range(m)]
    if len(labels) != m:
        raise ValueError(f"names has {len(labels)} entries for {m} hypotheses")
    rows = [("power", labels[i], summary.power[i], summary.power_mcse[i]) for i in range(m)]
    rows += [
        ("disjunctive_power", "", summary.disjunctive, summary.disjunctive_mcse),
        ("conjunctive_power", "", summary.conjunctive, summary.conjunctive_mcse),
        ("expected_rejections", "", summary.expected_rejections,
         summary.expected_rejections_mcse),
    ]
    if summary.subset:
        joined = "+".join(labels[i] for i in summary.subset)
        rows += [("subset_any_power", joined, summary.subset_any, summary.subset_any_mcse),
                 ("subset_all_power", joined, summary.subset_all, summary.subset_all_mcse)]
    return pd.DataFrame(rows, columns=["statistic", "hypothesis", "value", "mcse"])
