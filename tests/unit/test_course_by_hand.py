"""The course kernel, one patient, visit by visit, against a trajectory computed by hand.

The kernel reads its random numbers from per-visit tables of uniforms and normals, one slot
per use (``U_*``, ``Z_*`` in ``trialsim.model.course``); here the tables are scripted. Every value
expected below was worked out by hand from docs/model.md §3; the uniforms are chosen away from
the probabilities they are compared with (close enough that the mutations named in the
docstrings change the outcome). Slots a case does not script hold NaN: every comparison with
NaN is false, so a rule that read a slot it should not would change the trajectory.

The kernel runs with weekly visits, so every per-week probability of docs/model.md §3 is the
per-visit one and the hand computations need no conversion to the interval. The cases were
written for 4-weekly visits: every time below (``week 4``, onsets, the protocol's limit
weeks) is in those units, and ``run`` divides it by 4 (``WEEKS``) for the kernel, so the
text's weeks 4, 8, 12 are visits 1, 2, 3 and every fraction like ``1 - exp(-t / onset)`` is
unchanged.
"""

import math

import numpy as np
import pytest

from trialsim.model.course import (
    N_NORMAL,
    N_UNIFORM,
    U_DROPOUT,
    U_ESCALATE,
    U_STEROID,
    U_SYMPTOM,
    U_TAPER,
    Z_BILAG,
    Z_FLUCTUATION,
    Z_PGA,
    CourseParams,
    CoursePatients,
    course_patient,
    descriptor_on_probability,
    drug_time_course,
    tapered_dose,
    visit_curves,
)
from trialsim.model.instruments import (
    FLAG_PROTEINURIA_UNSCORED,
    FLARE_MILD,
    FLARE_NONE,
    FLARE_SEVERE,
    GRADE_B,
    GRADE_C,
    GRADE_D,
    GRADE_E,
    N_BILAG,
    PROTEINURIA_NEW_ONSET,
    PROTEINURIA_WHENEVER_PRESENT,
)

STEROID, ESCALATE, SYMPTOM, TAPER, DROPOUT = U_STEROID, U_ESCALATE, U_SYMPTOM, U_TAPER, U_DROPOUT
#: the weeks of the text per week of the kernel (see the module docstring)
WEEKS = 4.0


def script(n_visits, visits):
    """Draw tables from ``{visit: ({uniform slot: u}, {normal slot: z})}``; NaN elsewhere."""
    u = np.full((n_visits, N_UNIFORM), np.nan)
    z = np.full((n_visits, N_NORMAL), np.nan)
    for v, (us, zs) in visits.items():
        for slot, x in us.items():
            u[v, slot] = x
        for slot, x in zs.items():
            z[v, slot] = x
    return u, z


MUSCULOSKELETAL, MUCOCUTANEOUS, VASCULITIS = 3, 1, 5
#: the patient and model of the placebo cases; the drug case overrides some of them
DEFAULTS = dict(
    soc_amp=0.0,  # no background-therapy effect
    soc_onset=10.0,
    drug_amp=0.0,  # placebo
    stab_amp=0.0,
    drug_lag=0.0,
    drug_onset=1.0,
    sero_drug=0.0,
    symptom=(0.0, 1.0, 1.0),  # symptom-driven increases: probability, high-steroid and late factors
    steroid_limit=4.0,
    allowance=0.0,
    proteinuria_rule=PROTEINURIA_WHENEVER_PRESENT,
)


