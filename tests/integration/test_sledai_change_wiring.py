"""The compiled trial's ANCOVA of the change in SELENA-SLEDAI equals statsmodels OLS on the
same replicates' patients (``ReplicatePatients``), with the change by last observation
carried forward written out here; the summary and the per-trial table report it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm

from trialsim.analysis.ancova import ANCOVA_FIELDS
from trialsim.config.scenario import load_scenario
from trialsim.model.randomization import strata_indicators
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk
from trialsim.summarize.reduce import trial_table
from trialsim.summarize.tables import summarize

BLISS76 = Path(__file__).resolve().parents[2] / "configs" / "bliss76.yaml"
A = {name: i for i, name in enumerate(ANCOVA_FIELDS)}
R = 3


@pytest.fixture(scope="module", params=[True, False], ids=["strata", "no_strata"])
def run(request):
    sc = load_scenario(BLISS76, {
        "design.sample_size": 450,
        "analysis.endpoints": ["sri4"],
        "analysis.subgroups.factors": [],
        "analysis.adjust_for_strata": request.param,
    })
    return sc, Plan(sc), run_chunk(sc, 0, R)


def locf(trial, week):
    """Change from baseline at ``week`` from the last visit on study (4-weekly visits)."""
    c = trial.course
    last = np.minimum.reduce([np.full(c.sledai.shape[0], week // 4), c.dropout_visit - 1,
                              c.failure_visit - 1]).clip(0)
    return c.sledai[np.arange(len(last)), last].astype(float) - c.sledai[:, 0]


def test_ancova_equals_statsmodels_ols(run):
    sc, plan, res = run
    patients = ReplicatePatients(sc)
    assert plan.change_weeks == [52, 76]
    for r in range(R):
        trial = patients(r)
        x = strata_indicators(trial.cohort, sc.design)[0].astype(float)
        base = trial.cohort.sledai.astype(float)
        for w, week in enumerate(plan.change_weeks):
            y_all = locf(trial, week)
            for a in range(len(plan.arms)):
                assert res.change_mean[r, w, a] == pytest.approx(
                    y_all[trial.arm == a].mean(), rel=1e-12)
            for c, (t, ctl) in enumerate(plan.pairs):
                sel = (trial.arm == t) | (trial.arm == ctl)
                cols = [np.ones(sel.sum()), (trial.arm[sel] == t).astype(float), base[sel]]
                if sc.analysis.adjust_for_strata:
                    cols += [x[sel, j] for j in range(x.shape[1]) if np.ptp(x[sel, j]) > 0]
                fit = sm.OLS(y_all[sel], np.column_stack(cols)).fit()
                got = res.ancova[r, w, c]
                assert got[A["difference"]] == pytest.approx(fit.params[1], rel=1e-8)
                assert got[A["se"]] == pytest.approx(fit.bse[1], rel=1e-8)
                assert got[A["p_value"]] == pytest.approx(fit.pvalues[1], rel=1e-8)
                lo, hi = fit.conf_int(sc.analysis.alpha)[1]
                assert got[A["ci_low"]] == pytest.approx(lo, rel=1e-8)
                assert got[A["ci_high"]] == pytest.approx(hi, rel=1e-8)


def test_summary_and_trial_table_report_it(run):
    sc, plan, res = run
    s = summarize(plan, res)
    rows = s[s.endpoint == "sledai_change"]
    n_a, n_c = len(plan.arms), len(plan.comparisons)
    per_week = n_a + 6 * n_c
    assert len(rows) == per_week * len(plan.change_weeks)
    diff = rows[(rows.statistic == "difference_mean") & (rows.week == 76)]
    np.testing.assert_allclose(diff.value, res.ancova[:, 1, :, A["difference"]].mean(axis=0))
    power = rows[rows.statistic == "power"].value.to_numpy()
    want = (res.ancova[..., A["p_value"]] < sc.analysis.alpha).mean(axis=0).ravel()
    np.testing.assert_allclose(power, want)
    table = trial_table(plan, res)
    col = f"difference.sledai_change.w52.{plan.comparisons[1]}"
    np.testing.assert_array_equal(table[col], res.ancova[:, 0, 1, A["difference"]])
    assert f"mean_change.sledai_change.w76.{plan.arms[0]}" in table


def test_the_switch_turns_it_off():
    sc = load_scenario(BLISS76, {"design.sample_size": 150, "analysis.endpoints": ["sri4"],
                                 "analysis.subgroups.factors": [],
                                 "analysis.sledai_change": False})
    plan = Plan(sc)
    res = run_chunk(sc, 0, 1)
    assert res.ancova.shape[1] == 0 and plan.change_weeks == []
    assert "sledai_change" not in set(summarize(plan, res).endpoint)
