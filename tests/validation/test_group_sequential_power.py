"""A group-sequential design run through the whole pipeline, with the model reduced to
constant response probabilities, crosses its bounds as the canonical joint distribution
says (analysis/group_sequential.py, itself equal to rpact's ``getDesignGroupSequential`` and
``getDesignCharacteristics`` to 1e-7: tests/unit/test_group_sequential.py).

Look k analyses the first ⌈t_k N⌉ patients; the Wald Z of the log odds ratio then has
drift δ √t_k with δ = log OR / SE(N) (the closed form of test_power_closed_form.py). Per
look the simulated share of efficacy and futility stops, and the power, must equal the
recursion's within 3.5 Monte Carlo SEs; an arm with the control's response rate must be
rejected at the one-sided level alpha / 2 (efficacy bounds alone: exactly the alpha spent).
"""

import numpy as np
import pytest

from trialsim.analysis.group_sequential import crossing_probabilities
from trialsim.config.scenario import with_overrides
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan
from trialsim.summarize.tables import summarize

R = 2000
RATES = {"placebo": 0.35, "bel1": 0.35, "bel10": 0.50}  # bel1: the null
N = 360
FRACTIONS = [0.4, 0.7, 1.0]


def run_design(bliss76, interim, seed):
    """The constant-response trials of ``design.interim`` = ``interim``: the plan and the
    summary's ``gs_*`` rows."""
    sc = with_overrides(bliss76, {
        "design.sample_size": N,
        "design.duration_weeks": 12,
        "design.endpoint_weeks": [12],
        "design.accrual": {"patients_per_month": 30.0},
        "design.interim": interim,
        "analysis.endpoints": ["constant_response"],
        "analysis.subgroups.factors": [],
        "constant_response": {"rates": RATES},
        "seed": seed,
    })
    plan = Plan(sc)
    s = summarize(plan, simulate(sc, replicates=R, n_jobs=2, chunk_size=250, progress=False))
    return plan, s[(s.endpoint == "constant_response") & s.statistic.str.startswith("gs_")]


@pytest.fixture(scope="module")
def sequential(bliss76):
    return run_design(bliss76, {"information_fractions": FRACTIONS,
                                "futility": {"spending": "obrien_fleming"}}, 2718)


def stat(rows, comparison, name):
    row = rows[(rows.comparison == comparison) & (rows.statistic == name)].iloc[0]
    return row.value, row.mcse


def drift(p1, p0, n_arm):
    delta = np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))
    return delta / np.sqrt(1 / (n_arm * p1 * (1 - p1)) + 1 / (n_arm * p0 * (1 - p0)))


def test_stopping_probabilities_per_look_are_the_recursion_s(sequential):
    plan, rows = sequential
    want = crossing_probabilities(plan.interim_design, drift(0.50, 0.35, N / 3))
    for k in range(len(FRACTIONS)):
        got, mcse = stat(rows, "bel10_vs_placebo", f"gs_efficacy_stop_look{k + 1}")
        assert abs(got - want.efficacy[k]) < 3.5 * mcse, (k, got, want.efficacy[k])
        if k < len(FRACTIONS) - 1:
            got, mcse = stat(rows, "bel10_vs_placebo", f"gs_futility_stop_look{k + 1}")
            assert abs(got - want.futility[k]) < 3.5 * max(mcse, 0.005), (k, got)
    got, mcse = stat(rows, "bel10_vs_placebo", "gs_power")
    assert abs(got - want.power) < 3.5 * mcse, (got, want.power)
    assert 0.2 < got < 0.95  # a test with something to find


def test_type_one_error_is_the_alpha_spent(sequential):
    plan, rows = sequential
    # the scenario's two-sided analysis.alpha is spent one-sided, favouring treatment
    alpha = plan.scenario.analysis.alpha / 2
    assert alpha == 0.025
    got, mcse = stat(rows, "bel1_vs_placebo", "gs_power_efficacy_only")
    assert abs(got - alpha) < 3.5 * np.sqrt(alpha * (1 - alpha) / R), got
    with_futility, _ = stat(rows, "bel1_vs_placebo", "gs_power")
    assert with_futility <= got  # non-binding futility stops only remove rejections


MONTHS = [7.0, 10.0]  # expected fractions (m - 2.77) * 30 / 360: 0.35 and 0.60


@pytest.fixture(scope="module")
def calendar(bliss76):
    """Looks at calendar months with binding futility bounds: each trial's bounds are the
    spending functions at its own fractions."""
    return run_design(bliss76, {"calendar_months": MONTHS, "futility": {
        "spending": "obrien_fleming", "binding": True}}, 1414)


def test_calendar_looks_with_binding_futility_spend_alpha(calendar):
    """Under the null, with the binding futility stops obeyed, the type I error is the
    alpha spent (the efficacy bounds were lowered for them); ignoring them it is more."""
    plan, rows = calendar
    assert plan.interim_design.binding_futility
    alpha = 0.025
    got, _ = stat(rows, "bel1_vs_placebo", "gs_power")
    assert abs(got - alpha) < 3.5 * np.sqrt(alpha * (1 - alpha) / R), got
    for k, t in enumerate((0.35, 0.60)):
        frac, mcse = stat(rows, "", f"gs_information_look{k + 1}")
        assert abs(frac - t) < 0.01 and mcse > 0  # each trial its own fraction


def test_calendar_looks_power_is_the_recursion_s_at_the_planned_fractions(calendar):
    """The fractions vary little (SD about 0.03) around the planned ones, so the power and
    the per-look stops are the planned design's within 3.5 MCSE plus 0.015."""
    plan, rows = calendar
    want = crossing_probabilities(plan.interim_design, drift(0.50, 0.35, N / 3))
    got, mcse = stat(rows, "bel10_vs_placebo", "gs_power")
    assert abs(got - want.power) < 3.5 * mcse + 0.015, (got, want.power)
    for k in range(2):
        got, mcse = stat(rows, "bel10_vs_placebo", f"gs_efficacy_stop_look{k + 1}")
        assert abs(got - want.efficacy[k]) < 3.5 * mcse + 0.015, (k, got, want.efficacy[k])
