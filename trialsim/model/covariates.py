"""Baseline covariates of the enrolled patients and conditions on them: one home for the
predefined partitions of the patients (``FACTORS``: subgroups, and the stratification factors
of model/randomization.py) and for the compiled evaluator of conditions written in the
subgroup expression language (``config.expressions``).

The covariates are those of ``vocab.SUBGROUP_COVARIATES`` (``covariate_matrix``); a condition
compiles to postfix code, and ``eval_programs`` decides every patient's membership in many
conditions at once, inside the compiled trial.
"""

from __future__ import annotations

import numpy as np

from trialsim.config.expressions import (
    AND,
    EQ,
    GE,
    GT,
    LE,
    LT,
    NE,
    NOT,
    PUSH_CONST,
    PUSH_VAR,
    TRUTH,
)
from trialsim.config.vocab import RACES, REGIONS, SUBGROUP_FACTORS
from trialsim.core.jit import jit
from trialsim.model.instruments import HIGH_STEROID_MG
from trialsim.model.population import Cohort

__all__ = ["FACTORS", "covariate_matrix", "cohort_covariates", "eval_programs", "pack_programs"]

#: the predefined factors: name -> {level: expression}; each a partition of the patients
FACTORS: dict[str, dict[str, str]] = {
    "race": {r: f'race == "{r}"' for r in RACES},
    "black": {"black": 'race == "black"', "not_black": 'race != "black"'},
    "region": {r: f'region == "{r}"' for r in REGIONS},
    "serologically_active": {"yes": "serologically_active", "no": "not serologically_active"},
    "anti_dsdna": {"positive": "anti_dsdna", "negative": "not anti_dsdna"},
    "low_complement": {"yes": "low_complement", "no": "not low_complement"},
    # SELENA-SLEDAI <= 9 / >= 10: the BLISS stratification factor (domain.md §3)
    "sledai": {"le9": "sledai <= 9", "ge10": "sledai >= 10"},
    "disease_duration": {"le5y": "disease_duration <= 5", "gt5y": "disease_duration > 5"},
    "prednisone": {
        "le7.5mg": f"prednisone <= {HIGH_STEROID_MG}", "gt7.5mg": f"prednisone > {HIGH_STEROID_MG}"
    },
    "immunosuppressant": {"yes": "immunosuppressant", "no": "not immunosuppressant"},
}
if tuple(FACTORS) != SUBGROUP_FACTORS:  # the schema validates against the vocabulary
    raise RuntimeError(f"vocab.SUBGROUP_FACTORS {SUBGROUP_FACTORS} != defined {tuple(FACTORS)}")


@jit
def covariate_matrix(race, region, sledai, age, weight, duration, prednisone, proteinuria,
                     pga, female, ana, dsdna, low_c3, low_c4, immunosuppressant, antimalarial):
    """The baseline covariates of ``vocab.SUBGROUP_COVARIATES``, one row per patient.

    Race and region hold their level's index; yes/no covariates 1.0 or 0.0;
    ``low_complement`` is low C3 or low C4 and ``serologically_active`` anti-dsDNA positive
    and low complement (the BLISS subgroup, van Vollenhoven et al. 2012).
    """
    n = race.shape[0]
    out = np.empty((n, 18))
    for i in range(n):
        low = low_c3[i] or low_c4[i]
        out[i, 0] = race[i]
        out[i, 1] = region[i]
        out[i, 2] = sledai[i]
        out[i, 3] = age[i]
        out[i, 4] = weight[i]
        out[i, 5] = duration[i]
        out[i, 6] = prednisone[i]
        out[i, 7] = proteinuria[i]
        out[i, 8] = pga[i]
        out[i, 9] = 1.0 if female[i] else 0.0
        out[i, 10] = 1.0 if ana[i] else 0.0
        out[i, 11] = 1.0 if dsdna[i] else 0.0
        out[i, 12] = 1.0 if low_c3[i] else 0.0
        out[i, 13] = 1.0 if low_c4[i] else 0.0
        out[i, 14] = 1.0 if low else 0.0
        out[i, 15] = 1.0 if (dsdna[i] and low) else 0.0
        out[i, 16] = 1.0 if immunosuppressant[i] else 0.0
        out[i, 17] = 1.0 if antimalarial[i] else 0.0
    return out


def cohort_covariates(cohort: Cohort) -> np.ndarray:
    """``covariate_matrix`` of an enrolled ``Cohort``."""
    c = cohort
    return covariate_matrix(
        c.race, c.region, c.sledai.astype(np.float64), c.age, c.weight_kg, c.disease_duration,
        c.prednisone, c.proteinuria_g, c.pga, c.female, c.ana, c.anti_dsdna, c.low_c3,
        c.low_c4, c.immunosuppressant, c.antimalarial,
    )


@jit
def eval_programs(ops, args, starts, cov):
    """Membership of every patient in every compiled subgroup condition.

    Parameters
    ----------
    ops, args : ndarray (int64, float64)
        The programs' postfix code, concatenated (``config.expressions``).
    starts : ndarray of int64, shape (n_programs + 1,)
        Program ``k`` is ``ops[starts[k]:starts[k + 1]]``.
    cov : ndarray of float64, shape (n_patients, n_covariates)
        ``covariate_matrix``.

    Returns
    -------
    ndarray of bool, shape (n_programs, n_patients)
    """
    n_prog = starts.shape[0] - 1
    n = cov.shape[0]
    out = np.zeros((n_prog, n), dtype=np.bool_)
    depth = 1
    for k in range(n_prog):
        depth = max(depth, starts[k + 1] - starts[k])
    stack = np.empty(depth)
    for k in range(n_prog):
        for i in range(n):
            top = 0
            for pc in range(starts[k], starts[k + 1]):
                op = ops[pc]
                if op == PUSH_VAR:
                    stack[top] = cov[i, int(args[pc])]
                    top += 1
                elif op == PUSH_CONST:
                    stack[top] = args[pc]
                    top += 1
                elif op == NOT:
                    stack[top - 1] = 0.0 if stack[top - 1] != 0.0 else 1.0
                elif op == TRUTH:
                    stack[top - 1] = 1.0 if stack[top - 1] != 0.0 else 0.0
                else:
                    b = stack[top - 1]
                    a = stack[top - 2]
                    top -= 1
                    if op == LT:
                        r = a < b
                    elif op == LE:
                        r = a <= b
                    elif op == GT:
                        r = a > b
                    elif op == GE:
                        r = a >= b
                    elif op == EQ:
                        r = a == b
                    elif op == NE:
                        r = a != b
                    elif op == AND:
                        r = a != 0.0 and b != 0.0
                    else:  # OR
                        r = a != 0.0 or b != 0.0
                    stack[top - 1] = 1.0 if r else 0.0
            out[k, i] = stack[0] != 0.0
    return out


def pack_programs(programs: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """Compiled conditions (``config.expressions.compile_expression``) concatenated for
    ``eval_programs``: ``(ops, args, starts)``."""
    ops: list[int] = []
    args: list[float] = []
    starts = [0]
    for program in programs:
        ops += [o for o, _ in program]
        args += [a for _, a in program]
        starts.append(len(ops))
    return (np.array(ops, dtype=np.int64), np.array(args, dtype=np.float64),
            np.array(starts, dtype=np.int64))
