"""The simulated baseline table (a scenario's own "Table 4"), per arm and overall.

``baseline_row`` computes one patient's characteristics in the order of ``BASELINE_NAMES``
(compiled: the trial kernel calls it); ``arm_moments`` reduces them to count, sum and sum of
squares per arm, which merge across replicates.
"""

from __future__ import annotations

import numpy as np

from trialsim.config.scenario import RACES, REGIONS
from trialsim.core.jit import jit
from trialsim.model.instruments import (
    DESCRIPTOR_NAMES,
    SLEDAI_DOMAINS,
    is_bilag_a_or_2b,
    is_high_steroid,
)
from trialsim.model.population import Cohort
from trialsim.model.randomization import PROTEINURIA_STRATUM_CUT_G, SLEDAI_STRATUM_CUT

#: SLEDAI organ domains reported as "active at baseline" (domain.md §3)
ORGAN_DOMAINS = (
    "mucocutaneous",
    "musculoskeletal",
    "immunological",
    "renal",
    "hematological",
    "vascular",
    "serosal",
    "constitutional",
)
#: organ domain (index into ORGAN_DOMAINS) of each descriptor, -1 for none
DOMAIN_OF_DESCRIPTOR = np.array(
    [ORGAN_DOMAINS.index(d) if d in ORGAN_DOMAINS else -1 for d in SLEDAI_DOMAINS],
    dtype=np.int64,
)

_HEAD = [
    ("female", "percent"), ("age_years", "mean"), ("weight_kg", "mean"),
    ("disease_duration_years", "mean"),
]
_MIDDLE = [
    ("sledai", "mean"), ("sledai_ge_10", "percent"), ("bilag_1a_or_2b", "percent"),
    ("pga", "mean"), ("ana_positive", "percent"), ("anti_dsdna_positive", "percent"),
    ("low_c3", "percent"), ("low_c4", "percent"), ("anti_dsdna_and_low_c3_or_c4", "percent"),
    ("prednisone_use", "percent"), ("prednisone_mg", "mean"),
    ("prednisone_gt_7_5mg", "percent"), ("immunosuppressant", "percent"),
    ("antimalarial", "percent"), ("proteinuria_g", "mean"), ("proteinuria_ge_2g", "percent"),
]
_SPEC = (
    _HEAD
    + [(f"race_{r}", "percent") for r in RACES]
    + [(f"region_{r}", "percent") for r in REGIONS]
    + _MIDDLE
    + [(f"organ_{d}", "percent") for d in ORGAN_DOMAINS]
    + [(f"descriptor_{n}", "percent") for n in DESCRIPTOR_NAMES]
)
#: names and kinds ("percent": a 0/1 column shown as a percentage; "mean") of the table rows
BASELINE_NAMES = tuple(s[0] for s in _SPEC)
BASELINE_KINDS = tuple(s[1] for s in _SPEC)
N_RACES, N_REGIONS, N_ORGANS = len(RACES), len(REGIONS), len(ORGAN_DOMAINS)


@jit
def baseline_row(i, race, region, female, age, weight_kg, disease_duration, sledai, bilag, pga,
                 ana, anti_dsdna, low_c3, low_c4, prednisone, immunosuppressant, antimalarial,
                 proteinuria_g, active, out):
    """Patient ``i``'s baseline characteristics into ``out`` (order of ``BASELINE_NAMES``)."""
    for k in range(out.shape[0]):
        out[k] = 0.0
    out[0] = 1.0 if female[i] else 0.0
    out[1] = age[i]
    out[2] = weight_kg[i]
    out[3] = disease_duration[i]
    c = 4
    out[c + race[i]] = 1.0
    c += N_RACES
    out[c + region[i]] = 1.0
    c += N_REGIONS
    out[c] = sledai[i]
    out[c + 1] = 1.0 if sledai[i] >= SLEDAI_STRATUM_CUT else 0.0
    out[c + 2] = 1.0 if is_bilag_a_or_2b(bilag[i]) else 0.0
    out[c + 3] = pga[i]
    out[c + 4] = 1.0 if ana[i] else 0.0
    out[c + 5] = 1.0 if anti_dsdna[i] else 0.0
    out[c + 6] = 1.0 if low_c3[i] else 0.0
    out[c + 7] = 1.0 if low_c4[i] else 0.0
    out[c + 8] = 1.0 if anti_dsdna[i] and (low_c3[i] or low_c4[i]) else 0.0
    out[c + 9] = 1.0 if prednisone[i] > 0.0 else 0.0
    out[c + 10] = prednisone[i]
    out[c + 11] = 1.0 if is_high_steroid(prednisone[i]) else 0.0
    out[c + 12] = 1.0 if immunosuppressant[i] else 0.0
    out[c + 13] = 1.0 if antimalarial[i] else 0.0
    out[c + 14] = proteinuria_g[i]
    out[c + 15] = 1.0 if proteinuria_g[i] >= PROTEINURIA_STRATUM_CUT_G else 0.0
    c += 16
    d = active.shape[1]
    for j in range(d):
        if active[i, j]:
            dom = DOMAIN_OF_DESCRIPTOR[j]
            if dom >= 0:
                out[c + dom] = 1.0
            out[c + N_ORGANS + j] = 1.0


def baseline_columns(cohort: Cohort) -> np.ndarray:
    """Per-patient baseline characteristics, shape (n_patients, len(BASELINE_NAMES))."""
    c = cohort
    n = c.race.shape[0]
    out = np.zeros((n, len(BASELINE_NAMES)))
    for i in range(n):
        baseline_row(i, c.race, c.region, c.female, c.age, c.weight_kg, c.disease_duration,
                     c.sledai, c.bilag, c.pga, c.ana, c.anti_dsdna, c.low_c3, c.low_c4,
                     c.prednisone, c.immunosuppressant, c.antimalarial, c.proteinuria_g,
                     c.active, out[i])
    return out


@jit
def add_moments(out, a, row):
    """Add one patient's characteristics to arm ``a``'s count, sum and sum of squares."""
    for k in range(row.shape[0]):
        out[a, 0, k] += 1.0
        out[a, 1, k] += row[k]
        out[a, 2, k] += row[k] * row[k]


def arm_moments(values: np.ndarray, arm: np.ndarray, n_arms: int) -> np.ndarray:
    """Count, sum and sum of squares of every characteristic per arm.

    Returns
    -------
    ndarray, shape (n_arms, 3, n_characteristics)
    """
    out = np.zeros((n_arms, 3, values.shape[1]))
    for i in range(values.shape[0]):
        add_moments(out, arm[i], values[i])
    return out
