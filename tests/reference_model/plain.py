"""A plain, independent reference implementation of the trialsim model ("double programming").

Written from ``docs/model.md`` (sections 1-4, 3a) and ``shared/domain.md`` only, without
reading or calling the fast engine (``population.py``, ``design.py``, ``course.py``, ``pk.py``,
``endpoints.py``, ``engine.py``, ``instruments.py``, ``analysis/``); it has its own descriptor
table (:data:`DESCRIPTORS`), its own dosing schedules (:data:`REGIMEN_DEFAULTS`) and its own
pharmacokinetics (:func:`effect_site_concentrations`: the linear ODEs of §3a propagated by the
matrix exponential, where the engine sums exponentials), and takes only the configuration
schema from ``trialsim.config.scenario``.
It simulates one trial at a time, one patient at a time and one visit at a time, with
ordinary Python loops so that every rule of the model can be read off the code.
It is slow on purpose: its only job is to check, in distribution, that the engine does what
the model statement says.

Readings of the model statement that were not spelled out in ``docs/model.md`` are marked
``READING:`` in the comments below. One of them is a known disagreement: "forced > 0.5" for
baseline proteinuria was first read here as a truncated log-normal, whereas the engine clips;
docs/model.md now says "clipped", which is the default (``proteinuria_rule="clip"``);
``"truncate"`` keeps the other reading available for comparison.

Public API
----------
simulate_trial_plain(scenario, rng)
    One trial: a patient table (baseline covariates, arm, endpoint flags and the course
    columns below) and the visit-level instruments.
enroll_plain(scenario, n_patients, seed)
    Baseline table of enrolled patients only (screening, no course).
run_plain(scenario, replicates, seed)
    Many trials: arm-level response rates per replicate and the pooled patient table.
simulate_plain(scenario, replicates, seed)
    Arm-level response rates per replicate only.
steroid_sparing_code(course, visit, interval_weeks)
    The steroid-sparing responder code of one patient's course (``RESPONDER``,
    ``NON_RESPONDER`` or ``NOT_EVALUABLE``), also applicable to a course the engine
    simulated (the patient-by-patient comparison).
baseline_marginals(patients)
    Baseline characteristics pooled over patients (n, mean, SD).

Course columns of the patient table
-----------------------------------
With ``n_visits = duration_weeks // visit_interval_weeks + 1`` (visits 0..n_visits-1, visit 0
the baseline), each patient row also holds:

``failure_visit``, ``dropout_visit`` : int
    First visit at which the patient is a treatment failure, and first visit missed
    (dropout); ``n_visits`` means never (completed without failure / without dropout).
``first_flare_visit`` : int, ``first_flare_observed`` : bool
    Time to first SFI flare in visits (docs/model.md §4): the first visit >= 1 with a flare
    of any severity if it is at or before the last visit observed
    (``dropout_visit - 1``, i.e. ``n_visits - 1`` for a completer), and then
    ``first_flare_observed`` is True; otherwise the last visit observed, censored
    (``first_flare_observed`` False). Treatment failure does not censor.
``sledai_v{v}`` : int16, ``flare_v{v}`` : int8, ``prednisone_v{v}`` : float, v = 0..n_visits-1
    SELENA-SLEDAI at visit v as simulated (also after dropout, unobserved), the SFI flare at
    visit v (0 none, 1 mild/moderate, 2 severe; 0 at visit 0, after the physician's response,
    which may make a flare severe) and prednisone mg/day after visit v's decisions
    (visit 0: the baseline dose).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import expm
from scipy.special import gammaincinv, ndtr, ndtri

from trialsim.config.scenario import COPULA_DIMS, RACES, REGIONS, Scenario

# --------------------------------------------------------------------------- instruments table
# The reference model's own descriptor table, transcribed from shared/domain.md and NOT
# imported from the engine (trialsim/model/instruments.py), so that an error in one table cannot
# hide in both implementations.

#: classic BILAG systems (domain.md §2.3: the 8 systems of classic BILAG, used in BLISS)
BILAG_SYSTEMS = (
    "general",
    "mucocutaneous",
    "neurological",
    "musculoskeletal",
    "cardiorespiratory",
    "vasculitis",
    "renal",
    "haematological",
)

#: descriptors simulated by the model: (name, SELENA-SLEDAI weight, SLEDAI domain, classic
#: BILAG system or None). Weights and SLEDAI domains: domain.md §2.1 (the CNS descriptors of
#: weight 8 are not simulated: CNS lupus is excluded at entry, domain.md §3). BILAG system of
#: each descriptor: the classic system of its organ (domain.md §2.3); the serological
#: descriptors belong to no BILAG system. Names are those of ``disease.descriptors`` in
#: configs/model.yaml (the clinical ones, in that order), then the two serological ones.
DESCRIPTORS = (
    ("vasculitis", 8, "vascular", "vasculitis"),
    ("arthritis", 4, "musculoskeletal", "musculoskeletal"),
    ("myositis", 4, "musculoskeletal", "musculoskeletal"),
    ("urinary_casts", 4, "renal", "renal"),
    ("hematuria", 4, "renal", "renal"),
    ("proteinuria", 4, "renal", "renal"),  # > 0.5 g/24h
    ("pyuria", 4, "renal", "renal"),
    ("rash", 2, "mucocutaneous", "mucocutaneous"),
    ("alopecia", 2, "mucocutaneous", "mucocutaneous"),
    ("mucosal_ulcers", 2, "mucocutaneous", "mucocutaneous"),
    ("pleurisy", 2, "serosal", "cardiorespiratory"),
    ("pericarditis", 2, "serosal", "cardiorespiratory"),
    ("fever", 1, "constitutional", "general"),
    ("thrombocytopenia", 1, "haematological", "haematological"),
    ("leukopenia", 1, "haematological", "haematological"),
    ("low_complement", 2, "immunological", None),
    ("increased_dna_binding", 2, "immunological", None),
)

#: the serological descriptors: not rated by the physician, not in any BILAG system
SEROLOGICAL = ("low_complement", "increased_dna_binding")
#: the clinical descriptors, which ``disease.descriptors`` must list exactly
CLINICAL_NAMES = tuple(d[0] for d in DESCRIPTORS if d[0] not in SEROLOGICAL)
#: SELENA-SLEDAI domains of "major organ activity" for LLDAS (docs/model.md §4: renal,
#: vascular, serosal, constitutional)
MAJOR_ORGAN_DOMAINS = ("renal", "vascular", "serosal", "constitutional")
#: their descriptors, from the table's domain column
MAJOR_ORGAN_NAMES = tuple(d[0] for d in DESCRIPTORS if d[2] in MAJOR_ORGAN_DOMAINS)


def _check_table() -> None:
    """The table's own consistency (run once, on import)."""
    names = [d[0] for d in DESCRIPTORS]
    if len(set(names)) != len(names):
        raise RuntimeError("plain.DESCRIPTORS: duplicate descriptor name")
    for name, weight, _, system in DESCRIPTORS:
        if weight not in (1, 2, 4, 8):
            raise RuntimeError(f"plain.DESCRIPTORS: {name}: SELENA-SLEDAI weights are 8/4/2/1")
        if system is not None and system not in BILAG_SYSTEMS:
            raise RuntimeError(f"plain.DESCRIPTORS: {name}: unknown BILAG system {system!r}")
        if (system is None) != (name in SEROLOGICAL):
            raise RuntimeError(f"plain.DESCRIPTORS: {name}: only serology is outside BILAG")
    # the descriptors docs/model.md §4 lists by name for LLDAS's major organ activity
    listed = {"urinary_casts", "hematuria", "proteinuria", "pyuria", "vasculitis", "pleurisy",
              "pericarditis", "fever"}
    if set(MAJOR_ORGAN_NAMES) != listed:
        raise RuntimeError("plain.DESCRIPTORS: major organ domains disagree with model.md §4")


_check_table()


def check_descriptor_names(scenario: Scenario) -> None:
    """Raise if ``disease.descriptors`` does not list exactly this module's clinical names."""
    config = set(scenario.disease.descriptors)
    missing = sorted(set(CLINICAL_NAMES) - config)
    unknown = sorted(config - set(CLINICAL_NAMES))
    if missing or unknown:
        raise ValueError(
            "disease.descriptors and the plain reference's descriptor table disagree: "
            f"not in the config {missing}, not in the table {unknown} "
            "(tests/reference_model/plain.py DESCRIPTORS, from shared/domain.md §2.1, §2.3)"
        )


