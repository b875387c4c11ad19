"""Endpoint logic on a simulated trial: nesting of SRI-k, components, non-response rules."""

import numpy as np
import pytest

from trialsim.analysis.endpoints import ENDPOINTS, Trial, first_flare_visit
from trialsim.core.rng import replicate_key
from trialsim.model.course import run_course
from trialsim.model.randomization import randomize, strata_indicators, stratum_index
from trialsim.run.trial import Plan


@pytest.fixture(scope="module")
def trial(tiny):
    plan = Plan(tiny)
    cohort, _ = plan.population.enroll(600, replicate_key(1, 0))
    x, _ = strata_indicators(cohort, tiny.design)
    arm = randomize(stratum_index(x), plan.allocation, 2, replicate_key(1, 0))
    return Trial(cohort, arm, run_course(tiny, cohort, arm, replicate_key(1, 0)))


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
        if name.startswith("clasi"):  # needs the trial's CLASI: tests/unit/test_trial_clasi.py
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


# --------------------------------------------------------------------------- hand-built trials

from types import SimpleNamespace  # noqa: E402

from trialsim.analysis.survival import km_median  # noqa: E402
from trialsim.model.course import Course  # noqa: E402
from trialsim.model.instruments import GRADE_A, GRADE_B, GRADE_C, GRADE_E, N_BILAG  # noqa: E402
from trialsim.model.population import RACE_CODE, PopulationModel  # noqa: E402

N_VISITS = 5  # visits 0..4; the endpoint is at visit 3, visit 4 comes after it
#: per patient: (what it tests, SLEDAI at 0 and 3, PGA at 0 and 3, BILAG change at 3,
#: flares as {visit: level}, failure visit, dropout visit)
PATIENTS = [
    ("reduction of exactly 4", 10, 6, 1.0, 1.0, None, {}, 5, 5),
    ("reduction of 3", 10, 7, 1.0, 1.0, None, {}, 5, 5),
    ("PGA rise of exactly 0.3", 10, 6, 1.0, 1.3, None, {}, 5, 5),
    ("a new BILAG A", 10, 6, 1.0, 1.0, (GRADE_A,), {}, 5, 5),
    ("one new BILAG B", 10, 6, 1.0, 1.0, (GRADE_B,), {}, 5, 5),
    ("two new BILAG B", 10, 6, 1.0, 1.0, (GRADE_B, GRADE_B), {}, 5, 5),
    ("dropout at the endpoint visit", 10, 6, 1.0, 1.0, None, {}, 5, 3),
    ("dropout at the next visit", 10, 6, 1.0, 1.0, None, {}, 5, 4),
    ("treatment failure at the endpoint visit", 10, 6, 1.0, 1.0, None, {}, 3, 5),
    ("treatment failure at the next visit", 10, 6, 1.0, 1.0, None, {}, 4, 5),
    ("mild flare at the endpoint visit", 10, 6, 1.0, 1.0, None, {3: 1}, 5, 5),
    ("mild flare after the endpoint visit", 10, 6, 1.0, 1.0, None, {4: 1}, 5, 5),
    ("severe flare at visit 1", 10, 6, 1.0, 1.0, None, {1: 2}, 5, 5),
    ("mild flare at visit 2", 10, 6, 1.0, 1.0, None, {2: 1}, 5, 5),
    ("reduction of 8", 14, 6, 1.0, 1.0, None, {}, 5, 5),
]
#: expected flags at visit 3, by endpoint, in the order of PATIENTS
EXPECTED = {
    "sri4": [1, 0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1],
    "sri5": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    "sri8": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    "sledai_reduction_4": [1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1],
    "no_pga_worsening": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1],
    "no_new_bilag": [1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1],
    "no_flare": [1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1],
    "no_severe_flare": [1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1],
}


def hand_trial() -> Trial:
    n = len(PATIENTS)
    sledai = np.zeros((n, N_VISITS), np.int16)
    pga = np.zeros((n, N_VISITS))
    bilag = np.full((n, N_VISITS, N_BILAG), GRADE_E, np.int8)
    flare = np.zeros((n, N_VISITS), np.int8)
    failure = np.zeros(n, np.int64)
    dropout = np.zeros(n, np.int64)
    for i, (_, s0, s3, p0, p3, new, flares, fail, drop) in enumerate(PATIENTS):
        sledai[i] = [s0, s0, s0, s3, s3]
        pga[i] = [p0, p0, p0, p3, p3]
        bilag[i, :, 0] = GRADE_C  # a system with persisting mild activity
        for k, g in enumerate(new or ()):
            bilag[i, 3, 1 + k] = g
        for v, level in flares.items():
            flare[i, v] = level
        failure[i], dropout[i] = fail, drop
    course = Course(sledai, pga, bilag, np.zeros((n, N_VISITS)), flare, failure, dropout)
    return Trial(None, np.zeros(n, np.int64), course)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_endpoint_flags_per_patient_by_hand(name):
    got = ENDPOINTS[name](hand_trial(), 3).astype(int)
    bad = [PATIENTS[i][0] for i in np.flatnonzero(got != EXPECTED[name])]
    assert not bad, f"{name} wrong for: {bad}"


