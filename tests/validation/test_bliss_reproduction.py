"""The shipped defaults reproduce BLISS-52 and BLISS-76 (seed 000 Table 3) from ONE model.

Acceptance of the calibration: with enough replicates that Monte Carlo error is small,
every simulated arm-level rate (SRI-4 and each component) lies inside the exact 95% binomial
CI of the published rate at the published arm size; each simulated median odds ratio vs
placebo lies inside the published OR's 95% CI, and so does each median flare hazard ratio;
simulated median times to first flare are within ±20% of the published ones. Issue 9's
shapes: the effect is not sustained in BLISS-76 (10 mg/kg power at week 76 below week 52,
as published: significant at week 52, not at week 76; from the waning half-life's prior)
and the higher dose does at least as well as the lower one at week 52 in both trials
(published ORs 1.83 vs 1.55, 1.52 vs 1.34).
"""

import numpy as np
import pytest

from trialsim.config.published import BLISS_ARMS, BLISS_RESPONSES
from trialsim.experiments.calibration import binomial_ci
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan
from trialsim.summarize.tables import summarize, whole_trial

pytestmark = pytest.mark.acceptance

R = 300
# per arm (events, n) by trial and (endpoint, week): seed 000 Table 3 (one home)
ARMS, RATES = BLISS_ARMS, BLISS_RESPONSES
# endpoint, week -> (bel1 OR CI, bel10 OR CI); seed 000 Table 3
ODDS = {
    "bliss52": {
        ("sri4", 52): ((1.10, 2.19), (1.30, 2.59)),
        ("sledai_reduction_4", 52): ((1.07, 2.14), (1.21, 2.41)),
        ("no_pga_worsening", 52): ((1.15, 2.47), (1.18, 2.55)),
        ("no_new_bilag", 52): ((0.93, 2.04), (1.09, 2.42)),
    },
    "bliss76": {
        ("sri4", 52): ((0.94, 1.91), (1.07, 2.15)),
        ("sledai_reduction_4", 52): ((0.96, 1.93), (1.15, 2.32)),
        ("no_pga_worsening", 52): ((1.11, 2.30), (0.92, 1.90)),
        ("no_new_bilag", 52): ((1.12, 2.37), (0.84, 1.73)),
        ("sri4", 76): ((0.9, 1.9), (0.9, 1.9)),
    },
}
FLARE_DAYS = {"bliss52": (84, 126, 119), "bliss76": (82, 85, 84)}
# flare hazard ratio 95% CIs (bel1, bel10 vs placebo); seed 000 Table 3 (FDA document)
FLARE_HR = {"bliss52": ((0.62, 0.90), (0.63, 0.91)), "bliss76": ((0.74, 1.08), (0.78, 1.13))}


RUNS = {}  # scenario -> (plan, replicates) of the fixture's runs


#: what the acceptance checks (the other endpoints and subgroups would only cost time)
ACCEPTANCE = {"analysis.endpoints": ["sri4", "sledai_reduction_4", "no_pga_worsening",
                                     "no_new_bilag"], "analysis.subgroups.factors": []}


@pytest.fixture(scope="module", params=["bliss52", "bliss76"])
def reproduced(request, bliss52, bliss76):
    from trialsim.config.scenario import with_overrides

    sc = with_overrides({"bliss52": bliss52, "bliss76": bliss76}[request.param], ACCEPTANCE)
    plan = Plan(sc)
    res = simulate(sc, replicates=R, n_jobs=2, progress=False)
    RUNS[request.param] = plan, res
    return request.param, whole_trial(summarize(plan, res))


def _value(s, **kw):
    sel = np.ones(len(s), bool)
    for k, v in kw.items():
        sel &= (s[k] == v).to_numpy()
    assert sel.sum() == 1, kw
    return s[sel].iloc[0]


def test_arm_rates_inside_published_ci(reproduced):
    trial, s = reproduced
    misses = []
    for (endpoint, week), per_arm in RATES[trial].items():
        for arm, (events, n) in zip(ARMS, per_arm, strict=True):
            lo, hi = binomial_ci(events, n)
            v = _value(s, endpoint=endpoint, week=week, arm=arm, statistic="response_rate").value
            if not lo <= v <= hi:
                misses.append(f"{endpoint} w{week} {arm}: {v:.3f} not in [{lo:.3f}, {hi:.3f}]")
    assert not misses, "\n".join(misses)


def test_median_odds_ratios_inside_published_ci(reproduced):
    trial, s = reproduced
    misses = []
    for (endpoint, week), cis in ODDS[trial].items():
        for arm, (lo, hi) in zip(("bel1", "bel10"), cis, strict=True):
            v = _value(s, endpoint=endpoint, week=week, comparison=f"{arm}_vs_placebo",
                       statistic="odds_ratio_median").value
            if not lo <= v <= hi:
                misses.append(f"{endpoint} w{week} {arm}: OR {v:.2f} not in [{lo}, {hi}]")
    assert not misses, "\n".join(misses)


def test_flare_medians_within_20_percent(reproduced):
    trial, s = reproduced
    misses = []
    for arm, days in zip(ARMS, FLARE_DAYS[trial], strict=True):
        v = _value(s, endpoint="time_to_first_flare", arm=arm, statistic="km_median_days").value
        if abs(v - days) > 0.2 * days:
            misses.append(f"{arm}: {v:.0f} days vs published {days}")
    assert not misses, "\n".join(misses)


