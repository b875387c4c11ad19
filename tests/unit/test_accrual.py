"""Accrual over calendar time (model/accrual.py): the cumulative intensity and its inverse
against numerical integration, and the simulated entry months against the Poisson process's
known distribution (Gamma arrival times; counts by a month Poisson with mean Λ(t))."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from trialsim.core.rng import replicate_key
from trialsim.model.accrual import (
    AccrualParams,
    calendar,
    entry_month,
    entry_months,
    expected_entered,
)


def params(rate, ramp):
    return AccrualParams(enabled=True, patients_per_month=rate, ramp_up_months=ramp,
                         primary_weeks=52.0, duration_weeks=76.0)


@pytest.mark.parametrize("rate, ramp", [(40.0, 0.0), (40.0, 6.0), (7.5, 13.0)])
def test_cumulative_intensity_and_its_inverse(rate, ramp):
    def intensity(t):
        return rate * min(1.0, t / ramp) if ramp > 0 else rate

    for t in (0.0, 0.5, 3.0, 6.0, 6.01, 12.0, 40.0):
        want = integrate.quad(intensity, 0.0, t, points=[ramp] if 0 < ramp < t else None)[0]
        assert expected_entered(t, rate, ramp) == pytest.approx(want, rel=1e-9, abs=1e-12)
        if t > 0:
            assert entry_month(want, rate, ramp) == pytest.approx(t, rel=1e-9)


def test_entries_are_the_poisson_process_arrivals():
    """Without ramp-up the n-th arrival is Gamma(n, rate); with one, the number entered by
    month t is Poisson(Λ(t)): means within 4 MCSE over 3,000 replicates, and the
    inter-arrival times exponential (Kolmogorov–Smirnov)."""
    n, reps = 200, 3000
    flat, ramped = params(25.0, 0.0), params(25.0, 6.0)
    last = np.empty(reps)
    by_month = {3.0: [], 6.0: [], 9.0: []}
    gaps = []
    for r in range(reps):
        k0, k1 = replicate_key(11, r)
        e = entry_months(flat, n, k0, k1)
        assert np.all(np.diff(e) >= 0)
        last[r] = e[-1]
        if r < 20:
            gaps.append(np.diff(np.concatenate([[0.0], e])))
        e2 = entry_months(ramped, n, k0, k1)
        for t in by_month:
            by_month[t].append(np.searchsorted(e2, t, side="right"))
    mean, var = n / 25.0, n / 25.0**2
    assert abs(last.mean() - mean) < 4 * np.sqrt(var / reps)
    assert last.var(ddof=1) == pytest.approx(var, rel=0.1)
    assert stats.kstest(np.concatenate(gaps) * 25.0, "expon").pvalue > 1e-3
    for t, counts in by_month.items():
        lam = expected_entered(t, 25.0, 6.0)
        counts = np.asarray(counts, float)
        assert abs(counts.mean() - lam) < 4 * np.sqrt(lam / reps), t
        assert counts.var(ddof=1) == pytest.approx(lam, rel=0.1), t


def test_entries_depend_on_the_replicate_only():
    k0, k1 = replicate_key(3, 7)
    a = entry_months(params(30.0, 4.0), 100, k0, k1)
    np.testing.assert_array_equal(a, entry_months(params(30.0, 4.0), 100, k0, k1))
    # the first patients' entries do not depend on how many follow
    np.testing.assert_array_equal(a[:40], entry_months(params(30.0, 4.0), 40, k0, k1))
    assert not np.array_equal(a, entry_months(params(30.0, 4.0), 100, *replicate_key(3, 8)))


def test_calendar():
    out = np.empty(3)
    calendar(params(30.0, 0.0), np.array([0.5, 2.0, 10.0]), out)
    weeks_per_month = 52.0 / 12.0
    np.testing.assert_allclose(out, [10.0, 10.0 + 52.0 / weeks_per_month,
                                     10.0 + 76.0 / weeks_per_month])
