"""Virtual patients: correlated baseline covariates, baseline disease state, and screening.

Candidates are drawn from a source population (a Gaussian copula over the covariates and the
patient's latent disease activity), scored with the instruments at the screening visit, and
enrolled in order while they pass the protocol's entry criteria. Enrolled patients are a
selected sample: they are caught near a peak of a fluctuating course, which is one real
source of the placebo response (regression to the mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from scipy import special

from trialsim.config.scenario import (
    COPULA_DIMS,
    RACES,
    REGIONS,
    Scenario,
    ScenarioError,
    copula_correlation,
    race_region_joint,
)
from trialsim.core.jit import jit
from trialsim.core.rng import STAGE_POPULATION, fill_draws, normal_quantile
from trialsim.model.instruments import (
    BILAG_OF_DESCRIPTOR,
    CLINICAL,
    DESCRIPTOR_NAMES,
    DNA_BINDING,
    LOW_COMPLEMENT,
    N_BILAG,
    N_DESCRIPTORS,
    PROTEINURIA,
    SLEDAI_WEIGHTS,
    bilag_grade,
    bilag_system_severity,
    clinical_sledai_score,
    pga_score,
    sledai_score,
)

RACE_CODE = {r: i for i, r in enumerate(RACES)}


@dataclass
class Cohort:
    """Structure of arrays: one entry per enrolled patient, in enrolment order."""

    race: np.ndarray  # int64 code into RACES
    region: np.ndarray  # int64 code into REGIONS
    female: np.ndarray  # bool
    age: np.ndarray
    weight_kg: np.ndarray
    disease_duration: np.ndarray  # years
    ana: np.ndarray  # bool
    anti_dsdna: np.ndarray  # bool
    low_c3: np.ndarray  # bool
    low_c4: np.ndarray  # bool
    prednisone: np.ndarray  # mg/day, 0 = none
    immunosuppressant: np.ndarray  # bool
    antimalarial: np.ndarray  # bool
    proteinuria_g: np.ndarray  # g/24h
    activity: np.ndarray  # patient's global activity level (log-odds)
    fluctuation: np.ndarray  # fluctuating activity at screening (log-odds)
    propensity: np.ndarray  # (n, n_descriptors) organ log-odds, without global activity
    active: np.ndarray  # (n, n_descriptors) bool, descriptors at screening
    sledai: np.ndarray  # int64, screening SELENA-SLEDAI
    pga_rater: np.ndarray  # patient-level PGA offset
    pga: np.ndarray  # baseline PGA
    bilag_rater: np.ndarray  # (n, n_bilag) system-level severity offset
    bilag: np.ndarray  # (n, n_bilag) int8 baseline grades
    bilag_ever: np.ndarray  # (n, n_bilag) bool, system ever involved
    #: screening index of each patient: its course draws are those of this candidate, so a
    #: patient keeps them whoever else is enrolled (None for cohorts built by hand)
    candidate: np.ndarray | None = None

    def __len__(self) -> int:
        return self.race.shape[0]

    def take(self, index: np.ndarray) -> Cohort:
        """The sub-cohort of the given patients."""
        return Cohort(**{
            f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[index]
            for f in fields(self)
        })

    @property
    def serologically_active(self) -> np.ndarray:
        """Anti-dsDNA positive and low C3 or C4 (the EMA label subgroup, seed 000)."""
        return self.anti_dsdna & (self.low_c3 | self.low_c4)


def race_region_table(scenario: Scenario) -> np.ndarray:
    """Joint race × region proportions with the scenario's marginals (the schema has checked
    that they exist; ``scenario.race_region_joint``).

    Returns
    -------
    ndarray, shape (len(RACES), len(REGIONS))
    """
    pop = scenario.population
    table = race_region_joint(
        pop.race.model_dump(), pop.region.model_dump(), pop.race_region_affinity
    )
    if table is None:  # only reachable by building a Population without validation
        raise ScenarioError("population.race_region_affinity: no joint table has both marginals")
    return table


def copula_cholesky(scenario: Scenario) -> np.ndarray:
    """Cholesky factor of the latent correlation matrix over ``COPULA_DIMS``."""
    try:
        return np.linalg.cholesky(copula_correlation(scenario.population.correlations))
    except np.linalg.LinAlgError:  # only reachable by building a Population without validation
        raise ScenarioError("population.correlations: not positive definite") from None


#: grid of the tabulated transforms of a copula normal (gamma quantiles): z from -Z_GRID_MAX
#: to Z_GRID_MAX in steps of 1 / Z_GRID_STEPS, linearly interpolated (beyond: the end value)
Z_GRID_MAX, Z_GRID_STEPS = 8.5, 1024


def z_grid() -> np.ndarray:
    return np.linspace(-Z_GRID_MAX, Z_GRID_MAX, int(2 * Z_GRID_MAX * Z_GRID_STEPS) + 1)


def _gamma_ppf(u: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Gamma(mean, sd) quantiles (``scipy.stats.gamma.ppf`` without its argument checks)."""
    shape = (mean / sd) ** 2
    return special.gammaincinv(shape, u) * (mean / shape)