#: endpoints computed at every endpoint week (docs/model.md §4)
PLAIN_ENDPOINTS = (
    "sri4",
    "sri5",
    "sri6",
    "sri7",
    "sri8",
    "sledai_reduction_4",
    "sledai_reduction_5",
    "sledai_reduction_6",
    "sledai_reduction_7",
    "sledai_reduction_8",
    "no_new_bilag",
    "no_pga_worsening",
    "no_flare",
    "no_severe_flare",
    "sri4_modified",
    "sri4_sustained",
    "bicla",
    "lldas",
    "lldas_50",
    "doris_remission",
    "steroid_sparing",
)
#: endpoints analysed on some patients only (docs/model.md §4): the others are
#: ``NOT_EVALUABLE`` for them, neither responders nor non-responders, and are left out of
#: their rates (the patient table holds ``{name}_evaluable_w{week}`` beside the flags)
PLAIN_DENOMINATOR_ENDPOINTS = ("steroid_sparing",)

#: per-patient codes of an endpoint with a denominator (docs/model.md §4 names the third)
NON_RESPONDER, RESPONDER, NOT_EVALUABLE = 0, 1, 2

#: the races in the order of the scenario schema
RACE_NAMES = RACES

# BILAG grades, ordered so that "worse" is larger
E, D, C, B, A = 0, 1, 2, 3, 4

NO_FLARE, MILD_FLARE, SEVERE_FLARE = 0, 1, 2


