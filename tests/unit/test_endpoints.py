"""Endpoint logic on a simulated trial: nesting of SRI-k, components, non-response rules."""

import numpy as np
import pytest

from trialsim.course import run_course
from trialsim.design import randomize, strata_indicators, stratum_index
from trialsim.endpoints import ENDPOINTS, Trial, first_flare_visit
from trialsim.engine import Plan
from trialsim.rng import replicate_streams


@pytest.fixture(scope="module")
def trial(tiny):
    plan = Plan(tiny)
    s = replicate_streams(1, 0)
    cohort, _ = plan.population.enroll(600, s["population"])
    x, _ = strata_indicators(cohort, tiny.design)
    arm = randomize(stratum_index(x), plan.allocation, 2, s["randomization"])
    return Trial(cohort, arm, run_course(tiny, cohort, plan.doses[arm], s["course"]))


def test_enrolled_patients_meet_entry_criteria(trial, tiny):
    c = trial.cohort
    assert (c.sledai >= tiny.screening.min_sledai).all()
    assert (c.ana | c.anti_dsdna).all()
    assert (c.proteinuria_g <= tiny.screening.max_proteinuria_g).all()


def test_sri_k_is_nested(trial):
    v = 6
    prev = ENDPOINTS["sri4"](trial, v)
    for k in range(5, 9):
        cur = ENDPOINTS[f"sri{k}"](trial, v)
        assert not (cur & ~prev).any(), k
        prev = cur


def test_sri_is_the_conjunction_of_its_components(trial):
    v = 6
    both = (
        ENDPOINTS["sledai_reduction_4"](trial, v)
        & ENDPOINTS["no_new_bilag"](trial, v)
        & ENDPOINTS["no_pga_worsening"](trial, v)
    )
    np.testing.assert_array_equal(ENDPOINTS["sri4"](trial, v), both)


def test_dropouts_and_failures_are_non_responders(trial):
    v = 6
    off = ~trial.on_study(v)
    assert off.any()
    for name in ENDPOINTS:
        if name == "constant_response":  # a reduced model, not a clinical endpoint
            continue
        assert not ENDPOINTS[name](trial, v)[off].any(), name


def test_sledai_lives_on_its_lattice(trial):
    s = trial.course.sledai
    assert s.min() >= 0 and s.max() <= 105
    # weight-1 descriptors are rare: most scores are even
    assert (s % 2 == 0).mean() > 0.8


def test_first_flare_visit(trial):
    visit, observed = first_flare_visit(trial.course)
    f = trial.course.flare
    for i in np.flatnonzero(observed)[:50]:
        assert f[i, visit[i]] > 0 and (f[i, 1 : visit[i]] == 0).all()
