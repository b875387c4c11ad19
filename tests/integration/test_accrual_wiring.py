"""Accrual in the compiled trial: each trial's calendar is the accrual model's on the
replicate's own draws (model/accrual.py), efficacy and safety results do not move when
accrual is switched on, and the summary reports the calendar only when there is one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trialsim.config.scenario import with_overrides
from trialsim.core.rng import replicate_key
from trialsim.model.accrual import CALENDAR_FIELDS, accrual_params, calendar, entry_months
from trialsim.run.trial import Plan, run_chunk
from trialsim.summarize.tables import summarize

R = 3


@pytest.fixture(scope="module")
def scenarios(bliss76):
    base = with_overrides(bliss76, {"design.sample_size": 300,
                                    "analysis.endpoints": ["sri4"],
                                    "analysis.subgroups.factors": ["black"], "seed": 77})
    acc = with_overrides(base, {"design.accrual": {"patients_per_month": 20.0,
                                                   "ramp_up_months": 4.0}})
    return base, acc


def test_calendar_is_the_accrual_model_s(scenarios):
    _, acc = scenarios
    res = run_chunk(acc, 0, R)
    ap = accrual_params(acc)
    for r in range(R):
        want = np.empty(len(CALENDAR_FIELDS))
        calendar(ap, entry_months(ap, 300, *replicate_key(acc.seed, r)), want)
        np.testing.assert_array_equal(res.calendar[r], want)
    # 300 patients at 20 a month after a 4-month ramp: about 300 / 20 + 2 = 17 months
    assert np.all(np.abs(res.calendar[:, 0] - 17.0) < 4 * np.sqrt(300) / 20)
    np.testing.assert_allclose(res.calendar[:, 2] - res.calendar[:, 0], 76 * 12 / 52)


def test_accrual_changes_nothing_else(scenarios):
    base, acc = scenarios
    a, b = run_chunk(base, 0, R), run_chunk(acc, 0, R)
    assert np.isnan(a.calendar).all() and np.isfinite(b.calendar).all()
    for f in dataclasses.fields(a):
        if f.name != "calendar":
            np.testing.assert_array_equal(getattr(a, f.name), getattr(b, f.name), f.name)


def test_summary_reports_the_calendar_only_with_accrual(scenarios):
    base, acc = scenarios
    s = summarize(Plan(acc), run_chunk(acc, 0, R))
    rows = s[s.endpoint == "accrual"].set_index("statistic")
    assert set(CALENDAR_FIELDS) <= set(rows.index)
    res = run_chunk(acc, 0, R)
    assert rows.value["study_months"] == pytest.approx(res.calendar[:, 2].mean())
    assert "accrual" not in set(summarize(Plan(base), run_chunk(base, 0, R)).endpoint)
