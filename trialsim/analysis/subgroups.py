"""Patient subgroups by baseline characteristics: one home for their definitions and their
per-trial analysis.

A subgroup *factor* splits the enrolled patients into *levels*, each level a condition in the
subgroup expression language (``config.expressions``) over the baseline covariates
(``vocab.SUBGROUP_COVARIATES``). The predefined factors (``FACTORS``) are written in that
language, and so are a scenario's own (``analysis.subgroups.custom``: a level ``yes`` for the
expression and ``no`` for the rest), so one compiled evaluator decides every patient's
membership (``eval_programs``).

In every replicate the compiled trial then analyses, per level, endpoint, week and
comparison, the level's patients as the whole trial is analysed (``compare_arms_kernel``:
arm rates, the stratification-adjusted OR with its CI, the risk difference), and per factor
the treatment x subgroup interaction: a logistic model of response on treatment, the
factor's levels and their products with treatment (and the strata), with a Wald chi-square
test of the product terms (``interaction_kernel``). Levels empty in a replicate, or whose
model cannot be fitted, are "not analysable" there and counted as such, never an error.
The compiled trial computes all of it from each factor's cell counts
(``subgroup_cells.analyse_levels``), to the last bit what these kernels give on the patients.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trialsim.analysis.comparisons import (
    evaluable_patterns,
    pattern_counts,
    separates,
    unseparated_groups,
)
from trialsim.analysis.logistic import (
    _cholesky,
    _cholesky_solve,
    estimable_design,
    fit_patterns_into,
    fit_work,
    in_column_space,
    pattern_groups,
    rows_into,
)
from trialsim.config.expressions import compile_expression, negation
from trialsim.config.vocab import SUBGROUP_NAMES
from trialsim.core.jit import jit
from trialsim.model.covariates import (  # noqa: F401 (re-exported: the subgroups' API)
    FACTORS,
    cohort_covariates,
    covariate_matrix,
    eval_programs,
    pack_programs,
)
from trialsim.model.population import Cohort

#: the levels of a scenario's own subgroups (``analysis.subgroups.custom``)
CUSTOM_LEVELS = ("yes", "no")
#: fields of the interaction test, last axis of ``interaction_kernel``'s output
INTERACTION_FIELDS = ("chi2", "df", "p_value")


@jit
def chi2_sf(x, df):
    """Upper tail of the chi-square distribution with integer ``df`` ≥ 1 at ``x`` ≥ 0
    (closed forms: the Poisson sum for even df, erfc plus a half-integer series for odd)."""
    if not x > 0.0:
        return 1.0
    h = 0.5 * x
    if df % 2 == 0:
        term = math.exp(-h)
        total = term
        for j in range(1, df // 2):
            term *= h / j
            total += term
        return min(total, 1.0)
    total = math.erfc(math.sqrt(h))
    term = math.exp(-h) * math.sqrt(h) / (0.5 * math.sqrt(math.pi))  # j = 1: h^0.5 / G(1.5)
    for j in range(1, (df + 1) // 2):
        total += term
        term *= h / (j + 0.5)
    return min(total, 1.0)


@jit
def interaction_kernel(response, arm, code, n_levels, strata, pairs):
    """Treatment x subgroup interaction test per endpoint and comparison.

    For the patients of the comparison's two arms with a level (``code >= 0``): the logistic
    model ``response ~ 1 + treated + level dummies + treated x level dummies + strata``
    (dummies for levels 1 … L-1; columns that are constant or linearly dependent in this
    trial are dropped, e.g. an empty level or a stratum that is a function of the levels),
    and the Wald chi-square of the product terms left, with that many degrees of freedom.

    Parameters
    ----------
    response : ndarray of uint8, shape (n_endpoints, n_patients)
        0/1, or ``NOT_EVALUABLE`` for a patient outside the endpoint's denominator (left out
        of that endpoint's model).
    arm : ndarray of int64, shape (n_patients,)
    code : ndarray of int64, shape (n_patients,)
        Each patient's level (0 … n_levels - 1), -1 for none.
    n_levels : int
    strata : ndarray of float64, shape (n_patients, q)
    pairs : ndarray of int64, shape (n_comparisons, 2)

    Returns
    -------
    ndarray of float64, shape (n_endpoints, n_comparisons, 3)
        ``INTERACTION_FIELDS``: chi2, df, p (nan, 0, nan when not analysable: fewer than two
        levels with both arms, or a model that cannot be fitted).
    """
    n_end = response.shape[0]
    n_pat = arm.shape[0]
    q = strata.shape[1]
    n_cmp = pairs.shape[0]
    out = np.empty((n_end, n_cmp, 3))
    p_full = 2 + 2 * (n_levels - 1) + q
    for c in range(n_cmp):
        trt = pairs[c, 0]
        ctl = pairs[c, 1]
        m = 0
        for i in range(n_pat):
            if (arm[i] == trt or arm[i] == ctl) and code[i] >= 0:
                m += 1
        idx = np.empty(m, dtype=np.int64)
        k = 0
        for i in range(n_pat):
            if (arm[i] == trt or arm[i] == ctl) and code[i] >= 0:
                idx[k] = i
                k += 1
        full = np.zeros((m, p_full))
        for k in range(m):
            i = idx[k]
            t = 1.0 if arm[i] == trt else 0.0
            full[k, 0] = 1.0
            full[k, 1] = t
            lv = code[i]
            if lv >= 1:  # dummy: column 1 + lv; product with treatment: n_levels + lv
                full[k, 1 + lv] = 1.0
                full[k, n_levels + lv] = t
            for j in range(q):
                full[k, 2 + 2 * (n_levels - 1) + j] = strata[i, j]
        # the patients grouped once by pattern; each endpoint fits its patterns' counts
        patterns, group = pattern_groups(full)
        X_all, inter_all, n_int_all = _interaction_design(patterns, n_levels)
        wk = fit_work(patterns.shape[0], p_full)
        s, counted, first, n_seen = pattern_counts(group, patterns.shape[0], response, idx)
        for e in range(n_end):
            # the patterns of the endpoint's evaluable patients (fewer: a denominator)
            rows, y, n_rows, order = evaluable_patterns(patterns, s[e], counted[e], first[e],
                                                        n_seen[e])
            interaction_counts(out, e, c, rows, y, n_rows, order, patterns.shape[0], X_all,
                               inter_all, n_int_all, n_levels, wk)
    return out


@jit
def interaction_counts(out, e, c, rows, y, m, order, n_patterns, X_all, inter_all, n_int_all,
                       n_levels, wk):
    """Endpoint ``e``, comparison ``c`` of ``interaction_kernel`` from covariate patterns, into
    ``out[e, c]``: the full design rows ``rows`` of the patterns holding an evaluable patient,
    with their responders ``y`` and patients ``m``, and their indices ``order`` among the
    ``n_patterns`` patterns of the comparison, whose estimable design is ``X_all`` (products
    at ``inter_all[:n_int_all]``). The fit runs in the work arrays ``wk``."""
    out[e, c, 0] = np.nan
    out[e, c, 1] = 0.0
    out[e, c, 2] = np.nan
    if rows.shape[0] == 0:
        return
    kept = np.empty(rows.shape[0], dtype=np.bool_)
    if interaction_kept(rows, y, m, n_levels, kept):
        if order.shape[0] == n_patterns:  # the design of them all
            X = rows_into(X_all, order, wk)
            inter, n_int = inter_all, n_int_all
        else:
            X, inter, n_int = _interaction_design(rows, n_levels)
    else:
        rows, y, m = rows[kept], y[kept], m[kept]
        X, inter, n_int = _interaction_design(rows, n_levels)
    if n_int == 0 or separated_cell(rows, y, m, n_levels, X):
        return
    beta, cov, converged = fit_patterns_into(X, y, m, wk)
    interaction_result(out, e, c, beta, cov, converged, inter, n_int)


@jit
def interaction_kept(rows, y, m, n_levels, kept):
    """The patterns (full design rows ``rows``, responders ``y`` of ``m`` patients) the
    interaction model is fitted on, into ``kept``: strata whose patients all respond (or
    none do) are set aside, as in the main analysis (``compare_arms_kernel``): the
    maximum-likelihood limit. Returns whether every pattern is kept."""
    p_full = rows.shape[1]
    first_stratum = 2 + 2 * (n_levels - 1)
    if not separates(rows, y, m, first_stratum, p_full):
        kept[:] = True
        return True
    kept[:] = unseparated_groups(rows, y, m, first_stratum, p_full)
    return False


@jit
def interaction_result(out, e, c, beta, cov, converged, inter, n_int):
    """``out[e, c]`` from the fit of the interaction model: the Wald chi-square of the
    product terms ``inter[:n_int]`` (not analysable, left as is, when the fit failed)."""
    stat, df = _interaction_wald(beta, cov, converged, inter, n_int)
    if df > 0:
        out[e, c, 0] = stat
        out[e, c, 1] = df
        out[e, c, 2] = chi2_sf(stat, df)


@jit
def _interaction_design(full, n_levels):
    """The estimable columns of an interaction design (constant or linearly dependent ones
    dropped) and the positions of the treatment x level products among them."""
    X, keep = estimable_design(full, 1)
    p = keep.shape[0]
    inter = np.empty(p, dtype=np.int64)
    n_int = 0
    for j in range(p):
        if n_levels + 1 <= keep[j] <= 2 * n_levels - 1:
            inter[n_int] = j
            n_int += 1
    return X, inter, n_int


@jit
def separated_cell(rows, y, m, n_levels, X):
    """Whether the interaction model has no finite maximum-likelihood estimate because of a
    level x arm cell whose patients all respond, or none do, and whose indicator lies in the
    column space of the estimable design ``X``: the likelihood then keeps rising along that
    indicator. The Newton iteration cannot converge there (its coefficients grow until they
    pass ``MAX_ABS_BETA``, or the information becomes singular); this decides it before
    iterating.

    ``rows`` are the full design rows of the patterns fitted (``interaction_kernel``'s
    columns), with their responders ``y`` and patients ``m``; ``X`` their estimable columns.
    """
    n = rows.shape[0]
    cy = np.zeros(2 * n_levels)
    cm = np.zeros(2 * n_levels)
    cell = np.empty(n, dtype=np.int64)
    for k in range(n):
        lv = 0
        for j in range(1, n_levels):
            if rows[k, 1 + j] == 1.0:
                lv = j
        c = 2 * lv + (1 if rows[k, 1] == 1.0 else 0)
        cell[k] = c
        cy[c] += y[k]
        cm[c] += m[k]
    for c in range(2 * n_levels):
        if cm[c] > 0.0 and (cy[c] == 0.0 or cy[c] == cm[c]):
            d = np.zeros(n)
            for k in range(n):
                if cell[k] == c:
                    d[k] = 1.0
            if in_column_space(X, d):
                return True
    return False


@jit
def _interaction_wald(beta, cov, converged, inter, n_int):
    """Wald chi-square of the product terms ``inter[:n_int]`` of a logistic fit (``beta``,
    ``cov``), and its degrees of freedom (0: not analysable)."""
    if n_int == 0:
        return np.nan, 0
    if not converged:
        return np.nan, 0
    V = np.empty((n_int, n_int))
    b = np.empty(n_int)
    for a in range(n_int):
        b[a] = beta[inter[a]]
        for d in range(n_int):
            V[a, d] = cov[inter[a], inter[d]]
    L, ok = _cholesky(V)
    if not ok:
        return np.nan, 0
    x = _cholesky_solve(L, b)
    stat = 0.0
    for a in range(n_int):
        stat += b[a] * x[a]
    if not math.isfinite(stat):
        return np.nan, 0
    return stat, n_int


@dataclass(frozen=True)
class SubgroupPlan:
    """A scenario's subgroup factors and levels, compiled for the trial.

    ``level_factor[l]`` is the factor of flat level ``l``; factor ``f``'s levels are
    ``factor_start[f] … factor_start[f + 1] - 1``; ``targets`` index the scenario's
    (endpoint, week) targets analysed within subgroups.
    """

    factors: tuple[str, ...]
    levels: tuple[tuple[str, str], ...]  # (factor, level) of each flat level
    expressions: tuple[str, ...]  # of each flat level
    ops: np.ndarray
    args: np.ndarray
    starts: np.ndarray
    factor_start: np.ndarray
    targets: np.ndarray

    @property
    def n_levels(self) -> int:
        return len(self.levels)


def subgroup_plan(factors: list[str], custom: dict[str, str],
                  targets: list[int]) -> SubgroupPlan:
    """Compile the predefined ``factors`` and the ``custom`` {name: expression} subgroups."""
    # (factor, {level: (expression as written, its program)})
    defs = [(f, {lv: (e, compile_expression(e)) for lv, e in FACTORS[f].items()})
            for f in factors]
    for name, expr in custom.items():
        yes = compile_expression(expr)
        defs.append((name, {"yes": (expr, yes), "no": (f"not ({expr})", negation(yes))}))
    levels, expressions, programs, fstart = [], [], [], [0]
    for name, lv in defs:
        for level, (expr, program) in lv.items():
            levels.append((name, level))
            expressions.append(expr)
            programs.append(program)
        fstart.append(len(levels))
    ops, args, starts = pack_programs(programs)
    return SubgroupPlan(
        factors=tuple(n for n, _ in defs),
        levels=tuple(levels),
        expressions=tuple(expressions),
        ops=ops,
        args=args,
        starts=starts,
        factor_start=np.array(fstart, dtype=np.int64),
        targets=np.array(targets, dtype=np.int64),
    )


def membership(expression: str, cohort: Cohort) -> np.ndarray:
    """Whether each patient of ``cohort`` meets a subgroup expression (the Python API of the
    evaluator the compiled trial runs)."""
    return eval_programs(*pack_programs([compile_expression(expression)]),
                         cohort_covariates(cohort))[0]


# --- the calibration's subgroups (named conditions on a cohort) -------------------------

#: name -> expression of the calibration's subgroup targets
NAMED = {
    "serologically_active": FACTORS["serologically_active"]["yes"],
    "high_steroid": FACTORS["prednisone"]["gt7.5mg"],
    "black": FACTORS["black"]["black"],
}
#: name -> function(cohort) of the patients' membership
SUBGROUPS: dict[str, Callable[[Cohort], np.ndarray]] = {
    name: (lambda cohort, e=expr: membership(e, cohort)) for name, expr in NAMED.items()
}

if tuple(SUBGROUPS) != SUBGROUP_NAMES:  # the schema validates against the vocabulary
    raise RuntimeError(f"vocab.SUBGROUP_NAMES {SUBGROUP_NAMES} != defined {tuple(SUBGROUPS)}")
