"""The cutaneous disease of SLE, week by week, scored by CLASI and by the SELENA-SLEDAI.

docs/model.md §7 states the model; ``configs/skin.yaml`` holds its parameters with their
sources. In short, for a patient of cutaneous subtype s (``SKIN_SUBTYPES``):

* lesion-prone areas: each CLASI area independently with the subtype's probability (at least
  the subtype's most likely area); an area's own level ``v_k ~ N(0, area_sd)``;
* latent activity in week t: ``L_t = mean_activity_s + u + f_t - shift_t``, with the patient's
  level ``u ~ N(0, patient_sd)``, a stationary AR(1) fluctuation ``f`` (SD ``fluctuation_sd``,
  per-week autocorrelation ``fluctuation_ar1``), and the shift = background therapy
  (``standard_of_care``) + in a randomised trial its own placebo response
  (``trial_effect``) and topical therapy (when the design allows it) + the drug:
  ``emax · drug_sensitivity_s · r · C_e/(EC50 + C_e) · (1 - exp(-t / onset_weeks))``, with
  the patient's own sensitivity ``r`` log-normal of mean 1 (log SD ``drug.patient_sd``) and the
  effect-site concentration ``C_e`` of the shared PK (``model/pk.py``) on the patient's regimen;
* at an assessment, a prone area's activity is ``L_t + v_k + e`` (rater noise
  ``e ~ N(0, assessment_sd)``): erythema is the number of ``erythema_cuts`` it passes, and an
  area with erythema has scale/hypertrophy = the number of ``scale_cuts`` passed by the
  activity + the subtype's ``scale_shift``; a patient with mucous membrane lesions (the
  subtype's ``mucous_prob``) has the item when ``L_t + mucous_offset + e > 0``; a patient
  with lupus alopecia (``alopecia_prob``) has non-scarring alopecia graded by the
  ``alopecia_cuts`` passed by ``L_t + alopecia_offset + e``, and recent hair loss when it
  passes the first;
* damage accumulates and never responds: each week, an area active without noise
  (``L_t + v_k`` above the first erythema cut) scars one grade (up to 2; on the scalp, the
  scalp item goes 0 → 3 → 4 → 5 → 6) with ``scarring_per_week`` and becomes dyspigmented
  with ``dyspigmentation_per_week``;
* the SELENA-SLEDAI descriptors come from the same map (``clasi.sledai_skin_descriptors``).

Random numbers: stage ``skin`` of the replicate's counters, addressed by the patient's
candidate index, so a patient's course does not depend on any other patient, nor on the
arm of anybody else; the PK draws are the ``pk`` stage's, as in the SLE trials.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from trialsim.config.scenario import Scenario
from trialsim.config.skin import WEEKS_PER_MONTH, CohortDesign, SkinScenario
from trialsim.config.vocab import CLASI_AREAS, SKIN_SUBTYPES
from trialsim.core.jit import jit
from trialsim.core.rng import (
    STAGE_SKIN,
    counter_normals,
    counter_uniforms,
    counter_words,
    normal_from_words,
)
from trialsim.model.clasi import (
    ALOPECIA_MAX,
    BIT_ALOPECIA,
    BIT_RASH,
    BIT_ULCERS,
    N_AREAS,
    SCALP,
    SCALP_SCARRING_MAX,
    SCALP_SCARRING_MIN_NONZERO,
    SCARRING_MAX,
    clasi_activity,
    clasi_damage,
    clasi_response,
    descriptor_bits,
    sledai_skin_descriptors,
)
from trialsim.model.pk import regimen_pk_params, visit_exposure

N_SUBTYPES = len(SKIN_SUBTYPES)
#: counter slots of a patient's draws (stage ``skin``)
SLOT_UNIFORMS, SLOT_NORMALS, SLOT_FLUCTUATION, SLOT_STOP = 0, 1, 2, 3
#: then one slot per assessment (rater noise) and one per week (damage)
SLOT_ASSESSMENT, SLOT_DAMAGE = 16, 1024
#: uniforms of slot 0: subtype, 13 prone areas, mucous, alopecia, follow-up, stop, lost
U_SUBTYPE, U_PRONE, U_MUCOUS, U_ALOPECIA, U_FOLLOWUP, U_STOP, U_LOST = 0, 1, 14, 15, 16, 17, 18
N_U = 19
#: normals of slot 1: weight, patient level, fluctuation at week 0, 13 area levels, the
#: patient's drug sensitivity
Z_WEIGHT, Z_LEVEL, Z_FLUCT, Z_AREA = 0, 1, 2, 3
Z_SENSITIVITY = Z_AREA + N_AREAS
N_Z = Z_SENSITIVITY + 1
#: SLEDAI descriptors of a map (``clasi.SLEDAI_SKIN_DESCRIPTORS``)
N_SKIN_DESCRIPTORS = 4


class SkinParams(NamedTuple):
    """The skin model as the kernels read it (``skin_params``)."""

    subtype_cdf: np.ndarray  # (4,) cumulative shares
    mean_activity: np.ndarray  # (4,)
    area_prob: np.ndarray  # (4, 13)
    scale_shift: np.ndarray  # (4,)
    mucous_prob: np.ndarray  # (4,)
    alopecia_prob: np.ndarray  # (4,)
    drug_sensitivity: np.ndarray  # (4,)
    scarring_per_week: np.ndarray  # (4,)
    dyspigmentation_per_week: np.ndarray  # (4,)
    patient_sd: float
    area_sd: float
    fluctuation_sd: float
    fluctuation_ar1: float
    assessment_sd: float
    erythema_cuts: np.ndarray  # (3,)
    scale_cuts: np.ndarray  # (2,)
    mucous_offset: float
    alopecia_offset: float
    alopecia_cuts: np.ndarray  # (3,)
    soc_effect: float
    soc_onset_weeks: float
    topical_effect: float  # 0 unless the design allows topical changes
    topical_onset_weeks: float
    trial_effect: float  # 0 outside a randomised trial
    trial_onset_weeks: float
    drug_emax: float
    drug_onset_weeks: float
    drug_patient_sd: float
    weight_log_mean: float
    weight_log_sd: float
    assessment_weeks: np.ndarray  # (n_assessments,) int64, the first 0
    n_weeks: int


def _model_arrays(sk) -> dict:
    """The arrays of the cutaneous model (``config.scenario.Skin``) that the cohort and trial
    kernels (``SkinParams``) and the SLE trials' CLASI (``TrialSkinParams``) share."""
    sub = [sk.subtypes[s] for s in SKIN_SUBTYPES]
    return dict(
        mean_activity=np.array([m.mean_activity for m in sub]),
        area_prob=np.array([[m.areas.get(a, 0.0) for a in CLASI_AREAS] for m in sub]),
        scale_shift=np.array([m.scale_shift for m in sub]),
        drug_sensitivity=np.array([m.drug_sensitivity for m in sub]),
        patient_sd=float(sk.patient_sd),
        area_sd=float(sk.area_sd),
        assessment_sd=float(sk.assessment_sd),
        erythema_cuts=np.array(sk.erythema_cuts, dtype=np.float64),
        scale_cuts=np.array(sk.scale_cuts, dtype=np.float64),
        alopecia_offset=float(sk.alopecia_offset),
        alopecia_cuts=np.array(sk.alopecia_cuts, dtype=np.float64),
    )


