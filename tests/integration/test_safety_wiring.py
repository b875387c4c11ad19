"""Adverse events in the compiled trial: patient by patient against a second implementation
(scipy draws from the same counters), the exact test against statsmodels, and the rejection
rate against its exact expectation."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import rates as sm_rates

from trialsim.analysis.safety import P_VALUE, RATE_RATIO
from trialsim.config.scenario import with_overrides
from trialsim.core.io import whole_trial
from trialsim.core.rng import STAGE_SAFETY, counter_uniforms, replicate_key
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk
from trialsim.summarize.tables import summarize

FAST = {
    "analysis.endpoints": ["sri4"],
    "analysis.subgroups.factors": [],
    "design.endpoint_weeks": [24],
}
EVENTS = {
    "death": {"placebo_per_100py": 8.0, "drug_per_100py": 20.0, "terminal": True},
    "infection": {"placebo_per_100py": 30.0, "drug_per_100py": 60.0, "arms": {"bel1": 45.0}},
    "rash": {"placebo_per_100py": 150.0, "drug_per_100py": 150.0},
}


@pytest.fixture(scope="module")
def scenario(tiny):
    return with_overrides(tiny, {**FAST, "safety.events": EVENTS})


def _second_implementation(scenario, r):
    """Each patient's events and years at risk from the model's statement (docs/model.md),
    with scipy's Poisson inverse CDF and exponential."""
    trial = ReplicatePatients(scenario)(r)
    des = scenario.design
    n_visits = des.duration_weeks // des.visit_interval_weeks + 1
    k0, k1 = replicate_key(scenario.seed, r)
    names = list(EVENTS)
    arms = list(des.arms)
    n = trial.arm.size
    counts = np.zeros((len(names), n), dtype=np.int64)
    years = np.zeros(n)
    for i in range(n):
        d = trial.course.dropout_visit[i]
        visits = n_visits - 1 if d >= n_visits else d - 0.5
        t = visits * des.visit_interval_weeks / 52.0
        u = counter_uniforms(k0, k1, STAGE_SAFETY, trial.cohort.candidate[i], 0, len(names))
        arm = arms[trial.arm[i]]
        dose = des.arms[arm].dose_mg_kg

        def rate(ev, arm=arm, dose=dose):
            spec = EVENTS[ev]
            per = spec.get("arms", {}).get(
                arm, spec["placebo_per_100py"] if dose == 0 else spec["drug_per_100py"])
            return per / 100.0

        death_at = stats.expon.ppf(u[0], scale=1.0 / rate("death"))
        if death_at < t:
            counts[0, i] = 1
            t = death_at
        years[i] = t
        for e, ev in enumerate(names[1:], start=1):
            counts[e, i] = stats.poisson.ppf(u[e], rate(ev) * t)
    return trial, counts, years


@pytest.mark.parametrize("r", [0, 3, 5])
def test_adverse_events_match_a_second_implementation(scenario, r):
    res = run_chunk(scenario, r, r + 1)
    trial, counts, years = _second_implementation(scenario, r)
    n_arms = len(scenario.design.arms)
    for a in range(n_arms):
        m = trial.arm == a
        np.testing.assert_array_equal(res.safety_events[0, :, a], counts[:, m].sum(axis=1))
        np.testing.assert_array_equal(res.safety_patients[0, :, a], (counts[:, m] > 0).sum(axis=1))
        assert res.safety_years[0, a] == pytest.approx(years[m].sum(), rel=1e-12)
    plan = Plan(scenario)
    assert counts.sum() > 10  # the check saw events
    for e in range(len(EVENTS)):
        for c, (t, k) in enumerate(plan.pairs):
            x1, x0 = counts[e, trial.arm == t].sum(), counts[e, trial.arm == k].sum()
            t1, t0 = years[trial.arm == t].sum(), years[trial.arm == k].sum()
            got = res.safety_analysis[0, e, c]
            if x1 + x0:
                want = sm_rates.test_poisson_2indep(x1, t1, x0, t0, method="exact-cond").pvalue
                assert got[P_VALUE] == pytest.approx(want, rel=1e-9)
            if x0:
                assert got[RATE_RATIO] == pytest.approx((x1 / t1) / (x0 / t0), rel=1e-12)


