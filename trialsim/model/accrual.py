"""Accrual: the calendar month at which each randomised patient enters the trial.

Patients are randomised as a Poisson process in calendar time whose intensity rises
linearly from 0 at month 0 to ``design.accrual.patients_per_month`` at
``ramp_up_months`` (sites opening one after another) and stays there. With cumulative
intensity Λ(t) (``expected_entered``), the k-th randomised patient enters at
Λ⁻¹(E_1 + … + E_k), E_i independent standard exponentials (``entry_month``): the k-th
arrival of the process. The patients enter in the order they were enrolled (screening
order), so patient k of the cohort is the k-th arrival.

The draws come from the ``accrual`` stage of the replicate's counters (one uniform per
patient, addressed by the patient's place in the cohort): accrual changes nothing else in
the run. From the entry months follow the trial's calendar: the month the last patient is
randomised, the month the last patient reaches the primary endpoint week, and the end of the
study (``calendar``); at any month some patients have their week-52 data and others do not.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from trialsim.config.scenario import Scenario
from trialsim.core.jit import jit
from trialsim.core.rng import STAGE_ACCRUAL, counter_uniforms
from trialsim.model.protocol import MONTHS_PER_YEAR, WEEKS_PER_YEAR

__all__ = ["AccrualParams", "accrual_params", "expected_entered", "entry_month", "entry_months",
           "calendar", "CALENDAR_FIELDS", "WEEKS_PER_MONTH"]

#: weeks per calendar month (52 / 12)
WEEKS_PER_MONTH = WEEKS_PER_YEAR / MONTHS_PER_YEAR
#: ``calendar``'s fields, per trial: months from the start of accrual (month 0) to the last
#: randomisation, to the last patient's primary endpoint visit (the primary analysis, data
#: complete), and to the last patient's last visit (the end of the study)
CALENDAR_FIELDS = ("accrual_months", "primary_analysis_months", "study_months")


class AccrualParams(NamedTuple):
    """``design.accrual`` as the compiled trial reads it."""

    enabled: bool  # False: no accrual model (no calendar outputs)
    patients_per_month: float  # the intensity once ramped up
    ramp_up_months: float  # months for the intensity to rise linearly from 0 (0: none)
    primary_weeks: float  # the first endpoint week
    duration_weeks: float


def accrual_params(scenario: Scenario) -> AccrualParams:
    """The scenario's accrual (``enabled`` False when ``design.accrual`` is not given)."""
    des = scenario.design
    acc = des.accrual
    return AccrualParams(
        enabled=acc is not None,
        patients_per_month=float(acc.patients_per_month) if acc is not None else 1.0,
        ramp_up_months=float(acc.ramp_up_months) if acc is not None else 0.0,
        primary_weeks=float(des.endpoint_weeks[0]),
        duration_weeks=float(des.duration_weeks),
    )


@jit
def expected_entered(t, rate, ramp):
    """Λ(t): patients expected to be randomised by month ``t`` (intensity ``rate · t / ramp``
    up to ``ramp``, ``rate`` after)."""
    if t <= 0.0:
        return 0.0
    if ramp > 0.0 and t < ramp:
        return rate * t * t / (2.0 * ramp)
    return rate * (t - 0.5 * ramp)


@jit
def entry_month(s, rate, ramp):
    """Λ⁻¹(s): the month by which ``s`` patients are expected (``expected_entered``'s
    inverse)."""
    if ramp > 0.0 and s < 0.5 * rate * ramp:
        return math.sqrt(2.0 * ramp * s / rate)
    return s / rate + 0.5 * ramp


@jit
def entry_months(p, n, k0, k1):
    """Entry month of each of the ``n`` patients of replicate key (``k0``, ``k1``), in
    cohort order (non-decreasing; docs in the module docstring)."""
    u = counter_uniforms(k0, k1, STAGE_ACCRUAL, 0, 0, n)
    out = np.empty(n)
    s = 0.0
    for i in range(n):
        s -= math.log(1.0 - u[i])  # u < 1: the counters' uniforms are (w + 0.5) 2^-32
        out[i] = entry_month(s, p.patients_per_month, p.ramp_up_months)
    return out


@jit
def calendar(p, entry, out):
    """A trial's ``CALENDAR_FIELDS`` from its patients' entry months, into ``out``."""
    last = 0.0
    for i in range(entry.shape[0]):
        last = max(last, entry[i])
    out[0] = last
    out[1] = last + p.primary_weeks / WEEKS_PER_MONTH
    out[2] = last + p.duration_weeks / WEEKS_PER_MONTH
