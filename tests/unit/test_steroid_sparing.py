"""The BLISS steroid-sparing endpoint on hand-made prednisone courses, at its edges
(analysis/endpoints.py ``steroid_spared``; domain.md §2.5): the denominator (> 7.5 mg/day at
baseline), the 25% reduction and the 7.5 mg/day ceiling at every visit of weeks 40-52, and
patients off study; then how the analysis leaves the patients outside the denominator out."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.analysis.comparisons import RESULT_FIELDS, compare_arms
from trialsim.analysis.endpoints import (
    ENDPOINTS,
    EVALUABLE,
    NON_RESPONDER,
    NOT_EVALUABLE,
    RESPONDER,
    Trial,
    steroid_spared,
    steroid_sparing_window,
)
from trialsim.model.course import Course
from trialsim.model.instruments import N_BILAG

WEEK52 = 13  # visit of week 52 at 4-weekly visits (weeks 0, 4, ..., 52)
V = WEEK52 + 1
F = {name: i for i, name in enumerate(RESULT_FIELDS)}


def course(base: float, later: float, **at_week) -> list[float]:
    """Prednisone mg/day at each visit: ``base`` at baseline, ``later`` after, except the
    weeks given (``w44=8.0``)."""
    pred = [base] + [later] * (V - 1)
    for key, dose in at_week.items():
        pred[int(key[1:]) // 4] = dose
    return pred


def trial(*preds: list[float], dropout=None, failure=None) -> Trial:
    n = len(preds)
    c = Course(
        sledai=np.full((n, V), 8, np.int16),
        pga=np.ones((n, V)),
        bilag=np.zeros((n, V, N_BILAG), np.int8),
        prednisone=np.array(preds, float),
        flare=np.zeros((n, V), np.int8),
        failure_visit=np.array(failure or [V] * n, np.int64),
        dropout_visit=np.array(dropout or [V] * n, np.int64),
        clinical_sledai=np.zeros((n, V), np.int16),
        activity_flags=np.zeros((n, V), np.uint8),
    )
    return Trial(None, np.zeros(n, np.int64), c, interval_weeks=4)


def codes(*preds, **kw) -> list[int]:
    t = trial(*preds, **kw)
    responder = ENDPOINTS["steroid_sparing"](t, WEEK52)
    evaluable = EVALUABLE["steroid_sparing"](t, WEEK52)
    return [RESPONDER if r else (NON_RESPONDER if e else NOT_EVALUABLE)
            for r, e in zip(responder, evaluable, strict=True)]


def test_only_patients_above_7_5_mg_at_baseline_are_evaluable():
    got = codes(course(7.5, 2.5), course(7.51, 2.5), course(0.0, 0.0), course(20.0, 5.0))
    # exactly 7.5 mg/day at baseline is outside the denominator, even with a reduction
    assert got == [NOT_EVALUABLE, RESPONDER, NOT_EVALUABLE, RESPONDER]


def test_a_reduction_of_exactly_25_percent_counts():
    got = codes(course(8.0, 6.0), course(8.0, 6.01), course(10.0, 7.5), course(10.0, 7.51))
    # 8 -> 6 is 25% (and <= 7.5); 10 -> 7.5 is 25% and exactly 7.5
    assert got == [RESPONDER, NON_RESPONDER, RESPONDER, NON_RESPONDER]


def test_the_dose_must_be_at_most_7_5_mg_whatever_the_reduction():
    got = codes(course(40.0, 8.0), course(40.0, 7.5))  # 80% down, but 8 > 7.5
    assert got == [NON_RESPONDER, RESPONDER]


def test_every_visit_of_weeks_40_to_52_counts():
    got = codes(
        course(15.0, 5.0, w48=8.0),  # 7.5 reached by week 40, 8 at week 48
        course(15.0, 5.0, w40=8.0),  # above at week 40, the window's first visit
        course(15.0, 5.0, w36=8.0),  # above at week 36, before the window: still a responder
        course(15.0, 5.0, w52=7.6),  # above at the endpoint week itself
        course(15.0, 15.0, w40=7.5, w44=7.5, w48=7.5, w52=7.5),  # reduced over weeks 40-52 only
    )
    assert got == [NON_RESPONDER, NON_RESPONDER, RESPONDER, NON_RESPONDER, RESPONDER]


def test_patients_off_study_are_non_responders_but_stay_in_the_denominator():
    preds = [course(15.0, 5.0)] * 4
    got = codes(*preds, dropout=[44 // 4, V, V, V], failure=[V, 48 // 4, WEEK52, V])
    # dropout at week 44 (first visit missed); treatment failure at week 48 or at week 52
    assert got == [NON_RESPONDER, NON_RESPONDER, NON_RESPONDER, RESPONDER]
    # on 7.5 mg at baseline and off study: still not evaluable, not a non-responder
    assert codes(course(7.5, 5.0), dropout=[44 // 4]) == [NOT_EVALUABLE]


def test_window_follows_the_visit_interval():
    assert [steroid_sparing_window(w) for w in (1, 2, 4)] == [12, 6, 3]
    # at an early endpoint the window starts after baseline (visit 1)
    pred = np.array([10.0, 5.0, 5.0], float)
    assert steroid_spared(pred, 3, 3, 2, 3) == RESPONDER


def test_the_comparison_leaves_the_patients_outside_the_denominator_out():
    """``compare_arms`` with NOT_EVALUABLE patients equals the fit on the evaluable ones."""
    rng = np.random.default_rng(7)
    n = 400
    arm = rng.integers(0, 2, n)
    strata = rng.integers(0, 2, (n, 2)).astype(float)
    y = (rng.random(n) < 0.3 + 0.15 * arm).astype(np.uint8)
    evaluable = rng.random(n) < 0.6
    coded = np.where(evaluable, y, NOT_EVALUABLE).astype(np.uint8)
    got = compare_arms(coded, arm, strata, [[1, 0]])[0, 0]
    want = compare_arms(y[evaluable], arm[evaluable], strata[evaluable], [[1, 0]])[0, 0]
    np.testing.assert_array_equal(got, want)
    assert got[F["n_treated"]] + got[F["n_control"]] == evaluable.sum()
    # a stratum constant among the evaluable patients is dropped from their design
    strata[~evaluable, 1] = 1.0
    strata[evaluable, 1] = 0.0
    got = compare_arms(coded, arm, strata, [[1, 0]])[0, 0]
    want = compare_arms(y[evaluable], arm[evaluable], strata[evaluable, :1], [[1, 0]])[0, 0]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("n_eval", [0, 2])
def test_too_few_evaluable_patients_is_unanalysable_not_an_error(n_eval):
    arm = np.array([0, 1, 0, 1])
    coded = np.array([1, 0, NOT_EVALUABLE, NOT_EVALUABLE], np.uint8)[::-1] if n_eval else \
        np.full(4, NOT_EVALUABLE, np.uint8)
    out = compare_arms(coded, arm, None, [[1, 0]])[0, 0]
    assert out[F["converged"]] == 0 and out[F["p_value"]] == 1.0
