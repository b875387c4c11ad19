"""A plain, independent reference implementation of the skin model ("double programming").

Written from ``docs/model.md`` §7 (and §3a for the concentrations) only, without reading or
calling the engine's skin code (``model/skin.py``, ``model/clasi.py``, ``experiments/skin.py``,
``analysis/cohort.py``). It has its own CLASI area list and subtype order (:data:`AREAS`,
:data:`SUBTYPES`), its own instrument rules (:func:`grade_assessment`, :func:`clasi_activity`,
:func:`clasi_damage`, :func:`sledai_descriptors`) and reuses the SLE reference's own
pharmacokinetics (``tests/reference_model/plain.py``: the linear ODEs of §3a propagated by the
matrix exponential). It takes only the configuration schema from ``trialsim.config.skin``.

It simulates one patient at a time and one week at a time with ordinary Python loops, so that
every rule can be read off the code, and draws its random numbers from one
``numpy.random.Generator`` in the order they are needed (the engine has its own counter-based
generator: only distributions can be compared).

Readings of §7 that are not spelled out there are marked ``READING:`` below.

Public API
----------
simulate_cohort(scenario, n, seed, on_drug=True)
    The first ``n`` eligible candidates (baseline CLASI-A >= ``design.min_clasi``), each
    followed at every assessment of the design, on the cohort's regimen (or off drug): arrays
    shaped like the engine's patient table (:class:`CohortResult`).
simulate_trial(scenario, seed)
    One randomised skin trial (``design.type: rct``): per arm the number randomised and the
    CLASI-k responders (``primary_response``) at ``primary_week``, dropouts non-responders.
clasi_response(baseline, value, k, min_baseline)
    The CLASI-k response rule of one patient at one assessment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tests.reference_model.plain import arm_amount, arm_route, effect_site_concentrations
from tests.reference_model.plain import regimen_days as plain_regimen_days
from trialsim.config.skin import SkinScenario

# --------------------------------------------------------------------------- instrument tables
# Transcribed from docs/model.md §7, NOT imported from trialsim.config.vocab or the engine.

#: the 13 CLASI areas, in the order of docs/model.md §7
AREAS = (
    "scalp", "ears", "nose_malar", "rest_of_face", "v_neck", "posterior_neck_shoulders",
    "chest", "abdomen", "back_buttocks", "arms", "hands", "legs", "feet",
)
SCALP = AREAS.index("scalp")
#: cutaneous subtypes; a patient's subtype code is its index here
SUBTYPES = ("acle", "scle", "dcle", "nonspecific")
#: subtypes whose erythema is the SLEDAI "rash" descriptor; the others' is "vasculitis"
RASH_SUBTYPES = ("acle", "scle", "dcle")
VASCULITIS_SUBTYPES = ("nonspecific",)
#: the SELENA-SLEDAI descriptors of the skin, in the engine's output order
DESCRIPTOR_NAMES = ("rash", "alopecia", "mucosal_ulcers", "vasculitis")
#: their SELENA-SLEDAI weights (§1, domain.md §2.1)
SLEDAI_WEIGHTS = {"rash": 2, "alopecia": 2, "mucosal_ulcers": 2, "vasculitis": 8}
#: item maxima (CLASI, domain.md §2.6)
ERYTHEMA_MAX, SCALE_MAX, ALOPECIA_MAX = 3, 2, 3
AREA_SCAR_MAX, SCALP_SCAR_FIRST, SCALP_SCAR_MAX = 2, 3, 6
#: weeks a dyspigmentation lasts before its point is doubled
DYSPIGMENTATION_DOUBLING_WEEKS = 52
WEEKS_PER_YEAR = 52.0
WEEKS_PER_MONTH = 52.0 / 12.0
#: relative tolerance of the CLASI-k rule
RESPONSE_RTOL = 1e-9


def weeks_of_months(months: list[float]) -> list[int]:
    """Assessment weeks of a cohort's schedule in months (months x 52/12, rounded)."""
    return [int(round(m * WEEKS_PER_MONTH)) for m in months]


