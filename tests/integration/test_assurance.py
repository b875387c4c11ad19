"""`trialsim assurance`: power integrated over the calibration's parameter uncertainty."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialsim.cli import main
from trialsim.config.scenario import with_overrides
from trialsim.experiments.assurance import Posterior, assurance, load_posterior
from trialsim.experiments.power import RunSettings, power_curve

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "bliss52.yaml")
SETTINGS = RunSettings(replicates=40, n_jobs=1, chunk_size=20, progress=False)


def posterior(sd_emax: float, sd_soc: float = 0.0) -> Posterior:
    return Posterior(
        names=["emax", "soc_effect"],
        paths=[["drug.emax"], ["standard_of_care.effect"]],
        scales=["linear", "linear"],
        fitted=np.array([0.6, 0.3]),
        lower=np.array([0.0, 0.0]),
        upper=np.array([2.5, 2.5]),
        cov=np.diag([sd_emax ** 2, sd_soc ** 2]),
        source="test",
    )


@pytest.fixture(scope="module")
def small(bliss52):
    return with_overrides(bliss52, {"design.endpoint_weeks": [52],
                                    "analysis.endpoints": ["sri4"]})


def test_no_uncertainty_gives_the_power_at_the_estimate(small):
    """With a zero covariance every draw is the estimate and the trials share their random
    numbers: the assurance is exactly the power curve's power there."""
    summary, per_draw = assurance(small, posterior(0.0), draws=3, sizes=[300],
                                  settings=SETTINGS)
    sc = with_overrides(small, {"drug.emax": 0.6, "standard_of_care.effect": 0.3})
    curve = power_curve(sc, [300], settings=SETTINGS)
    for r in summary[summary.statistic == "power"].itertuples():
        p = curve[(curve.comparison == r.comparison) & (curve.statistic == "power")].value
        assert r.power_at_estimate == float(p.iloc[0])  # bit for bit: the same trials
        assert r.assurance == pytest.approx(r.power_at_estimate, rel=1e-12)
        assert r.mcse_between == pytest.approx(0.0, abs=1e-12)
    assert (per_draw.emax == 0.6).all()


def test_each_draw_is_the_power_of_its_parameters(small):
    """Draw k's power is the power curve at draw k's parameters (same seed: CRN), and the
    assurance is their mean with a between-draw MCSE of sd / sqrt(K)."""
    summary, per_draw = assurance(small, posterior(0.25, 0.1), draws=4, sizes=[300],
                                  comparisons=["bel10_vs_placebo"], settings=SETTINGS)
    assert per_draw.emax.nunique() == 5 and per_draw.emax.iloc[0] == 0.6  # + the estimate
    k = 2
    row = per_draw[per_draw.draw == k].iloc[0]
    sc = with_overrides(small, {"drug.emax": float(row.emax),
                                "standard_of_care.effect": float(row.soc_effect)})
    curve = power_curve(sc, [300], comparisons=["bel10_vs_placebo"], settings=SETTINGS)
    assert row.power == float(curve[curve.statistic == "power"].value.iloc[0])
    s = summary[summary.statistic == "power"].iloc[0]
    p = per_draw.sort_values("draw").power.to_numpy()[1:]  # draw 0 is the estimate
    assert s.assurance == pytest.approx(p.mean())
    assert s.power_at_estimate == per_draw[per_draw.draw == 0].power.iloc[0]
    assert s.mcse_between == pytest.approx(p.std(ddof=1) / 2)
    assert s.mcse == pytest.approx(np.hypot(s.mcse_between, s.mcse_within))


def test_uncertainty_about_a_strong_effect_lowers_the_probability_of_success(small):
    """Power is concave where it is high: spreading the effect size over a wide range lowers
    the mean power below the power at the estimate (a property the wiring could break by
    ignoring the draws)."""
    big = with_overrides(small, {"drug.emax": 0.45})
    post = posterior(0.0)
    post.fitted = np.array([0.45, 0.3])
    post.cov = np.diag([0.4 ** 2, 0.0])  # emax from ~0 to ~1.2: power from ~0.1 to 1
    summary, _ = assurance(big, post, draws=60, sizes=[600],
                           comparisons=["bel10_vs_placebo"], settings=SETTINGS)
    s = summary[summary.statistic == "power"].iloc[0]
    assert s.power_at_estimate > 0.9
    assert s.assurance < s.power_at_estimate - 2 * s.mcse_between


