"""The bliss52 / bliss76 presets enrol populations that match the published baselines.

Targets: seed 000 Table 4 and domain.md §3 (the table there quotes the published baseline
tables). 20,000 enrolled patients make the Monte Carlo error negligible (< 0.4 pp), so the
tolerances below are about the model, not about noise.
"""

import pytest

from trialsim.analysis.baseline import BASELINE_NAMES, baseline_columns
from trialsim.config.published import SOURCE_POPULATIONS
from trialsim.run.trial import Plan

# (characteristic, BLISS-52, BLISS-76): the one home of the published values
TARGETS = {n: tuple(SOURCE_POPULATIONS[t].percent[n] for t in ("bliss52", "bliss76"))
           for n in SOURCE_POPULATIONS["bliss52"].percent if n != "bilag_1a_or_2b"}
MEANS = {n: tuple(SOURCE_POPULATIONS[t].mean_sd[n] for t in ("bliss52", "bliss76"))
         for n in SOURCE_POPULATIONS["bliss52"].mean_sd}
BILAG = tuple(SOURCE_POPULATIONS[t].percent["bilag_1a_or_2b"] for t in ("bliss52", "bliss76"))


@pytest.fixture(scope="module", params=["bliss52", "bliss76"])
def enrolled(request, bliss52, bliss76):
    sc = {"bliss52": bliss52, "bliss76": bliss76}[request.param]
    cohort, _ = Plan(sc).population.enroll(20_000, (2026, 0))
    values = baseline_columns(cohort)
    trial = 0 if request.param == "bliss52" else 1
    return trial, dict(zip(BASELINE_NAMES, values.T, strict=True))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_percentages_within_2_points(enrolled, name):
    trial, cols = enrolled
    assert 100 * cols[name].mean() == pytest.approx(TARGETS[name][trial], abs=2.0)


@pytest.mark.parametrize("name", sorted(MEANS))
def test_means_within_0_3_sd(enrolled, name):
    trial, cols = enrolled
    mean, sd = MEANS[name][trial]
    assert cols[name].mean() == pytest.approx(mean, abs=0.3 * sd)
    assert cols[name].std() == pytest.approx(sd, rel=0.25)


def test_bilag_a_or_2b_near_published(enrolled):
    trial, cols = enrolled
    assert 100 * cols["bilag_1a_or_2b"].mean() == pytest.approx(BILAG[trial], abs=6.0)


def test_sledai_ge_10_near_pooled_52_percent(enrolled):
    _, cols = enrolled
    assert 100 * cols["sledai_ge_10"].mean() == pytest.approx(52, abs=5.0)
