"""Every rule the simulation runs, at its edges, on hand-built inputs.

Each test calls the function the simulation itself calls (the course kernel, screening and
the endpoints all call ``trialsim.model.instruments`` and ``trialsim.model.protocol``), with the
expected answer per patient written out by hand from domain.md. The tables of weights and BILAG
systems below are transcribed here from domain.md, not imported from the engine.
"""

import numpy as np
import pytest

from trialsim.model import instruments as ins
from trialsim.model import protocol

# domain.md §2.1, by descriptor: (SELENA-SLEDAI weight, classic BILAG system of §2.3 or None)
PUBLISHED = {
    "vasculitis": (8, "vasculitis"),
    "arthritis": (4, "musculoskeletal"),
    "myositis": (4, "musculoskeletal"),
    "urinary_casts": (4, "renal"),
    "hematuria": (4, "renal"),
    "proteinuria": (4, "renal"),
    "pyuria": (4, "renal"),
    "rash": (2, "mucocutaneous"),
    "alopecia": (2, "mucocutaneous"),
    "mucosal_ulcers": (2, "mucocutaneous"),
    "pleurisy": (2, "cardiorespiratory"),
    "pericarditis": (2, "cardiorespiratory"),
    "low_complement": (2, None),
    "increased_dna_binding": (2, None),
    "fever": (1, "general"),
    "thrombocytopenia": (1, "hematological"),
    "leukopenia": (1, "hematological"),
}
E, D, C, B, A = ins.GRADE_E, ins.GRADE_D, ins.GRADE_C, ins.GRADE_B, ins.GRADE_A
NONE, MILD, SEVERE = ins.FLARE_NONE, ins.FLARE_MILD, ins.FLARE_SEVERE


def active_of(*names):
    a = np.zeros(ins.N_DESCRIPTORS, dtype=np.bool_)
    for n in names:
        a[ins.DESCRIPTOR_NAMES.index(n)] = True
    return a


# --------------------------------------------------------------------------- SLEDAI


def test_sledai_weights_are_the_published_ones():
    weights = dict(zip(ins.DESCRIPTOR_NAMES, ins.SLEDAI_WEIGHTS.tolist(), strict=True))
    assert weights == {k: w for k, (w, _) in PUBLISHED.items()}


def test_descriptor_to_bilag_system_map_is_domain_md():
    got = {
        n: (ins.BILAG_SYSTEMS[k] if k >= 0 else None)
        for n, k in zip(ins.DESCRIPTOR_NAMES, ins.BILAG_OF_DESCRIPTOR.tolist(), strict=True)
    }
    assert got == {k: s for k, (_, s) in PUBLISHED.items()}
    assert ins.BILAG_SYSTEMS == (
        "general", "mucocutaneous", "neurological", "musculoskeletal", "cardiorespiratory",
        "vasculitis", "renal", "hematological",
    )


@pytest.mark.parametrize(
    "names, score, clinical",
    [
        ((), 0, 0),
        (("arthritis", "rash"), 6, 6),
        (("arthritis", "rash", "increased_dna_binding", "low_complement"), 10, 6),
        (("vasculitis", "fever", "leukopenia"), 10, 10),
        (("proteinuria", "hematuria", "pyuria", "urinary_casts"), 16, 16),
        (tuple(PUBLISHED), 49, 45),  # 8 + 6 x 4 + 7 x 2 + 3 x 1
    ],
)
def test_sledai_score_by_hand(names, score, clinical):
    a = active_of(*names)
    assert ins.sledai_score(a, ins.SLEDAI_WEIGHTS) == score
    assert ins.sledai_score(a, ins.CLINICAL_WEIGHTS) == clinical
    both = np.vstack([a, np.zeros_like(a)])
    np.testing.assert_array_equal(ins.sledai_scores(both, ins.SLEDAI_WEIGHTS), [score, 0])


# --------------------------------------------------------------------------- PGA


@pytest.mark.parametrize(
    "clin, rater, noise, expected",
    [
        (0, 0.0, 0.0, 0.25),
        (8, 0.5, -0.25, 0.25 + 0.125 * 8 + 0.5 - 0.25),
        (40, 0.0, 0.0, 3.0),  # clipped at the top of the scale
        (0, -1.0, 0.0, 0.0),  # clipped at 0
    ],
)
def test_pga_score(clin, rater, noise, expected):
    assert ins.pga_score(0.25, 0.125, clin, rater, noise) == pytest.approx(expected)


# --------------------------------------------------------------------------- BILAG


