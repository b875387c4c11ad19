"""Arms, stratification factors and stratified permuted-block randomization."""

from __future__ import annotations

import numpy as np

from .population import RACE_CODE, Cohort
from .scenario import Design

#: race stratum of the BLISS protocols: African or Indigenous-American descent vs other (§3)
RACE_STRATUM = (RACE_CODE["black"], RACE_CODE["indigenous_american"])


def strata_indicators(cohort: Cohort, design: Design) -> tuple[np.ndarray, list[str]]:
    """0/1 stratification factors of each patient, in the order of ``design.stratify_by``.

    Returns
    -------
    x : ndarray of float64, shape (n_patients, n_factors)
    names : list of str
    """
    cols, names = [], []
    for factor in design.stratify_by:
        if factor == "sledai":
            cols.append(cohort.sledai >= 10)
            names.append("sledai_ge_10")
        elif factor == "proteinuria":
            cols.append(cohort.proteinuria_g >= 2.0)
            names.append("proteinuria_ge_2g")
        else:
            cols.append(np.isin(cohort.race, RACE_STRATUM))
            names.append("black_or_indigenous_american")
    x = np.column_stack(cols).astype(np.float64) if cols else np.zeros((len(cohort), 0))
    return x, names


def stratum_index(x: np.ndarray) -> np.ndarray:
    """One integer stratum per patient from the 0/1 factors (binary code)."""
    return (x.astype(np.int64) * (1 << np.arange(x.shape[1]))).sum(axis=1)


def randomize(
    stratum: np.ndarray, allocation: np.ndarray, block_multiplier: int, rng: np.random.Generator
) -> np.ndarray:
    """Stratified permuted-block randomization.

    Within each stratum, patients (in enrolment order) take the next place of a sequence of
    blocks; each block holds ``block_multiplier * allocation[k]`` places for arm ``k`` in a
    random order. Each stratum draws its blocks from its own child stream of ``rng``, so a
    patient's arm does not depend on how many patients follow (common random numbers across
    sample sizes).

    Parameters
    ----------
    stratum : ndarray of int64, shape (n,)
        Stratum code in ``0 … 2**k - 1`` for k binary factors.
    allocation : ndarray of int64, shape (n_arms,)
        Allocation weights (1:1:1 → [1, 1, 1]).
    block_multiplier : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (n,)
        Arm code of each patient.
    """
    template = np.repeat(np.arange(allocation.size), allocation * block_multiplier)
    arm = np.empty(stratum.size, dtype=np.int64)
    n_strata = int(stratum.max()) + 1 if stratum.size else 0
    children = rng.spawn(max(n_strata, 1))
    for s in range(n_strata):
        idx = np.flatnonzero(stratum == s)
        if idx.size == 0:
            continue
        n_blocks = -(-idx.size // template.size)
        blocks = [children[s].permutation(template) for _ in range(n_blocks)]
        arm[idx] = np.concatenate(blocks)[: idx.size]
    return arm
