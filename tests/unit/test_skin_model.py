"""The skin model (model/skin.py, docs/model.md §7): the rules, their directions, the link
between CLASI and the SELENA-SLEDAI, attrition and its bias, reproducibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialsim.analysis.cohort import STAT_MEAN, STAT_N, STAT_N_ELIGIBLE, STAT_RESP, t_quantiles
from trialsim.config.skin import load_skin_scenario
from trialsim.core.rng import replicate_key
from trialsim.experiments.skin import cohort_replicate, run_cohort, screen, trial_replicate
from trialsim.model.clasi import DCLE, NONSPECIFIC, SCLE
from trialsim.model.skin import exposure, skin_courses, skin_params, skin_patients

ROOT = Path(__file__).resolve().parents[2]
COHORT = ROOT / "configs" / "clasi_realworld.yaml"
RCT = ROOT / "configs" / "clasi_rct.yaml"
#: every patient followed to the end, nobody stops: the study sees the whole cohort
COMPLETE = {"design.min_months_on_drug": 0, "design.stop_per_year": 0.0,
            "design.lost_per_year": 0.0, "design.follow_up.min_months": 60,
            "design.follow_up.max_months": 60}
TQ = t_quantiles(20_000)


def cohort(n=600, **over):
    sc = load_skin_scenario(COHORT, {"design.sample_size": n, **COMPLETE, **over})
    return sc, cohort_replicate(sc, skin_params(sc), 0, TQ)


def month_index(sc, month):
    return list(sc.design.assessment_months).index(month)


def test_everyone_enrolled_meets_the_entry_criterion():
    for min_clasi in (2, 10):
        sc, res = cohort(300, **{"design.min_clasi": min_clasi})
        base = res["patients"][2][:, 0]
        assert base.min() >= min_clasi
        assert base.size == 300


def test_without_attrition_the_study_sees_the_truth():
    sc, res = cohort(200)
    np.testing.assert_array_equal(np.nan_to_num(res["study"]), np.nan_to_num(res["truth"]))


def test_the_drug_lowers_clasi_and_more_emax_lowers_it_more():
    sc, none = cohort(**{"skin.drug.emax": 0.0})
    _, some = cohort(**{"skin.drug.emax": 1.0})
    _, more = cohort(**{"skin.drug.emax": 3.0})
    j = month_index(sc, 12)
    a, b, c = (r["truth"][0, j, STAT_MEAN] for r in (none, some, more))
    assert a > b > c
    # the same candidates (common random numbers): identical baselines
    assert none["truth"][0, 0, STAT_MEAN] == more["truth"][0, 0, STAT_MEAN]


def test_untreated_counterfactual_is_the_course_without_drug():
    sc, off = cohort(**{"skin.drug.emax": 0.0})
    _, on = cohort()
    np.testing.assert_allclose(on["untreated"], off["truth"], equal_nan=True)


def test_regression_to_the_mean_after_selection_on_clasi():
    # off drug and without background therapy the mean falls after entry, more so with a
    # higher entry threshold (patients enter near a peak of their fluctuation)
    over = {"skin.drug.emax": 0.0, "skin.standard_of_care.effect": 0.0}
    falls = []
    for min_clasi in (2, 12):
        sc, res = cohort(800, **{**over, "design.min_clasi": min_clasi})
        t = res["truth"][0]
        falls.append(t[0, STAT_MEAN] - t[month_index(sc, 12), STAT_MEAN])
    assert falls[0] > 0
    assert falls[1] > falls[0]


def test_scle_responds_less_than_the_other_subtypes():
    # seed 004: no significant early response in subacute CLE (drug_sensitivity < 1)
    sc, res = cohort(3000)
    assert sc.skin.subtypes["scle"].drug_sensitivity < 1
    j = month_index(sc, 6)
    change = res["truth"][1:, j, STAT_MEAN] - res["truth"][1:, 0, STAT_MEAN]
    rel = change / res["truth"][1:, 0, STAT_MEAN]
    assert rel[SCLE] > max(rel[k] for k in range(4) if k != SCLE)


def test_damage_accumulates_and_never_falls():
    sc, res = cohort(1000)
    _, subtype, act, dam, *_ = res["patients"]
    assert (np.diff(dam, axis=1) >= 0).all()
    assert dam[:, 0].sum() == 0  # nothing has had time to scar at entry
    # discoid lupus scars; the non-scarring subtypes do not
    assert dam[subtype == DCLE, -1].mean() > 1.0
    assert dam[subtype == NONSPECIFIC, -1].max() == 0


def test_damage_does_not_respond_to_the_drug():
    # a patient's damage is never lower on drug at the end than it was at any earlier visit,
    # and the drug cannot remove damage present before its effect
    sc, res = cohort(600, **{"skin.drug.emax": 5.0})
    dam = res["patients"][3]
    assert (dam[:, -1] >= dam.max(axis=1)).all()


def test_clasi_and_the_sledai_descriptors_move_together():
    sc, res = cohort(1500)
    _, subtype, act, dam, points, desc, _ = res["patients"]
    rash, alopecia, ulcers, vasculitis = (desc[..., q] for q in range(4))
    # no activity: no SLEDAI skin points
    assert (points[act == 0] == 0).all()
    # rash only in the specific subtypes, vasculitis only in the non-specific one
    assert rash[subtype == NONSPECIFIC].sum() == 0
    assert vasculitis[subtype != NONSPECIFIC].sum() == 0
    # points are the weighted descriptors
    np.testing.assert_array_equal(points, 2 * rash + 2 * alopecia + 2 * ulcers + 8 * vasculitis)
    # over the course, a patient's CLASI-A and SLEDAI skin points rise and fall together
    specific = subtype != NONSPECIFIC
    d_act = np.diff(act[specific], axis=1).ravel()
    d_pts = np.diff(points[specific], axis=1).ravel()
    assert np.corrcoef(d_act, d_pts)[0, 1] > 0.3
    # a patient whose CLASI-A falls to 0 loses the SLEDAI rash
    cleared = act[:, -1] == 0
    assert cleared.any() and rash[cleared, -1].sum() == 0


def test_a_patient_does_not_depend_on_the_others():
    sc = load_skin_scenario(COHORT)
    p = skin_params(sc)
    key = replicate_key(sc.seed, 3)
    units = np.arange(40, dtype=np.int64)
    sub, w = skin_patients(p, units, *key)
    expo = exposure(sc, np.zeros(40, np.int64), w, units, key)
    all_ = skin_courses(p, units, sub, expo, key[0], key[1], p.assessment_weeks.size)
    pick = np.array([7, 31])
    alone = skin_courses(p, units[pick], sub[pick], expo[pick], key[0], key[1],
                         p.assessment_weeks.size)
    for a, b in zip(all_, alone, strict=True):
        np.testing.assert_array_equal(a[pick], b)


def test_placebo_has_no_exposure_and_iv_and_sc_reach_the_skin():
    sc = load_skin_scenario(RCT)
    key = replicate_key(sc.seed, 0)
    units = np.arange(6, dtype=np.int64)
    arm = np.array([0, 1, 0, 1, 0, 1])
    x = exposure(sc, arm, np.full(6, 70.0), units, key)
    assert (x[arm == 0] == 0).all()
    assert (x[arm == 1][:, 8:] > 0.5).all()  # near the plateau after a few weeks
    iv = load_skin_scenario(RCT, {"design.arms.belimumab.dose_mg": None,
                                  "design.arms.belimumab.dose_mg_kg": 10.0,
                                  "design.arms.belimumab.route": "iv"})
    x_iv = exposure(iv, arm, np.full(6, 70.0), units, key)
    assert (x_iv[arm == 1][:, 1] > x[arm == 1][:, 1]).all()  # IV day 0 dose: faster start


def test_response_dependent_attrition_flatters_the_evaluable_patients():
    over = {"design.nonresponder_stop_prob": 1.0, "design.stop_from_month": 3}
    sc, res = cohort(1500, **over)
    j = month_index(sc, 24)
    k50 = sc.analysis.response_thresholds.index(50)
    study, truth = res["study"][0, j], res["truth"][0, j]
    assert study[STAT_N] < truth[STAT_N]
    rate = lambda t: t[STAT_RESP + k50] / t[STAT_N_ELIGIBLE]  # noqa: E731
    assert rate(study) > rate(truth) + 0.1
    assert study[STAT_MEAN] < truth[STAT_MEAN]
    # from month 3 on, a visit seen without a CLASI-20 response is the patient's last one
    act, ev = res["patients"][2], res["patients"][6]
    late = ev & (np.array(sc.design.assessment_weeks)[None, :] >= 13)
    miss = late & (act > 0.8 * act[:, :1] + 1e-9)
    last_seen = ev.sum(axis=1) - 1
    rows, cols = np.nonzero(miss)
    assert rows.size > 0 and (cols == last_seen[rows]).all()


def test_follow_up_shrinks_the_evaluable_numbers():
    sc = load_skin_scenario(COHORT, {"design.sample_size": 400})
    res = cohort_replicate(sc, skin_params(sc), 0, TQ)
    n = res["study"][0, :, STAT_N]
    assert n[0] == 400
    assert (np.diff(n) <= 0).all() and n[-1] < 0.5 * n[0]
    # the 6-month on-drug criterion: everyone is seen at 6 months
    assert n[month_index(sc, 6)] == 400


def test_min_months_on_drug_selects_patients():
    # with stopping therapy common, requiring 6 months on drug excludes candidates
    sc = load_skin_scenario(COHORT, {"design.sample_size": 200, "design.stop_per_year": 0.8})
    p = skin_params(sc)
    key = replicate_key(sc.seed, 0)
    eligible, taken = screen(p, key, sc.design.min_clasi, 10)
    res = cohort_replicate(sc, p, 0, TQ)
    assert res["truth"][0, 0, STAT_N] > 200 + 20
    assert taken == 10 and eligible.units.size == 10


def test_the_cohort_is_reproducible_across_chunks_and_jobs():
    sc = load_skin_scenario(COHORT, {"engine.chunk_size": 3})
    a = run_cohort(sc, replicates=7, n_jobs=1).replicates
    sc2 = load_skin_scenario(COHORT, {"engine.chunk_size": 5})
    b = run_cohort(sc2, replicates=7, n_jobs=2).replicates
    assert a.equals(b)


def test_a_subtype_share_set_alone_rescales_the_others():
    sc = load_skin_scenario(COHORT, {"population.subtypes.scle": 0.5})
    shares = sc.population.subtypes
    assert shares["scle"] == 0.5 and abs(sum(shares.values()) - 1) < 1e-12
    base = load_skin_scenario(COHORT).population.subtypes
    assert shares["acle"] / shares["dcle"] == pytest.approx(base["acle"] / base["dcle"])


def test_trial_topicals_raise_the_placebo_response():
    rates = []
    for topicals in ("stable", "allowed"):
        sc = load_skin_scenario(RCT, {"design.topicals": topicals,
                                      "design.sample_size": 600})
        p = skin_params(sc)
        counts = sum(trial_replicate(sc, p, r)["counts"] for r in range(4))
        rates.append(counts[0, :, 0].sum() / counts[0, :, 1].sum())
    assert rates[1] > rates[0] + 0.05


@pytest.mark.parametrize("bad, where", [
    ({"population.subtypes": {"acle": 0.9, "scle": 0.3}}, "population.subtypes"),
    ({"skin.erythema_cuts": [1.0, 0.5, 2.0]}, "skin.erythema_cuts"),
    ({"design.assessment_months": [3, 6]}, "design.assessment_months"),
    ({"design.arm.dose_mg": 0}, "design.arm"),
])
def test_bad_skin_input_names_the_field(bad, where):
    from trialsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=where.replace(".", r"\.")):
        load_skin_scenario(COHORT, bad)


def test_time_to_clasi50_is_shorter_on_drug():
    from trialsim.experiments.skin import GROUPS

    sc, res = cohort(800)
    study, truth, untreated = res["time_to"]
    all_ = GROUPS.index("all")
    assert np.isfinite(truth[all_])
    assert truth[all_] < untreated[all_]
    assert study[all_] == truth[all_]  # nobody lost: the study is the truth