def test_bilag_system_severity_is_a_quarter_of_the_weights():
    sev = np.zeros(ins.N_BILAG)
    on = np.zeros(ins.N_BILAG, dtype=np.bool_)
    ins.bilag_system_severity(
        active_of("arthritis", "myositis", "rash", "low_complement", "fever"),
        ins.SLEDAI_WEIGHTS, ins.BILAG_OF_DESCRIPTOR, sev, on,
    )
    k = ins.BILAG_SYSTEMS.index
    expected = np.zeros(ins.N_BILAG)
    expected[k("musculoskeletal")] = 2.0
    expected[k("mucocutaneous")] = 0.5
    expected[k("general")] = 0.25
    np.testing.assert_array_equal(sev, expected)
    np.testing.assert_array_equal(on, expected > 0)


@pytest.mark.parametrize(
    "severity, active, ever, grade",
    [
        (2.0, True, False, B),  # exactly at threshold A: not above it
        (2.0 + 1e-9, True, False, A),
        (1.0, True, False, C),  # exactly at threshold B
        (1.0 + 1e-9, True, False, B),
        (-5.0, True, False, C),  # active is at least C, whatever the noise
        (9.0, False, True, D),  # inactive, involved before
        (9.0, False, False, E),  # inactive, never involved
    ],
)
def test_bilag_grade_at_thresholds(severity, active, ever, grade):
    assert ins.bilag_grade(severity, active, ever, 2.0, 1.0) == grade
    arr = ins.bilag_grades(
        np.array([[severity]]), np.array([[active]]), np.array([[ever]]), 2.0, 1.0
    )
    assert arr[0, 0] == grade


@pytest.mark.parametrize(
    "base, visit, ok",
    [
        ([E, E, E], [E, E, E], True),
        ([E, E, E], [A, E, E], False),  # new A
        ([A, E, E], [A, E, E], True),  # A at baseline is not new
        ([B, E, E], [A, E, E], False),  # B -> A is a new A
        ([E, E, E], [B, E, E], True),  # one new B allowed
        ([E, C, E], [B, B, E], False),  # a second new B
        ([D, E, E], [B, B, E], False),  # D -> B and E -> B: two new B
        ([B, B, E], [B, B, E], True),  # persisting B are not new
        ([A, E, E], [B, E, E], True),  # A -> B is an improvement, not a new B
        ([A, E, E], [B, B, E], True),  # ... so with one E -> B it is still one new B
        ([D, C, E], [B, C, C], True),  # D -> B one new B; C not new
        ([B, E, E], [B, B, E], True),
    ],
)
def test_no_new_bilag_rule(base, visit, ok):
    assert ins.no_new_bilag(np.array([base], np.int8), np.array([visit], np.int8))[0] == ok


# --------------------------------------------------------------------------- SRI components


@pytest.mark.parametrize("k", [4, 5, 6, 7, 8])
def test_sledai_reduction_exactly_k_counts_and_k_minus_1_does_not(k):
    base = np.array([14, 14, 14])
    visit = np.array([14 - k, 14 - k + 1, 14 - k - 1])
    np.testing.assert_array_equal(ins.sledai_reduction(base, visit, k), [True, False, True])


@pytest.mark.parametrize(
    "base, visit, ok",
    [
        (1.0, 1.0, True),
        (1.0, 1.29, True),
        (1.0, 1.3, False),  # a rise of exactly 0.3 is a worsening (1.3 - 1.0 rounds above 0.3)
        (1.2, 1.5, False),
        (2.2, 2.5, False),  # 2.5 - 2.2 = 0.2999999999999998: still a rise of 0.3, a worsening
        (2.7, 3.0, False),  # likewise 0.2999999999999998
        (1.4, 1.7, False),
        (2.0, 0.5, True),
        (0.0, 0.31, False),
    ],
)
def test_pga_worsening_threshold_is_0_3(base, visit, ok):
    assert ins.no_pga_worsening(np.array([base]), np.array([visit]))[0] == ok


# --------------------------------------------------------------------------- SFI


@pytest.mark.parametrize(
    "s_prev, s_now, p_prev, p_now, level",
    [
        (11, 12, 1.0, 1.0, NONE),  # to 12 is not "to > 12"; a rise of 1
        (10, 12, 1.0, 1.0, NONE),  # rise of 2
        (9, 12, 1.0, 1.0, MILD),  # rise of exactly 3, not above 12
        (12, 13, 1.0, 1.0, SEVERE),  # to 13 from 12: severe
        (13, 14, 1.0, 1.0, NONE),  # already above 12: not a new severe flare, rise of 1
        (13, 16, 1.0, 1.0, MILD),  # above 12 before, rise of 3
        (6, 8, 1.0, 1.0, NONE),
        (6, 4, 1.0, 1.0, NONE),
        (6, 6, 2.0, 2.5, NONE),  # PGA to exactly 2.5 is not above it; rise 0.5
        (6, 6, 2.0, 2.5 + 1e-9, SEVERE),
        (6, 6, 2.6, 2.75, NONE),  # above 2.5 before
        (6, 6, 0.5, 1.5, MILD),  # PGA rise of exactly 1.0
        (6, 6, 0.5, 1.5 - 1e-9, NONE),
        (6, 6, 1.75, 2.75, SEVERE),  # both: severe wins
    ],
)
def test_sfi_flare_at_thresholds(s_prev, s_now, p_prev, p_now, level):
    assert ins.sfi_flare(s_now, s_prev, p_now, p_prev) == level


