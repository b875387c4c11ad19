"""SELENA-SLEDAI, BILAG and PGA: the instruments scored from the simulated disease state.

The disease state is a set of SELENA-SLEDAI descriptors (domain.md §2.1), each active or not
at a visit. The descriptors modelled are those that occur in BLISS-like populations; the CNS
descriptors are absent because the protocols excluded active CNS lupus (domain.md §3).
"""

from __future__ import annotations

import numpy as np

from trialsim.config.vocab import (
    BILAG_SYSTEMS,
    DESCRIPTOR_NAMES,
    DESCRIPTORS,
    SLEDAI_PROTEINURIA_RULES,
)
from trialsim.core.jit import jit

N_DESCRIPTORS = len(DESCRIPTORS)
SLEDAI_WEIGHTS = np.array([d[1] for d in DESCRIPTORS], dtype=np.int64)
SLEDAI_DOMAINS = tuple(d[2] for d in DESCRIPTORS)
BILAG_OF_DESCRIPTOR = np.array([d[3] for d in DESCRIPTORS], dtype=np.int64)
#: index of the two serological descriptors, which the physician does not rate in the PGA
LOW_COMPLEMENT = DESCRIPTOR_NAMES.index("low_complement")
DNA_BINDING = DESCRIPTOR_NAMES.index("increased_dna_binding")
PROTEINURIA = DESCRIPTOR_NAMES.index("proteinuria")
CLINICAL = np.array([d[2] != "immunological" for d in DESCRIPTORS])
#: weights of the clinical descriptors only (0 for the serological ones): the PGA's SLEDAI
CLINICAL_WEIGHTS = SLEDAI_WEIGHTS * CLINICAL
#: SELENA-SLEDAI domains that count as major organ activity for LLDAS (Franklyn et al., Ann
#: Rheum Dis 2016;75:1615: renal, CNS, cardiopulmonary, vasculitis, fever; haemolytic anaemia
#: and gastrointestinal activity are not modelled); serositis is the cardiopulmonary domain
LLDAS_MAJOR_DOMAINS = ("renal", "vascular", "serosal", "constitutional")
MAJOR = np.array([d[2] in LLDAS_MAJOR_DOMAINS for d in DESCRIPTORS])
#: bits of a visit's ``activity_flags`` (``Course``): major organ activity (``MAJOR``); a
#: clinical descriptor active that was not at the previous visit (LLDAS "no new features of
#: lupus disease activity compared with the previous assessment"); and proteinuria present
#: but left out of the visit's SELENA-SLEDAI because it is neither new nor increased
#: (``PROTEINURIA_NEW_ONSET`` scoring only; ``sledai_2k_score`` adds it back)
FLAG_MAJOR, FLAG_NEW, FLAG_PROTEINURIA_UNSCORED = 1, 2, 4
#: ``disease.sledai_proteinuria`` codes: proteinuria > 0.5 g/24h scored at every visit where
#: present (SLEDAI-2K; Gladman et al., J Rheumatol 2002;29:288), or only when new since the
#: previous visit (SELENA-SLEDAI "new onset or recent increase of > 0.5 g/24h"; Petri et
#: al., N Engl J Med 2005;353:2550)
PROTEINURIA_WHENEVER_PRESENT, PROTEINURIA_NEW_ONSET = 0, 1
PROTEINURIA_RULES = dict(zip(SLEDAI_PROTEINURIA_RULES,
                             (PROTEINURIA_WHENEVER_PRESENT, PROTEINURIA_NEW_ONSET), strict=True))
#: SELENA-SLEDAI weight of the proteinuria descriptor (domain.md §2.1)
PROTEINURIA_WEIGHT = int(SLEDAI_WEIGHTS[PROTEINURIA])

N_BILAG = len(BILAG_SYSTEMS)
#: grade codes; the order makes "worse" larger
GRADE_E, GRADE_D, GRADE_C, GRADE_B, GRADE_A = 0, 1, 2, 3, 4
GRADE_LETTERS = "EDCBA"
#: BILAG system severity per SELENA-SLEDAI weight point of its active descriptors: a system
#: whose active descriptors weigh 4 (one arthritis) has severity 1 before noise (docs/model.md §1)
BILAG_SEVERITY_PER_WEIGHT = 0.25

