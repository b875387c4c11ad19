"""Reference tests of the numba logistic regression against statsmodels."""

from __future__ import annotations

from math import erfc, sqrt

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trialsim.analysis.comparisons import (
    CI_HIGH,
    CI_LOW,
    CONVERGED,
    LOG_OR,
    ODDS_RATIO,
    P_VALUE,
    SE,
    Z,
    compare_arms,
)
from trialsim.analysis.logistic import drop_constant_columns, fit_logistic


def _random_design(rng, n, p):
    """Intercept plus p - 1 covariates alternating binary and continuous."""
    cols = [np.ones(n)]
    for j in range(1, p):
        if j % 2 == 1:
            cols.append(rng.binomial(1, rng.uniform(0.25, 0.75), n).astype(float))
        else:
            cols.append(rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2.0), n))
    return np.column_stack(cols)


def _random_data(seed, n, p):
    rng = np.random.default_rng(seed)
    X = _random_design(rng, n, p)
    beta = rng.uniform(-0.8, 0.8, p)
    eta = X @ beta
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return X, y


def _statsmodels_fit(X, y):
    return sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12, maxiter=200)


def _assert_pvalues_close(p_ours, p_ref):
    p_ours = np.asarray(p_ours)
    p_ref = np.asarray(p_ref)
    # relative agreement, with an absolute floor for tiny p-values
    np.testing.assert_allclose(p_ours, p_ref, rtol=1e-6, atol=1e-12)


CASES = [
    (seed, n, p)
    for seed, (n, p) in enumerate(
        [(60, 2), (80, 3), (120, 4), (200, 5), (400, 6), (800, 6), (800, 2), (150, 6), (60, 3)]
    )
] + [(100 + s, 300, 4) for s in range(5)]


@pytest.mark.parametrize("seed,n,p", CASES)
def test_fit_matches_statsmodels(seed, n, p):
    X, y = _random_data(seed, n, p)
    beta, cov, converged = fit_logistic(X, y)
    ref = _statsmodels_fit(X, y)
    assert converged
    se = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(beta, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(se, ref.bse, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-6, atol=1e-9)
    z = beta / se
    p_two_sided = [erfc(abs(v) / sqrt(2.0)) for v in z]
    _assert_pvalues_close(p_two_sided, ref.pvalues)


@pytest.mark.parametrize("seed", range(4))
def test_fit_matches_glm_binomial(seed):
    X, y = _random_data(1000 + seed, 250, 5)
    beta, cov, converged = fit_logistic(X, y)
    ref = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=200)
    assert converged
    np.testing.assert_allclose(beta, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), ref.bse, rtol=0, atol=1e-6)


def test_fit_strong_effects_matches_statsmodels():
    """Large but finite coefficients (fitted probabilities near 0 and 1)."""
    rng = np.random.default_rng(7)
    n = 500
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.binomial(1, 0.5, n)])
    eta = -1.0 + 3.0 * X[:, 1] + 2.0 * X[:, 2]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    beta, cov, converged = fit_logistic(X, y)
    ref = _statsmodels_fit(X, y)
    assert converged
    np.testing.assert_allclose(beta, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), ref.bse, rtol=0, atol=1e-6)


def test_complete_separation_not_converged():
    x = np.linspace(-2.0, 2.0, 40)
    X = np.column_stack([np.ones(40), x])
    y = (x > 0).astype(float)
    beta, cov, converged = fit_logistic(X, y)
    assert not converged
    assert np.all(np.isnan(beta))
    assert np.all(np.isnan(cov))


def test_quasi_complete_separation_not_converged():
    rng = np.random.default_rng(3)
    n = 100
    g = np.repeat([0.0, 1.0], n // 2)
    X = np.column_stack([np.ones(n), g, rng.normal(size=n)])
    y = np.where(g == 1.0, 1.0, (rng.random(n) < 0.4).astype(float))
    _, _, converged = fit_logistic(X, y)
    assert not converged


def test_singular_design_not_converged():
    rng = np.random.default_rng(4)
    n = 80
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, 2.0 * x])
    y = (rng.random(n) < 0.5).astype(float)
    beta, _, converged = fit_logistic(X, y)
    assert not converged
    assert np.all(np.isnan(beta))


