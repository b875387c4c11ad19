"""The bliss52 / bliss76 presets enrol populations that match the published baselines.

Targets: seed 000 Table 4 and domain.md §3 (the table there quotes the published baseline
tables). 20,000 enrolled patients make the Monte Carlo error negligible (< 0.4 pp), so the
tolerances below are about the model, not about noise.
"""

import pytest

from trialsim.analysis.baseline import BASELINE_NAMES, baseline_columns
from trialsim.run.trial import Plan

# (characteristic, BLISS-52, BLISS-76); percentages or means
TARGETS = {
    "female": (95, 93),
    "race_white": (27, 70),
    "race_black": (4, 14),
    "race_asian": (38, 3),
    "race_indigenous_american": (32, 13),
    "region_latin_america": (50, 11),
    "region_asia_pacific": (39, 0),
    "region_eastern_europe": (11, 11),
    "region_us_canada": (0, 53),
    "region_western_europe_israel": (0, 25),
    "ana_positive": (95, 92),
    "anti_dsdna_positive": (74.5, 64.0),
    "low_c3": (49.4, 40.4),
    "low_c4": (59.3, 52.6),
    "anti_dsdna_and_low_c3_or_c4": (55.5, 44.5),
    "prednisone_use": (96, 76),
    "prednisone_gt_7_5mg": (69, 46),
    "immunosuppressant": (42, 56),
    "antimalarial": (67, 63),
}
MEANS = {  # name: (BLISS-52 mean, SD), (BLISS-76 mean, SD)
    "age_years": ((35.5, 11.5), (40.2, 11.5)),
    "disease_duration_years": ((5.3, 5.3), (7.5, 7.1)),
    "prednisone_mg": ((12.7, 8.4), (8.8, 8.2)),
    "sledai": ((9.8, 3.8), (9.7, 3.8)),
}


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
    assert 100 * cols["bilag_1a_or_2b"].mean() == pytest.approx((58, 64)[trial], abs=6.0)


def test_sledai_ge_10_near_pooled_52_percent(enrolled):
    _, cols = enrolled
    assert 100 * cols["sledai_ge_10"].mean() == pytest.approx(52, abs=5.0)
