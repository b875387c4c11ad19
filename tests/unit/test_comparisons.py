"""Unit tests of the per-trial arm comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import ndtri

from trialsim.analysis import comparisons as cmp
from trialsim.analysis.comparisons import (
    CONVERGED,
    LOG_OR,
    N_CONTROL,
    N_FIELDS,
    N_TREATED,
    P_VALUE,
    RATE_CONTROL,
    RATE_TREATED,
    RD_SE,
    RESULT_FIELDS,
    RISK_DIFFERENCE,
    SE,
    compare_arms,
    compare_arms_kernel,
    norm_ppf,
    results_to_frame,
)

MODEL_FIELDS = ("log_or", "se", "z", "odds_ratio", "ci_low", "ci_high")


def _trial(seed, n=300, q=2, n_endpoints=3, n_arms=3):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, n_arms, n).astype(np.int64)
    strata = rng.binomial(1, 0.5, (n, q)).astype(float)
    response = (rng.random((n_endpoints, n)) < 0.2 + 0.1 * arm).astype(np.uint8)
    return response, arm, strata


def _sm_treatment(X, y):
    return sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12, maxiter=200)


# ----------------------------------------------------------------------------
# shape and field names


def test_field_names_and_constants():
    assert RESULT_FIELDS == (
        "log_or",
        "se",
        "z",
        "p_value",
        "odds_ratio",
        "ci_low",
        "ci_high",
        "rate_treated",
        "rate_control",
        "n_treated",
        "n_control",
        "risk_difference",
        "rd_se",
        "converged",
    )
    assert len(RESULT_FIELDS) == N_FIELDS
    for i, name in enumerate(RESULT_FIELDS):
        assert getattr(cmp, name.upper()) == i


def test_output_shape_and_dtype():
    response, arm, strata = _trial(0, n_endpoints=5)
    pairs = np.array([[1, 0], [2, 0]])
    out = compare_arms(response, arm, strata, pairs, 0.05)
    assert out.shape == (5, 2, N_FIELDS)
    assert out.dtype == np.float64
    assert np.all(out[:, :, CONVERGED] == 1.0)


def test_results_to_frame():
    response, arm, strata = _trial(1, n_endpoints=2)
    pairs = np.array([[1, 0], [2, 0]])
    out = compare_arms(response, arm, strata, pairs, 0.05)
    df = results_to_frame(out, ["sri4", "bicla"], ["low vs pbo", "high vs pbo"])
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["endpoint", "comparison", *RESULT_FIELDS]
    assert len(df) == 4
    assert list(df["endpoint"]) == ["sri4", "sri4", "bicla", "bicla"]
    assert list(df["comparison"]) == ["low vs pbo", "high vs pbo"] * 2
    row = df.iloc[2]  # bicla, low vs pbo
    assert row["log_or"] == out[1, 0, LOG_OR]
    assert row["n_treated"] == out[1, 0, N_TREATED]
    assert df["converged"].dtype == bool
    with pytest.raises(ValueError):
        results_to_frame(out, ["only one"], ["a", "b"])


def test_bool_and_uint8_response_agree():
    response, arm, strata = _trial(2)
    pairs = np.array([[1, 0], [2, 1]])
    a = compare_arms(response, arm, strata, pairs, 0.05)
    b = compare_arms(response.astype(bool), arm, strata, pairs, 0.05)
    c = compare_arms(response.astype(np.int32), arm.astype(np.int32), strata, pairs, 0.05)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_input_validation():
    response, arm, strata = _trial(3)
    with pytest.raises(ValueError):
        compare_arms(response, arm, strata, [[1, 1]], 0.05)
    with pytest.raises(ValueError):
        compare_arms(response[:, :-1], arm, strata, [[1, 0]], 0.05)
    with pytest.raises(ValueError):
        compare_arms(response, arm, strata[:-1], [[1, 0]], 0.05)
    with pytest.raises(ValueError):
        compare_arms(response, arm, strata, [[1, 0]], 1.5)


# ----------------------------------------------------------------------------
# rates and risk difference by hand


def test_rates_and_risk_difference_by_hand():
    #              control (arm 0)      treated (arm 1)      arm 2 (not used)
    arm = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2], dtype=np.int64)
    resp = np.array([[1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1]], dtype=np.uint8)
    out = compare_arms(resp, arm, np.empty((11, 0)), [[1, 0]], 0.05)
    r = out[0, 0]
    p1, p0 = 3 / 4, 2 / 5
    assert r[N_TREATED] == 4
    assert r[N_CONTROL] == 5
    assert r[RATE_TREATED] == pytest.approx(p1, abs=1e-15)
    assert r[RATE_CONTROL] == pytest.approx(p0, abs=1e-15)
    assert r[RISK_DIFFERENCE] == pytest.approx(0.35, abs=1e-15)
    assert r[RD_SE] == pytest.approx(math.sqrt(p1 * (1 - p1) / 4 + p0 * (1 - p0) / 5), abs=1e-15)
    # unadjusted logistic model: log OR is the log of the sample odds ratio,
    # with Woolf's standard error
    assert r[CONVERGED] == 1.0
    assert r[LOG_OR] == pytest.approx(math.log((3 / 1) / (2 / 3)), abs=1e-9)
    assert r[SE] == pytest.approx(math.sqrt(1 / 3 + 1 / 1 + 1 / 2 + 1 / 3), abs=1e-9)


def test_strata_none_equals_zero_columns():
    response, arm, _ = _trial(4)
    a = compare_arms(response, arm, None, [[2, 0]], 0.05)
    b = compare_arms(response, arm, np.empty((arm.size, 0)), [[2, 0]], 0.05)
    np.testing.assert_array_equal(a, b)


def test_ci_uses_requested_level():
    response, arm, strata = _trial(5)
    for alpha in (0.05, 0.2):
        r = compare_arms(response, arm, strata, [[1, 0]], alpha)[0, 0]
        z = ndtri(1 - alpha / 2)
        assert r[cmp.CI_LOW] == pytest.approx(math.exp(r[LOG_OR] - z * r[SE]), rel=1e-12)
        assert r[cmp.CI_HIGH] == pytest.approx(math.exp(r[LOG_OR] + z * r[SE]), rel=1e-12)
        assert r[P_VALUE] == pytest.approx(math.erfc(abs(r[cmp.Z]) / math.sqrt(2)), rel=1e-12)


@pytest.mark.parametrize(
    "q", [1e-12, 1e-6, 0.001, 0.02, 0.025, 0.3, 0.5, 0.9, 0.975, 0.999, 1 - 1e-9]
)
def test_norm_ppf(q):
    assert norm_ppf(q) == pytest.approx(ndtri(q), rel=1e-13, abs=1e-13)


def test_norm_ppf_outside_unit_interval_is_nan():
    assert math.isnan(norm_ppf(0.0))
    assert math.isnan(norm_ppf(1.0))


# ----------------------------------------------------------------------------
# constant stratum columns


def test_stratum_constant_in_subset_is_dropped():
    """A stratum that is all 0 among arms 0 and 1 gives the same answer as
    fitting without it, and matches statsmodels."""
    rng = np.random.default_rng(6)
    n = 400
    arm = rng.integers(0, 3, n).astype(np.int64)
    s_real = rng.binomial(1, 0.5, n).astype(float)
    s_arm2 = ((arm == 2) & (rng.random(n) < 0.5)).astype(float)  # 0 outside arm 2
    s_ones = np.ones(n)  # constant 1: collinear with the intercept
    response = (rng.random((3, n)) < 0.3 + 0.1 * arm + 0.1 * s_real).astype(np.uint8)

    with_extra = compare_arms(
        response, arm, np.column_stack([s_real, s_arm2, s_ones, s_real]), [[1, 0]], 0.05
    )
    without = compare_arms(response, arm, s_real[:, None], [[1, 0]], 0.05)
    np.testing.assert_allclose(with_extra, without, rtol=1e-12, atol=1e-14)
    assert np.all(with_extra[:, 0, CONVERGED] == 1.0)

    sel = arm <= 1
    X = np.column_stack([np.ones(sel.sum()), (arm[sel] == 1).astype(float), s_real[sel]])
    for e in range(3):
        ref = _sm_treatment(X, response[e, sel].astype(float))
        assert with_extra[e, 0, LOG_OR] == pytest.approx(ref.params[1], abs=1e-6)
        assert with_extra[e, 0, SE] == pytest.approx(ref.bse[1], abs=1e-6)
        assert with_extra[e, 0, P_VALUE] == pytest.approx(ref.pvalues[1], rel=1e-6)


def test_full_dummy_coding_is_reduced():
    """Indicators of all levels of a factor sum to the intercept; the last is
    dropped and the fit equals the one with the reference level left out."""
    rng = np.random.default_rng(8)
    n = 300
    arm = rng.integers(0, 2, n).astype(np.int64)
    level = rng.integers(0, 3, n)
    dummies = np.eye(3)[level]
    response = (rng.random((2, n)) < 0.3 + 0.15 * arm + 0.1 * level).astype(np.uint8)
    full = compare_arms(response, arm, dummies, [[1, 0]], 0.05)
    reduced = compare_arms(response, arm, dummies[:, :2], [[1, 0]], 0.05)
    np.testing.assert_allclose(full, reduced, rtol=1e-10, atol=1e-12)
    assert np.all(full[:, 0, CONVERGED] == 1.0)


# ----------------------------------------------------------------------------
# cases that cannot be analysed


def _assert_unanalysable(r):
    assert r[P_VALUE] == 1.0
    assert r[CONVERGED] == 0.0
    for name in MODEL_FIELDS:
        assert math.isnan(r[RESULT_FIELDS.index(name)]), name


def test_all_responders_and_no_responders():
    response, arm, strata = _trial(9, n_endpoints=2)
    response[0, :] = 1
    response[1, :] = 0
    out = compare_arms(response, arm, strata, [[1, 0], [2, 0]], 0.05)
    for c in range(2):
        _assert_unanalysable(out[0, c])
        _assert_unanalysable(out[1, c])
        assert out[0, c, RATE_TREATED] == 1.0
        assert out[0, c, RATE_CONTROL] == 1.0
        assert out[1, c, RISK_DIFFERENCE] == 0.0
        assert out[1, c, RD_SE] == 0.0
        assert out[0, c, N_TREATED] == np.sum(arm == c + 1)
        assert out[0, c, N_CONTROL] == np.sum(arm == 0)


def test_separation_by_arm():
    response, arm, strata = _trial(10, n_endpoints=2)
    response[0, arm == 1] = 1  # every treated patient responds
    response[1, arm == 0] = 0  # no control patient responds
    out = compare_arms(response, arm, strata, [[1, 0], [2, 1]], 0.05)
    _assert_unanalysable(out[0, 0])
    _assert_unanalysable(out[1, 0])
    assert out[0, 0, RATE_TREATED] == 1.0
    expected_rd = 1.0 - response[0, arm == 0].mean()
    assert out[0, 0, RISK_DIFFERENCE] == pytest.approx(expected_rd, abs=1e-15)
    # the other comparison is unaffected for endpoint 1 (arm 0 not involved)
    assert out[1, 1, CONVERGED] == 1.0


def test_separation_by_stratum_does_not_raise():
    """Responders exactly identified by a stratum: not fitted, p = 1."""
    rng = np.random.default_rng(11)
    n = 200
    arm = rng.integers(0, 2, n).astype(np.int64)
    stratum = rng.binomial(1, 0.5, n).astype(float)
    response = stratum.astype(np.uint8)[None, :]
    out = compare_arms(response, arm, stratum[:, None], [[1, 0]], 0.05)
    _assert_unanalysable(out[0, 0])
    assert out[0, 0, RATE_TREATED] == pytest.approx(stratum[arm == 1].mean(), abs=1e-15)


def test_empty_arm():
    response, arm, strata = _trial(12, n_arms=2)
    out = compare_arms(response, arm, strata, [[2, 0]], 0.05)  # no arm-2 patients
    r = out[0, 0]
    _assert_unanalysable(r)
    assert r[N_TREATED] == 0
    assert math.isnan(r[RATE_TREATED])
    assert r[RATE_CONTROL] == pytest.approx(response[0, arm == 0].mean(), abs=1e-15)
    assert math.isnan(r[RISK_DIFFERENCE])


def test_tiny_trial():
    arm = np.array([0, 1], dtype=np.int64)
    response = np.array([[0, 1]], dtype=np.uint8)
    out = compare_arms(response, arm, np.zeros((2, 1)), [[1, 0]], 0.05)
    _assert_unanalysable(out[0, 0])
    assert out[0, 0, RISK_DIFFERENCE] == 1.0


def test_kernel_callable_directly():
    response, arm, strata = _trial(13)
    pairs = np.array([[1, 0]], dtype=np.int64)
    np.testing.assert_array_equal(
        compare_arms_kernel(response, arm, strata, pairs, 0.05),
        compare_arms(response, arm, strata, pairs, 0.05),
    )


def test_stratum_with_no_responders_gives_the_limiting_fit():
    """A small stratum whose patients all fail: the MLE of its coefficient is -inf, and the
    treatment effect is the fit without those patients and without the column (the limit
    SAS and R report); it must not make the whole comparison unanalysable."""
    import statsmodels.api as sm

    rng = np.random.default_rng(21)
    n = 300
    arm = rng.integers(0, 2, n).astype(np.int64)
    rare = (rng.random(n) < 0.03).astype(float)
    other = rng.binomial(1, 0.5, n).astype(float)
    y = (rng.random(n) < 0.3 + 0.15 * arm).astype(np.uint8)
    y[rare == 1] = 0
    strata = np.column_stack([rare, other])
    out = compare_arms(y[None, :], arm, strata, [[1, 0]], 0.05)[0, 0]
    assert out[CONVERGED] == 1.0
    keep = rare == 0
    X = sm.add_constant(np.column_stack([arm[keep], other[keep]]).astype(float))
    fit = sm.Logit(y[keep].astype(float), X).fit(disp=0)
    assert out[LOG_OR] == pytest.approx(fit.params[1], abs=1e-6)
    assert out[SE] == pytest.approx(fit.bse[1], abs=1e-6)
    # rates and risk difference still use every patient of the two arms
    assert out[RATE_CONTROL] == pytest.approx(y[arm == 0].mean(), abs=1e-15)


def test_grouped_fit_of_a_wide_binary_design_equals_the_row_by_row_fit():
    """13+ binary columns (a race x treatment interaction model with strata) are pooled by
    sorting their pattern codes: the same likelihood, so the same fit as row by row."""
    from trialsim.analysis.logistic import fit_logistic, fit_logistic_grouped

    rng = np.random.default_rng(11)
    n, p = 700, 15
    X = np.zeros((n, p))
    X[:, 0] = 1.0
    X[:, 1:] = rng.random((n, p - 1)) < 0.3
    beta = rng.normal(0, 0.3, p)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ beta))).astype(float)
    b1, v1, ok1 = fit_logistic_grouped(X, y)
    b0, v0, ok0 = fit_logistic(X, y)
    assert ok1 and ok0
    np.testing.assert_allclose(b1, b0, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(v1, v0, rtol=1e-7, atol=1e-12)
