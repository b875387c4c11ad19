"""Virtual patients: correlated baseline covariates, baseline disease state, and screening.

Candidates are drawn from a source population (a Gaussian copula over the covariates and the
patient's latent disease activity), scored with the instruments at the screening visit, and
enrolled in order while they pass the protocol's entry criteria. Enrolled patients are a
selected sample: they are caught near a peak of a fluctuating course, which is one real
source of the placebo response (regression to the mean).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import special

from .instruments import (
    BILAG_OF_DESCRIPTOR,
    CLINICAL,
    CLINICAL_WEIGHTS,
    DESCRIPTOR_NAMES,
    DNA_BINDING,
    LOW_COMPLEMENT,
    N_BILAG,
    N_DESCRIPTORS,
    PROTEINURIA,
    SLEDAI_WEIGHTS,
    bilag_grades,
    bilag_systems_severity,
    pga_scores,
    sledai_scores,
)
from .scenario import (
    COPULA_DIMS,
    RACES,
    REGIONS,
    Scenario,
    ScenarioError,
    copula_correlation,
    race_region_joint,
)

RACE_CODE = {r: i for i, r in enumerate(RACES)}
REGION_CODE = {r: i for i, r in enumerate(REGIONS)}


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

    def __len__(self) -> int:
        return self.race.shape[0]

    def take(self, index: np.ndarray) -> Cohort:
        """The sub-cohort of the given patients."""
        return Cohort(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Cohort]) -> Cohort:
        return Cohort(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Cohort)}
        )

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


def _gamma_ppf(u: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Gamma(mean, sd) quantiles (``scipy.stats.gamma.ppf`` without its argument checks)."""
    shape = (mean / sd) ** 2
    return special.gammaincinv(shape, u) * (mean / shape)


