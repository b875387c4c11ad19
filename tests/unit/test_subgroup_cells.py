"""Unit tests of the subgroup analyses from cell counts and of the Newton fits side by side:
each bit-identical to the plain form it replaces (the level's patients compared one by one,
``compare_patients``; the factor's interaction from its patients, ``interaction_kernel``;
``newton_fit`` on one fit at a time)."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.analysis.comparisons import (
    compare_patients,
    fitted_rows,
    separates,
    unseparated_groups,
)
from trialsim.analysis.endpoints import NOT_EVALUABLE
from trialsim.analysis.logistic import fit_pattern_groups, pool_rows
from trialsim.analysis.newton import (
    LANE_CONVERGED,
    LANE_FAILED,
    LANE_SCALAR,
    batch_work,
    cov_offset,
    fit_sizes,
    newton_batch,
    newton_fit,
)
from trialsim.analysis.subgroup_cells import analyse_levels, factor_cells, stratum_bits
from trialsim.analysis.subgroups import interaction_kernel, separated_cell

PAIRS = np.array([[1, 0], [2, 0]], dtype=np.int64)


def _trial(seed, n=700, q=3, n_end=12):
    """Random patients: arms, 0/1 strata, responses (common, rare, all-or-none within small
    groups, one endpoint with a denominator)."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 3, n).astype(np.int64)
    strata = (rng.random((n, q)) < 0.35).astype(float)
    rates = np.concatenate([rng.uniform(0.2, 0.7, n_end - 3), [0.02, 0.005, 0.5]])
    response = (rng.random((n_end, n)) < (rates[:, None] + 0.08 * (arm == 2))).astype(np.uint8)
    response[-1, rng.random(n) < 0.4] = NOT_EVALUABLE  # a denominator
    response[-2, strata[:, 0] == 1.0] = 0  # none respond within a stratum
    return arm, strata, response


def _factors(n, seed, overlap=False):
    """Levels of three factors (2, 3 and 5 levels; one level empty, one tiny), rows of a
    membership matrix, and the factors' first rows."""
    rng = np.random.default_rng(seed)
    two = rng.random(n) < 0.4
    three = rng.integers(0, 3, n)
    five = rng.choice(5, n, p=[0.55, 0.3, 0.0, 0.13, 0.02])
    member = [two, ~two] + [three == k for k in range(3)] + [five == k for k in range(5)]
    if overlap:  # a patient in two levels of the first factor
        member[1] = member[1] | (rng.random(n) < 0.1)
    return np.array(member), np.array([0, 2, 5, 10], dtype=np.int64)


def _plain(member, response, arm, strata, factor_start, n_arms=3, alpha=0.05):
    """The subgroup analyses patient by patient, as the trial ran them before the cells:
    each level's patients compared (``compare_patients``), its arm sizes and rates among
    each endpoint's evaluable patients, each factor's interaction (``interaction_kernel``
    on the patients' first level)."""
    n_lv, n = member.shape
    n_end = response.shape[0]
    out = np.empty((n_lv, n_end, PAIRS.shape[0], 14))
    rates = np.empty((n_lv, n_end, n_arms))
    counts = np.zeros((n_lv, n_arms), dtype=np.int64)
    for lv in range(n_lv):
        among = np.flatnonzero(member[lv])
        out[lv] = compare_patients(response, arm, strata, PAIRS, alpha, among)
        for a in range(n_arms):
            counts[lv, a] = np.sum(arm[among] == a)
            for t in range(n_end):
                r = response[t, among][arm[among] == a]
                ev = r[r != NOT_EVALUABLE]
                rates[lv, t, a] = ev.sum() / ev.size if ev.size else np.nan
    inter = np.empty((len(factor_start) - 1, n_end, PAIRS.shape[0], 3))
    for f in range(len(factor_start) - 1):
        lv0, lv1 = factor_start[f], factor_start[f + 1]
        code = np.full(n, -1, dtype=np.int64)
        for k in range(lv1 - lv0):
            code[(code < 0) & member[lv0 + k]] = k
        inter[f] = interaction_kernel(response, arm, code, lv1 - lv0, strata, PAIRS)
    return out, rates, counts, inter


