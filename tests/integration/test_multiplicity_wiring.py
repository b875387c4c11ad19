"""``analysis.multiplicity`` in runs (analysis/multiplicity.py): each trial's adjusted
p-values and rejections equal statsmodels ``multipletests`` on the one-sided p-values written
out from the trial's analysis; the summary's powers are those trials' shares; and with the
model reduced to constant response, a dose without effect is rejected at most at the
one-sided level whatever the procedure (partial null), while a graph passes alpha on."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.config.scenario import ScenarioError, with_overrides
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan, run_chunk
from trialsim.summarize.reduce import trial_table
from trialsim.summarize.tables import summarize

F = {name: i for i, name in enumerate(RESULT_FIELDS)}
HYPOTHESES = ["bel10_vs_placebo.sri4", "bel1_vs_placebo.sri4", "bel10_vs_placebo.sri6@52"]


@pytest.fixture(scope="module")
def holm(bliss52):
    sc = with_overrides(bliss52, {
        "design.sample_size": 400,
        "analysis.endpoints": ["sri4", "sri6"],
        "analysis.subgroups.factors": [],
        "analysis.multiplicity": {"procedure": "holm", "hypotheses": HYPOTHESES,
                                  "success": HYPOTHESES[:2]},
        "seed": 99,
    })
    return sc, Plan(sc), run_chunk(sc, 0, 12)


def test_adjusted_p_values_are_statsmodels_holm(holm):
    sc, plan, res = holm
    table = trial_table(plan, res)
    rejected = []
    for r in range(12):
        p = []
        for h in HYPOTHESES:
            comp, rest = h.rsplit(".", 1)
            endpoint = rest.split("@")[0]
            t = plan.targets.index((endpoint, 52))
            c = plan.comparisons.index(comp)
            two, b = res.analysis[r, t, c, F["p_value"]], res.analysis[r, t, c, F["log_or"]]
            p.append(1.0 if not np.isfinite(b) else (two / 2 if b > 0 else 1 - two / 2))
        reject, adjusted, _, _ = multipletests(p, alpha=0.025, method="holm")
        row = table.iloc[r]
        np.testing.assert_allclose([row[f"p_one_sided.{h}"] for h in HYPOTHESES], p,
                                   rtol=1e-12)
        np.testing.assert_allclose([row[f"p_adjusted.{h}"] for h in HYPOTHESES], adjusted,
                                   rtol=1e-12)
        rejected.append(reject)
    rejected = np.array(rejected)
    s = summarize(plan, res)
    got = s[s.statistic == "power_adjusted"]
    for h, want in zip(HYPOTHESES, rejected.mean(axis=0), strict=True):
        comp = h.rsplit(".", 1)[0]
        endpoint = h.rsplit(".", 1)[1].split("@")[0]
        row = got[(got.comparison == comp) & (got.endpoint == endpoint)].iloc[0]
        assert row.value == pytest.approx(want)
    fam = s[s.endpoint == "multiplicity"].set_index("statistic").value
    assert fam["disjunctive_power"] == pytest.approx(rejected.any(axis=1).mean())
    assert fam["expected_rejections"] == pytest.approx(rejected.sum(axis=1).mean())
    assert fam["success_all_power"] == pytest.approx(rejected[:, :2].all(axis=1).mean())


@pytest.fixture(scope="module")
def reduced(bliss76):
    """Constant response: bel1 has placebo's rate (its null is true), bel10 works."""
    return with_overrides(bliss76, {
        "design.sample_size": 360,
        "design.duration_weeks": 12,
        "design.endpoint_weeks": [12],
        "analysis.endpoints": ["constant_response"],
        "analysis.subgroups.factors": [],
        "constant_response": {"rates": {"placebo": 0.35, "bel1": 0.35, "bel10": 0.55}},
        "seed": 1618,
    })


@pytest.mark.parametrize("procedure", [
    {"procedure": "holm"},
    {"procedure": "hochberg"},
    # fixed sequence as a graph: bel10 first, passing all of its alpha to bel1
    {"procedure": "graphical", "weights": [1.0, 0.0], "transitions": [[0, 1], [0, 0]]},
])
def test_a_true_null_is_rejected_at_most_at_the_level(reduced, procedure):
    hyps = ["bel10_vs_placebo.constant_response", "bel1_vs_placebo.constant_response"]
    sc = with_overrides(reduced, {"analysis.multiplicity": {**procedure, "hypotheses": hyps}})
    plan = Plan(sc)
    r = 1500
    s = summarize(plan, simulate(sc, replicates=r, n_jobs=2, chunk_size=250, progress=False))
    rows = s[s.statistic == "power_adjusted"].set_index("comparison")
    null = rows.value["bel1_vs_placebo"]
    assert null <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / r), null
    assert rows.value["bel10_vs_placebo"] > 0.8  # the dose that works is found


def test_bad_hypotheses_are_named(bliss76):
    with pytest.raises(ScenarioError, match=r"hypotheses\[0\].*'bel5_vs_placebo'"):
        with_overrides(bliss76, {"analysis.multiplicity": {
            "procedure": "holm", "hypotheses": ["bel5_vs_placebo.sri4"]}})
    with pytest.raises(ScenarioError, match=r"analysis.multiplicity.*weights sum to 1.2"):
        with_overrides(bliss76, {"analysis.multiplicity": {
            "procedure": "graphical", "hypotheses": ["bel10_vs_placebo.sri4",
                                                     "bel1_vs_placebo.sri4"],
            "weights": [0.6, 0.6], "transitions": [[0, 1], [1, 0]]}})
