"""Group-sequential boundaries and crossing probabilities against rpact, and by Monte Carlo.

The rpact values are golden numbers in ``tests/data/rpact_gsd.json``, made by
``Rscript scripts/rpact_gsd_reference.R`` (the file records the rpact version and every R
call); R is not needed here. The brief asks for agreement to 4 decimals; the comparisons use
``TOL = 1e-6`` because the two implementations agree to about 1e-7 (rpact's own tolerance is
1e-8), so a change that moves a bound in the 6th decimal fails too.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr, ndtri

from trialsim.analysis import group_sequential as gs

RPACT = json.loads((Path(__file__).parents[1] / "data" / "rpact_gsd.json").read_text())
DESIGNS = RPACT["designs"]
TOL = 1e-6

#: rpact typeOfDesign / typeBetaSpending -> trialsim spending family
FAMILY = {"asOF": "obrien_fleming", "asP": "pocock", "asHSD": "hsd",
          "bsOF": "obrien_fleming", "bsP": "pocock", "bsHSD": "hsd"}


def design_id(ref: dict) -> str:
    """A short test id: family, gamma, looks, spacing, alpha, futility."""
    g = "" if ref["gammaA"] is None else f"({ref['gammaA']:g})"
    t = ref["informationRates"]
    spacing = "" if np.allclose(np.diff(t), t[0]) else "-" + ",".join(f"{v:g}" for v in t)
    fut = ref["futility"]
    f = "" if fut is None else "+" + fut["typeBetaSpending"] + (
        "" if fut["gammaB"] is None else f"({fut['gammaB']:g})") + f"-beta{fut['beta']:g}" + (
        "-binding" if fut.get("bindingFutility") else "")
    return f"{ref['typeOfDesign']}{g}-K{ref['kMax']}{spacing}-a{ref['alpha']:g}{f}"


IDS = [design_id(d) for d in DESIGNS]
FUTILITY = [i for i, d in enumerate(DESIGNS) if d["futility"] is not None]


@cache
def ours(index: int) -> gs.GroupSequentialDesign:
    """trialsim's version of rpact design ``index`` (computed once per test session)."""
    ref = DESIGNS[index]
    kwargs = dict(efficacy_spending=FAMILY[ref["typeOfDesign"]], efficacy_gamma=ref["gammaA"],
                  beta=ref["beta"])
    if ref["futility"] is not None:
        kwargs.update(futility_spending=FAMILY[ref["futility"]["typeBetaSpending"]],
                      futility_gamma=ref["futility"]["gammaB"],
                      binding_futility=bool(ref["futility"].get("bindingFutility")))
    return gs.design_group_sequential(ref["informationRates"], ref["alpha"], **kwargs)


@cache
def characteristics(index: int) -> gs.DesignCharacteristics:
    return gs.design_characteristics(ours(index))


def test_the_golden_file_says_where_it_came_from():
    assert RPACT["rpact_version"] and RPACT["generator"] == "scripts/rpact_gsd_reference.R"
    assert all(d["call"].startswith("getDesignGroupSequential(") for d in DESIGNS)
    families = {(d["typeOfDesign"], d["gammaA"]) for d in DESIGNS}
    assert families >= {("asOF", None), ("asP", None), ("asHSD", -4), ("asHSD", -2),
                        ("asHSD", 1)}
    assert {d["kMax"] for d in DESIGNS} >= {2, 3, 4, 5}
    assert {d["alpha"] for d in DESIGNS} == {0.025, 0.05}
    assert len(FUTILITY) >= 2


# --------------------------------------------------------------------------- spending

LEVELS = [0.025, 0.05, 0.2]
FAMILIES = [("obrien_fleming", None), ("pocock", None), ("hsd", -4.0), ("hsd", -2.0),
            ("hsd", 0.0), ("hsd", 1.0), ("hsd", 3.0)]


@pytest.mark.parametrize("family, gamma", FAMILIES)
@pytest.mark.parametrize("level", LEVELS)
def test_spending_spends_the_level_at_one_and_increases(family, gamma, level):
    t = np.linspace(0.0, 1.0, 201)
    spent = gs.spending(t, level, family, gamma)
    assert spent[0] == 0.0
    assert spent[-1] == pytest.approx(level, rel=1e-12)
    assert np.all(np.diff(spent) > 0.0)


