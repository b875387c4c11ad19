"""Regimens and PK (model/pk.py, docs/model.md §3a).

The effect-site concentrations of the day-stepped sums of exponentials are checked against
an independent numerical solution of the ODEs (scipy ``solve_ivp``, restarted at each dose),
against the closed-form steady-state average ``F D / (CL τ)``, and against the weight,
between-patient and missed-dose rules; the regimen schema's errors name their field.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from trialsim.config.scenario import with_overrides
from trialsim.errors import ScenarioError
from trialsim.model.pk import (
    ROUTE_IV,
    ROUTE_SC,
    effect_site_concentrations,
    patient_response,
    pk_params,
    typical_concentrations,
    visit_exposure,
)

TWO_ARMS = {"placebo": {"dose_mg_kg": 0.0}, "iv10": {"dose_mg_kg": 10.0},
            "sc200": {"dose_mg": 200.0}}


@pytest.fixture(scope="module")
def regimens(bliss76):
    return with_overrides(bliss76, {"design.arms": TWO_ARMS, "design.duration_weeks": 52,
                                    "design.endpoint_weeks": [52]})


def ode_concentration(pk, route, weight, mg, dose_days, days, eta_cl=0.0, eta_v1=0.0):
    """Effect-site concentration on ``days`` by integrating docs/model.md §3a's ODEs."""
    comp = pk.iv if route == "iv" else pk.sc
    w = weight / pk.reference_weight_kg
    cl = comp.clearance_ml_day / 1000 * w ** pk.weight_exponent_clearance * math.exp(eta_cl)
    q = comp.intercompartmental_ml_day / 1000 * w ** pk.weight_exponent_clearance
    v1 = comp.central_l * w ** pk.weight_exponent_volume * math.exp(eta_v1)
    v2 = comp.peripheral_l * w ** pk.weight_exponent_volume
    ke0 = math.log(2) / pk.effect_half_life_days
    ka = pk.sc.absorption_per_day

    def rhs(_t, y):
        depot, a1, a2, ce = y
        c = a1 / v1
        absorbed = ka * depot
        return [-absorbed, absorbed - (cl + q) / v1 * a1 + q / v2 * a2,
                q / v1 * a1 - q / v2 * a2, ke0 * (c - ce)]

    if route == "iv":
        events = [(d, mg, 1) for d in dose_days]
    else:
        events = [(d + pk.sc.lag_days, mg * pk.sc.bioavailability, 0) for d in dose_days]
    y = np.zeros(4)
    t = 0.0
    out = []
    pending = sorted(events)
    for day in days:
        # a dose given on a visit day comes after the visit's assessment
        while pending and pending[0][0] < day:
            when, amount, where = pending.pop(0)
            if when > t:
                y = solve_ivp(rhs, (t, when), y, rtol=1e-10, atol=1e-12, method="LSODA").y[:, -1]
                t = when
            y = y.copy()
            y[where] += amount
        if day > t:
            y = solve_ivp(rhs, (t, day), y, rtol=1e-10, atol=1e-12, method="LSODA").y[:, -1]
            t = day
        out.append(y[3])
    return np.array(out)


@pytest.mark.parametrize("arm, route, weight", [("iv10", "iv", 70.0), ("iv10", "iv", 52.0),
                                                ("sc200", "sc", 70.0), ("sc200", "sc", 95.0)])
def test_concentrations_equal_the_odes(regimens, arm, route, weight):
    """Every visit's effect-site concentration equals the ODE solution to 1e-6 relative."""
    pk = regimens.drug.pk
    days = np.arange(0, 7 * 52 + 1, 7)
    got = typical_concentrations(regimens, weight, days)[arm]
    a = regimens.design.arms[arm]
    mg = a.amount * weight if a.dose_mg is None else a.amount
    want = ode_concentration(pk, route, weight, mg, a.dose_days(52), days)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert got[0] == 0.0 and got[-1] > 10.0


