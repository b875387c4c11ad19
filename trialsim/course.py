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

from .instruments import (
    BILAG_OF_DESCRIPTOR,
    CLINICAL,
    DESCRIPTOR_NAMES,
    FLARE_MILD,
    FLARE_NONE,
    FLARE_SEVERE,
    N_BILAG,
    SLEDAI_WEIGHTS,
    bilag_grade,
    bilag_system_severity,
    high_steroid,
    is_high_steroid,
    pga_score,
    sfi_flare,
    sfi_severe_by_prednisone,
    sledai_score,
)
from .jit import jit
from .population import Cohort
from .protocol import (
    after_steroid_limit,
    breaks_immunosuppressant_rule,
    breaks_steroid_rule,
    dropout_per_visit,
    n_visits,
)
from .scenario import RACES, REGIONS, Scenario

__all__ = [
    "FLARE_NONE", "FLARE_MILD", "FLARE_SEVERE", "Course", "CourseParams", "CoursePatients",
    "course_params", "run_course", "simulate_course",
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


def drug_amplitude(scenario: Scenario, cohort: Cohort, dose_mg_kg: np.ndarray) -> np.ndarray:
    """Steady-state drug effect of each patient (log-odds of activity), before onset/waning.

    ``emax * C / (EC50 + C)`` with ``C = cavg_per_mg_kg * dose`` (linear PK, domain.md §5),
    times the subgroup modifiers.
    """
    drug = scenario.drug
    mod = drug.modifiers
    conc = drug.cavg_per_mg_kg * dose_mg_kg
    effect = drug.emax * conc / (drug.ec50_ug_ml + conc)
    race_factor = np.array([mod.race.get(r, 1.0) for r in RACES])[cohort.race]
    sero = np.where(cohort.serologically_active, mod.serologically_active, 1.0)
    duration = mod.per_5y_duration ** (np.maximum(cohort.disease_duration - 2.0, 0.0) / 5.0)
    steroid = np.where(high_steroid(cohort.prednisone), mod.high_steroid, 1.0)
    return effect * race_factor * sero * duration * steroid


def stabilization_amplitude(scenario: Scenario, cohort: Cohort, dose_mg_kg: np.ndarray
                            ) -> np.ndarray:
    """Steady-state fractional reduction of therapy escalations on drug (any dose > 0).

    ``drug.stabilization`` times the race modifier (no benefit where the drug has none),
    capped at 1; 0 on placebo.
    """
    mod = scenario.drug.modifiers
    race_factor = np.array([mod.race.get(r, 1.0) for r in RACES])[cohort.race]
    return np.where(dose_mg_kg > 0, np.minimum(scenario.drug.stabilization * race_factor, 1.0),
                    0.0)


def soc_amplitude(scenario: Scenario, cohort: Cohort) -> np.ndarray:
    """Full background-therapy effect of each patient (log-odds), by region."""
    soc = scenario.standard_of_care
    region = np.array([soc.region_effect.get(r, 0.0) for r in REGIONS])
    return np.maximum(soc.effect + region[cohort.region], 0.0)


@jit
def _expit(x):
    return 1.0 / (1.0 + math.exp(-x))


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
    persistence: np.ndarray  # (d,) lag-one autocorrelation of each descriptor's chain
    weights: np.ndarray  # (d,) SELENA-SLEDAI weights
    clinical: np.ndarray  # (d,) clinical (not serological) mask
    bilag_of: np.ndarray  # (d,) BILAG system of each descriptor, -1 for none
    fluctuation_sd: float
    fluctuation_ar1: float
    soc_onset_weeks: float
    steroid_potency: float
    onset_lag_weeks: float
    onset_weeks: float
    waning_rate: float  # 1/week, 0 = sustained
    waning_start_weeks: float
    serology_normalize: float
    serology_appear: float
    serology_drug_normalize: float
    pga_intercept: float
    pga_per_sledai_point: float
    pga_visit_sd: float
    bilag_threshold_a: float
    bilag_threshold_b: float
    bilag_visit_sd: float
    taper_prob: float
    taper_fraction: float
    taper_floor_mg: float
    flare_increase_prob: float
    flare_increase_mg: float
    escalate_severe_prob: float
    escalate_mild_prob: float
    escalation_effect: float
    symptom_increase_prob: float
    symptom_high_steroid_factor: float
    symptom_after_limit_factor: float
    immunosuppressant_increase_limit_week: float
    steroid_limit_week: float
    steroid_allowance_mg: float
    dropout_prob: float  # per visit


class CoursePatients(NamedTuple):
    """The patients' arrays the course kernel starts from (first axis: patient)."""

    activity: np.ndarray  # (n,) global activity level b
    fluctuation0: np.ndarray  # (n,) fluctuation at baseline w0
    propensity: np.ndarray  # (n, d) organ log-odds per descriptor
    active0: np.ndarray  # (n, d) bool, descriptors at baseline
    soc_amp: np.ndarray  # (n,) background-therapy effect once optimized
    drug_amp: np.ndarray  # (n,) steady-state drug effect (0 on placebo)
    stab_amp: np.ndarray  # (n,) steady-state reduction of escalations (0 on placebo)
    pga_rater: np.ndarray  # (n,)
    pga0: np.ndarray  # (n,)
    bilag_rater: np.ndarray  # (n, n_bilag)
    bilag0: np.ndarray  # (n, n_bilag) int8
    bilag_ever0: np.ndarray  # (n, n_bilag) bool
    prednisone0: np.ndarray  # (n,) mg/day
    weight_kg: np.ndarray  # (n,)
    on_is0: np.ndarray  # (n,) bool, on an immunosuppressant at baseline


@jit
def simulate_course(rng, p, pt):
    """Simulate every patient's course from baseline to the last visit (docs/model.md §3).

    Parameters
    ----------
    rng : numpy.random.Generator
        Or any object with ``random()`` and ``standard_normal()`` (the tests script it).
    p : CourseParams
    pt : CoursePatients

    Returns
    -------
    sledai, pga, bilag, prednisone, flare, failure_visit, dropout_visit
        As in ``Course``.
    """
    interval_weeks, n_visits = p.interval_weeks, p.n_visits
    weights, clinical, bilag_of, persistence = p.weights, p.clinical, p.bilag_of, p.persistence
    fluct_sd, fluct_ar1 = p.fluctuation_sd, p.fluctuation_ar1
    soc_onset, steroid_potency = p.soc_onset_weeks, p.steroid_potency
    drug_lag, drug_onset = p.onset_lag_weeks, p.onset_weeks
    waning_rate, waning_start = p.waning_rate, p.waning_start_weeks
    sero_normalize, sero_appear, sero_drug = (
        p.serology_normalize, p.serology_appear, p.serology_drug_normalize
    )
    taper_prob, taper_fraction, taper_floor = p.taper_prob, p.taper_fraction, p.taper_floor_mg
    inc_prob, inc_mg = p.flare_increase_prob, p.flare_increase_mg
    esc_sev, esc_mild, esc_effect = (
        p.escalate_severe_prob, p.escalate_mild_prob, p.escalation_effect
    )
    symptom_prob, symptom_high_steroid, symptom_late = (
        p.symptom_increase_prob, p.symptom_high_steroid_factor, p.symptom_after_limit_factor
    )
    is_limit, steroid_limit, allowance = (
        p.immunosuppressant_increase_limit_week, p.steroid_limit_week, p.steroid_allowance_mg
    )
    thr_a, thr_b, bilag_sd = p.bilag_threshold_a, p.bilag_threshold_b, p.bilag_visit_sd
    dropout_prob = p.dropout_prob
    activity, fluctuation0, propensity, active0 = (
        pt.activity, pt.fluctuation0, pt.propensity, pt.active0
    )
    soc_amp, drug_amp, stab_amp = pt.soc_amp, pt.drug_amp, pt.stab_amp
    pga_rater, pga0, bilag_rater = pt.pga_rater, pt.pga0, pt.bilag_rater
    bilag0, bilag_ever0 = pt.bilag0, pt.bilag_ever0
    prednisone0, weight_kg, on_is0 = pt.prednisone0, pt.weight_kg, pt.on_is0
    n, d = propensity.shape
    clinical_weights = weights * clinical
    sledai = np.zeros((n, n_visits), dtype=np.int16)
    pga = np.zeros((n, n_visits))
    bilag = np.zeros((n, n_visits, N_BILAG), dtype=np.int8)
    pred = np.zeros((n, n_visits))
    flare = np.zeros((n, n_visits), dtype=np.int8)
    failure = np.full(n, n_visits, dtype=np.int64)
    dropout = np.full(n, n_visits, dtype=np.int64)
    state = np.zeros(d, dtype=np.bool_)
    ever = np.zeros(N_BILAG, dtype=np.bool_)
    sev = np.zeros(N_BILAG)
    sys_on = np.zeros(N_BILAG, dtype=np.bool_)
    innov = math.sqrt(1.0 - fluct_ar1 * fluct_ar1) * fluct_sd
    p_norm0 = -math.log(1.0 - min(sero_normalize, 1.0 - 1e-12))
    for i in range(n):
        w = fluctuation0[i]
        for j in range(d):
            state[j] = active0[i, j]
        sledai[i, 0] = sledai_score(state, weights)
        pga[i, 0] = pga0[i]
        for k in range(N_BILAG):
            bilag[i, 0, k] = bilag0[i, k]
            ever[k] = bilag_ever0[i, k]
        pred[i, 0] = prednisone0[i]
        dose = prednisone0[i]
        log_dose0 = math.log1p(prednisone0[i])
        on_is = on_is0[i]
        escalation = 0.0
        failed = n_visits
        p_symptom = symptom_prob * (
            symptom_high_steroid if is_high_steroid(prednisone0[i]) else 1.0
        )
        for v in range(1, n_visits):
            t = v * interval_weeks
            w = fluct_ar1 * w + innov * rng.standard_normal()
            drug = 0.0
            stab = 0.0
            if drug_amp[i] != 0.0 or stab_amp[i] != 0.0:
                course_of_effect = drug_time_course(
                    t, drug_lag, drug_onset, waning_rate, waning_start
                )
                drug = drug_amp[i] * course_of_effect
                stab = stab_amp[i] * course_of_effect
            shift = (
                soc_amp[i] * (1.0 - math.exp(-t / soc_onset))
                + steroid_potency * (math.log1p(dose) - log_dose0)
                + escalation
                + drug
            )
            g = activity[i] + w - shift
            for j in range(d):
                if clinical[j]:
                    p_on = descriptor_on_probability(
                        _expit(propensity[i, j] + g), persistence[j], state[j]
                    )
                    state[j] = rng.random() < p_on
                else:
                    if state[j]:
                        hazard = p_norm0 + sero_drug * drug
                        state[j] = rng.random() >= 1.0 - math.exp(-hazard)
                    else:
                        state[j] = rng.random() < sero_appear
            score = sledai_score(state, weights)
            sledai[i, v] = score
            x = pga_score(
                p.pga_intercept,
                p.pga_per_sledai_point,
                sledai_score(state, clinical_weights),
                pga_rater[i],
                p.pga_visit_sd * rng.standard_normal(),
            )
            pga[i, v] = x
            bilag_system_severity(state, weights, bilag_of, sev, sys_on)
            for k in range(N_BILAG):
                s = sev[k]
                if sys_on[k]:
                    s = sev[k] + bilag_rater[i, k] + bilag_sd * rng.standard_normal()
                    ever[k] = True
                bilag[i, v, k] = bilag_grade(s, sys_on[k], ever[k], thr_a, thr_b)
            # SELENA-SLEDAI Flare Index against the previous visit (domain.md §2.2)
            level = sfi_flare(score, sledai[i, v - 1], x, pga[i, v - 1])
            # the physician's response, and the protocol's view of it
            if level != FLARE_NONE:
                if rng.random() < inc_prob:
                    dose += inc_mg * (2.0 if level == FLARE_SEVERE else 1.0)
                    if sfi_severe_by_prednisone(dose, weight_kg[i]):
                        level = FLARE_SEVERE
                    if failed == n_visits and breaks_steroid_rule(
                        t, dose, prednisone0[i], steroid_limit, allowance
                    ):
                        failed = v
                esc = esc_sev if level == FLARE_SEVERE else esc_mild
                if rng.random() < esc * (1.0 - stab):
                    level = FLARE_SEVERE
                    if failed == n_visits and breaks_immunosuppressant_rule(t, on_is, is_limit):
                        failed = v
                    on_is = True
                    escalation += esc_effect
            elif rng.random() < (
                min(1.0, 2.0 * p_symptom * _expit(g))
                * (1.0 - stab)
                * (symptom_late if after_steroid_limit(t, steroid_limit) else 1.0)
            ):
                # symptoms outside the SLEDAI (fatigue, arthralgia, rash not scored...) lead
                # to a prednisone increase: an SFI mild/moderate flare by its medication rule
                level = FLARE_MILD
                dose += inc_mg
                if failed == n_visits and breaks_steroid_rule(
                    t, dose, prednisone0[i], steroid_limit, allowance
                ):
                    failed = v
            elif dose > taper_floor and rng.random() < taper_prob:
                dose = tapered_dose(dose, taper_floor, taper_fraction)
            flare[i, v] = level
            pred[i, v] = dose
            if dropout[i] == n_visits and rng.random() < dropout_prob:
                dropout[i] = v
        failure[i] = failed
    return sledai, pga, bilag, pred, flare, failure, dropout


def course_params(scenario: Scenario) -> CourseParams:
    """The scenario's ``CourseParams`` (the schema's values under the kernel's names)."""
    des = scenario.design
    dis = scenario.disease
    soc = scenario.standard_of_care
    drug = scenario.drug
    prot = des.protocol
    persistence = np.zeros(len(CLINICAL))
    for j, name in enumerate(DESCRIPTOR_NAMES):
        if CLINICAL[j]:
            persistence[j] = min(dis.descriptors[name].persistence * dis.persistence_scale, 0.99)
    half_life = drug.waning_half_life_weeks
    return CourseParams(
        interval_weeks=int(des.visit_interval_weeks),
        n_visits=int(n_visits(des.duration_weeks, des.visit_interval_weeks)),
        persistence=persistence,
        weights=SLEDAI_WEIGHTS,
        clinical=CLINICAL,
        bilag_of=BILAG_OF_DESCRIPTOR,
        fluctuation_sd=float(dis.fluctuation_sd),
        fluctuation_ar1=float(dis.fluctuation_ar1),
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
        taper_prob=float(soc.taper_prob),
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
    )


def run_course(
    scenario: Scenario,
    cohort: Cohort,
    arm_dose: np.ndarray,
    rng: np.random.Generator,
    params: CourseParams | None = None,
) -> Course:
    """Thin validated wrapper: the scenario's parameters and the cohort's arrays in, a Course out.

    Parameters
    ----------
    scenario : Scenario
    cohort : Cohort
        Enrolled patients.
    arm_dose : ndarray, shape (n,)
        Belimumab dose (mg/kg) of each patient's arm.
    rng : numpy.random.Generator
        The replicate's course stream.
    params : CourseParams, optional
        ``course_params(scenario)``, built once by the caller that runs many replicates.
    """
    if params is None:
        params = course_params(scenario)
    patients = CoursePatients(
        activity=cohort.activity,
        fluctuation0=cohort.fluctuation,
        propensity=cohort.propensity,
        active0=cohort.active,
        soc_amp=soc_amplitude(scenario, cohort),
        drug_amp=drug_amplitude(scenario, cohort, arm_dose),
        stab_amp=stabilization_amplitude(scenario, cohort, arm_dose),
        pga_rater=cohort.pga_rater,
        pga0=cohort.pga,
        bilag_rater=cohort.bilag_rater,
        bilag0=cohort.bilag,
        bilag_ever0=cohort.bilag_ever,
        prednisone0=cohort.prednisone,
        weight_kg=cohort.weight_kg,
        on_is0=cohort.immunosuppressant,
    )
    return Course(*simulate_course(rng, params, patients))