def test_spending_formulas_by_hand():
    alpha, t = 0.025, 0.5
    z = 2.241402727604947  # qnorm(1 - 0.025 / 2)
    assert gs.spending(t, alpha) == pytest.approx(2 * (1 - ndtr(z / math.sqrt(t))), rel=1e-12)
    assert gs.spending(t, alpha, "pocock") == pytest.approx(
        alpha * math.log(1 + (math.e - 1) * t), rel=1e-14)
    for g in (-4.0, 1.0):
        assert gs.spending(t, alpha, "hsd", g) == pytest.approx(
            alpha * (1 - math.exp(-g * t)) / (1 - math.exp(-g)), rel=1e-12)


def test_hsd_is_continuous_at_gamma_zero_and_does_not_overflow():
    t = np.array([0.1, 0.5, 0.9])
    for g in (-1e-7, 1e-7):
        np.testing.assert_allclose(gs.hsd_spending(t, 0.025, g), 0.025 * t, rtol=1e-6)
    far = gs.hsd_spending(t, 0.025, -800.0)  # exp(800) overflows a float
    assert np.all(np.isfinite(far)) and far[-1] < 1e-30


# --------------------------------------------------------------------------- against rpact

@pytest.mark.parametrize("index", range(len(DESIGNS)), ids=IDS)
def test_critical_values_equal_rpact(index):
    np.testing.assert_allclose(ours(index).critical_values, DESIGNS[index]["criticalValues"],
                               rtol=0, atol=TOL)


@pytest.mark.parametrize("index", range(len(DESIGNS)), ids=IDS)
def test_alpha_spent_equals_rpact_and_the_spending_function(index):
    ref, design = DESIGNS[index], ours(index)
    family = FAMILY[ref["typeOfDesign"]]
    np.testing.assert_allclose(design.alpha_spent, ref["alphaSpent"], rtol=0, atol=TOL)
    np.testing.assert_allclose(
        design.alpha_spent, gs.spending(ref["informationRates"], ref["alpha"], family,
                                        ref["gammaA"]), rtol=1e-12, atol=0)