def skin_params(scenario: SkinScenario) -> SkinParams:
    """The arrays of a skin scenario's model, population and schedule."""
    sk, pop, des = scenario.skin, scenario.population, scenario.design
    shares = np.array([pop.subtypes.get(s, 0.0) for s in SKIN_SUBTYPES])
    cdf = np.cumsum(shares)
    cdf[-1] = 1.0
    sub = [sk.subtypes[s] for s in SKIN_SUBTYPES]
    w = pop.weight_kg
    log_sd = math.sqrt(math.log1p((w.sd / w.mean) ** 2))
    if isinstance(des, CohortDesign):
        weeks = des.assessment_weeks
        topical = trial = 0.0
    else:
        weeks = list(des.assessment_weeks)
        topical = sk.topical.effect if des.topicals == "allowed" else 0.0
        trial = sk.trial_effect.effect
    return SkinParams(
        subtype_cdf=cdf,
        **_model_arrays(sk),
        mucous_prob=np.array([m.mucous_prob for m in sub]),
        alopecia_prob=np.array([m.alopecia_prob for m in sub]),
        scarring_per_week=np.array([m.scarring_per_week for m in sub]),
        dyspigmentation_per_week=np.array([m.dyspigmentation_per_week for m in sub]),
        fluctuation_sd=float(sk.fluctuation_sd),
        fluctuation_ar1=float(sk.fluctuation_ar1),
        mucous_offset=float(sk.mucous_offset),
        soc_effect=float(sk.standard_of_care.effect),
        soc_onset_weeks=float(sk.standard_of_care.onset_weeks),
        topical_effect=float(topical),
        topical_onset_weeks=float(sk.topical.onset_weeks),
        trial_effect=float(trial),
        trial_onset_weeks=float(sk.trial_effect.onset_weeks),
        drug_emax=float(sk.drug.emax),
        drug_onset_weeks=float(sk.drug.onset_weeks),
        drug_patient_sd=float(sk.drug.patient_sd),
        weight_log_mean=math.log(w.mean) - 0.5 * log_sd**2,
        weight_log_sd=log_sd,
        assessment_weeks=np.array(weeks, dtype=np.int64),
        n_weeks=int(des.duration_weeks),
    )


