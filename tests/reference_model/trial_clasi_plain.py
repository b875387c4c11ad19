"""Plain reference of CLASI in the SLE trials (docs/model.md §7a), written from the text alone.

Independent of ``trialsim/model/skin.py`` (not read): numpy only, no numba, its own
``numpy.random.Generator`` (the engine's counter-based streams cannot be reproduced, so the
comparison with the engine is distributional, ``tests/validation/
test_trial_clasi_double_programming.py``). The course's outputs (skin bits, global activity,
the drug's part of the shift) are inputs: only the CLASI map is simulated here.

§7a in the reference's words, per patient (vectorised over patients, one visit at a time):

* subtype s: one uniform against the cumulative ``skin.subtypes`` shares in the fixed order
  acle, scle, dcle;
* lesion-prone areas: each of the 13 areas (``CLASI_AREAS`` order) independently with the
  subtype's ``areas`` probability (0 for an area not listed); if none is drawn, the area of
  the subtype's highest probability (the first such in area order);
* levels ``u ~ N(0, patient_sd)``, ``v_k ~ N(0, area_sd)``;
* at visit v with no skin bit on: empty map, CLASI-A 0. Otherwise
  ``L_v = mean_activity_s + u + c (g_v + D_v - g_0) - c_d drug_sensitivity_s D_v`` (c =
  ``skin.coupling``, c_d = ``skin.drug_coupling``; the course's ``g_v`` already subtracts
  ``D_v``, so ``g_v + D_v`` is the global activity without the drug), rater noise
  ``e_k ~ N(0, assessment_sd)`` per area and ``e' ~ N(0, assessment_sd)`` for alopecia;
  rash on: prone area k has ``x_k = L_v + v_k + e_k``, erythema = #erythema_cuts <= x_k,
  scale (when erythema > 0) = #scale_cuts <= x_k + scale_shift_s; if no prone area has
  erythema, the prone area with the largest x_k (first on ties) gets erythema 1 and scale
  #scale_cuts <= x_k + scale_shift_s; ulcers on: mucous 1; alopecia on: alopecia =
  min(max(#alopecia_cuts <= L_v + alopecia_offset + e', 1), 3) and recent hair loss 1;
* CLASI-A = Σ erythema + Σ scale + mucous + hair loss + alopecia (§7).

Endpoints (§7a "Endpoints", §7's rule, §3/§4 for "on study"): :func:`clasi_endpoint_codes`.

The keyword switches of :func:`reference_clasi` marked "deliberate error" exist only for the
validation's power checks (a wrong reference must be detected); the defaults are §7a.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trialsim.config.vocab import CLASI_AREAS

#: the rash subtypes of §7a, in the order of the cumulative shares
RASH_SUBTYPES = ("acle", "scle", "dcle")
N_AREAS = len(CLASI_AREAS)
#: bits of the course's skin descriptors (trialsim.model.clasi.BIT_RASH etc.; restated here)
BIT_RASH, BIT_ALOPECIA, BIT_ULCERS = 1, 2, 4
#: endpoint codes of :func:`clasi_endpoint_codes`
NOT_EVALUABLE, NON_RESPONDER, RESPONDER = -1, 0, 1
#: §7: a fall of exactly k% is a response (tolerance relative to the baseline)
RESPONSE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class TrialSkinParams:
    """The parameters §7a uses, as plain arrays (subtype index in ``RASH_SUBTYPES`` order)."""

    shares: np.ndarray  # (3,) rash subtype shares
    coupling: float  # c
    drug_coupling: float  # c_d
    patient_sd: float
    area_sd: float
    assessment_sd: float
    erythema_cuts: np.ndarray  # (3,)
    scale_cuts: np.ndarray  # (2,)
    alopecia_cuts: np.ndarray  # (3,)
    alopecia_offset: float
    mean_activity: np.ndarray  # (3,)
    area_prob: np.ndarray  # (3, 13)
    scale_shift: np.ndarray  # (3,)
    drug_sensitivity: np.ndarray  # (3,)

    @classmethod
    def from_scenario(cls, scenario) -> TrialSkinParams:
        """The scenario's ``skin`` block (its ``model`` from configs/skin.yaml)."""
        skin = scenario.skin
        model = skin.model
        subs = [model.subtypes[s] for s in RASH_SUBTYPES]
        return cls(
            shares=np.array([float(skin.subtypes.get(s, 0.0)) for s in RASH_SUBTYPES]),
            coupling=float(skin.coupling),
            drug_coupling=float(skin.drug_coupling),
            patient_sd=float(model.patient_sd),
            area_sd=float(model.area_sd),
            assessment_sd=float(model.assessment_sd),
            erythema_cuts=np.array(model.erythema_cuts, dtype=float),
            scale_cuts=np.array(model.scale_cuts, dtype=float),
            alopecia_cuts=np.array(model.alopecia_cuts, dtype=float),
            alopecia_offset=float(model.alopecia_offset),
            mean_activity=np.array([m.mean_activity for m in subs], dtype=float),
            area_prob=np.array([[float(m.areas.get(a, 0.0)) for a in CLASI_AREAS]
                                for m in subs]),
            scale_shift=np.array([m.scale_shift for m in subs], dtype=float),
            drug_sensitivity=np.array([m.drug_sensitivity for m in subs], dtype=float),
        )


