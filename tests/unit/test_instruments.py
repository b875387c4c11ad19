"""Scoring units: SLEDAI weights and lattice, the SRI BILAG rule, PGA worsening."""

import numpy as np
import pytest

from trialsim import instruments as ins

# domain.md §2.1, by descriptor
PUBLISHED_WEIGHTS = {
    "vasculitis": 8,
    "arthritis": 4,
    "myositis": 4,
    "urinary_casts": 4,
    "hematuria": 4,
    "proteinuria": 4,
    "pyuria": 4,
    "rash": 2,
    "alopecia": 2,
    "mucosal_ulcers": 2,
    "pleurisy": 2,
    "pericarditis": 2,
    "low_complement": 2,
    "increased_dna_binding": 2,
    "fever": 1,
    "thrombocytopenia": 1,
    "leukopenia": 1,
}


def test_sledai_weights_are_the_published_ones():
    weights = dict(zip(ins.DESCRIPTOR_NAMES, ins.SLEDAI_WEIGHTS.tolist(), strict=True))
    assert weights == PUBLISHED_WEIGHTS


def test_sledai_score_sums_weights_and_kernel_matches_numpy():
    rng = np.random.default_rng(3)
    active = rng.random((500, ins.N_DESCRIPTORS)) < 0.3
    vec = ins.sledai_scores(active)
    by_hand = np.array(
        [
            sum(PUBLISHED_WEIGHTS[n] for n, a in zip(ins.DESCRIPTOR_NAMES, row, strict=True) if a)
            for row in active
        ]
    )
    np.testing.assert_array_equal(vec, by_hand)
    np.testing.assert_array_equal([ins.sledai_score(r, ins.SLEDAI_WEIGHTS) for r in active], vec)


def test_arthritis_plus_rash_is_six():
    a = np.zeros(ins.N_DESCRIPTORS, bool)
    a[ins.DESCRIPTOR_NAMES.index("arthritis")] = True
    a[ins.DESCRIPTOR_NAMES.index("rash")] = True
    assert ins.sledai_scores(a) == 6


E, D, C, B, A = ins.GRADE_E, ins.GRADE_D, ins.GRADE_C, ins.GRADE_B, ins.GRADE_A


@pytest.mark.parametrize(
    "base, visit, ok",
    [
        ([E, E, E], [E, E, E], True),
        ([E, E, E], [A, E, E], False),  # new A
        ([A, E, E], [A, E, E], True),  # A at baseline is not new
        ([B, E, E], [A, E, E], False),  # B -> A is a new A
        ([E, E, E], [B, E, E], True),  # one new B allowed
        ([E, C, E], [B, B, E], False),  # two new B
        ([B, B, E], [B, B, E], True),  # persisting B are not new
        ([D, C, E], [B, C, C], True),  # D -> B one new B; C not new
        ([B, E, E], [B, B, E], True),
    ],
)
def test_no_new_bilag_rule(base, visit, ok):
    assert ins.no_new_bilag(np.array([base], np.int8), np.array([visit], np.int8))[0] == ok


@pytest.mark.parametrize(
    "base, visit, ok",
    [
        (1.0, 1.0, True),
        (1.0, 1.29, True),
        (1.0, 1.3, False),
        (1.4, 1.7, False),
        (2.0, 0.5, True),
        (0.0, 0.31, False),
    ],
)
def test_pga_worsening_threshold_is_0_3(base, visit, ok):
    assert ins.no_pga_worsening(np.array([base]), np.array([visit]))[0] == ok


def test_sledai_reduction_k():
    assert ins.sledai_reduction(np.array([10]), np.array([6]), 4)[0]
    assert not ins.sledai_reduction(np.array([10]), np.array([7]), 4)[0]
    assert not ins.sledai_reduction(np.array([10]), np.array([6]), 5)[0]


def test_bilag_grade_kernel():
    assert ins.bilag_grade(3.0, True, True, 2.0, 1.0) == A
    assert ins.bilag_grade(1.5, True, False, 2.0, 1.0) == B
    assert ins.bilag_grade(0.5, True, False, 2.0, 1.0) == C
    assert ins.bilag_grade(9.0, False, True, 2.0, 1.0) == D
    assert ins.bilag_grade(9.0, False, False, 2.0, 1.0) == E
