"""Stratification by any predefined subgroup factor (issue 10 §2): the strata are computed
from the patients' baseline as independent pandas code computes them, randomization balances
the arms within each stratum to within one block, and the analysis adjusts for the
indicators (statsmodels on the same patients)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.analysis.endpoints import ENDPOINTS
from trialsim.config.scenario import ScenarioError, with_overrides
from trialsim.config.vocab import REGIONS, STRATIFIERS
from trialsim.model.randomization import STRATIFICATION, strata_indicators
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk

F = {name: k for k, name in enumerate(RESULT_FIELDS)}
FACTORS = ["serologically_active", "region", "prednisone"]


@pytest.fixture(scope="module")
def scenario(tiny):
    return with_overrides(tiny, {
        "design.sample_size": 300,
        "design.stratify_by": FACTORS,
        "analysis.endpoints": ["sri4"],
        "analysis.subgroups.factors": [],
    })


def by_hand(cohort):
    """The indicator columns of FACTORS from the cohort's attributes (plain numpy)."""
    sero = cohort.anti_dsdna & (cohort.low_c3 | cohort.low_c4)
    cols = [sero.astype(float)]
    cols += [(cohort.region == k).astype(float) for k in range(len(REGIONS) - 1)]
    cols += [(cohort.prednisone <= 7.5).astype(float)]
    return np.column_stack(cols)


def test_every_predefined_factor_can_stratify():
    assert set(STRATIFIERS) == set(STRATIFICATION)
    assert STRATIFIERS[:3] == ("sledai", "proteinuria", "race")  # the BLISS protocols'


@pytest.mark.parametrize("r", [0, 1, 2])
def test_strata_randomization_and_adjustment(scenario, r):
    trial = ReplicatePatients(scenario)(r)
    x, names = strata_indicators(trial.cohort, scenario.design)
    np.testing.assert_array_equal(x, by_hand(trial.cohort))
    assert names[0] == "serologically_active_yes" and len(names) == 6
    # within each stratum, permuted blocks keep the arms within one block of each other
    block = scenario.design.block_multiplier  # per arm, 1:1:1
    codes = x @ (2.0 ** np.arange(x.shape[1]))
    for s in np.unique(codes):
        n = np.bincount(trial.arm[codes == s], minlength=3)
        assert n.max() - n.min() <= block, (s, n)
    # the compiled trial: the same arms, and the OR adjusted for these indicators
    res = run_chunk(scenario, r, r + 1)
    np.testing.assert_array_equal(res.arm_n[0], np.bincount(trial.arm, minlength=3))
    plan = Plan(scenario)
    y = ENDPOINTS["sri4"](trial, int(plan.trial.visits[0])).astype(float)
    for c, (t, k) in enumerate(plan.pairs):
        m = (trial.arm == t) | (trial.arm == k)
        xs = x[m]
        keep = [j for j in range(xs.shape[1]) if xs[:, j].min() != xs[:, j].max()]
        design = np.column_stack([np.ones(m.sum()), (trial.arm[m] == t).astype(float),
                                  xs[:, keep]])
        fit = sm.Logit(y[m], design).fit(disp=0, method="newton", tol=1e-10, maxiter=100)
        got = res.analysis[0, 0, c]
        assert got[F["log_or"]] == pytest.approx(fit.params[1], rel=1e-6, abs=1e-9)
        assert got[F["se"]] == pytest.approx(fit.bse[1], rel=1e-5)


def test_unknown_stratification_factor_is_refused_with_the_allowed_ones(tiny):
    with pytest.raises(ScenarioError) as err:
        with_overrides(tiny, {"design.stratify_by": ["sledai", "blood_group"]})
    msg = str(err.value)
    assert "design.stratify_by" in msg and "blood_group" in msg and "serologically_active" in msg
