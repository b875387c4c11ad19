"""The compiled trial's subgroup statistics agree with a direct pandas / statsmodels
computation on the same replicates' patient-level data (``ReplicatePatients``), and the run
reports them: summary rows with ``subgroup`` and ``level``, forest plots, and whole-trial
results that do not change when subgroups are analysed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.analysis.endpoints import ENDPOINTS
from trialsim.analysis.subgroups import INTERACTION_FIELDS, cohort_covariates
from trialsim.config.scenario import load_scenario
from trialsim.model.protocol import visit_of_week
from trialsim.model.randomization import strata_indicators
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk
from trialsim.summarize.tables import summarize, whole_trial

CUSTOM = {"active_sero": "sledai >= 10 and serologically_active"}
F = {name: i for i, name in enumerate(RESULT_FIELDS)}


BLISS76 = Path(__file__).resolve().parents[2] / "configs" / "bliss76.yaml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(BLISS76, {"analysis.subgroups.custom": CUSTOM,
                                   "analysis.subgroups.endpoints": ["sri4", "sri6"]})


def _rank_columns(cols: list[np.ndarray]) -> list[int]:
    """Columns kept left to right while each adds to the rank (intercept, treatment first),
    as the compiled fit's ``drop_constant_columns``."""
    keep: list[int] = []
    for j, c in enumerate(cols):
        trial = np.column_stack([cols[k] for k in keep] + [c])
        if j < 2 or np.linalg.matrix_rank(trial) > len(keep):
            keep.append(j)
    return keep


def _separated(y: np.ndarray, x: np.ndarray) -> bool:
    """A stratum column level whose patients all respond or all do not (the compiled fit
    then sets them aside, statsmodels would not converge)."""
    for j in range(x.shape[1]):
        for level in (0.0, 1.0):
            m = x[:, j] == level
            if 0 < m.sum() < len(y) and y[m].min() == y[m].max():
                return True
    return False


def test_subgroup_results_match_statsmodels_patient_by_patient(scenario):
    import statsmodels.api as sm

    plan = Plan(scenario)
    sg = plan.subgroups
    res = run_chunk(scenario, 0, 3)
    patients = ReplicatePatients(scenario)
    des = scenario.design
    checked_or = checked_int = 0
    for r in range(3):
        trial = patients(r)
        x = strata_indicators(trial.cohort, des)[0].astype(float)
        cov = pd.DataFrame(cohort_covariates(trial.cohort))
        members = {
            ("serologically_active", "yes"): trial.cohort.serologically_active,
            ("black", "black"): trial.cohort.race == 1,
            ("sledai", "ge10"): trial.cohort.sledai >= 10,
            ("disease_duration", "gt5y"): trial.cohort.disease_duration > 5,
            ("active_sero", "yes"): (trial.cohort.sledai >= 10)
            & trial.cohort.serologically_active,
        }
        assert cov.shape[0] == len(trial.cohort)
        for s, (endpoint, week) in enumerate(plan.subgroup_targets):
            y_all = ENDPOINTS[endpoint](trial, visit_of_week(week, des.visit_interval_weeks))
            for (factor, level), m in members.items():
                lv = sg.levels.index((factor, level))
                for a in range(len(plan.arms)):
                    in_arm = m & (trial.arm == a)
                    assert res.subgroup_n[r, lv, a] == in_arm.sum()
                    assert res.subgroup_rates[r, lv, s, a] == pytest.approx(
                        y_all[in_arm].mean())
                for c, (t, ctl) in enumerate(plan.pairs):
                    sel = m & ((trial.arm == t) | (trial.arm == ctl))
                    y = y_all[sel].astype(float)
                    treated = (trial.arm[sel] == t).astype(float)
                    got = res.subgroup_analysis[r, lv, s, c]
                    assert got[F["n_treated"]] == treated.sum()
                    assert got[F["risk_difference"]] == pytest.approx(
                        y[treated == 1].mean() - y[treated == 0].mean())
                    if _separated(y, x[sel]) or y.min() == y.max():
                        continue
                    cols = [np.ones(sel.sum()), treated] + [x[sel, j] for j in range(x.shape[1])]
                    keep = _rank_columns(cols)
                    fit = sm.Logit(y, np.column_stack([cols[k] for k in keep])).fit(
                        disp=0, tol=1e-12, maxiter=200)
                    assert got[F["log_or"]] == pytest.approx(fit.params[1], rel=1e-6, abs=1e-9)
                    assert got[F["se"]] == pytest.approx(fit.bse[1], rel=1e-5)
                    checked_or += 1
            # interaction: the black factor (two levels) and the custom one
            for factor, level_of in (
                ("black", lambda c: np.where(c.race == 1, 0, 1)),
                ("active_sero", lambda c: np.where((c.sledai >= 10) & c.serologically_active,
                                                   0, 1)),
            ):
                f = sg.factors.index(factor)
                code = level_of(trial.cohort)
                for c, (t, ctl) in enumerate(plan.pairs):
                    sel = (trial.arm == t) | (trial.arm == ctl)
                    y = y_all[sel].astype(float)
                    treated = (trial.arm[sel] == t).astype(float)
                    d = (code[sel] == 1).astype(float)
                    cols = [np.ones(sel.sum()), treated, d, treated * d]
                    cols += [x[sel, j] for j in range(x.shape[1])]
                    keep = _rank_columns(cols)
                    fit = sm.Logit(y, np.column_stack([cols[k] for k in keep])).fit(
                        disp=0, tol=1e-12, maxiter=200)
                    z = fit.params[keep.index(3)] / fit.bse[keep.index(3)]
                    got = res.interaction[r, f, s, c]
                    assert got[INTERACTION_FIELDS.index("chi2")] == pytest.approx(z * z,
                                                                                   rel=1e-5)
                    assert got[INTERACTION_FIELDS.index("df")] == 1
                    checked_int += 1
    assert checked_or >= 40 and checked_int == 3 * len(plan.subgroup_targets) * 2 * 2