def design_arms(scenario: SkinScenario) -> list:
    """The regimens of the design: the cohort's one arm, or the trial's arms in order."""
    des = scenario.design
    return [des.arm] if isinstance(des, CohortDesign) else list(des.arms.values())


@jit
def skin_patients(p, units, k0, k1):
    """Subtype (code) and body weight (kg) of the candidates ``units``."""
    n = units.shape[0]
    subtype = np.empty(n, dtype=np.int64)
    weight = np.empty(n)
    for i in range(n):
        u = counter_uniforms(k0, k1, STAGE_SKIN, units[i], SLOT_UNIFORMS, N_U)
        z = counter_normals(k0, k1, STAGE_SKIN, units[i], SLOT_NORMALS, N_Z)
        subtype[i] = subtype_of(p.subtype_cdf, u[U_SUBTYPE])
        weight[i] = math.exp(p.weight_log_mean + p.weight_log_sd * z[Z_WEIGHT])
    return subtype, weight


@jit
def subtype_of(cdf, u):
    """The subtype code of a uniform ``u`` under the cumulative shares ``cdf``."""
    s = 0
    while s < cdf.shape[0] - 1 and u >= cdf[s]:
        s += 1
    return s


@jit
def prone_areas(area_prob, u, prone):
    """Write to ``prone`` (13,) the patient's lesion-prone areas: area k when
    ``u[U_PRONE + k]`` is below the subtype's ``area_prob[k]``; the subtype's most likely area
    when no area is drawn."""
    any_prone = False
    best = 0
    for k in range(N_AREAS):
        prone[k] = u[U_PRONE + k] < area_prob[k]
        any_prone = any_prone or prone[k]
        if area_prob[k] > area_prob[best]:
            best = k
    if not any_prone:
        prone[best] = True


@jit
def _grade(x, cuts):
    g = 0
    for c in range(cuts.shape[0]):
        if x >= cuts[c]:
            g += 1
    return g