def expit(x: float) -> float:
    """Logistic function of a scalar."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    ex = math.exp(x)
    return ex / (1.0 + ex)


def gamma_quantile(p: float, mean: float, sd: float) -> float:
    """Quantile of the gamma distribution with the given mean and SD."""
    shape = (mean / sd) ** 2
    scale = sd * sd / mean
    return float(gammaincinv(shape, p)) * scale


# --------------------------------------------------------------------------- parameters


@dataclass
class PlainModel:
    """Scenario values rearranged for the plain simulation (no randomness here)."""

    scenario: Scenario
    descriptor_names: list[str]
    weights: list[int]
    clinical: list[bool]  # descriptor rated by the physician in the PGA
    bilag_system: list[int]  # classic BILAG system of each descriptor, -1 for none
    system_members: list[list[int]]  # descriptors of each BILAG system
    intercept: list[float]  # per descriptor (serological ones: unused)
    heterogeneity: list[float]
    persistence: list[float]  # lag-one autocorrelation of each descriptor's chain
    i_dna: int
    i_complement: int
    i_proteinuria: int
    race_region_cells: list[tuple[str, str]]
    race_region_probs: np.ndarray
    copula_cholesky: np.ndarray
    arm_names: list[str]
    #: per arm: the dose amount (mg/kg when ``arm_per_kg``, else mg; 0 = placebo), the
    #: route ("iv" / "sc") and the scheduled dose days (docs/model.md §3a)
    arm_amounts: list[float]
    arm_per_kg: list[bool]
    arm_routes: list[str]
    arm_dose_days: list[list[int]]
    n_visits: int
    #: reading of "forced > 0.5" for baseline proteinuria: "truncate" or "clip"
    proteinuria_rule: str = "clip"


def race_region_table(scenario: Scenario) -> pd.DataFrame:
    """Joint race x region table by iterative proportional fitting (docs/model.md §1).

    The affinity table ``population.race_region_affinity`` (1 where a cell is not listed) is
    scaled alternately to the race and the region marginals until both are matched.

    Parameters
    ----------
    scenario : Scenario

    Returns
    -------
    pandas.DataFrame
        Rows races, columns regions, entries summing to 1.
    """
    pop = scenario.population
    race_margin = np.array([getattr(pop.race, r) for r in RACE_NAMES])
    region_margin = np.array([getattr(pop.region, g) for g in REGIONS])
    table = np.ones((len(RACE_NAMES), len(REGIONS)))
    for i, race in enumerate(RACE_NAMES):
        for j, region in enumerate(REGIONS):
            # READING: an affinity not listed in the YAML is 1 (stated only in model.yaml).
            table[i, j] = pop.race_region_affinity.get(race, {}).get(region, 1.0)
    for _ in range(10_000):
        row = table.sum(axis=1)
        for i in range(len(RACE_NAMES)):
            table[i, :] = table[i, :] * race_margin[i] / row[i] if row[i] > 0 else 0.0
        col = table.sum(axis=0)
        for j in range(len(REGIONS)):
            table[:, j] = table[:, j] * region_margin[j] / col[j] if col[j] > 0 else 0.0
        if (
            np.abs(table.sum(axis=1) - race_margin).max() < 1e-12
            and np.abs(table.sum(axis=0) - region_margin).max() < 1e-12
        ):
            break
    table = table / table.sum()
    return pd.DataFrame(table, index=list(RACE_NAMES), columns=list(REGIONS))


def copula_correlation(scenario: Scenario) -> np.ndarray:
    """Correlation matrix of the latent normal vector over ``COPULA_DIMS`` (unlisted pairs 0)."""
    k = len(COPULA_DIMS)
    corr = np.eye(k)
    for key, value in scenario.population.correlations.items():
        a, b = key.split("~")
        i, j = COPULA_DIMS.index(a), COPULA_DIMS.index(b)
        corr[i, j] = corr[j, i] = value
    return corr


def prepare(scenario: Scenario, proteinuria_rule: str = "clip") -> PlainModel:
    """Rearrange a scenario's values for :func:`simulate_trial_plain`.

    Parameters
    ----------
    scenario : Scenario
    proteinuria_rule : {"truncate", "clip"}
        Reading of "forced > 0.5" for baseline proteinuria (see :func:`draw_candidate`).
    """
    if proteinuria_rule not in ("truncate", "clip"):
        raise ValueError(f"proteinuria_rule must be 'truncate' or 'clip', got {proteinuria_rule!r}")
    check_descriptor_names(scenario)
    names = [d[0] for d in DESCRIPTORS]
    # per-week lag-one autocorrelation of descriptor j:
    # min(persistence_j x persistence_scale, 0.9975); raised to the interval in the course
    scale = scenario.disease.persistence_scale
    intercept, heterogeneity, persistence = [], [], []
    for name in names:
        spec = scenario.disease.descriptors.get(name)
        intercept.append(spec.intercept if spec else 0.0)
        heterogeneity.append(spec.heterogeneity if spec else 0.0)
        persistence.append(min(spec.persistence * scale, 0.9975) if spec else 0.0)
    table = race_region_table(scenario)
    cells = [(r, g) for r in table.index for g in table.columns]
    probs = np.array([table.loc[r, g] for r, g in cells])
    design = scenario.design
    return PlainModel(
        scenario=scenario,
        descriptor_names=names,
        weights=[d[1] for d in DESCRIPTORS],
        clinical=[d[0] not in SEROLOGICAL for d in DESCRIPTORS],
        bilag_system=[-1 if d[3] is None else BILAG_SYSTEMS.index(d[3]) for d in DESCRIPTORS],
        system_members=[[j for j, d in enumerate(DESCRIPTORS) if d[3] == s] for s in BILAG_SYSTEMS],
        intercept=intercept,
        heterogeneity=heterogeneity,
        persistence=persistence,
        i_dna=names.index("increased_dna_binding"),
        i_complement=names.index("low_complement"),
        i_proteinuria=names.index("proteinuria"),
        race_region_cells=cells,
        race_region_probs=probs / probs.sum(),
        copula_cholesky=np.linalg.cholesky(copula_correlation(scenario)),
        arm_names=list(design.arms),
        arm_amounts=[arm_amount(arm) for arm in design.arms.values()],
        arm_per_kg=[arm.dose_mg_kg is not None for arm in design.arms.values()],
        arm_routes=[arm_route(arm) for arm in design.arms.values()],
        arm_dose_days=[regimen_days(arm, design.duration_weeks) for arm in design.arms.values()],
        n_visits=design.duration_weeks // design.visit_interval_weeks,
        proteinuria_rule=proteinuria_rule,
    )


# --------------------------------------------------------------------------- instruments


def sledai(active: list[bool], m: PlainModel, clinical_only: bool = False) -> int:
    """SELENA-SLEDAI: sum of the weights of the active descriptors (domain.md §2.1)."""
    total = 0
    for j, on in enumerate(active):
        if on and (m.clinical[j] or not clinical_only):
            total += m.weights[j]
    return total


def pga_score(clinical_sledai: int, rater: float, rng: np.random.Generator, m: PlainModel) -> float:
    """PGA = clip(intercept + slope x clinical SLEDAI + rater effect + visit noise, 0, 3)."""
    p = m.scenario.disease.pga
    value = p.intercept + p.per_sledai_point * clinical_sledai + rater + rng.normal(0.0, p.visit_sd)
    return min(max(value, 0.0), 3.0)


def bilag_grades(
    active: list[bool],
    system_effect: list[float],
    ever_active: list[bool],
    rng: np.random.Generator,
    m: PlainModel,
) -> list[int]:
    """Classic BILAG grade of every system at a visit (after a course visit).

    Severity of a system = sum of its active descriptors' SLEDAI weights / 4 + the patient's
    system effect + new visit noise; A above ``threshold_a``, B above ``threshold_b``, else C.
    An inactive system is D if it was ever active before, else E.
    """
    bl = m.scenario.disease.bilag
    # READING: the visit noise is drawn for every system, active or not (it is only used for
    # active systems, so this changes no distribution).
    noise = rng.normal(0.0, bl.visit_sd, size=len(BILAG_SYSTEMS)).tolist()
    grades = []
    for s, members in enumerate(m.system_members):
        active_members = [j for j in members if active[j]]
        if active_members:
            weight_sum = sum(m.weights[j] for j in active_members)
            severity = weight_sum / 4.0 + system_effect[s] + noise[s]
            if severity > bl.threshold_a:
                grades.append(A)
            elif severity > bl.threshold_b:
                grades.append(B)
            else:
                grades.append(C)
        else:
            grades.append(D if ever_active[s] else E)
    return grades


def count_new_bilag(baseline: list[int], visit: list[int]) -> tuple[int, int]:
    """New A systems (A now, not A at baseline) and new B systems (B now, C/D/E at baseline)."""
    new_a = sum(1 for g0, g in zip(baseline, visit, strict=True) if g == A and g0 != A)
    new_b = sum(1 for g0, g in zip(baseline, visit, strict=True) if g == B and g0 < B)
    return new_a, new_b


# --------------------------------------------------------------------------- section 1


def draw_candidate(m: PlainModel, rng: np.random.Generator) -> dict:
    """One candidate from the source population, with the screening (= baseline) scores."""
    sc = m.scenario
    pop = sc.population
    dis = sc.disease
    p: dict = {}

    # race and region from the IPF joint table
    cell = rng.choice(len(m.race_region_cells), p=m.race_region_probs)
    p["race"], p["region"] = m.race_region_cells[cell]

    # Gaussian copula over COPULA_DIMS
    z = m.copula_cholesky @ rng.standard_normal(len(COPULA_DIMS))
    lat = dict(zip(COPULA_DIMS, z, strict=True))

    p["anti_dsdna"] = bool(lat["anti_dsdna"] > ndtri(1.0 - pop.anti_dsdna))
    load = pop.complement_loading
    resid = math.sqrt(1.0 - load * load)
    z_c3 = load * lat["low_complement"] + resid * rng.standard_normal()
    z_c4 = load * lat["low_complement"] + resid * rng.standard_normal()
    p["low_c3"] = bool(z_c3 > ndtri(1.0 - pop.low_c3))
    p["low_c4"] = bool(z_c4 > ndtri(1.0 - pop.low_c4))

    dd = pop.disease_duration_years
    p["disease_duration_years"] = gamma_quantile(
        float(ndtr(lat["disease_duration"])), dd.mean, dd.sd
    )

    pred = pop.prednisone
    u_pred = float(ndtr(lat["prednisone"]))
    if pred.use > 0 and u_pred > 1.0 - pred.use:
        q = (u_pred - (1.0 - pred.use)) / pred.use
        dose = gamma_quantile(q, pred.mean_dose_mg, pred.sd_dose_mg)
        dose = round(dose * 2.0) / 2.0
        p["prednisone_mg"] = max(dose, 1.0)
    else:
        p["prednisone_mg"] = 0.0

    p["immunosuppressant"] = bool(lat["immunosuppressant"] > ndtri(1.0 - pop.immunosuppressant))
    p["antimalarial"] = bool(lat["antimalarial"] > ndtri(1.0 - pop.antimalarial))
    p["age_years"] = min(max(pop.age.mean + pop.age.sd * lat["age"], 18.0), 75.0)
    # READING: weight_kg {mean, sd} are the mean and SD of the weight itself (not of its log).
    wm, wsd = pop.weight_kg.mean, pop.weight_kg.sd
    s2 = math.log(1.0 + (wsd / wm) ** 2)
    p["weight_kg"] = math.exp(math.log(wm) - s2 / 2.0 + math.sqrt(s2) * lat["weight"])

    p["female"] = bool(rng.random() < pop.female)
    p["ana_positive"] = bool(rng.random() < pop.ana_positive)

    # global activity and screening fluctuation
    p["activity"] = dis.activity_sd * lat["activity"] + dis.race_activity.get(p["race"], 0.0)
    p["w0"] = rng.normal(0.0, dis.fluctuation_sd)

    # descriptors at screening
    n_desc = len(m.descriptor_names)
    organ = [0.0] * n_desc
    active = [False] * n_desc
    for j in range(n_desc):
        if not m.clinical[j]:
            continue
        organ[j] = m.intercept[j] + m.heterogeneity[j] * rng.standard_normal()
        active[j] = bool(rng.random() < expit(organ[j] + p["activity"] + p["w0"]))
    active[m.i_dna] = p["anti_dsdna"]
    active[m.i_complement] = p["low_c3"] or p["low_c4"]
    p["organ"] = organ
    p["active0"] = active

    # proteinuria g/24h: log-normal, clipped from below at 0.51 when the descriptor is active
    # and from above at 0.5 otherwise (docs/model.md §1; the default proteinuria_rule="clip").
    # proteinuria_rule="truncate" keeps the first reading of an older statement ("forced"):
    # a log-normal truncated to that side of 0.5 (drawn by inverse CDF).
    is_active = active[m.i_proteinuria]
    median = dis.proteinuria_active_median_g if is_active else dis.proteinuria_inactive_median_g
    mu, sd = math.log(median), dis.proteinuria_log_sd
    if m.proteinuria_rule == "truncate":
        f_half = float(ndtr((math.log(0.5) - mu) / sd))
        u = rng.random()
        u = f_half + u * (1.0 - f_half) if is_active else u * f_half
        u = min(max(u, 1e-15), 1.0 - 1e-15)
        p["proteinuria_g"] = math.exp(mu + sd * float(ndtri(u)))
    else:
        x = math.exp(mu + sd * rng.standard_normal())
        p["proteinuria_g"] = max(x, 0.51) if is_active else min(x, 0.5)

    # instruments at screening
    p["sledai0"] = sledai(active, m)
    p["rater"] = rng.normal(0.0, dis.pga.patient_sd)
    p["pga0"] = pga_score(sledai(active, m, clinical_only=True), p["rater"], rng, m)
    bl = dis.bilag
    p["bilag_effect"] = [rng.normal(0.0, bl.patient_sd) for _ in BILAG_SYSTEMS]
    # at screening an inactive system is D with probability prior_involvement, else E
    prior = [bool(rng.random() < bl.prior_involvement) for _ in BILAG_SYSTEMS]
    p["bilag0"] = bilag_grades(active, p["bilag_effect"], prior, rng, m)
    return p


def passes_screening(p: dict, m: PlainModel) -> bool:
    """Entry criteria (docs/model.md §1)."""
    scr = m.scenario.screening
    if p["sledai0"] < scr.min_sledai:
        return False
    if scr.require_serology and not (p["ana_positive"] or p["anti_dsdna"]):
        return False
    return p["proteinuria_g"] <= scr.max_proteinuria_g


def enroll(m: PlainModel, rng: np.random.Generator, n: int | None = None) -> tuple[list[dict], int]:
    """Screen candidates one at a time until ``n`` (default ``design.sample_size``) enroll.

    Returns
    -------
    patients : list of dict
        The enrolled patients in enrolment order.
    screened : int
        Candidates screened.
    """
    n = m.scenario.design.sample_size if n is None else n
    patients: list[dict] = []
    screened = 0
    while len(patients) < n:
        cand = draw_candidate(m, rng)
        screened += 1
        if passes_screening(cand, m):
            patients.append(cand)
        if screened >= 1000 and len(patients) < m.scenario.screening.min_pass_rate * screened:
            raise RuntimeError(f"screening pass rate below {m.scenario.screening.min_pass_rate}")
    return patients, screened


# --------------------------------------------------------------------------- section 2


def stratum_of(p: dict, m: PlainModel) -> tuple[bool, ...]:
    """Randomization stratum from ``design.stratify_by`` (docs/model.md §2)."""
    key = []
    for factor in m.scenario.design.stratify_by:
        if factor == "sledai":
            key.append(p["sledai0"] >= 10)
        elif factor == "proteinuria":
            key.append(p["proteinuria_g"] >= 2.0)
        elif factor == "race":
            key.append(p["race"] in ("black", "indigenous_american"))
    return tuple(key)


def randomize(patients: list[dict], m: PlainModel, rng: np.random.Generator) -> list[int]:
    """Stratified permuted blocks: arm index of each patient, in enrolment order."""
    design = m.scenario.design
    block_template = []
    for a, arm in enumerate(design.arms.values()):
        block_template += [a] * (design.block_multiplier * arm.allocation)
    open_blocks: dict[tuple[bool, ...], list[int]] = {}
    arms = []
    for p in patients:
        key = stratum_of(p, m)
        if not open_blocks.get(key):
            block = list(block_template)
            rng.shuffle(block)
            open_blocks[key] = block
        arms.append(open_blocks[key].pop(0))
    return arms


# --------------------------------------------------------------------------- section 3a
# Regimens and pharmacokinetics, from docs/model.md §3a and domain.md §5 (not from
# model/pk.py, nor from Arm.dose_days: the schedule is re-derived here).

#: default dosing by route (docs/model.md §3a, domain.md §5): (loading days, interval days)
REGIMEN_DEFAULTS = {"iv": ((0, 14, 28), 28), "sc": ((0,), 7)}

#: state of the PK system: SC depot, central and peripheral amounts (mg), effect site (mg/L)
DEPOT, CENTRAL, PERIPHERAL, EFFECT = 0, 1, 2, 3


def arm_amount(arm) -> float:
    """The arm's dose: ``dose_mg_kg`` (mg/kg) if given, else ``dose_mg`` (mg); 0 = placebo."""
    if arm.dose_mg_kg is not None:
        return float(arm.dose_mg_kg)
    return float(arm.dose_mg or 0.0)


