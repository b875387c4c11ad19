"""The single-arm skin cohort's analyses (analysis/cohort.py) against independent oracles.

The Wilcoxon signed-rank kernel against ``scipy.stats.wilcoxon(method="auto")`` on random
samples with ties and zeros, against a brute-force sign-flip enumeration, and at the borders of
scipy's "auto" rule; the t-interval against ``scipy.stats.t.interval``; Clopper–Pearson against
statsmodels; and the cohort kernel against a plain pandas recomputation on a hand-made cohort
(garbage in unassessed cells, an empty subtype, a baseline below the response minimum) and on
hypothesis-generated ones.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from trialsim.analysis.cohort import (
    STAT_CHANGE,
    STAT_HI,
    STAT_LO,
    STAT_MEAN,
    STAT_N,
    STAT_N_ELIGIBLE,
    STAT_NAMES,
    STAT_P,
    STAT_RESP,
    clopper_pearson,
    cohort_statistics,
    mean_ci,
    statistics_frame,
    t_quantiles,
    wilcoxon_signed_rank,
)

THRESHOLDS = np.array([20.0, 50.0, 100.0])


def scipy_wilcoxon(d):
    """The oracle: scipy's two-sided "auto" test, Wilcoxon's zero rule, no continuity."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.wilcoxon(np.asarray(d, dtype=float), zero_method="wilcox", correction=False,
                             alternative="two-sided", method="auto")
    return float(res.statistic), float(res.pvalue)


def enumerated_p(d):
    """Exact two-sided p by listing every sign flip of the non-zero |d| (average ranks)."""
    a = np.abs(np.asarray(d, dtype=float))
    a = a[a != 0]
    ranks = stats.rankdata(a)
    observed = ranks[np.asarray(d)[np.asarray(d) != 0] > 0].sum()
    sums = [sum(r for r, s in zip(ranks, signs, strict=True) if s)
            for signs in itertools.product((False, True), repeat=a.size)]
    below = sum(s <= observed for s in sums)
    above = sum(s >= observed for s in sums)
    return min(1.0, 2.0 * min(below, above) / len(sums))