@jit
def skin_courses(p, units, subtype, exposure, k0, k1, n_assess):
    """Every patient's CLASI and SLEDAI skin scores at the first ``n_assess`` assessments.

    Parameters
    ----------
    p : SkinParams
    units : int64 (n,)
        Candidate indices (the counters' unit).
    subtype : int64 (n,)
        From ``skin_patients``.
    exposure : float64 (n, n_weeks + 1)
        ``C_e / (EC50 + C_e)`` in each week (0 off drug); only the weeks up to the last
        assessment asked for are read.
    k0, k1 : int
        The replicate key.
    n_assess : int
        How many of ``p.assessment_weeks`` to score (1: the baseline only, for screening).

    Returns
    -------
    activity, damage, sledai : int64 (n, n_assess)
        CLASI-A, CLASI-D, SELENA-SLEDAI points of the skin descriptors.
    descriptors : int8 (n, n_assess, 4)
        Rash, alopecia, mucosal ulcers, vasculitis (0/1).
    erythema : int64 (n, n_assess, 13)
        The erythema grade of each area (the map's main part, for checks and plots).
    """
    n = units.shape[0]
    weeks = p.assessment_weeks
    last = weeks[n_assess - 1]
    activity = np.zeros((n, n_assess), dtype=np.int64)
    damage = np.zeros((n, n_assess), dtype=np.int64)
    sledai = np.zeros((n, n_assess), dtype=np.int64)
    descriptors = np.zeros((n, n_assess, N_SKIN_DESCRIPTORS), dtype=np.int8)
    ery_out = np.zeros((n, n_assess, N_AREAS), dtype=np.int64)
    prone = np.zeros(N_AREAS, dtype=np.bool_)
    erythema = np.zeros(N_AREAS, dtype=np.int64)
    scale = np.zeros(N_AREAS, dtype=np.int64)
    scar = np.zeros(N_AREAS, dtype=np.int64)
    dys = np.zeros(N_AREAS, dtype=np.int64)
    dys_weeks = np.zeros(N_AREAS, dtype=np.int64)
    desc = np.zeros(N_SKIN_DESCRIPTORS, dtype=np.int64)
    ar = p.fluctuation_ar1
    innov = math.sqrt(1.0 - ar * ar) * p.fluctuation_sd
    # what the week alone decides, the same for every patient: the shift of background
    # therapy, the trial's placebo response and topical therapy, and the drug's onset
    background = np.empty(last + 1)
    drug_onset = np.empty(last + 1)
    for w in range(last + 1):
        t = float(w)
        background[w] = (p.soc_effect * (1.0 - math.exp(-t / p.soc_onset_weeks))
                         + p.topical_effect * (1.0 - math.exp(-t / p.topical_onset_weeks))
                         + p.trial_effect * (1.0 - math.exp(-t / p.trial_onset_weeks)))
        drug_onset[w] = 1.0 - math.exp(-t / p.drug_onset_weeks)
    for i in range(n):
        s = subtype[i]
        unit = units[i]
        u = counter_uniforms(k0, k1, STAGE_SKIN, unit, SLOT_UNIFORMS, N_U)
        z = counter_normals(k0, k1, STAGE_SKIN, unit, SLOT_NORMALS, N_Z)
        prone_areas(p.area_prob[s], u, prone)
        mucous_patient = u[U_MUCOUS] < p.mucous_prob[s]
        alopecia_patient = u[U_ALOPECIA] < p.alopecia_prob[s]
        level = p.mean_activity[s] + p.patient_sd * z[Z_LEVEL]
        emax = p.drug_emax * p.drug_sensitivity[s] * math.exp(
            p.drug_patient_sd * z[Z_SENSITIVITY] - 0.5 * p.drug_patient_sd ** 2)
        f = p.fluctuation_sd * z[Z_FLUCT]
        eps = counter_normals(k0, k1, STAGE_SKIN, unit, SLOT_FLUCTUATION, max(last, 1))
        scar[:] = 0
        dys[:] = 0
        dys_weeks[:] = 0
        scalp_scar = 0
        damage_prone = p.scarring_per_week[s] > 0.0 or p.dyspigmentation_per_week[s] > 0.0
        j = 0
        for w in range(last + 1):
            if w > 0:
                f = ar * f + innov * eps[w - 1]
            latent = level + f - (background[w] + emax * exposure[i, w] * drug_onset[w])
            if w > 0 and damage_prone:
                d = counter_uniforms(k0, k1, STAGE_SKIN, unit, SLOT_DAMAGE + w, 2 * N_AREAS)
                for k in range(N_AREAS):
                    if dys[k] > 0:
                        dys_weeks[k] += 1
                    if not prone[k] or latent + p.area_sd * z[Z_AREA + k] < p.erythema_cuts[0]:
                        continue
                    if d[k] < p.scarring_per_week[s]:
                        if k == SCALP:
                            if scalp_scar == 0:
                                scalp_scar = SCALP_SCARRING_MIN_NONZERO
                            elif scalp_scar < SCALP_SCARRING_MAX:
                                scalp_scar += 1
                        elif scar[k] < SCARRING_MAX:
                            scar[k] += 1
                    if dys[k] == 0 and d[N_AREAS + k] < p.dyspigmentation_per_week[s]:
                        dys[k] = 1
            if w != weeks[j]:
                continue
            e = counter_normals(k0, k1, STAGE_SKIN, unit, SLOT_ASSESSMENT + j, N_AREAS + 2)
            for k in range(N_AREAS):
                erythema[k] = 0
                scale[k] = 0
                if prone[k]:
                    x = latent + p.area_sd * z[Z_AREA + k] + p.assessment_sd * e[k]
                    erythema[k] = _grade(x, p.erythema_cuts)
                    if erythema[k] > 0:
                        scale[k] = _grade(x + p.scale_shift[s], p.scale_cuts)
                ery_out[i, j, k] = erythema[k]
            mucous = 0
            if mucous_patient and latent + p.mucous_offset + p.assessment_sd * e[N_AREAS] > 0:
                mucous = 1
            alopecia = 0
            if alopecia_patient:
                alopecia = min(_grade(latent + p.alopecia_offset
                                      + p.assessment_sd * e[N_AREAS + 1], p.alopecia_cuts),
                               ALOPECIA_MAX)
            hair_loss = 1 if alopecia > 0 else 0
            activity[i, j] = clasi_activity(erythema, scale, mucous, hair_loss, alopecia)
            damage[i, j] = clasi_damage(dys, dys_weeks, scar, scalp_scar)
            sledai[i, j] = sledai_skin_descriptors(s, erythema, mucous, hair_loss, alopecia,
                                                   desc)
            for q in range(N_SKIN_DESCRIPTORS):
                descriptors[i, j, q] = desc[q]
            j += 1
            if j == n_assess:
                break
    return activity, damage, sledai, descriptors, ery_out


