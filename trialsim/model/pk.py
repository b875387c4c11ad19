"""Belimumab pharmacokinetics: each patient's concentration at the effect site, visit by visit.

A linear two-compartment model (domain.md §5; no target-mediated clearance) with
intravenous doses into the central compartment or subcutaneous doses absorbed first-order
(rate ``ka``, bioavailability ``F``, lag), and an effect compartment that follows the central
concentration with rate ``ke0`` (``drug.pk.effect_half_life_days``). All of it is linear
and time-invariant, so a dose's effect-site concentration is a sum of exponentials
(``unit_response``), and a patient's concentration is the sum over the doses given: a trough
before a dose, a peak after it, the loading doses and a missed dose all show.

Patient parameters: clearances ``CL · (W / W_ref)^0.75`` and volumes ``V · (W / W_ref)^1``
(the published weight exponents, domain.md §5; the peripheral volume's is an assumption),
with log-normal between-patient variability on CL and V1 (``exp(η)``, η ~ N(0, ω²); the
published SC variances, used for both routes). IV doses are per kg (``dose_mg_kg × W``) or
fixed (``dose_mg``); SC doses are fixed mg. Each scheduled dose is missed with probability
``design.missed_dose_prob``, independently. The draws come from the ``pk`` stage of the
replicate's counters, addressed by the patient's screening index: the PK changes no other
draw of a run.

The kernel (``effect_site_concentrations``) steps a patient's exponential amplitudes day by
day: at whole days the result is exact (no ODE solver; checked against
``scipy.integrate.solve_ivp`` in the tests). A visit's assessment comes before that day's
dose (the trough, for a dose given at the visit).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from trialsim.config.scenario import Arm, Drug, Scenario
from trialsim.core.jit import jit
from trialsim.core.rng import STAGE_PK, counter_normals, counter_uniforms
from trialsim.model.protocol import n_visits

__all__ = ["ROUTE_NONE", "ROUTE_IV", "ROUTE_SC", "PKParams", "pk_params", "regimen_pk_params",
           "unit_response", "patient_response", "effect_site_concentrations", "visit_exposure",
           "typical_concentrations", "N_MODES"]

#: an arm's route code (``PKParams.route``): no drug (placebo), intravenous, subcutaneous
ROUTE_NONE, ROUTE_IV, ROUTE_SC = 0, 1, 2
#: exponential modes of an effect-site response: distribution, elimination, absorption
#: (SC only; an IV dose leaves its amplitude 0) and the effect compartment
N_MODES = 4
#: counter visit slots of a patient's PK draws: the two η, then one uniform per dose
_SLOT_ETA, _SLOT_MISSED = 0, 1


class PKParams(NamedTuple):
    """The PK of a scenario's arms, as the compiled trial reads it (``pk_params``).

    Clearances in L/day, volumes in L, rates per day, doses in mg, days from randomisation.
    Index 0 of the route arrays is IV, index 1 SC.
    """

    route: np.ndarray  # (n_arms,) int64 ROUTE_*
    amount: np.ndarray  # (n_arms,) float: mg per kg (per_kg) or mg
    per_kg: np.ndarray  # (n_arms,) bool
    dose_days: np.ndarray  # (n_arms, max_doses) int64, -1 padded
    clearance: np.ndarray  # (2,) L/day at the reference weight
    central: np.ndarray  # (2,) L
    intercompartmental: np.ndarray  # (2,) L/day
    peripheral: np.ndarray  # (2,) L
    absorption: float  # SC ka per day
    bioavailability: float  # SC F
    lag_days: float  # SC absorption lag
    reference_weight_kg: float
    weight_exponent_clearance: float
    weight_exponent_volume: float
    omega_clearance: float  # SD of η on CL
    omega_central: float  # SD of η on V1
    ke0: float  # effect compartment rate per day
    missed_dose_prob: float
    visit_days: np.ndarray  # (n_visits,) int64
    ec50_ug_ml: float


def pk_params(scenario: Scenario) -> PKParams:
    """The scenario's ``drug.pk``, the arms' regimens and the visit days."""
    des = scenario.design
    visits = n_visits(des.duration_weeks, des.visit_interval_weeks)
    return regimen_pk_params(scenario.drug, list(des.arms.values()), des.duration_weeks,
                             np.arange(visits, dtype=np.int64) * 7 * des.visit_interval_weeks,
                             des.missed_dose_prob)


def regimen_pk_params(drug: Drug, arms: list[Arm], duration_weeks: int,
                      visit_days: np.ndarray, missed_dose_prob: float) -> PKParams:
    """``PKParams`` of a drug block, a list of regimens (arms), the study's length in weeks
    and the days at which the concentrations are wanted (SLE trials: ``pk_params``; skin
    studies: ``model/skin.py``)."""
    pk = drug.pk
    schedules = [arm.dose_days(duration_weeks) for arm in arms]
    width = max([len(s) for s in schedules] + [1])
    days = np.full((len(arms), width), -1, dtype=np.int64)
    for a, s in enumerate(schedules):
        days[a, : len(s)] = s
    return PKParams(
        route=np.array([_route_code(arm) for arm in arms], dtype=np.int64),
        amount=np.array([arm.amount for arm in arms], dtype=np.float64),
        per_kg=np.array([arm.dose_mg is None for arm in arms], dtype=np.bool_),
        dose_days=days,
        clearance=np.array([pk.iv.clearance_ml_day, pk.sc.clearance_ml_day]) / 1000.0,
        central=np.array([pk.iv.central_l, pk.sc.central_l], dtype=np.float64),
        intercompartmental=np.array(
            [pk.iv.intercompartmental_ml_day, pk.sc.intercompartmental_ml_day]) / 1000.0,
        peripheral=np.array([pk.iv.peripheral_l, pk.sc.peripheral_l], dtype=np.float64),
        absorption=float(pk.sc.absorption_per_day),
        bioavailability=float(pk.sc.bioavailability),
        lag_days=float(pk.sc.lag_days),
        reference_weight_kg=float(pk.reference_weight_kg),
        weight_exponent_clearance=float(pk.weight_exponent_clearance),
        weight_exponent_volume=float(pk.weight_exponent_volume),
        omega_clearance=math.sqrt(pk.iiv_clearance_var),
        omega_central=math.sqrt(pk.iiv_central_var),
        ke0=math.log(2.0) / pk.effect_half_life_days,
        missed_dose_prob=float(missed_dose_prob),
        visit_days=np.asarray(visit_days, dtype=np.int64),
        ec50_ug_ml=float(drug.ec50_ug_ml),
    )


def _route_code(arm: Arm) -> int:
    if not arm.on_drug:
        return ROUTE_NONE
    return ROUTE_SC if arm.regimen_route == "sc" else ROUTE_IV


@jit
def _convolve(lam, coef, n, rate):
    """The modes of ``h * (rate e^{-rate t})`` (a first-order compartment fed by ``h``):
    each term ``c e^{-λ t}`` gives ``c r / (r - λ)`` on ``λ`` and minus that on ``r``.
    Mode ``n`` (the new one) is written; ``r`` is nudged by 10⁻⁶ relative where it equals a
    mode already there (the limit of a double root, to six digits)."""
    r = rate
    for k in range(n):
        if abs(r - lam[k]) < 1e-9 * r:
            r = rate * (1.0 + 1e-6)
    total = 0.0
    for k in range(n):
        c = coef[k] * r / (r - lam[k])
        coef[k] = c
        total += c
    lam[n] = r
    coef[n] = -total
    return n + 1


@jit
def unit_response(clearance, central, intercompartmental, peripheral, absorption, ke0):
    """Effect-site concentration (µg/mL) per mg given, as ``Σ_k coef[k] e^{-lam[k] t}``.

    Two compartments (CL, V1, Q, V2; L/day and L), fed directly (``absorption`` ≤ 0: an IV
    bolus) or through a first-order depot (``absorption`` = ka per day; bioavailability
    and lag are the caller's), then an effect compartment of rate ``ke0``. Mode order:
    α (distribution), β (elimination), ka (0 amplitude for IV), ke0.
    """
    lam = np.zeros(N_MODES)
    coef = np.zeros(N_MODES)
    k10 = clearance / central
    k12 = intercompartmental / central
    k21 = intercompartmental / peripheral
    s = k10 + k12 + k21
    root = math.sqrt(max(s * s - 4.0 * k10 * k21, 0.0))
    alpha = 0.5 * (s + root)
    beta = 0.5 * (s - root)
    lam[0] = alpha
    lam[1] = beta
    coef[0] = (alpha - k21) / ((alpha - beta) * central)
    coef[1] = (k21 - beta) / ((alpha - beta) * central)
    n = 2
    if absorption > 0.0:
        n = _convolve(lam, coef, n, absorption)
    else:
        lam[2] = 1.0  # a placeholder rate with amplitude 0
        n = 3
    _convolve(lam, coef, n, ke0)
    return lam, coef


@jit
def patient_response(p, route, weight, eta_cl, eta_v1):
    """``unit_response`` of one patient on ``route`` (``ROUTE_IV``/``ROUTE_SC``): weight
    and η applied; the SC bioavailability folded into the amplitudes."""
    r = 0 if route == ROUTE_IV else 1
    w = weight / p.reference_weight_kg
    fw_cl = w ** p.weight_exponent_clearance
    fw_v = w ** p.weight_exponent_volume
    lam, coef = unit_response(
        p.clearance[r] * fw_cl * math.exp(eta_cl),
        p.central[r] * fw_v * math.exp(eta_v1),
        p.intercompartmental[r] * fw_cl,
        p.peripheral[r] * fw_v,
        p.absorption if route == ROUTE_SC else 0.0,
        p.ke0,
    )
    if route == ROUTE_SC:
        for k in range(N_MODES):
            coef[k] *= p.bioavailability
    return lam, coef


@jit
def _patient_course(p, a, mg, lam, coef, missed, out):
    """Effect-site concentration of one patient at each visit day, into ``out``.

    The amplitudes of the modes at whole day ``T`` (before that day's dose) give
    ``C_e(T) = Σ_k amp[k]``; a dose of day ``t`` with lag ``L`` enters the step from day
    ``t + ⌊L⌋`` with ``mg · coef[k] · e^{-lam[k] (1 - frac L)}``.
    """
    route = p.route[a]
    lag = p.lag_days if route == ROUTE_SC else 0.0
    shift = int(math.floor(lag))
    frac = lag - shift
    decay = np.empty(N_MODES)
    kick = np.empty(N_MODES)
    amp = np.zeros(N_MODES)
    for k in range(N_MODES):
        decay[k] = math.exp(-lam[k])
        kick[k] = mg * coef[k] * math.exp(-lam[k] * (1.0 - frac))
    n_visits = p.visit_days.shape[0]
    last_day = p.visit_days[n_visits - 1]
    doses = p.dose_days[a]
    j = 0  # next dose
    v = 0  # next visit
    for day in range(last_day + 1):
        if day == p.visit_days[v]:
            c = 0.0
            for k in range(N_MODES):
                c += amp[k]
            out[v] = max(c, 0.0)
            v += 1
            if v == n_visits:
                break
        given = 0
        while j < doses.shape[0] and doses[j] >= 0 and doses[j] + shift <= day:
            if doses[j] + shift == day and not missed[j]:
                given += 1
            j += 1
        for k in range(N_MODES):
            amp[k] = amp[k] * decay[k] + given * kick[k]


@jit
def effect_site_concentrations(p, arm, weight, unit, k0, k1):
    """Every patient's effect-site concentration (µg/mL) at every visit, shape
    (n, n_visits); 0 on placebo. ``unit`` addresses each patient's draws."""
    n = arm.shape[0]
    n_visits = p.visit_days.shape[0]
    out = np.zeros((n, n_visits))
    width = p.dose_days.shape[1]
    missed = np.zeros(width, dtype=np.bool_)
    for i in range(n):
        a = arm[i]
        route = p.route[a]
        if route == ROUTE_NONE:
            continue
        eta = counter_normals(k0, k1, STAGE_PK, unit[i], _SLOT_ETA, 2)
        if p.missed_dose_prob > 0.0:
            u = counter_uniforms(k0, k1, STAGE_PK, unit[i], _SLOT_MISSED, width)
            for j in range(width):
                missed[j] = u[j] < p.missed_dose_prob
        lam, coef = patient_response(p, route, weight[i], p.omega_clearance * eta[0],
                                     p.omega_central * eta[1])
        mg = p.amount[a] * weight[i] if p.per_kg[a] else p.amount[a]
        _patient_course(p, a, mg, lam, coef, missed, out[i])
    return out


@jit
def visit_exposure(p, arm, weight, unit, k0, k1):
    """Every patient's fraction of Emax at every visit, ``C_e / (EC50 + C_e)`` of
    ``effect_site_concentrations`` (shape (n, n_visits); 0 on placebo): what the course
    kernel multiplies the drug effect by."""
    out = effect_site_concentrations(p, arm, weight, unit, k0, k1)
    flat = out.ravel()
    for k in range(flat.shape[0]):
        c = flat[k]
        flat[k] = c / (p.ec50_ug_ml + c)
    return out


def typical_concentrations(scenario: Scenario, weight_kg: float = 70.0,
                           days: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The typical patient's (η = 0, no missed dose) effect-site concentration of each drug
    arm on days ``days`` (default every day of the study): for figures and checks.

    Returns
    -------
    dict
        Arm name -> concentrations (µg/mL), and ``"day"`` -> the days.
    """
    des = scenario.design
    if days is None:
        days = np.arange(7 * des.duration_weeks + 1)
    days = np.asarray(days, dtype=np.int64)
    base = pk_params(scenario)
    p = base._replace(visit_days=days)
    out = {"day": days}
    for a, name in enumerate(des.arms):
        if p.route[a] == ROUTE_NONE:
            continue
        lam, coef = patient_response(p, p.route[a], weight_kg, 0.0, 0.0)
        mg = p.amount[a] * weight_kg if p.per_kg[a] else p.amount[a]
        conc = np.zeros(days.shape[0])
        _patient_course(p, a, mg, lam, coef, np.zeros(p.dose_days.shape[1], dtype=np.bool_),
                        conc)
        out[name] = conc
    return out