def normal_p(d, tie_correction=True):
    """Normal-approximation p by hand: zeros dropped, variance tie-corrected, no continuity."""
    d = np.asarray(d, dtype=float)
    d = d[d != 0]
    n = d.size
    ranks = stats.rankdata(np.abs(d))
    r_plus = ranks[d > 0].sum()
    _, t = np.unique(np.abs(d), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24
    if tie_correction:
        var -= (t**3 - t).sum() / 48
    return 2 * stats.norm.sf(abs(r_plus - n * (n + 1) / 4) / math.sqrt(var))


def random_differences(rng, n, kind):
    if kind == "small integers":  # many ties and zeros
        return rng.integers(-3, 4, n).astype(float)
    if kind == "clasi changes":  # CLASI-like: follow-up minus baseline on the integer lattice
        return (rng.integers(0, 25, n) - rng.integers(0, 25, n)).astype(float)
    if kind == "halves":
        return rng.integers(-12, 13, n) / 2.0
    return rng.normal(0.4, 1.0, n)


# --- Wilcoxon signed-rank -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["small integers", "clasi changes", "halves", "continuous"])
@pytest.mark.parametrize("seed", [1, 2])
def test_wilcoxon_equals_scipy_on_random_samples(kind, seed):
    rng = np.random.default_rng([seed, len(kind)])
    checked = 0
    for n in range(1, 61):
        d = random_differences(rng, n, kind)
        if not np.any(d):
            continue  # scipy has no test result there: see test_no_nonzero_difference
        got = wilcoxon_signed_rank(d)
        want = scipy_wilcoxon(d)
        assert got[0] == pytest.approx(want[0], rel=1e-9, abs=0), (n, d)
        assert got[1] == pytest.approx(want[1], rel=1e-9, abs=0), (n, d)
        checked += 1
    assert checked >= 55


@pytest.mark.parametrize("seed", range(6))
def test_small_samples_equal_the_enumerated_sign_flips(seed):
    """n <= 13 (zeros included): the exact conditional distribution, ties or not."""
    rng = np.random.default_rng(seed)
    for n in range(1, 14):
        d = random_differences(rng, n, "small integers" if n % 2 else "continuous")
        if not np.any(d):
            continue
        assert wilcoxon_signed_rank(d)[1] == pytest.approx(enumerated_p(d), rel=1e-12)


def test_exact_p_of_all_positive_differences_is_two_over_two_to_the_n():
    for n in (1, 5, 13, 20, 50):
        d = np.arange(1.0, n + 1.0)
        stat, p = wilcoxon_signed_rank(d)
        assert stat == 0.0
        assert p == min(1.0, 2.0 / 2.0**n)  # exact: scipy's float is exact there too
        assert wilcoxon_signed_rank(-d) == (0.0, p)


def test_auto_switches_to_the_normal_approximation_above_50():
    d50 = np.arange(1.0, 51.0) * np.where(np.arange(50) % 3 == 0, -1.0, 1.0)
    d51 = np.append(d50, 51.0)
    assert wilcoxon_signed_rank(d50)[1] == pytest.approx(enumerated_exact(d50), rel=1e-12)
    assert wilcoxon_signed_rank(d51)[1] == pytest.approx(normal_p(d51), rel=1e-12)
    for d in (d50, d51):
        assert wilcoxon_signed_rank(d)[1] == pytest.approx(scipy_wilcoxon(d)[1], rel=1e-12)


def enumerated_exact(d):
    """Exact p for distinct non-zero |d| by the subset-sum recursion written plainly."""
    n = d.size
    ranks = stats.rankdata(np.abs(d))
    observed = int(ranks[d > 0].sum())
    counts = [1] + [0] * (n * (n + 1) // 2)
    for k in range(1, n + 1):
        for s in range(len(counts) - 1, k - 1, -1):
            counts[s] += counts[s - k]
    below, above = sum(counts[: observed + 1]), sum(counts[observed:])
    return min(1.0, 2.0 * min(below, above) / 2**n)


def test_ties_switch_to_the_normal_approximation_above_13():
    base = np.array([1.0, 1.0, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, -8.0, 9.0, 10.0, 11.0, 12.0])
    assert wilcoxon_signed_rank(base)[1] == pytest.approx(enumerated_p(base), rel=1e-12)
    d14 = np.append(base, 13.0)
    assert wilcoxon_signed_rank(d14)[1] == pytest.approx(normal_p(d14), rel=1e-12)
    assert wilcoxon_signed_rank(d14)[1] != pytest.approx(enumerated_p(d14), rel=1e-3)


def test_zeros_count_towards_the_size_rule_but_not_the_ranks():
    """12 non-zero differences and 2 zeros: n = 14 > 13, so the normal approximation."""
    nonzero = np.array([1.0, 2.0, 3.0, -4.0, 5.0, 6.0, 7.0, 8.0, -9.0, 10.0, 11.0, 12.0])
    d = np.concatenate([[0.0, 0.0], nonzero])
    stat, p = wilcoxon_signed_rank(d)
    assert stat == 13.0  # ranks of the non-zero |d| only: 4 + 9
    assert p == pytest.approx(normal_p(nonzero), rel=1e-12)
    assert p == pytest.approx(scipy_wilcoxon(d)[1], rel=1e-12)
    # a zero among distinct differences also forbids the exact test (n = 15 <= 50)
    d = np.concatenate([[0.0], np.arange(1.0, 15.0)])
    assert wilcoxon_signed_rank(d)[1] == pytest.approx(normal_p(d[1:]), rel=1e-12)
    assert wilcoxon_signed_rank(d)[1] != pytest.approx(2.0 / 2.0**14, rel=0.5)


def test_zeros_are_dropped_not_ranked_as_pratt_does():
    d = np.array([0.0] * 4 + [1.0, 2.0, -2.0, 3.0, 4.0, 4.0, 5.0, -6.0, 7.0, 8.0,
                              9.0, 9.0, 10.0, 11.0, 12.0, -13.0])
    stat, p = wilcoxon_signed_rank(d)
    ranks = stats.rankdata(np.abs(d[4:]))
    assert stat == ranks[d[4:] < 0].sum()
    assert p == pytest.approx(normal_p(d), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pratt = stats.wilcoxon(d, zero_method="pratt", correction=False, method="asymptotic")
    assert p != pytest.approx(pratt.pvalue, rel=1e-3)


def test_the_tie_correction_is_applied():
    d = np.array([1.0] * 6 + [-1.0] * 2 + [2.0] * 5 + [-2.0] + [3.0] * 4 + [-3.0] * 2)
    p = wilcoxon_signed_rank(d)[1]
    assert p == pytest.approx(normal_p(d), rel=1e-12)
    assert p != pytest.approx(normal_p(d, tie_correction=False), rel=1e-3)
    assert p == pytest.approx(scipy_wilcoxon(d)[1], rel=1e-12)


def test_no_continuity_correction():
    d = np.arange(1.0, 61.0) * np.where(np.arange(60) % 4 == 0, -1.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corrected = stats.wilcoxon(d, correction=True, method="asymptotic").pvalue
    assert wilcoxon_signed_rank(d)[1] != pytest.approx(corrected, rel=1e-6)


@pytest.mark.parametrize("d", [[], [0.0], [0.0, 0.0], [0.0] * 13, [0.0] * 14, [0.0] * 60,
                               [1.0, np.nan, 2.0]])
def test_no_nonzero_difference_gives_nan(d):
    """scipy returns (0, 1), (0, nan) or raises there depending on n; none is a result."""
    stat, p = wilcoxon_signed_rank(np.array(d, dtype=float))
    assert math.isnan(stat) and math.isnan(p)


@pytest.mark.parametrize("d", [[3.0], [-0.5], [0.0, 2.0], [2.0, 2.0], [2.0, -2.0],
                               [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
def test_tiny_samples_equal_scipy(d):
    got = wilcoxon_signed_rank(np.array(d))
    assert got == pytest.approx(scipy_wilcoxon(d), rel=1e-12)


# --- t-interval, t quantiles, Clopper–Pearson ------------------------------------------------


def test_t_quantiles_equal_scipy():
    for level in (0.95, 0.9):
        q = t_quantiles(40, level)
        assert q.shape == (41,) and math.isnan(q[0])
        df = np.arange(1, 41)
        np.testing.assert_allclose(q[1:], stats.t.ppf(1 - (1 - level) / 2, df), rtol=1e-14)
    with pytest.raises(ValueError):
        t_quantiles(5, 1.5)


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_mean_ci_equals_scipy_t_interval(level):
    rng = np.random.default_rng(7)
    tq = t_quantiles(60, level)
    for n in range(2, 61):
        x = rng.normal(12.0, 6.0, n).round(1)
        mean, lo, hi = mean_ci(x, tq)
        want = stats.t.interval(level, n - 1, loc=x.mean(), scale=stats.sem(x))
        assert mean == pytest.approx(x.mean(), rel=1e-12)
        assert (lo, hi) == pytest.approx(want, rel=1e-11, abs=1e-11)


def test_mean_ci_edges():
    tq = t_quantiles(5)
    assert all(math.isnan(v) for v in mean_ci(np.empty(0), tq))
    mean, lo, hi = mean_ci(np.array([4.0]), tq)
    assert mean == 4.0 and math.isnan(lo) and math.isnan(hi)
    assert mean_ci(np.full(4, 3.5), tq) == (3.5, 3.5, 3.5)  # zero width, not scipy's nan
    with pytest.raises(ValueError, match="too short"):
        mean_ci(np.arange(7.0), tq)


def test_clopper_pearson_equals_statsmodels_beta():
    n = np.repeat(np.arange(1, 41), np.arange(2, 42))
    k = np.concatenate([np.arange(m + 1) for m in range(1, 41)])
    for level in (0.95, 0.9):
        lo, hi = clopper_pearson(k, n, level)
        want_lo, want_hi = proportion_confint(k, n, alpha=1 - level, method="beta")
        np.testing.assert_allclose(lo, want_lo, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(hi, want_hi, rtol=1e-12, atol=1e-15)
    lo, hi = clopper_pearson(k, n)
    assert np.all(lo[k == 0] == 0.0) and np.all(hi[k == n] == 1.0)
    assert np.all((lo[k > 0] > 0) & (hi[k < n] < 1))


def test_clopper_pearson_edges():
    lo, hi = clopper_pearson(np.array([[0, 1], [0, 0]]), np.array([[0, 2], [3, 0]]))
    assert lo.shape == hi.shape == (2, 2)
    assert np.isnan(lo[0, 0]) and np.isnan(hi[0, 0]) and np.isnan(lo[1, 1])
    assert lo[1, 0] == 0.0 and hi[1, 0] == pytest.approx(1 - 0.025 ** (1 / 3), rel=1e-12)
    lo, hi = clopper_pearson(3, 3)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 3), rel=1e-12)
    for k, n in ((4, 3), (-1, 3), (1.5, 3)):
        with pytest.raises(ValueError):
            clopper_pearson(k, n)


# --- cohort statistics ------------------------------------------------------------------------


def plain_statistics(clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds, level):
    """The cohort's statistics recomputed one (group, time) at a time with pandas and scipy."""
    n_patients, n_times = clasi.shape
    long = pd.DataFrame({
        "patient": np.repeat(np.arange(n_patients), n_times),
        "time": np.tile(np.arange(n_times), n_patients),
        "subtype": np.repeat(subtype, n_times),
        "clasi": clasi.ravel(),
        "evaluable": evaluable.ravel(),
        "baseline": np.repeat(clasi[:, 0], n_times),
        "baseline_evaluable": np.repeat(evaluable[:, 0], n_times),
    })
    long = long[long["evaluable"]]
    rows = []
    for g in range(n_subtypes + 1):
        group = long if g == 0 else long[long["subtype"] == g - 1]
        for j in range(n_times):
            at = group[group["time"] == j]
            x = at["clasi"].to_numpy()
            paired = at[at["baseline_evaluable"]]
            change = (paired["clasi"] - paired["baseline"]).to_numpy()
            eligible = paired[(paired["baseline"] >= min_baseline) & (paired["baseline"] > 0)]
            row = {"n": len(at), "mean": x.mean() if len(x) else np.nan,
                   "lower": np.nan, "upper": np.nan}
            if len(x) > 1:
                if np.ptp(x) == 0:
                    row["lower"] = row["upper"] = x[0]
                else:
                    row["lower"], row["upper"] = stats.t.interval(
                        level, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
            row["change"] = change.mean() if len(change) else np.nan
            row["p_wilcoxon"] = (scipy_wilcoxon(change)[1] if j > 0 and np.any(change)
                                 else np.nan)
            row["n_eligible"] = len(eligible)
            for k in thresholds:  # on the half-point lattice these products are exact
                hit = 100 * eligible["clasi"] <= eligible["baseline"] * (100 - k)
                row[f"clasi{k:g}"] = int(hit.sum())
            rows.append(row)
    return pd.DataFrame(rows)


def kernel_frame(clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds, level=0.95):
    out = cohort_statistics(clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds,
                            t_quantiles(clasi.shape[0], level))
    assert out.shape == (n_subtypes + 1, clasi.shape[1], STAT_RESP + thresholds.size)
    return pd.DataFrame(out.reshape(-1, out.shape[2]), columns=STAT_NAMES(thresholds))


def assert_same(got, want):
    pd.testing.assert_frame_equal(got, want.astype(float), check_exact=False, rtol=1e-9,
                                  atol=1e-12)


def hand_cohort():
    """Eight patients, five assessments, subtypes 0..3 (3 has no patient)."""
    clasi = np.array([
        [10.0, 8.0, 5.0, 0.0, 0.0],    # 0: CLASI-20 at 8, CLASI-50 at 5, CLASI-100
        [10.0, 8.1, 999.0, 5.5, 2.0],  # 1: 8.1 is not 20% below 10; 2 is 80% below
        [3.0, 2.0, 1.0, 3.0, 999.0],   # 2: baseline below min_baseline (4): never eligible
        [12.0, 12.0, 6.0, 999.0, 3.0],  # 3
        [20.0, 999.0, np.nan, 999.0, 999.0],  # 4: subtype 2, assessed at baseline only
        [7.0, 9.0, 7.0, 1.0, 999.0],   # 5
        [6.5, 6.5, 3.0, 4.5, 0.0],     # 6
        [999.0, 5.0, 4.0, 0.0, 1.0],   # 7: baseline not assessed
    ])
    evaluable = clasi != 999.0
    evaluable[4, 2] = False  # the nan
    subtype = np.array([0, 0, 1, 1, 2, 0, 1, 0])
    return clasi, evaluable, subtype


def test_hand_cohort_equals_the_plain_recomputation():
    clasi, evaluable, subtype = hand_cohort()
    thresholds = np.array([20.0, 50.0, 80.0, 100.0])
    got = kernel_frame(clasi, evaluable, subtype, 4, 4.0, thresholds)
    want = plain_statistics(clasi, evaluable, subtype, 4, 4.0, thresholds, 0.95)
    assert_same(got, want)


def test_hand_cohort_by_hand():
    clasi, evaluable, subtype = hand_cohort()
    thresholds = np.array([20.0, 50.0, 80.0, 100.0])
    out = cohort_statistics(clasi, evaluable, subtype, 4, 4.0, thresholds, t_quantiles(8))
    r20, r50, r80, r100 = STAT_RESP + np.arange(4)
    # all patients at month index 1: evaluable 0,1,2,3,5,6,7; eligible 0,1,3,5,6
    a = out[0, 1]
    assert a[STAT_N] == 7 and a[STAT_N_ELIGIBLE] == 5
    assert a[STAT_MEAN] == pytest.approx((8 + 8.1 + 2 + 12 + 9 + 6.5 + 5) / 7)
    assert a[STAT_CHANGE] == pytest.approx((-2 - 1.9 - 1 + 0 + 2 + 0) / 6)
    assert a[r20] == 1  # patient 0 (8 <= 10 * 0.8); patient 1's 8.1 is not
    # index 4: patient 1 (10 -> 2) is a CLASI-80 responder although 10 * (1 - 0.8) < 2 in floats
    assert 10.0 * (1 - 80 / 100) < 2.0
    a = out[0, 4]
    assert a[STAT_N_ELIGIBLE] == 4  # 0, 1, 3, 6
    assert (a[r20], a[r50], a[r80], a[r100]) == (4, 4, 3, 2)
    # subtype 2: only patient 4, assessed at baseline only; subtype 3: nobody
    for g, n0 in ((3, 1), (4, 0)):
        assert out[g, 0, STAT_N] == n0
        for j in range(1, 5):
            s = out[g, j]
            assert s[STAT_N] == 0 and s[STAT_N_ELIGIBLE] == 0 and np.all(s[STAT_RESP:] == 0)
            assert np.all(np.isnan(s[[STAT_MEAN, STAT_LO, STAT_HI, STAT_CHANGE, STAT_P]]))
    assert out[3, 0, STAT_MEAN] == 20.0 and np.isnan(out[3, 0, STAT_LO])
    # baseline: change 0, no p-value; nobody responds at baseline with min_baseline > 0
    assert np.all(out[:, 0, STAT_P] != out[:, 0, STAT_P])
    assert out[0, 0, STAT_CHANGE] == 0.0 and np.all(out[0, 0, STAT_RESP:] == 0)


def test_unassessed_cells_are_never_read():
    clasi, evaluable, subtype = hand_cohort()
    a = cohort_statistics(clasi, evaluable, subtype, 4, 4.0, THRESHOLDS, t_quantiles(8))
    scrambled = np.where(evaluable, clasi, -12345.0)
    scrambled[~evaluable & (np.arange(5) % 2 == 0)] = np.nan
    b = cohort_statistics(scrambled, evaluable, subtype, 4, 4.0, THRESHOLDS, t_quantiles(8))
    np.testing.assert_array_equal(a, b)


def test_response_rule_tolerance():
    """Baseline 10: 8 is a CLASI-20 response, 8.1 is not; 2 is CLASI-80; only 0 is CLASI-100."""
    follow = np.array([8.0, 8.1, 2.0, 2.0 + 1e-6, 1e-6, 0.0])
    clasi = np.column_stack([np.full(follow.size, 10.0), follow])
    evaluable = np.ones(clasi.shape, dtype=bool)
    subtype = np.arange(follow.size)
    out = cohort_statistics(clasi, evaluable, subtype, follow.size, 10.0,
                            np.array([20.0, 80.0, 100.0]), t_quantiles(follow.size))
    assert out[0, 1, STAT_N_ELIGIBLE] == follow.size
    responders = out[1:, 1, STAT_RESP:]
    np.testing.assert_array_equal(responders, [[1, 0, 0], [0, 0, 0], [1, 1, 0], [1, 0, 0],
                                               [1, 1, 0], [1, 1, 1]])
    # baseline exactly at min_baseline is eligible; just below is not
    out = cohort_statistics(clasi, evaluable, subtype, follow.size, 10.0 + 1e-9,
                            np.array([20.0]), t_quantiles(follow.size))
    assert out[0, 1, STAT_N_ELIGIBLE] == 0


@st.composite
def cohorts(draw):
    n_patients = draw(st.integers(1, 14))
    n_times = draw(st.integers(1, 5))
    n_subtypes = draw(st.integers(1, 3))
    halves = st.integers(0, 24)
    clasi = np.array(draw(st.lists(halves, min_size=n_patients * n_times,
                                   max_size=n_patients * n_times)), dtype=float) / 2.0
    clasi = clasi.reshape(n_patients, n_times)
    evaluable = np.array(draw(st.lists(st.booleans(), min_size=clasi.size,
                                       max_size=clasi.size))).reshape(clasi.shape)
    if draw(st.booleans()):
        evaluable[:, 0] = True  # the usual case: everybody assessed at baseline
    subtype = np.array(draw(st.lists(st.integers(0, n_subtypes - 1), min_size=n_patients,
                                     max_size=n_patients)), dtype=np.int64)
    garbage = draw(st.sampled_from([999.0, -1.0, np.nan]))
    clasi[~evaluable] = garbage
    min_baseline = draw(st.sampled_from([0.0, 2.0, 5.0]))
    thresholds = np.array(draw(st.lists(st.sampled_from([20.0, 50.0, 75.0, 100.0]),
                                        min_size=0, max_size=3, unique=True)))
    return clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_kernel_equals_plain_recomputation(cohort):
    clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds = cohort
    got = kernel_frame(clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds)
    want = plain_statistics(clasi, evaluable, subtype, n_subtypes, min_baseline, thresholds,
                            0.95)
    assert_same(got, want)


# --- names and the tidy table -----------------------------------------------------------------


def test_stat_names_and_indices():
    assert (STAT_N, STAT_MEAN, STAT_LO, STAT_HI, STAT_CHANGE, STAT_P, STAT_N_ELIGIBLE,
            STAT_RESP) == tuple(range(8))
    assert STAT_NAMES(THRESHOLDS) == ["n", "mean", "lower", "upper", "change", "p_wilcoxon",
                                      "n_eligible", "clasi20", "clasi50", "clasi100"]
    assert STAT_NAMES([12.5])[-1] == "clasi12.5"


def test_statistics_frame():
    clasi, evaluable, subtype = hand_cohort()
    out = cohort_statistics(clasi, evaluable, subtype, 4, 4.0, THRESHOLDS, t_quantiles(8))
    times = [0, 3, 6, 12, 24]
    groups = ["all", "DLE", "SCLE", "ACLE", "other"]
    frame = statistics_frame(out, times, groups, THRESHOLDS, level=0.9)
    assert len(frame) == 25
    assert list(frame.columns[:2]) == ["group", "time"]
    assert list(frame.columns[2:12]) == STAT_NAMES(THRESHOLDS)
    assert list(frame.columns[12:15]) == ["clasi20_rate", "clasi20_lower", "clasi20_upper"]
    assert frame["n"].dtype == np.int64 and frame["clasi50"].dtype == np.int64
    row = frame[(frame["group"] == "all") & (frame["time"] == 24)].iloc[0]
    assert row["n"] == out[0, 4, STAT_N] and row["p_wilcoxon"] == out[0, 4, STAT_P]
    assert row["clasi50_rate"] == row["clasi50"] / row["n_eligible"]
    lo, hi = proportion_confint(row["clasi50"], row["n_eligible"], alpha=0.1, method="beta")
    assert (row["clasi50_lower"], row["clasi50_upper"]) == pytest.approx((lo, hi), rel=1e-12)
    empty = frame[frame["group"] == "other"]
    assert empty["clasi20_rate"].isna().all() and empty["clasi20_lower"].isna().all()
    with pytest.raises(ValueError):
        statistics_frame(out, times, groups[:-1], THRESHOLDS)
    with pytest.raises(ValueError):
        statistics_frame(out, times, groups, [20.0])


def test_first_response_times_by_hand():
    from trialsim.analysis.cohort import first_response_times

    times = np.array([0.0, 3.0, 6.0, 12.0])
    clasi = np.array([
        [10.0, 6.0, 5.0, 2.0],   # CLASI-50 first at 6 months
        [10.0, 4.0, 9.0, 9.0],   # at 3 months (a later relapse does not matter)
        [10.0, 9.0, 999.0, 8.0],  # never; last seen at 12 (6 not evaluable)
        [10.0, 9.0, 3.0, 0.0],   # responds at 6 but is not evaluable then: 12
        [1.0, 0.0, 0.0, 0.0],    # baseline below min_baseline: left out
    ])
    evaluable = np.ones_like(clasi, dtype=bool)
    evaluable[2, 2] = False
    evaluable[3, 2] = False
    time, observed, eligible = first_response_times(clasi, evaluable, times, 50.0, 2.0)
    assert eligible.tolist() == [True, True, True, True, False]
    assert time[:4].tolist() == [6.0, 3.0, 12.0, 12.0]
    assert observed[:4].tolist() == [True, True, False, True]
    # lost after month 3: censored at 3
    evaluable[2, 3] = False
    time, observed, _ = first_response_times(clasi, evaluable, times, 50.0, 2.0)
    assert time[2] == 3.0 and not observed[2]


def test_median_mcse_by_batches():
    from trialsim.summarize.mcse import median_mcse

    rng = np.random.default_rng(5)
    x = rng.normal(size=4000)
    med, se = median_mcse(x)
    assert med == np.median(x)
    # the median of n normals has SD sqrt(pi / 2) / sqrt(n)
    assert se == pytest.approx(np.sqrt(np.pi / 2 / 4000), rel=0.4)
    assert np.isnan(median_mcse(x[:20])[1])
    assert median_mcse(np.array([1.0, np.inf, np.inf]))[0] == np.inf