class TrialSkinParams(NamedTuple):
    """CLASI in an SLE trial (``trial_clasi``; docs/model.md §7a), from the scenario's
    ``skin`` block (``trial_skin_params``)."""

    enabled: bool  # the scenario asks for a CLASI endpoint
    subtype_cdf: np.ndarray  # (4,) cumulative shares (the non-specific subtype's share 0)
    mean_activity: np.ndarray  # (4,)
    area_prob: np.ndarray  # (4, 13)
    scale_shift: np.ndarray  # (4,)
    drug_sensitivity: np.ndarray  # (4,)
    patient_sd: float
    area_sd: float
    assessment_sd: float
    erythema_cuts: np.ndarray  # (3,)
    scale_cuts: np.ndarray  # (2,)
    alopecia_offset: float
    alopecia_cuts: np.ndarray  # (3,)
    coupling: float
    drug_coupling: float


def trial_skin_params(scenario: Scenario) -> TrialSkinParams:
    """The ``TrialSkinParams`` of an SLE scenario; ``enabled`` when ``analysis.endpoints``
    names a CLASI endpoint (a scenario without a ``skin`` block gets an inert record)."""
    link = scenario.skin
    enabled = link is not None and scenario.analysis.clasi_requested
    if link is None:
        z4 = np.zeros(N_SUBTYPES)
        return TrialSkinParams(False, np.ones(N_SUBTYPES), z4, np.zeros((N_SUBTYPES, N_AREAS)),
                               z4, z4, 0.0, 0.0, 0.0, np.zeros(3), np.zeros(2), 0.0,
                               np.zeros(3), 0.0, 0.0)
    cdf = np.cumsum([link.subtypes.get(s, 0.0) for s in SKIN_SUBTYPES])
    cdf[-1] = 1.0
    return TrialSkinParams(
        enabled=bool(enabled),
        subtype_cdf=cdf,
        **_model_arrays(link.model),
        coupling=float(link.coupling),
        drug_coupling=float(link.drug_coupling),
    )


