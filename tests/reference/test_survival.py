"""Log-rank and Cox (Efron ties) against lifelines, on tied grid data like trial visits."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test

from trialsim.analysis.survival import (
    HAZARD_RATIO,
    LOG_HR,
    LOGRANK_CHI2,
    P_LOGRANK,
    P_WALD,
    SE,
    compare_survival,
    cox_binary,
    logrank,
)


def grid_data(seed, n=300, hr=0.7):
    rng = np.random.default_rng(seed)
    g = rng.random(n) < 0.5
    t_event = rng.exponential(120 / np.where(g, hr, 1.0))
    t_cens = rng.uniform(50, 400, n)
    t = np.minimum(t_event, t_cens)
    e = t_event <= t_cens
    t = np.ceil(t / 28) * 28.0  # visit grid: heavy ties
    return t, e, g


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_logrank_matches_lifelines(seed):
    t, e, g = grid_data(seed)
    chi2, p = logrank(t, e, g)
    ref = logrank_test(t[g], t[~g], e[g], e[~g])
    assert chi2 == pytest.approx(ref.test_statistic, rel=1e-9)
    assert p == pytest.approx(ref.p_value, rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_cox_efron_matches_lifelines(seed):
    t, e, g = grid_data(seed)
    beta, se, ok = cox_binary(t, e, g.astype(float))
    assert ok
    df = pd.DataFrame({"t": t, "e": e.astype(int), "g": g.astype(float)})
    cph = CoxPHFitter().fit(df, "t", "e")
    assert beta == pytest.approx(cph.params_["g"], abs=1e-6)
    assert se == pytest.approx(cph.standard_errors_["g"], abs=1e-6)


def test_compare_survival_pairs_and_fields():
    t, e, g = grid_data(7, n=450)
    arm = np.where(g, 1, 0).astype(np.int64)
    arm[::3] = 2
    out = compare_survival(t, e, arm, np.array([[1, 0], [2, 0]], dtype=np.int64))
    for c, trt in enumerate((1, 2)):
        sel = (arm == trt) | (arm == 0)
        ref = logrank_test(t[sel & (arm == trt)], t[sel & (arm == 0)],
                           e[sel & (arm == trt)], e[sel & (arm == 0)])
        assert out[c, P_LOGRANK] == pytest.approx(ref.p_value, rel=1e-9)
        assert out[c, LOGRANK_CHI2] == pytest.approx(ref.test_statistic, rel=1e-9)
        assert out[c, HAZARD_RATIO] == pytest.approx(np.exp(out[c, LOG_HR]))
        assert 0 < out[c, P_WALD] < 1 and out[c, SE] > 0
        # the Cox fit of the pair with treated = 1, as lifelines reports it
        df = pd.DataFrame({"t": t[sel], "e": e[sel].astype(int),
                           "treated": (arm[sel] == trt).astype(float)})
        cph = CoxPHFitter().fit(df, "t", "e")
        assert out[c, LOG_HR] == pytest.approx(cph.params_["treated"], abs=1e-6)
        assert out[c, SE] == pytest.approx(cph.standard_errors_["treated"], abs=1e-6)


def test_hazard_ratio_points_the_right_way():
    """Treated patients who flare later (true HR 0.5) give log HR < 0 for treated vs control."""
    t, e, g = grid_data(11, n=600, hr=0.5)
    arm = g.astype(np.int64)  # 1 = treated
    out = compare_survival(t, e, arm, np.array([[1, 0]], dtype=np.int64))
    assert out[0, LOG_HR] < 0 and out[0, HAZARD_RATIO] < 1 and out[0, P_LOGRANK] < 0.05
    swapped = compare_survival(t, e, arm, np.array([[0, 1]], dtype=np.int64))
    assert swapped[0, LOG_HR] == pytest.approx(-out[0, LOG_HR], abs=1e-9)


def test_no_events_is_unanalysable():
    t = np.full(20, 364.0)
    e = np.zeros(20, dtype=bool)
    arm = np.repeat([0, 1], 10).astype(np.int64)
    out = compare_survival(t, e, arm, np.array([[1, 0]], dtype=np.int64))
    assert np.isnan(out[0, LOG_HR]) and out[0, P_WALD] == 1.0 and out[0, P_LOGRANK] == 1.0


def test_km_median_interpolates_the_lifelines_curve():
    from lifelines import KaplanMeierFitter

    from trialsim.analysis.survival import km_median

    t, e, _ = grid_data(5, n=400, hr=1.0)
    km = KaplanMeierFitter().fit(t, e)
    sf = km.survival_function_["KM_estimate"]
    times = np.concatenate([[0.0], sf.index.values[1:]]) if sf.index.values[0] == 0 else None
    s = sf.values
    k = int(np.argmax(s <= 0.5))
    expected = np.interp(0.5, [s[k], s[k - 1]], [sf.index.values[k], sf.index.values[k - 1]])
    assert times is not None
    assert km_median(t, e) == pytest.approx(expected, rel=1e-9)
    # the step-function median of lifelines is the first grid time at or after ours
    assert km.median_survival_time_ >= km_median(t, e) > km.median_survival_time_ - 28
