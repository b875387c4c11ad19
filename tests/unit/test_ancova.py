"""The SELENA-SLEDAI change's ANCOVA (analysis/ancova.py): the Student t tail and quantile
against scipy, last observation carried forward on hand-made courses, and the kernel against
statsmodels OLS on synthetic data, including a stratum constant within a comparison and a
comparison that cannot be fitted."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from trialsim.analysis.ancova import ANCOVA_FIELDS, ancova_kernel, locf_change, t_ppf, t_sf

A = {name: i for i, name in enumerate(ANCOVA_FIELDS)}


@pytest.mark.parametrize("df", [1.0, 2.0, 5.0, 17.0, 290.0, 1500.0])
def test_t_tail_and_quantile_equal_scipy(df):
    for t in (-40.0, -3.1, -0.2, 0.0, 1e-6, 0.7, 1.96, 4.5, 12.0, 60.0):
        # at df 1 (Cauchy) the closed form: scipy's stdtr is 1.4e-11 off it at t = 1e-6
        want = 0.5 - np.arctan(t) / np.pi if df == 1.0 else stats.t.sf(t, df)
        assert t_sf(t, df) == pytest.approx(want, rel=1e-11, abs=1e-300)
    for q in (0.6, 0.9, 0.975, 0.995, 0.9999):
        assert t_ppf(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-11)


def test_locf_takes_the_last_visit_on_study():
    sledai = np.array([[10, 8, 6, 4, 2]] * 4, np.int16)
    dropout = np.array([5, 3, 5, 1])  # first visit missed
    failure = np.array([5, 5, 2, 5])  # first visit a treatment failure
    got = locf_change(sledai, dropout, failure, np.array([4, 2]))
    # completer: visit 4; dropout at 3: visit 2; failure at 2: visit 1; dropout at 1: baseline
    np.testing.assert_array_equal(got[0], [-8, -4, -2, 0])
    np.testing.assert_array_equal(got[1], [-4, -4, -2, 0])


def synthetic(seed, n=300, n_arms=3):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, n_arms, n)
    base = rng.integers(6, 20, n).astype(float)
    strata = np.column_stack([base >= 10, rng.random(n) < 0.1, rng.random(n) < 0.3]).astype(
        float)
    change = (-0.3 * base - 0.8 * (arm == 2) + 1.5 * strata[:, 2]
              + rng.normal(0, 3, n)).round()  # on SLEDAI's integer lattice
    return np.vstack([change, change + rng.normal(0, 1, n)]), base, arm, strata


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernel_equals_statsmodels_ols(seed):
    change, base, arm, strata = synthetic(seed)
    strata[arm != 2, 1] = 0.0  # a stratum constant in the bel1-vs-placebo comparison: dropped
    pairs = np.array([[1, 0], [2, 0], [2, 1]])
    out = ancova_kernel(change, base, arm, strata, pairs, 0.05)
    for w in range(change.shape[0]):
        for c, (t, ctl) in enumerate(pairs):
            sel = (arm == t) | (arm == ctl)
            cols = [np.ones(sel.sum()), (arm[sel] == t).astype(float), base[sel]]
            cols += [strata[sel, j] for j in range(3) if np.ptp(strata[sel, j]) > 0]
            fit = sm.OLS(change[w, sel], np.column_stack(cols)).fit()
            got = out[w, c]
            assert got[A["difference"]] == pytest.approx(fit.params[1], rel=1e-8)
            assert got[A["se"]] == pytest.approx(fit.bse[1], rel=1e-8)
            assert got[A["p_value"]] == pytest.approx(fit.pvalues[1], rel=1e-8)
            assert got[A["df"]] == fit.df_resid
            lo, hi = fit.conf_int(0.05)[1]
            assert got[A["ci_low"]] == pytest.approx(lo, rel=1e-8)
            assert got[A["ci_high"]] == pytest.approx(hi, rel=1e-8)
            assert got[A["mean_change_treated"]] == pytest.approx(
                change[w, arm == t].mean(), rel=1e-12)
            assert got[A["n_control"]] == (arm == ctl).sum()
            assert got[A["fitted"]] == 1.0


def test_an_empty_arm_or_a_constant_change_is_not_estimable():
    change, base, arm, strata = synthetic(4)
    out = ancova_kernel(change, base, arm, strata, np.array([[3, 0]]), 0.05)  # no arm 3
    assert (out[..., A["fitted"]] == 0).all() and (out[..., A["p_value"]] == 1.0).all()
    assert np.isnan(out[..., A["difference"]]).all()
    flat = np.zeros_like(change)  # everybody unchanged: zero residual variance
    out = ancova_kernel(flat, base, arm, strata, np.array([[1, 0]]), 0.05)
    assert (out[..., A["fitted"]] == 0).all() and (out[..., A["mean_change_treated"]] == 0).all()