def test_sfi_severe_by_prednisone_is_above_half_a_mg_per_kg():
    assert not ins.sfi_severe_by_prednisone(35.0, 70.0)
    assert ins.sfi_severe_by_prednisone(35.5, 70.0)


def test_high_steroid_is_above_7_5_mg():
    np.testing.assert_array_equal(ins.high_steroid([0.0, 7.5, 7.51, 20.0]), [0, 0, 1, 1])
    assert not ins.is_high_steroid(7.5) and ins.is_high_steroid(8.0)


# --------------------------------------------------------------------------- protocol


@pytest.mark.parametrize(
    "week, dose, breaks",
    [
        (24, 30.0, False),  # at the limit week itself increases are still allowed
        (28, 10.0, False),  # exactly at baseline + allowance
        (28, 10.5, True),
        (52, 9.0, False),
    ],
)
def test_week_24_steroid_rule(week, dose, breaks):
    # baseline 10 mg, allowance 0 mg, limit week 24 (domain.md §3)
    assert protocol.breaks_steroid_rule(week, dose, 10.0, 24.0, 0.0) == breaks
    # with an allowance of 5 mg the same doses are tested against 15 mg
    assert protocol.breaks_steroid_rule(week, dose + 5.0, 10.0, 24.0, 5.0) == breaks


def test_after_the_steroid_limit_week():
    assert not protocol.after_steroid_limit(24, 24.0)
    assert protocol.after_steroid_limit(28, 24.0)


@pytest.mark.parametrize(
    "week, on_is, breaks",
    [
        (4, False, True),  # a new immunosuppressant: a failure at any time
        (16, True, False),  # an increase up to week 16 is allowed
        (20, True, True),  # an increase after week 16 is not
    ],
)
def test_week_16_immunosuppressant_rule(week, on_is, breaks):
    assert protocol.breaks_immunosuppressant_rule(week, on_is, 16.0) == breaks


def test_on_study_dropout_and_failure_at_visit_v_and_v_plus_1():
    n_visits = 14
    dropout = np.array([5, 6, n_visits, n_visits])
    failure = np.array([n_visits, n_visits, 5, 6])
    np.testing.assert_array_equal(protocol.on_study(dropout, failure, 5), [0, 1, 0, 1])
    np.testing.assert_array_equal(protocol.on_study(dropout, failure, 4), [1, 1, 1, 1])


def test_visit_arithmetic():
    assert protocol.visit_of_week(52, 4) == 13
    assert protocol.visit_of_week(76, 4) == 19
    assert protocol.n_visits(52, 4) == 14
    p = protocol.dropout_per_visit(0.2, 4)
    assert (1 - p) ** 13 == pytest.approx(0.8)


def test_proteinuria_rule_at_its_edges():
    """SELENA's "new onset" proteinuria rule and the SLEDAI-2K score (docs/model.md §3)."""
    new, old = ins.PROTEINURIA_NEW_ONSET, ins.PROTEINURIA_WHENEVER_PRESENT
    unscored = ins.FLAG_PROTEINURIA_UNSCORED

    def states(on):
        s = np.zeros(ins.N_DESCRIPTORS, dtype=np.bool_)
        s[ins.PROTEINURIA] = on
        return s

    # (now, before, visit, rule) -> left out of the SELENA-SLEDAI
    cases = [
        (True, True, 1, new, True),  # persists: neither new nor (as far as seen) increased
        (True, False, 1, new, False),  # new onset: scored
        (False, True, 1, new, False),  # resolved: nothing to score
        (True, True, 0, new, False),  # baseline: scored as screened
        (True, True, 5, old, False),  # SLEDAI-2K: scored whenever present
    ]
    for now, before, visit, rule, want in cases:
        assert ins.proteinuria_unscored(states(now), states(before), visit, rule,
                                        ins.PROTEINURIA) == want
    assert ins.PROTEINURIA_WEIGHT == 4
    assert ins.sledai_2k_score(6, unscored | ins.FLAG_MAJOR) == 10
    assert ins.sledai_2k_score(6, ins.FLAG_MAJOR | ins.FLAG_NEW) == 6