def _lognormal(z: np.ndarray, mean: float, sd: float) -> np.ndarray:
    s2 = np.log1p((sd / mean) ** 2)
    return np.exp(np.log(mean) - s2 / 2 + np.sqrt(s2) * z)


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

    def candidates(self, n: int, rng: np.random.Generator) -> Cohort:
        """Draw ``n`` candidates from the source population, scored at screening."""
        pop = self.scenario.population
        dis = self.scenario.disease
        cell = rng.choice(self.joint.size, size=n, p=self.joint)
        race, region = np.divmod(cell, len(REGIONS))
        z = rng.standard_normal((n, len(COPULA_DIMS))) @ self.chol.T
        zc = rng.standard_normal((n, 2))
        load = pop.complement_loading
        c3 = load * z[:, 1] + np.sqrt(1 - load**2) * zc[:, 0]
        c4 = load * z[:, 1] + np.sqrt(1 - load**2) * zc[:, 1]
        dsdna = z[:, 0] > self.thr_dsdna
        low_c3 = c3 > self.thr_c3
        low_c4 = c4 > self.thr_c4
        activity = dis.activity_sd * z[:, 2] + self.race_activity[race]
        phi = special.ndtr(z)
        duration = _gamma_ppf(
            phi[:, 3], pop.disease_duration_years.mean, pop.disease_duration_years.sd
        )
        on_pred = z[:, 4] > self.thr_pred
        u_dose = np.clip(
            (phi[:, 4] - (1 - pop.prednisone.use)) / max(pop.prednisone.use, 1e-12), 1e-9, 1 - 1e-9
        )
        dose = np.where(
            on_pred, _gamma_ppf(u_dose, pop.prednisone.mean_dose_mg, pop.prednisone.sd_dose_mg), 0.0
        )
        dose = np.round(dose * 2) / 2  # tablets: 0.5 mg steps
        dose = np.where(on_pred, np.maximum(dose, 1.0), 0.0)
        on_is = z[:, 5] > self.thr_is
        on_am = z[:, 6] > self.thr_am
        age = np.clip(pop.age.mean + pop.age.sd * z[:, 7], 18.0, 75.0)
        weight = _lognormal(z[:, 8], pop.weight_kg.mean, pop.weight_kg.sd)
        u_extra = rng.random((n, 2))
        female = u_extra[:, 0] < pop.female
        ana = u_extra[:, 1] < pop.ana_positive

        fluct = dis.fluctuation_sd * rng.standard_normal(n)
        propensity = self.intercept + self.heterogeneity * rng.standard_normal((n, N_DESCRIPTORS))
        p_on = special.expit(propensity + (activity + fluct)[:, None])
        active = rng.random((n, N_DESCRIPTORS)) < p_on
        active[:, ~CLINICAL] = False
        active[:, DNA_BINDING] = dsdna
        active[:, LOW_COMPLEMENT] = low_c3 | low_c4
        sledai = sledai_scores(active, SLEDAI_WEIGHTS)

        log_prot = np.where(
            active[:, PROTEINURIA],
            np.log(dis.proteinuria_active_median_g),
            np.log(dis.proteinuria_inactive_median_g),
        )
        proteinuria = np.exp(log_prot + dis.proteinuria_log_sd * rng.standard_normal(n))
        # keep the instrument consistent: >0.5 g/24h is the descriptor's definition
        proteinuria = np.where(
            active[:, PROTEINURIA], np.maximum(proteinuria, 0.51), np.minimum(proteinuria, 0.5)
        )

        pga_rater = dis.pga.patient_sd * rng.standard_normal(n)
        pga = pga_scores(
            dis.pga.intercept,
            dis.pga.per_sledai_point,
            sledai_scores(active, CLINICAL_WEIGHTS),
            pga_rater,
            dis.pga.visit_sd * rng.standard_normal(n),
        )
        bilag_rater = dis.bilag.patient_sd * rng.standard_normal((n, N_BILAG))
        severity, sys_active = bilag_systems_severity(active, SLEDAI_WEIGHTS, BILAG_OF_DESCRIPTOR)
        severity = severity + bilag_rater + dis.bilag.visit_sd * rng.standard_normal((n, N_BILAG))
        prior = rng.random((n, N_BILAG)) < dis.bilag.prior_involvement
        grade = bilag_grades(
            severity, sys_active, prior, dis.bilag.threshold_a, dis.bilag.threshold_b
        )
        return Cohort(
            race=race.astype(np.int64),
            region=region.astype(np.int64),
            female=female,
            age=age,
            weight_kg=weight,
            disease_duration=duration,
            ana=ana,
            anti_dsdna=dsdna,
            low_c3=low_c3,
            low_c4=low_c4,
            prednisone=dose,
            immunosuppressant=on_is,
            antimalarial=on_am,
            proteinuria_g=proteinuria,
            activity=activity,
            fluctuation=fluct,
            propensity=propensity,
            active=active,
            sledai=sledai,
            pga_rater=pga_rater,
            pga=pga,
            bilag_rater=bilag_rater,
            bilag=grade,
            bilag_ever=sys_active | prior,
        )

    def eligible(self, c: Cohort) -> np.ndarray:
        """Entry criteria of the protocol (domain.md §3) for each candidate."""
        scr = self.scenario.screening
        ok = c.sledai >= scr.min_sledai
        if scr.require_serology:
            ok &= c.ana | c.anti_dsdna
        ok &= c.proteinuria_g <= scr.max_proteinuria_g
        return ok

    #: candidates drawn per screening batch; fixed, so that the first n enrolled patients
    #: are the same whatever the sample size (common random numbers across sample sizes)
    BATCH = 512

    def enroll(self, n: int, rng: np.random.Generator) -> tuple[Cohort, int]:
        """Screen candidates in fixed-size batches until ``n`` are enrolled.

        Returns
        -------
        cohort : Cohort
            The first ``n`` eligible candidates, in screening order. The enrolled sequence
            does not depend on ``n``: a larger trial enrols the same first patients.
        screened : int
            Number of candidates screened to enrol them (the screen-failure denominator).
        """
        parts: list[Cohort] = []
        got = 0
        screened = 0
        while got < n:
            cand = self.candidates(self.BATCH, rng)
            ok = np.flatnonzero(self.eligible(cand))
            if got + ok.size >= n:
                screened += ok[n - got - 1] + 1
                parts.append(cand.take(ok[: n - got]))
                break
            screened += self.BATCH
            parts.append(cand.take(ok))
            got += ok.size
            too_few = got / screened < self.scenario.screening.min_pass_rate
            if screened >= 4 * self.BATCH and too_few:
                raise ScenarioError(
                    f"screening: only {got} of {screened} candidates ({got / screened:.2%}) pass "
                    f"the entry criteria (screening.min_sledai={self.scenario.screening.min_sledai}"
                    f", screening.min_pass_rate={self.scenario.screening.min_pass_rate}); the "
                    "population and disease parameters cannot fill this trial"
                )
        return Cohort.concat(parts), int(screened)