def test_first_flare_visit_by_hand():
    course = hand_trial().course
    names = [p[0] for p in PATIENTS]
    visit, observed = first_flare_visit(course)
    severe, seen = first_flare_visit(course, severe=True)
    got = {n: (int(visit[i]), bool(observed[i])) for i, n in enumerate(names)}
    got_severe = {n: (int(severe[i]), bool(seen[i])) for i, n in enumerate(names)}
    assert got["mild flare at the endpoint visit"] == (3, True)
    assert got["severe flare at visit 1"] == (1, True)
    assert got["mild flare after the endpoint visit"] == (4, True)
    # no flare: censored at the last visit seen (dropout visit - 1, or the last visit)
    assert got["dropout at the endpoint visit"] == (2, False)
    assert got["reduction of 3"] == (4, False)
    assert got_severe["mild flare at visit 2"] == (4, False)
    assert got_severe["severe flare at visit 1"] == (1, True)


def test_flare_at_the_dropout_visit_is_not_seen():
    course = hand_trial().course
    course.flare[6, 3] = 1  # "dropout at the endpoint visit": missed visit 3
    visit, observed = first_flare_visit(course)
    assert (visit[6], observed[6]) == (2, False)


@pytest.mark.parametrize(
    "days, events, median",
    [
        ([28, 56, 84, 112], [1, 1, 1, 1], 56.0),  # S reaches 0.5 exactly at 56
        ([28, 56, 84], [1, 1, 0], 42.0),  # S 2/3 at 28, 1/3 at 56: halfway
        ([28, 28, 28, 56], [1, 1, 1, 1], 28.0 * 2 / 3),  # from S(0) = 1 to 0.25 at 28
        ([28, 56], [1, 1], 28.0),
        ([28, 56, 84], [1, 0, 0], np.inf),  # never reaches 0.5
    ],
)
def test_km_median_by_hand(days, events, median):
    got = km_median(np.array(days, float), np.array(events, bool))
    assert got == pytest.approx(median)


def test_screening_exactly_at_the_cut_offs(bliss76):
    scr = bliss76.screening
    lo, top = scr.min_sledai, scr.max_proteinuria_g
    c = SimpleNamespace(
        sledai=np.array([lo, lo - 1, lo, lo, lo, lo, lo]),
        ana=np.array([1, 1, 0, 1, 0, 1, 1], bool),
        anti_dsdna=np.array([0, 0, 1, 0, 0, 1, 1], bool),
        proteinuria_g=np.array([0.1, 0.1, 0.1, top, 0.1, top + 0.01, 0.0]),
        # the enrichment criteria are off in BLISS: any values pass
        low_c3=np.zeros(7, bool), low_c4=np.zeros(7, bool), prednisone=np.zeros(7),
        disease_duration=np.full(7, 30.0), region=np.zeros(7, np.int64),
    )
    expected = [1, 0, 1, 1, 0, 0, 1]
    np.testing.assert_array_equal(PopulationModel(bliss76).eligible(c), expected)


def test_stratification_factors_at_their_cut_offs(bliss76):
    from trialsim.model.randomization import strata_indicators

    races = ["black", "indigenous_american", "white", "asian"]
    c = SimpleNamespace(
        sledai=np.array([10, 9, 12, 6]),
        proteinuria_g=np.array([2.0, 1.99, 0.0, 5.0]),
        race=np.array([RACE_CODE[r] for r in races]),
        region=np.zeros(4, np.int64),
        **{k: np.zeros(4) for k in ("age", "weight_kg", "disease_duration", "prednisone", "pga")},
        **{k: np.zeros(4, bool) for k in ("female", "ana", "anti_dsdna", "low_c3", "low_c4",
                                          "immunosuppressant", "antimalarial")},
    )
    design = bliss76.design.model_copy(update={"stratify_by": ["sledai", "proteinuria", "race"]})
    x, names = strata_indicators(c, design)
    assert names == ["sledai_ge_10", "proteinuria_ge_2g", "black_or_indigenous_american"]
    np.testing.assert_array_equal(x, [[1, 1, 1], [0, 0, 1], [1, 0, 0], [0, 1, 0]])
