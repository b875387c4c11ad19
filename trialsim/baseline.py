"""The simulated baseline table (a scenario's own "Table 4"), per arm and overall."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .instruments import DESCRIPTOR_NAMES, SLEDAI_DOMAINS, bilag_a_or_2b, high_steroid
from .population import Cohort
from .scenario import RACES, REGIONS

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


def _characteristics() -> list[tuple[str, str, Callable[[Cohort], np.ndarray]]]:
    spec: list[tuple[str, str, Callable[[Cohort], np.ndarray]]] = [
        ("female", "percent", lambda c: c.female),
        ("age_years", "mean", lambda c: c.age),
        ("weight_kg", "mean", lambda c: c.weight_kg),
        ("disease_duration_years", "mean", lambda c: c.disease_duration),
    ]
    spec += [(f"race_{r}", "percent", lambda c, i=i: c.race == i) for i, r in enumerate(RACES)]
    spec += [
        (f"region_{r}", "percent", lambda c, i=i: c.region == i) for i, r in enumerate(REGIONS)
    ]
    spec += [
        ("sledai", "mean", lambda c: c.sledai),
        ("sledai_ge_10", "percent", lambda c: c.sledai >= 10),
        ("bilag_1a_or_2b", "percent", lambda c: bilag_a_or_2b(c.bilag)),
        ("pga", "mean", lambda c: c.pga),
        ("ana_positive", "percent", lambda c: c.ana),
        ("anti_dsdna_positive", "percent", lambda c: c.anti_dsdna),
        ("low_c3", "percent", lambda c: c.low_c3),
        ("low_c4", "percent", lambda c: c.low_c4),
        ("anti_dsdna_and_low_c3_or_c4", "percent", lambda c: c.serologically_active),
        ("prednisone_use", "percent", lambda c: c.prednisone > 0),
        ("prednisone_mg", "mean", lambda c: c.prednisone),
        ("prednisone_gt_7_5mg", "percent", lambda c: high_steroid(c.prednisone)),
        ("immunosuppressant", "percent", lambda c: c.immunosuppressant),
        ("antimalarial", "percent", lambda c: c.antimalarial),
        ("proteinuria_g", "mean", lambda c: c.proteinuria_g),
        ("proteinuria_ge_2g", "percent", lambda c: c.proteinuria_g >= 2.0),
    ]
    for dom in ORGAN_DOMAINS:
        idx = [j for j, d in enumerate(SLEDAI_DOMAINS) if d == dom]
        spec.append((f"organ_{dom}", "percent", lambda c, idx=idx: c.active[:, idx].any(axis=1)))
    for j, name in enumerate(DESCRIPTOR_NAMES):
        spec.append((f"descriptor_{name}", "percent", lambda c, j=j: c.active[:, j]))
    return spec


CHARACTERISTICS = _characteristics()
#: names and kinds ("percent": a 0/1 column shown as a percentage; "mean") of the table rows
BASELINE_NAMES = tuple(s[0] for s in CHARACTERISTICS)
BASELINE_KINDS = tuple(s[1] for s in CHARACTERISTICS)


def baseline_columns(cohort: Cohort) -> np.ndarray:
    """Per-patient baseline characteristics, shape (n_patients, len(BASELINE_NAMES))."""
    return np.column_stack(
        [np.asarray(fn(cohort), dtype=np.float64) for _, _, fn in CHARACTERISTICS]
    )


def arm_moments(values: np.ndarray, arm: np.ndarray, n_arms: int) -> np.ndarray:
    """Count, sum and sum of squares of every characteristic per arm.

    Returns
    -------
    ndarray, shape (n_arms, 3, n_characteristics)
    """
    out = np.zeros((n_arms, 3, values.shape[1]))
    for a in range(n_arms):
        x = values[arm == a]
        out[a, 0] = x.shape[0]
        out[a, 1] = x.sum(axis=0)
        out[a, 2] = (x * x).sum(axis=0)
    return out