def weekly_hazard(per_year: float) -> float:
    """The weekly hazard whose 52 weeks give the yearly probability ``per_year``."""
    # READING: "the weekly hazard of the yearly probability" is 1 - (1 - p)^(1/52).
    return 1.0 - (1.0 - per_year) ** (1.0 / WEEKS_PER_YEAR)


# --------------------------------------------------------------------------- a patient


@dataclass
class SkinPatient:
    """What a candidate brings (docs/model.md §7, "A patient")."""

    subtype: int
    weight_kg: float
    #: lesion-prone areas, (13,) bool
    prone: np.ndarray
    mucous_disease: bool
    lupus_alopecia: bool
    #: patient level u, area levels v (13,), fluctuation at week 0, drug sensitivity r
    u: float
    v: np.ndarray
    f0: float
    r: float


def draw_subtype(scenario: SkinScenario, uniform: float) -> int:
    """The subtype whose cumulative share first exceeds ``uniform``."""
    shares = scenario.population.subtypes
    cum = 0.0
    last = 0
    for code, name in enumerate(SUBTYPES):
        share = shares.get(name, 0.0)
        if share <= 0.0:
            continue
        cum += share
        last = code
        if uniform < cum:
            return code
    return last  # rounding of the shares' sum


def draw_weight(scenario: SkinScenario, z: float) -> float:
    """Log-normal weight with the arithmetic mean and SD of ``population.weight_kg``."""
    # READING: as the SLE reference, {mean, sd} are those of the weight, not of its log.
    mean, sd = scenario.population.weight_kg.mean, scenario.population.weight_kg.sd
    s2 = math.log(1.0 + (sd / mean) ** 2)
    return math.exp(math.log(mean) - s2 / 2.0 + math.sqrt(s2) * z)


def area_probabilities(scenario: SkinScenario, subtype: int) -> np.ndarray:
    """Per CLASI area, the probability that it is lesion-prone in this subtype (13,)."""
    areas = scenario.skin.subtypes[SUBTYPES[subtype]].areas
    return np.array([areas.get(name, 0.0) for name in AREAS])


def draw_patient(scenario: SkinScenario, rng: np.random.Generator) -> SkinPatient:
    """One candidate: subtype, weight, lesion-prone areas, mucous/alopecia disease, levels."""
    skin = scenario.skin
    subtype = draw_subtype(scenario, rng.random())
    model = skin.subtypes[SUBTYPES[subtype]]
    weight = draw_weight(scenario, rng.standard_normal())
    probs = area_probabilities(scenario, subtype)
    prone = rng.random(len(AREAS)) < probs
    if not prone.any():
        prone[int(np.argmax(probs))] = True  # argmax: the first of the highest
    mucous = bool(rng.random() < model.mucous_prob)
    alopecia = bool(rng.random() < model.alopecia_prob)
    u = rng.normal(0.0, skin.patient_sd)
    v = rng.normal(0.0, skin.area_sd, size=len(AREAS))
    f0 = rng.normal(0.0, skin.fluctuation_sd)
    sd = skin.drug.patient_sd
    r = math.exp(sd * rng.standard_normal() - sd * sd / 2.0)
    return SkinPatient(subtype, weight, prone, mucous, alopecia, u, v, f0, r)


# --------------------------------------------------------------------------- the instrument


@dataclass
class Damage:
    """A patient's damage items: per area dyspigmentation (bool) and its duration in weeks,
    scarring grade 0-2 of the areas other than the scalp, and the scalp's scarring item (0 or
    3-6)."""

    dyspigmented: np.ndarray
    dyspigmented_weeks: np.ndarray
    scarring: np.ndarray
    scalp_scarring: int

    @classmethod
    def none(cls) -> Damage:
        n = len(AREAS)
        return cls(np.zeros(n, bool), np.zeros(n, int), np.zeros(n, int), 0)

    def copy(self) -> Damage:
        return Damage(self.dyspigmented.copy(), self.dyspigmented_weeks.copy(),
                      self.scarring.copy(), self.scalp_scarring)


