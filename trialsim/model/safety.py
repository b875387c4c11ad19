"""Adverse events: exposure-dependent counts per patient (the scenario's ``safety:`` block).

Each event has a rate per patient-year for each arm (``SafetyParams.rates``: the placebo rate
on an arm of dose 0, the drug rate on any other, unless the scenario gives the arm its own).
A patient's count of an event is Poisson with mean ``rate x years on study``
(``protocol.years_on_study``: to the last visit, or to midway to the first visit missed). A
terminal event (death) happens at most once, at an exponential time; the patient's time at
risk of every other event ends there.

The events do not feed back into the efficacy course: the calibrated dropout already
contains the trials' deaths and withdrawals for adverse events (the published completion
rates count them), so adding them to the course would count them twice. Draws come from the
``safety`` stage of the replicate's counters, one uniform per (patient, event), addressed by
the patient's screening index: an arm's events do not depend on the other patients, and
setting a rate changes nothing else in the run.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from trialsim.config.scenario import Scenario
from trialsim.core.jit import jit
from trialsim.core.rng import STAGE_SAFETY, counter_uniforms
from trialsim.model.protocol import years_on_study

__all__ = ["SafetyParams", "safety_params", "poisson_quantile", "draw_adverse_events"]

#: per 100 patient-years, as the scenario states rates
PER_100PY = 100.0


class SafetyParams(NamedTuple):
    """The adverse events of a scenario, as the compiled trial reads them."""

    rates: np.ndarray  # (n_events, n_arms) events per patient-year
    terminal: int  # index of the terminal event, -1 for none


def safety_params(scenario: Scenario, arms: list[str], doses: np.ndarray) -> SafetyParams:
    """Per-arm rates per patient-year of the scenario's events (in ``safety.events`` order)."""
    events = scenario.safety.events
    rates = np.zeros((len(events), len(arms)))
    terminal = -1
    for e, ev in enumerate(events.values()):
        for a, arm in enumerate(arms):
            default = ev.placebo_per_100py if doses[a] == 0 else ev.drug_per_100py
            per_100 = ev.arms.get(arm, default)
            rates[e, a] = per_100 / PER_100PY
        if ev.terminal:
            terminal = e
    return SafetyParams(rates=rates, terminal=terminal)


@jit
def poisson_quantile(u, mean):
    """The Poisson(``mean``) count whose CDF first reaches ``u`` (inversion: one uniform per
    count, monotone in ``u``)."""
    if mean <= 0.0:
        return 0
    p = math.exp(-mean)
    cdf = p
    k = 0
    while u > cdf and k < 10_000:
        k += 1
        p *= mean / k
        cdf += p
    return k


@jit
def draw_adverse_events(sp, arm, dropout_visit, unit, n_visits, interval_weeks, k0, k1):
    """Each patient's adverse events and time at risk.

    Parameters
    ----------
    sp : SafetyParams
    arm, dropout_visit, unit : ndarray of int64
        Each patient's arm, first visit missed (``n_visits``: completed) and screening index
        (the draws' address).
    n_visits, interval_weeks : int
    k0, k1 : int
        The replicate's key.

    Returns
    -------
    counts : ndarray of int64, shape (n_events, n)
        Events of each kind per patient (a terminal event: 0 or 1).
    years : ndarray of float64, shape (n,)
        Time at risk in years: on study, up to a terminal event.
    """
    n_events = sp.rates.shape[0]
    n = arm.shape[0]
    counts = np.zeros((n_events, n), dtype=np.int64)
    years = np.empty(n)
    for i in range(n):
        t = years_on_study(dropout_visit[i], n_visits, interval_weeks)
        if n_events == 0:
            years[i] = t
            continue
        u = counter_uniforms(k0, k1, STAGE_SAFETY, unit[i], 0, n_events)
        if sp.terminal >= 0:
            rate = sp.rates[sp.terminal, arm[i]]
            if rate > 0.0:
                at = -math.log1p(-u[sp.terminal]) / rate  # exponential time of the event
                if at < t:
                    counts[sp.terminal, i] = 1
                    t = at
        years[i] = t
        for e in range(n_events):
            if e != sp.terminal:
                counts[e, i] = poisson_quantile(u[e], sp.rates[e, arm[i]] * t)
    return counts, years