def arm_route(arm) -> str:
    """The arm's route: explicit, or ``iv`` for a dose per kg and ``sc`` for a fixed dose."""
    if arm.route is not None:
        return arm.route
    return "iv" if arm.dose_mg_kg is not None else "sc"


def regimen_days(arm, duration_weeks: int) -> list[int]:
    """Scheduled dose days of an arm (docs/model.md §3a); none on placebo.

    The ``loading_days`` (default by route), then every ``interval_days`` after the last of
    them, every day strictly before day ``7 x duration_weeks``.
    """
    if arm_amount(arm) <= 0.0:
        return []
    default_loading, default_interval = REGIMEN_DEFAULTS[arm_route(arm)]
    loading = list(arm.loading_days) if arm.loading_days is not None else list(default_loading)
    interval = arm.interval_days if arm.interval_days is not None else default_interval
    end = 7 * duration_weeks
    # READING: "while the day is before day 7 x duration_weeks" applies to the loading days
    # too (a loading day at or after the end is not scheduled).
    days = [day for day in loading if day < end]
    day = loading[-1] + interval
    while day < end:
        days.append(day)
        day += interval
    return days


def pk_rate_matrix(pk, route: str, weight_kg: float, eta_cl: float, eta_v1: float) -> tuple:
    """The linear system dx/dt = K x of docs/model.md §3a for one patient on one route.

    Parameters
    ----------
    pk : trialsim.config.scenario.PK
        ``drug.pk``.
    route : {"iv", "sc"}
    weight_kg : float
        The patient's weight at screening.
    eta_cl, eta_v1 : float
        The patient's random effects on CL and V1 (log scale).

    Returns
    -------
    K : numpy.ndarray (4, 4)
        Rates per day over the state (depot, A1, A2, C_e); the depot row is 0 on IV.
    v1 : float
        Central volume (L), for C = A1 / V1.
    """
    par = pk.iv if route == "iv" else pk.sc
    ratio = weight_kg / pk.reference_weight_kg
    scale_cl = ratio ** pk.weight_exponent_clearance
    scale_v = ratio ** pk.weight_exponent_volume
    cl = par.clearance_ml_day / 1000.0 * scale_cl * math.exp(eta_cl)  # L/day
    q = par.intercompartmental_ml_day / 1000.0 * scale_cl  # L/day
    v1 = par.central_l * scale_v * math.exp(eta_v1)  # L
    v2 = par.peripheral_l * scale_v  # L
    ka = par.absorption_per_day if route == "sc" else 0.0
    ke0 = math.log(2.0) / pk.effect_half_life_days
    k = np.zeros((4, 4))
    k[DEPOT, DEPOT] = -ka
    k[CENTRAL, DEPOT] = ka
    k[CENTRAL, CENTRAL] = -(cl / v1) - (q / v1)
    k[CENTRAL, PERIPHERAL] = q / v2
    k[PERIPHERAL, CENTRAL] = q / v1
    k[PERIPHERAL, PERIPHERAL] = -(q / v2)
    k[EFFECT, CENTRAL] = ke0 / v1  # ke0 * C, C = A1 / V1
    k[EFFECT, EFFECT] = -ke0
    return k, v1


def dose_inputs(
    pk, route: str, dose_mg: float, dose_days: list[int], given: list[bool]
) -> list[tuple[float, int, float]]:
    """The inputs of the given doses: (day, compartment, mg), in time order.

    IV: D into the central compartment on the dose day; SC: F x D into the depot
    ``lag_days`` after it (docs/model.md §3a). A missed dose is no input at all.
    """
    if route == "iv":
        return [(float(day), CENTRAL, dose_mg) for day, g in zip(dose_days, given, strict=True)
                if g]
    sc = pk.sc
    return [(day + sc.lag_days, DEPOT, sc.bioavailability * dose_mg)
            for day, g in zip(dose_days, given, strict=True) if g]


def pk_states(
    k: np.ndarray, inputs: list[tuple[float, int, float]], days: list[float]
) -> np.ndarray:
    """The state (depot, A1, A2, C_e) at each of ``days`` (increasing), from 0 at day 0.

    Each state is the left limit: an input at exactly that day is not yet in it (a visit's
    assessment comes before the dose given at the visit). Between events the state moves by
    ``expm(K dt)`` (one matrix per distinct step, cached).

    Returns
    -------
    numpy.ndarray (len(days), 4)
    """
    cache: dict[float, np.ndarray] = {}

    def advance(x: np.ndarray, dt: float) -> np.ndarray:
        if dt <= 0.0:
            return x
        key = round(dt, 9)
        if key not in cache:
            cache[key] = expm(k * dt)
        return cache[key] @ x

    x = np.zeros(4)
    t = 0.0
    i = 0
    out = np.zeros((len(days), 4))
    for n, day in enumerate(days):
        if day < t:
            raise ValueError("pk_states: days must increase")
        while i < len(inputs) and inputs[i][0] < day:  # strictly before: left limit
            t_in, comp, amount = inputs[i]
            x = advance(x, t_in - t)
            t = t_in
            x = x.copy()
            x[comp] += amount
            i += 1
        x = advance(x, day - t)
        t = day
        out[n] = x
    return out


def effect_site_concentrations(
    pk,
    route: str,
    weight_kg: float,
    dose_mg: float,
    dose_days: list[int],
    given: list[bool],
    eta_cl: float,
    eta_v1: float,
    days: list[float],
) -> np.ndarray:
    """C_e (µg/mL) at each of ``days``, before that day's dose (docs/model.md §3a)."""
    k, _ = pk_rate_matrix(pk, route, weight_kg, eta_cl, eta_v1)
    inputs = dose_inputs(pk, route, dose_mg, dose_days, given)
    return pk_states(k, inputs, days)[:, EFFECT]


