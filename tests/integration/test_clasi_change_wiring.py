"""The compiled trial's ANCOVA of the change in CLASI-A (docs/model.md §7a) equals
statsmodels OLS on the same replicates' patients with baseline CLASI-A at the endpoints'
threshold (``ReplicatePatients``), the LOCF change written out here; the summary and the
per-trial table report it, after the SELENA-SLEDAI change."""

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
BASE = {"design.sample_size": 450, "analysis.endpoints": ["sri4", "clasi50"],
        "analysis.subgroups.factors": []}


@pytest.fixture(scope="module", params=[True, False], ids=["strata", "no_strata"])
def run(request):
    sc = load_scenario(BLISS76, {**BASE, "analysis.adjust_for_strata": request.param})
    return sc, Plan(sc), run_chunk(sc, 0, R)


def locf(trial, week):
    """CLASI-A change from baseline at ``week`` from the last visit on study (4-weekly)."""
    c = trial.course
    last = np.minimum.reduce([np.full(c.sledai.shape[0], week // 4), c.dropout_visit - 1,
                              c.failure_visit - 1]).clip(0)
    return trial.clasi[np.arange(len(last)), last].astype(float) - trial.clasi[:, 0]


def test_clasi_ancova_equals_statsmodels_ols(run):
    sc, plan, res = run
    assert plan.change_targets == [("sledai_change", 52), ("sledai_change", 76),
                                   ("clasi_change", 52), ("clasi_change", 76)]
    patients = ReplicatePatients(sc)
    for r in range(R):
        trial = patients(r)
        ev = trial.clasi[:, 0] >= sc.analysis.clasi_min_baseline
        assert 40 < ev.sum() < 300
        x = strata_indicators(trial.cohort, sc.design)[0].astype(float)[ev]
        base = trial.clasi[ev, 0].astype(float)
        arm = trial.arm[ev]
        for w, week in enumerate((52, 76)):
            t = 2 + w
            y_all = locf(trial, week)[ev]
            for a in range(len(plan.arms)):
                assert res.change_mean[r, t, a] == pytest.approx(y_all[arm == a].mean(),
                                                                 rel=1e-12)
            for c, (trt, ctl) in enumerate(plan.pairs):
                sel = (arm == trt) | (arm == ctl)
                cols = [np.ones(sel.sum()), (arm[sel] == trt).astype(float), base[sel]]
                if sc.analysis.adjust_for_strata:
                    cols += [x[sel, j] for j in range(x.shape[1]) if np.ptp(x[sel, j]) > 0]
                fit = sm.OLS(y_all[sel], np.column_stack(cols)).fit()
                got = res.ancova[r, t, c]
                assert got[A["n_treated"]] + got[A["n_control"]] == sel.sum()
                assert got[A["difference"]] == pytest.approx(fit.params[1], rel=1e-8)
                assert got[A["se"]] == pytest.approx(fit.bse[1], rel=1e-8)
                assert got[A["p_value"]] == pytest.approx(fit.pvalues[1], rel=1e-8)


def test_summary_and_trial_table_report_it(run):
    sc, plan, res = run
    s = summarize(plan, res)
    rows = s[s.endpoint == "clasi_change"]
    n_a, n_c = len(plan.arms), len(plan.comparisons)
    assert len(rows) == (n_a + 6 * n_c) * 2
    diff = rows[(rows.statistic == "difference_mean") & (rows.week == 76)]
    np.testing.assert_allclose(diff.value, res.ancova[:, 3, :, A["difference"]].mean(axis=0))
    table = trial_table(plan, res)
    col = f"difference.clasi_change.w52.{plan.comparisons[1]}"
    np.testing.assert_array_equal(table[col], res.ancova[:, 2, 1, A["difference"]])
    assert f"mean_change.clasi_change.w76.{plan.arms[0]}" in table
    assert len(s[s.endpoint == "sledai_change"]) == (n_a + 6 * n_c) * 2


@pytest.mark.parametrize("over", [{"analysis.clasi_change": False},
                                  {"analysis.endpoints": ["sri4"]}])
def test_off_without_the_switch_or_a_clasi_endpoint(over):
    sc = load_scenario(BLISS76, {**BASE, "design.sample_size": 150, **over})
    plan = Plan(sc)
    res = run_chunk(sc, 0, 1)
    assert [n for n, _ in plan.change_targets] == ["sledai_change"] * 2
    assert res.ancova.shape[1] == 2
    assert "clasi_change" not in set(summarize(plan, res).endpoint)