def run(visits, *, weights, bilag_of, active0, bilag0, on_is0, n_visits, propensity, **over):
    """Three descriptors (two clinical, one serological), one patient."""
    k = {**DEFAULTS, **over}
    symptom_prob, symptom_high, symptom_late = k["symptom"]
    params = CourseParams(
        interval_weeks=1,  # per-week probabilities are per-visit ones
        n_visits=n_visits,
        persistence=np.array([0.5, 0.0, 0.0]),  # λ
        weights=np.array(weights, dtype=np.int64),
        clinical=np.array([True, True, False]),
        major=np.array([False, False, False]),
        proteinuria_rule=k["proteinuria_rule"],
        proteinuria=0,  # descriptor 0 plays proteinuria where a case scores it
        bilag_of=np.array(bilag_of, dtype=np.int64),
        fluctuation_sd=1.0,
        fluctuation_ar1=0.6,  # innovation SD = sqrt(1 - 0.36) = 0.8
        soc_onset_weeks=k["soc_onset"] / WEEKS,
        steroid_potency=1.0,
        onset_lag_weeks=k["drug_lag"] / WEEKS,
        onset_weeks=k["drug_onset"] / WEEKS,
        waning_rate=0.0,
        waning_start_weeks=0.0,
        serology_normalize=0.1,  # per week = per visit, off drug
        serology_appear=0.05,
        serology_drug_normalize=k["sero_drug"],
        pga_intercept=0.2,
        pga_per_sledai_point=0.1,
        pga_visit_sd=0.3,
        bilag_threshold_a=2.0,
        bilag_threshold_b=0.75,
        bilag_visit_sd=0.5,
        taper_prob=0.5,
        taper_fraction=0.2,
        taper_floor_mg=5.0,
        flare_increase_prob=1.0,
        flare_increase_mg=10.0,
        escalate_severe_prob=1.0,
        escalate_mild_prob=0.0,
        escalation_effect=0.5,
        symptom_increase_prob=symptom_prob,
        symptom_high_steroid_factor=symptom_high,
        symptom_after_limit_factor=symptom_late,
        immunosuppressant_increase_limit_week=16.0 / WEEKS,
        steroid_limit_week=k["steroid_limit"] / WEEKS,
        steroid_allowance_mg=k["allowance"],
        dropout_prob=0.1,
        # the drug and background-therapy amplitudes are given per patient below
        emax=0.0, race_modifier=np.ones(1),
        serologically_active_modifier=1.0, per_5y_duration_modifier=1.0,
        high_steroid_modifier=1.0, stabilization=0.0, soc_effect=0.0,
        soc_region_effect=np.zeros(1),
    )
    patients = CoursePatients(
        activity=np.array([0.0]),  # global activity b
        fluctuation0=np.array([0.5]),  # w0
        propensity=np.array([propensity]),
        active0=np.array([active0]),
        soc_amp=np.array([k["soc_amp"]]),
        drug_amp=np.array([k["drug_amp"]]),
        stab_amp=np.array([k["stab_amp"]]),
        pga_rater=np.array([0.1]),
        pga0=np.array([1.0]),
        bilag_rater=np.zeros((1, N_BILAG)),
        bilag0=np.array([bilag0], dtype=np.int8),
        bilag_ever0=np.array([[g != GRADE_E for g in bilag0]]),
        prednisone0=np.array([10.0]),  # mg/day
        weight_kg=np.array([60.0]),  # 0.5 mg/kg = 30 mg
        on_is0=np.array([on_is0]),
        unit=np.array([0]),
        exposure=np.ones((1, n_visits)),  # the full effect at every visit
    )
    u, z = script(n_visits, visits)
    out = (
        np.zeros((1, n_visits), dtype=np.int16), np.zeros((1, n_visits)),
        np.zeros((1, n_visits, N_BILAG), dtype=np.int8), np.zeros((1, n_visits)),
        np.zeros((1, n_visits), dtype=np.int8), np.zeros(1, dtype=np.int64),
        np.zeros(1, dtype=np.int64), np.zeros((1, n_visits), dtype=np.int16),
        np.zeros((1, n_visits), dtype=np.uint8),
    )
    no_skin = (np.zeros((0, 0), dtype=np.uint8), np.zeros((0, 0)), np.zeros((0, 0)))
    course_patient(params, patients, 0, u, z, False, *out, visit_curves(params), *no_skin)
    return out