@dataclass
class Grades:
    """The activity items of one assessment."""

    erythema: np.ndarray  # (13,) 0-3
    scale: np.ndarray  # (13,) 0-2
    mucous: int  # 0-1
    hair_loss: int  # 0-1
    alopecia: int  # 0-3


def count_cuts(cuts: list[float], x: float) -> int:
    """The number of cut points at or below ``x``."""
    return sum(1 for c in cuts if c <= x)


def grade_assessment(scenario: SkinScenario, patient: SkinPatient, level: float,
                     rng: np.random.Generator) -> Grades:
    """Grade the activity items at latent level ``L_t``, with fresh rater noise.

    Per prone area: ``x = L_t + v_k + e_k``; erythema = cuts <= x; scale (only when erythema
    > 0) = scale cuts <= x + scale_shift. Mucous = 1 when the patient has mucous disease and
    ``L_t + mucous_offset + e > 0``. Alopecia = cuts <= ``L_t + alopecia_offset + e'`` (at
    most 3) for a patient with lupus alopecia; recent hair loss = 1 when alopecia > 0.
    """
    skin = scenario.skin
    shift = skin.subtypes[SUBTYPES[patient.subtype]].scale_shift
    sd = skin.assessment_sd
    # READING: "per area and per item": one noise e_k per area, shared by its erythema and
    # scale (both read off the same x), one for the mucous item, one for the alopecia items.
    e_area = rng.normal(0.0, sd, size=len(AREAS))
    e_mucous = rng.normal(0.0, sd)
    e_alopecia = rng.normal(0.0, sd)
    erythema = np.zeros(len(AREAS), int)
    scale = np.zeros(len(AREAS), int)
    for k in range(len(AREAS)):
        if not patient.prone[k]:
            continue
        x = level + patient.v[k] + e_area[k]
        erythema[k] = min(count_cuts(skin.erythema_cuts, x), ERYTHEMA_MAX)
        if erythema[k] > 0:
            scale[k] = min(count_cuts(skin.scale_cuts, x + shift), SCALE_MAX)
    mucous = int(patient.mucous_disease and level + skin.mucous_offset + e_mucous > 0.0)
    alopecia = 0
    if patient.lupus_alopecia:
        alopecia = min(count_cuts(skin.alopecia_cuts, level + skin.alopecia_offset + e_alopecia),
                       ALOPECIA_MAX)
    hair_loss = int(alopecia > 0)
    return Grades(erythema, scale, mucous, hair_loss, alopecia)


def clasi_activity(g: Grades) -> int:
    """CLASI-A = sum of erythema + sum of scale + mucous + hair loss + alopecia (0-70)."""
    return int(g.erythema.sum() + g.scale.sum() + g.mucous + g.hair_loss + g.alopecia)


def clasi_damage(d: Damage) -> int:
    """CLASI-D = sum of dyspigmentation (doubled after 52 weeks) + sum of the areas' scarring
    (the scalp's is its own item) + the scalp's scarring item (0-56)."""
    dysp = 0
    for k in range(len(AREAS)):
        if d.dyspigmented[k]:
            # READING: "once it has lasted 52 weeks": a duration of at least 52 weeks.
            dysp += 2 if d.dyspigmented_weeks[k] >= DYSPIGMENTATION_DOUBLING_WEEKS else 1
    area_scars = sum(int(d.scarring[k]) for k in range(len(AREAS)) if k != SCALP)
    return dysp + area_scars + d.scalp_scarring


def sledai_descriptors(patient: SkinPatient, g: Grades) -> dict[str, bool]:
    """The SELENA-SLEDAI skin descriptors of an assessment (names of DESCRIPTOR_NAMES)."""
    name = SUBTYPES[patient.subtype]
    any_erythema = bool((g.erythema >= 1).any())
    return {
        "rash": any_erythema and name in RASH_SUBTYPES,
        "alopecia": g.hair_loss > 0 or g.alopecia > 0,
        "mucosal_ulcers": g.mucous == 1,
        "vasculitis": any_erythema and name in VASCULITIS_SUBTYPES,
    }


def sledai_points(desc: dict[str, bool]) -> int:
    """The descriptors' SELENA-SLEDAI points."""
    return sum(SLEDAI_WEIGHTS[name] for name, on in desc.items() if on)


