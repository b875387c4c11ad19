"""Enrichment criteria at screening (issue 10 §2): each criterion at its edge, the enrolled
patients are exactly the candidates that meet it (same draws, same order), the screening
cost is reported by reason, and bad criteria are refused with the YAML path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialsim.cli import main
from trialsim.config.scenario import ScenarioError, load_scenario, with_overrides
from trialsim.config.vocab import REGIONS
from trialsim.core.rng import replicate_key
from trialsim.model.population import (
    SCREEN_FAILURE_REASONS,
    PopulationModel,
    screen_failure,
)
from trialsim.run.trial import run_chunk
from trialsim.summarize.tables import summarize, whole_trial

BLISS76 = Path(__file__).resolve().parents[2] / "configs" / "bliss76.yaml"
ENRICHED = {
    "screening.require_serologically_active": True,
    "screening.min_prednisone_mg": 7.5,
    "screening.max_disease_duration_years": 10.0,
    "screening.exclude_regions": ["latin_america"],
}


@pytest.fixture(scope="module")
def base():
    return load_scenario(BLISS76)


def test_each_criterion_at_its_edge(base):
    p = PopulationModel(with_overrides(base, ENRICHED)).params
    ok = dict(sledai=6, proteinuria_g=0.5, ana=True, anti_dsdna=True, low_c3=True,
              low_c4=False, prednisone_mg=7.5, duration_years=10.0, region=0)

    def reason(**kw):
        return screen_failure(p, *{**ok, **kw}.values())

    assert reason() == 0
    fails = {
        "sledai": dict(sledai=5),
        "serology": dict(ana=False, anti_dsdna=False),  # first: serology before dsDNA
        "proteinuria": dict(proteinuria_g=6.01),
        "serologically_active": dict(low_c3=False),
        "prednisone": dict(prednisone_mg=7.0),
        "disease_duration": dict(duration_years=10.01),
        "region": dict(region=REGIONS.index("latin_america")),
    }
    for name, kw in fails.items():
        assert reason(**kw) == 1 + SCREEN_FAILURE_REASONS.index(name), name
    assert reason(low_c3=False, low_c4=True) == 0  # low C4 is low complement too
    q = PopulationModel(with_overrides(base, {"screening.require_anti_dsdna": True})).params
    assert screen_failure(q, *{**ok, "anti_dsdna": False}.values()) == 1 + (
        SCREEN_FAILURE_REASONS.index("anti_dsdna"))


def test_enriched_patients_are_the_candidates_that_meet_the_criteria(base):
    """The same candidate stream, filtered: an enriched trial enrols, in order, exactly the
    candidates of the unenriched screening that also meet the enrichment, with the same
    covariates (a candidate's draws do not depend on who else is screened)."""
    key = replicate_key(base.seed, 0)
    wide, _ = PopulationModel(base).enroll(2500, key)
    enriched, screened = PopulationModel(with_overrides(base, ENRICHED)).enroll(120, key)
    meets = (wide.serologically_active & (wide.prednisone >= 7.5)
             & (wide.disease_duration <= 10.0)
             & (wide.region != REGIONS.index("latin_america")))
    assert meets.sum() >= 120
    first = np.flatnonzero(meets)[:120]
    np.testing.assert_array_equal(enriched.candidate, wide.candidate[first])
    for name in ("sledai", "prednisone", "disease_duration", "age", "activity"):
        np.testing.assert_array_equal(getattr(enriched, name), getattr(wide, name)[first])
    assert screened == enriched.candidate[-1] + 1


def test_screening_cost_by_reason(base):
    sc = with_overrides(base, {**ENRICHED, "design.sample_size": 150,
                               "analysis.subgroups.factors": []})
    res = run_chunk(sc, 0, 4)
    n = sc.design.sample_size
    np.testing.assert_array_equal(res.screen_failures.sum(axis=1), res.screened - n)
    assert (res.screen_failures[:, SCREEN_FAILURE_REASONS.index("serologically_active")] > 0).all()
    s = whole_trial(summarize(*_plan_res(sc, res)))
    scr = s[s.endpoint == "screening"].set_index("statistic").value
    assert scr["screened_per_randomised"] == pytest.approx((res.screened / n).mean())
    shares = [scr[f"screen_failure_{r}"] for r in SCREEN_FAILURE_REASONS]
    assert sum(shares) == pytest.approx(scr["screen_failure_rate"])
    assert scr["screen_failure_rate"] == pytest.approx((1 - n / res.screened).mean())


def _plan_res(sc, res):
    from trialsim.run.trial import Plan

    return Plan(sc), res


@pytest.mark.parametrize("overrides, words", [
    ({"screening.exclude_regions": ["mars"]}, ["screening.exclude_regions", "unknown region",
                                               "us_canada"]),
    ({"screening.exclude_regions": list(REGIONS)}, ["every region is excluded"]),
    ({"screening.min_prednisone_mg": -1}, ["screening.min_prednisone_mg"]),
    ({"screening.max_disease_duration_years": 0}, ["screening.max_disease_duration_years"]),
])
def test_bad_enrichment_is_refused_with_its_path(base, overrides, words):
    with pytest.raises(ScenarioError) as err:
        with_overrides(base, overrides)
    for w in words:
        assert w in str(err.value)


def test_an_enrichment_nobody_meets_is_a_named_error(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(BLISS76), "--out", str(out), "--replicates", "2", "--quiet",
               "--no-figures", "--set", "screening.min_prednisone_mg=100",
               "--set", "screening.require_serologically_active=true"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "screening.min_prednisone_mg=100" in err and "cannot fill this trial" in err
    assert not out.exists()


def test_enrichment_sweep_plots_power_against_screening(tmp_path):
    out = tmp_path / "enr"
    rc = main(["sweep", str(BLISS76), "--sweep", "screening.require_serologically_active="
               "false,true", "--replicates", "6", "--set", "design.sample_size=120",
               "--quiet", "--out", str(out)])
    assert rc == 0
    assert (out / "power_vs_screening.png").stat().st_size > 0
    table = pd.read_csv(out / "sweep.csv")
    scr = table[table.statistic == "screened_per_randomised"].set_index(
        "screening.require_serologically_active").value
    assert scr[True] > 2 * scr[False]  # about half the candidates are serologically active