def test_three_visits_by_hand():
    """Placebo patient: taper, a mild flare by PGA with a steroid-rule failure, dropout.

    Descriptors: 0 (weight 4, musculoskeletal, λ 0.5, on), 1 (weight 2, mucocutaneous,
    organ log-odds -1, λ 0, off), 2 (serological, weight 2, on). Baseline SLEDAI 6, PGA 1.0.

    visit 1 (week 4): w = 0.6·0.5 + 0.8·0 = 0.3, shift 0 (dose still 10), g = 0.3.
      d0 on: π = expit(0.3) = 0.574, P(on) = 0.574 + 0.5·0.426 = 0.787 > u 0.5: on.
      d1 off: P(on) = expit(-0.7) = 0.332 < u 0.9: off. d2 on: normalizes if u < 0.1: u 0.5, on.
      SLEDAI 4 + 2 = 6. PGA 0.2 + 0.1·4 + 0.1 + 0.3·1.0 = 1.0. BILAG musculoskeletal 4/4 + 0.5·0
      = 1.0 > 0.75: B. No flare (SLEDAI +0, PGA +0). Symptom increase: u 0.99 vs probability
      0: no. Taper: u 0.3 < 0.5: 10 → max(5, 8) = 8 mg. Dropout: u 0.5 ≥ 0.1: no.
    visit 2 (week 8): w = 0.6·0.3 + 0.8·2 = 1.78, shift = log1p(8) - log1p(10) = -0.201,
      g = 1.981. d0: P(on) = 0.939 > u 0.2: on. d1: P(on) = expit(0.981) = 0.727 > u 0.1: on.
      d2: u 0.05 < 0.1: normalizes. SLEDAI 4 + 2 = 6. PGA 0.2 + 0.6 + 0.1 + 0.3·4 = 2.1.
      BILAG mucocutaneous 2/4 + 0.5·1 = 1.0: B; musculoskeletal 1 + 0.5·2 = 2.0, not above 2.0: B.
      SFI: PGA +1.1 ≥ 1.0, not above 2.5: mild. Increase: u 0.5 < 1: 8 + 10 = 18 mg (≤ 30 mg,
      0.5 mg/kg); week 8 > 4 and 18 > 10 + 0: treatment failure at visit 2. Escalation: u 0.7
      vs probability 0 (mild): no. Dropout: u 0.05 < 0.1: drops out at visit 2.
    visit 3 (week 12): w = 0.6·1.78 - 0.8 = 0.268, shift = log1p(18) - log1p(10) = 0.547,
      g = -0.279. d0: P(on) = 0.715 < u 0.8: off. d1: P(on) = expit(-1.279) = 0.218 > u 0.1: on.
      d2 off: appears if u < 0.05: u 0.01, on. SLEDAI 2 + 2 = 4. PGA 0.2 + 0.2 + 0.1 + 0 = 0.5.
      BILAG mucocutaneous 0.5 + 0.5·(-1) = 0.0: C; musculoskeletal inactive, involved before: D.
      No flare. Symptoms: u 0.99, no. Taper: u 0.4 < 0.5: 18 → 14.4 mg. No dropout draw (out).
    """
    visits = {
        1: ({0: 0.5, 1: 0.9, 2: 0.5, SYMPTOM: 0.99, TAPER: 0.3, DROPOUT: 0.5},
            {Z_FLUCTUATION: 0.0, Z_PGA: 1.0, Z_BILAG + MUSCULOSKELETAL: 0.0}),
        2: ({0: 0.2, 1: 0.1, 2: 0.05, STEROID: 0.5, ESCALATE: 0.7, DROPOUT: 0.05},
            {Z_FLUCTUATION: 2.0, Z_PGA: 4.0, Z_BILAG + MUCOCUTANEOUS: 1.0,
             Z_BILAG + MUSCULOSKELETAL: 2.0}),
        3: ({0: 0.8, 1: 0.1, 2: 0.01, SYMPTOM: 0.99, TAPER: 0.4},
            {Z_FLUCTUATION: -1.0, Z_PGA: 0.0, Z_BILAG + MUCOCUTANEOUS: -1.0}),
    }
    bilag0 = [GRADE_E] * N_BILAG
    bilag0[MUSCULOSKELETAL] = GRADE_C
    sledai, pga, bilag, pred, flare, failure, dropout, *_ = run(
        visits, weights=[4, 2, 2], bilag_of=[MUSCULOSKELETAL, MUCOCUTANEOUS, -1],
        active0=[True, False, True], bilag0=bilag0, on_is0=False, n_visits=4,
        propensity=[0.0, -1.0, 0.0],
    )
    np.testing.assert_array_equal(sledai[0], [6, 6, 6, 4])
    np.testing.assert_allclose(pga[0], [1.0, 1.0, 2.1, 0.5], atol=1e-12)
    np.testing.assert_array_equal(flare[0], [FLARE_NONE, FLARE_NONE, FLARE_MILD, FLARE_NONE])
    np.testing.assert_allclose(pred[0], [10.0, 8.0, 18.0, 14.4], atol=1e-12)
    assert (failure[0], dropout[0]) == (2, 2)
    musculoskeletal = bilag[0, :, MUSCULOSKELETAL]
    np.testing.assert_array_equal(musculoskeletal, [GRADE_C, GRADE_B, GRADE_B, GRADE_D])
    mucocutaneous = bilag[0, :, MUCOCUTANEOUS]
    np.testing.assert_array_equal(mucocutaneous, [GRADE_E, GRADE_E, GRADE_B, GRADE_C])
    others = [k for k in range(N_BILAG) if k not in (MUSCULOSKELETAL, MUCOCUTANEOUS)]
    assert (bilag[0][:, others] == GRADE_E).all()