def test_cli_writes_tables_and_figure(tmp_path, capsys):
    cal = tmp_path / "cal"
    cal.mkdir()
    pd.DataFrame({
        "parameter": ["emax", "ec50"], "paths": ["drug.emax", "drug.ec50_ug_ml"],
        "scale": ["linear", "log"], "fitted": [0.6, 5.0], "lower_bound": [0.0, 0.3],
        "upper_bound": [2.5, 1000.0],
    }).to_csv(cal / "parameters.csv", index=False)
    (cal / "report.json").write_text(json.dumps({
        "parameter_names": ["emax", "ec50"],
        "parameter_covariance": [[0.01, 0.0], [0.0, 0.25]]}))
    post = load_posterior(cal)
    assert post.scales == ["linear", "log"]
    draws, accepted = post.draws(2000, 1)
    assert draws.shape == (2001, 2) and accepted == 1.0
    assert np.median(draws[:, 1]) == pytest.approx(5.0, rel=0.05)  # log-normal around 5
    assert draws[:, 1].min() > 0
    out = tmp_path / "out"
    rc = main(["assurance", CONFIG, "--calibration", str(cal), "--draws", "3",
               "--replicates", "10", "--sizes", "150,300", "--n-jobs", "1", "--out", str(out),
               "--quiet", "--set", "design.endpoint_weeks=[52]"])
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {"assurance.csv", "assurance_draws.csv",
                                               "assurance.png", "run.json"}
    s = pd.read_csv(out / "assurance.csv")
    assert set(s.sample_size) == {150, 300}
    assert {"assurance", "mcse", "mcse_between", "mcse_within", "power_q05",
            "odds_ratio_q50"} <= set(s.columns)
    assert json.loads((out / "run.json").read_text())["draws"] == 3


def test_cli_names_a_missing_calibration(tmp_path, capsys):
    rc = main(["assurance", CONFIG, "--calibration", str(tmp_path / "nope"),
               "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--calibration" in err and "trialsim calibrate" in err
    assert not (tmp_path / "o").exists()


def test_draws_are_truncated_to_the_bounds_not_clipped():
    """A parameter near its bound: proposals outside are rejected, so no draw sits on the
    bound (clipping put 5% of the drug effects at exactly 0) and the share accepted is
    reported; the accepted draws follow the truncated normal."""
    from scipy import stats

    post = posterior(0.1)
    post.fitted = np.array([0.1, 0.3])
    theta, accepted = post.draws(4000, 3)
    emax = theta[1:, 0]
    assert emax.min() > 0.0
    assert accepted == pytest.approx(stats.norm.sf(-1.0), abs=0.02)  # P(N(0.1, 0.1) > 0)
    truncated = stats.truncnorm(-1.0, np.inf, loc=0.1, scale=0.1)
    assert stats.kstest(emax, truncated.cdf).pvalue > 0.001


@pytest.mark.parametrize("column_change, message", [
    ("drop-scale", "lacks column(s) scale"),
    ("rename", "does not list"),
])
def test_a_broken_calibration_folder_is_named(tmp_path, capsys, column_change, message):
    cal = tmp_path / "cal"
    cal.mkdir()
    params = pd.DataFrame({
        "parameter": ["emax", "ec50"], "paths": ["drug.emax", "drug.ec50_ug_ml"],
        "scale": ["linear", "log"], "fitted": [0.6, 5.0], "lower_bound": [0.0, 0.3],
        "upper_bound": [2.5, 1000.0]})
    if column_change == "drop-scale":
        params = params.drop(columns="scale")
    else:
        params["parameter"] = ["emax", "zzz"]
    params.to_csv(cal / "parameters.csv", index=False)
    (cal / "report.json").write_text(json.dumps({
        "parameter_names": ["emax", "ec50"],
        "parameter_covariance": [[0.01, 0.0], [0.0, 0.25]]}))
    rc = main(["assurance", CONFIG, "--calibration", str(cal), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
