"""Adverse events: the exact rate test, the Poisson draws and the safety study size against
independent implementations (scipy, statsmodels), and the ``safety:`` block's validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import rates as sm_rates

from trialsim.analysis.safety import compare_safety, exact_rate_p_value, safety_study_size
from trialsim.config.scenario import ScenarioError, with_overrides
from trialsim.model.protocol import years_on_study
from trialsim.model.safety import poisson_quantile


def test_exact_rate_p_value_equals_statsmodels_exact_conditional_test():
    rng = np.random.default_rng(5)
    for _ in range(300):
        x1, x0 = (int(v) for v in rng.integers(0, 30, 2))
        t1, t0 = (float(v) for v in rng.uniform(5, 500, 2))
        if x1 + x0 == 0:
            assert exact_rate_p_value(x1, t1, x0, t0) == 1.0
            continue
        want = sm_rates.test_poisson_2indep(x1, t1, x0, t0, method="exact-cond").pvalue
        assert exact_rate_p_value(x1, t1, x0, t0) == pytest.approx(want, rel=1e-9, abs=1e-14)


def test_exact_rate_p_value_edges():
    assert np.isnan(exact_rate_p_value(3, 0.0, 1, 10.0))  # no time at risk in an arm
    assert exact_rate_p_value(5, 100.0, 5, 100.0) == pytest.approx(1.0)
    # equal exposures: the binomial(n, 1/2) test of scipy
    assert exact_rate_p_value(9, 50.0, 1, 50.0) == pytest.approx(
        stats.binomtest(9, 10, 0.5).pvalue, rel=1e-12)


def test_poisson_quantile_is_scipys_inverse_cdf():
    rng = np.random.default_rng(7)
    for mean in (0.0, 1e-4, 0.003, 0.5, 3.0, 40.0):
        for u in rng.uniform(0, 1, 200):
            assert poisson_quantile(u, mean) == int(stats.poisson.ppf(u, mean))


def test_years_on_study():
    # 14 visits at 4 weeks (weeks 0 to 52): completed = 1 year; a dropout at visit 3 (last
    # seen at visit 2) is on study 2.5 visits
    assert years_on_study(14, 14, 4.0) == pytest.approx(1.0)
    assert years_on_study(3, 14, 4.0) == pytest.approx(2.5 * 4 / 52)


def test_safety_study_size_reaches_statsmodels_power():
    for r0, r1, years in ((0.0043, 0.0079, 0.93), (0.05, 0.08, 1.0), (0.2, 0.1, 2.0)):
        for power in (0.8, 0.9):
            n = safety_study_size(r0, r1, years, 0.05, power)
            kw = dict(exposure=years, value=1.0, alternative="two-sided", return_results=False)
            got = sm_rates.power_poisson_ratio_2indep(r1, r0, n, **kw)
            below = sm_rates.power_poisson_ratio_2indep(r1, r0, n - 1, **kw)
            assert below < power <= got + 1e-3, (r0, r1, n, got, below)
    assert np.isnan(safety_study_size(0.01, 0.01, 1.0, 0.05, 0.8))
    assert np.isnan(safety_study_size(0.0, 0.01, 1.0, 0.05, 0.8))


def test_compare_safety_counts_by_hand():
    counts = np.array([[0, 1, 0, 2, 0, 0], [1, 0, 0, 0, 0, 1]], dtype=np.int64)
    years = np.array([1.0, 1.0, 0.5, 1.0, 1.0, 0.5])
    arm = np.array([0, 1, 0, 1, 1, 0], dtype=np.int64)
    pairs = np.array([[1, 0]], dtype=np.int64)
    with_event, events, arm_years, out = compare_safety(counts, years, arm, pairs, 2)
    np.testing.assert_array_equal(with_event, [[0, 2], [2, 0]])
    np.testing.assert_array_equal(events, [[0, 3], [2, 0]])
    np.testing.assert_allclose(arm_years, [2.0, 3.0])
    assert out[0, 0, 0] == pytest.approx(2 / 3)  # risk difference
    assert out[0, 0, 1] == np.inf  # events on treatment only
    assert out[1, 0, 0] == pytest.approx(-2 / 3)
    assert out[1, 0, 1] == 0.0
    assert out[0, 0, 2] == pytest.approx(
        sm_rates.test_poisson_2indep(3, 3.0, 0, 2.0, method="exact-cond").pvalue)


@pytest.mark.parametrize("overrides, words", [
    ({"safety.events": {"death": {"placebo_per_100py": 0.4, "drug_per_100py": 0.8,
                                  "arms": {"bel5": 1.0}}}},
     ["safety.events.death.arms", "bel5", "placebo"]),
    ({"safety.events": {"death": {"placebo_per_100py": 0.4, "drug_per_100py": 0.8,
                                  "terminal": True},
                        "dead_again": {"placebo_per_100py": 0.4, "drug_per_100py": 0.8,
                                       "terminal": True}}},
     ["safety.events", "terminal"]),
    ({"safety.events": {"death": {"placebo_per_100py": -1, "drug_per_100py": 0.8}}},
     ["safety.events.death.placebo_per_100py", "-1"]),
    ({"safety.events": {"9lives": {"placebo_per_100py": 1, "drug_per_100py": 0.8}}},
     ["safety.events", "9lives"]),
    ({"safety.events": {"death": {"placebo_per_100py": 1}}},
     ["safety.events.death.drug_per_100py"]),
])
def test_bad_safety_block_is_refused_with_its_path(tiny, overrides, words):
    with pytest.raises(ScenarioError) as err:
        with_overrides(tiny, overrides)
    for w in words:
        assert w in str(err.value)
