"""SELENA-SLEDAI, BILAG and PGA: the instruments scored from the simulated disease state.

The disease state is a set of SELENA-SLEDAI descriptors (domain.md §2.1), each active or not
at a visit. The descriptors modelled are those that occur in BLISS-like populations; the CNS
descriptors are absent because the protocols excluded active CNS lupus (domain.md §3).
"""

from __future__ import annotations

import numpy as np

from .jit import jit

#: (name, SELENA-SLEDAI weight, SLEDAI domain, classic BILAG system index or -1), domain.md §2.1
DESCRIPTORS: tuple[tuple[str, int, str, int], ...] = (
    ("vasculitis", 8, "vascular", 5),
    ("arthritis", 4, "musculoskeletal", 3),
    ("myositis", 4, "musculoskeletal", 3),
    ("urinary_casts", 4, "renal", 6),
    ("hematuria", 4, "renal", 6),
    ("proteinuria", 4, "renal", 6),
    ("pyuria", 4, "renal", 6),
    ("rash", 2, "mucocutaneous", 1),
    ("alopecia", 2, "mucocutaneous", 1),
    ("mucosal_ulcers", 2, "mucocutaneous", 1),
    ("pleurisy", 2, "serosal", 4),
    ("pericarditis", 2, "serosal", 4),
    ("low_complement", 2, "immunological", -1),
    ("increased_dna_binding", 2, "immunological", -1),
    ("fever", 1, "constitutional", 0),
    ("thrombocytopenia", 1, "hematological", 7),
    ("leukopenia", 1, "hematological", 7),
)
DESCRIPTOR_NAMES = tuple(d[0] for d in DESCRIPTORS)
N_DESCRIPTORS = len(DESCRIPTORS)
SLEDAI_WEIGHTS = np.array([d[1] for d in DESCRIPTORS], dtype=np.int64)
SLEDAI_DOMAINS = tuple(d[2] for d in DESCRIPTORS)
BILAG_OF_DESCRIPTOR = np.array([d[3] for d in DESCRIPTORS], dtype=np.int64)
#: index of the two serological descriptors, which the physician does not rate in the PGA
LOW_COMPLEMENT = DESCRIPTOR_NAMES.index("low_complement")
DNA_BINDING = DESCRIPTOR_NAMES.index("increased_dna_binding")
PROTEINURIA = DESCRIPTOR_NAMES.index("proteinuria")
CLINICAL = np.array([d[2] != "immunological" for d in DESCRIPTORS])

#: classic BILAG systems (domain.md §2.3); the neurological system is never active here
BILAG_SYSTEMS = (
    "general",
    "mucocutaneous",
    "neurological",
    "musculoskeletal",
    "cardiorespiratory",
    "vasculitis",
    "renal",
    "hematological",
)
N_BILAG = len(BILAG_SYSTEMS)
#: grade codes; the order makes "worse" larger
GRADE_E, GRADE_D, GRADE_C, GRADE_B, GRADE_A = 0, 1, 2, 3, 4
GRADE_LETTERS = "EDCBA"


@jit
def sledai_score(active, weights):
    """SELENA-SLEDAI total from descriptor states.

    Parameters
    ----------
    active : ndarray of bool or uint8, shape (..., n_descriptors)
        Descriptor present at the visit.
    weights : ndarray of int64, shape (n_descriptors,)
        SELENA-SLEDAI weights.

    Returns
    -------
    int
        The score of one patient-visit when ``active`` is 1-d.
    """
    s = 0
    for j in range(weights.shape[0]):
        if active[j]:
            s += weights[j]
    return s


def sledai_scores(active: np.ndarray) -> np.ndarray:
    """SELENA-SLEDAI totals of many patient-visits (vectorized numpy form, for tests and tables)."""
    return (np.asarray(active, dtype=np.int64) * SLEDAI_WEIGHTS).sum(axis=-1)


@jit
def bilag_grade(severity, active, ever_active, threshold_a, threshold_b):
    """Classic BILAG grade of one system at one visit.

    Parameters
    ----------
    severity : float
        Latent severity of the system's activity (weighted active descriptors plus noise).
    active : bool
        Whether any descriptor of the system is active.
    ever_active : bool
        Whether the system was ever involved before (grade D rather than E when inactive).
    threshold_a, threshold_b : float
        Severity above which the grade is A (severe) or B (moderate); below: C (mild).

    Returns
    -------
    int
        One of ``GRADE_E`` … ``GRADE_A``.
    """
    if active:
        if severity > threshold_a:
            return GRADE_A
        if severity > threshold_b:
            return GRADE_B
        return GRADE_C
    if ever_active:
        return GRADE_D
    return GRADE_E


def new_bilag_counts(baseline: np.ndarray, visit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New BILAG A and new B systems at a visit compared with baseline (SRI definition).

    A system is a new A when graded A at the visit and not A at baseline; a new B when graded
    B at the visit and C, D or E at baseline (domain.md §2.5).

    Parameters
    ----------
    baseline, visit : ndarray of int8, shape (n_patients, n_systems)

    Returns
    -------
    new_a, new_b : ndarray of int64, shape (n_patients,)
    """
    new_a = ((visit == GRADE_A) & (baseline != GRADE_A)).sum(axis=1)
    new_b = ((visit == GRADE_B) & (baseline < GRADE_B)).sum(axis=1)
    return new_a, new_b


def no_new_bilag(baseline: np.ndarray, visit: np.ndarray) -> np.ndarray:
    """SRI BILAG component: no new A and at most one new B system."""
    new_a, new_b = new_bilag_counts(baseline, visit)
    return (new_a == 0) & (new_b <= 1)


def no_pga_worsening(baseline: np.ndarray, visit: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """SRI PGA component: PGA increase < 0.3 from baseline (domain.md §2.4)."""
    return (np.asarray(visit) - np.asarray(baseline)) < 0.3 - tol


def sledai_reduction(baseline: np.ndarray, visit: np.ndarray, k: int) -> np.ndarray:
    """SRI SLEDAI component: reduction of at least ``k`` points from baseline."""
    return (np.asarray(baseline) - np.asarray(visit)) >= k


def bilag_a_or_2b(grades: np.ndarray) -> np.ndarray:
    """Baseline criterion "BILAG ≥1 A or ≥2 B" per patient (domain.md §3)."""
    return ((grades == GRADE_A).sum(axis=-1) >= 1) | ((grades == GRADE_B).sum(axis=-1) >= 2)
