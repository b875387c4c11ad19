"""The plain reference's pharmacokinetics (tests/reference_model/plain.py, docs/model.md §3a).

Checked against facts that do not come from the reference's own propagation: the steady-state
average concentration over a dosing interval, F·D / (CL·τ), with the shipped parameters
(domain.md §5: ≈ 105 µg/mL for 10 mg/kg IV every 28 days in 70 kg, ≈ 104 µg/mL for 200 mg SC
weekly); an independent numerical integration of the ODEs (scipy's ``solve_ivp``, restarted
at every input); the left limit at a dose day; and the schedules against the config's own
``Arm.dose_days``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp, trapezoid

from tests.reference_model import plain
from trialsim.config.scenario import Arm, load_scenario

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def pk():
    return load_scenario(CONFIGS / "bliss76.yaml").drug.pk


def _steady_state_average(pk, route, weight, dose_mg, tau, n_doses=60, grid=20_000):
    """Average plasma and effect-site concentration over the last of ``n_doses`` intervals."""
    days = [tau * i for i in range(n_doses)]
    k, v1 = plain.pk_rate_matrix(pk, route, weight, 0.0, 0.0)
    inputs = plain.dose_inputs(pk, route, dose_mg, days, [True] * n_doses)
    start = tau * (n_doses - 1) + (pk.sc.lag_days if route == "sc" else 0.0)
    # just after the last input, then a fine grid over one interval
    t = start + 1e-12 + np.linspace(0.0, tau, grid + 1)
    x = plain.pk_states(k, inputs, t.tolist())
    c, ce = x[:, plain.CENTRAL] / v1, x[:, plain.EFFECT]
    return trapezoid(c, t) / tau, trapezoid(ce, t) / tau


def test_iv_steady_state_average_is_dose_over_clearance_times_interval(pk):
    weight, dose, tau = 70.0, 10.0 * 70.0, 28.0
    expected = dose / (pk.iv.clearance_ml_day / 1000.0 * tau)
    assert expected == pytest.approx(105.04, abs=0.01)
    c_avg, ce_avg = _steady_state_average(pk, "iv", weight, dose, tau)
    assert c_avg == pytest.approx(expected, rel=1e-5)
    # the effect compartment has unit gain: its average over a period equals the plasma one
    assert ce_avg == pytest.approx(expected, rel=1e-5)


def test_sc_steady_state_average_is_f_dose_over_clearance_times_interval(pk):
    dose, tau = 200.0, 7.0
    expected = pk.sc.bioavailability * dose / (pk.sc.clearance_ml_day / 1000.0 * tau)
    assert expected == pytest.approx(103.92, abs=0.01)
    c_avg, ce_avg = _steady_state_average(pk, "sc", 70.0, dose, tau)
    assert c_avg == pytest.approx(expected, rel=1e-5)
    assert ce_avg == pytest.approx(expected, rel=1e-5)


def test_steady_state_average_scales_with_allometric_clearance(pk):
    # 10 mg/kg in 100 kg: dose x 100/70, CL x (100/70)^0.75; the η on V1 does not matter
    weight, tau = 100.0, 28.0
    cl = pk.iv.clearance_ml_day / 1000.0 * (weight / 70.0) ** pk.weight_exponent_clearance
    c_avg, _ = _steady_state_average(pk, "iv", weight, 10.0 * weight, tau)
    assert c_avg == pytest.approx(10.0 * weight / (cl * tau), rel=1e-5)


def _ode_reference(pk, route, weight, dose_mg, dose_days, given, eta_cl, eta_v1, days):
    """C_e at ``days`` (left limits) by solve_ivp, restarted at every input (§3a as written)."""
    par = pk.iv if route == "iv" else pk.sc
    r = weight / pk.reference_weight_kg
    cl = par.clearance_ml_day / 1000 * r ** pk.weight_exponent_clearance * math.exp(eta_cl)
    q = par.intercompartmental_ml_day / 1000 * r ** pk.weight_exponent_clearance
    v1 = par.central_l * r ** pk.weight_exponent_volume * math.exp(eta_v1)
    v2 = par.peripheral_l * r ** pk.weight_exponent_volume
    ka = pk.sc.absorption_per_day if route == "sc" else 0.0
    ke0 = math.log(2) / pk.effect_half_life_days

    def rhs(_t, y):
        depot, a1, a2, ce = y
        return [-ka * depot,
                ka * depot - cl / v1 * a1 - q / v1 * a1 + q / v2 * a2,
                q / v1 * a1 - q / v2 * a2,
                ke0 * (a1 / v1 - ce)]

    if route == "iv":
        inputs = [(float(d), 1, dose_mg) for d, g in zip(dose_days, given, strict=True) if g]
    else:
        inputs = [(d + pk.sc.lag_days, 0, pk.sc.bioavailability * dose_mg)
                  for d, g in zip(dose_days, given, strict=True) if g]
    out, y, t = [], np.zeros(4), 0.0
    events = sorted([(d, 1, None, None) for d in days] + [(ti, 0, c, a) for ti, c, a in inputs],
                    key=lambda e: (e[0], -e[1]))  # a visit before an input on the same day
    for time, is_visit, comp, amount in events:
        if time > t:
            sol = solve_ivp(rhs, (t, time), y, rtol=1e-10, atol=1e-12, method="DOP853")
            y, t = sol.y[:, -1], time
        if is_visit:
            out.append(y[3])
        else:
            y = y.copy()
            y[comp] += amount
    return np.array(out)


@pytest.mark.parametrize(
    "route, weight, dose_mg, eta_cl, eta_v1",
    [("iv", 63.0, 630.0, 0.3, -0.8), ("sc", 92.0, 200.0, -0.2, 0.9), ("iv", 45.0, 45.0, 0, 0)],
)
def test_matrix_exponential_agrees_with_numerical_integration(pk, route, weight, dose_mg,
                                                              eta_cl, eta_v1):
    arm = Arm(dose_mg_kg=dose_mg / weight) if route == "iv" else Arm(dose_mg=dose_mg)
    schedule = plain.regimen_days(arm, 52)
    given = [i % 5 != 3 for i in range(len(schedule))]  # some missed doses
    days = [28.0 * v for v in range(14)]
    ours = plain.effect_site_concentrations(pk, route, weight, dose_mg, schedule, given,
                                            eta_cl, eta_v1, days)
    ode = _ode_reference(pk, route, weight, dose_mg, schedule, given, eta_cl, eta_v1, days)
    assert ours[0] == 0.0
    np.testing.assert_allclose(ours, ode, rtol=1e-7, atol=1e-9)


def test_a_visit_on_a_dose_day_sees_the_concentration_before_the_dose(pk):
    schedule = [0, 14, 28]
    eps = 1e-7
    days = [28.0 - eps, 28.0, 28.0 + eps]
    ce = plain.effect_site_concentrations(pk, "iv", 70.0, 700.0, schedule, [True] * 3, 0, 0, days)
    assert ce[1] == pytest.approx(ce[0], rel=1e-6)
    # the effect site responds continuously; the central compartment jumps at the dose
    k, v1 = plain.pk_rate_matrix(pk, "iv", 70.0, 0.0, 0.0)
    x = plain.pk_states(k, plain.dose_inputs(pk, "iv", 700.0, schedule, [True] * 3), days)
    assert x[2, plain.CENTRAL] - x[1, plain.CENTRAL] == pytest.approx(700.0, rel=1e-5)


def test_placebo_and_all_missed_give_no_concentration(pk):
    assert plain.regimen_days(Arm(dose_mg_kg=0.0), 52) == []
    ce = plain.effect_site_concentrations(pk, "sc", 70.0, 200.0, [0, 7, 14], [False] * 3,
                                          0, 0, [0.0, 7.0, 28.0])
    assert (ce == 0.0).all()


@pytest.mark.parametrize(
    "arm",
    [Arm(dose_mg_kg=10), Arm(dose_mg_kg=1), Arm(dose_mg=200), Arm(dose_mg_kg=0),
     Arm(dose_mg=400, route="iv"), Arm(dose_mg_kg=10, loading_days=[0, 7], interval_days=21),
     Arm(dose_mg=200, interval_days=14), Arm(dose_mg_kg=5, loading_days=[0, 14, 28, 400])],
)
@pytest.mark.parametrize("weeks", [4, 52, 76])
def test_schedules_agree_with_the_config(arm, weeks):
    assert plain.regimen_days(arm, weeks) == arm.dose_days(weeks)


def test_bliss_schedule():
    days = plain.regimen_days(Arm(dose_mg_kg=10), 76)
    assert days[:5] == [0, 14, 28, 56, 84] and days[-1] == 504
    assert plain.regimen_days(Arm(dose_mg=200), 4) == [0, 7, 14, 21]