def test_constant_outcome_not_converged():
    X = np.column_stack([np.ones(30), np.arange(30) % 2])
    _, _, conv0 = fit_logistic(X, np.zeros(30))
    _, _, conv1 = fit_logistic(X, np.ones(30))
    assert not conv0
    assert not conv1


def test_fit_without_intercept_column_matches_statsmodels():
    """The fit does not require column 0 to be the intercept."""
    X, y = _random_data(11, 200, 4)
    X = X[:, [2, 1, 0, 3]]
    beta, cov, converged = fit_logistic(X, y)
    ref = _statsmodels_fit(X, y)
    assert converged
    np.testing.assert_allclose(beta, ref.params, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), ref.bse, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------
# property tests


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(60, 400), p=st.integers(2, 6))
def test_row_permutation_invariance(seed, n, p):
    X, y = _random_data(seed, n, p)
    beta, cov, converged = fit_logistic(X, y)
    assume(converged)
    perm = np.random.default_rng(seed + 1).permutation(n)
    beta_p, cov_p, conv_p = fit_logistic(X[perm], y[perm])
    assert conv_p
    np.testing.assert_allclose(beta_p, beta, rtol=0, atol=1e-8)
    np.testing.assert_allclose(cov_p, cov, rtol=1e-8, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(60, 400), p=st.integers(2, 6))
def test_outcome_flip_negates_coefficients(seed, n, p):
    X, y = _random_data(seed, n, p)
    beta, cov, converged = fit_logistic(X, y)
    assume(converged)
    beta_f, cov_f, conv_f = fit_logistic(X, 1.0 - y)
    assert conv_f
    np.testing.assert_allclose(beta_f, -beta, rtol=0, atol=1e-8)
    np.testing.assert_allclose(cov_f, cov, rtol=1e-8, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(60, 400), p=st.integers(2, 6))
def test_column_rescaling_rescales_coefficients(seed, n, p):
    X, y = _random_data(seed, n, p)
    beta, cov, converged = fit_logistic(X, y)
    assume(converged)
    scale = np.linspace(0.5, 3.0, p)
    scale[0] = 1.0
    beta_s, cov_s, conv_s = fit_logistic(X * scale, y)
    assert conv_s
    np.testing.assert_allclose(beta_s * scale, beta, rtol=0, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(cov_s)) * scale, np.sqrt(np.diag(cov)), rtol=1e-8)


# ----------------------------------------------------------------------------
# compare_arms against statsmodels on the arm subsets


def _random_trial(seed, n=450, n_endpoints=4):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 3, n).astype(np.int64)
    strata = rng.binomial(1, [0.3, 0.5, 0.6], (n, 3)).astype(float)
    logits = (
        -0.4
        + np.array([0.0, 0.5, 0.9])[arm][None, :]
        + (strata @ np.array([0.3, -0.5, 0.4]))[None, :]
        + rng.normal(0, 0.2, (n_endpoints, 1))
    )
    response = (rng.random((n_endpoints, n)) < 1.0 / (1.0 + np.exp(-logits))).astype(np.uint8)
    return response, arm, strata


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_compare_arms_matches_statsmodels(seed, alpha):
    response, arm, strata = _random_trial(seed)
    pairs = np.array([[1, 0], [2, 0], [2, 1]], dtype=np.int64)
    out = compare_arms(response, arm, strata, pairs, alpha)
    assert out.shape[:2] == (response.shape[0], pairs.shape[0])
    for e in range(response.shape[0]):
        for c, (trt, ctl) in enumerate(pairs):
            sel = (arm == trt) | (arm == ctl)
            X = np.column_stack([np.ones(sel.sum()), (arm[sel] == trt).astype(float), strata[sel]])
            y = response[e, sel].astype(float)
            ref = _statsmodels_fit(X, y)
            res = out[e, c]
            assert res[CONVERGED] == 1.0
            np.testing.assert_allclose(res[LOG_OR], ref.params[1], rtol=0, atol=1e-6)
            np.testing.assert_allclose(res[SE], ref.bse[1], rtol=0, atol=1e-6)
            np.testing.assert_allclose(res[Z], ref.tvalues[1], rtol=1e-6, atol=1e-6)
            _assert_pvalues_close(res[P_VALUE], ref.pvalues[1])
            np.testing.assert_allclose(res[ODDS_RATIO], np.exp(ref.params[1]), rtol=1e-6)
            ci = np.exp(ref.conf_int(alpha=alpha)[1])
            np.testing.assert_allclose([res[CI_LOW], res[CI_HIGH]], ci, rtol=1e-6)