def clasi_response(baseline: float, value: float, k: float, min_baseline: float) -> bool:
    """CLASI-k: baseline >= ``min_baseline`` and > 0, and value <= (1 - k/100) x baseline."""
    if baseline < min_baseline or baseline <= 0.0:
        return False
    limit = (1.0 - k / 100.0) * baseline
    return value <= limit + RESPONSE_RTOL * abs(limit)


# --------------------------------------------------------------------------- exposure


def exposure(scenario: SkinScenario, arm, patient: SkinPatient, last_week: int,
             rng: np.random.Generator) -> np.ndarray:
    """``X_t = C_e / (EC50 + C_e)`` at day 7t, t = 0 .. last_week (0 off drug / on placebo).

    The SLE reference's PK (docs/model.md §3a): η_CL, η_V1 and the missed doses drawn here,
    the arm's schedule (default loading/interval by route), C_e before each day's dose.
    """
    if arm is None or arm_amount(arm) <= 0.0:
        return np.zeros(last_week + 1)
    drug = scenario.drug
    pk = drug.pk
    eta_cl = rng.normal(0.0, math.sqrt(pk.iiv_clearance_var))
    eta_v1 = rng.normal(0.0, math.sqrt(pk.iiv_central_var))
    # READING: the regimen runs to the last assessment (a dose on that day comes after it
    # and cannot change any C_e used).
    schedule = plain_regimen_days(arm, max(1, last_week))
    given = (rng.random(len(schedule)) >= scenario.design.missed_dose_prob).tolist()
    amount = arm_amount(arm)
    dose_mg = amount * patient.weight_kg if arm.dose_mg_kg is not None else amount
    days = [7.0 * t for t in range(last_week + 1)]
    ce = effect_site_concentrations(pk, arm_route(arm), patient.weight_kg, dose_mg, schedule,
                                    given, eta_cl, eta_v1, days)
    ce = np.maximum(ce, 0.0)
    return ce / (drug.ec50_ug_ml + ce)


# --------------------------------------------------------------------------- the course


@dataclass
class PatientCourse:
    """One patient at each assessment (n_assess,) / (n_assess, 4)."""

    clasi_a: np.ndarray
    clasi_d: np.ndarray
    sledai_points: np.ndarray
    descriptors: np.ndarray


def record(patient: SkinPatient, g: Grades, d: Damage, out: PatientCourse, j: int) -> None:
    """Store assessment ``j`` of a patient."""
    desc = sledai_descriptors(patient, g)
    out.clasi_a[j] = clasi_activity(g)
    out.clasi_d[j] = clasi_damage(d)
    out.sledai_points[j] = sledai_points(desc)
    out.descriptors[j] = [desc[name] for name in DESCRIPTOR_NAMES]


def baseline_level(scenario: SkinScenario, patient: SkinPatient) -> float:
    """``L_0 = mean_activity_s + u + f_0`` (every onset factor is 0 at week 0)."""
    return scenario.skin.subtypes[SUBTYPES[patient.subtype]].mean_activity + patient.u + patient.f0