@pytest.mark.parametrize("on_is0, failure_visit", [(True, 3), (False, 1)])
def test_severe_flare_escalation_and_rules_at_their_weeks(on_is0, failure_visit):
    """A severe flare at week 4 with a prednisone step and an escalation; its effect at week 8.

    Descriptors 0 (weight 8, vasculitis, off), 1 (weight 4, musculoskeletal, on), 2 (serology,
    on): SLEDAI 6 at baseline.
    visit 1 (week 4): w = 0.3, g = 0.3; d0 off: P(on) = 0.574·0.5 = 0.287 > u 0.1: on; d1
      (λ 0): 0.574 > u 0.5: on; d2 stays (u 0.5 ≥ 0.1). SLEDAI 14 > 12 from 6: severe. PGA
      0.2 + 1.2 + 0.1 = 1.5. BILAG musculoskeletal 1.0: B; vasculitis 8/4 = 2.0, not above
      2.0: B. Increase (u 0.5 < 1): 10 + 2·10 = 30 mg; week 4 is not after the steroid limit
      week 4: no failure. Escalation (u 0.5 < 1): a patient already on an immunosuppressant
      may increase it up to week 16, no failure; one not on one gets a new one: failure at
      visit 1. Escalation effect now 0.5. Dropout: u 0.9, no.
    visit 2 (week 8): w = 0.18, shift = log1p(30) - log1p(10) + 0.5 = 1.536, g = -1.356.
      d0 on: P(on) = 0.205 + 0.5·0.795 = 0.602 < u 0.62: off (without the escalation effect
      P(on) would be 0.649, with the steroid effect reversed 0.87: on). d1: 0.205 < u 0.5: off.
      d2: u 0.5, stays. SLEDAI 2. PGA 0.2 + 0 + 0.1 = 0.3. No flare. Symptoms: u 0.99 vs 0.
      Taper: u 0.4 < 0.5: 30 → 24 mg. Dropout: u 0.9, no.
    """
    zero = {Z_FLUCTUATION: 0.0, Z_PGA: 0.0, Z_BILAG + MUSCULOSKELETAL: 0.0,
            Z_BILAG + VASCULITIS: 0.0}
    visits = {
        1: ({0: 0.1, 1: 0.5, 2: 0.5, STEROID: 0.5, ESCALATE: 0.5, DROPOUT: 0.9}, zero),
        2: ({0: 0.62, 1: 0.5, 2: 0.5, SYMPTOM: 0.99, TAPER: 0.4, DROPOUT: 0.9}, zero),
    }
    sledai, pga, bilag, pred, flare, failure, dropout, *_ = run(
        visits, weights=[8, 4, 2], bilag_of=[VASCULITIS, MUSCULOSKELETAL, -1],
        active0=[False, True, True], bilag0=[GRADE_E] * N_BILAG, on_is0=on_is0, n_visits=3,
        propensity=[0.0, 0.0, 0.0],
    )
    np.testing.assert_array_equal(sledai[0], [6, 14, 2])
    np.testing.assert_array_equal(flare[0], [FLARE_NONE, FLARE_SEVERE, FLARE_NONE])
    np.testing.assert_allclose(pred[0], [10.0, 30.0, 24.0], atol=1e-12)
    np.testing.assert_allclose(pga[0], [1.0, 1.5, 0.3], atol=1e-12)
    assert failure[0] == failure_visit
    assert dropout[0] == 3
    np.testing.assert_array_equal(bilag[0, :, VASCULITIS], [GRADE_E, GRADE_B, GRADE_D])
    np.testing.assert_array_equal(bilag[0, :, MUSCULOSKELETAL], [GRADE_E, GRADE_B, GRADE_D])