def _gamma_isf(q: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Gamma(mean, sd) quantiles of upper-tail probabilities ``q`` (accurate where 1 - q
    rounds to 1)."""
    shape = (mean / sd) ** 2
    return special.gammainccinv(shape, q) * (mean / shape)


def duration_of_z(z: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Disease duration (years) of copula normal ``z``: the Gamma(mean, sd) quantile of Φ(z)
    (from the lower tail below z = 0, from the upper tail above)."""
    z = np.asarray(z, dtype=float)
    return np.where(
        z <= 0, _gamma_ppf(special.ndtr(np.minimum(z, 0)), mean, sd),
        _gamma_isf(special.ndtr(-np.maximum(z, 0)), mean, sd),
    )


def dose_of_z(z: np.ndarray, use: float, mean: float, sd: float) -> np.ndarray:
    """Prednisone dose (mg/day, before tablet rounding) of copula normal ``z`` of a patient on
    prednisone (``z`` above the ``1 - use`` quantile): the Gamma(mean, sd) quantile of the
    conditional uniform ``(Φ(z) - (1 - use)) / use``."""
    upper = np.clip(special.ndtr(-np.asarray(z, dtype=float)) / max(use, 1e-12), 1e-300, 1.0)
    return _gamma_isf(upper, mean, sd)


@jit
def interpolate_z(table, z):
    """Linear interpolation of a function tabulated on ``z_grid()`` (the end values beyond)."""
    x = (z + Z_GRID_MAX) * Z_GRID_STEPS
    if x <= 0.0:
        return table[0]
    last = table.shape[0] - 1
    if x >= last:
        return table[last]
    k = int(x)
    f = x - k
    return table[k] + f * (table[k + 1] - table[k])


def tabulation_error(fn, grid: np.ndarray, table: np.ndarray) -> float:
    """Largest absolute error of the linear interpolation of ``fn`` at the grid midpoints."""
    mid = 0.5 * (grid[1:] + grid[:-1])
    exact = fn(mid)
    approx = 0.5 * (table[1:] + table[:-1])
    ok = np.isfinite(exact)
    return float(np.max(np.abs(exact[ok] - approx[ok]))) if ok.any() else 0.0


#: uniform slots of a screened candidate (``rng.fill_draws``, stage population)
UC_CELL, UC_FEMALE, UC_ANA = 0, 1, 2
UC_DESCRIPTOR = 3  # + descriptor
UC_PRIOR = UC_DESCRIPTOR + N_DESCRIPTORS  # + BILAG system
N_CANDIDATE_UNIFORM = UC_PRIOR + N_BILAG
#: normal slots of a screened candidate
ZC_COPULA = 0  # + copula dimension
ZC_COMPLEMENT = ZC_COPULA + len(COPULA_DIMS)  # C3, C4
ZC_FLUCTUATION = ZC_COMPLEMENT + 2
ZC_PROTEINURIA = ZC_FLUCTUATION + 1
ZC_PGA_RATER = ZC_PROTEINURIA + 1
ZC_PGA = ZC_PGA_RATER + 1
ZC_PROPENSITY = ZC_PGA + 1  # + descriptor
ZC_BILAG_RATER = ZC_PROPENSITY + N_DESCRIPTORS  # + BILAG system
ZC_BILAG = ZC_BILAG_RATER + N_BILAG  # + BILAG system
N_CANDIDATE_NORMAL = ZC_BILAG + N_BILAG
#: columns of enroll_kernel's cohort arrays (``cohort_of`` names them as ``Cohort`` fields)
I_RACE, I_REGION, I_SLEDAI, I_CANDIDATE = range(4)
N_INTS = 4
(F_AGE, F_WEIGHT, F_DURATION, F_PREDNISONE, F_PROTEINURIA, F_ACTIVITY, F_FLUCTUATION,
 F_PGA_RATER, F_PGA) = range(9)
N_FLOATS = 9
B_FEMALE, B_ANA, B_DSDNA, B_LOW_C3, B_LOW_C4, B_IMMUNOSUPPRESSANT, B_ANTIMALARIAL = range(7)
N_FLAGS = 7
#: the copula dimensions, in COPULA_DIMS order (checked at import below)
(ZD_DSDNA, ZD_COMPLEMENT, ZD_ACTIVITY, ZD_DURATION, ZD_PREDNISONE, ZD_IS, ZD_AM, ZD_AGE,
 ZD_WEIGHT) = range(9)
if COPULA_DIMS != ("anti_dsdna", "low_complement", "activity", "disease_duration", "prednisone",
                   "immunosuppressant", "antimalarial", "age", "weight"):
    raise RuntimeError("config.vocab.COPULA_DIMS changed: update the ZD_* indices")
#: candidates per screening step of the pass-rate check (``screening.min_pass_rate``)
SCREEN_BATCH = 512


class PopulationParams(NamedTuple):
    """Everything the screening kernel needs that is the same for every replicate."""

    cell_cdf: np.ndarray  # cumulative race x region proportions (race-major)
    n_regions: int
    chol: np.ndarray  # Cholesky factor of the copula correlation over COPULA_DIMS
    complement_loading: float
    thr_dsdna: float
    thr_c3: float
    thr_c4: float
    thr_pred: float
    thr_is: float
    thr_am: float
    activity_sd: float
    race_activity: np.ndarray  # (n_races,)
    duration_table: np.ndarray  # disease duration by copula z (z_grid)
    dose_table: np.ndarray  # prednisone dose by copula z (z_grid), for z > thr_pred
    age_mean: float
    age_sd: float
    weight_log_mean: float
    weight_log_sd: float
    female: float
    ana_positive: float
    fluctuation_sd: float
    intercept: np.ndarray  # (d,) organ log-odds of the clinical descriptors
    heterogeneity: np.ndarray  # (d,)
    clinical: np.ndarray  # (d,) bool
    weights: np.ndarray  # (d,) SELENA-SLEDAI weights
    bilag_of: np.ndarray  # (d,)
    dna_binding: int
    low_complement: int
    proteinuria: int
    log_proteinuria_active: float
    log_proteinuria_inactive: float
    proteinuria_log_sd: float
    pga_intercept: float
    pga_per_sledai_point: float
    pga_patient_sd: float
    pga_visit_sd: float
    bilag_patient_sd: float
    bilag_visit_sd: float
    bilag_prior_involvement: float
    bilag_threshold_a: float
    bilag_threshold_b: float
    min_sledai: int
    require_serology: bool
    max_proteinuria_g: float
    min_pass_rate: float
    # enrichment (screening.*): off by default
    require_serologically_active: bool
    require_anti_dsdna: bool
    min_prednisone_mg: float
    max_disease_duration_years: float  # inf: no limit
    excluded_regions: np.ndarray  # (n_regions,) bool


#: the entry criteria in the order they are checked; a candidate who fails several is counted
#: under the first (``screen_failure``: 1 + the index here; 0 = eligible)
SCREEN_FAILURE_REASONS = (
    "sledai", "serology", "proteinuria", "serologically_active", "anti_dsdna", "prednisone",
    "disease_duration", "region",
)


@jit
def screen_failure(p, sledai, proteinuria_g, ana, anti_dsdna, low_c3, low_c4, prednisone_mg,
                   duration_years, region):
    """The first entry criterion (``SCREEN_FAILURE_REASONS``) a candidate fails, plus one; 0
    if the candidate is eligible. The protocol's (domain.md §3): SELENA-SLEDAI at least
    ``min_sledai``, ANA or anti-dsDNA positive when required, proteinuria at most
    ``max_proteinuria_g``; then a design's enrichment: serologically active (anti-dsDNA
    positive and low C3 or C4), anti-dsDNA positive, prednisone at least
    ``min_prednisone_mg``, disease duration at most ``max_disease_duration_years``, a region
    that recruits."""
    if sledai < p.min_sledai:
        return 1
    if p.require_serology and not (ana or anti_dsdna):
        return 2
    if proteinuria_g > p.max_proteinuria_g:
        return 3
    if p.require_serologically_active and not (anti_dsdna and (low_c3 or low_c4)):
        return 4
    if p.require_anti_dsdna and not anti_dsdna:
        return 5
    if prednisone_mg < p.min_prednisone_mg:
        return 6
    if duration_years > p.max_disease_duration_years:
        return 7
    if p.excluded_regions[region]:
        return 8
    return 0


@jit
def is_eligible(p, sledai, proteinuria_g, ana, anti_dsdna, low_c3, low_c4, prednisone_mg,
                duration_years, region):
    """Whether a candidate meets every entry criterion (``screen_failure`` is 0)."""
    return screen_failure(p, sledai, proteinuria_g, ana, anti_dsdna, low_c3, low_c4,
                          prednisone_mg, duration_years, region) == 0


@jit
def _z(zu, s):
    return normal_quantile(zu[0, s])


@jit
def enroll_kernel(p, n, k0, k1, max_candidates):
    """Screen candidates 0, 1, … of a replicate until ``n`` pass the entry criteria.

    Candidate ``c`` draws from (``STAGE_POPULATION``, c, 0) only, so the enrolled sequence
    does not depend on ``n`` (a larger trial enrols the same first patients) and no candidate's
    values depend on another's.

    Returns
    -------
    status : int
        0 done; 1 the pass rate fell below ``min_pass_rate`` (checked every
        ``SCREEN_BATCH`` candidates from the fourth batch on); 2 ``max_candidates`` reached.
    screened : int
        Candidates screened (up to the last one enrolled).
    got : int
        Patients enrolled.
    ints, floats, flags, propensity, active, bilag_rater, bilag, bilag_ever
        The cohort's columns (``Cohort`` names them).
    failures : ndarray of int64, shape (len(SCREEN_FAILURE_REASONS),)
        Candidates screened out, by the first criterion they failed.
    """
    d = p.weights.shape[0]
    nz_cop = p.chol.shape[0]
    ints = np.zeros((n, N_INTS), dtype=np.int64)
    floats = np.zeros((n, N_FLOATS))
    flags = np.zeros((n, N_FLAGS), dtype=np.bool_)
    propensity = np.zeros((n, d))
    active = np.zeros((n, d), dtype=np.bool_)
    bilag_rater = np.zeros((n, N_BILAG))
    bilag = np.zeros((n, N_BILAG), dtype=np.int8)
    bilag_ever = np.zeros((n, N_BILAG), dtype=np.bool_)
    u = np.zeros((1, N_CANDIDATE_UNIFORM))
    zu = np.zeros((1, N_CANDIDATE_NORMAL))
    scratch = np.empty(
        (4, (2 * N_CANDIDATE_NORMAL + N_CANDIDATE_UNIFORM + 3) // 4), dtype=np.uint64
    )
    e = np.zeros(nz_cop)
    zc = np.zeros(nz_cop)
    prop = np.zeros(d)
    state = np.zeros(d, dtype=np.bool_)
    sev = np.zeros(N_BILAG)
    sys_on = np.zeros(N_BILAG, dtype=np.bool_)
    load = p.complement_loading
    rest = math.sqrt(1.0 - load * load)
    got = 0
    c = 0
    status = 0
    failures = np.zeros(len(SCREEN_FAILURE_REASONS), dtype=np.int64)
    while got < n:
        if c >= max_candidates:
            status = 2
            break
        fill_draws(k0, k1, STAGE_POPULATION, c, 0, u, zu, scratch, False)
        c += 1
        # correlated covariates (Gaussian copula) and serology
        for k in range(nz_cop):
            e[k] = _z(zu, ZC_COPULA + k)
        for k in range(nz_cop):
            acc = 0.0
            for m in range(k + 1):
                acc += p.chol[k, m] * e[m]
            zc[k] = acc
        c3 = load * zc[ZD_COMPLEMENT] + rest * _z(zu, ZC_COMPLEMENT)
        c4 = load * zc[ZD_COMPLEMENT] + rest * _z(zu, ZC_COMPLEMENT + 1)
        dsdna = zc[ZD_DSDNA] > p.thr_dsdna
        low_c3 = c3 > p.thr_c3
        low_c4 = c4 > p.thr_c4
        ucell = u[0, UC_CELL]
        cell = 0
        while cell < p.cell_cdf.shape[0] - 1 and ucell >= p.cell_cdf[cell]:
            cell += 1
        race = cell // p.n_regions
        activity = p.activity_sd * zc[ZD_ACTIVITY] + p.race_activity[race]
        fluct = p.fluctuation_sd * _z(zu, ZC_FLUCTUATION)
        # disease state at screening, scored
        for j in range(d):
            if p.clinical[j]:
                prop[j] = p.intercept[j] + p.heterogeneity[j] * _z(zu, ZC_PROPENSITY + j)
                x = prop[j] + activity + fluct
                state[j] = u[0, UC_DESCRIPTOR + j] < 1.0 / (1.0 + math.exp(-x))
            else:
                prop[j] = 0.0
                state[j] = False
        state[p.dna_binding] = dsdna
        state[p.low_complement] = low_c3 or low_c4
        score = sledai_score(state, p.weights)
        proteinuric = state[p.proteinuria]
        log_prot = p.log_proteinuria_active if proteinuric else p.log_proteinuria_inactive
        prot = math.exp(log_prot + p.proteinuria_log_sd * _z(zu, ZC_PROTEINURIA))
        # keep the instrument consistent: >0.5 g/24h is the descriptor's definition
        prot = max(prot, 0.51) if proteinuric else min(prot, 0.5)
        ana = u[0, UC_ANA] < p.ana_positive
        dose = 0.0
        if zc[ZD_PREDNISONE] > p.thr_pred:  # on prednisone
            dose = max(round(interpolate_z(p.dose_table, zc[ZD_PREDNISONE]) * 2.0) / 2.0, 1.0)
        duration = interpolate_z(p.duration_table, zc[ZD_DURATION])
        reason = screen_failure(p, score, prot, ana, dsdna, low_c3, low_c4, dose, duration,
                                cell % p.n_regions)
        if reason > 0:
            failures[reason - 1] += 1
        else:
            i = got
            got += 1
            ints[i, I_RACE] = race
            ints[i, I_REGION] = cell % p.n_regions
            ints[i, I_SLEDAI] = score
            ints[i, I_CANDIDATE] = c - 1
            floats[i, F_AGE] = min(max(p.age_mean + p.age_sd * zc[ZD_AGE], 18.0), 75.0)
            floats[i, F_WEIGHT] = math.exp(p.weight_log_mean + p.weight_log_sd * zc[ZD_WEIGHT])
            floats[i, F_DURATION] = duration
            floats[i, F_PREDNISONE] = dose
            floats[i, F_PROTEINURIA] = prot
            floats[i, F_ACTIVITY] = activity
            floats[i, F_FLUCTUATION] = fluct
            rater = p.pga_patient_sd * _z(zu, ZC_PGA_RATER)
            floats[i, F_PGA_RATER] = rater
            floats[i, F_PGA] = pga_score(
                p.pga_intercept, p.pga_per_sledai_point,
                clinical_sledai_score(state, p.weights, p.clinical), rater,
                p.pga_visit_sd * _z(zu, ZC_PGA),
            )
            flags[i, B_FEMALE] = u[0, UC_FEMALE] < p.female
            flags[i, B_ANA] = ana
            flags[i, B_DSDNA] = dsdna
            flags[i, B_LOW_C3] = low_c3
            flags[i, B_LOW_C4] = low_c4
            flags[i, B_IMMUNOSUPPRESSANT] = zc[ZD_IS] > p.thr_is
            flags[i, B_ANTIMALARIAL] = zc[ZD_AM] > p.thr_am
            for j in range(d):
                propensity[i, j] = prop[j]
                active[i, j] = state[j]
            bilag_system_severity(state, p.weights, p.bilag_of, sev, sys_on)
            for k in range(N_BILAG):
                r = p.bilag_patient_sd * _z(zu, ZC_BILAG_RATER + k)
                bilag_rater[i, k] = r
                prior = u[0, UC_PRIOR + k] < p.bilag_prior_involvement
                s_k = sev[k] + r + p.bilag_visit_sd * _z(zu, ZC_BILAG + k)
                bilag[i, k] = bilag_grade(s_k, sys_on[k], prior, p.bilag_threshold_a,
                                          p.bilag_threshold_b)
                bilag_ever[i, k] = sys_on[k] or prior
        # only while the trial is not yet full (the last patient may fill it at a check)
        if (got < n and c % SCREEN_BATCH == 0 and c >= 4 * SCREEN_BATCH
                and got < p.min_pass_rate * c):
            status = 1
            break
    return (status, c, got, ints, floats, flags, propensity, active, bilag_rater, bilag,
            bilag_ever, failures)


class PopulationModel:
    """Everything about a scenario's population that does not change between replicates."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        pop = scenario.population
        dis = scenario.disease
        self.joint = race_region_table(scenario).ravel()
        self.joint = self.joint / self.joint.sum()
        self.chol = copula_cholesky(scenario)
        self.race_activity = np.array([dis.race_activity.get(r, 0.0) for r in RACES])
        self.intercept = np.zeros(N_DESCRIPTORS)
        self.heterogeneity = np.zeros(N_DESCRIPTORS)
        for j, name in enumerate(DESCRIPTOR_NAMES):
            if CLINICAL[j]:
                d = dis.descriptors[name]
                self.intercept[j] = d.intercept
                self.heterogeneity[j] = d.heterogeneity
        q = special.ndtri
        self.thr_dsdna = q(1 - pop.anti_dsdna)
        self.thr_c3 = q(1 - pop.low_c3)
        self.thr_c4 = q(1 - pop.low_c4)
        self.thr_pred = q(1 - pop.prednisone.use)
        self.thr_is = q(1 - pop.immunosuppressant)
        self.thr_am = q(1 - pop.antimalarial)

        grid = z_grid()
        dur = pop.disease_duration_years
        pred = pop.prednisone

        def duration(z):
            return duration_of_z(z, dur.mean, dur.sd)

        def dose(z):
            return dose_of_z(z, pred.use, pred.mean_dose_mg, pred.sd_dose_mg)

        duration_table = duration(grid)
        dose_table = dose(grid)
        #: largest error of the tabulated gamma quantiles (years; mg/day) on the part of the
        #: grid that is used (the dose only above the prednisone-use threshold)
        self.tabulation_error = (
            tabulation_error(duration, grid, duration_table),
            tabulation_error(dose, grid[grid > self.thr_pred], dose_table[grid > self.thr_pred]),
        )
        w_s2 = np.log1p((pop.weight_kg.sd / pop.weight_kg.mean) ** 2)
        scr = scenario.screening
        self.params = PopulationParams(
            cell_cdf=np.cumsum(self.joint),
            n_regions=len(REGIONS),
            chol=np.ascontiguousarray(self.chol),
            complement_loading=float(pop.complement_loading),
            thr_dsdna=float(self.thr_dsdna),
            thr_c3=float(self.thr_c3),
            thr_c4=float(self.thr_c4),
            thr_pred=float(self.thr_pred),
            thr_is=float(self.thr_is),
            thr_am=float(self.thr_am),
            activity_sd=float(dis.activity_sd),
            race_activity=self.race_activity,
            duration_table=duration_table,
            dose_table=dose_table,
            age_mean=float(pop.age.mean),
            age_sd=float(pop.age.sd),
            weight_log_mean=float(np.log(pop.weight_kg.mean) - w_s2 / 2),
            weight_log_sd=float(np.sqrt(w_s2)),
            female=float(pop.female),
            ana_positive=float(pop.ana_positive),
            fluctuation_sd=float(dis.fluctuation_sd),
            intercept=self.intercept,
            heterogeneity=self.heterogeneity,
            clinical=CLINICAL,
            weights=SLEDAI_WEIGHTS,
            bilag_of=BILAG_OF_DESCRIPTOR,
            dna_binding=DNA_BINDING,
            low_complement=LOW_COMPLEMENT,
            proteinuria=PROTEINURIA,
            log_proteinuria_active=float(np.log(dis.proteinuria_active_median_g)),
            log_proteinuria_inactive=float(np.log(dis.proteinuria_inactive_median_g)),
            proteinuria_log_sd=float(dis.proteinuria_log_sd),
            pga_intercept=float(dis.pga.intercept),
            pga_per_sledai_point=float(dis.pga.per_sledai_point),
            pga_patient_sd=float(dis.pga.patient_sd),
            pga_visit_sd=float(dis.pga.visit_sd),
            bilag_patient_sd=float(dis.bilag.patient_sd),
            bilag_visit_sd=float(dis.bilag.visit_sd),
            bilag_prior_involvement=float(dis.bilag.prior_involvement),
            bilag_threshold_a=float(dis.bilag.threshold_a),
            bilag_threshold_b=float(dis.bilag.threshold_b),
            min_sledai=int(scr.min_sledai),
            require_serology=bool(scr.require_serology),
            max_proteinuria_g=float(scr.max_proteinuria_g),
            min_pass_rate=float(scr.min_pass_rate),
            require_serologically_active=bool(scr.require_serologically_active),
            require_anti_dsdna=bool(scr.require_anti_dsdna),
            min_prednisone_mg=float(scr.min_prednisone_mg),
            max_disease_duration_years=(math.inf if scr.max_disease_duration_years is None
                                        else float(scr.max_disease_duration_years)),
            excluded_regions=np.array([r in scr.exclude_regions for r in REGIONS]),
        )

    def eligible(self, c: Cohort) -> np.ndarray:
        """``is_eligible`` (the rule ``enroll_kernel`` applies) for each patient of a cohort."""
        p = self.params
        return np.array([
            is_eligible(p, c.sledai[i], c.proteinuria_g[i], c.ana[i], c.anti_dsdna[i],
                        c.low_c3[i], c.low_c4[i], c.prednisone[i], c.disease_duration[i],
                        c.region[i])
            for i in range(c.sledai.shape[0])
        ], dtype=bool)

    def enroll(self, n: int, key: tuple[int, int]) -> tuple[Cohort, int]:
        """Screen candidates until ``n`` are enrolled (``enroll_kernel``).

        Returns
        -------
        cohort : Cohort
            The first ``n`` eligible candidates, in screening order. The enrolled sequence
            does not depend on ``n``: a larger trial enrols the same first patients.
        screened : int
            Number of candidates screened to enrol them (the screen-failure denominator).
        """
        out = enroll_kernel(self.params, n, key[0], key[1], max_candidates(n))
        status, screened, got = out[:3]
        if status != 0:
            raise_screening_error(self.scenario, status, got, screened)
        return cohort_of(out[3:11]), int(screened)


def max_candidates(n: int) -> int:
    """Screening gives up after this many candidates (the pass-rate check stops it sooner)."""
    return max(64 * n, 16 * SCREEN_BATCH)


def raise_screening_error(scenario: Scenario, status: int, got: int, screened: int,
                          replicate: int | None = None) -> None:
    """The user's error for ``enroll_kernel``'s status 1 (pass rate too low) or 2 (the
    candidate limit, ``max_candidates``, reached)."""
    scr = scenario.screening
    where = "" if replicate is None else f" in replicate {replicate}"
    why = (
        f"after {screened} candidates, the limit of candidates screened for "
        f"{scenario.design.sample_size} patients" if status == 2 else
        f"below screening.min_pass_rate={scr.min_pass_rate}"
    )
    criteria = [f"screening.min_sledai={scr.min_sledai}"]
    defaults = type(scr)()
    for name in ("require_serologically_active", "require_anti_dsdna", "min_prednisone_mg",
                 "max_disease_duration_years", "exclude_regions", "max_proteinuria_g"):
        if getattr(scr, name) != getattr(defaults, name):
            criteria.append(f"screening.{name}={getattr(scr, name)}")
    raise ScenarioError(
        f"screening{where}: only {got} of {screened} candidates ({got / max(screened, 1):.2%}) "
        f"pass the entry criteria ({', '.join(criteria)}), {why}; the "
        "population and disease parameters cannot fill this trial"
    )


def cohort_of(arrays) -> Cohort:
    """The ``Cohort`` of ``enroll_kernel``'s column arrays."""
    ints, floats, flags, propensity, active, bilag_rater, bilag, bilag_ever = arrays
    return Cohort(
        race=ints[:, I_RACE].copy(),
        region=ints[:, I_REGION].copy(),
        female=flags[:, B_FEMALE].copy(),
        age=floats[:, F_AGE].copy(),
        weight_kg=floats[:, F_WEIGHT].copy(),
        disease_duration=floats[:, F_DURATION].copy(),
        ana=flags[:, B_ANA].copy(),
        anti_dsdna=flags[:, B_DSDNA].copy(),
        low_c3=flags[:, B_LOW_C3].copy(),
        low_c4=flags[:, B_LOW_C4].copy(),
        prednisone=floats[:, F_PREDNISONE].copy(),
        immunosuppressant=flags[:, B_IMMUNOSUPPRESSANT].copy(),
        antimalarial=flags[:, B_ANTIMALARIAL].copy(),
        proteinuria_g=floats[:, F_PROTEINURIA].copy(),
        activity=floats[:, F_ACTIVITY].copy(),
        fluctuation=floats[:, F_FLUCTUATION].copy(),
        propensity=propensity,
        active=active,
        sledai=ints[:, I_SLEDAI].copy(),
        pga_rater=floats[:, F_PGA_RATER].copy(),
        pga=floats[:, F_PGA].copy(),
        bilag_rater=bilag_rater,
        bilag=bilag,
        bilag_ever=bilag_ever,
        candidate=ints[:, I_CANDIDATE].copy(),
    )
