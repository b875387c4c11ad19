"""Unit tests of the analyses on covariate patterns: patients grouped once per comparison
(``pattern_groups``) and counted per endpoint (``pattern_counts``) give, to the last bit,
what the patient-by-patient forms give (``fit_logistic_grouped``, ``unseparated_rows``,
``compare_arms_kernel`` on a copied subgroup)."""

from __future__ import annotations

import numpy as np

from trialsim.analysis.comparisons import (
    compare_arms_kernel,
    compare_patients,
    evaluable_patterns,
    pattern_counts,
    unseparated_groups,
    unseparated_rows,
)
from trialsim.analysis.endpoints import NOT_EVALUABLE
from trialsim.analysis.logistic import (
    fit_logistic,
    fit_logistic_grouped,
    fit_pattern_groups,
    pattern_groups,
)


def _design(seed, n=400, q=3):
    rng = np.random.default_rng(seed)
    full = np.ones((n, 2 + q))
    full[:, 1] = rng.random(n) < 0.5
    full[:, 2:] = rng.random((n, q)) < 0.4
    return rng, full


def test_pattern_groups_in_order_of_first_row():
    _, full = _design(1)
    patterns, group = pattern_groups(full)
    np.testing.assert_array_equal(patterns[group], full)
    first = [int(np.flatnonzero(group == g)[0]) for g in range(patterns.shape[0])]
    assert first == sorted(first)
    assert len({tuple(r) for r in patterns}) == patterns.shape[0]


def test_pattern_groups_of_a_non_binary_design_are_its_rows():
    _, full = _design(2, n=50)
    full[:, 2] = np.linspace(0.0, 1.0, 50)
    patterns, group = pattern_groups(full)
    np.testing.assert_array_equal(patterns, full)
    np.testing.assert_array_equal(group, np.arange(50))


def test_fit_on_counted_patterns_is_the_patient_fit_to_the_bit():
    """An endpoint whose patients are partly not evaluable: its patterns' counts fitted
    (``fit_pattern_groups``) against ``fit_logistic_grouped`` on its patients."""
    rng, full = _design(3)
    n = full.shape[0]
    response = (rng.random((1, n)) < 0.3).astype(np.uint8)
    response[0, rng.random(n) < 0.3] = NOT_EVALUABLE
    patterns, group = pattern_groups(full)
    s, m, order, n_seen = pattern_counts(group, patterns.shape[0], response, np.arange(n))
    rows, y, counted, _ = evaluable_patterns(patterns, s[0], m[0], order[0], n_seen[0])
    ev = response[0] != NOT_EVALUABLE
    b0, v0, ok0 = fit_logistic_grouped(full[ev], (response[0, ev] == 1).astype(float))
    b1, v1, ok1 = fit_pattern_groups(rows, y, counted)
    assert ok0 and ok1
    np.testing.assert_array_equal(b1, b0)
    np.testing.assert_array_equal(v1, v0)
    np.testing.assert_allclose(b1, fit_logistic(full[ev], (response[0, ev] == 1) * 1.0)[0],
                               rtol=1e-8)


def test_unseparated_groups_sets_aside_the_patients_unseparated_rows_does():
    rng, full = _design(4, n=200)
    y = (rng.random(200) < 0.3).astype(float)
    y[full[:, 3] == 1.0] = 0.0  # stratum 2 has no responder: separated
    patterns, group = pattern_groups(full)
    s = np.bincount(group, weights=y, minlength=patterns.shape[0])
    m = np.bincount(group, minlength=patterns.shape[0]).astype(float)
    by_row = unseparated_rows(full, y)
    assert not by_row.all()
    np.testing.assert_array_equal(unseparated_groups(patterns, s, m)[group], by_row)


def test_a_subgroup_compared_in_place_is_the_copied_subgroup_compared():
    """``compare_patients`` on a subset (no copies) against ``compare_arms_kernel`` on the
    copied subset, with a rare endpoint (separated strata), one with a denominator and
    small arms: every field bit-identical."""
    rng = np.random.default_rng(5)
    n = 500
    arm = rng.integers(0, 3, n).astype(np.int64)
    strata = (rng.random((n, 3)) < 0.4).astype(float)
    response = np.stack([
        rng.random(n) < 0.25 + 0.1 * arm,
        rng.random(n) < 0.03,
        rng.random(n) < 0.4,
    ]).astype(np.uint8)
    response[2, rng.random(n) < 0.5] = NOT_EVALUABLE
    pairs = np.array([[1, 0], [2, 0]], dtype=np.int64)
    for share in (0.8, 0.3, 0.05):
        idx = np.flatnonzero(rng.random(n) < share)
        got = compare_patients(response, arm, strata, pairs, 0.05, idx)
        want = compare_arms_kernel(np.ascontiguousarray(response[:, idx]), arm[idx],
                                   strata[idx], pairs, 0.05)
        np.testing.assert_array_equal(got, want)
