"""Interim looks in the compiled trial (analysis/interim.py): look k is the stratified
logistic regression on the first ⌈t_k N⌉ patients (statsmodels, patient by patient), the
last look is the final analysis, and each look's calendar is the accrual's; and the
sequential decisions by hand at the bounds' edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from trialsim.analysis.endpoints import ENDPOINTS
from trialsim.analysis.interim import CONTINUED, EFFICACY, FUTILITY, sequential_decisions
from trialsim.config.scenario import ScenarioError, with_overrides
from trialsim.core.rng import replicate_key
from trialsim.model.accrual import WEEKS_PER_MONTH, accrual_params, entry_months
from trialsim.model.randomization import strata_indicators
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk

R = 2
N = 300
FRACTIONS = [0.35, 0.6, 1.0]


@pytest.fixture(scope="module")
def scenario(bliss76):
    return with_overrides(bliss76, {
        "design.sample_size": N,
        "design.duration_weeks": 52,
        "design.endpoint_weeks": [52],
        "design.accrual": {"patients_per_month": 15.0, "ramp_up_months": 3.0},
        "design.interim": {"information_fractions": FRACTIONS},
        "analysis.endpoints": ["sri4"],
        "analysis.subgroups.factors": [],
        "seed": 31,
    })


def logit_z(y, treated, strata):
    cols = [np.ones_like(y), treated]
    cols += [strata[:, j] for j in range(strata.shape[1])
             if strata[:, j].min() < strata[:, j].max()]
    fit = sm.Logit(y, np.column_stack(cols)).fit(disp=0, tol=1e-12, maxiter=100)
    return fit.params[1], fit.params[1] / fit.bse[1]


def test_each_look_is_the_analysis_of_its_first_patients(scenario):
    plan = Plan(scenario)
    res = run_chunk(scenario, 0, R)
    patients = ReplicatePatients(scenario)
    ap = accrual_params(scenario)
    checked = 0
    for r in range(R):
        trial = patients(r)
        y_all = ENDPOINTS["sri4"](trial, 13).astype(float)
        x = strata_indicators(trial.cohort, scenario.design)[0].astype(float)
        entry = entry_months(ap, N, *replicate_key(scenario.seed, r))
        for k, t in enumerate(FRACTIONS):
            m = math.ceil(t * N)
            month = entry[m - 1] + 52 / WEEKS_PER_MONTH
            assert res.interim_calendar[r, k, 0] == pytest.approx(month, rel=1e-12)
            assert res.interim_calendar[r, k, 1] == np.sum(entry <= month)
            for c, (trt, ctl) in enumerate(plan.pairs):
                first = np.arange(N) < m
                sel = first & np.isin(trial.arm, [trt, ctl])
                log_or, z = logit_z(y_all[sel], (trial.arm[sel] == trt).astype(float), x[sel])
                got = res.interim_looks[r, c, k]
                assert got[1] == pytest.approx(log_or, rel=1e-6, abs=1e-9), (r, k, c)
                assert got[0] == pytest.approx(z, rel=1e-5), (r, k, c)
                checked += 1
        # the last look is the final analysis
        np.testing.assert_array_equal(res.interim_looks[r, :, -1, 1], res.analysis[r, 0, :, 0])
    assert checked == R * len(FRACTIONS) * len(plan.pairs)
    assert np.all(np.diff(res.interim_calendar[:, :, 0], axis=1) > 0)


def test_sequential_decisions_at_the_bounds():
    c = np.array([3.0, 2.5, 2.0])
    f = np.array([0.0, 1.0])
    z = np.array([
        [3.0, 0.0, 0.0],  # efficacy at look 1 (Z = c exactly)
        [2.9, 2.5, 9.0],  # efficacy at look 2
        [0.0, 9.0, 9.0],  # futility at look 1 (Z = f exactly)
        [0.1, 1.0, 9.0],  # futility at look 2
        [0.1, 1.1, 1.99],  # reaches the end without rejecting
        [np.nan, np.nan, 2.0],  # unanalysable looks never stop it; rejected at the end
    ])
    look, outcome = sequential_decisions(z, c, f)
    assert look.tolist() == [0, 1, 0, 1, 2, 2]
    assert outcome.tolist() == [EFFICACY, EFFICACY, FUTILITY, FUTILITY, CONTINUED, EFFICACY]
    look, outcome = sequential_decisions(z, c, None)  # the futility bounds ignored
    assert outcome.tolist() == [EFFICACY, EFFICACY, EFFICACY, EFFICACY, CONTINUED, EFFICACY]
    assert look.tolist() == [0, 1, 1, 2, 2, 2]


def test_interim_needs_accrual(bliss76):
    with pytest.raises(ScenarioError, match="design.accrual"):
        with_overrides(bliss76, {"design.interim": {"information_fractions": [0.5, 1.0]}})


MONTHS = [18.0, 22.0]


@pytest.fixture(scope="module")
def calendar_scenario(scenario):
    return with_overrides(scenario, {"design.interim": {
        "calendar_months": MONTHS, "futility": {"spending": "pocock", "binding": True}}})


def test_calendar_looks_analyse_the_patients_with_data_by_their_month(calendar_scenario):
    """Look k at month m_k analyses the patients whose entry + primary week is by m_k (the
    first n_k, since they enter in cohort order), as statsmodels does on them; the final
    look is the primary analysis; each trial's bounds are the spending functions at its own
    fractions n_k / N (``bounds_at``), and the reducer's decisions use them."""
    from trialsim.analysis.group_sequential import bounds_at
    from trialsim.summarize.reduce import Reducer

    sc = calendar_scenario
    plan = Plan(sc)
    res = run_chunk(sc, 0, R)
    patients = ReplicatePatients(sc)
    ap = accrual_params(sc)
    lag = 52 / WEEKS_PER_MONTH
    red = Reducer(plan)
    efficacy, futility, fractions = red._trial_bounds(res)
    for r in range(R):
        trial = patients(r)
        y_all = ENDPOINTS["sri4"](trial, 13).astype(float)
        x = strata_indicators(trial.cohort, sc.design)[0].astype(float)
        entry = entry_months(ap, N, *replicate_key(sc.seed, r))
        counts = [int(np.sum(entry + lag <= m)) for m in MONTHS] + [N]
        assert 0 < counts[0] < counts[1] < N
        np.testing.assert_array_equal(res.interim_calendar[r, :, 2], counts)
        assert res.interim_calendar[r, 0, 0] == MONTHS[0]
        assert res.interim_calendar[r, 1, 1] == np.sum(entry <= MONTHS[1])
        for k, m in enumerate(counts):
            for c, (trt, ctl) in enumerate(plan.pairs):
                sel = (np.arange(N) < m) & np.isin(trial.arm, [trt, ctl])
                _, z = logit_z(y_all[sel], (trial.arm[sel] == trt).astype(float), x[sel])
                assert res.interim_looks[r, c, k, 0] == pytest.approx(z, rel=1e-5), (r, k, c)
        want_c, want_f = bounds_at(plan.interim_design, np.array(counts) / N)
        np.testing.assert_allclose(efficacy[r], want_c, rtol=1e-12)
        np.testing.assert_allclose(futility[r], want_f, rtol=1e-12)
        np.testing.assert_allclose(fractions[r], np.array(counts) / N)
    assert plan.interim_design.binding_futility