def patient_concentrations(p: dict, arm: int, m: PlainModel, rng: np.random.Generator) -> list:
    """One patient's C_e at visits 0..n_visits (0 on placebo), drawing the η and the misses.

    On drug: η_CL ~ N(0, ``iiv_clearance_var``), η_V1 ~ N(0, ``iiv_central_var``) and each
    scheduled dose missed with probability ``design.missed_dose_prob``, drawn once per
    patient; C_e at the day ``7 v visit_interval_weeks`` of each visit v.
    """
    n = m.n_visits + 1
    if m.arm_amounts[arm] <= 0.0:
        return [0.0] * n
    pk = m.scenario.drug.pk
    design = m.scenario.design
    eta_cl = rng.normal(0.0, math.sqrt(pk.iiv_clearance_var))
    eta_v1 = rng.normal(0.0, math.sqrt(pk.iiv_central_var))
    schedule = m.arm_dose_days[arm]
    given = (rng.random(len(schedule)) >= design.missed_dose_prob).tolist()
    amount = m.arm_amounts[arm]
    # READING: the weight of a dose per kg is the screening weight, for every dose.
    dose_mg = amount * p["weight_kg"] if m.arm_per_kg[arm] else amount
    # READING: doses go on whatever happens in the course (treatment failure, dropout): §3a
    # makes the schedule depend on the arm and the misses only.
    days = [7.0 * v * design.visit_interval_weeks for v in range(n)]
    ce = effect_site_concentrations(pk, m.arm_routes[arm], p["weight_kg"], dose_mg, schedule,
                                    given, eta_cl, eta_v1, days)
    return ce.tolist()


# --------------------------------------------------------------------------- section 3


def drug_effect(p: dict, ce: float, t: float, m: PlainModel) -> float:
    """Belimumab reduction of activity (log-odds) at week ``t`` (docs/model.md §3).

    ``ce`` is the patient's effect-site concentration (µg/mL) at the visit
    (:func:`patient_concentrations`; 0 on placebo).
    """
    drug = m.scenario.drug
    if ce <= 0.0 or t <= drug.onset_lag_weeks:
        return 0.0
    effect = drug.emax * ce / (drug.ec50_ug_ml + ce)
    mod = drug.modifiers
    effect *= mod.race.get(p["race"], 1.0)
    # READING: the modifiers use baseline covariates.
    if p["anti_dsdna"] and (p["low_c3"] or p["low_c4"]):
        effect *= mod.serologically_active
    effect *= mod.per_5y_duration ** (max(p["disease_duration_years"] - 2.0, 0.0) / 5.0)
    if p["prednisone_mg"] > 7.5:
        effect *= mod.high_steroid
    effect *= 1.0 - math.exp(-(t - drug.onset_lag_weeks) / drug.onset_weeks)
    if drug.waning_half_life_weeks is not None and t > drug.waning_start_weeks:
        effect *= math.exp(
            -math.log(2.0) * (t - drug.waning_start_weeks) / drug.waning_half_life_weeks
        )
    return effect


def stabilization(p: dict, on_drug: bool, t: float, m: PlainModel) -> float:
    """Fractional reduction of therapy escalations on drug at week ``t`` (docs/model.md §3).

    ``on_drug``: the arm's dose is above 0 (§3a: not the concentration, nor missed doses).
    """
    drug = m.scenario.drug
    if not on_drug or t <= drug.onset_lag_weeks:
        return 0.0
    s = min(drug.stabilization * drug.modifiers.race.get(p["race"], 1.0), 1.0)
    s *= 1.0 - math.exp(-(t - drug.onset_lag_weeks) / drug.onset_weeks)
    if drug.waning_half_life_weeks is not None and t > drug.waning_start_weeks:
        s *= math.exp(-math.log(2.0) * (t - drug.waning_start_weeks) / drug.waning_half_life_weeks)
    return s


def flare_index(s_prev: int, s_now: int, pga_prev: float, pga_now: float) -> int:
    """SELENA-SLEDAI Flare Index from the instruments, against the previous visit."""
    if (s_now > 12 and s_prev <= 12) or (pga_now > 2.5 and pga_prev <= 2.5):
        return SEVERE_FLARE
    if s_now - s_prev >= 3 or pga_now - pga_prev >= 1.0:
        return MILD_FLARE
    return NO_FLARE


def simulate_course(p: dict, arm: int, m: PlainModel, rng: np.random.Generator) -> dict:
    """The visits of one patient (docs/model.md §3).

    Returns
    -------
    dict
        Per-visit lists (index 0 = baseline): ``sledai``, ``pga``, ``bilag``, ``flare``,
        ``prednisone_mg``; ``clinical_sledai`` (serological descriptors left out),
        ``major_organ`` (a renal, vascular, serosal or constitutional descriptor active),
        ``new_activity`` (a clinical descriptor active that was inactive at the previous
        visit; False at baseline); and ``failure_visit`` / ``dropout_visit`` (``None`` if
        never).
    """
    sc = m.scenario
    dis, soc, design = sc.disease, sc.standard_of_care, sc.design
    prot = design.protocol
    interval = design.visit_interval_weeks
    on_drug = m.arm_amounts[arm] > 0.0
    # effect-site concentration at every visit, once per patient (docs/model.md §3a)
    conc = patient_concentrations(p, arm, m, rng)
    n_desc = len(m.descriptor_names)

    background = max(soc.effect + soc.region_effect.get(p["region"], 0.0), 0.0)
    dropout_p = 1.0 - (1.0 - design.dropout_per_year) ** (interval / 52.0)
    base_normalize = -math.log(1.0 - dis.serology.normalize)
    # continuous time (docs/model.md §3): per-week values over an interval of d weeks
    d = interval
    ar1 = dis.fluctuation_ar1 ** d
    innovation_sd = math.sqrt(1.0 - ar1 * ar1) * dis.fluctuation_sd
    taper_p = 1.0 - (1.0 - soc.taper_prob) ** d

    active = list(p["active0"])
    w = p["w0"]
    dose0 = p["prednisone_mg"]
    dose = dose0
    on_is = p["immunosuppressant"]
    escalations = 0
    # a system counts as "ever active" if active or D at baseline
    ever = [g != E for g in p["bilag0"]]

    major = [m.descriptor_names.index(name) for name in MAJOR_ORGAN_NAMES]
    out = {
        "sledai": [p["sledai0"]],
        "pga": [p["pga0"]],
        "bilag": [list(p["bilag0"])],
        "flare": [NO_FLARE],
        "prednisone_mg": [dose0],
        "clinical_sledai": [sledai(active, m, clinical_only=True)],
        "major_organ": [any(active[j] for j in major)],
        # "none at baseline" (docs/model.md §4): there is no visit before visit 0
        "new_activity": [False],
        "failure_visit": None,
        "dropout_visit": None,
    }
    for v in range(1, m.n_visits + 1):
        t = v * interval

        # fluctuation AR(1)
        w = ar1 * w + innovation_sd * rng.standard_normal()

        # shift: background therapy + steroid change + escalations + drug
        effect = drug_effect(p, conc[v], t, m)
        stab = stabilization(p, on_drug, t, m)
        shift = background * (1.0 - math.exp(-t / soc.onset_weeks))
        shift += soc.steroid_potency * (math.log1p(dose) - math.log1p(dose0))
        shift += soc.escalation_effect * escalations
        shift += effect

        # clinical descriptors: two-state Markov chains
        previous = list(active)  # the states at visit v - 1, for LLDAS's "new activity"
        u = rng.random(n_desc).tolist()
        for j in range(n_desc):
            if not m.clinical[j]:
                continue
            pi = expit(p["organ"][j] + p["activity"] + w - shift)
            lam = m.persistence[j] ** d
            p_on = pi + lam * (1.0 - pi) if active[j] else pi * (1.0 - lam)
            active[j] = u[j] < p_on

        # serological descriptors
        # READING: "drug effect" in the normalization hazard is the full drug term of the
        # shift (with modifiers, onset and waning) at this visit.
        # a two-state chain per week run d steps: the d-th power of its transition matrix
        hazard = base_normalize + dis.serology.drug_normalize * effect
        weekly = np.array([[1.0 - dis.serology.appear, dis.serology.appear],
                           [1.0 - math.exp(-hazard), math.exp(-hazard)]])  # rows: off, on
        over = np.linalg.matrix_power(weekly, d)
        for j in (m.i_dna, m.i_complement):
            if active[j]:
                active[j] = not (rng.random() < over[1, 0])
            else:
                active[j] = bool(rng.random() < over[0, 1])

        # instruments
        s_now = sledai(active, m)
        pga_now = pga_score(sledai(active, m, clinical_only=True), p["rater"], rng, m)
        grades = bilag_grades(active, p["bilag_effect"], ever, rng, m)
        for s, g in enumerate(grades):
            if g >= C:
                ever[s] = True

        # flare index against the previous visit
        flare = flare_index(out["sledai"][-1], s_now, out["pga"][-1], pga_now)

        # physician's response
        failed_now = False
        if flare != NO_FLARE:
            if rng.random() < soc.flare_increase_prob:
                dose += soc.flare_increase_mg * (2.0 if flare == SEVERE_FLARE else 1.0)
                # READING: the two checks below follow an increase at this visit only.
                if dose > 0.5 * p["weight_kg"]:
                    flare = SEVERE_FLARE
                if t > prot.steroid_limit_week and dose > dose0 + prot.steroid_allowance_mg:
                    failed_now = True
            p_esc = soc.escalate_severe_prob if flare == SEVERE_FLARE else soc.escalate_mild_prob
            if rng.random() < p_esc * (1.0 - stab):
                flare = SEVERE_FLARE
                if not on_is or t > prot.immunosuppressant_increase_limit_week:
                    failed_now = True
                on_is = True
                escalations += 1
        else:
            # without a flare: symptoms outside the SLEDAI may make the physician raise
            # prednisone (an SFI flare by its medication criterion); otherwise a taper step
            q = soc.symptom_increase_prob
            if dose0 > 7.5:  # baseline dose: steroid-reliant practice
                q *= soc.symptom_high_steroid_factor
            p_symptom = min(1.0, 2.0 * q * expit(p["activity"] + w - shift)) * (1.0 - stab)
            if t > prot.steroid_limit_week:  # investigators avoid a protocol violation
                p_symptom *= soc.symptom_after_limit_factor
            p_symptom = 1.0 - (1.0 - p_symptom) ** d  # per week, over the interval
            if rng.random() < p_symptom:
                dose += soc.flare_increase_mg
                flare = MILD_FLARE
                # READING: only the week-24 steroid rule is applied here ("the same week-24
                # steroid rule applies"), not the > 0.5 mg/kg severe rule nor an escalation.
                if t > prot.steroid_limit_week and dose > dose0 + prot.steroid_allowance_mg:
                    failed_now = True
            elif dose > soc.taper_floor_mg and rng.random() < taper_p:
                dose = max(soc.taper_floor_mg, dose * (1.0 - soc.taper_fraction))
        if failed_now and out["failure_visit"] is None:
            out["failure_visit"] = v

        # dropout: the first visit missed
        if out["dropout_visit"] is None and rng.random() < dropout_p:
            out["dropout_visit"] = v

        out["sledai"].append(s_now)
        out["pga"].append(pga_now)
        out["bilag"].append(grades)
        out["flare"].append(flare)
        out["prednisone_mg"].append(dose)
        out["clinical_sledai"].append(sledai(active, m, clinical_only=True))
        out["major_organ"].append(any(active[j] for j in major))
        out["new_activity"].append(
            any(active[j] and not previous[j] for j in range(n_desc) if m.clinical[j])
        )
    return out