@pytest.mark.parametrize("index", range(len(DESIGNS)), ids=IDS)
def test_the_bounds_cross_with_the_spent_alpha_under_h0(index):
    """The recursion run forward over the solved bounds gives back what was spent (with
    binding futility bounds, obeying them: the efficacy bounds were computed so)."""
    design = ours(index)
    h0 = gs.crossing_probabilities(design, 0.0, futility=design.binding_futility)
    np.testing.assert_allclose(h0.cumulative_power, design.alpha_spent, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("index", FUTILITY, ids=[IDS[i] for i in FUTILITY])
def test_futility_bounds_equal_rpact(index):
    ref, design = DESIGNS[index]["futility"], ours(index)
    np.testing.assert_allclose(design.futility_bounds, ref["futilityBounds"], rtol=0, atol=TOL)
    at_drift = gs.crossing_probabilities(design, design.futility_drift)
    np.testing.assert_allclose(np.cumsum(at_drift.futility), ref["betaSpent"][:-1], rtol=0,
                               atol=TOL)
    np.testing.assert_allclose(at_drift.cumulative_power, ref["power"], rtol=0, atol=TOL)
    beta_spent = gs.spending(design.information_fractions, design.beta,
                             design.futility_spending, design.futility_gamma)
    np.testing.assert_allclose(np.cumsum(at_drift.futility), beta_spent[:-1], rtol=1e-8)


@pytest.mark.parametrize("index", range(len(DESIGNS)), ids=IDS)
def test_design_characteristics_equal_rpact(index):
    ref, ch = DESIGNS[index]["characteristics"], characteristics(index)
    assert ch.inflation_factor == pytest.approx(ref["inflationFactor"], abs=TOL)
    assert ch.drift == pytest.approx(math.sqrt(ref["shift"]), abs=TOL)
    np.testing.assert_allclose(ch.h1.efficacy, ref["rejectionProbabilities"], rtol=0, atol=TOL)
    np.testing.assert_allclose(ch.h1.cumulative_power, ref["power"], rtol=0, atol=TOL)
    if ref["futilityProbabilities"] is not None:
        np.testing.assert_allclose(ch.h1.futility, ref["futilityProbabilities"], rtol=0,
                                   atol=TOL)
    for name, crossing in (("averageSampleNumber1", ch.h1), ("averageSampleNumber01", ch.h01),
                           ("averageSampleNumber0", ch.h0)):
        # rpact's ASN is relative to the fixed design: the information fraction x inflation
        assert crossing.expected_information * ch.inflation_factor == pytest.approx(
            ref[name], abs=TOL), name


@pytest.mark.parametrize("index", range(len(DESIGNS)), ids=IDS)
def test_power_and_expected_information_equal_rpact(index):
    ref, design = DESIGNS[index]["powerAndASN"], ours(index)
    for j, theta in enumerate(ref["theta"]):
        crossing = gs.crossing_probabilities(design, theta * math.sqrt(ref["nMax"]))
        assert crossing.power == pytest.approx(ref["calculatedPower"][j], abs=TOL)
        assert crossing.expected_information == pytest.approx(
            ref["averageSampleNumberFraction"][j], abs=TOL)
        np.testing.assert_allclose(crossing.efficacy, ref["rejectPerStage"][j], rtol=0,
                                   atol=TOL)
        np.testing.assert_allclose(crossing.efficacy[:-1] + crossing.futility,
                                   ref["earlyStop"][j][:-1], rtol=0, atol=TOL)
        if DESIGNS[index]["futility"] is not None:
            np.testing.assert_allclose(crossing.futility, ref["futilityPerStage"][j], rtol=0,
                                       atol=TOL)


# --------------------------------------------------------------------------- by Monte Carlo

def simulate_z(fractions, drift: float, n: int, seed: int) -> np.ndarray:
    """``n`` draws of (Z_1, ..., Z_K) from the canonical joint distribution, built from
    independent score increments: S_k = sum of N(drift dt_j, dt_j), Z_k = S_k / sqrt(t_k)."""
    t = np.asarray(fractions, dtype=float)
    dt = np.diff(t, prepend=0.0)
    rng = np.random.default_rng(seed)
    scores = np.cumsum(drift * dt + rng.standard_normal((n, t.size)) * np.sqrt(dt), axis=1)
    return scores / np.sqrt(t)


def first_stop(z: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-look rates of stopping above ``upper`` and below ``lower`` (first crossing)."""
    n, k_max = z.shape
    alive = np.ones(n, dtype=bool)
    above, below = np.zeros(k_max), np.zeros(k_max)
    for k in range(k_max):
        up, down = alive & (z[:, k] >= upper[k]), alive & (z[:, k] <= lower[k])
        above[k], below[k] = up.sum() / n, down.sum() / n
        alive &= ~(up | down)
    return above, below


def test_the_joint_distribution_simulated_is_the_canonical_one():
    z = simulate_z([0.3, 0.7, 1.0], 0.0, 200_000, seed=5)
    expected = np.sqrt(np.minimum.outer([0.3, 0.7, 1.0], [0.3, 0.7, 1.0])
                       / np.maximum.outer([0.3, 0.7, 1.0], [0.3, 0.7, 1.0]))
    np.testing.assert_allclose(np.cov(z, rowvar=False), expected, atol=0.01)


@pytest.mark.parametrize("efficacy, gamma, fractions, seed", [
    ("obrien_fleming", None, [0.2, 0.4, 0.6, 0.8, 1.0], 1),
    ("pocock", None, [0.3, 0.7, 1.0], 2),
    ("hsd", -2.0, [0.5, 1.0], 3),
])
def test_simulated_z_cross_with_probability_alpha_under_h0(efficacy, gamma, fractions, seed):
    """Overall and cumulative per-look rejection rates within 3 MCSE of the alpha spent."""
    n, alpha = 200_000, 0.025
    design = gs.design_group_sequential(fractions, alpha, efficacy, gamma)
    z = simulate_z(fractions, 0.0, n, seed)
    above, _ = first_stop(z, design.critical_values, design.lower_bounds(futility=False))
    mcse = math.sqrt(alpha * (1 - alpha) / n)
    assert abs(above.sum() - alpha) < 3 * mcse, (above.sum(), alpha, mcse)
    spent = design.alpha_spent
    mcse_k = np.sqrt(spent * (1 - spent) / n)
    assert np.all(np.abs(np.cumsum(above) - spent) < 3 * mcse_k), (np.cumsum(above), spent)


def test_simulated_power_and_futility_stops_under_h1_match_the_recursion():
    n = 200_000
    design = gs.design_group_sequential([0.3, 0.7, 1.0], 0.025, "hsd", -4.0,
                                        futility_spending="hsd", futility_gamma=-2.0)
    drift = gs.drift_for_power(design, 0.8)
    z = simulate_z(design.information_fractions, drift, n, seed=4)
    above, below = first_stop(z, design.critical_values, design.lower_bounds())
    exact = gs.crossing_probabilities(design, drift)
    for sim, p in zip(np.concatenate([above, below[:-1]]),
                      np.concatenate([exact.efficacy, exact.futility]), strict=True):
        assert abs(sim - p) < 3 * math.sqrt(p * (1 - p) / n), (sim, p)
    assert exact.power == pytest.approx(0.8, abs=1e-9)


# --------------------------------------------------------------------------- other checks

def test_a_single_look_is_the_fixed_design():
    design = gs.design_group_sequential([1.0], 0.025)
    assert design.critical_values[0] == pytest.approx(-ndtri(0.025), abs=1e-10)
    assert gs.inflation_factor(design, 0.9) == pytest.approx(1.0, abs=1e-9)
    assert gs.crossing_probabilities(design, 1.0).expected_information == 1.0


def test_the_drift_for_a_power_gives_that_power_and_the_inflation_factor():
    design = ours(IDS.index("asP-K4-a0.025"))
    drift = gs.drift_for_power(design, 0.9)
    assert gs.crossing_probabilities(design, drift).power == pytest.approx(0.9, abs=1e-10)
    fixed = -ndtri(0.025) + ndtri(0.9)
    assert gs.inflation_factor(design, 0.9) == pytest.approx((drift / fixed) ** 2, rel=1e-12)


def test_efficacy_bounds_is_the_design_s_critical_values():
    np.testing.assert_array_equal(
        gs.efficacy_bounds([0.5, 1.0], 0.025, "hsd", -4),
        gs.design_group_sequential([0.5, 1.0], 0.025, "hsd", -4).critical_values)


def test_nothing_left_to_spend_gives_an_infinite_bound():
    # O'Brien-Fleming spends ~1e-300 before t = 0.005: the first bound is out of reach
    design = gs.design_group_sequential([0.001, 0.5, 1.0], 0.025)
    assert design.critical_values[0] == math.inf
    assert np.all(np.isfinite(design.critical_values[1:]))
    h0 = gs.crossing_probabilities(design, 0.0)
    assert h0.power == pytest.approx(0.025, abs=1e-9)


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("fractions, message", [
    ([0.5, 0.5, 1.0], r"strictly increasing: 0\.5 at look 2 follows 0\.5"),
    ([0.7, 0.3, 1.0], r"strictly increasing: 0\.3 at look 2 follows 0\.7"),
    ([0.3, 0.7], r"last information fraction must be 1.*got 0\.7"),
    ([0.0, 0.5, 1.0], r"information fraction 0\.0 at look 1 is outside \(0, 1\]"),
    ([0.5, 1.2], r"information fraction 1\.2 at look 2 is outside \(0, 1\]"),
    ([0.5, float("nan"), 1.0], r"information fraction nan at look 2 is outside \(0, 1\]"),
    ([], r"non-empty list"),
    ([[0.5, 1.0]], r"non-empty list"),
])
def test_bad_information_fractions_are_named(fractions, message):
    with pytest.raises(ValueError, match=message):
        gs.design_group_sequential(fractions, 0.025)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_alpha_outside_the_unit_interval_is_named(alpha):
    with pytest.raises(ValueError, match=rf"alpha must be in \(0, 1\), got {alpha!r}"):
        gs.design_group_sequential([0.5, 1.0], alpha)


def test_alpha_that_is_not_a_number_is_named():
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 1\), got 'a'"):
        gs.design_group_sequential([0.5, 1.0], "a")


@pytest.mark.parametrize("kwargs, message", [
    (dict(efficacy_spending="hsd"), r"'hsd' spending family needs gamma"),
    (dict(efficacy_spending="hsd", efficacy_gamma=float("nan")),
     r"gamma must be a finite number, got nan"),
    (dict(efficacy_spending="hsd", efficacy_gamma=float("inf")),
     r"gamma must be a finite number, got inf"),
    (dict(efficacy_spending="hsd", efficacy_gamma="x"), r"gamma must be a finite number, got 'x'"),
    (dict(efficacy_spending="obrien_fleming", efficacy_gamma=-4),
     r"gamma = -4 is only a parameter of the 'hsd' family, not of 'obrien_fleming'"),
    (dict(efficacy_spending="asOF"),
     r"spending family 'asOF' is unknown; allowed: obrien_fleming, pocock, hsd"),
    (dict(futility_spending="hsd"), r"'hsd' spending family needs gamma"),
    (dict(futility_gamma=-2.0), r"futility_gamma = -2\.0 given without a futility_spending"),
    (dict(beta=0.99), r"beta = 0\.99 must be below 1 - alpha"),
    (dict(beta=0.0), r"beta must be in \(0, 1\), got 0\.0"),
])
def test_bad_spending_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gs.design_group_sequential([0.5, 1.0], 0.025, **kwargs)


def test_other_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"at least one interim look"):
        gs.design_group_sequential([1.0], futility_spending="pocock")
    with pytest.raises(ValueError, match=r"information fraction 1\.5 is outside \[0, 1\]"):
        gs.spending([0.5, 1.5], 0.025)
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\), got 2"):
        gs.spending(0.5, 2)
    design = gs.design_group_sequential([0.5, 1.0])
    with pytest.raises(ValueError, match=r"drift must be a finite number, got nan"):
        gs.crossing_probabilities(design, float("nan"))
    with pytest.raises(ValueError, match=r"power = 0\.01 must exceed alpha = 0\.025"):
        gs.drift_for_power(design, 0.01)


BINDING = [i for i in FUTILITY if DESIGNS[i]["futility"].get("bindingFutility")]


def test_the_golden_file_has_binding_designs():
    assert len(BINDING) >= 4


@pytest.mark.parametrize("index", BINDING, ids=[IDS[i] for i in BINDING])
def test_binding_futility_lowers_the_efficacy_bounds_and_spends_alpha_only_if_obeyed(index):
    """Binding bounds: the later efficacy bounds sit below the non-binding design's (the
    trials stopped for futility cannot cross), the type I error is alpha with the futility
    stops obeyed and above it when they are ignored (the price of binding)."""
    ref = DESIGNS[index]
    binding = ours(index)
    free = gs.design_group_sequential(
        ref["informationRates"], ref["alpha"], FAMILY[ref["typeOfDesign"]], ref["gammaA"],
        FAMILY[ref["futility"]["typeBetaSpending"]], ref["futility"]["gammaB"], ref["beta"])
    assert binding.binding_futility and not free.binding_futility
    assert binding.critical_values[0] == pytest.approx(free.critical_values[0], abs=1e-9)
    assert np.all(binding.critical_values[1:] < free.critical_values[1:] - 1e-4)
    obeyed = gs.crossing_probabilities(binding, 0.0, futility=True).power
    ignored = gs.crossing_probabilities(binding, 0.0, futility=False).power
    assert obeyed == pytest.approx(ref["alpha"], abs=1e-9)
    assert ignored > ref["alpha"] * 1.01


def test_binding_futility_needs_futility_bounds():
    with pytest.raises(ValueError, match="binding_futility needs futility"):
        gs.design_group_sequential([0.5, 1.0], binding_futility=True)