def follow_course(scenario: SkinScenario, patient: SkinPatient, baseline: Grades,
                  weeks: list[int], x: np.ndarray, topical: bool,
                  rng: np.random.Generator, trial: bool = False) -> PatientCourse:
    """The weekly course t = 0 .. T (T = the last assessment) and the assessments at ``weeks``.

    ``baseline`` is the week-0 assessment already graded at screening; ``x`` the exposure
    ``X_t`` at every week. Each week: fluctuation, shift, latent level, then damage (t >= 1),
    then the assessment if the week is scheduled.
    """
    skin = scenario.skin
    model = skin.subtypes[SUBTYPES[patient.subtype]]
    n_assess = len(weeks)
    out = PatientCourse(np.zeros(n_assess, int), np.zeros(n_assess, int),
                        np.zeros(n_assess, int), np.zeros((n_assess, 4), bool))
    damage = Damage.none()
    record(patient, baseline, damage, out, 0)
    last = weeks[-1]
    a = skin.fluctuation_ar1
    innovation_sd = math.sqrt(1.0 - a * a) * skin.fluctuation_sd
    eps = rng.standard_normal(last + 1).tolist()
    # READING: "one uniform each per area and week": one for scarring and one for
    # dyspigmentation, for every area and week (drawn whether used or not).
    u_scar = rng.random((last + 1, len(AREAS))).tolist()
    u_dysp = rng.random((last + 1, len(AREAS))).tolist()
    has_damage = model.scarring_per_week > 0.0 or model.dyspigmentation_per_week > 0.0
    prone = [k for k in range(len(AREAS)) if patient.prone[k]]
    soc, top, drug = skin.standard_of_care, skin.topical, skin.drug
    drug_scale = drug.emax * model.drug_sensitivity * patient.r
    f = patient.f0
    j = 1
    while j < n_assess and weeks[j] == 0:  # months rounding to week 0 again: new rater noise
        record(patient, grade_assessment(scenario, patient, baseline_level(scenario, patient),
                                         rng), damage, out, j)
        j += 1
    for t in range(1, last + 1):
        f = a * f + innovation_sd * eps[t]
        shift = soc.effect * (1.0 - math.exp(-t / soc.onset_weeks))
        if topical:
            shift += top.effect * (1.0 - math.exp(-t / top.onset_weeks))
        if trial:  # a randomised trial's own placebo response (every arm)
            shift += skin.trial_effect.effect * (
                1.0 - math.exp(-t / skin.trial_effect.onset_weeks))
        shift += drug_scale * x[t] * (1.0 - math.exp(-t / drug.onset_weeks))
        level = model.mean_activity + patient.u + f - shift
        if has_damage:
            for k in range(len(AREAS)):
                if damage.dyspigmented[k]:
                    damage.dyspigmented_weeks[k] += 1
            for k in prone:
                if level + patient.v[k] < skin.erythema_cuts[0]:
                    continue
                if u_scar[t][k] < model.scarring_per_week:
                    if k == SCALP:
                        damage.scalp_scarring = (SCALP_SCAR_FIRST if damage.scalp_scarring == 0
                                                 else min(damage.scalp_scarring + 1,
                                                          SCALP_SCAR_MAX))
                    else:
                        damage.scarring[k] = min(damage.scarring[k] + 1, AREA_SCAR_MAX)
                if (not damage.dyspigmented[k]
                        and u_dysp[t][k] < model.dyspigmentation_per_week):
                    damage.dyspigmented[k] = True
                    damage.dyspigmented_weeks[k] = 0
        # READING: an assessment at week t sees week t's damage step (the step is part of
        # the week's course, the assessment comes after it).
        while j < n_assess and weeks[j] == t:
            record(patient, grade_assessment(scenario, patient, level, rng), damage, out, j)
            j += 1
    return out


# --------------------------------------------------------------------------- cohort


@dataclass
class CohortResult:
    """The reference cohort, shaped like the engine's patient table."""

    subtype: np.ndarray  # (n,) codes of SUBTYPES
    clasi_a: np.ndarray  # (n, n_assess)
    clasi_d: np.ndarray  # (n, n_assess)
    sledai_points: np.ndarray  # (n, n_assess)
    descriptors: np.ndarray  # (n, n_assess, 4) in DESCRIPTOR_NAMES order
    weeks: list[int]
    candidates: int  # candidates screened to find the n eligible


def screen(scenario: SkinScenario, rng: np.random.Generator, min_clasi: float
           ) -> tuple[SkinPatient, Grades, int]:
    """Draw candidates in order until one has baseline CLASI-A >= ``min_clasi``.

    Returns the eligible patient, its baseline (screening) assessment and the number of
    candidates drawn (itself included).
    """
    count = 0
    while True:
        patient = draw_patient(scenario, rng)
        grades = grade_assessment(scenario, patient, baseline_level(scenario, patient), rng)
        count += 1
        if clasi_activity(grades) >= min_clasi:
            return patient, grades, count