@jit
def trial_clasi(p, units, bits, activity, drug, k0, k1):
    """CLASI-A of every patient of an SLE trial at every visit, from the course's skin
    descriptors, global activity and drug effect (docs/model.md §7a).

    The patient's rash subtype, lesion-prone areas (``prone_areas``), own level
    ``mean_activity[s] + patient_sd · z`` and area levels are drawn once; at a visit the
    latent skin activity is that level plus ``coupling`` times the change from baseline of
    the global activity without the drug (``activity + drug``), minus ``drug_coupling`` times
    the subtype's ``drug_sensitivity`` times the drug's effect. The map agrees with the
    visit's SELENA-SLEDAI: lesions only when the rash is active (then at least one, in the
    most active prone area), mucous membrane lesions exactly when mucosal ulcers are,
    alopecia items (non-scarring alopecia at least 1, recent hair loss) exactly when alopecia
    is; erythema and scale grades
    cut the latent activity plus the area's level and rater noise as in ``skin_courses``.

    Parameters
    ----------
    p : TrialSkinParams
    units : int64 (n,)
        The patients' candidate indices (stage ``skin`` counters).
    bits, activity, drug : (n, n_visits)
        The course's ``skin_bits``, ``global_activity`` and ``drug_effect``.
    k0, k1 : int
        The replicate key.

    Returns
    -------
    clasi : int16 (n, n_visits)
        CLASI-A.
    subtype : int64 (n,)
    mapped : uint8 (n, n_visits)
        The ``skin_bits`` of the map's own SELENA-SLEDAI descriptors
        (``clasi.sledai_skin_descriptors``): equal to ``bits`` by construction.
    """
    n, n_visits = bits.shape
    clasi = np.zeros((n, n_visits), dtype=np.int16)
    subtype = np.zeros(n, dtype=np.int64)
    mapped = np.zeros((n, n_visits), dtype=np.uint8)
    prone = np.zeros(N_AREAS, dtype=np.bool_)
    erythema = np.zeros(N_AREAS, dtype=np.int64)
    scale = np.zeros(N_AREAS, dtype=np.int64)
    desc = np.zeros(N_SKIN_DESCRIPTORS, dtype=np.int64)
    for i in range(n):
        unit = units[i]
        u = counter_uniforms(k0, k1, STAGE_SKIN, unit, SLOT_UNIFORMS, N_U)
        z = counter_normals(k0, k1, STAGE_SKIN, unit, SLOT_NORMALS, N_Z)
        s = subtype_of(p.subtype_cdf, u[U_SUBTYPE])
        subtype[i] = s
        prone_areas(p.area_prob[s], u, prone)
        level = p.mean_activity[s] + p.patient_sd * z[Z_LEVEL]
        felt = p.drug_coupling * p.drug_sensitivity[s]
        for v in range(n_visits):
            b = bits[i, v]
            if b == 0:
                continue  # nothing active: an empty map, CLASI-A 0
            latent = (level + p.coupling * (activity[i, v] + drug[i, v] - activity[i, 0])
                      - felt * drug[i, v])
            # the visit's rater noise: only the normals a present item reads are made
            e = counter_words(k0, k1, STAGE_SKIN, unit, SLOT_ASSESSMENT + v, N_AREAS + 2)
            erythema[:] = 0
            scale[:] = 0
            if b & BIT_RASH:
                best = -1
                best_x = -np.inf
                lesion = False
                for k in range(N_AREAS):
                    if not prone[k]:
                        continue
                    x = (latent + p.area_sd * z[Z_AREA + k]
                         + p.assessment_sd * normal_from_words(e, k))
                    erythema[k] = _grade(x, p.erythema_cuts)
                    if erythema[k] > 0:
                        scale[k] = _grade(x + p.scale_shift[s], p.scale_cuts)
                        lesion = True
                    if x > best_x:
                        best_x = x
                        best = k
                if not lesion:  # the SLEDAI's rash: at least its most active area shows
                    erythema[best] = 1
                    scale[best] = _grade(best_x + p.scale_shift[s], p.scale_cuts)
            mucous = 1 if b & BIT_ULCERS else 0
            alopecia = 0
            hair_loss = 0
            if b & BIT_ALOPECIA:
                grade = _grade(latent + p.alopecia_offset
                               + p.assessment_sd * normal_from_words(e, N_AREAS + 1),
                               p.alopecia_cuts)
                alopecia = min(max(grade, 1), ALOPECIA_MAX)
                hair_loss = 1
            clasi[i, v] = clasi_activity(erythema, scale, mucous, hair_loss, alopecia)
            sledai_skin_descriptors(s, erythema, mucous, hair_loss, alopecia, desc)
            mapped[i, v] = descriptor_bits(desc)
    return clasi, subtype, mapped