def test_outcome_driven_by_a_stratum_adjusted_vs_unadjusted():
    """A stratum that drives the outcome and is unevenly spread over the arms.

    Treated patients are mostly in the stratum whose response is high and the treatment itself
    does nothing: the unadjusted OR is confounded far above 1, the adjusted one is near 1, and
    compare_arms gives statsmodels' answer in both cases (with the strata; with ``None``).
    """
    rng = np.random.default_rng(17)
    n = 2000
    arm = rng.integers(0, 2, n).astype(np.int64)
    stratum = (rng.random(n) < np.where(arm == 1, 0.8, 0.2)).astype(float)
    y = (rng.random(n) < np.where(stratum == 1, 0.7, 0.2)).astype(np.uint8)
    pairs = np.array([[1, 0]], dtype=np.int64)
    adjusted = compare_arms(y, arm, stratum[:, None], pairs)[0, 0]
    unadjusted = compare_arms(y, arm, None, pairs)[0, 0]
    treated = (arm == 1).astype(float)
    ref_adj = _statsmodels_fit(np.column_stack([np.ones(n), treated, stratum]), y.astype(float))
    ref_un = _statsmodels_fit(np.column_stack([np.ones(n), treated]), y.astype(float))
    np.testing.assert_allclose(adjusted[LOG_OR], ref_adj.params[1], atol=1e-6)
    np.testing.assert_allclose(unadjusted[LOG_OR], ref_un.params[1], atol=1e-6)
    np.testing.assert_allclose(adjusted[SE], ref_adj.bse[1], atol=1e-6)
    assert unadjusted[LOG_OR] > 1.0 and abs(adjusted[LOG_OR]) < 0.3


# ----------------------------------------------------------------------------
# drop_constant_columns


def test_drop_constant_columns_basic():
    rng = np.random.default_rng(5)
    n = 50
    treat = rng.binomial(1, 0.5, n).astype(float)
    s1 = rng.binomial(1, 0.5, n).astype(float)
    X = np.column_stack(
        [
            np.ones(n),
            treat,
            s1,
            np.zeros(n),  # constant 0: drop
            s1,  # duplicate of column 2: drop
            np.full(n, 0.7),  # constant non-zero: drop
            1.0 - s1,  # collinear with intercept and column 2: drop
            rng.normal(size=n),  # keep
        ]
    )
    keep = drop_constant_columns(X, 1)
    assert keep.dtype == np.int64
    np.testing.assert_array_equal(keep, [0, 1, 2, 7])
    assert np.linalg.matrix_rank(X[:, keep]) == keep.size


def test_drop_constant_columns_never_drops_intercept_or_treatment():
    n = 20
    X = np.column_stack([np.ones(n), np.ones(n), np.zeros(n), np.arange(n) % 2])
    # treatment column constant (a degenerate subset) is still kept
    np.testing.assert_array_equal(drop_constant_columns(X, 1), [0, 1, 3])
    # treatment column given elsewhere: it is kept and the duplicate earlier
    # column is dropped instead
    X2 = np.column_stack([np.ones(n), np.arange(n) % 2, np.arange(n) % 2])
    np.testing.assert_array_equal(drop_constant_columns(X2, 2), [0, 2])
