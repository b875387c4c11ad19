"""Interim analyses of a group-sequential design, in the compiled trial and over trials.

``design.interim`` looks at the primary endpoint (the first of ``analysis.endpoints`` at the
first of ``design.endpoint_weeks``) when a share t_k of the N patients has reached it
(``information_fractions``) or at given calendar months (``calendar_months``). The patients
enter in cohort order (model/accrual.py), so they reach the primary endpoint in that order
too: look k analyses the first n_k patients, each with the response the whole trial gives
them at that week (a dropout before it is a non-responder then as later), by the same
stratified logistic regression as the final analysis; the last look (all N) *is* the final
analysis. With fractions, n_k = ⌈t_k N⌉ and look k happens at calendar month
``entry[n_k - 1]`` + the primary week; with calendar months, look k happens at month m_k and
n_k is the number of patients whose entry + primary week is by then, so the information
fraction n_k / N varies from trial to trial and each trial's bounds are the spending
functions at its own fractions (``group_sequential.bounds_at``, Lan-DeMets). The patients
randomised at a look are those entered by its month.

Per comparison the Wald statistic Z_k = log OR / SE (positive: the treated arm responds
more) is compared with the design's one-sided bounds (analysis/group_sequential.py, level
``analysis.alpha / 2``): efficacy stop at the first look with Z_k ≥ c_k; futility stop
(binding or not, obeyed here) at an interim look with Z_k ≤ f_k; at the last look the
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
from trialsim.errors import ScenarioError
from trialsim.model.accrual import WEEKS_PER_MONTH, entry_month, expected_entered

__all__ = ["InterimParams", "interim_params", "interim_design", "interim_looks",
           "LOOK_FIELDS", "CALENDAR_LOOK_FIELDS", "sequential_decisions", "EFFICACY",
           "FUTILITY", "CONTINUED"]

#: per look and comparison: the Wald Z, the log odds ratio, and whether the fit was analysable
LOOK_FIELDS = ("z", "log_or", "analysable")
#: per look: its calendar month, the patients randomised by then and those analysed (with
#: primary-endpoint data)
CALENDAR_LOOK_FIELDS = ("month", "randomised", "analysed")
#: ``sequential_decisions``' outcomes at the look a comparison stops (or the last)
CONTINUED, EFFICACY, FUTILITY = 0, 1, 2

_LOG_OR = RESULT_FIELDS.index("log_or")
_SE = RESULT_FIELDS.index("se")
_CONVERGED = RESULT_FIELDS.index("converged")


class InterimParams(NamedTuple):
    """``design.interim`` as the compiled trial reads it."""

    enabled: bool
    patients: np.ndarray  # (K,) int64: n_k, the patients analysed at each look (fractions)
    primary_weeks: float  # the primary endpoint week
    calendar: bool  # looks at calendar months (``months``) rather than at fractions
    months: np.ndarray  # (K - 1,) months of the interim looks (calendar only)


def interim_design(scenario: Scenario) -> GroupSequentialDesign | None:
    """The scenario's group-sequential design (bounds at one-sided ``analysis.alpha / 2``),
    or None without ``design.interim``."""
    it = scenario.design.interim
    if it is None:
        return None
    fut = it.futility
    return design_group_sequential(
        planned_fractions(scenario), alpha=scenario.analysis.alpha / 2.0,
        efficacy_spending=it.efficacy.spending, efficacy_gamma=it.efficacy.gamma,
        futility_spending=None if fut is None else fut.spending,
        futility_gamma=None if fut is None else fut.gamma, beta=it.beta,
        binding_futility=fut is not None and fut.binding)


def planned_fractions(scenario: Scenario) -> list[float]:
    """The looks' planned information fractions: ``information_fractions``, or for
    ``calendar_months`` the expected share of patients with primary data by each month
    (the accrual's expected randomisations by the month less the primary week), then 1.

    Raises
    ------
    ScenarioError
        A calendar month at which no patient is expected to have primary data yet, or at
        or after the expected final analysis (every patient's primary week), naming
        ``design.interim.calendar_months[k]``.
    """
    des = scenario.design
    it = des.interim
    if it.calendar_months is None:
        return list(it.information_fractions)
    acc = des.accrual
    n = des.sample_size
    lag = des.endpoint_weeks[0] / WEEKS_PER_MONTH
    final = entry_month(float(n), acc.patients_per_month, acc.ramp_up_months) + lag
    out = []
    for k, month in enumerate(it.calendar_months):
        share = expected_entered(month - lag, acc.patients_per_month, acc.ramp_up_months) / n
        where = f"design.interim.calendar_months[{k}] = {month:g}"
        if share <= 0.0 or share * n < 1.0:
            raise ScenarioError(
                f"{where}: no patient is expected to have reached the primary endpoint (week "
                f"{des.endpoint_weeks[0]}) by then; the first are expected after month "
                f"{entry_month(1.0, acc.patients_per_month, acc.ramp_up_months) + lag:.1f}")
        if month >= final or share >= 1.0:
            raise ScenarioError(
                f"{where}: an interim look at or after the final analysis, expected at month "
                f"{final:.1f} (the last of {n} patients at week {des.endpoint_weeks[0]}); an "
                "interim month must come before it")
        out.append(share)
    return out + [1.0]


def interim_params(scenario: Scenario) -> InterimParams:
    """The patients analysed at each look, ⌈t_k N⌉ (N at the last), or the calendar
    months of the interim looks."""
    des = scenario.design
    if des.interim is None:
        return InterimParams(False, np.zeros(0, dtype=np.int64), float(des.endpoint_weeks[0]),
                             False, np.zeros(0))
    n = des.sample_size
    fractions = planned_fractions(scenario)
    patients = np.array([min(n, max(1, math.ceil(t * n - 1e-9))) for t in fractions],
                        dtype=np.int64)
    patients[-1] = n
    months = des.interim.calendar_months
    return InterimParams(True, patients, float(des.endpoint_weeks[0]), months is not None,
                         np.array(months if months is not None else [], dtype=np.float64))


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
    k_max = ip.patients.shape[0]
    lag = ip.primary_weeks / weeks_per_month
    for k in range(k_max):
        if ip.calendar and k < k_max - 1:
            month = ip.months[k]
            m = 0
            while m < n and entry[m] + lag <= month:
                m += 1
        else:
            m = ip.patients[k]
            month = entry[m - 1] + lag
        # no patient with data yet (calendar looks only): one patient's fit, not used
        out = compare_patients(primary, arm, covariates, pairs, alpha,
                               np.arange(max(m, 1), dtype=np.int64))
        for c in range(pairs.shape[0]):
            ok = m > 0 and out[0, c, _CONVERGED] > 0.0
            looks[c, k, 0] = out[0, c, _LOG_OR] / out[0, c, _SE] if ok else np.nan
            looks[c, k, 1] = out[0, c, _LOG_OR] if ok else np.nan
            looks[c, k, 2] = 1.0 if ok else 0.0
        randomised = 0
        for i in range(n):
            if entry[i] <= month:
                randomised += 1
        calendar[k, 0] = month
        calendar[k, 1] = randomised
        calendar[k, 2] = m


def sequential_decisions(z: np.ndarray, efficacy: np.ndarray, futility: np.ndarray | None):
    """The look at which each trial's sequential test stops and why.

    Parameters
    ----------
    z : ndarray, shape (n_trials, K)
        Wald Z at each look (nan: not analysable, which never stops the test).
    efficacy : ndarray, shape (K,) or (n_trials, K)
        Efficacy bounds c_k (per trial for looks at calendar dates).
    futility : ndarray, shape (K - 1,) or (n_trials, K - 1), or None
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
    efficacy = np.broadcast_to(efficacy, (n, k_max))
    if futility is not None:
        futility = np.broadcast_to(futility, (n, k_max - 1))
    look = np.full(n, k_max - 1, dtype=np.int64)
    outcome = np.full(n, CONTINUED, dtype=np.int64)
    open_ = np.ones(n, dtype=bool)
    for k in range(k_max):
        with np.errstate(invalid="ignore"):
            eff = open_ & (z[:, k] >= efficacy[:, k])
            fut = (open_ & ~eff & (z[:, k] <= futility[:, k]) if futility is not None
                   and k < k_max - 1 else np.zeros(n, dtype=bool))
        look[eff | fut] = k
        outcome[eff] = EFFICACY
        outcome[fut] = FUTILITY
        open_ &= ~(eff | fut)
    return look, outcome