def test_bounds_at_the_planned_fractions_are_the_design_s(calendar_scenario):
    from trialsim.analysis.group_sequential import bounds_at

    design = Plan(calendar_scenario).interim_design
    c, f = bounds_at(design, design.information_fractions)
    np.testing.assert_allclose(c, design.critical_values, rtol=1e-9)
    np.testing.assert_allclose(f, design.futility_bounds, rtol=1e-7)
    # a look with no new information (or none at all) cannot stop the trial
    c, f = bounds_at(design, [0.0, 0.5, 1.0])
    assert c[0] == np.inf and f[0] == -np.inf and np.isfinite(c[1:]).all()
    c, _ = bounds_at(design, [0.6, 0.6, 1.0])
    assert np.isfinite(c[0]) and c[1] == np.inf


@pytest.mark.parametrize("interim, words", [
    ({"calendar_months": [18.0, 22.0], "information_fractions": [0.5, 1.0]},
     ["either", "not both"]),
    ({"futility": {"spending": "pocock"}}, ["either", "neither"]),
    ({"calendar_months": [22.0, 18.0]}, ["calendar_months", "must increase"]),
    ({"calendar_months": [18.0, 40.0]}, ["calendar_months[1] = 40", "after the final analysis",
                                         "month"]),
    ({"calendar_months": [6.0]}, ["calendar_months[0] = 6", "no patient"]),
    ({"information_fractions": [0.5, 0.4, 1.0]}, ["information_fractions", "must increase"]),
    ({"information_fractions": [0.5, 0.9]}, ["information_fractions", "final analysis"]),
    ({"information_fractions": [0.5, 1.0], "futility": {"spending": "pocock", "binding": 1.5}},
     ["futility.binding"]),
])
def test_bad_interim_schedules_are_named(scenario, interim, words):
    """Named errors with the YAML path, raised before anything runs (the calendar months
    against the accrual's expected final analysis: month 31.1 here)."""
    with pytest.raises(ScenarioError) as err:
        Plan(with_overrides(scenario, {"design.interim": interim}))
    msg = str(err.value)
    assert "design.interim" in msg, msg
    for w in words:
        assert w in msg, msg
