"""Subgroups: the expression language, its compiled evaluator, the chi-square tail and the
interaction test, each against an independent computation (numpy / pandas, scipy,
statsmodels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trialsim.analysis.subgroups import (
    FACTORS,
    chi2_sf,
    eval_programs,
    interaction_kernel,
    membership,
    subgroup_plan,
)
from trialsim.config.expressions import ExpressionError, compile_expression
from trialsim.config.vocab import RACES, REGIONS, SUBGROUP_COVARIATES


def covariates(n: int, seed: int = 0) -> pd.DataFrame:
    """A random covariate table in ``SUBGROUP_COVARIATES`` order."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "race": rng.integers(0, len(RACES), n),
        "region": rng.integers(0, len(REGIONS), n),
        "sledai": rng.integers(4, 20, n),
        "age": rng.uniform(18, 75, n),
        "weight": rng.uniform(40, 120, n),
        "disease_duration": rng.choice([0.5, 2.0, 5.0, 5.0001, 9.0], n),
        "prednisone": rng.choice([0.0, 5.0, 7.5, 10.0, 20.0], n),
        "proteinuria": rng.uniform(0, 3, n),
        "pga": rng.uniform(0, 3, n),
    })
    for name in SUBGROUP_COVARIATES[9:]:
        df[name] = rng.integers(0, 2, n)
    df["low_complement"] = ((df.low_c3 + df.low_c4) > 0).astype(int)
    df["serologically_active"] = (df.anti_dsdna & df.low_complement).astype(int)
    return df[list(SUBGROUP_COVARIATES)].astype(float)


def evaluate(expr: str, cov: pd.DataFrame) -> np.ndarray:
    program = compile_expression(expr)
    return eval_programs(
        np.array([o for o, _ in program], dtype=np.int64),
        np.array([a for _, a in program], dtype=np.float64),
        np.array([0, len(program)], dtype=np.int64),
        np.ascontiguousarray(cov.to_numpy()),
    )[0]


B, IA = RACES.index("black"), RACES.index("indigenous_american")
#: expression -> the same condition written with pandas
CASES = {
    "sledai >= 10": lambda d: d.sledai >= 10,
    "sledai <= 9": lambda d: d.sledai <= 9,
    "sledai > 9 and serologically_active": lambda d: (d.sledai > 9) & (d.serologically_active > 0),
    "not anti_dsdna or low_c3": lambda d: (d.anti_dsdna == 0) | (d.low_c3 > 0),
    "5 <= sledai <= 9": lambda d: (d.sledai >= 5) & (d.sledai <= 9),
    "disease_duration > 5": lambda d: d.disease_duration > 5,
    "prednisone <= 7.5": lambda d: d.prednisone <= 7.5,
    'race == "black"': lambda d: d.race == B,
    '"black" != race': lambda d: d.race != B,
    'race in ["black", "indigenous_american"]': lambda d: d.race.isin([B, IA]),
    'race not in ["black"] and age < 40': lambda d: (d.race != B) & (d.age < 40),
    'region == "us_canada" or (female and weight > 80.5)':
        lambda d: (d.region == 0) | ((d.female > 0) & (d.weight > 80.5)),
    "not (sledai >= 10 and immunosuppressant)":
        lambda d: ~((d.sledai >= 10) & (d.immunosuppressant > 0)),
    "pga > -1": lambda d: d.pga > -1,
    "true": lambda d: pd.Series(True, index=d.index),
    "antimalarial == 1 and ana != 0": lambda d: (d.antimalarial == 1) & (d.ana != 0),
}


@pytest.mark.parametrize("expr", list(CASES))
def test_compiled_expression_agrees_with_pandas(expr):
    cov = covariates(500)
    np.testing.assert_array_equal(evaluate(expr, cov), CASES[expr](cov).to_numpy())


