"""Familywise error of ``analysis.multiplicity`` with the full MECHANISTIC model (disease
course, standard of care, drug; not the constant-response reduction of
test_multiplicity_wiring.py).

A drug arm is switched off by giving it ``dose_mg_kg: 0`` under its own name: the course
kernel's drug amplitude is ``emax * C / (EC50 + C)`` with ``C = cavg_per_mg_kg * dose`` and
its stabilization applies only at a dose above 0 (model/course.py), so a 0 mg/kg arm is a
second placebo arm that the analysis still treats as a dose. BLISS-52, SRI-4 at week 52,
subgroup analyses off; the two hypotheses are
``bel10_vs_placebo.sri4`` and ``bel1_vs_placebo.sri4``, each one-sided at
``analysis.alpha / 2`` = 0.025.

* **Partial null** (bel1 at 0 mg/kg, bel10 at 10 mg/kg; 450 patients, 2,000 trials): the
  true null is ``bel1_vs_placebo``, so the FWER is the share of trials rejecting it.
  Checked for the procedure the scenario runs, a graph that is the fixed sequence
  10 → 1 mg/kg (all of alpha on bel10, passed whole to bel1 once bel10 is rejected: the
  graph that hands the true null the most alpha, as often as the active dose succeeds),
  and for Holm, Hochberg, Bonferroni and Holm as a graph applied to the same trials'
  one-sided p-values. Each must stay <= 0.025 + 3 MCSE = 0.0355 (MCSE =
  sqrt(0.025 * 0.975 / R)); measured: graph 0.026, Holm 0.027, Hochberg 0.028, Bonferroni
  0.016. With one true null even no adjustment rejects it at about 0.025 (measured 0.029),
  so this half does not catch a missing adjustment; it catches a dose-0 arm that still
  carries drug effect (a leak in the course kernel), an analysis that is
  anti-conservative under the mechanistic model, a one-sided p taken as half the
  two-sided p whatever the sign of the log OR (about 0.05: rejections in the harmful
  direction count too), and a procedure that tests a hypothesis above its share of alpha.
  The test has power: the false null (bel10) is rejected unadjusted in 47% of the trials
  (asserted > 0.25; 38% under Holm, asserted > 0.2), and the graph passes alpha on to
  bel1 in those trials.
* **Global null** (both doses at 0 mg/kg; 300 patients, 4,000 trials): the FWER is the
  share of trials rejecting either hypothesis; each procedure must stay <= 0.025 + 3 MCSE
  = 0.0324; measured: graph 0.028, Holm 0.023, Hochberg 0.025, Bonferroni 0.023. No
  adjustment (each hypothesis at 0.025) gives 0.048 here (the two comparisons share the
  placebo arm, correlation of their p-values 0.49, so a little under 2 x 0.025); the test
  computes it on the same trials and asserts that it exceeds the bound, i.e. that the
  check would fail a procedure that does not adjust. Each dose's unadjusted rejection
  rate is also held to 0.025 within 3 MCSE (two-sided; measured 0.028 and 0.026), the
  type I error of the analysis itself.

About 30 s on 2 cores (numba cache warm), 45 to 55 s with another job running.
"""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.analysis.multiplicity import multiplicity_adjust_trials, multiplicity_params
from trialsim.config.scenario import with_overrides
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan
from trialsim.summarize.reduce import trial_table
from trialsim.summarize.tables import summarize

ALPHA = 0.025  # one-sided: analysis.alpha / 2
HYPOTHESES = ["bel10_vs_placebo.sri4", "bel1_vs_placebo.sri4"]
#: the fixed sequence 10 -> 1 mg/kg as a graph: all alpha on bel10, passed whole to bel1
SEQUENCE_GRAPH = {"procedure": "graphical", "weights": [1.0, 0.0],
                  "transitions": [[0.0, 1.0], [0.0, 0.0]]}