def test_concentrations_with_between_patient_variability_equal_the_odes(regimens):
    """η on CL and V1 enter as the docs say (checked on one patient with large η)."""
    p = pk_params(regimens)
    days = p.visit_days
    for route, eta in ((ROUTE_IV, (0.6, -0.9)), (ROUTE_SC, (-0.5, 1.1))):
        lam, coef = patient_response(p, route, 63.0, *eta)
        a = 1 if route == ROUTE_IV else 2
        arm_cfg = list(regimens.design.arms.values())[a]
        mg = arm_cfg.amount * 63.0 if arm_cfg.dose_mg is None else arm_cfg.amount
        from trialsim.model.pk import _patient_course

        got = np.zeros(days.shape[0])
        _patient_course(p, a, mg, lam, coef, np.zeros(p.dose_days.shape[1], dtype=bool), got)
        want = ode_concentration(regimens.drug.pk, "iv" if route == ROUTE_IV else "sc", 63.0,
                                 mg, arm_cfg.dose_days(52), days, *eta)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_steady_state_average_is_the_closed_form(regimens):
    """Mean effect-site concentration over a steady-state dosing interval = F D / (CL τ)
    (linear kinetics; the effect compartment keeps the average): 10 mg/kg IV every 28 days
    in 70 kg, 700 / (0.238 · 28) = 105.0 µg/mL; 200 mg SC weekly, 0.742 · 200 / (0.204 · 7)
    = 103.9 µg/mL (domain.md §5: about 104). Trapezoid over days, within 0.5%."""
    pk = regimens.drug.pk
    days = np.arange(0, 7 * 52 + 1)
    tc = typical_concentrations(regimens, 70.0, days)
    iv = tc["iv10"][280:309]  # days 280 … 308: one interval, doses on 280 and 308
    sc = tc["sc200"][336:344]
    expect_iv = 700.0 / (pk.iv.clearance_ml_day / 1000 * 28)
    expect_sc = pk.sc.bioavailability * 200.0 / (pk.sc.clearance_ml_day / 1000 * 7)
    assert np.trapezoid(iv, dx=1.0) / 28 == pytest.approx(expect_iv, rel=5e-3)
    assert np.trapezoid(sc, dx=1.0) / 7 == pytest.approx(expect_sc, rel=5e-3)
    assert expect_iv == pytest.approx(105.0, abs=0.1)
    assert expect_sc == pytest.approx(103.9, abs=0.1)
    # IV troughs and peaks: the dose matters within an interval, SC hardly moves
    assert iv.max() / iv.min() > 1.4
    assert sc.max() / sc.min() < 1.02


def test_loading_doses_reach_the_plateau_sooner(regimens):
    """IV 0, 14, 28 then every 28 days against every 28 days from day 0: higher at week 4
    and 8, the same at steady state (week 52 within 0.5%)."""
    no_load = with_overrides(regimens, {"design.arms.iv10.loading_days": [0]})
    days = np.array([28, 56, 364])
    with_load = typical_concentrations(regimens, 70.0, days)["iv10"]
    without = typical_concentrations(no_load, 70.0, days)["iv10"]
    assert with_load[0] > 1.3 * without[0]
    assert with_load[1] > 1.1 * without[1]
    assert with_load[2] == pytest.approx(without[2], rel=5e-3)


def test_dose_schedules(bliss52):
    """BLISS's IV schedule to week 48 of a 52-week study; SC weekly; custom intervals."""
    arms = bliss52.design.arms
    assert arms["bel10"].dose_days(52) == [0, 14, 28] + list(range(56, 364, 28))
    assert arms["placebo"].dose_days(52) == []
    sc = with_overrides(bliss52, {"design.arms.bel10": {"dose_mg": 200}}).design.arms["bel10"]
    assert sc.regimen_route == "sc" and sc.dose_days(4) == [0, 7, 14, 21]
    q2w = with_overrides(bliss52, {"design.arms.bel10": {
        "dose_mg": 400, "route": "sc", "loading_days": [0, 7], "interval_days": 14}})
    assert q2w.design.arms["bel10"].dose_days(6) == [0, 7, 21, 35]


def test_weight_scales_exposure_as_the_allometry_says(regimens):
    """Steady-state average ∝ dose / CL: per-kg dosing gives W^0.25, a fixed dose W^-0.75."""
    days = np.arange(280, 309)
    light = typical_concentrations(regimens, 50.0, days)
    heavy = typical_concentrations(regimens, 100.0, days)
    ratio_iv = np.trapezoid(heavy["iv10"]) / np.trapezoid(light["iv10"])
    ratio_sc = np.trapezoid(heavy["sc200"]) / np.trapezoid(light["sc200"])
    assert ratio_iv == pytest.approx(2.0 ** 0.25, rel=5e-3)
    assert ratio_sc == pytest.approx(2.0 ** -0.75, rel=5e-3)