BAD = {
    "": "an expression is needed",
    "sledai >=": "does not parse",
    "foo > 1": "unknown covariate 'foo'",
    'race == "martian"': "unknown race 'martian'",
    "race > 1": "only == and !=",
    "race": "categorical",
    'sledai == "high"': "quoted text compares only with race or region",
    "sledai + 1 > 2": "not a covariate or a number",
    '__import__("os")': "not a condition",
    "sledai in [1, 2]": "'in' needs race or region",
    "race in []": "non-empty list",
    "race == region": "quoted level",
    "lambda: 1": "not a condition",
    "sledai > 1e999": "finite",
    "sledai > -1e999": "finite",
    "sledai > " + "9" * 400: "finite",
    "sledai > 4 # a comment": "comments (#)",
    "not " * 3000 + "sledai": "characters long",
    "ｓｌｅｄａｉ >= 10": "only ASCII",
    'race in ("black",)': "non-empty list",
    "sledai > true": "not numbers",
    'race == "black" == "white"': "one level at a time",
    '"asian" != region != "us_canada"': "one level at a time",
}


@pytest.mark.parametrize("expr", list(BAD))
def test_expressions_outside_the_language_are_refused_with_what_is_allowed(expr):
    with pytest.raises(ExpressionError) as err:
        compile_expression(expr)
    assert BAD[expr] in str(err.value)
    assert "allowed:" in str(err.value)


def test_a_chain_of_numbers_is_still_a_conjunction():
    cov = covariates(500, seed=4)
    plan = subgroup_plan([], {"x": "4 <= sledai < 10", "y": "sledai >= 4 and sledai < 10"}, [])
    member = eval_programs(plan.ops, plan.args, plan.starts, np.ascontiguousarray(cov.to_numpy()))
    np.testing.assert_array_equal(member[0], member[2])


@pytest.mark.parametrize("value, words", [(None, "not empty"), (3, "not int 3"),
                                          ([1], "not list")])
def test_a_custom_subgroup_that_is_not_text_is_refused_with_its_path(tiny, value, words):
    from trialsim.config.scenario import ScenarioError, with_overrides

    with pytest.raises(ScenarioError) as err:
        with_overrides(tiny, {"analysis.subgroups.custom": {"x": value}})
    assert "analysis.subgroups.custom.x" in str(err.value) and words in str(err.value)


def test_predefined_factors_partition_every_patient():
    cov = covariates(2000, seed=3)
    plan = subgroup_plan(list(FACTORS), {}, [])
    member = eval_programs(plan.ops, plan.args, plan.starts, np.ascontiguousarray(cov.to_numpy()))
    for f in range(len(plan.factors)):
        rows = member[plan.factor_start[f]:plan.factor_start[f + 1]]
        np.testing.assert_array_equal(rows.sum(axis=0), 1, err_msg=plan.factors[f])
    # a custom subgroup: its yes and no levels are complements
    plan = subgroup_plan([], {"x": "sledai >= 12 or race == \"asian\""}, [])
    member = eval_programs(plan.ops, plan.args, plan.starts, np.ascontiguousarray(cov.to_numpy()))
    np.testing.assert_array_equal(member[0], ~member[1])
    assert plan.levels == (("x", "yes"), ("x", "no"))


def test_membership_of_an_enrolled_cohort(bliss76):
    from trialsim.run.trial import ReplicatePatients

    c = ReplicatePatients(bliss76)(0).cohort
    np.testing.assert_array_equal(membership("serologically_active", c), c.serologically_active)
    np.testing.assert_array_equal(membership("prednisone > 7.5", c), c.prednisone > 7.5)
    np.testing.assert_array_equal(
        membership("disease_duration <= 5 and sledai >= 10", c),
        (c.disease_duration <= 5) & (c.sledai >= 10))


@pytest.mark.parametrize("df", range(1, 9))
def test_chi2_tail_matches_scipy(df):
    for x in (0.0, 1e-6, 0.3, 1.0, 3.84, 7.0, 15.0, 40.0, 120.0):
        assert chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)


