"""Pipeline power with the model reduced to constant response probabilities matches the
closed-form power of the Wald test on the log odds ratio (within 3 Monte Carlo SEs)."""

import numpy as np
import pytest
from scipy import stats

from trialsim.config.scenario import with_overrides
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan
from trialsim.summarize.tables import summarize

R = 2000
RATES = {"placebo": 0.35, "bel1": 0.42, "bel10": 0.50}
N = 360


def closed_form_power(p1: float, p0: float, n1: float, n0: float, alpha: float) -> float:
    """Two-sided Wald test of log OR: P(|Z| > z) with Z ~ N(delta / se, 1)."""
    delta = np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))
    se = np.sqrt(1 / (n1 * p1 * (1 - p1)) + 1 / (n0 * p0 * (1 - p0)))
    z = stats.norm.ppf(1 - alpha / 2)
    return stats.norm.cdf(delta / se - z) + stats.norm.cdf(-delta / se - z)


@pytest.fixture(scope="module")
def reduced(bliss76):
    sc = with_overrides(bliss76, {
        "design.sample_size": N,
        "design.duration_weeks": 12,
        "design.endpoint_weeks": [12],
        "analysis.endpoints": ["constant_response"],
        "analysis.subgroups.factors": [],
        "constant_response": {"rates": RATES},
        "seed": 4242,
    })
    plan = Plan(sc)
    return plan, summarize(plan, simulate(sc, replicates=R, n_jobs=2, chunk_size=250,
                                          progress=False))


@pytest.mark.parametrize("arm", ["bel1", "bel10"])
def test_power_matches_closed_form(reduced, arm):
    plan, s = reduced
    row = s[(s.endpoint == "constant_response") & (s.comparison == f"{arm}_vs_placebo")
            & (s.statistic == "power")].iloc[0]
    expected = closed_form_power(RATES[arm], RATES["placebo"], N / 3, N / 3, 0.05)
    assert abs(row.value - expected) < 3 * row.mcse, (row.value, row.mcse, expected)


def test_rates_are_the_configured_ones(reduced):
    plan, s = reduced
    for arm, p in RATES.items():
        row = s[(s.endpoint == "constant_response") & (s.arm == arm)
                & (s.statistic == "response_rate")].iloc[0]
        assert abs(row.value - p) < 3.5 * row.mcse


def test_constant_response_needs_its_block(bliss76):
    from trialsim.config.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="constant_response"):
        with_overrides(bliss76, {"analysis.endpoints": ["constant_response"]})
