"""The engine's wiring: each stage's output reaches the next one, the right way round.

A replicate is rebuilt here from the public stage functions (the same streams, screening,
randomization and course the engine runs) and analysed by independent code: statsmodels for
the logistic fits (with and without the stratification factors), lifelines for the Cox model
and the Kaplan–Meier curve, and plain numpy for rates, visits and trajectories. The engine's
per-replicate output must equal that analysis, field by field; and with a drug that works,
the effect estimates must point the right way and ``power_favoring_treatment`` must count
the right side.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.analysis.endpoints import ENDPOINTS, Trial
from trialsim.analysis.safety import SAFETY_FIELDS
from trialsim.analysis.survival import SURVIVAL_FIELDS
from trialsim.config.scenario import with_overrides
from trialsim.core.rng import replicate_key
from trialsim.model.course import run_course
from trialsim.model.population import PopulationModel
from trialsim.model.randomization import randomize, strata_indicators, stratum_index
from trialsim.run.simulate import simulate
from trialsim.run.trial import ChunkResult, Plan, run_chunk
from trialsim.summarize.tables import summarize, whole_trial

F = {name: k for k, name in enumerate(RESULT_FIELDS)}
S = {name: k for k, name in enumerate(SURVIVAL_FIELDS)}
ENDPOINT_LIST = ["sri4", "sledai_reduction_4", "no_pga_worsening", "no_new_bilag", "no_flare"]
REPLICATES = (0, 1)


def rebuild(sc, r):
    """Replicate ``r`` of scenario ``sc`` from the stage functions."""
    des = sc.design
    cohort, _ = PopulationModel(sc).enroll(des.sample_size, replicate_key(sc.seed, r))
    x, _ = strata_indicators(cohort, des)
    arms = list(des.arms)
    alloc = np.array([des.arms[a].allocation for a in arms])
    arm = randomize(stratum_index(x), alloc, des.block_multiplier, replicate_key(sc.seed, r))
    course = run_course(sc, cohort, arm, replicate_key(sc.seed, r))
    return Trial(cohort, arm, course, interval_weeks=des.visit_interval_weeks), x, arms


@pytest.fixture(scope="module")
def scenario(bliss76):
    return with_overrides(
        bliss76,
        {
            "design.sample_size": 450,
            "design.duration_weeks": 28,
            "design.endpoint_weeks": [20, 28],
            "analysis.endpoints": ENDPOINT_LIST,
            # a dose against a dose too (issue 12 §2): the same analysis on those two arms
            "design.comparisons": [["bel10", "placebo"], ["bel1", "placebo"], ["bel10", "bel1"]],
            "seed": 4242,
        },
    )


def independent_logit(y, treated, strata):
    """Treatment log OR and SE from statsmodels; None when a stratum separates the data."""
    cols = [np.ones_like(y), treated]
    for j in range(strata.shape[1]):
        c = strata[:, j]
        if c.min() == c.max():
            continue
        for level in (0.0, 1.0):
            yl = y[c == level]
            if yl.min() == yl.max():
                return None  # quasi-separation: the engine takes the ML limit instead
        cols.append(c)
    fit = sm.Logit(y, np.column_stack(cols)).fit(disp=0, tol=1e-12, maxiter=100)
    return fit.params[1], fit.bse[1]


@pytest.mark.parametrize("adjust", [True, False])
def test_logistic_fields_equal_an_independent_analysis(scenario, adjust):
    sc = with_overrides(scenario, {"analysis.adjust_for_strata": adjust})
    plan = Plan(sc)
    res = run_chunk(sc, REPLICATES[0], REPLICATES[-1] + 1)
    checked = 0
    for r in REPLICATES:
        trial, x, arms = rebuild(sc, r)
        for t, (endpoint, week) in enumerate(plan.targets):
            visit = week // sc.design.visit_interval_weeks  # written out, not the engine's helper
            flags = ENDPOINTS[endpoint](trial, visit).astype(float)
            for a, name in enumerate(arms):
                rate = flags[trial.arm == arms.index(name)].mean()
                assert res.rates[r, t, a] == pytest.approx(rate, abs=1e-12), (endpoint, name)
            for c, (treated, control) in enumerate(sc.design.comparison_pairs):
                sel = np.isin(trial.arm, [arms.index(treated), arms.index(control)])
                y = flags[sel]
                is_t = (trial.arm[sel] == arms.index(treated)).astype(float)
                out = res.analysis[r, t, c]
                assert out[F["rate_treated"]] == pytest.approx(y[is_t == 1].mean())
                assert out[F["rate_control"]] == pytest.approx(y[is_t == 0].mean())
                assert out[F["n_treated"]] == is_t.sum()
                ref = independent_logit(y, is_t, x[sel] if adjust else np.zeros((y.size, 0)))
                if ref is None:
                    continue
                assert out[F["log_or"]] == pytest.approx(ref[0], abs=1e-6), (endpoint, treated)
                assert out[F["se"]] == pytest.approx(ref[1], abs=1e-6), (endpoint, treated)
                checked += 1
    assert checked >= 0.8 * len(REPLICATES) * len(plan.targets) * len(sc.design.comparison_pairs)


def test_replicate_patients_are_the_engine_s_patients(scenario):
    """``ReplicatePatients`` (the library's patient-level replicate, which the calibration's
    subgroup targets count) is this file's rebuild and gives the engine's arm rates."""
    from trialsim.run.trial import ReplicatePatients

    plan = Plan(scenario)
    res = run_chunk(scenario, 0, 2)
    patients = ReplicatePatients(scenario)
    for r in (1, 0):  # out of order: a replicate owes nothing to the one before
        mine, (ref, _, arms) = patients(r), rebuild(scenario, r)
        assert np.array_equal(mine.arm, ref.arm)
        assert np.array_equal(mine.course.sledai, ref.course.sledai)
        assert np.array_equal(mine.cohort.anti_dsdna, ref.cohort.anti_dsdna)
        for t, (endpoint, week) in enumerate(plan.targets):
            flags = ENDPOINTS[endpoint](mine, week // scenario.design.visit_interval_weeks)
            got = [flags[mine.arm == a].mean() for a in range(len(arms))]
            assert np.allclose(got, res.rates[r, t], atol=1e-12, rtol=0), (endpoint, week)


def test_strata_adjustment_changes_the_estimate(scenario):
    """The adjusted and unadjusted fits of the same trials are different numbers."""
    on = run_chunk(scenario, 0, 2).analysis[..., F["log_or"]]
    off_sc = with_overrides(scenario, {"analysis.adjust_for_strata": False})
    off = run_chunk(off_sc, 0, 2).analysis[..., F["log_or"]]
    assert np.all(np.isfinite(on)) and np.all(np.isfinite(off))
    assert np.abs(on - off).min() > 1e-6


def test_survival_fields_equal_lifelines(scenario):
    plan = Plan(scenario)
    res = run_chunk(scenario, REPLICATES[0], REPLICATES[-1] + 1)
    interval = scenario.design.visit_interval_weeks
    for r in REPLICATES:
        trial, _, arms = rebuild(scenario, r)
        flare = trial.course.flare
        n_visits = flare.shape[1]
        last_seen = np.minimum(trial.course.dropout_visit - 1, n_visits - 1)
        days, seen = np.empty(arms and trial.arm.size), np.empty(trial.arm.size, bool)
        for i in range(trial.arm.size):
            hits = [v for v in range(1, n_visits) if flare[i, v] > 0 and v <= last_seen[i]]
            seen[i] = bool(hits)
            days[i] = (hits[0] if hits else last_seen[i]) * interval * 7.0
        for a in range(len(arms)):
            m = trial.arm == a
            km = KaplanMeierFitter().fit(days[m], seen[m]).survival_function_.iloc[:, 0]
            t_prev, s_prev, median = 0.0, 1.0, math.inf
            for t, s in km.items():
                if t > 0 and s <= 0.5:
                    median = t_prev + (s_prev - 0.5) / (s_prev - s) * (t - t_prev)
                    break
                if t > 0 and s < s_prev:
                    t_prev, s_prev = t, s
            assert res.flare_median_days[r, a] == pytest.approx(median, rel=1e-9)
        for c, (treated, control) in enumerate(scenario.design.comparison_pairs):
            sel = np.isin(trial.arm, [arms.index(treated), arms.index(control)])
            g = (trial.arm[sel] == arms.index(treated)).astype(float)
            df = pd.DataFrame({"t": days[sel], "e": seen[sel].astype(int), "treated": g})
            # lifelines' default stopping rule (a step below 1e-7) can stop ~2e-5 short of the
            # maximum near log HR 0; at 1e-12 it agrees with the engine's Newton fit to 1e-12
            cph = CoxPHFitter().fit(df, "t", "e", fit_options={"precision": 1e-12})
            out = res.flare_analysis[r, c]
            assert out[S["log_hr"]] == pytest.approx(cph.params_["treated"], abs=1e-6)
            lr = logrank_test(days[sel][g == 1], days[sel][g == 0], seen[sel][g == 1],
                              seen[sel][g == 0])
            assert out[S["p_logrank"]] == pytest.approx(lr.p_value, rel=1e-6)
    assert plan.comparisons == [f"{t}_vs_{c}" for t, c in scenario.design.comparison_pairs]


def test_sledai_trajectory_is_the_mean_of_patients_seen(scenario):
    res = run_chunk(scenario, 0, 1)
    trial, _, arms = rebuild(scenario, 0)
    seen = trial.course.dropout_visit[:, None] > np.arange(trial.course.sledai.shape[1])
    for a in range(len(arms)):
        m = trial.arm == a
        s = np.where(seen[m], trial.course.sledai[m], 0).sum(0) / seen[m].sum(0)
        np.testing.assert_allclose(res.sledai_mean[0, a], s, rtol=1e-12)


@pytest.fixture(scope="module")
def strong_drug(scenario):
    sc = with_overrides(
        scenario, {"drug.emax": 2.5, "drug.modifiers.race": {}, "design.sample_size": 300}
    )
    return Plan(sc), simulate(sc, replicates=40, n_jobs=1, progress=False)


def test_a_drug_that_works_points_the_right_way(strong_drug):
    plan, res = strong_drug
    t = plan.targets.index(("sri4", 28))
    log_or = res.analysis[:, t, :, F["log_or"]]
    assert (log_or > 0).mean() > 0.95  # treated vs control: OR > 1 when treated respond more
    assert (res.rates[:, t, 2] > res.rates[:, t, 0]).mean() > 0.95  # bel10 above placebo
    log_hr = res.flare_analysis[:, 1, S["log_hr"]]  # bel10 vs placebo: fewer flares, HR < 1
    assert np.nanmean(log_hr) < 0


def test_power_favoring_treatment_counts_the_right_side(strong_drug):
    """On hand-set results: rejections with OR > 1 (HR < 1 for flares, a negative ANCOVA
    difference for the SELENA-SLEDAI change) count, others not."""
    from trialsim.analysis.ancova import ANCOVA_FIELDS

    plan, res = strong_drug
    r = 8
    fake = ChunkResult(**{k: getattr(res, k)[:r].copy() for k in ChunkResult.__annotations__})
    fake.analysis[:, :, :, F["p_value"]] = 0.001  # every trial rejects...
    fake.analysis[:, :, :, F["log_or"]] = np.where(np.arange(r) < 3, 0.5, -0.5)[:, None, None]
    fake.flare_analysis[:, :, S["p_logrank"]] = 0.001
    fake.flare_analysis[:, :, S["log_hr"]] = np.where(np.arange(r) < 5, -0.3, 0.3)[:, None]
    fake.severe_flare_analysis[:, :, S["p_logrank"]] = 0.001
    fake.severe_flare_analysis[:, :, S["log_hr"]] = np.where(np.arange(r) < 6, -0.3,
                                                              0.3)[:, None]
    fake.ancova[..., ANCOVA_FIELDS.index("p_value")] = 0.001
    fake.ancova[..., ANCOVA_FIELDS.index("difference")] = np.where(np.arange(r) < 2, -1.0,
                                                                    1.0)[:, None, None]
    fake.safety_analysis[..., SAFETY_FIELDS.index("p_value")] = 0.001
    fake.safety_analysis[..., SAFETY_FIELDS.index("rate_ratio")] = np.where(
        np.arange(r) < 2, 2.0, 0.5)[:, None, None]
    table = whole_trial(summarize(plan, fake))
    fav = table[table["statistic"] == "power_favoring_treatment"]
    survival = ("time_to_first_flare", "time_to_first_severe_flare", "sledai_change")
    binary = fav[~fav["endpoint"].isin(survival)]["value"]
    flare = fav[fav["endpoint"] == "time_to_first_flare"]["value"]
    severe = fav[fav["endpoint"] == "time_to_first_severe_flare"]["value"]
    assert np.allclose(binary, 3 / r)
    assert np.allclose(flare, 5 / r)
    assert np.allclose(severe, 6 / r) and len(severe) == len(plan.comparisons)
    change = fav[fav["endpoint"] == "sledai_change"]["value"]
    assert np.allclose(change, 2 / r) and len(change) == len(plan.comparisons) * len(
        plan.change_weeks)
    power = table[table["statistic"] == "power"]["value"]
    assert np.allclose(power, 1.0)
    harm = table[table["statistic"] == "power_harm"]  # adverse events: more on treatment
    assert len(harm) == len(plan.safety_events) * len(plan.comparisons) > 0
    assert np.allclose(harm["value"], 2 / r)