#: procedures applied afterwards to the same trials' one-sided p-values
OTHERS = {
    "holm": multiplicity_params("holm", HYPOTHESES, alpha=ALPHA),
    "hochberg": multiplicity_params("hochberg", HYPOTHESES, alpha=ALPHA),
    "bonferroni": multiplicity_params("bonferroni", HYPOTHESES, alpha=ALPHA),
    "holm_graph": multiplicity_params("graphical", HYPOTHESES, alpha=ALPHA,
                                      weights=[0.5, 0.5], transitions=[[0, 1], [1, 0]]),
}


def bound(r: int) -> float:
    """The one-sided level plus 3 Monte Carlo SEs of a rejection rate at that level."""
    return ALPHA + 3.0 * np.sqrt(ALPHA * (1.0 - ALPHA) / r)


def run(bliss52, doses: dict[str, float], r: int, seed: int, n: int = 450):
    """Simulate ``r`` trials; return the run's own adjusted powers (summary) and the
    trials' one-sided p-values (r, 2)."""
    sc = with_overrides(bliss52, {
        "design.sample_size": n,
        "design.arms.bel1.dose_mg_kg": doses["bel1"],
        "design.arms.bel10.dose_mg_kg": doses["bel10"],
        "analysis.endpoints": ["sri4"],
        "analysis.subgroups.factors": [],
        "analysis.sledai_change": False,
        "analysis.multiplicity": {**SEQUENCE_GRAPH, "hypotheses": HYPOTHESES},
        "seed": seed,
    })
    assert sc.analysis.alpha / 2 == ALPHA
    plan = Plan(sc)
    res = simulate(sc, replicates=r, n_jobs=2, chunk_size=250, progress=False)
    s = summarize(plan, res)
    adjusted = s[s.statistic == "power_adjusted"].set_index("comparison").value
    family = s[s.endpoint == "multiplicity"].set_index("statistic").value
    p = trial_table(plan, res)[[f"p_one_sided.{h}" for h in HYPOTHESES]].to_numpy()
    return adjusted, family, p


@pytest.fixture(scope="module")
def partial_null(bliss52):
    return run(bliss52, {"bel1": 0.0, "bel10": 10.0}, r=2000, seed=5201)


@pytest.fixture(scope="module")
def global_null(bliss52):
    return run(bliss52, {"bel1": 0.0, "bel10": 0.0}, r=4000, seed=5202, n=300)


def test_partial_null_the_dose_without_effect_is_rejected_at_most_at_the_level(partial_null):
    adjusted, _, p = partial_null
    r = p.shape[0]
    unadjusted = (p <= ALPHA).mean(axis=0)
    # the test has power: the active dose is found, and then the graph passes alpha to bel1
    assert unadjusted[0] > 0.25, unadjusted
    assert adjusted["bel10_vs_placebo"] == pytest.approx(unadjusted[0])
    # the graph run by the scenario: its rejections of the true null
    assert adjusted["bel1_vs_placebo"] <= bound(r), adjusted["bel1_vs_placebo"]
    for name, mp in OTHERS.items():
        reject, _ = multiplicity_adjust_trials(np.ascontiguousarray(p), mp)
        assert reject[:, 1].mean() <= bound(r), (name, reject[:, 1].mean())
        assert reject[:, 0].mean() > 0.2, name  # and each still finds the active dose
    # the analysis itself under the mechanistic model: the true null at the level
    assert unadjusted[1] <= bound(r), unadjusted[1]


def test_global_null_familywise_error_is_at_most_the_level(global_null):
    adjusted, family, p = global_null
    r = p.shape[0]
    assert family["disjunctive_power"] <= bound(r), family["disjunctive_power"]
    for name, mp in OTHERS.items():
        reject, _ = multiplicity_adjust_trials(np.ascontiguousarray(p), mp)
        assert reject.any(axis=1).mean() <= bound(r), (name, reject.any(axis=1).mean())
    # each test alone holds its level (two-sided 3 MCSE: not conservative either)
    unadjusted = (p <= ALPHA).mean(axis=0)
    se = np.sqrt(ALPHA * (1.0 - ALPHA) / r)
    assert np.all(np.abs(unadjusted - ALPHA) <= 3.0 * se), unadjusted
    # the check can fail: without adjustment the familywise error exceeds the bound
    no_adjustment = (p <= ALPHA).any(axis=1).mean()
    assert no_adjustment > bound(r), no_adjustment
