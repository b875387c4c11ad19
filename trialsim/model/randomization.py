"""Arms, stratification factors and stratified permuted-block randomization."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trialsim.config.expressions import compile_expression
from trialsim.config.scenario import Design
from trialsim.config.vocab import RACES, STRATIFIERS
from trialsim.core.jit import jit
from trialsim.core.rng import STAGE_RANDOMIZATION, counter_uniforms
from trialsim.model.covariates import FACTORS, cohort_covariates, eval_programs, pack_programs
from trialsim.model.population import RACE_CODE, Cohort

#: race stratum of the BLISS protocols: African or Indigenous-American descent vs other (§3)
RACE_STRATUM = (RACE_CODE["black"], RACE_CODE["indigenous_american"])


#: stratification cut-offs of the BLISS protocols (domain.md §3)
SLEDAI_STRATUM_CUT = 10  # SELENA-SLEDAI >= 10
PROTEINURIA_STRATUM_CUT_G = 2.0  # proteinuria >= 2 g/24h


def _indicators(factor: str) -> list[tuple[str, str]]:
    """A predefined subgroup factor as stratification indicators: one per level but the
    last (the reference)."""
    levels = list(FACTORS[factor].items())
    return [(f"{factor}_{level}", expr) for level, expr in levels[:-1]]


#: stratification factor -> its 0/1 indicator columns (name, condition in the subgroup
#: expression language). The BLISS protocols' three (domain.md §3): SELENA-SLEDAI >= 10,
#: proteinuria >= 2 g/24h, and race as African or Indigenous-American descent vs other; then
#: every other predefined subgroup factor (model/covariates.py), a factor of k levels as k - 1
#: indicators.
STRATIFICATION: dict[str, list[tuple[str, str]]] = {
    "sledai": [("sledai_ge_10", f"sledai >= {SLEDAI_STRATUM_CUT}")],
    "proteinuria": [("proteinuria_ge_2g", f"proteinuria >= {PROTEINURIA_STRATUM_CUT_G}")],
    "race": [("black_or_indigenous_american",
              " or ".join(f'race == "{RACES[c]}"' for c in RACE_STRATUM))],
    **{f: _indicators(f) for f in FACTORS if f not in ("race", "sledai")},
}
if tuple(STRATIFICATION) != STRATIFIERS:  # the schema validates against the vocabulary
    raise RuntimeError(f"vocab.STRATIFIERS {STRATIFIERS} != defined {tuple(STRATIFICATION)}")


class StrataProgram(NamedTuple):
    """The indicator columns of a design's stratification factors, compiled."""

    names: tuple[str, ...]
    ops: np.ndarray
    args: np.ndarray
    starts: np.ndarray


def strata_program(design: Design) -> StrataProgram:
    """The indicator columns of ``design.stratify_by``, in its order (``STRATIFICATION``)."""
    columns = [c for f in design.stratify_by for c in STRATIFICATION[f]]
    ops, args, starts = pack_programs([compile_expression(e) for _, e in columns])
    return StrataProgram(tuple(n for n, _ in columns), ops, args, starts)


@jit
def strata_matrix(ops, args, starts, cov):
    """0/1 stratification indicators of each patient, float64 (n, n_columns), from the
    compiled columns of ``strata_program`` and the ``covariate_matrix``."""
    member = eval_programs(ops, args, starts, cov)
    x = np.zeros((cov.shape[0], member.shape[0]))
    for f in range(member.shape[0]):
        for i in range(cov.shape[0]):
            if member[f, i]:
                x[i, f] = 1.0
    return x


def strata_indicators(cohort: Cohort, design: Design) -> tuple[np.ndarray, list[str]]:
    """0/1 stratification indicators of each patient, in the order of ``design.stratify_by``.

    Returns
    -------
    x : ndarray of float64, shape (n_patients, n_columns)
    names : list of str
    """
    sp = strata_program(design)
    return strata_matrix(sp.ops, sp.args, sp.starts, cohort_covariates(cohort)), list(sp.names)


@jit
def stratum_codes(x):
    """One integer stratum per patient from the 0/1 factors (binary code)."""
    out = np.zeros(x.shape[0], dtype=np.int64)
    for i in range(x.shape[0]):
        for f in range(x.shape[1]):
            if x[i, f] != 0.0:
                out[i] += 1 << f
    return out


def stratum_index(x: np.ndarray) -> np.ndarray:
    """``stratum_codes`` of the 0/1 factors."""
    return stratum_codes(np.asarray(x, dtype=np.float64))


def randomize(
    stratum: np.ndarray, allocation: np.ndarray, block_multiplier: int, key: tuple[int, int]
) -> np.ndarray:
    """Stratified permuted-block randomization (``randomize_kernel``).

    Within each stratum, patients (in enrolment order) take the next place of a sequence of
    blocks; each block holds ``block_multiplier * allocation[k]`` places for arm ``k`` in a
    random order. Block ``b`` of stratum ``s`` is shuffled with the draws of
    (``STAGE_RANDOMIZATION``, s, b), so a patient's arm does not depend on how many patients
    follow (common random numbers across sample sizes).

    Parameters
    ----------
    stratum : ndarray of int64, shape (n,)
        Stratum code in ``0 … 2**k - 1`` for k binary factors.
    allocation : ndarray of int64, shape (n_arms,)
        Allocation weights (1:1:1 → [1, 1, 1]).
    block_multiplier : int
    key : (int, int)
        The replicate key (``rng.replicate_key``).

    Returns
    -------
    ndarray of int64, shape (n,)
        Arm code of each patient.
    """
    template = np.repeat(np.arange(allocation.size), allocation * block_multiplier)
    return randomize_kernel(np.asarray(stratum, dtype=np.int64), template, key[0], key[1])


@jit
def randomize_kernel(stratum, template, k0, k1):
    """Arms by stratified permuted blocks: block ``b`` of stratum ``s`` is ``template``
    shuffled (Fisher–Yates) with the uniforms of (``STAGE_RANDOMIZATION``, s, b)."""
    n = stratum.shape[0]
    m = template.shape[0]
    arm = np.empty(n, dtype=np.int64)
    n_strata = 0
    for i in range(n):
        n_strata = max(n_strata, stratum[i] + 1)
    taken = np.zeros(n_strata, dtype=np.int64)  # places used in each stratum
    block = np.empty(m, dtype=np.int64)
    current = np.full(n_strata, -1, dtype=np.int64)  # block held in ``blocks`` per stratum
    blocks = np.empty((n_strata, m), dtype=np.int64)
    for i in range(n):
        s = stratum[i]
        b = taken[s] // m
        if current[s] != b:
            u = counter_uniforms(k0, k1, STAGE_RANDOMIZATION, s, b, m)
            for k in range(m):
                block[k] = template[k]
            for k in range(m - 1, 0, -1):
                j = int(u[k] * (k + 1))
                block[k], block[j] = block[j], block[k]
            for k in range(m):
                blocks[s, k] = block[k]
            current[s] = b
        arm[i] = blocks[s, taken[s] % m]
        taken[s] += 1
    return arm