def _cells(member, response, arm, strata, factor_start, n_arms=3, alpha=0.05):
    n_lv = member.shape[0]
    n_end = response.shape[0]
    out = np.empty((n_lv, n_end, PAIRS.shape[0], 14))
    rates = np.empty((n_lv, n_end, n_arms))
    counts = np.zeros((n_lv, n_arms), dtype=np.int64)
    inter = np.empty((len(factor_start) - 1, n_end, PAIRS.shape[0], 3))
    analyse_levels(member, response, arm, n_arms, strata, PAIRS, alpha, factor_start, out,
                   rates, counts, inter)
    return out, rates, counts, inter


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_levels_from_cells_are_the_patient_analyses_to_the_bit(seed):
    arm, strata, response = _trial(seed)
    member, factor_start = _factors(arm.size, seed)
    want = _plain(member, response, arm, strata, factor_start)
    got = _cells(member, response, arm, strata, factor_start)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    # the test covers what it means to: fitted levels and interactions, and not analysable
    out, _, _, inter = got
    assert np.any(out[..., 13] == 1.0) and np.any(out[..., 13] == 0.0)
    assert np.any(inter[..., 1] > 0) and np.any(inter[..., 1] == 0)


def test_overlapping_levels_and_other_strata_go_patient_by_patient():
    """Levels that overlap, or strata that are not 0/1, have no cells: the plain path."""
    arm, strata, response = _trial(4)
    member, factor_start = _factors(arm.size, 4, overlap=True)
    for s in (strata, strata * 0.5 + (strata[:, :1] > 2)):
        want = _plain(member, response, arm, s, factor_start)
        got = _cells(member, response, arm, s, factor_start)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


def test_factor_cells_count_each_level_arm_and_stratum():
    arm, strata, response = _trial(5, n=300)
    member, _ = _factors(arm.size, 5)
    code = np.where(member[2], 0, np.where(member[3], 1, 2)).astype(np.int64)
    bits = stratum_bits(strata)
    np.testing.assert_array_equal(bits, strata @ (1 << np.arange(3)))
    resp_t = np.ascontiguousarray(response.T)
    cells = factor_cells(code, 3, arm, 3, bits, 8, resp_t)
    for lv in range(3):
        for a in range(3):
            for s in range(8):
                k = (lv * 3 + a) * 8 + s
                who = np.flatnonzero((code == lv) & (arm == a) & (bits == s))
                assert cells.size[k] == who.size
                assert cells.first[k] == (who[0] if who.size else -1)
                r = response[:, who]
                np.testing.assert_array_equal(cells.responders[k], (r == 1).sum(axis=1))
                np.testing.assert_array_equal(cells.evaluable[k],
                                              (r != NOT_EVALUABLE).sum(axis=1))
    assert stratum_bits(strata * 0.5).size == 0  # not 0/1: no cells


def _lanes(seed, n_lanes=9):
    """A 0/1 design of distinct rows and lanes of counts on it."""
    rng = np.random.default_rng(seed)
    X = np.unique((rng.random((40, 6)) < 0.4).astype(float), axis=0)
    X[:, 0] = 1.0
    X = np.unique(X, axis=0)
    m = rng.integers(1, 30, (X.shape[0], n_lanes)).astype(float)
    y = np.floor(m * rng.uniform(0.05, 0.9, n_lanes)).astype(float)
    return X, y, m


def _one(X, y, m):
    n, p = X.shape
    nf, ni = fit_sizes(n, p)
    F = np.empty(nf)
    ob, ok = newton_fit(X, np.ascontiguousarray(y), np.ascontiguousarray(m), 50, 1e-10, F,
                        np.empty(ni, dtype=np.int64))
    o = cov_offset(p)
    return ok, F[ob:ob + p].copy(), F[o:o + p * p].reshape(p, p).copy()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_newton_batch_lanes_are_newton_fit_to_the_bit(seed):
    X, Y, M = _lanes(seed)
    n, p = X.shape
    Y[:, 0] = 0.0  # a lane with no responder: not analysable
    Y[:, 1] = np.where(X[:, 2] == 1.0, M[:, 1], Y[:, 1])  # separated: fails
    L = Y.shape[1]
    beta, cov, status = np.zeros((L, p)), np.zeros((L, p, p)), np.zeros(L, dtype=np.int64)
    newton_batch(X, Y, M, 50, 1e-10, beta, cov, status, batch_work(n, p, L))
    assert np.any(status == LANE_CONVERGED)
    for e in range(L):
        ok, b, v = _one(X, Y[:, e], M[:, e])
        if status[e] == LANE_SCALAR:  # needs a step halved: the caller fits it alone
            continue
        assert (status[e] == LANE_CONVERGED) == ok
        if ok:
            np.testing.assert_array_equal(beta[e], b)
            np.testing.assert_array_equal(cov[e], v)
    assert status[0] == LANE_FAILED