def _design(n_levels: int, seed: int, n: int = 900):
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 3, n)
    code = rng.integers(0, n_levels, n)
    strata = rng.integers(0, 2, (n, 2)).astype(float)
    lin = -0.4 + 0.5 * (arm == 1) + 0.2 * code - 0.6 * (arm == 1) * (code == 1) + 0.3 * strata[:, 0]
    y = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(np.uint8)
    return arm, code, strata, y


@pytest.mark.parametrize("n_levels", [2, 3, 4])
def test_interaction_wald_test_matches_statsmodels(n_levels):
    import statsmodels.api as sm

    arm, code, strata, y = _design(n_levels, seed=n_levels)
    pairs = np.array([[1, 0], [2, 0]], dtype=np.int64)
    got = interaction_kernel(y[None, :], arm, code, n_levels, strata, pairs)
    for c, (t, ctl) in enumerate(pairs):
        sel = (arm == t) | (arm == ctl)
        treated = (arm[sel] == t).astype(float)
        lv = code[sel]
        cols = [np.ones(sel.sum()), treated]
        cols += [(lv == k).astype(float) for k in range(1, n_levels)]
        cols += [treated * (lv == k) for k in range(1, n_levels)]
        cols += [strata[sel, j] for j in range(strata.shape[1])]
        fit = sm.Logit(y[sel].astype(float), np.column_stack(cols)).fit(disp=0, tol=1e-12)
        r = np.zeros((n_levels - 1, len(cols)))
        for k in range(n_levels - 1):
            r[k, 2 + (n_levels - 1) + k] = 1.0
        wald = fit.wald_test(r, scalar=True)
        assert got[0, c, 1] == n_levels - 1
        assert got[0, c, 0] == pytest.approx(float(wald.statistic), rel=1e-6)
        assert got[0, c, 2] == pytest.approx(float(wald.pvalue), rel=1e-6)


def test_interaction_drops_an_empty_level_and_a_collinear_stratum():
    arm, code, strata, y = _design(3, seed=9)
    code = np.where(code == 2, 0, code)  # level 2 empty: one product term left
    strata[:, 1] = (code == 1)  # a stratum that is a function of the levels
    got = interaction_kernel(y[None, :], arm, code, 3, strata, np.array([[1, 0]]))
    assert got[0, 0, 1] == 1.0 and np.isfinite(got[0, 0, 0])


def test_interaction_not_analysable_with_one_level():
    arm, code, strata, y = _design(2, seed=2)
    got = interaction_kernel(y[None, :], arm, np.zeros_like(code), 2, strata,
                             np.array([[1, 0]]))
    assert got[0, 0, 1] == 0.0 and np.isnan(got[0, 0, 2])


def test_interaction_sets_a_separated_stratum_aside_as_the_main_analysis_does():
    """A stratum whose patients all respond makes the ML coefficient infinite; the test is
    then the fit without those patients and that column (statsmodels on the rest)."""
    import statsmodels.api as sm

    arm, code, strata, y = _design(2, seed=5, n=600)
    few = np.flatnonzero(arm <= 1)[:4]
    strata[:, 1] = 0.0
    strata[few, 1] = 1.0
    y[few] = 1  # all four respond: stratum 2 separates
    got = interaction_kernel(y[None, :], arm, code, 2, strata, np.array([[1, 0]]))
    sel = (arm <= 1) & (strata[:, 1] == 0)
    treated = (arm[sel] == 1).astype(float)
    d = (code[sel] == 1).astype(float)
    X = np.column_stack([np.ones(sel.sum()), treated, d, treated * d, strata[sel, 0]])
    fit = sm.Logit(y[sel].astype(float), X).fit(disp=0, tol=1e-12)
    z = fit.params[3] / fit.bse[3]
    assert got[0, 0, 1] == 1 and got[0, 0, 0] == pytest.approx(z * z, rel=1e-6)
