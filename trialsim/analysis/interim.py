"""Interim analyses of a group-sequential design, in the compiled trial and over trials.

``design.interim`` looks at the primary endpoint (the first of ``analysis.endpoints`` at the
first of ``design.endpoint_weeks``) when a share t_k of the N patients has reached it. The
patients enter in cohort order (model/accrual.py), so they reach the primary endpoint in
that order too: look k analyses the first n_k = ⌈t_k N⌉ patients, each with the response
the whole trial gives them at that week (a dropout before it is a non-responder then as
later), by the same stratified logistic regression as the final analysis; the last look
(t_K = 1) *is* the final analysis. Look k happens at calendar month ``entry[n_k - 1]`` +
the primary week, when the patients randomised are those entered by then.

Per comparison the Wald statistic Z_k = log OR / SE (positive: the treated arm responds
more) is compared with the design's one-sided bounds (analysis/group_sequential.py, level
``analysis.alpha / 2``): efficacy stop at the first look with Z_k ≥ c_k; futility stop
(non-binding bounds, obeyed here) at an interim look with Z_k ≤ f_k; at the last look the
null is rejected when Z_K ≥ c_K. A look whose fit is not analysable (an arm with no or only
responders among its patients) does not stop the trial. Each comparison is its own
sequential test at that level (no multiplicity adjustment across comparisons).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from trialsim.analysis.comparisons import RESULT_FIELDS, compare_patients
from trialsim.analysis.group_sequential import GroupSequentialDesign, design_group_sequential
from trialsim.config.scenario import Scenario
from trialsim.core.jit import jit

__all__ = ["InterimParams", "interim_params", "interim_design", "interim_looks",
           "LOOK_FIELDS", "CALENDAR_LOOK_FIELDS", "sequential_decisions", "EFFICACY",
           "FUTILITY", "CONTINUED"]

#: per look and comparison: the Wald Z, the log odds ratio, and whether the fit was analysable
LOOK_FIELDS = ("z", "log_or", "analysable")
#: per look: its calendar month and the patients randomised by then
CALENDAR_LOOK_FIELDS = ("month", "randomised")
#: ``sequential_decisions``' outcomes at the look a comparison stops (or the last)
CONTINUED, EFFICACY, FUTILITY = 0, 1, 2

_LOG_OR = RESULT_FIELDS.index("log_or")
_SE = RESULT_FIELDS.index("se")
_CONVERGED = RESULT_FIELDS.index("converged")


class InterimParams(NamedTuple):
    """``design.interim`` as the compiled trial reads it."""

    enabled: bool
    patients: np.ndarray  # (K,) int64: n_k, the patients analysed at each look
    primary_weeks: float  # the primary endpoint week


def interim_design(scenario: Scenario) -> GroupSequentialDesign | None:
    """The scenario's group-sequential design (bounds at one-sided ``analysis.alpha / 2``),
    or None without ``design.interim``."""
    it = scenario.design.interim
    if it is None:
        return None
    fut = it.futility
    return design_group_sequential(
        it.information_fractions, alpha=scenario.analysis.alpha / 2.0,
        efficacy_spending=it.efficacy.spending, efficacy_gamma=it.efficacy.gamma,
        futility_spending=None if fut is None else fut.spending,
        futility_gamma=None if fut is None else fut.gamma, beta=it.beta)


def interim_params(scenario: Scenario) -> InterimParams:
    """The patients analysed at each look, ⌈t_k N⌉ (N at the last)."""
    des = scenario.design
    if des.interim is None:
        return InterimParams(False, np.zeros(0, dtype=np.int64), float(des.endpoint_weeks[0]))
    n = des.sample_size
    patients = np.array([min(n, max(1, math.ceil(t * n - 1e-9)))
                         for t in des.interim.information_fractions], dtype=np.int64)
    patients[-1] = n
    return InterimParams(True, patients, float(des.endpoint_weeks[0]))


@jit
def interim_looks(ip, primary, arm, covariates, pairs, alpha, entry, weeks_per_month, looks,
                  calendar):
    """Every look of one trial, into ``looks`` (n_comparisons, K, ``LOOK_FIELDS``) and
    ``calendar`` (K, ``CALENDAR_LOOK_FIELDS``).

    Parameters
    ----------
    ip : InterimParams
    primary : ndarray of uint8, shape (1, n)
        The primary endpoint's codes (``endpoints.endpoint_flags``) of the patients.
    arm, covariates, pairs, alpha
        As for ``comparisons.compare_patients``.
    entry : ndarray of float64, shape (n,)
        Entry months (``accrual.entry_months``), non-decreasing.
    """
    n = entry.shape[0]
    for k in range(ip.patients.shape[0]):
        m = ip.patients[k]
        out = compare_patients(primary, arm, covariates, pairs, alpha,
                               np.arange(m, dtype=np.int64))
        for c in range(pairs.shape[0]):
            ok = out[0, c, _CONVERGED] > 0.0
            looks[c, k, 0] = out[0, c, _LOG_OR] / out[0, c, _SE] if ok else np.nan
            looks[c, k, 1] = out[0, c, _LOG_OR] if ok else np.nan
            looks[c, k, 2] = 1.0 if ok else 0.0
        month = entry[m - 1] + ip.primary_weeks / weeks_per_month
        randomised = 0
        for i in range(n):
            if entry[i] <= month:
                randomised += 1
        calendar[k, 0] = month
        calendar[k, 1] = randomised


def sequential_decisions(z: np.ndarray, efficacy: np.ndarray, futility: np.ndarray | None):
    """The look at which each trial's sequential test stops and why.

    Parameters
    ----------
    z : ndarray, shape (n_trials, K)
        Wald Z at each look (nan: not analysable, which never stops the test).
    efficacy : ndarray, shape (K,)
        Efficacy bounds c_k.
    futility : ndarray, shape (K - 1,), or None
        Futility bounds f_k of the interim looks (None: no futility stops).

    Returns
    -------
    look : ndarray of int64, shape (n_trials,)
        The look (0-based) at which the test stops: the first efficacy or futility stop,
        else the last look.
    outcome : ndarray of int64, shape (n_trials,)
        ``EFFICACY`` (H0 rejected at ``look``), ``FUTILITY`` (stopped for futility), or
        ``CONTINUED`` (reached the last look without rejecting).
    """
    n, k_max = z.shape
    look = np.full(n, k_max - 1, dtype=np.int64)
    outcome = np.full(n, CONTINUED, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    for k in range(k_max):
        with np.errstate(invalid="ignore"):
            eff = open_ & (z[:, k] >= efficacy[k])
            fut = (open_ & ~eff & (z[:, k] <= futility[k]) if futility is not None
                   and k < k_max - 1 else np.zeros(n, dtype=bool))
        look[eff | fut] = k
        outcome[eff] = EFFICACY
        outcome[fut] = FUTILITY
        open_ &= ~(eff | fut)
    return look, outcome
