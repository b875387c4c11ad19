"""The steroid-sparing endpoint in the compiled trial, against a direct pandas computation on
the same replicates' patients (``ReplicatePatients``) and statsmodels: the rates and
denominators are over the patients on > 7.5 mg/day prednisone at baseline only, and so are
the logistic comparison, the subgroup rates and the responder profile; the other endpoints
are untouched by it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.config.scenario import load_scenario
from trialsim.model.randomization import strata_indicators
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk
from trialsim.summarize.tables import summarize, whole_trial

BLISS52 = Path(__file__).resolve().parents[2] / "configs" / "bliss52.yaml"
F = {name: i for i, name in enumerate(RESULT_FIELDS)}
R = 3


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(BLISS52, {
        "design.sample_size": 450,
        "analysis.endpoints": ["steroid_sparing", "sri4"],
        "analysis.subgroups.factors": ["serologically_active", "prednisone"],
        "analysis.subgroups.endpoints": ["steroid_sparing"],
    })


@pytest.fixture(scope="module")
def run(scenario):
    return Plan(scenario), run_chunk(scenario, 0, R)


def patient_frame(trial, week: int) -> pd.DataFrame:
    """Steroid sparing at ``week`` written out from the patients' prednisone (4-weekly
    visits: the window is weeks ``week - 12`` ... ``week``)."""
    pred = trial.course.prednisone
    v = week // 4
    base = pred[:, 0]
    window = pred[:, v - 3:v + 1]
    on_study = (trial.course.dropout_visit > v) & (trial.course.failure_visit > v)
    spared = on_study & (window <= 7.5).all(axis=1) & (window <= 0.75 * base[:, None]).all(
        axis=1)
    return pd.DataFrame({"arm": trial.arm, "evaluable": base > 7.5,
                         "response": spared.astype(float)})


def test_rates_and_denominators_equal_pandas(scenario, run):
    plan, res = run
    patients = ReplicatePatients(scenario)
    t = plan.targets.index(("steroid_sparing", 52))
    for r in range(R):
        df = patient_frame(patients(r), 52)
        ev = df[df.evaluable]
        want = ev.groupby("arm").response.mean().reindex(range(len(plan.arms)))
        np.testing.assert_allclose(res.rates[r, t], want.to_numpy(), rtol=1e-12)
        n = ev.groupby("arm").size().reindex(range(len(plan.arms)))
        np.testing.assert_array_equal(res.evaluable[r, t], n.to_numpy())
        assert (res.evaluable[r, t] < res.arm_n[r]).all()
        assert 0.02 < ev.response.mean() < 0.6  # some responders, some not
        # sri4 counts every patient
        np.testing.assert_array_equal(res.evaluable[r, plan.targets.index(("sri4", 52))],
                                      res.arm_n[r])


def test_logistic_comparison_is_statsmodels_on_the_evaluable_patients(scenario, run):
    import statsmodels.api as sm

    plan, res = run
    patients = ReplicatePatients(scenario)
    t = plan.targets.index(("steroid_sparing", 52))
    checked = 0
    for r in range(R):
        trial = patients(r)
        df = patient_frame(trial, 52)
        x = strata_indicators(trial.cohort, scenario.design)[0].astype(float)
        for c, (trt, ctl) in enumerate(plan.pairs):
            sel = df.evaluable.to_numpy() & np.isin(trial.arm, [trt, ctl])
            y = df.response.to_numpy()[sel]
            treated = (trial.arm[sel] == trt).astype(float)
            got = res.analysis[r, t, c]
            assert got[F["n_treated"]] == treated.sum()
            assert got[F["n_control"]] == (1 - treated).sum()
            assert got[F["rate_treated"]] == pytest.approx(y[treated == 1].mean(), rel=1e-12)
            cols = [np.ones(sel.sum()), treated]
            for j in range(x.shape[1]):
                col = x[sel, j]
                if col.min() == col.max():
                    continue
                assert all(y[col == lv].min() < y[col == lv].max() for lv in (0.0, 1.0))
                cols.append(col)
            fit = sm.Logit(y, np.column_stack(cols)).fit(disp=0, tol=1e-12, maxiter=100)
            assert got[F["log_or"]] == pytest.approx(fit.params[1], rel=1e-6, abs=1e-9)
            assert got[F["se"]] == pytest.approx(fit.bse[1], rel=1e-6)
            assert got[F["odds_ratio"]] == pytest.approx(np.exp(fit.params[1]), rel=1e-6)
            checked += 1
    assert checked == R * len(plan.pairs)


def test_subgroups_and_profile_use_the_evaluable_patients(scenario, run):
    plan, res = run
    patients = ReplicatePatients(scenario)
    sg = plan.subgroups
    low = sg.levels.index(("prednisone", "le7.5mg"))
    high = sg.levels.index(("prednisone", "gt7.5mg"))
    sero = sg.levels.index(("serologically_active", "yes"))
    for r in range(R):
        trial = patients(r)
        df = patient_frame(trial, 52)
        # nobody on <= 7.5 mg/day is evaluable: rates nan, the comparison not analysable
        assert np.isnan(res.subgroup_rates[r, low, 0]).all()
        assert (res.subgroup_analysis[r, low, 0, :, F["converged"]] == 0).all()
        assert (res.subgroup_n[r, low] > 0).all()  # the level's patients are still counted
        high_rates = res.subgroup_rates[r, high, 0]
        np.testing.assert_allclose(high_rates, res.rates[r, 0], rtol=1e-12)
        yes = df[df.evaluable & trial.cohort.serologically_active]
        want = yes.groupby("arm").response.mean().reindex(range(len(plan.arms)))
        np.testing.assert_allclose(res.subgroup_rates[r, sero, 0], want, rtol=1e-12)
        # the prednisone factor has one level with evaluable patients: no interaction test
        f = sg.factors.index("prednisone")
        assert np.isnan(res.interaction[r, f, 0, :, 2]).all()
        _check_interaction(res.interaction[r, sg.factors.index("serologically_active"), 0],
                           trial, df, plan, scenario)
        # responder profile of the primary (steroid sparing): evaluable patients only
        groups = res.profile[r, :, 0, 0]  # patient counts of (responded, arm) groups
        n_arms = len(plan.arms)
        ev = df[df.evaluable]
        for a in range(n_arms):
            assert groups[a] == ((ev.arm == a) & (ev.response == 0)).sum()
            assert groups[n_arms + a] == ((ev.arm == a) & (ev.response == 1)).sum()


def _check_interaction(got, trial, df, plan, scenario):
    """Treatment x serologically active on the evaluable patients: statsmodels' Wald z² of
    the product term (strata constant among them dropped)."""
    import statsmodels.api as sm

    x = strata_indicators(trial.cohort, scenario.design)[0].astype(float)
    d_all = (~trial.cohort.serologically_active).astype(float)  # level "no" is level 1
    for c, (trt, ctl) in enumerate(plan.pairs):
        sel = df.evaluable.to_numpy() & np.isin(trial.arm, [trt, ctl])
        y = df.response.to_numpy()[sel]
        treated = (trial.arm[sel] == trt).astype(float)
        d = d_all[sel]
        cols = [np.ones(sel.sum()), treated, d, treated * d]
        cols += [x[sel, j] for j in range(x.shape[1]) if x[sel, j].min() < x[sel, j].max()]
        fit = sm.Logit(y, np.column_stack(cols)).fit(disp=0, tol=1e-12, maxiter=200)
        z = fit.params[3] / fit.bse[3]
        assert got[c, 0] == pytest.approx(z * z, rel=1e-5)
        assert got[c, 1] == 1


def test_summary_reports_the_evaluable_patients(scenario, run):
    plan, res = run
    s = whole_trial(summarize(plan, res))
    ev = s[s.statistic == "evaluable"]
    assert set(ev.endpoint) == {"steroid_sparing"}
    got = ev.set_index("arm").value.reindex(plan.arms).to_numpy()
    t = plan.targets.index(("steroid_sparing", 52))
    np.testing.assert_allclose(got, res.evaluable[:, t].mean(axis=0))


def test_subgroup_summary_reports_the_evaluable_patients(scenario, run):
    """A subgroup level's ``evaluable`` rows count its patients on > 7.5 mg/day at baseline
    (pandas, patient by patient), not all of its patients (``patients``)."""
    plan, res = run
    patients = ReplicatePatients(scenario)
    want = {}
    for r in range(R):
        trial = patients(r)
        df = patient_frame(trial, 52).assign(sero=trial.cohort.serologically_active)
        for level, d in (("yes", df[df.sero]), ("no", df[~df.sero])):
            counts = d[d.evaluable].groupby("arm").size().reindex(range(len(plan.arms)),
                                                                   fill_value=0)
            for a, arm in enumerate(plan.arms):
                want.setdefault((level, arm), []).append(counts[a])
    s = summarize(plan, res)
    rows = s[(s.subgroup == "serologically_active") & (s.endpoint == "steroid_sparing")]
    ev = rows[rows.statistic == "evaluable"].set_index(["level", "arm"]).value
    everyone = rows[rows.statistic == "patients"].set_index(["level", "arm"]).value
    assert len(ev) == 2 * len(plan.arms)
    for key, counts in want.items():
        assert ev[key] == pytest.approx(np.mean(counts), rel=1e-12), key
        assert ev[key] < everyone[key]
    assert not (s[s.endpoint == "sri4"].statistic == "evaluable").any()


def test_other_endpoints_do_not_change_with_steroid_sparing(scenario, run):
    plan, res = run
    only = load_scenario(BLISS52, {
        "design.sample_size": 450, "analysis.endpoints": ["sri4"],
        "analysis.subgroups.factors": ["serologically_active", "prednisone"],
    })
    alone = run_chunk(only, 0, R)
    t = plan.targets.index(("sri4", 52))
    np.testing.assert_array_equal(res.analysis[:, t], alone.analysis[:, 0])
    np.testing.assert_array_equal(res.rates[:, t], alone.rates[:, 0])