def exposure(scenario: SkinScenario, arm: np.ndarray, weight: np.ndarray, units: np.ndarray,
             key: tuple[int, int]) -> np.ndarray:
    """Each patient's weekly fraction of the drug's maximal effect, ``C_e / (EC50 + C_e)``
    on the patient's regimen (``arm`` indexes ``design_arms``), weeks 0 … n_weeks."""
    des = scenario.design
    n_weeks = des.duration_weeks
    pk = regimen_pk_params(scenario.drug, design_arms(scenario), n_weeks,
                           np.arange(n_weeks + 1, dtype=np.int64) * 7, des.missed_dose_prob)
    return visit_exposure(pk, np.asarray(arm, dtype=np.int64),
                          np.asarray(weight, dtype=np.float64),
                          np.asarray(units, dtype=np.int64), key[0], key[1])


@jit
def _geometric_week(u, per_year):
    """The first week of an event with ``per_year`` probability in a year (weekly hazard
    constant), from one uniform; a very large week when ``per_year`` is 0."""
    if per_year <= 0.0:
        return 1 << 40
    q = 1.0 - (1.0 - per_year) ** (1.0 / 52.0)
    return 1 + int(math.floor(math.log(u) / math.log1p(-q)))


@jit
def cohort_attrition(p, units, activity, k0, k1, followup_min_w, followup_max_w,
                     stop_per_year, lost_per_year, nonresponder_stop_prob, stop_from_week):
    """The last week each patient is on record and on drug (assessments up to and including
    it are evaluable), and the week therapy stopped (a very large week if never).

    Follow-up on record is uniform on [``followup_min_w``, ``followup_max_w``]; therapy stops
    in a week with the constant hazard of ``stop_per_year``, or at an assessment from
    ``stop_from_week`` on where the patient is not a CLASI-20 responder, with
    ``nonresponder_stop_prob`` (the assessment itself is seen, the next ones are not);
    loss to follow-up has the hazard of ``lost_per_year``. After stopping therapy a patient
    is no longer assessed (a cohort on drug)."""
    n = units.shape[0]
    weeks = p.assessment_weeks
    n_assess = weeks.shape[0]
    last = np.empty(n, dtype=np.int64)
    stopped = np.empty(n, dtype=np.int64)
    for i in range(n):
        u = counter_uniforms(k0, k1, STAGE_SKIN, units[i], SLOT_UNIFORMS, N_U)
        follow = followup_min_w + int(math.floor(u[U_FOLLOWUP]
                                                 * (followup_max_w - followup_min_w + 1)))
        follow = min(follow, followup_max_w)
        stop = _geometric_week(u[U_STOP], stop_per_year)
        lost = _geometric_week(u[U_LOST], lost_per_year)
        end = min(follow, stop - 1, lost - 1)
        if nonresponder_stop_prob > 0.0:
            v = counter_uniforms(k0, k1, STAGE_SKIN, units[i], SLOT_STOP, n_assess)
            base = float(activity[i, 0])
            for j in range(1, n_assess):
                if weeks[j] > end:
                    break
                if weeks[j] < stop_from_week:
                    continue
                responder = clasi_response(base, activity[i, j], 20.0, 0.0)
                if not responder and v[j] < nonresponder_stop_prob:
                    end = weeks[j]
                    stop = min(stop, weeks[j] + 1)
                    break
        last[i] = end
        stopped[i] = stop
    return last, stopped


@jit
def trial_dropout_weeks(units, k0, k1, per_year):
    """The week each trial patient drops out (unobserved from then on; a very large week if
    never), with the constant weekly hazard of ``per_year``."""
    n = units.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        u = counter_uniforms(k0, k1, STAGE_SKIN, units[i], SLOT_UNIFORMS, N_U)
        out[i] = _geometric_week(u[U_LOST], per_year)
    return out


def months_to_weeks(months: float) -> int:
    """Whole weeks of a span in months (52 weeks a year)."""
    return int(round(months * WEEKS_PER_MONTH))


__all__ = ["SkinParams", "skin_params", "design_arms", "skin_patients", "skin_courses",
           "exposure", "cohort_attrition", "trial_dropout_weeks", "months_to_weeks",
           "TrialSkinParams", "trial_skin_params", "trial_clasi", "subtype_of", "prone_areas"]