#: SRI PGA component: worsening is an increase of at least this much (domain.md §2.4, §2.5)
SRI_PGA_WORSENING = 0.3
#: PGA visual analogue scale (domain.md §2.4)
PGA_MIN, PGA_MAX = 0.0, 3.0

#: SELENA-SLEDAI Flare Index levels (domain.md §2.2)
FLARE_NONE, FLARE_MILD, FLARE_SEVERE = 0, 1, 2
#: severe flare: SELENA-SLEDAI rises to more than this
SFI_SEVERE_SLEDAI = 12
#: severe flare: PGA rises to more than this
SFI_SEVERE_PGA = 2.5
#: mild/moderate flare: SELENA-SLEDAI rise of at least this many points
SFI_MILD_SLEDAI_RISE = 3
#: mild/moderate flare: PGA rise of at least this much
SFI_MILD_PGA_RISE = 1.0
#: severe flare by the medication criterion: prednisone above this many mg per kg per day
SFI_SEVERE_PREDNISONE_MG_PER_KG = 0.5

#: "high steroid dose": prednisone above this many mg/day (seed 000 Table 4, domain.md §2.5)
HIGH_STEROID_MG = 7.5


@jit
def activity_flags(active, previous, clinical, major):
    """``FLAG_MAJOR`` and ``FLAG_NEW`` of one visit's descriptor states (``previous``: the
    states at the visit before; None-like all-False at baseline)."""
    flags = 0
    new = False
    for j in range(active.shape[0]):
        if active[j]:
            if major[j]:
                flags |= FLAG_MAJOR
            if clinical[j] and not previous[j]:
                new = True
    if new:
        flags |= FLAG_NEW
    return flags


@jit
def proteinuria_unscored(active, previous, visit, rule, j):
    """Whether a visit's proteinuria is present but not scored in its SELENA-SLEDAI.

    Under ``PROTEINURIA_NEW_ONSET`` proteinuria (> 0.5 g/24h, the descriptor active) at a
    follow-up visit (``visit`` ≥ 1) counts only when it was absent at the previous visit: the
    course does not carry the amount, so a "recent increase" of proteinuria already present
    is not seen (docs/model.md §3). At baseline the screening score counts it (the trials
    scored the proteinuria that qualified patients). Never under
    ``PROTEINURIA_WHENEVER_PRESENT``. ``j`` is the proteinuria descriptor (``PROTEINURIA``).
    """
    return rule == PROTEINURIA_NEW_ONSET and visit >= 1 and active[j] and previous[j]


@jit
def sledai_2k_score(sledai, aflags):
    """The SLEDAI-2K score of a visit from its SELENA-SLEDAI and ``activity_flags``: the
    same, plus the proteinuria the SELENA-SLEDAI left out (``FLAG_PROTEINURIA_UNSCORED``)."""
    if aflags & FLAG_PROTEINURIA_UNSCORED:
        return sledai + PROTEINURIA_WEIGHT
    return sledai


@jit
def sledai_score(active, weights):
    """SELENA-SLEDAI total of one patient-visit from its descriptor states (domain.md §2.1).

    Parameters
    ----------
    active : ndarray of bool or uint8, shape (n_descriptors,)
        Descriptor present at the visit.
    weights : ndarray of int64, shape (n_descriptors,)
        SELENA-SLEDAI weights (``SLEDAI_WEIGHTS``; ``CLINICAL_WEIGHTS`` for the clinical score
        that the physician rates in the PGA).

    Returns
    -------
    int
    """
    s = 0
    for j in range(weights.shape[0]):
        if active[j]:
            s += weights[j]
    return s



@jit
def clinical_sledai_score(active, weights, clinical):
    """SELENA-SLEDAI of the clinical descriptors only (the physician's PGA does not rate the
    serological ones, domain.md §2.4): ``sledai_score(active, weights * clinical)``."""
    s = 0
    for j in range(weights.shape[0]):
        if active[j] and clinical[j]:
            s += weights[j]
    return s