def simulate_cohort(scenario: SkinScenario, n: int, seed: int, on_drug: bool = True
                    ) -> CohortResult:
    """The first ``n`` eligible candidates of a cohort scenario, at every assessment.

    No follow-up, stopping or loss (every assessment is seen: the engine's "truth" and a
    study whose design has no attrition). ``on_drug=False``: the untreated course (X = 0).
    """
    design = scenario.design
    if design.type != "cohort":
        raise ValueError("simulate_cohort needs a cohort scenario (design.type: cohort)")
    rng = np.random.default_rng(seed)
    weeks = weeks_of_months(design.assessment_months)
    arm = design.arm if on_drug else None
    n_assess = len(weeks)
    res = CohortResult(np.zeros(n, int), np.zeros((n, n_assess), int),
                       np.zeros((n, n_assess), int), np.zeros((n, n_assess), int),
                       np.zeros((n, n_assess, 4), bool), weeks, 0)
    for i in range(n):
        patient, baseline, count = screen(scenario, rng, design.min_clasi)
        res.candidates += count
        x = exposure(scenario, arm, patient, weeks[-1], rng)
        course = follow_course(scenario, patient, baseline, weeks, x, False, rng)
        res.subtype[i] = patient.subtype
        res.clasi_a[i] = course.clasi_a
        res.clasi_d[i] = course.clasi_d
        res.sledai_points[i] = course.sledai_points
        res.descriptors[i] = course.descriptors
    return res


# --------------------------------------------------------------------------- trial


def randomize(subtypes: list[int], scenario: SkinScenario, rng: np.random.Generator
              ) -> list[int]:
    """Permuted blocks (``block_multiplier`` x allocation places per arm) within subtype, or
    in one stratum; returns the arm index (order of ``design.arms``) of each patient."""
    design = scenario.design
    arms = list(design.arms.values())
    block = [a for a, arm in enumerate(arms)
             for _ in range(design.block_multiplier * arm.allocation)]
    queues: dict[int, list[int]] = {}
    out = []
    for s in subtypes:
        stratum = s if design.stratify_by_subtype else 0
        if not queues.get(stratum):
            queues[stratum] = list(rng.permutation(block))
        out.append(int(queues[stratum].pop(0)))
    return out


@dataclass
class TrialResult:
    """Per arm (order of ``design.arms``): randomised and primary CLASI-k responders."""

    arms: list[str]
    n: np.ndarray
    responders: np.ndarray

    @property
    def rates(self) -> np.ndarray:
        return self.responders / self.n


def simulate_trial(scenario: SkinScenario, seed: int) -> TrialResult:
    """One randomised skin trial: the first ``sample_size`` eligible candidates, randomised,
    followed to ``primary_week``; primary CLASI-k response, a dropout before it a
    non-responder."""
    design = scenario.design
    if design.type != "rct":
        raise ValueError("simulate_trial needs a trial scenario (design.type: rct)")
    rng = np.random.default_rng(seed)
    arms = list(design.arms)
    weeks = [w for w in design.assessment_weeks if w <= design.primary_week]
    topical = design.topicals == "allowed"
    hazard = weekly_hazard(design.dropout_per_year)
    screened = [screen(scenario, rng, design.min_clasi) for _ in range(design.sample_size)]
    allocation = randomize([p.subtype for p, _, _ in screened], scenario, rng)
    n = np.zeros(len(arms), int)
    responders = np.zeros(len(arms), int)
    for (patient, baseline, _), a in zip(screened, allocation, strict=True):
        x = exposure(scenario, design.arms[arms[a]], patient, weeks[-1], rng)
        course = follow_course(scenario, patient, baseline, weeks, x, topical, rng, trial=True)
        # READING: dropout week D geometric on 1, 2, ... (weekly hazard); the last week seen
        # is D - 1, so a dropout at or before the primary week makes a non-responder.
        dropout_week = rng.geometric(hazard) if hazard > 0.0 else math.inf
        seen = dropout_week > design.primary_week
        n[a] += 1
        responders[a] += int(seen and clasi_response(
            course.clasi_a[0], course.clasi_a[-1], design.primary_response,
            scenario.min_baseline))
    return TrialResult(arms, n, responders)
