"""The disease course, visit by visit, under standard of care and the drug (numba hot loop).

Model (one patient; docs/model.md has the full statement):

* global activity ``g_t = b + w_t`` with ``w_t`` a stationary AR(1) fluctuation;
* each clinical descriptor j is a two-state Markov chain whose stationary probability is
  ``expit(o_j + g_t - shift_t)`` and whose lag-one autocorrelation is ``persistence_j``: flares
  and remissions persist, they are not coin flips at each visit;
* ``shift_t`` = background therapy (onset curve, by region) + prednisone above its baseline
  dose + allowed immunosuppressant escalations + drug (Emax, onset, waning, modifiers);
* serological descriptors normalize and reappear as a Markov chain, the drug speeding up
  normalization;
* instruments (SLEDAI, PGA, BILAG) are scored at each visit; SELENA-SLEDAI Flare Index
  flares trigger steroid increases and immunosuppressant escalation, whose protocol
  violations make the patient a treatment failure; patients drop out at a constant hazard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from trialsim.config.scenario import RACES, REGIONS, Scenario
from trialsim.core.jit import jit
from trialsim.core.rng import STAGE_COURSE, fill_draws, normal_quantile
from trialsim.model.clasi import skin_bits
from trialsim.model.instruments import (
    BILAG_OF_DESCRIPTOR,
    CLINICAL,
    DESCRIPTOR_NAMES,
    FLAG_PROTEINURIA_UNSCORED,
    FLARE_MILD,
    FLARE_NONE,
    FLARE_SEVERE,
    MAJOR,
    N_BILAG,
    N_DESCRIPTORS,
    PROTEINURIA,
    PROTEINURIA_RULES,
    SLEDAI_WEIGHTS,
    activity_flags,
    bilag_grade,
    bilag_system_severity,
    clinical_sledai_score,
    is_high_steroid,
    pga_score,
    proteinuria_unscored,
    sfi_flare,
    sfi_severe_by_prednisone,
    sledai_score,
)
from trialsim.model.pk import PKParams, pk_params, visit_exposure
from trialsim.model.population import Cohort
from trialsim.model.protocol import (
    after_steroid_limit,
    breaks_immunosuppressant_rule,
    breaks_steroid_rule,
    dropout_per_visit,
    n_visits,
)
from trialsim.model.timescale import (
    MAX_PERSISTENCE_PER_WEEK,
    autocorrelation_over,
    probability_over,
    two_state_on_probability,
)

__all__ = [
    "FLARE_NONE", "FLARE_MILD", "FLARE_SEVERE", "Course", "CourseParams", "CoursePatients",
    "course_params", "course_patient", "run_course", "simulate_course", "N_UNIFORM", "N_NORMAL",
    "U_STEROID", "U_ESCALATE", "U_SYMPTOM", "U_TAPER", "U_DROPOUT", "Z_FLUCTUATION", "Z_PGA",
    "Z_BILAG",
]


@dataclass
class Course:
    """Visit-level arrays of one trial; visit 0 is baseline."""

    sledai: np.ndarray  # (n, n_visits) int16
    pga: np.ndarray  # (n, n_visits) float64
    bilag: np.ndarray  # (n, n_visits, n_bilag) int8
    prednisone: np.ndarray  # (n, n_visits) float64
    flare: np.ndarray  # (n, n_visits) int8: 0 none, 1 mild/moderate, 2 severe
    failure_visit: np.ndarray  # (n,) int64: first visit as treatment failure (n_visits = never)
    dropout_visit: np.ndarray  # (n,) int64: first visit missed (n_visits = completed)
    #: (n, n_visits) int16: SELENA-SLEDAI without the serological descriptors
    clinical_sledai: np.ndarray | None = None
    #: (n, n_visits) uint8: ``instruments.FLAG_MAJOR | FLAG_NEW`` bits of each visit
    activity_flags: np.ndarray | None = None
    #: with ``CourseParams.skin_outputs`` (the CLASI endpoints), else None:
    #: (n, n_visits) uint8 ``clasi.skin_bits`` of each visit's rash, alopecia, mucosal ulcers
    skin_bits: np.ndarray | None = None
    #: (n, n_visits) float64 global activity ``g`` (log-odds) at each visit
    global_activity: np.ndarray | None = None
    #: (n, n_visits) float64 the drug's part of the visit's shift (log-odds; 0 on placebo)
    drug_effect: np.ndarray | None = None


@jit
def drug_amplitude_of(p, race, serologically_active, disease_duration, prednisone, dose):
    """Full drug effect of one patient on drug (``dose`` > 0; log-odds of activity): ``emax``
    times the subgroup modifiers (race, serologically active, per 5 years of disease beyond
    2, prednisone above 7.5 mg/day); 0 on placebo. The course multiplies it by the
    exposure ``C_e / (EC50 + C_e)`` of the visit (model/pk.py) and the onset and waning.
    """
    if dose <= 0.0:
        return 0.0
    effect = p.emax * p.race_modifier[race]
    if serologically_active:
        effect *= p.serologically_active_modifier
    effect *= p.per_5y_duration_modifier ** (max(disease_duration - 2.0, 0.0) / 5.0)
    if is_high_steroid(prednisone):
        effect *= p.high_steroid_modifier
    return effect


@jit
def stabilization_amplitude_of(p, race, dose):
    """Steady-state fractional reduction of therapy escalations of one patient on drug (any
    dose > 0): ``drug.stabilization`` times the race modifier (no benefit where the drug has
    none), capped at 1; 0 on placebo."""
    if dose > 0.0:
        return min(p.stabilization * p.race_modifier[race], 1.0)
    return 0.0


@jit
def soc_amplitude_of(p, region):
    """Full background-therapy effect of one patient (log-odds), by region."""
    return max(p.soc_effect + p.soc_region_effect[region], 0.0)


@jit
def amplitudes(p, race, region, serologically_active, disease_duration, prednisone, dose):
    """``drug_amplitude_of``, ``stabilization_amplitude_of`` and ``soc_amplitude_of`` of
    each patient (arrays of one length in; three float arrays out)."""
    n = race.shape[0]
    drug = np.empty(n)
    stab = np.empty(n)
    soc = np.empty(n)
    for i in range(n):
        drug[i] = drug_amplitude_of(p, race[i], serologically_active[i], disease_duration[i],
                                    prednisone[i], dose[i])
        stab[i] = stabilization_amplitude_of(p, race[i], dose[i])
        soc[i] = soc_amplitude_of(p, region[i])
    return drug, stab, soc


def _amplitudes(scenario, cohort, dose, params=None):
    p = course_params(scenario) if params is None else params
    race = np.asarray(cohort.race, dtype=np.int64)
    region = np.asarray(cohort.region, dtype=np.int64)
    return amplitudes(
        p, race, region, np.asarray(cohort.serologically_active, dtype=np.bool_),
        np.asarray(cohort.disease_duration, dtype=np.float64),
        np.asarray(cohort.prednisone, dtype=np.float64),
        np.broadcast_to(np.asarray(dose, dtype=np.float64), race.shape).copy(),
    )


def drug_amplitude(scenario: Scenario, cohort, dose: np.ndarray) -> np.ndarray:
    """``drug_amplitude_of`` each patient (``dose``: the arm's dose, > 0 on drug)."""
    return _amplitudes(scenario, cohort, dose)[0]


def stabilization_amplitude(scenario: Scenario, cohort, dose: np.ndarray) -> np.ndarray:
    """``stabilization_amplitude_of`` each patient."""
    return _amplitudes(scenario, cohort, dose)[1]


@jit
def descriptor_on_probability(stationary, persistence, was_on):
    """P(descriptor active at this visit) of a two-state chain (docs/model.md §3).

    The chain has stationary probability ``stationary`` and lag-one autocorrelation
    ``persistence``: P(on | on) = π + λ(1 − π), P(on | off) = π(1 − λ).
    """
    if was_on:
        return stationary + persistence * (1.0 - stationary)
    return stationary * (1.0 - persistence)


@jit
def drug_time_course(week, lag, onset_weeks, waning_rate, waning_start):
    """Fraction of the steady-state drug effect reached at ``week`` (0 up to the lag).

    ``1 - exp(-(t - lag) / onset)`` after the onset lag, times
    ``exp(-waning_rate (t - waning_start))`` after the waning start (docs/model.md §3).
    """
    if week <= lag:
        return 0.0
    f = 1.0 - math.exp(-(week - lag) / onset_weeks)
    if waning_rate > 0.0 and week > waning_start:
        f *= math.exp(-waning_rate * (week - waning_start))
    return f


@jit
def tapered_dose(dose, floor_mg, fraction):
    """Prednisone after one taper step: ``max(floor, dose (1 - fraction))``."""
    return max(floor_mg, dose * (1.0 - fraction))


class CourseParams(NamedTuple):
    """Everything the course kernel needs that is the same for every patient of a scenario.

    Built once per scenario (``course_params``); field names follow the YAML paths of
    ``disease``, ``standard_of_care``, ``drug`` and ``design.protocol`` where they can.
    """

    interval_weeks: int
    n_visits: int  # including baseline (visit 0)
    # per visit (converted from the per-week values by ``course_params``):
    persistence: np.ndarray  # (d,) lag-one-visit autocorrelation of each descriptor's chain
    weights: np.ndarray  # (d,) SELENA-SLEDAI weights
    clinical: np.ndarray  # (d,) clinical (not serological) mask
    major: np.ndarray  # (d,) LLDAS major organ activity mask (instruments.MAJOR)
    proteinuria_rule: int  # instruments.PROTEINURIA_* (disease.sledai_proteinuria)
    proteinuria: int  # the proteinuria descriptor (instruments.PROTEINURIA)
    bilag_of: np.ndarray  # (d,) BILAG system of each descriptor, -1 for none
    fluctuation_sd: float
    fluctuation_ar1: float  # per visit
    soc_onset_weeks: float
    steroid_potency: float
    onset_lag_weeks: float
    onset_weeks: float
    waning_rate: float  # 1/week, 0 = sustained
    waning_start_weeks: float
    serology_normalize: float  # per week (the kernel converts: two_state_on_probability)
    serology_appear: float  # per week
    serology_drug_normalize: float  # per week and unit of drug effect
    pga_intercept: float
    pga_per_sledai_point: float
    pga_visit_sd: float
    bilag_threshold_a: float
    bilag_threshold_b: float
    bilag_visit_sd: float
    taper_prob: float  # per visit
    taper_fraction: float
    taper_floor_mg: float
    flare_increase_prob: float
    flare_increase_mg: float
    escalate_severe_prob: float
    escalate_mild_prob: float
    escalation_effect: float
    symptom_increase_prob: float  # per week (the kernel converts: probability_over)
    symptom_high_steroid_factor: float
    symptom_after_limit_factor: float
    immunosuppressant_increase_limit_week: float
    steroid_limit_week: float
    steroid_allowance_mg: float
    dropout_prob: float  # per visit
    # drug effect (drug_amplitude_of) and background therapy (soc_amplitude_of)
    emax: float
    race_modifier: np.ndarray  # (n_races,)
    serologically_active_modifier: float
    per_5y_duration_modifier: float
    high_steroid_modifier: float
    stabilization: float
    soc_effect: float
    soc_region_effect: np.ndarray  # (n_regions,)
    #: write each visit's skin descriptor bits, global activity and drug effect (the CLASI
    #: endpoints' input; model/skin.py ``trial_clasi``)
    skin_outputs: bool = False


class CoursePatients(NamedTuple):
    """The patients' arrays the course kernel starts from (first axis: patient)."""

    activity: np.ndarray  # (n,) global activity level b
    fluctuation0: np.ndarray  # (n,) fluctuation at baseline w0
    propensity: np.ndarray  # (n, d) organ log-odds per descriptor
    active0: np.ndarray  # (n, d) bool, descriptors at baseline
    soc_amp: np.ndarray  # (n,) background-therapy effect once optimized
    drug_amp: np.ndarray  # (n,) full drug effect, emax x modifiers (0 on placebo)
    #: (n, n_visits) fraction of the full effect the visit's effect-site concentration
    #: gives, C_e / (EC50 + C_e) (model/pk.py; 0 on placebo)
    exposure: np.ndarray
    stab_amp: np.ndarray  # (n,) steady-state reduction of escalations (0 on placebo)
    pga_rater: np.ndarray  # (n,)
    pga0: np.ndarray  # (n,)
    bilag_rater: np.ndarray  # (n, n_bilag)
    bilag0: np.ndarray  # (n, n_bilag) int8
    bilag_ever0: np.ndarray  # (n, n_bilag) bool
    prednisone0: np.ndarray  # (n,) mg/day
    weight_kg: np.ndarray  # (n,)
    on_is0: np.ndarray  # (n,) bool, on an immunosuppressant at baseline
    unit: np.ndarray  # (n,) int64 counter unit of the patient's draws (its screening index)


#: uniform slots of a patient-visit (``rng.fill_draws``): one per descriptor, then these
U_STEROID, U_ESCALATE, U_SYMPTOM, U_TAPER, U_DROPOUT = range(N_DESCRIPTORS, N_DESCRIPTORS + 5)
N_UNIFORM = N_DESCRIPTORS + 5
#: normal slots of a patient-visit: the fluctuation innovation, the PGA visit noise, then one
#: per BILAG system (its visit noise)
Z_FLUCTUATION, Z_PGA, Z_BILAG = 0, 1, 2
N_NORMAL = 2 + N_BILAG


@jit
def _normal(z, v, slot, as_uniform):
    return normal_quantile(z[v, slot]) if as_uniform else z[v, slot]


@jit
def course_patient(p, pt, i, u, z, z_as_uniform, sledai, pga, bilag, pred, flare, failure,
                   dropout, clinical_sledai, flags, curves, sbits, g_out, drug_out):
    """Simulate patient ``i``'s course from baseline to the last visit (docs/model.md §3).

    Parameters
    ----------
    p : CourseParams
    pt : CoursePatients
    i : int
        The patient.
    u : ndarray of float64, shape (n_visits, n_uniform)
        Uniforms of the patient by visit and slot (``U_*``; descriptor j uses slot j).
    z : ndarray of float64, shape (n_visits, n_normal)
        Standard normals by visit and slot (``Z_*``). Row 0 (baseline) is not read.
    z_as_uniform : bool
        ``z`` holds uniforms, mapped to normals (``rng.normal_quantile``) when read: the
        simulation's way, since most BILAG slots are not read; the tests give normals.
    sledai, pga, bilag, pred, flare, failure, dropout, clinical_sledai, flags
        The output arrays of ``simulate_course``; row ``i`` is written.
    curves : ndarray of float64, shape (2, n_visits)
        ``visit_curves(p)``: the fraction of the background-therapy and of the drug effect
        reached at each visit (the same for every patient).
    sbits, g_out, drug_out
        With ``p.skin_outputs``: the ``Course``'s ``skin_bits``, ``global_activity`` and
        ``drug_effect`` (row ``i`` written); else not touched (any arrays).
    """
    soc_curve = curves[0]
    drug_curve = curves[1]
    n_visits, interval_weeks = p.n_visits, p.interval_weeks
    weights, clinical, bilag_of, persistence = p.weights, p.clinical, p.bilag_of, p.persistence
    d = weights.shape[0]
    fluct_sd, fluct_ar1 = p.fluctuation_sd, p.fluctuation_ar1
    innov = math.sqrt(1.0 - fluct_ar1 * fluct_ar1) * fluct_sd
    p_norm0 = -math.log(1.0 - min(p.serology_normalize, 1.0 - 1e-12))
    # off drug the serology chain's interval transition is the same at every visit
    off0 = 1.0 - math.exp(-p_norm0)
    sero_on_on = two_state_on_probability(p.serology_appear, off0, interval_weeks, True)
    sero_on_off = two_state_on_probability(p.serology_appear, off0, interval_weeks, False)
    state = np.empty(d, dtype=np.bool_)
    previous = np.zeros(d, dtype=np.bool_)
    odds_off = np.empty(d)  # exp(-organ log-odds): expit(o + g) = 1 / (1 + odds_off exp(-g))
    ever = np.empty(N_BILAG, dtype=np.bool_)
    sev = np.zeros(N_BILAG)
    sys_on = np.zeros(N_BILAG, dtype=np.bool_)
    w = pt.fluctuation0[i]
    for j in range(d):
        state[j] = pt.active0[i, j]
        odds_off[j] = math.exp(-pt.propensity[i, j])
    sledai[i, 0] = sledai_score(state, weights)
    clinical_sledai[i, 0] = clinical_sledai_score(state, weights, clinical)
    flags[i, 0] = activity_flags(state, state, clinical, p.major)  # nothing new at baseline
    if p.skin_outputs:
        sbits[i, 0] = skin_bits(state)
        g_out[i, 0] = pt.activity[i] + w
        drug_out[i, 0] = 0.0
    pga[i, 0] = pt.pga0[i]
    for k in range(N_BILAG):
        bilag[i, 0, k] = pt.bilag0[i, k]
        ever[k] = pt.bilag_ever0[i, k]
    dose0 = pt.prednisone0[i]
    pred[i, 0] = dose0
    dose = dose0
    log_dose0 = math.log1p(dose0)
    on_is = pt.on_is0[i]
    escalation = 0.0
    failed = n_visits
    gone = n_visits
    drug_amp, stab_amp, soc_amp = pt.drug_amp[i], pt.stab_amp[i], pt.soc_amp[i]
    p_symptom = p.symptom_increase_prob * (
        p.symptom_high_steroid_factor if is_high_steroid(dose0) else 1.0
    )
    for v in range(1, n_visits):
        t = v * interval_weeks
        w = fluct_ar1 * w + innov * _normal(z, v, Z_FLUCTUATION, z_as_uniform)
        drug = 0.0
        stab = 0.0
        if drug_amp != 0.0 or stab_amp != 0.0:
            drug = drug_amp * pt.exposure[i, v] * drug_curve[v]
            stab = stab_amp * drug_curve[v]
        shift = (
            soc_amp * soc_curve[v]
            + p.steroid_potency * (math.log1p(dose) - log_dose0)
            + escalation
            + drug
        )
        g = pt.activity[i] + w - shift
        exp_minus_g = math.exp(-g)
        for j in range(d):
            previous[j] = state[j]
            if clinical[j]:
                stationary = 1.0 / (1.0 + odds_off[j] * exp_minus_g)
                p_on = descriptor_on_probability(stationary, persistence[j], state[j])
                state[j] = u[v, j] < p_on
            else:
                # per-week chain: appear, normalize (faster on drug), over the interval; a
                # marker changes when u < P(change), as a clinical descriptor's does not
                if drug == 0.0:
                    p_on = sero_on_on if state[j] else sero_on_off
                else:
                    off_per_week = 1.0 - math.exp(-(p_norm0 + p.serology_drug_normalize * drug))
                    p_on = two_state_on_probability(p.serology_appear, off_per_week,
                                                    interval_weeks, state[j])
                state[j] = u[v, j] >= 1.0 - p_on if state[j] else u[v, j] < p_on
        score = sledai_score(state, weights)
        clinical_score = clinical_sledai_score(state, weights, clinical)
        # the physician's PGA sees the activity, whatever the SLEDAI's scoring rule
        clinical_activity = clinical_score
        aflags = activity_flags(state, previous, clinical, p.major)
        if proteinuria_unscored(state, previous, v, p.proteinuria_rule, p.proteinuria):
            score -= weights[p.proteinuria]
            clinical_score -= weights[p.proteinuria]
            aflags |= FLAG_PROTEINURIA_UNSCORED
        sledai[i, v] = score
        clinical_sledai[i, v] = clinical_score
        flags[i, v] = aflags
        if p.skin_outputs:
            sbits[i, v] = skin_bits(state)
            g_out[i, v] = g
            drug_out[i, v] = drug
        x = pga_score(
            p.pga_intercept,
            p.pga_per_sledai_point,
            clinical_activity,
            pt.pga_rater[i],
            p.pga_visit_sd * _normal(z, v, Z_PGA, z_as_uniform),
        )
        pga[i, v] = x
        bilag_system_severity(state, weights, bilag_of, sev, sys_on)
        for k in range(N_BILAG):
            s = sev[k]
            if sys_on[k]:
                noise = _normal(z, v, Z_BILAG + k, z_as_uniform)
                s = sev[k] + pt.bilag_rater[i, k] + p.bilag_visit_sd * noise
                ever[k] = True
            bilag[i, v, k] = bilag_grade(s, sys_on[k], ever[k], p.bilag_threshold_a,
                                         p.bilag_threshold_b)
        # SELENA-SLEDAI Flare Index against the previous visit (domain.md §2.2)
        level = sfi_flare(score, sledai[i, v - 1], x, pga[i, v - 1])
        # the physician's response, and the protocol's view of it
        if level != FLARE_NONE:
            if u[v, U_STEROID] < p.flare_increase_prob:
                dose += p.flare_increase_mg * (2.0 if level == FLARE_SEVERE else 1.0)
                if sfi_severe_by_prednisone(dose, pt.weight_kg[i]):
                    level = FLARE_SEVERE
                if failed == n_visits and breaks_steroid_rule(
                    t, dose, dose0, p.steroid_limit_week, p.steroid_allowance_mg
                ):
                    failed = v
            esc = p.escalate_severe_prob if level == FLARE_SEVERE else p.escalate_mild_prob
            if u[v, U_ESCALATE] < esc * (1.0 - stab):
                level = FLARE_SEVERE
                if failed == n_visits and breaks_immunosuppressant_rule(
                    t, on_is, p.immunosuppressant_increase_limit_week
                ):
                    failed = v
                on_is = True
                escalation += p.escalation_effect
        elif u[v, U_SYMPTOM] < probability_over(
            min(1.0, 2.0 * p_symptom / (1.0 + exp_minus_g))
            * (1.0 - stab)
            * (p.symptom_after_limit_factor if after_steroid_limit(t, p.steroid_limit_week)
               else 1.0),
            interval_weeks,
        ):
            # symptoms outside the SLEDAI (fatigue, arthralgia, rash not scored...) lead
            # to a prednisone increase: an SFI mild/moderate flare by its medication rule
            level = FLARE_MILD
            dose += p.flare_increase_mg
            if failed == n_visits and breaks_steroid_rule(
                t, dose, dose0, p.steroid_limit_week, p.steroid_allowance_mg
            ):
                failed = v
        elif dose > p.taper_floor_mg and u[v, U_TAPER] < p.taper_prob:
            dose = tapered_dose(dose, p.taper_floor_mg, p.taper_fraction)
        flare[i, v] = level
        pred[i, v] = dose
        if gone == n_visits and u[v, U_DROPOUT] < p.dropout_prob:
            gone = v
    failure[i] = failed
    dropout[i] = gone


@jit
def visit_curves(p):
    """Fractions of the full background-therapy effect (``1 - exp(-t / onset)``) and of the
    steady-state drug effect (``drug_time_course``) at each visit, shape (2, n_visits)."""
    out = np.zeros((2, p.n_visits))
    for v in range(p.n_visits):
        t = v * p.interval_weeks
        out[0, v] = 1.0 - math.exp(-t / p.soc_onset_weeks)
        out[1, v] = drug_time_course(
            t, p.onset_lag_weeks, p.onset_weeks, p.waning_rate, p.waning_start_weeks
        )
    return out


@jit
def simulate_course(p, pt, k0, k1):
    """Simulate every patient's course; patient i draws from its own counter space.

    Parameters
    ----------
    p : CourseParams
    pt : CoursePatients
    k0, k1 : int
        The replicate key (``rng.replicate_key``): patient ``i`` at visit ``v`` reads the
        draws of (``STAGE_COURSE``, ``pt.unit[i]``, v), its screening index: no patient's
        draws depend on another's or on who else was enrolled.

    Returns
    -------
    sledai, pga, bilag, prednisone, flare, failure_visit, dropout_visit, clinical_sledai,
    activity_flags, skin_bits, global_activity, drug_effect
        As in ``Course``; the last three have shape (0, 0) unless ``p.skin_outputs``.
    """
    n_visits = p.n_visits
    n = pt.propensity.shape[0]
    sledai = np.zeros((n, n_visits), dtype=np.int16)
    pga = np.zeros((n, n_visits))
    bilag = np.zeros((n, n_visits, N_BILAG), dtype=np.int8)
    pred = np.zeros((n, n_visits))
    flare = np.zeros((n, n_visits), dtype=np.int8)
    failure = np.full(n, n_visits, dtype=np.int64)
    dropout = np.full(n, n_visits, dtype=np.int64)
    csledai = np.zeros((n, n_visits), dtype=np.int16)
    flags = np.zeros((n, n_visits), dtype=np.uint8)
    m = n if p.skin_outputs else 0
    sbits = np.zeros((m, n_visits if m else 0), dtype=np.uint8)
    g_out = np.zeros((m, n_visits if m else 0))
    drug_out = np.zeros((m, n_visits if m else 0))
    u = np.zeros((n_visits, N_UNIFORM))
    z = np.zeros((n_visits, N_NORMAL))
    scratch = np.empty((4, n_visits * ((2 * N_NORMAL + N_UNIFORM + 3) // 4)), dtype=np.uint64)
    curves = visit_curves(p)
    for i in range(n):
        fill_draws(k0, k1, STAGE_COURSE, pt.unit[i], 1, u, z, scratch, False)
        course_patient(p, pt, i, u, z, True, sledai, pga, bilag, pred, flare, failure, dropout,
                       csledai, flags, curves, sbits, g_out, drug_out)
    return (sledai, pga, bilag, pred, flare, failure, dropout, csledai, flags, sbits, g_out,
            drug_out)


def course_params(scenario: Scenario) -> CourseParams:
    """The scenario's ``CourseParams`` (the schema's values under the kernel's names)."""
    des = scenario.design
    dis = scenario.disease
    soc = scenario.standard_of_care
    drug = scenario.drug
    prot = des.protocol
    weeks = int(des.visit_interval_weeks)
    persistence = np.zeros(len(CLINICAL))
    for j, name in enumerate(DESCRIPTOR_NAMES):
        if CLINICAL[j]:
            per_week = min(dis.descriptors[name].persistence * dis.persistence_scale,
                           MAX_PERSISTENCE_PER_WEEK)
            persistence[j] = autocorrelation_over(per_week, weeks)
    half_life = drug.waning_half_life_weeks
    return CourseParams(
        interval_weeks=weeks,
        n_visits=int(n_visits(des.duration_weeks, des.visit_interval_weeks)),
        persistence=persistence,
        weights=SLEDAI_WEIGHTS,
        clinical=CLINICAL,
        major=MAJOR,
        proteinuria_rule=PROTEINURIA_RULES[dis.sledai_proteinuria],
        proteinuria=PROTEINURIA,
        bilag_of=BILAG_OF_DESCRIPTOR,
        fluctuation_sd=float(dis.fluctuation_sd),
        fluctuation_ar1=float(autocorrelation_over(float(dis.fluctuation_ar1), weeks)),
        soc_onset_weeks=float(soc.onset_weeks),
        steroid_potency=float(soc.steroid_potency),
        onset_lag_weeks=float(drug.onset_lag_weeks),
        onset_weeks=float(drug.onset_weeks),
        waning_rate=0.0 if half_life is None else math.log(2) / half_life,
        waning_start_weeks=float(drug.waning_start_weeks),
        serology_normalize=float(dis.serology.normalize),
        serology_appear=float(dis.serology.appear),
        serology_drug_normalize=float(dis.serology.drug_normalize),
        pga_intercept=float(dis.pga.intercept),
        pga_per_sledai_point=float(dis.pga.per_sledai_point),
        pga_visit_sd=float(dis.pga.visit_sd),
        bilag_threshold_a=float(dis.bilag.threshold_a),
        bilag_threshold_b=float(dis.bilag.threshold_b),
        bilag_visit_sd=float(dis.bilag.visit_sd),
        taper_prob=float(probability_over(float(soc.taper_prob), weeks)),
        taper_fraction=float(soc.taper_fraction),
        taper_floor_mg=float(soc.taper_floor_mg),
        flare_increase_prob=float(soc.flare_increase_prob),
        flare_increase_mg=float(soc.flare_increase_mg),
        escalate_severe_prob=float(soc.escalate_severe_prob),
        escalate_mild_prob=float(soc.escalate_mild_prob),
        escalation_effect=float(soc.escalation_effect),
        symptom_increase_prob=float(soc.symptom_increase_prob),
        symptom_high_steroid_factor=float(soc.symptom_high_steroid_factor),
        symptom_after_limit_factor=float(soc.symptom_after_limit_factor),
        immunosuppressant_increase_limit_week=float(prot.immunosuppressant_increase_limit_week),
        steroid_limit_week=float(prot.steroid_limit_week),
        steroid_allowance_mg=float(prot.steroid_allowance_mg),
        dropout_prob=float(dropout_per_visit(des.dropout_per_year, des.visit_interval_weeks)),
        emax=float(drug.emax),
        race_modifier=np.array([drug.modifiers.race.get(r, 1.0) for r in RACES], dtype=float),
        serologically_active_modifier=float(drug.modifiers.serologically_active),
        per_5y_duration_modifier=float(drug.modifiers.per_5y_duration),
        high_steroid_modifier=float(drug.modifiers.high_steroid),
        stabilization=float(drug.stabilization),
        soc_effect=float(soc.effect),
        soc_region_effect=np.array([soc.region_effect.get(r, 0.0) for r in REGIONS],
                                   dtype=float),
        skin_outputs=scenario.analysis.clasi_requested,
    )


def run_course(
    scenario: Scenario,
    cohort: Cohort,
    arm: np.ndarray,
    key: tuple[int, int],
    params: CourseParams | None = None,
    pk: PKParams | None = None,
) -> Course:
    """Thin validated wrapper: the scenario's parameters and the cohort's arrays in, a Course out.

    Parameters
    ----------
    scenario : Scenario
    cohort : Cohort
        Enrolled patients.
    arm : ndarray of int, shape (n,)
        Each patient's arm (index into ``scenario.design.arms``).
    key : (int, int)
        The replicate's key (``rng.replicate_key``).
    params : CourseParams, optional
        ``course_params(scenario)``, built once by the caller that runs many replicates.
    pk : PKParams, optional
        ``pk_params(scenario)``, likewise.
    """
    if params is None:
        params = course_params(scenario)
    if pk is None:
        pk = pk_params(scenario)
    arm = np.asarray(arm, dtype=np.int64)
    unit = np.arange(len(cohort)) if cohort.candidate is None else cohort.candidate
    weight = np.asarray(cohort.weight_kg, dtype=np.float64)
    exposure = visit_exposure(pk, arm, weight, np.asarray(unit, dtype=np.int64), key[0],
                              key[1])
    drug, stab, soc = _amplitudes(scenario, cohort, pk.amount[arm], params)
    patients = CoursePatients(
        activity=cohort.activity,
        fluctuation0=cohort.fluctuation,
        propensity=cohort.propensity,
        active0=cohort.active,
        soc_amp=soc,
        drug_amp=drug,
        stab_amp=stab,
        pga_rater=cohort.pga_rater,
        pga0=cohort.pga,
        bilag_rater=cohort.bilag_rater,
        bilag0=cohort.bilag,
        bilag_ever0=cohort.bilag_ever,
        prednisone0=cohort.prednisone,
        weight_kg=cohort.weight_kg,
        on_is0=cohort.immunosuppressant,
        unit=unit,
        exposure=exposure,
    )
    out = simulate_course(params, patients, key[0], key[1])
    skin = out[9:] if params.skin_outputs else (None, None, None)
    return Course(*out[:9], *skin)
