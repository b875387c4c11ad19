"""Power curves under common random numbers (CRN) and the sample-size search, checked
against Monte Carlo properties: monotone in N up to MC noise, a smaller variance of power
differences than independent streams give, and a required N whose power, confirmed on fresh
replicates, matches the target within its Monte Carlo error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trialsim.config.scenario import load_scenario, with_overrides
from trialsim.experiments.power import RunSettings, power_curve, rejections, sample_size
from trialsim.run.backends import run_scenarios
from trialsim.run.checkpoint import ExperimentStore
from trialsim.run.trial import Plan

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

SIZES = [60, 90, 120]
R = 300
CHUNK = 50
TARGET = ("sri4", 12, "bel10_vs_placebo")
#: a quick two-arm trial with a moderate effect: power rises from ~0.45 to ~0.75 over SIZES
FAST = {
    "design.duration_weeks": 12,
    "design.endpoint_weeks": [12],
    "design.arms": {"placebo": {"dose_mg_kg": 0.0}, "bel10": {"dose_mg_kg": 10.0}},
    "analysis.endpoints": ["sri4"],
    "analysis.subgroups.factors": [],
    "drug.onset_lag_weeks": 0.0,
    "drug.onset_weeks": 2.0,
    "drug.emax": 1.4,
}


@pytest.fixture(scope="module")
def base():
    return load_scenario(CONFIGS / "bliss76.yaml", FAST)


def _indicators(points, results) -> np.ndarray:
    return np.array(
        [rejections(Plan(p), r, *TARGET, favoring=False) for p, r in zip(points, results,
                                                                          strict=True)]
    )


@pytest.fixture(scope="module")
def curve(base, tmp_path_factory):
    """The CRN power curve (via power_curve) and its per-replicate rejections."""
    ck = tmp_path_factory.mktemp("curve")
    settings = RunSettings(replicates=R, chunk_size=CHUNK, n_jobs=2, checkpoint_dir=ck,
                           progress=False)
    table = power_curve(base, SIZES, settings=settings)
    points = [with_overrides(base, {"design.sample_size": n}) for n in SIZES]
    exp = ExperimentStore(ck, "power", base, CHUNK)  # the chunks power_curve kept
    y = _indicators(points, run_scenarios(points, R, CHUNK, stores=[exp.point(p)
                                                                    for p in points]))
    return table, y


def test_table_is_the_rejection_rate(curve):
    table, y = curve
    p = table[table.statistic == "power"].sort_values("sample_size")
    assert np.array_equal(p.value.to_numpy(), y.mean(axis=1))


def test_crn_power_curve_rises_monotonically_up_to_noise(curve):
    _, y = curve
    d = np.diff(y.astype(float), axis=0)  # paired per-replicate differences
    se = d.std(axis=1, ddof=1) / np.sqrt(R)
    assert np.all(d.mean(axis=1) > -2.0 * se)  # no step down beyond MC noise
    rise = y[-1].astype(float) - y[0]
    assert rise.mean() > 4.0 * rise.std(ddof=1) / np.sqrt(R)  # and it does rise
    # CRN: a trial that rejects at N rarely stops rejecting at a larger N
    reversals = (y[:-1] & ~y[1:]).mean(axis=1)
    assert np.all(reversals < 0.15)


def test_crn_reduces_the_variance_of_power_differences(base, curve):
    """Var(y(120) − y(90)) with shared streams vs with an independent seed at N = 120."""
    _, y = curve
    other = with_overrides(base, {"design.sample_size": 120, "seed": base.seed + 1})
    (res,) = run_scenarios([other], R, CHUNK, n_jobs=2, progress=False)
    y120_indep = rejections(Plan(other), res, *TARGET, favoring=False)
    var_crn = np.var(y[2].astype(float) - y[1], ddof=1)
    var_indep = np.var(y120_indep.astype(float) - y[1], ddof=1)
    assert var_crn < 0.6 * var_indep
    assert np.corrcoef(y[1], y[2])[0, 1] > 0.3


def test_required_sample_size_is_confirmed_on_fresh_replicates(base):
    start = with_overrides(base, {"design.sample_size": 60})
    res = sample_size(
        start,
        0.8,
        *TARGET,
        confirm_replicates=400,
        bootstrap=300,
        settings=RunSettings(replicates=200, chunk_size=CHUNK, n_jobs=2, progress=False),
    )
    assert res.n_required % 2 == 0  # 1:1 allocation
    assert res.n_low <= res.n_required <= res.n_high
    assert 60 < res.n_required < 240
    assert res.confirm_replicates == 400
    tolerance = 3.0 * np.hypot(res.confirm_mcse, res.power_fit_se)
    assert abs(res.confirm_power - 0.8) < tolerance
    stages = res.points.groupby("stage").size()
    assert stages["confirm"] == 1 and stages["local"] >= 2