@jit
def sledai_scores(active, weights):
    """SELENA-SLEDAI totals of many patient-visits: ``sledai_score`` row by row.

    Parameters
    ----------
    active : ndarray of bool, shape (n, n_descriptors)
    weights : ndarray of int64, shape (n_descriptors,)

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    out = np.empty(active.shape[0], dtype=np.int64)
    for i in range(active.shape[0]):
        out[i] = sledai_score(active[i], weights)
    return out


@jit
def pga_score(intercept, per_sledai_point, clinical_sledai, rater, noise):
    """Physician's Global Assessment of one visit, on its 0–3 scale (docs/model.md §1).

    ``clip(intercept + per_sledai_point * clinical_sledai + rater + noise, 0, 3)``: the rater
    effect is the patient's, the noise the visit's.
    """
    x = intercept + per_sledai_point * clinical_sledai + rater + noise
    return min(max(x, PGA_MIN), PGA_MAX)


@jit
def bilag_system_severity(active, weights, bilag_of, severity, involved):
    """Each BILAG system's severity before noise, and whether any descriptor of it is active.

    Severity = ``BILAG_SEVERITY_PER_WEIGHT`` x the SELENA-SLEDAI weights of the system's
    active descriptors (docs/model.md §1). Writes into ``severity`` and ``involved``.

    Parameters
    ----------
    active : ndarray of bool, shape (n_descriptors,)
    weights : ndarray of int64, shape (n_descriptors,)
    bilag_of : ndarray of int64, shape (n_descriptors,)
        System of each descriptor, -1 for none (the serological descriptors).
    severity : ndarray of float64, shape (n_systems,)
    involved : ndarray of bool, shape (n_systems,)
    """
    for k in range(severity.shape[0]):
        severity[k] = 0.0
        involved[k] = False
    for j in range(active.shape[0]):
        k = bilag_of[j]
        if k >= 0 and active[j]:
            involved[k] = True
            severity[k] += weights[j] * BILAG_SEVERITY_PER_WEIGHT



@jit
def bilag_grade(severity, active, ever_active, threshold_a, threshold_b):
    """Classic BILAG grade of one system at one visit (domain.md §2.3).

    Parameters
    ----------
    severity : float
        Latent severity of the system's activity (weighted active descriptors plus noise).
    active : bool
        Whether any descriptor of the system is active.
    ever_active : bool
        Whether the system was ever involved before (grade D rather than E when inactive).
    threshold_a, threshold_b : float
        Severity above which the grade is A (severe) or B (moderate); at or below
        ``threshold_b``: C (mild).

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


@jit
def bilag_grades(severity, involved, ever_active, threshold_a, threshold_b):
    """``bilag_grade`` of many patient-systems (same shapes in, int8 grades out)."""
    flat_s = severity.ravel()
    flat_i = involved.ravel()
    flat_e = ever_active.ravel()
    out = np.empty(flat_s.size, dtype=np.int8)
    for k in range(flat_s.size):
        out[k] = bilag_grade(flat_s[k], flat_i[k], flat_e[k], threshold_a, threshold_b)
    return out.reshape(severity.shape)


@jit
def sfi_flare(sledai, previous_sledai, pga, previous_pga):
    """SELENA-SLEDAI Flare Index level from the instruments, against the previous visit.

    Severe: SELENA-SLEDAI rises to more than 12, or PGA to more than 2.5 (from at or below);
    otherwise mild/moderate: a SELENA-SLEDAI rise of at least 3 or a PGA rise of at least 1.0
    (domain.md §2.2). The medication criteria are applied by the course, which knows the
    treatment decisions (``sfi_severe_by_prednisone``).

    Returns
    -------
    int
        ``FLARE_NONE``, ``FLARE_MILD`` or ``FLARE_SEVERE``.
    """
    if (sledai > SFI_SEVERE_SLEDAI and previous_sledai <= SFI_SEVERE_SLEDAI) or (
        pga > SFI_SEVERE_PGA and previous_pga <= SFI_SEVERE_PGA
    ):
        return FLARE_SEVERE
    if sledai - previous_sledai >= SFI_MILD_SLEDAI_RISE or pga - previous_pga >= SFI_MILD_PGA_RISE:
        return FLARE_MILD
    return FLARE_NONE