@pytest.mark.parametrize("u_symptom", [0.09, 0.12])
def test_drug_background_therapy_and_a_symptom_driven_increase(u_symptom):
    """On drug, with background therapy: serology normalizes faster, and symptoms outside the
    SLEDAI make the physician raise prednisone after the steroid limit week: a failure.

    Background therapy 0.6 with onset 4 weeks, drug 0.8 with stabilization 0.5 and onset 4
    weeks (no lag); both at 1 - exp(-1) = 0.632 of full effect at week 4. Symptom-driven
    increase probability 0.2, doubled for a patient on > 7.5 mg at baseline (10 mg), halved
    after the steroid limit (week 2 here, allowance 5 mg).
    visit 1 (week 4): w = 0.3, shift = 0.6·0.632 + 0.8·0.632 = 0.379 + 0.506, g = -0.585.
      d0 on: P(on) = 0.358 + 0.5·0.642 = 0.679 > u 0.5: on. d1 (organ -1, λ 0): 0.170 < u 0.9:
      off. d2 on: normalization hazard -log(0.9) + 1.0·0.506 = 0.611, P = 0.457 > u 0.3:
      normalizes (off drug P = 0.1 and it would stay). SLEDAI 4. PGA 0.2 + 0.4 + 0.1 = 0.7.
      BILAG musculoskeletal 1.0: B. No SFI flare. Symptom-driven increase: probability
      min(1, 2·0.4·expit(-0.585)) · (1 - 0.5·0.632) · 0.5 = 0.0979 > u 0.09: +10 mg = 20 mg, a
      mild flare by the medication criterion; week 4 > 2 and 20 > 10 + 5: failure at visit 1.
      (Without the high-steroid factor the probability is 0.049, with background therapy at
      full strength from week 0 it is 0.084: no increase.) Dropout: u 0.5, no.
      With u 0.12 instead: no increase (without the stabilization the probability would be
      0.143: an increase); the taper step draws u 0.5, not < 0.5: the dose stays 10 mg.
    """
    increase = u_symptom < 0.0979
    us = {0: 0.5, 1: 0.9, 2: 0.3, SYMPTOM: u_symptom, DROPOUT: 0.5}
    if not increase:
        us[TAPER] = 0.5
    visits = {1: (us, {Z_FLUCTUATION: 0.0, Z_PGA: 0.0, Z_BILAG + MUSCULOSKELETAL: 0.0})}
    sledai, pga, bilag, pred, flare, failure, dropout, *_ = run(
        visits, weights=[4, 2, 2], bilag_of=[MUSCULOSKELETAL, MUCOCUTANEOUS, -1],
        active0=[True, False, True], bilag0=[GRADE_E] * N_BILAG, on_is0=False, n_visits=2,
        propensity=[0.0, -1.0, 0.0], soc_amp=0.6, soc_onset=4.0, drug_amp=0.8, stab_amp=0.5,
        drug_lag=0.0, drug_onset=4.0, sero_drug=1.0, symptom=(0.2, 2.0, 0.5),
        steroid_limit=2.0, allowance=5.0,
    )
    np.testing.assert_array_equal(sledai[0], [6, 4])
    np.testing.assert_array_equal(flare[0], [FLARE_NONE, FLARE_MILD if increase else FLARE_NONE])
    np.testing.assert_allclose(pred[0], [10.0, 20.0 if increase else 10.0], atol=1e-12)
    np.testing.assert_allclose(pga[0], [1.0, 0.7], atol=1e-12)
    assert (failure[0], dropout[0]) == (1 if increase else 2, 2)
    assert bilag[0, 1, MUSCULOSKELETAL] == GRADE_B