def test_newton_fit_is_fit_pattern_groups_and_agrees_with_numpy():
    """The Newton iteration on pooled rows against a plain IRLS in numpy (to rounding)."""
    X, Y, M = _lanes(7, n_lanes=3)
    for e in range(3):
        ok, b, v = _one(X, Y[:, e], M[:, e])
        b2, v2, ok2 = fit_pattern_groups(X, Y[:, e].copy(), M[:, e].copy())
        assert ok and ok2
        np.testing.assert_array_equal(b, b2)
        np.testing.assert_array_equal(v, v2)
        beta = np.zeros(X.shape[1])
        for _ in range(60):
            mu = 1 / (1 + np.exp(-X @ beta))
            info = X.T @ (X * (M[:, e] * mu * (1 - mu))[:, None])
            beta = beta + np.linalg.solve(info, X.T @ (Y[:, e] - M[:, e] * mu))
        np.testing.assert_allclose(b, beta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(v, np.linalg.inv(info), rtol=1e-8)


def test_pool_rows_is_the_pooling_of_the_fits():
    rng = np.random.default_rng(3)
    for p in (5, 14):  # a table of slots; codes sorted
        X = (rng.random((60, p)) < 0.3).astype(float)
        X[:, 0] = 1.0
        G, group = pool_rows(X)
        np.testing.assert_array_equal(G[group], X)
        assert len({tuple(r) for r in G}) == G.shape[0]
        codes = G @ (1 << np.arange(p))
        if p > 12:
            assert np.all(np.diff(codes) > 0)
        else:
            first = [int(np.flatnonzero(group == g)[0]) for g in range(G.shape[0])]
            assert first == sorted(first)
    assert pool_rows(np.full((3, 2), 0.5))[0].shape[0] == 0  # not 0/1


def test_separates_and_fitted_rows_are_unseparated_groups():
    rng = np.random.default_rng(8)
    for _ in range(200):
        g = rng.integers(2, 14)
        full = np.ones((g, 5))
        full[:, 1:] = rng.random((g, 4)) < 0.5
        m = rng.integers(1, 6, g).astype(float)
        y = np.floor(m * rng.random(g) * rng.choice([0.0, 1.0, 1.2], g)).clip(0, m)
        rows = unseparated_groups(full, y, m)
        assert separates(full, y, m) == (not rows.all())
        got, analysable = fitted_rows(full, y, m)
        np.testing.assert_array_equal(got, rows)
        t = full[rows, 1] == 1.0
        s1, s0 = y[rows][t].sum(), y[rows][~t].sum()
        n1, n0 = m[rows][t].sum(), m[rows][~t].sum()
        assert analysable == (n1 > 0 and n0 > 0 and 0 < s1 < n1 and 0 < s0 < n0)


def test_a_separated_cell_has_no_estimate_and_the_iteration_fails_too():
    """A level x arm cell whose patients all respond, with its indicator in the design's
    column space: not analysable without iterating; the iteration fails as well."""
    rng = np.random.default_rng(11)
    rows, y, m = [], [], []
    for lv in range(2):
        for t in range(2):
            for s in range(4):
                r = np.zeros(7)
                r[0], r[1] = 1.0, t
                if lv:
                    r[2], r[3] = 1.0, t
                r[4:6] = (s & 1, s >> 1)
                rows.append(r)
                k = rng.integers(3, 20)
                m.append(k)
                y.append(k if (lv, t) == (1, 0) else rng.integers(1, k))
    rows, y, m = np.array(rows), np.array(y, float), np.array(m, float)
    X = rows[:, :6]
    assert separated_cell(rows, y, m, 2, X)
    assert not fit_pattern_groups(X, y, m)[2]
    y[8] -= 1  # one non-responder: the cell no longer separates
    assert not separated_cell(rows, y, m, 2, X)
    assert fit_pattern_groups(X, y, m)[2]
