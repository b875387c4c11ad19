"""The CMH test and Mantel-Haenszel odds ratio (analysis/cmh.py) against statsmodels'
StratifiedTable; and the skin trial's type I error and power built on it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from statsmodels.stats.contingency_tables import StratifiedTable

from trialsim.analysis.cmh import cmh_test
from trialsim.config.skin import load_skin_scenario
from trialsim.experiments.skin import run_trial

RCT = Path(__file__).resolve().parents[2] / "configs" / "clasi_rct.yaml"


def _tables(treated, response, stratum, k):
    out = []
    for s in range(k):
        m = stratum == s
        t = np.array([[np.sum(treated[m] & response[m]), np.sum(treated[m] & ~response[m])],
                      [np.sum(~treated[m] & response[m]), np.sum(~treated[m] & ~response[m])]],
                     dtype=float)
        out.append(t)
    return out


def _oracle(treated, response, stratum, k):
    """statsmodels on the strata with at least two patients (a stratum of one adds nothing
    to the CMH sums, and statsmodels divides by n - 1)."""
    tabs = [t for t in _tables(treated, response, stratum, k) if t.sum() >= 2]
    st_ = StratifiedTable(tabs)
    res = st_.test_null_odds(correction=False)
    return res.statistic, res.pvalue, st_.logodds_pooled, st_.logodds_pooled_se


@pytest.mark.parametrize("seed", range(12))
def test_cmh_matches_statsmodels(seed):
    rng = np.random.default_rng(seed)
    n, k = rng.integers(20, 400), rng.integers(1, 6)
    stratum = rng.integers(0, k, n)
    treated = rng.random(n) < 0.5
    p = 0.2 + 0.1 * stratum / k + 0.15 * treated
    response = rng.random(n) < p
    got = cmh_test(treated, response, stratum, k)
    want = _oracle(treated, response, stratum, k)
    np.testing.assert_allclose(got, want, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 3)), min_size=8,
                max_size=80))
def test_cmh_matches_statsmodels_on_sparse_strata(rows):
    treated = np.array([r[0] for r in rows])
    response = np.array([r[1] for r in rows])
    stratum = np.array([r[2] for r in rows], dtype=np.int64)
    stat, p, lor, se = cmh_test(treated, response, stratum, 4)
    tabs = [t for t in _tables(treated, response, stratum, 4) if t.sum() >= 2]
    var = sum(t[0].sum() * t[1].sum() * t[:, 0].sum() * t[:, 1].sum()
              / (t.sum() ** 2 * (t.sum() - 1)) for t in tabs)
    if var == 0:
        assert math.isnan(stat) and math.isnan(p)
        return
    want = StratifiedTable(tabs).test_null_odds(correction=False)
    assert stat == pytest.approx(want.statistic, rel=1e-9)
    assert p == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)


def test_a_stratum_without_information_adds_nothing():
    # stratum 1 has only controls, stratum 2 only responders: the test is stratum 0's
    treated = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 0], bool)
    response = np.array([1, 1, 0, 0, 1, 0, 1, 0, 1, 1], bool)
    stratum = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    got = cmh_test(treated, response, stratum, 3)
    only = cmh_test(treated[:6], response[:6], stratum[:6], 1)
    np.testing.assert_allclose(got, only)


def test_no_information_gives_nan():
    treated = np.array([1, 1, 0, 0], bool)
    stat, p, lor, se = cmh_test(treated, np.ones(4, bool), np.zeros(4, np.int64), 1)
    assert math.isnan(stat) and math.isnan(p) and math.isnan(lor)


def test_skin_trial_type_i_error_is_alpha():
    # no drug effect on the skin: rejections at the two-sided 5% level (either direction)
    sc = load_skin_scenario(RCT, {"skin.drug.emax": 0.0, "design.sample_size": 80,
                                  "engine.chunk_size": 200})
    table = run_trial(sc, replicates=1000, n_jobs=2)
    power = table[(table.statistic == "power")].value.iloc[0]  # one-directional: alpha / 2
    se = math.sqrt(0.025 * 0.975 / 1000)
    assert abs(power - 0.025) < 3.5 * se + 0.005  # + the CMH's small-sample discreteness


def test_skin_trial_power_matches_the_two_proportion_closed_form():
    # one stratum: CMH = the Pearson chi-square (n / (n - 1) aside); at the simulated rates
    # the normal-approximation power of a two-proportion test is the expected power
    sc = load_skin_scenario(RCT, {"design.stratify_by_subtype": False,
                                  "design.sample_size": 60, "engine.chunk_size": 200})
    table = run_trial(sc, replicates=800, n_jobs=2)
    power = table[table.statistic == "power"].value.iloc[0]
    rates = table[(table.statistic == "clasi50_rate") & (table.subtype == "all")]
    p0 = rates[rates.arm == "placebo"].value.iloc[0]
    p1 = rates[rates.arm == "belimumab"].value.iloc[0]
    n = 30
    pbar = (p0 + p1) / 2
    z = norm.ppf(0.975)
    closed = norm.cdf((abs(p1 - p0) * math.sqrt(n / 2) - z * math.sqrt(pbar * (1 - pbar)))
                      / math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / 2))
    assert 0.2 < closed < 0.95  # a point on the curve's slope, where a wrong test shows
    assert abs(power - closed) < 4 * math.sqrt(closed * (1 - closed) / 800) + 0.04


def test_skin_trial_time_to_response_log_rank_holds_alpha_and_finds_the_drug():
    from trialsim.analysis.survival import LOG_HR, P_LOGRANK
    from trialsim.experiments.skin import trial_replicate
    from trialsim.model.skin import skin_params

    sc = load_skin_scenario(RCT, {"skin.drug.emax": 0.0})
    p = skin_params(sc)
    surv = np.stack([trial_replicate(sc, p, r)["survival"][0] for r in range(800)])
    rate = np.mean(surv[:, P_LOGRANK] < 0.05)  # two-sided, either direction
    assert abs(rate - 0.05) < 3.5 * math.sqrt(0.05 * 0.95 / 800)
    log_hr = surv[:, LOG_HR][np.isfinite(surv[:, LOG_HR])]
    assert abs(log_hr.mean()) < 3.5 * log_hr.std() / math.sqrt(log_hr.size)
    table = run_trial(load_skin_scenario(RCT, {"engine.chunk_size": 200}), replicates=200,
                      n_jobs=2)
    get = table[table.subtype == "all"].set_index(["arm", "statistic"])["value"]
    assert get[("belimumab", "log_hazard_ratio_clasi50")] > 0.2
    assert get[("belimumab", "median_weeks_to_clasi50")] < get[("placebo",
                                                                "median_weeks_to_clasi50")]
    assert get[("belimumab", "power_time_to_clasi50")] > 0.5