def test_markov_descriptor_probabilities():
    assert descriptor_on_probability(0.2, 0.5, True) == pytest.approx(0.6)
    assert descriptor_on_probability(0.2, 0.5, False) == pytest.approx(0.1)
    # stationary: π = π P(on|on) + (1 - π) P(on|off)
    pi, lam = 0.3, 0.7
    on = descriptor_on_probability(pi, lam, True)
    off = descriptor_on_probability(pi, lam, False)
    assert pi * on + (1 - pi) * off == pytest.approx(pi)


def test_drug_time_course():
    assert drug_time_course(4.0, 4.0, 8.0, 0.0, 0.0) == 0.0  # not after the lag
    assert drug_time_course(12.0, 4.0, 8.0, 0.0, 0.0) == pytest.approx(1 - math.exp(-1))
    half = math.log(2) / 26.0
    got = drug_time_course(78.0, 4.0, 8.0, half, 52.0)
    assert got == pytest.approx((1 - math.exp(-74 / 8)) * 0.5)
    assert drug_time_course(52.0, 4.0, 8.0, half, 52.0) == pytest.approx(1 - math.exp(-6))


def test_taper_step():
    assert tapered_dose(10.0, 5.0, 0.2) == pytest.approx(8.0)
    assert tapered_dose(6.0, 5.0, 0.2) == 5.0


def test_drug_amplitude_by_subgroup(bliss76):
    """Full drug effect per patient on drug: Emax times the subgroup modifiers, each at its
    edge; 0 on placebo (docs/model.md §3, with hand-set modifiers). The concentration enters
    through the visit's exposure (tests/unit/test_pk.py)."""
    from types import SimpleNamespace

    from trialsim.config.scenario import with_overrides
    from trialsim.model.course import drug_amplitude, stabilization_amplitude
    from trialsim.model.population import RACE_CODE

    sc = with_overrides(bliss76, {
        "drug.emax": 1.0,
        "drug.stabilization": 0.5,
        "drug.modifiers": {"race": {"black": 0.2, "asian": 0.5}, "serologically_active": 2.0,
                           "per_5y_duration": 0.5, "high_steroid": 3.0},
    })
    # (race, anti-dsDNA, low C3, low C4, disease duration, prednisone, dose) -> expected
    cases = [
        ("white", False, False, False, 2.0, 7.5, 1.0, 1.0),  # on drug: Emax
        ("white", False, False, False, 2.0, 7.5, 0.0, 0.0),  # placebo
        ("white", True, True, False, 2.0, 7.5, 1.0, 2.0),  # serologically active: x2
        ("white", True, False, False, 2.0, 7.5, 1.0, 1.0),  # anti-dsDNA alone is not
        ("white", False, True, True, 2.0, 7.5, 1.0, 1.0),  # low complement alone is not
        ("white", False, False, False, 7.0, 7.5, 1.0, 0.5),  # 5 years beyond 2: x0.5
        ("white", False, False, False, 1.0, 7.5, 1.0, 1.0),  # under 2 years: no change
        ("white", False, False, False, 2.0, 8.0, 1.0, 3.0),  # > 7.5 mg: x3
        # log-linear: the modifiers multiply, none erases the others
        ("black", True, True, True, 2.0, 20.0, 10.0, 0.2 * 2.0 * 3.0),
        ("asian", False, False, False, 2.0, 0.0, 10.0, 0.5),
        ("white", False, False, False, 2.0, 7.5, 1e-6, 1.0),  # any dose above 0
    ]
    cohort = SimpleNamespace(
        race=np.array([RACE_CODE[c[0]] for c in cases]),
        region=np.zeros(len(cases), dtype=np.int64),
        serologically_active=np.array([c[1] and (c[2] or c[3]) for c in cases]),
        disease_duration=np.array([c[4] for c in cases]),
        prednisone=np.array([c[5] for c in cases]),
    )
    dose = np.array([c[6] for c in cases])
    np.testing.assert_allclose(drug_amplitude(sc, cohort, dose), [c[7] for c in cases])
    stab = stabilization_amplitude(sc, cohort, dose)
    np.testing.assert_allclose(stab[[0, 1, 8, 9, 10]], [0.5, 0.0, 0.1, 0.25, 0.5])