# --------------------------------------------------------------------------- section 4


def _on_study(course: dict, visit: int) -> bool:
    """Neither dropped out nor a treatment failure by ``visit`` (a non-responder otherwise)."""
    observed = course["dropout_visit"] is None or course["dropout_visit"] > visit
    not_failed = course["failure_visit"] is None or course["failure_visit"] > visit
    return observed and not_failed


def _bilag_ok(course: dict, visit: int) -> bool:
    """No new BILAG A and at most one new B at ``visit`` against baseline (as in SRI)."""
    new_a, new_b = count_new_bilag(course["bilag"][0], course["bilag"][visit])
    return new_a == 0 and new_b <= 1


def _pga_ok(course: dict, visit: int) -> bool:
    """PGA increase from baseline < 0.3 at ``visit``."""
    return course["pga"][visit] - course["pga"][0] < 0.3 - 1e-9


def _sri4(course: dict, visit: int) -> bool:
    """SRI-4 at ``visit`` (a dropout or treatment failure by then is a non-responder)."""
    reduction = course["sledai"][0] - course["sledai"][visit]
    return (
        _on_study(course, visit)
        and reduction >= 4
        and _bilag_ok(course, visit)
        and _pga_ok(course, visit)
    )


#: tolerance of the prednisone thresholds (7.5 and 5 mg/day)
# READING: "prednisone ≤ 7.5 mg/day" (and ≤ 5) is compared with a 1e-9 mg tolerance: a
# dose reached by taper steps (dose x (1 - taper_fraction)) is a float that may land a
# rounding error above a threshold it equals on paper.
DOSE_EPS = 1e-9


def _lldas_state(course: dict, visit: int) -> bool:
    """LLDAS's conditions at ``visit`` (docs/model.md §4), on-study status not included."""
    # READING: "SELENA-SLEDAI ≤ 4" is the full score, serological descriptors included
    # (model.md says "clinical SELENA-SLEDAI" where it means the clinical one: DORIS,
    # sri4_modified); so a patient with both serological descriptors active can be in LLDAS.
    # READING: "(none at baseline)" means no new activity is counted at visit 0 (no visit
    # before it); visit 1 is compared with the baseline states.
    # READING: "no clinical descriptor active at v that was inactive at v - 1" compares the
    # simulated descriptor states at the two visits (unobserved weeks between them do not
    # count), clinical descriptors only.
    return (
        course["sledai"][visit] <= 4
        and not course["major_organ"][visit]
        and not course["new_activity"][visit]
        and course["pga"][visit] <= 1.0
        and course["prednisone_mg"][visit] <= 7.5 + DOSE_EPS
    )


#: steroid sparing (docs/model.md §4): evaluated when on more than this at baseline, and the
#: dose must be at most this at every visit of the window
STEROID_SPARING_MAX_MG = 7.5
#: ... and at most this fraction of the baseline dose
STEROID_SPARING_SHARE_OF_BASELINE = 0.75
#: the window reaches back this many weeks (⌊12 / d⌋ visits; weeks 40-52 for week 52)
STEROID_SPARING_WINDOW_WEEKS = 12