def test_safety_leaves_efficacy_bit_identical(tiny):
    plain = run_chunk(with_overrides(tiny, {**FAST, "safety.events": {}}), 0, 4)
    with_ae = run_chunk(with_overrides(tiny, {**FAST, "safety.events": EVENTS}), 0, 4)
    for field in ("analysis", "rates", "flare_analysis", "baseline", "sledai_mean"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(with_ae, field))


@functools.cache
def _exact_rejection(mean1: float, mean0: float, t1: float, t0: float, alpha: float) -> float:
    """P(exact conditional test rejects) with Poisson(mean1), Poisson(mean0) counts and fixed
    exposures, summed over the outcomes (scipy's binomial test as the oracle)."""
    top1 = int(stats.poisson.ppf(1 - 1e-10, mean1)) + 1
    top0 = int(stats.poisson.ppf(1 - 1e-10, mean0)) + 1
    p1 = stats.poisson.pmf(np.arange(top1), mean1)
    p0 = stats.poisson.pmf(np.arange(top0), mean0)
    total = 0.0
    for x1 in range(top1):
        for x0 in range(top0):
            if x1 + x0 and stats.binomtest(x1, x1 + x0, t1 / (t1 + t0)).pvalue < alpha:
                total += p1[x1] * p0[x0]
    return total


def test_rejection_rate_equals_its_exact_expectation(tiny):
    """No dropout and no terminal event: every patient is at risk for the whole trial, so
    each trial's chance of rejecting follows from its arm sizes alone; the simulated rejection
    rate must match the average of those chances within Monte Carlo error."""
    events = {"infection": {"placebo_per_100py": 30.0, "drug_per_100py": 90.0}}
    sc = with_overrides(tiny, {**FAST, "safety.events": events, "design.dropout_per_year": 0.0})
    reps = 400
    res = run_chunk(sc, 0, reps)
    plan = Plan(sc)
    years = sc.design.duration_weeks / 52.0
    alpha = sc.analysis.alpha
    for c, (t, k) in enumerate(plan.pairs):
        expected = []
        for r in range(reps):
            t1, t0 = res.arm_n[r, t] * years, res.arm_n[r, k] * years
            assert res.safety_years[r, t] == pytest.approx(t1)
            expected.append(_exact_rejection(0.9 * t1, 0.3 * t0, t1, t0, alpha))
        want = float(np.mean(expected))
        got = float(np.mean(res.safety_analysis[:, 0, c, P_VALUE] < alpha))
        mcse = np.sqrt(want * (1 - want) / reps)
        assert 0.2 < want < 0.9  # a test with power to tell
        assert abs(got - want) < 3.5 * mcse, (c, got, want, mcse)


def test_type_one_error_of_the_exact_test_is_at_most_alpha(tiny):
    events = {"infection": {"placebo_per_100py": 60.0, "drug_per_100py": 60.0}}
    sc = with_overrides(tiny, {**FAST, "safety.events": events})
    reps = 600
    res = run_chunk(sc, 0, reps)
    alpha = sc.analysis.alpha
    size = float(np.mean(res.safety_analysis[:, 0, :, P_VALUE] < alpha))
    assert size <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / (2 * reps)), size


def test_summary_rows(scenario):
    plan = Plan(scenario)
    df = summarize(plan, run_chunk(scenario, 0, 6))
    rows = df[df.endpoint == "safety_death"]
    stats_ = set(rows.statistic)
    assert {"patients_with_event", "events_per_100py", "years_at_risk", "risk_difference_mean",
            "nnh", "rate_ratio_median", "power", "power_harm", "responders_per_event",
            "study_size_80", "study_size_90"} <= stats_
    assert (rows.week == scenario.design.duration_weeks).all()
    assert whole_trial(df).shape[0] == df.shape[0] - df.subgroup.ne("").sum()
    # the closed-form size grows with the power asked for
    by = dict(zip(zip(rows.comparison, rows.statistic, strict=True), rows.value, strict=True))
    for comp in plan.comparisons:
        assert by[(comp, "study_size_90")] > by[(comp, "study_size_80")] > 0