@pytest.mark.parametrize("path, value", [
    ("drug.modifiers.race.black", 0.0), ("drug.modifiers.serologically_active", 0.0),
    ("drug.modifiers.high_steroid", 25.0), ("drug.modifiers.per_5y_duration", 0.01),
])
def test_a_modifier_is_a_bounded_ratio_never_zero(bliss76, path, value):
    """An absolute zero would erase every other modifier of a patient (issue 9): refused,
    as is a ratio beyond [0.05, 20], with the field and the allowed range named."""
    from trialsim.config.scenario import ScenarioError, with_overrides

    with pytest.raises(ScenarioError) as err:
        with_overrides(bliss76, {path: value})
    assert path.split(".")[-1] in str(err.value)
    assert "0.05" in str(err.value) or "20" in str(err.value)


def test_selena_scores_proteinuria_only_when_new():
    """``disease.sledai_proteinuria: new_onset`` (docs/model.md §3), descriptor 0 playing
    proteinuria (weight 4, λ 0.5, on at baseline), 1 off throughout, 2 serological and on.

    Proteinuria is on at visit 1 (u 0.01), off at visit 2 (u 0.999), on again at visit 3
    (u 0.01, below any P(on) here). SLEDAI-2K scoring: 6, 6, 2, 6. SELENA's new-onset rule:
    baseline as screened (6), persisting at visit 1 so not scored (2, and the visit's flag
    says so), absent at 2 (2), new at 3 (6). The clinical score follows; the PGA, which
    sees the activity and not the score, is the same under both rules.
    """
    visits = {v: ({0: u0, 1: 0.999, 2: 0.5}, {Z_FLUCTUATION: 0.0, Z_PGA: 0.0})
              for v, u0 in ((1, 0.01), (2, 0.999), (3, 0.01))}
    common = dict(weights=[4, 2, 2], bilag_of=[-1, MUCOCUTANEOUS, -1],
                  active0=[True, False, True], bilag0=[GRADE_E] * N_BILAG, on_is0=False,
                  n_visits=4, propensity=[0.0, -1.0, 0.0])
    s2k = run(visits, **common)
    selena = run(visits, **common, proteinuria_rule=PROTEINURIA_NEW_ONSET)
    np.testing.assert_array_equal(s2k[0][0], [6, 6, 2, 6])
    np.testing.assert_array_equal(selena[0][0], [6, 2, 2, 6])
    np.testing.assert_array_equal(s2k[7][0], [4, 4, 0, 4])  # clinical
    np.testing.assert_array_equal(selena[7][0], [4, 0, 0, 4])
    unscored = (selena[8][0] & FLAG_PROTEINURIA_UNSCORED) != 0
    np.testing.assert_array_equal(unscored, [False, True, False, False])
    assert not (s2k[8][0] & FLAG_PROTEINURIA_UNSCORED).any()
    np.testing.assert_array_equal(s2k[1], selena[1])  # PGA