def count_cuts(cuts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The number of ``cuts`` <= x, elementwise."""
    return (np.asarray(x)[..., None] >= cuts).sum(axis=-1)


def draw_patients(p: TrialSkinParams, n: int, rng: np.random.Generator):
    """Per patient: subtype (n,), lesion-prone areas (n, 13) bool, u (n,), v (n, 13)."""
    cumulative = np.cumsum(p.shares)
    w = rng.random(n)
    # the first subtype whose cumulative share exceeds the uniform (guarding rounding at 1)
    subtype = np.minimum((w[:, None] >= cumulative[None, :]).sum(axis=1), len(p.shares) - 1)
    prob = p.area_prob[subtype]  # (n, 13)
    prone = rng.random((n, N_AREAS)) < prob
    none = ~prone.any(axis=1)
    # np.argmax returns the first maximum: the first most likely area in area order
    prone[none, np.argmax(prob[none], axis=1)] = True
    u = rng.normal(0.0, p.patient_sd, n)
    v = rng.normal(0.0, p.area_sd, (n, N_AREAS))
    return subtype, prone, u, v


def reference_clasi(scenario_or_params, skin_bits, global_activity, drug_effect,
                    rng: np.random.Generator, *, use_activity_change: bool = True,
                    add_back_drug: bool = True, use_drug_sensitivity: bool = True,
                    forced_lesion: bool = True, alopecia_floor: bool = True):
    """CLASI-A of every patient at every visit (§7a).

    Parameters
    ----------
    scenario_or_params : Scenario or TrialSkinParams
    skin_bits : (n, n_visits) int
        ``BIT_RASH | BIT_ALOPECIA | BIT_ULCERS`` of the course's descriptors at each visit.
    global_activity : (n, n_visits) float
        The course's ``g_v`` (visit 0: baseline).
    drug_effect : (n, n_visits) float
        The drug's part of the course's shift, ``D_v``.
    rng : numpy Generator
    use_activity_change, add_back_drug, use_drug_sensitivity, forced_lesion, alopecia_floor
        True is §7a. False is a deliberate error for the power checks: the latent activity
        without ``c (g_v + D_v - g_0)``; the change ``c (g_v - g_0)`` of the global activity
        with the drug (``D_v`` not added back, so the drug counts twice); every subtype's
        drug sensitivity read as 1; no forced erythema-1 area when the rash is on; the
        alopecia grade without its floor of 1. (Wrong parameter values, e.g. c_d read as c,
        are a :class:`TrialSkinParams` with that value.)

    Returns
    -------
    clasi_a : (n, n_visits) int64
    subtype : (n,) int64, index in ``RASH_SUBTYPES``
    """
    p = (scenario_or_params if isinstance(scenario_or_params, TrialSkinParams)
         else TrialSkinParams.from_scenario(scenario_or_params))
    bits = np.asarray(skin_bits).astype(np.int64)
    g = np.asarray(global_activity, dtype=float)
    d = np.asarray(drug_effect, dtype=float)
    n, n_visits = bits.shape
    subtype, prone, u, v = draw_patients(p, n, rng)
    c, c_d = p.coupling, p.drug_coupling
    sensitivity = p.drug_sensitivity[subtype] if use_drug_sensitivity else np.ones(n)
    shift = p.scale_shift[subtype]
    clasi_a = np.zeros((n, n_visits), dtype=np.int64)
    for t in range(n_visits):
        # noise is drawn for everyone; it is used only where a bit is on (the map of a visit
        # with no bit on is empty), which leaves every distribution as §7a's
        e = rng.normal(0.0, p.assessment_sd, (n, N_AREAS))
        e_alopecia = rng.normal(0.0, p.assessment_sd, n)
        latent = p.mean_activity[subtype] + u - c_d * sensitivity * d[:, t]
        if use_activity_change:
            # the change from baseline of the global activity without the drug (D_0 = 0)
            without_drug = g[:, t] + d[:, t] if add_back_drug else g[:, t]
            latent = latent + c * (without_drug - g[:, 0])
        rash = (bits[:, t] & BIT_RASH) > 0
        alopecia_on = (bits[:, t] & BIT_ALOPECIA) > 0
        ulcers = (bits[:, t] & BIT_ULCERS) > 0

        # rash: erythema and scale of the prone areas
        x = latent[:, None] + v + e  # (n, 13)
        erythema = np.where(prone & rash[:, None], count_cuts(p.erythema_cuts, x), 0)
        scale = np.where(erythema > 0, count_cuts(p.scale_cuts, x + shift[:, None]), 0)
        if forced_lesion:
            forced = rash & ~(erythema > 0).any(axis=1)
            rows = np.flatnonzero(forced)
            k = np.argmax(np.where(prone[rows], x[rows], -np.inf), axis=1)  # first on ties
            erythema[rows, k] = 1
            scale[rows, k] = count_cuts(p.scale_cuts, x[rows, k] + shift[rows])

        mucous = ulcers.astype(np.int64)

        grade = count_cuts(p.alopecia_cuts, latent + p.alopecia_offset + e_alopecia)
        if alopecia_floor:
            grade = np.maximum(grade, 1)
        alopecia = np.where(alopecia_on, np.minimum(grade, 3), 0)
        hair_loss = alopecia_on.astype(np.int64)

        clasi_a[:, t] = (erythema.sum(axis=1) + scale.sum(axis=1) + mucous + hair_loss
                         + alopecia)
    assert clasi_a.min() >= 0 and clasi_a.max() <= 70  # the instrument's range (§7)
    return clasi_a, subtype


def clasi_response(baseline, current, k: float, min_baseline: float) -> np.ndarray:
    """§7's CLASI-k rule, elementwise: baseline >= min_baseline and > 0, and current <=
    (1 - k/100) baseline + 1e-9 baseline."""
    b = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    return (b >= min_baseline) & (b > 0) & (
        cur <= (1.0 - k / 100.0) * b + RESPONSE_TOLERANCE * b)


def clasi_endpoint_codes(clasi_a, dropout_visit, failure_visit, visit: int, k: float,
                         min_baseline: float) -> np.ndarray:
    """CLASI-k at ``visit`` per patient (§7a "Endpoints"): ``NOT_EVALUABLE`` when the
    baseline CLASI-A is below ``min_baseline``; otherwise ``RESPONDER`` when on study at the
    visit (visit < dropout visit, the first visit missed, and visit < failure visit, the
    first visit with a broken rule: §3) and §7's rule holds, else ``NON_RESPONDER``."""
    clasi_a = np.asarray(clasi_a)
    baseline = clasi_a[:, 0].astype(float)
    evaluable = baseline >= min_baseline
    on_study = (visit < np.asarray(dropout_visit)) & (visit < np.asarray(failure_visit))
    respond = on_study & clasi_response(baseline, clasi_a[:, visit], k, min_baseline)
    return np.where(~evaluable, NOT_EVALUABLE, np.where(respond, RESPONDER, NON_RESPONDER))
