"""The BLISS protocol's rules on concomitant medication and follow-up (domain.md §3).

One home for each rule: the course kernel calls these ``@jit`` functions, the endpoints and
the tests call the same ones. A patient whose background medication changes against the
protocol is a treatment failure (a non-responder from then on); a patient who misses a visit
has dropped out and is unobserved from then on.
"""

from __future__ import annotations

import numpy as np

from trialsim.core.jit import jit


@jit
def after_steroid_limit(week, limit_week):
    """Whether a visit in ``week`` falls after the steroid limit week (week 24, domain.md §3)."""
    return week > limit_week


@jit
def breaks_steroid_rule(week, dose_mg, baseline_dose_mg, limit_week, allowance_mg):
    """Prednisone above the allowance after the steroid limit week: a treatment failure.

    Steroid increases are limited after week 24 (domain.md §3): at a visit in week ``week``
    later than ``limit_week``, a dose above ``baseline_dose_mg + allowance_mg`` breaks the
    rule; a dose exactly at the allowance does not.
    """
    return after_steroid_limit(week, limit_week) and dose_mg > baseline_dose_mg + allowance_mg


@jit
def breaks_immunosuppressant_rule(week, on_immunosuppressant, limit_week):
    """An immunosuppressant escalation against the protocol: a treatment failure.

    No new immunosuppressant after randomization, and no dose increase after week 16
    (domain.md §3): escalating a patient not on one breaks the rule at any time; increasing
    the dose of one already taken breaks it only after ``limit_week``.
    """
    return (not on_immunosuppressant) or week > limit_week


#: weeks in a year of the model (annual dropout proportions, patient-years of exposure)
WEEKS_PER_YEAR = 52.0
#: calendar months per year; a month is ``WEEKS_PER_YEAR / MONTHS_PER_YEAR`` weeks
MONTHS_PER_YEAR = 12.0


def dropout_per_visit(per_year: float, interval_weeks: int) -> float:
    """Per-visit dropout probability of an annual dropout proportion (constant hazard)."""
    return 1.0 - (1.0 - per_year) ** (interval_weeks / WEEKS_PER_YEAR)


@jit
def years_on_study(dropout_visit, n_visits, interval_weeks):
    """A patient's time on study in years: to the last visit if completed (``dropout_visit``
    = ``n_visits``), else to midway between the last visit attended and the first missed
    (dropout at a constant hazard between visits)."""
    if dropout_visit >= n_visits:
        visits = n_visits - 1.0
    else:
        visits = dropout_visit - 0.5
    return max(visits, 0.0) * interval_weeks / WEEKS_PER_YEAR


@jit
def is_on_study(dropout_visit, failure_visit, visit):
    """Observed at ``visit`` (dropped out later) and not a treatment failure by then."""
    return dropout_visit > visit and failure_visit > visit


def on_study(dropout_visit: np.ndarray, failure_visit: np.ndarray, visit: int) -> np.ndarray:
    """Observed at ``visit`` and not a treatment failure by then.

    ``dropout_visit`` is the first visit missed and ``failure_visit`` the first visit at which
    a rule was broken (both ``n_visits`` for never): a patient who drops out at visit v was
    last seen at v - 1; one who fails at visit v is a non-responder at v (``is_on_study``
    of each patient).
    """
    return np.vectorize(is_on_study, otypes=[bool])(dropout_visit, failure_visit, visit)


def n_visits(duration_weeks: int, interval_weeks: int) -> int:
    """Number of visits including baseline (visit 0)."""
    return duration_weeks // interval_weeks + 1


def visit_of_week(week: int, interval_weeks: int) -> int:
    """Index of the visit held in ``week`` (visit 0 is baseline, week 0)."""
    return week // interval_weeks
