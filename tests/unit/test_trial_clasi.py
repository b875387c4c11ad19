"""CLASI in the SLE trials (docs/model.md §7a): the lesion map agrees with the course's
SELENA-SLEDAI mucocutaneous descriptors, the CLASI-k endpoints follow their rule at its
edges, the drug moves them the right way, nothing else of a trial changes when they are
asked for, and the compiled trial equals the Python API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialsim.analysis.endpoints import (
    ENDPOINTS,
    EVALUABLE,
    NON_RESPONDER,
    NOT_EVALUABLE,
    RESPONDER,
    clasi_code,
)
from trialsim.config.scenario import ScenarioError, load_scenario
from trialsim.core.rng import replicate_key
from trialsim.model.clasi import BIT_ALOPECIA, BIT_RASH, BIT_ULCERS, DCLE, SCLE, skin_bits
from trialsim.model.instruments import DESCRIPTOR_NAMES
from trialsim.model.skin import trial_clasi, trial_skin_params
from trialsim.run.trial import ChunkResult, ReplicatePatients, _plan, run_chunk

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
WITH_CLASI = {"analysis.endpoints": ["sri4", "bicla", "clasi20", "clasi50", "clasi100"]}
SMALL = {"design.sample_size": 300, "design.duration_weeks": 52, "design.endpoint_weeks": [24, 52]}


def scenario(**over):
    return load_scenario(CONFIGS / "bliss76.yaml", {**WITH_CLASI, **SMALL, **over})


def trials(sc, replicates):
    rp = ReplicatePatients(sc)
    return [rp(r) for r in range(replicates)]


def skin_inputs(trial):
    c = trial.course
    unit = np.asarray(trial.cohort.candidate, dtype=np.int64)
    return unit, c.skin_bits, c.global_activity, c.drug_effect


@pytest.mark.parametrize("name, bit", [("rash", BIT_RASH), ("alopecia", BIT_ALOPECIA),
                                       ("mucosal_ulcers", BIT_ULCERS), ("vasculitis", 0),
                                       ("arthritis", 0)])
def test_skin_bits_of_one_active_descriptor(name, bit):
    state = np.zeros(len(DESCRIPTOR_NAMES), dtype=bool)
    state[DESCRIPTOR_NAMES.index(name)] = True
    assert skin_bits(state) == bit
    assert skin_bits(~state) == (BIT_RASH | BIT_ALOPECIA | BIT_ULCERS) & ~bit


def test_the_course_records_the_drug_and_the_global_activity():
    sc = scenario()
    trial = trials(sc, 1)[0]
    c = trial.course
    placebo = trial.arm == 0
    assert (c.drug_effect[placebo] == 0).all() and (c.drug_effect[:, 0] == 0).all()
    assert (c.drug_effect[~placebo, 13] > 0).all()  # week 52 on drug
    np.testing.assert_array_equal(c.global_activity[:, 0],
                                  trial.cohort.activity + trial.cohort.fluctuation)
    # background therapy lowers the global activity of the placebo arm on average
    assert (c.global_activity[placebo, 13] - c.global_activity[placebo, 0]).mean() < -0.2


def test_the_map_agrees_with_the_sledai_descriptors_at_every_visit():
    sc = scenario()
    p = trial_skin_params(sc)
    for r, trial in enumerate(trials(sc, 3)):
        unit, bits, g, d = skin_inputs(trial)
        clasi, subtype, mapped = trial_clasi(p, unit, bits, g, d, *replicate_key(sc.seed, r))
        np.testing.assert_array_equal(clasi, trial.clasi)
        np.testing.assert_array_equal(mapped, bits)  # rash, alopecia, ulcers: both instruments
        assert (clasi[bits == 0] == 0).all()
        assert (clasi[bits != 0] >= 1).all()
        # alopecia scores at least hair loss + grade 1; ulcers exactly the mucous item
        alo = (bits & BIT_ALOPECIA) != 0
        assert (clasi[alo] >= 2).all()
        only_ulcers = bits == BIT_ULCERS
        assert (clasi[only_ulcers] == 1).all()
        assert set(np.unique(subtype)) <= {0, SCLE, DCLE}  # rash subtypes only
        assert bits.any() and (bits & BIT_RASH).any()


def test_clasi_and_sledai_skin_points_move_together():
    sc = scenario()
    dc, ds = [], []
    for trial in trials(sc, 2):
        bits = trial.course.skin_bits
        points = 2 * ((bits & BIT_RASH) != 0) + 2 * ((bits & BIT_ALOPECIA) != 0) \
            + 2 * ((bits & BIT_ULCERS) != 0)
        dc.append(np.diff(trial.clasi.astype(float), axis=1).ravel())
        ds.append(np.diff(points.astype(float), axis=1).ravel())
    r = np.corrcoef(np.concatenate(dc), np.concatenate(ds))[0, 1]
    assert r > 0.3, r  # as the skin cohort's (test_skin_model.py); here 0.47


@pytest.mark.parametrize("base, current, k, expected", [
    (9, 0, 50, NOT_EVALUABLE),      # below the threshold: outside the analysis
    (10, 5, 50, RESPONDER),         # exactly half: a response
    (10, 6, 50, NON_RESPONDER),
    (10, 8, 20, RESPONDER),         # exactly 20%
    (11, 9, 20, NON_RESPONDER),     # 18%
    (12, 0, 100, RESPONDER),
    (12, 1, 100, NON_RESPONDER),
])
def test_clasi_code_at_its_edges(base, current, k, expected):
    clasi = np.array([base, current, current], dtype=np.int16)
    assert clasi_code(clasi, 3, 3, 1, k, 10.0) == expected


def test_clasi_code_off_study_is_a_non_responder_and_zero_baseline_is_out():
    clasi = np.array([20, 0, 0], dtype=np.int16)
    assert clasi_code(clasi, 1, 3, 1, 50, 10.0) == NON_RESPONDER  # dropped out at visit 1
    assert clasi_code(clasi, 3, 1, 2, 50, 10.0) == NON_RESPONDER  # treatment failure
    assert clasi_code(clasi, 3, 3, 2, 50, 10.0) == RESPONDER
    zero = np.zeros(3, dtype=np.int16)
    assert clasi_code(zero, 3, 3, 2, 50, 1.0) == NOT_EVALUABLE


def test_off_study_patients_are_never_clasi_responders():
    sc = scenario()
    seen = 0
    for trial in trials(sc, 2):
        for v in (6, 13):
            off = ~trial.on_study(v)
            seen += int((off & (trial.clasi[:, 0] >= 10)).sum())
            for name in ("clasi20", "clasi50", "clasi100"):
                assert not ENDPOINTS[name](trial, v)[off].any(), name
    assert seen > 20, seen  # the check met evaluable patients off study


def test_the_compiled_trial_equals_the_python_api():
    sc = scenario()
    res = run_chunk(sc, 0, 3)
    plan = _plan(sc)
    for r, trial in enumerate(trials(sc, 3)):
        for t, (name, week) in enumerate(plan.targets):
            v = week // sc.design.visit_interval_weeks
            flags, ev = ENDPOINTS[name](trial, v), EVALUABLE[name](trial, v)
            for a in range(len(plan.arms)):
                m = ev & (trial.arm == a)
                assert res.evaluable[r, t, a] == m.sum(), (name, week)
                assert res.rates[r, t, a] == pytest.approx(flags[m].mean(), abs=1e-12)
            if name.startswith("clasi"):
                base = trial.clasi[:, 0]
                np.testing.assert_array_equal(ev, base >= sc.analysis.clasi_min_baseline)


def test_asking_for_clasi_changes_nothing_else():
    plain = load_scenario(CONFIGS / "bliss76.yaml",
                          {**SMALL, "analysis.endpoints": ["sri4", "bicla"]})
    both = scenario()
    a, b = run_chunk(plain, 0, 4), run_chunk(both, 0, 4)
    keep = [0, 1, 5, 6]  # sri4, bicla at weeks 24 and 52 among b's ten targets
    assert [_plan(both).targets[t] for t in keep] == _plan(plain).targets
    np.testing.assert_array_equal(a.analysis, b.analysis[:, keep])
    np.testing.assert_array_equal(a.rates, b.rates[:, keep])
    np.testing.assert_array_equal(a.evaluable, b.evaluable[:, keep])
    for name in ChunkResult.__annotations__:
        if name in ("analysis", "rates", "evaluable", "calendar", "interim_looks",
                    "interim_calendar"):
            continue
        if name in ("change_mean", "ancova"):  # the CLASI-A change follows SLEDAI's
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name)[:, :2])
            continue
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_clasi_is_the_same_whatever_the_chunks():
    sc = scenario()
    whole = run_chunk(sc, 0, 4)
    parts = ChunkResult.concat([run_chunk(sc, 0, 1), run_chunk(sc, 1, 4)])
    np.testing.assert_array_equal(whole.rates, parts.rates)
    np.testing.assert_array_equal(whole.analysis, parts.analysis)


def _drug_minus_placebo_week52(sc, replicates, subtype=None):
    """Mean CLASI-A at week 52, 10 mg/kg minus placebo, among the patients with an active
    rash at baseline and at week 52 (the intensity of a persisting rash), with its SE."""
    diffs = {0: [], 2: []}
    for trial in trials(sc, replicates):
        v = 52 // sc.design.visit_interval_weeks
        bits = trial.course.skin_bits
        keep = ((bits[:, 0] & BIT_RASH) != 0) & ((bits[:, v] & BIT_RASH) != 0)
        for a in diffs:
            diffs[a].append(trial.clasi[keep & (trial.arm == a), v].astype(float))
    x, y = np.concatenate(diffs[2]), np.concatenate(diffs[0])
    return x.mean() - y.mean(), np.sqrt(x.var() / len(x) + y.var() / len(y))


def test_the_drug_lowers_a_persisting_rash():
    diff, se = _drug_minus_placebo_week52(
        scenario(**{"drug.emax": 2.0, "design.sample_size": 600,
                    "skin.subtypes": {"acle": 1.0, "scle": 0.0, "dcle": 0.0}}), 4)
    assert diff + 3.5 * se < 0, (diff, se)


def test_a_less_sensitive_subtype_keeps_higher_clasi_on_drug_only():
    """Common random numbers: only ACLE's drug sensitivity differs (1 vs 0.4), so placebo
    patients score the same and no patient on drug scores lower (the unfelt part of the
    drug's effect raises the latent activity)."""
    base = {"skin.subtypes": {"acle": 1.0, "scle": 0.0, "dcle": 0.0}, "drug.emax": 2.0}
    full = trials(scenario(**base), 2)
    less = trials(scenario(**base, **{"skin.model.subtypes.acle.drug_sensitivity": 0.4}), 2)
    raised = 0
    for f, g in zip(full, less, strict=True):
        np.testing.assert_array_equal(f.course.skin_bits, g.course.skin_bits)
        placebo = f.arm == 0
        np.testing.assert_array_equal(f.clasi[placebo], g.clasi[placebo])
        assert (g.clasi[~placebo] >= f.clasi[~placebo]).all()
        raised += int((g.clasi[~placebo] > f.clasi[~placebo]).sum())
    assert raised > 100, raised


def test_without_drug_coupling_a_persisting_rash_does_not_respond():
    diff, se = _drug_minus_placebo_week52(
        scenario(**{"drug.emax": 2.0, "design.sample_size": 600, "skin.drug_coupling": 0.0}), 4)
    assert abs(diff) < 3.5 * se, (diff, se)


def _rash_clasi(trial, v):
    on = (trial.course.skin_bits[:, v] & BIT_RASH) != 0
    return trial.clasi[on, v].astype(float)


def test_with_coupling_the_lesions_follow_the_global_activity():
    """Common random numbers: coupling 1 against the shipped 0 on the same patients. Under
    placebo the global activity falls after screening (regression to the mean, background
    therapy): with coupling an active rash scores lower at week 12 and week 52."""
    flat = trials(scenario(), 3)
    coupled = trials(scenario(**{"skin.coupling": 1.0}), 3)
    for v in (3, 13):
        x = np.concatenate([_rash_clasi(t, v) for t in coupled])
        y = np.concatenate([_rash_clasi(t, v) for t in flat])
        z = (x.mean() - y.mean()) / np.sqrt(x.var() / len(x) + y.var() / len(y))
        assert z < -4, (v, x.mean(), y.mean())
        g = np.concatenate([t.course.global_activity[:, v] - t.course.global_activity[:, 0]
                            for t in flat])
        assert g.mean() < -0.3


def test_the_global_activity_is_lower_on_drug():
    """The course's recorded global activity holds the drug's shift: 10 mg/kg minus placebo,
    its change to week 52 is about minus the drug effect."""
    t = trials(scenario(**{"drug.emax": 2.0}), 2)
    diff, drug = [], []
    for trial in t:
        c = trial.course
        change = c.global_activity[:, 13] - c.global_activity[:, 0]
        diff.append(change[trial.arm == 2].mean() - change[trial.arm == 0].mean())
        drug.append(c.drug_effect[trial.arm == 2, 13].mean())
    assert np.mean(diff) < -0.6 * np.mean(drug), (diff, drug)


def _pooled_clasi50_z(sc, replicates):
    """Pooled CLASI-50 at week 52, 10 mg/kg minus placebo, over the evaluable patients of
    ``replicates`` trials, as a z statistic."""
    res = run_chunk(sc, 0, replicates)
    t = _plan(sc).targets.index(("clasi50", 52))
    ev = res.evaluable[:, t].sum(0)
    rate = (res.rates[:, t] * res.evaluable[:, t]).sum(0) / ev
    diff = rate[2] - rate[0]
    return diff / np.sqrt(rate[2] * (1 - rate[2]) / ev[2] + rate[0] * (1 - rate[0]) / ev[0])


def test_more_drug_more_clasi50():
    none = _pooled_clasi50_z(scenario(**{"drug.emax": 0.0, "drug.stabilization": 0.0}), 10)
    strong = _pooled_clasi50_z(scenario(**{"drug.emax": 2.0}), 10)
    assert abs(none) < 3.5, none
    assert strong > 4.0, strong


def test_type_one_error_of_clasi50_without_a_drug_effect():
    sc = scenario(**{"drug.emax": 0.0, "drug.stabilization": 0.0, "design.sample_size": 400,
                     "analysis.subgroups.factors": []})
    res = run_chunk(sc, 0, 600)
    t = _plan(sc).targets.index(("clasi50", 52))
    p = res.analysis[:, t, 1, 3]  # bel10 vs placebo, p value
    rate = np.mean(p < 0.05)
    assert abs(rate - 0.05) < 3.5 * np.sqrt(0.05 * 0.95 / len(p)), rate


def test_a_clasi_endpoint_without_the_skin_block_is_refused():
    with pytest.raises(ScenarioError, match="skin block"):
        load_scenario(CONFIGS / "bliss76.yaml", {**WITH_CLASI, "skin": None})


def test_a_non_rash_subtype_in_the_trial_is_refused():
    with pytest.raises(ScenarioError, match=r"skin\.subtypes"):
        load_scenario(CONFIGS / "bliss76.yaml", {"skin.subtypes.nonspecific": 0.2})


def test_a_rash_subtype_share_set_alone_rescales_the_others():
    sc = load_scenario(CONFIGS / "bliss76.yaml", {"skin.subtypes.scle": 0.5})
    assert sc.skin.subtypes["scle"] == 0.5
    assert sum(sc.skin.subtypes.values()) == pytest.approx(1.0)


def test_the_skin_model_comes_from_skin_yaml(tmp_path):
    sc = load_scenario(CONFIGS / "bliss76.yaml")
    assert sc.skin.model.subtypes["dcle"].scale_shift == 0.5  # configs/skin.yaml
    bad = tmp_path / "s.yaml"
    bad.write_text(f"extends: {CONFIGS / 'bliss76.yaml'}\nskin:\n  model_from: nowhere.yaml\n")
    with pytest.raises(ScenarioError, match="nowhere.yaml"):
        load_scenario(bad)