def test_flare_hazard_ratios_inside_published_ci(reproduced):
    trial, s = reproduced
    misses = []
    for arm, (lo, hi) in zip(("bel1", "bel10"), FLARE_HR[trial], strict=True):
        v = _value(s, endpoint="time_to_first_flare", comparison=f"{arm}_vs_placebo",
                   statistic="hazard_ratio_median").value
        if not lo <= v <= hi:
            misses.append(f"{arm}: HR {v:.2f} not in [{lo}, {hi}]")
    assert not misses, "\n".join(misses)


#: trials of the week-76 test: the decline is a few points of power, so its paired
#: difference needs more trials than the arm-level checks (MCSE about 0.010 here)
R_WEEK76 = 3000


def test_effect_not_sustained_to_week_76(bliss76):
    """BLISS-76's 10 mg/kg power (significant and favouring the drug) at week 76 is below
    week 52 (published: significant at week 52, not at week 76), by more than twice the MCSE
    of the paired difference (the same trials at both weeks). At the fit the decline is
    small: power 0.63-0.65 at week 52, 4-5 points less at week 76 (the drug arm falls
    as published, the placebo arm more than published; README, calibration status)."""
    from trialsim.analysis.comparisons import RESULT_FIELDS
    from trialsim.config.scenario import with_overrides

    sc = with_overrides(bliss76, {"analysis.subgroups.factors": [],
                                  "analysis.endpoints": ["sri4"]})
    plan = Plan(sc)
    res = simulate(sc, replicates=R_WEEK76, n_jobs=2, progress=False)
    c = plan.comparisons.index("bel10_vs_placebo")
    a = res.analysis[:, :, c, :]
    favor = (a[..., RESULT_FIELDS.index("p_value")] < plan.trial.alpha) & (
        a[..., RESULT_FIELDS.index("log_or")] > 0)
    w52, w76 = (favor[:, plan.targets.index(("sri4", w))].astype(float) for w in (52, 76))
    diff = w52 - w76
    gap, mcse = diff.mean(), diff.std(ddof=1) / np.sqrt(len(diff))
    assert gap > 2 * mcse, (w52.mean(), w76.mean(), gap, mcse)


def test_higher_dose_at_least_as_good_at_week_52(reproduced):
    trial, s = reproduced
    odds = {arm: _value(s, endpoint="sri4", week=52, comparison=f"{arm}_vs_placebo",
                        statistic="odds_ratio_median").value for arm in ("bel1", "bel10")}
    assert odds["bel10"] >= odds["bel1"], odds



# serologically active (anti-dsDNA+ and low C3 or C4): van Vollenhoven et al., Ann Rheum Dis
# 2012;71:1343, Table 2; per arm (events = rate x n, rounded, n)
SUBGROUP = {
    (("bliss52", "bliss76"), 52): [(91, 287), (118, 284), (157, 305)],
    (("bliss76",), 76): [(36, 131), (45, 125), (53, 134)],
}
R_SUBGROUP = 100
SUBGROUP_MISS = pytest.mark.xfail(strict=True, reason=(
    "not met (README, calibration status): the subgroup's placebo rate at week 52 (pooled "
    "BLISS) is 38.3 % simulated, published 31.7 % [26.4, 37.4]; published, serologically "
    "active placebo patients responded 14.5 points less often than the others, in the model "
    "10-12 points less, and more persistent serology does not close the gap without lowering "
    "both trials' placebo rates. Strict: fails once reproduced."))


@pytest.fixture(scope="module")
def subgroup_rates(bliss52, bliss76):
    """The subgroup's mean SRI-4 rate per (trials, week) and arm, counted patient by patient
    in replicate trials of the published designs (a pooled analysis adds the trials)."""
    from trialsim.analysis.endpoints import ENDPOINTS
    from trialsim.run.trial import ReplicatePatients

    scenarios = {"bliss52": bliss52, "bliss76": bliss76}
    counts = {}  # (trial, week) -> (replicates, arms, [events, n])
    for name, sc in scenarios.items():
        patients = ReplicatePatients(sc)
        weeks = [w for (trials, w) in SUBGROUP if name in trials]
        got = np.zeros((len(weeks), R_SUBGROUP, len(ARMS), 2))
        for r in range(R_SUBGROUP):
            trial = patients(r)
            c = trial.cohort
            sero = c.anti_dsdna & (c.low_c3 | c.low_c4)
            for i, w in enumerate(weeks):
                flags = ENDPOINTS["sri4"](trial, w // sc.design.visit_interval_weeks)
                for a, arm in enumerate(ARMS):
                    mask = sero & (trial.arm == list(sc.design.arms).index(arm))
                    got[i, r, a] = flags[mask].sum(), mask.sum()
        for i, w in enumerate(weeks):
            counts[name, w] = got[i]
    out = {}
    for trials, week in SUBGROUP:
        total = sum(counts[t, week] for t in trials)
        out[trials, week] = (total[..., 0] / total[..., 1]).mean(axis=0)
    return out


@pytest.mark.parametrize("trials, week, arm", [
    pytest.param(trials, week, arm, id=f"{'+'.join(trials)}-w{week}-{arm}",
                 marks=[SUBGROUP_MISS] if (week, arm) == (52, "placebo") else [])
    for trials, week in SUBGROUP for arm in ARMS])
def test_serologically_active_subgroup_rates_inside_published_ci(subgroup_rates, trials, week,
                                                                  arm):
    """The subgroup's SRI-4 rates (pooled over both trials at week 52, BLISS-76 at week 76)
    inside the published rates' exact 95% CIs."""
    events, n = SUBGROUP[trials, week][ARMS.index(arm)]
    lo, hi = binomial_ci(events, n)
    v = subgroup_rates[trials, week][ARMS.index(arm)]
    assert lo <= v <= hi, f"{v:.3f} not in [{lo:.3f}, {hi:.3f}]"