@jit
def sfi_severe_by_prednisone(dose_mg, weight_kg):
    """SFI severe flare by its medication criterion: prednisone > 0.5 mg/kg/day (§2.2)."""
    return dose_mg > SFI_SEVERE_PREDNISONE_MG_PER_KG * weight_kg


#: a PGA rise is compared with SRI_PGA_WORSENING less this, to absorb the rounding of a
#: difference of decimals: 1.3 - 1.0 is 0.30000000000000004, a rise of exactly 0.3 worsens
PGA_TOLERANCE = 1e-9


@jit
def new_bilag(baseline, visit):
    """New BILAG A and new B systems of one patient at a visit compared with baseline.

    A system is a new A when graded A at the visit and not A at baseline; a new B when graded
    B at the visit and C, D or E at baseline (SRI definition, domain.md §2.5).

    Parameters
    ----------
    baseline, visit : ndarray of int8, shape (n_systems,)

    Returns
    -------
    new_a, new_b : int
    """
    new_a = 0
    new_b = 0
    for k in range(baseline.shape[0]):
        if visit[k] == GRADE_A and baseline[k] != GRADE_A:
            new_a += 1
        if visit[k] == GRADE_B and baseline[k] < GRADE_B:
            new_b += 1
    return new_a, new_b


@jit
def bilag_not_worse(baseline, visit):
    """SRI BILAG component of one patient: no new A and at most one new B system."""
    new_a, new_b = new_bilag(baseline, visit)
    return new_a == 0 and new_b <= 1


@jit
def pga_not_worse(baseline, visit):
    """SRI PGA component of one patient: PGA increase < 0.3 from baseline (domain.md §2.4)."""
    return visit - baseline < SRI_PGA_WORSENING - PGA_TOLERANCE


@jit
def sledai_reduced(baseline, visit, k):
    """SRI SLEDAI component of one patient: reduction of at least ``k`` points."""
    return baseline - visit >= k


def no_new_bilag(baseline: np.ndarray, visit: np.ndarray) -> np.ndarray:
    """``bilag_not_worse`` of each patient."""
    b, v = np.asarray(baseline), np.asarray(visit)
    return np.array([bilag_not_worse(b[i], v[i]) for i in range(b.shape[0])], dtype=bool)


def no_pga_worsening(baseline: np.ndarray, visit: np.ndarray) -> np.ndarray:
    """``pga_not_worse`` of each patient."""
    return np.vectorize(pga_not_worse, otypes=[bool])(baseline, visit)


def sledai_reduction(baseline: np.ndarray, visit: np.ndarray, k: int) -> np.ndarray:
    """``sledai_reduced`` of each patient."""
    return np.vectorize(sledai_reduced, otypes=[bool])(baseline, visit, k)


@jit
def is_bilag_a_or_2b(grades):
    """Baseline criterion "BILAG ≥1 A or ≥2 B" of one patient (domain.md §3)."""
    n_a = 0
    n_b = 0
    for k in range(grades.shape[0]):
        if grades[k] == GRADE_A:
            n_a += 1
        elif grades[k] == GRADE_B:
            n_b += 1
    return n_a >= 1 or n_b >= 2


@jit
def is_high_steroid(dose_mg):
    """On more than 7.5 mg/day prednisone (the subgroup of seed 000 Table 4)."""
    return dose_mg > HIGH_STEROID_MG


@jit
def _high_steroid_flat(dose_mg):
    out = np.empty(dose_mg.size, dtype=np.bool_)
    for i in range(dose_mg.size):
        out[i] = is_high_steroid(dose_mg[i])
    return out


def high_steroid(prednisone_mg: np.ndarray) -> np.ndarray:
    """``is_high_steroid`` of each dose (any shape)."""
    dose = np.asarray(prednisone_mg, dtype=np.float64)
    return _high_steroid_flat(dose.ravel()).reshape(dose.shape)