def test_between_patient_variability_and_missed_doses(regimens):
    """Over 4,000 patients of one weight on SC (where the concentration barely moves within
    the interval): log steady-state concentration has variance ≈ ω²_CL = 0.091 (V1 barely
    matters for the average; chi-square SE of the variance ≈ 0.002); with each dose missed
    with probability 0.3, the mean concentration is 0.7 × the full one (linear kinetics;
    within 4 Monte Carlo SE) and placebo patients have none."""
    n = 4000
    arm = np.full(n, 2, dtype=np.int64)
    arm[:10] = 0
    weight = np.full(n, 70.0)
    unit = np.arange(n, dtype=np.int64)
    p = pk_params(regimens)
    conc = effect_site_concentrations(p, arm, weight, unit, 5, 9)
    assert np.all(conc[:10] == 0.0)
    late = np.log(conc[10:, -1])
    assert late.var() == pytest.approx(0.091, abs=4 * 0.091 * math.sqrt(2 / n) + 0.004)
    missed = effect_site_concentrations(p._replace(missed_dose_prob=0.3), arm, weight, unit, 5, 9)
    ratio = missed[10:, -1] / conc[10:, -1]
    se = ratio.std() / math.sqrt(n - 10)
    assert ratio.mean() == pytest.approx(0.7, abs=4 * se)
    assert se < 0.01
    # the same patients keep their η: no missed dose gives the same concentrations
    again = effect_site_concentrations(p, arm, weight, unit, 5, 9)
    np.testing.assert_array_equal(again, conc)


def test_visit_exposure_is_the_emax_fraction_of_the_concentrations(regimens):
    """C / (EC50 + C) of each patient-visit: 0 on placebo, a half at C = EC50."""
    p = pk_params(regimens)
    arm = np.array([0, 1, 2, 1], dtype=np.int64)
    weight = np.array([60.0, 70.0, 80.0, 90.0])
    unit = np.arange(4, dtype=np.int64)
    conc = effect_site_concentrations(p, arm, weight, unit, 3, 4)
    got = visit_exposure(p, arm, weight, unit, 3, 4)
    np.testing.assert_allclose(got, conc / (p.ec50_ug_ml + conc))
    assert np.all(got[0] == 0.0) and got[1, -1] > 0.5
    at_ec50 = visit_exposure(p._replace(ec50_ug_ml=float(conc[1, -1])), arm, weight, unit, 3, 4)
    assert at_ec50[1, -1] == pytest.approx(0.5)


@pytest.mark.parametrize("arm, where, words", [
    ({"dose_mg_kg": 10, "dose_mg": 200}, "design.arms.bel10", ["dose_mg_kg", "dose_mg",
                                                               "not both"]),
    ({"allocation": 2}, "design.arms.bel10", ["dose_mg_kg", "dose_mg"]),
    ({"dose_mg_kg": 10, "route": "sc"}, "design.arms.bel10", ["subcutaneous", "dose_mg"]),
    ({"dose_mg_kg": 10, "loading_days": [0, 14, 14]}, "design.arms.bel10",
     ["loading_days", "[0, 14, 14]"]),
    ({"dose_mg_kg": 10, "loading_days": [7]}, "design.arms.bel10", ["day 0"]),
    ({"dose_mg": 200, "interval_days": 0}, "design.arms.bel10.interval_days", ["1"]),
    ({"dose_mg": 200, "route": "im"}, "design.arms.bel10.route", ["iv", "sc"]),
])
def test_bad_regimens_are_named(bliss52, arm, where, words):
    with pytest.raises(ScenarioError) as err:
        with_overrides(bliss52, {"design.arms.bel10": arm})
    msg = str(err.value)
    assert where in msg, msg
    for w in words:
        assert w in msg, msg


def test_the_pk_draws_change_nothing_else(bliss76):
    """A different regimen of one arm leaves the cohort, the randomisation and every placebo
    patient's course as they were (the PK draws have their own counter stage)."""
    from trialsim.run.trial import ReplicatePatients

    base = with_overrides(bliss76, {"design.sample_size": 120,
                                    "analysis.subgroups.factors": []})
    other = with_overrides(base, {"design.arms.bel10": {"dose_mg": 200},
                                  "drug.pk.iiv_clearance_var": 0.5,
                                  "design.missed_dose_prob": 0.2})
    a, b = ReplicatePatients(base)(3), ReplicatePatients(other)(3)
    np.testing.assert_array_equal(a.arm, b.arm)
    placebo = a.arm == 0
    assert placebo.sum() > 20
    np.testing.assert_array_equal(a.course.sledai[placebo], b.course.sledai[placebo])
    np.testing.assert_array_equal(a.course.prednisone[placebo], b.course.prednisone[placebo])
    on_bel10 = a.arm == list(base.design.arms).index("bel10")
    assert not np.array_equal(a.course.sledai[on_bel10], b.course.sledai[on_bel10])