def steroid_sparing_code(course: dict, visit: int, interval_weeks: int) -> int:
    """Steroid sparing (BLISS) of one patient at ``visit``: a responder code.

    docs/model.md §4: only a patient on > 7.5 mg/day prednisone at baseline is evaluated
    (any other is ``NOT_EVALUABLE``, whatever happens later); an evaluated patient is a
    ``RESPONDER`` when on study at ``visit`` (not dropped out, not a treatment failure by
    then) and the prednisone after the decisions of every visit ``u`` with
    ``max(1, visit - ⌊12 / d⌋) <= u <= visit`` is ≤ 7.5 mg/day and ≤ 75% of baseline;
    otherwise a ``NON_RESPONDER``.

    Parameters
    ----------
    course : dict
        Output of :func:`simulate_course` (only ``prednisone_mg``, ``failure_visit`` and
        ``dropout_visit`` are used: prednisone after each visit's decisions, index 0 the
        baseline dose; first failure / dropout visit or ``None``).
    visit : int
        The endpoint visit.
    interval_weeks : int
        ``design.visit_interval_weeks`` (``d``).

    Returns
    -------
    int
        ``RESPONDER``, ``NON_RESPONDER`` or ``NOT_EVALUABLE``.
    """
    dose = course["prednisone_mg"]
    baseline = dose[0]
    # READING: "on > 7.5 mg/day at baseline" is strict, on the baseline dose as drawn
    # (0.5 mg steps, so no tolerance is needed); it does not depend on the visit, nor on
    # dropout or failure: a dropout on > 7.5 mg is evaluable and a non-responder.
    if not baseline > STEROID_SPARING_MAX_MG:
        return NOT_EVALUABLE
    # READING: as for every endpoint, a dropout or treatment failure by ``visit`` is a
    # non-responder (being on study at ``visit`` implies being on study at the whole window).
    # An endpoint at visit 0 has an empty window: no response (not reached by any design).
    if visit < 1 or not _on_study(course, visit):
        return NON_RESPONDER
    first = max(1, visit - STEROID_SPARING_WINDOW_WEEKS // interval_weeks)
    # READING: both limits are compared with the 1e-9 mg tolerance of the other prednisone
    # thresholds (DOSE_EPS), 75% of baseline included ("≤ 75%": a dose of exactly 75% of
    # baseline responds).
    limit = min(STEROID_SPARING_MAX_MG, STEROID_SPARING_SHARE_OF_BASELINE * baseline)
    spared = all(dose[u] <= limit + DOSE_EPS for u in range(first, visit + 1))
    return RESPONDER if spared else NON_RESPONDER


def endpoint_evaluable(course: dict, visit: int, interval_weeks: int) -> dict[str, bool]:
    """Whether one patient is in each denominator endpoint's analysis at ``visit``.

    Parameters
    ----------
    course : dict
        Output of :func:`simulate_course`.
    visit, interval_weeks : int
        As for :func:`endpoint_flags`.

    Returns
    -------
    dict
        One entry per name of :data:`PLAIN_DENOMINATOR_ENDPOINTS` (every other endpoint is
        evaluated on every patient).
    """
    code = steroid_sparing_code(course, visit, interval_weeks)
    return {"steroid_sparing": code != NOT_EVALUABLE}


def endpoint_flags(p: dict, course: dict, visit: int, interval_weeks: int) -> dict[str, bool]:
    """Responder flags of one patient at one endpoint visit (docs/model.md §4).

    ``interval_weeks`` is ``design.visit_interval_weeks`` (for the sustained SRI's visits).
    """
    ok = _on_study(course, visit)
    reduction = course["sledai"][0] - course["sledai"][visit]
    bilag_ok = _bilag_ok(course, visit)
    pga_ok = _pga_ok(course, visit)
    flares = course["flare"][1 : visit + 1]
    flags = {}
    for k in range(4, 9):
        flags[f"sri{k}"] = ok and reduction >= k and bilag_ok and pga_ok
        flags[f"sledai_reduction_{k}"] = ok and reduction >= k
    # READING: dropouts and treatment failures are non-responders for the components and the
    # flare endpoints too; "no flare" means none at any visit up to and including this one.
    flags["no_new_bilag"] = ok and bilag_ok
    flags["no_pga_worsening"] = ok and pga_ok
    flags["no_flare"] = ok and all(f == NO_FLARE for f in flares)
    flags["no_severe_flare"] = ok and all(f != SEVERE_FLARE for f in flares)

    # modified SRI-4: the reduction on the clinical SELENA-SLEDAI (serology left out)
    clinical_reduction = course["clinical_sledai"][0] - course["clinical_sledai"][visit]
    flags["sri4_modified"] = ok and clinical_reduction >= 4 and bilag_ok and pga_ok

    # sustained SRI-4: at v, v - g and v - 2g (g visits = 4 weeks); before visit 1 is no
    # response
    g = max(1, round(4 / interval_weeks))
    earlier = (visit - g, visit - 2 * g)
    # READING: each earlier visit is scored as SRI-4 at that visit (on study then, which
    # being on study at v implies); a visit index < 1 makes the patient a non-responder.
    flags["sri4_sustained"] = (
        flags["sri4"] and all(u >= 1 and _sri4(course, u) for u in earlier)
    )

    # BICLA
    g0, gv = course["bilag"][0], course["bilag"][visit]
    # READING: "improves" is grade-wise: a baseline A system must be < A (B, C, D or E) at
    # v, a baseline B system < B (C, D or E); systems C/D/E at baseline are held only by the
    # no-new-A / at-most-one-new-B rule. Without an A or B at baseline: non-responder.
    any_ab = any(g == A or g == B for g in g0)
    improved = all(gnow < g_base for g_base, gnow in zip(g0, gv, strict=True) if g_base >= B)
    # READING: "SELENA-SLEDAI at v ≤ baseline" is the full score (serology included).
    flags["bicla"] = (
        ok
        and any_ab
        and improved
        and bilag_ok
        and course["sledai"][visit] <= course["sledai"][0]
        and pga_ok
    )

    # LLDAS at v, and at >= 50% of visits 1..v
    flags["lldas"] = ok and _lldas_state(course, visit)
    # READING: "at ≥ 50% of visits 1…v" counts the visits 1..v at which the LLDAS conditions
    # hold (2 x count >= v); on study at v (required, as for every endpoint) implies on
    # study at all of them, so dropouts/failures by v are non-responders and nothing else.
    n_lldas = sum(1 for u in range(1, visit + 1) if _lldas_state(course, u))
    flags["lldas_50"] = ok and visit >= 1 and 2 * n_lldas >= visit

    # DORIS 2021 remission
    flags["doris_remission"] = (
        ok
        and course["clinical_sledai"][visit] == 0
        and course["pga"][visit] < 0.5
        and course["prednisone_mg"][visit] <= 5.0 + DOSE_EPS
    )

    # steroid sparing: False for a patient outside its denominator too (endpoint_evaluable
    # says which)
    code = steroid_sparing_code(course, visit, interval_weeks)
    flags["steroid_sparing"] = code == RESPONDER
    return flags


# --------------------------------------------------------------------------- trials


def baseline_row(p: dict, m: PlainModel) -> dict:
    """Baseline covariates and scores of one enrolled patient, as a table row."""
    g0 = p["bilag0"]
    row = {
        "race": p["race"],
        "region": p["region"],
        "female": p["female"],
        "age_years": p["age_years"],
        "weight_kg": p["weight_kg"],
        "disease_duration_years": p["disease_duration_years"],
        "ana_positive": p["ana_positive"],
        "anti_dsdna_positive": p["anti_dsdna"],
        "low_c3": p["low_c3"],
        "low_c4": p["low_c4"],
        "prednisone_mg": p["prednisone_mg"],
        "prednisone_use": p["prednisone_mg"] > 0,
        "prednisone_gt_7_5mg": p["prednisone_mg"] > 7.5,
        "immunosuppressant": p["immunosuppressant"],
        "antimalarial": p["antimalarial"],
        "proteinuria_g": p["proteinuria_g"],
        "proteinuria_ge_2g": p["proteinuria_g"] >= 2.0,
        "sledai": p["sledai0"],
        "sledai_ge_10": p["sledai0"] >= 10,
        "pga": p["pga0"],
        "bilag_1a_or_2b": sum(g == A for g in g0) >= 1 or sum(g == B for g in g0) >= 2,
        "stratum": "".join("1" if s else "0" for s in stratum_of(p, m)),
    }
    for name, on in zip(m.descriptor_names, p["active0"], strict=True):
        row[f"descriptor_{name}"] = on
    return row


def simulate_trial_plain(
    scenario: Scenario, rng: np.random.Generator, proteinuria_rule: str = "clip"
) -> dict:
    """Simulate one trial, patient by patient and visit by visit.

    Parameters
    ----------
    scenario : Scenario
    rng : numpy.random.Generator
    proteinuria_rule : {"truncate", "clip"}
        Reading of "forced > 0.5" for baseline proteinuria (see :func:`draw_candidate`).

    Returns
    -------
    dict
        ``patients``: DataFrame, one row per enrolled patient (arm, baseline covariates and
        scores, stratum, the endpoint flags as columns ``{endpoint}_w{week}``, False for a
        patient outside the denominator of an endpoint that has one, which
        ``{endpoint}_evaluable_w{week}`` marks (:data:`PLAIN_DENOMINATOR_ENDPOINTS`), and the
        course columns of the module docstring: failure, dropout and first-flare visits, per-visit
        SLEDAI, flare and prednisone); ``sledai``, ``pga``: arrays (n_patients, n_visits) of
        the visit-level scores (n_visits including visit 0 = baseline; values after dropout
        are simulated but unobserved); ``bilag``: int array (n_patients, n_visits, n_systems);
        ``flare``: int array (0 none, 1 mild/moderate, 2 severe); ``prednisone_mg``: float
        array (mg/day after each visit's decisions); ``screened``: candidates.
    """
    m = prepare(scenario, proteinuria_rule)
    patients, screened = enroll(m, rng)
    arms = randomize(patients, m, rng)
    n_visits = m.n_visits + 1  # visits 0..m.n_visits; also the "never" code
    rows, sledai_rows, pga_rows, bilag_rows, flare_rows, dose_rows = [], [], [], [], [], []
    for p, arm in zip(patients, arms, strict=True):
        course = simulate_course(p, arm, m, rng)
        row = {"arm": m.arm_names[arm], **baseline_row(p, m)}
        row.update(course_summary(course, n_visits))
        for week in scenario.design.endpoint_weeks:
            interval = scenario.design.visit_interval_weeks
            flags = endpoint_flags(p, course, week // interval, interval)
            for name in PLAIN_ENDPOINTS:
                row[f"{name}_w{week}"] = flags[name]
            evaluable = endpoint_evaluable(course, week // interval, interval)
            for name in PLAIN_DENOMINATOR_ENDPOINTS:
                row[f"{name}_evaluable_w{week}"] = evaluable[name]
        rows.append(row)
        sledai_rows.append(course["sledai"])
        pga_rows.append(course["pga"])
        bilag_rows.append(course["bilag"])
        flare_rows.append(course["flare"])
        dose_rows.append(course["prednisone_mg"])
    sledai_arr = np.array(sledai_rows, dtype=np.int64).reshape(len(rows), n_visits)
    flare_arr = np.array(flare_rows, dtype=np.int8).reshape(len(rows), n_visits)
    dose_arr = np.array(dose_rows, dtype=float).reshape(len(rows), n_visits)
    visit_cols = {}
    for v in range(n_visits):
        visit_cols[f"sledai_v{v}"] = sledai_arr[:, v].astype(np.int16)
    for v in range(n_visits):
        visit_cols[f"flare_v{v}"] = flare_arr[:, v]
    for v in range(n_visits):
        visit_cols[f"prednisone_v{v}"] = dose_arr[:, v]
    table = pd.concat([pd.DataFrame(rows), pd.DataFrame(visit_cols)], axis=1)
    return {
        "patients": table,
        "sledai": sledai_arr,
        "pga": np.array(pga_rows, dtype=float),
        "bilag": np.array(bilag_rows, dtype=np.int8),
        "flare": flare_arr,
        "prednisone_mg": dose_arr,
        "screened": screened,
    }


def course_summary(course: dict, n_visits: int) -> dict:
    """Failure, dropout and first-flare columns of one patient (``n_visits`` = never).

    Parameters
    ----------
    course : dict
        Output of :func:`simulate_course`.
    n_visits : int
        Visits including the baseline visit 0.

    Returns
    -------
    dict
        ``failure_visit``, ``dropout_visit``, ``first_flare_visit``, ``first_flare_observed``
        (see the module docstring).
    """
    failure = n_visits if course["failure_visit"] is None else course["failure_visit"]
    dropout = n_visits if course["dropout_visit"] is None else course["dropout_visit"]
    last_observed = min(dropout - 1, n_visits - 1)
    first_flare = next((v for v in range(1, n_visits) if course["flare"][v] != NO_FLARE), None)
    observed = first_flare is not None and first_flare <= last_observed
    return {
        "failure_visit": int(failure),
        "dropout_visit": int(dropout),
        "first_flare_visit": int(first_flare if observed else last_observed),
        "first_flare_observed": bool(observed),
    }


def enroll_plain(
    scenario: Scenario, n_patients: int, seed: int, proteinuria_rule: str = "clip"
) -> pd.DataFrame:
    """Baseline table of ``n_patients`` enrolled patients (screening only, no course).

    Pooled over patients, this gives the same baseline marginals as the patients of many
    trials, at a fraction of the cost.

    Parameters
    ----------
    scenario : Scenario
    n_patients : int
    seed : int
    proteinuria_rule : {"truncate", "clip"}

    Returns
    -------
    pandas.DataFrame
        One row per patient, columns as the baseline columns of ``simulate_trial_plain``.
    """
    m = prepare(scenario, proteinuria_rule)
    patients, _ = enroll(m, np.random.default_rng(seed), n_patients)
    return pd.DataFrame([baseline_row(p, m) for p in patients])


@dataclass
class PlainResult:
    """Replicates of the plain simulation."""

    #: columns replicate, endpoint, week, arm, n, rate (n and rate over the arm's patients in
    #: the endpoint's analysis: its evaluable ones for ``PLAIN_DENOMINATOR_ENDPOINTS``)
    rates: pd.DataFrame
    #: every enrolled patient of every replicate, with a ``replicate`` column
    patients: pd.DataFrame


def run_plain(
    scenario: Scenario, replicates: int, seed: int, proteinuria_rule: str = "clip"
) -> PlainResult:
    """Simulate ``replicates`` trials with the plain implementation.

    Parameters
    ----------
    scenario : Scenario
    replicates : int
    seed : int
        Seed of a ``numpy.random.SeedSequence``; each replicate gets its own child stream.
    proteinuria_rule : {"truncate", "clip"}
        Reading of "forced > 0.5" for baseline proteinuria (see :func:`draw_candidate`).

    Returns
    -------
    PlainResult
    """
    children = np.random.SeedSequence(seed).spawn(replicates)
    rate_rows, tables = [], []
    for r, child in enumerate(children):
        trial = simulate_trial_plain(scenario, np.random.default_rng(child), proteinuria_rule)
        pats = trial["patients"]
        pats.insert(0, "replicate", r)
        tables.append(pats)
        for week in scenario.design.endpoint_weeks:
            for name in PLAIN_ENDPOINTS:
                for arm in scenario.design.arms:
                    in_arm = pats["arm"] == arm
                    if name in PLAIN_DENOMINATOR_ENDPOINTS:  # its evaluable patients only
                        in_arm &= pats[f"{name}_evaluable_w{week}"]
                    flags = pats.loc[in_arm, f"{name}_w{week}"]
                    rate_rows.append(
                        {
                            "replicate": r,
                            "endpoint": name,
                            "week": week,
                            "arm": arm,
                            "n": len(flags),
                            "rate": float(flags.mean()) if len(flags) else float("nan"),
                        }
                    )
    return PlainResult(rates=pd.DataFrame(rate_rows), patients=pd.concat(tables, ignore_index=True))


def simulate_plain(
    scenario: Scenario, replicates: int, seed: int, proteinuria_rule: str = "clip"
) -> pd.DataFrame:
    """Arm-level response rates of ``replicates`` plain trials (see :func:`run_plain`).

    Returns
    -------
    pandas.DataFrame
        Columns replicate, endpoint, week, arm, n, rate.
    """
    return run_plain(scenario, replicates, seed, proteinuria_rule).rates


def baseline_marginals(patients: pd.DataFrame) -> pd.DataFrame:
    """Baseline characteristics pooled over patients.

    Parameters
    ----------
    patients : pandas.DataFrame
        ``PlainResult.patients`` or a trial's ``patients``.

    Returns
    -------
    pandas.DataFrame
        Index characteristic; columns n, mean, sd (for 0/1 columns the mean is the share).
    """
    cols = {
        "sledai": patients["sledai"],
        "pga": patients["pga"],
        "age_years": patients["age_years"],
        "weight_kg": patients["weight_kg"],
        "disease_duration_years": patients["disease_duration_years"],
        "female": patients["female"],
        "ana_positive": patients["ana_positive"],
        "anti_dsdna_positive": patients["anti_dsdna_positive"],
        "low_c3": patients["low_c3"],
        "low_c4": patients["low_c4"],
        "prednisone_use": patients["prednisone_use"],
        "prednisone_mg": patients["prednisone_mg"],
        "prednisone_gt_7_5mg": patients["prednisone_gt_7_5mg"],
        "immunosuppressant": patients["immunosuppressant"],
        "antimalarial": patients["antimalarial"],
        "proteinuria_g": patients["proteinuria_g"],
        "proteinuria_ge_2g": patients["proteinuria_ge_2g"],
        "sledai_ge_10": patients["sledai_ge_10"],
        "bilag_1a_or_2b": patients["bilag_1a_or_2b"],
    }
    for race in RACE_NAMES:
        cols[f"race_{race}"] = patients["race"] == race
    for region in REGIONS:
        cols[f"region_{region}"] = patients["region"] == region
    for c in patients.columns:
        if c.startswith("descriptor_"):
            cols[c] = patients[c]
    rows = {
        name: {
            "n": int(s.count()),
            "mean": float(s.astype(float).mean()),
            "sd": float(s.astype(float).std(ddof=1)),
        }
        for name, s in cols.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")