def test_whole_trial_results_do_not_depend_on_the_subgroup_analyses(scenario):
    off = load_scenario(BLISS76, {"analysis.subgroups.factors": [],
                                                 "analysis.subgroups.custom": {}})
    on_res, off_res = run_chunk(scenario, 0, 4), run_chunk(off, 0, 4)
    for name in ("analysis", "rates", "flare_analysis", "baseline", "screened"):
        np.testing.assert_array_equal(getattr(on_res, name), getattr(off_res, name))
    assert off_res.subgroup_analysis.shape[1] == 0 and off_res.interaction.shape[1] == 0
    s_on = whole_trial(summarize(Plan(scenario), on_res))
    s_off = summarize(Plan(off), off_res)
    assert len(s_off) == len(s_on)
    np.testing.assert_array_equal(s_on.value.to_numpy(), s_off.value.to_numpy())


def test_summary_reports_every_level_and_counts_an_empty_one(scenario):
    plan = Plan(scenario)
    s = summarize(plan, run_chunk(scenario, 0, 6))
    sub = s[s.subgroup != ""]
    assert set(sub.subgroup) == {*scenario.analysis.subgroups.factors, "active_sero"}
    # race "other" has no patients in BLISS-76 (seed 000 Table 4): not analysable, no crash
    other = sub[(sub.subgroup == "race") & (sub.level == "other")]
    assert (other[other.statistic == "patients"].value == 0).all()
    assert (other[other.statistic == "analyzable"].value == 0).all()
    assert (other[other.statistic == "power"].value == 0).all()
    inter = sub[(sub.statistic == "interaction_analyzable") & (sub.subgroup == "race")]
    # a model with a sparse level (8 Asian patients per arm) may not converge on SRI-6, a
    # rarer response: counted as not analysable in that trial
    assert (inter[(inter.endpoint == "sri4") & (inter.week == 52)].value == 1).all()
    assert (inter.value > 0.5).all()
    levels = sub[sub.statistic == "patients"].groupby(["endpoint", "week", "subgroup", "level"])
    assert levels.ngroups == len(plan.subgroups.levels) * len(plan.subgroup_targets)


def test_responder_profile_matches_the_patients(scenario):
    """responder_profile.csv's pooled means are the patients' own (ReplicatePatients), by
    primary-endpoint response, per arm and over all arms."""
    from trialsim.analysis.baseline import BASELINE_NAMES, baseline_columns
    from trialsim.summarize.tables import profile_table

    plan = Plan(scenario)
    r = 3
    prof = profile_table(plan, run_chunk(scenario, 0, r)).set_index(
        ["characteristic", "arm", "responder"])
    endpoint, week = plan.targets[0]
    assert (endpoint, week) == ("sri4", 52)
    values, responded, arms = [], [], []
    patients = ReplicatePatients(scenario)
    for k in range(r):
        trial = patients(k)
        values.append(baseline_columns(trial.cohort))
        responded.append(ENDPOINTS[endpoint](trial, visit_of_week(week, 4)))
        arms.append(trial.arm)
    values, responded, arms = map(np.concatenate, (values, responded, arms))
    for name in ("prednisone_gt_7_5mg", "disease_duration_years", "anti_dsdna_and_low_c3_or_c4",
                 "sledai"):
        j = BASELINE_NAMES.index(name)
        scale = 100.0 if name not in ("disease_duration_years", "sledai") else 1.0
        for a, arm in enumerate([*plan.arms, "all"]):
            in_arm = np.ones(len(arms), bool) if arm == "all" else arms == a
            yes = values[in_arm & responded, j].mean() * scale
            no = values[in_arm & ~responded, j].mean() * scale
            assert prof.loc[(name, arm, "yes"), "value"] == pytest.approx(yes, rel=1e-12)
            assert prof.loc[(name, arm, "no"), "value"] == pytest.approx(no, rel=1e-12)
            assert prof.loc[(name, arm, "difference"), "value"] == pytest.approx(yes - no,
                                                                                rel=1e-9)
    n_yes = prof.loc[("n_per_trial", "all", "yes"), "value"]
    assert n_yes == pytest.approx(responded.sum() / r)


def test_time_to_first_severe_flare_is_the_survival_analysis_of_severe_flares(scenario):
    """The compiled trial's severe-flare Cox/log-rank results are ``compare_survival`` of the
    patients' first severe flares (``first_flare_visit(severe=True)``), replicate by
    replicate; the summary reports them under ``time_to_first_severe_flare``."""
    from trialsim.analysis.endpoints import first_flare_visit
    from trialsim.analysis.survival import compare_survival

    plan = Plan(scenario)
    res = run_chunk(scenario, 0, 2)
    patients = ReplicatePatients(scenario)
    days_per_visit = 7.0 * scenario.design.visit_interval_weeks
    for r in range(2):
        trial = patients(r)
        visit, observed = first_flare_visit(trial.course, severe=True)
        want = compare_survival(visit * days_per_visit, observed, trial.arm, plan.pairs)
        np.testing.assert_array_equal(res.severe_flare_analysis[r], want)
        mild, _ = first_flare_visit(trial.course)
        assert (visit >= mild).all()  # a first severe flare is never before the first flare
    s = whole_trial(summarize(plan, res))
    sel = s[(s.endpoint == "time_to_first_severe_flare") & (s.statistic == "hazard_ratio_median")]
    assert list(sel.comparison) == plan.comparisons
