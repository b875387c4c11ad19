"""Per-week rates converted to the visit interval (``trialsim.model.timescale``), checked
against independent forms: a transition matrix raised to a power, repeated weekly steps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.config.scenario import with_overrides
from trialsim.model.course import course_params
from trialsim.model.timescale import (
    MAX_PERSISTENCE_PER_WEEK,
    autocorrelation_over,
    probability_over,
    two_state_on_probability,
)

prob = st.floats(0.0, 1.0)


@settings(deadline=None)  # the first call compiles
@given(a=prob, b=prob, weeks=st.integers(1, 12))
def test_two_state_chain_is_the_matrix_power(a, b, weeks):
    m = np.array([[1 - a, a], [b, 1 - b]])  # rows: from off, from on
    mw = np.linalg.matrix_power(m, weeks)
    assert two_state_on_probability(a, b, weeks, False) == pytest.approx(mw[0, 1], abs=1e-12)
    assert two_state_on_probability(a, b, weeks, True) == pytest.approx(mw[1, 1], abs=1e-12)


@settings(deadline=None)
@given(p=prob, weeks=st.integers(1, 12))
def test_probability_over_is_repeated_weekly_trials(p, weeks):
    stay = 1.0
    for _ in range(weeks):
        stay *= 1 - p
    assert probability_over(p, weeks) == pytest.approx(1 - stay, abs=1e-12)


def test_probability_over_one_week_and_edges():
    assert probability_over(0.3, 1) == pytest.approx(0.3)
    assert probability_over(0.0, 4) == 0.0
    assert probability_over(1.0, 4) == 1.0
    assert probability_over(0.25, 4) > 0.25  # more chances in a longer interval


def test_autocorrelation_over():
    assert autocorrelation_over(0.8, 4) == pytest.approx(0.8 ** 4)
    assert autocorrelation_over(0.8, 1) == 0.8


def test_course_params_convert_the_weekly_values(bliss52):
    """The kernel's per-visit persistence, AR(1) and taper probability are the weekly values
    over the visit interval; per-week serology and symptom rates are passed through."""
    for weeks in (1, 2, 4):
        sc = with_overrides(bliss52, {"design.visit_interval_weeks": weeks})
        p = course_params(sc)
        dis, soc = sc.disease, sc.standard_of_care
        lam = min(dis.descriptors["arthritis"].persistence * dis.persistence_scale,
                  MAX_PERSISTENCE_PER_WEEK)
        from trialsim.model.instruments import DESCRIPTOR_NAMES
        j = DESCRIPTOR_NAMES.index("arthritis")
        assert p.persistence[j] == pytest.approx(lam ** weeks)
        assert p.fluctuation_ar1 == pytest.approx(dis.fluctuation_ar1 ** weeks)
        assert p.taper_prob == pytest.approx(1 - (1 - soc.taper_prob) ** weeks)
        assert p.serology_normalize == dis.serology.normalize
        assert p.symptom_increase_prob == soc.symptom_increase_prob
        assert p.interval_weeks == weeks


def test_persistence_is_capped_per_week(bliss52):
    sc = with_overrides(bliss52, {"disease.persistence_scale": 3.0})
    p = course_params(sc)
    assert p.persistence.max() == pytest.approx(MAX_PERSISTENCE_PER_WEEK ** 4)
