"""`trialsim calibrate` and `trialsim explain` end to end on small budgets."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from trialsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def small_spec(tmp_path, **extra):
    spec = yaml.safe_load((ROOT / "configs/calibration.yaml").read_text())
    spec["scenarios"] = {k: str(ROOT / "configs" / v) for k, v in spec["scenarios"].items()}
    spec["patients_per_arm"] = 60
    spec["parameters"] = {k: spec["parameters"][k] for k in ("soc_effect", "emax")}
    spec["targets"] = [t for t in spec["targets"] if t["endpoint"] == "sri4" and t["week"] == 52]
    spec.update(extra)
    p = tmp_path / "cal.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def test_calibrate_writes_fit(tmp_path, capsys):
    out = tmp_path / "cal"
    assert main(["calibrate", str(small_spec(tmp_path)), "--out", str(out),
                 "--max-evaluations", "4"]) == 0
    params = pd.read_csv(out / "parameters.csv")
    assert {"soc_effect", "emax"} <= set(params.parameter)
    assert params.set_index("parameter").loc["emax", "identified_by"].count("sri4") >= 1
    fit = pd.read_csv(out / "fit_table.csv")
    # 3 arm rates and 2 odds ratios per trial; the drug arms' rates are reported, not fitted
    assert len(fit) == 10 and {"published", "ci_low", "ci_high", "simulated", "prediction_low",
                               "prediction_high"} <= set(fit.columns)
    assert fit.fitted.sum() == 6
    assert (fit.ci_low < fit.published).all() and (fit.published < fit.ci_high).all()
    assert (fit.prediction_low < fit.simulated).all()
    assert (fit.simulated < fit.prediction_high).all()
    doses = pd.read_csv(out / "dose_contrasts.csv")
    assert list(doses.contrast) == ["bel10_vs_bel1"] * 2
    assert doses.published_ratio.tolist() == pytest.approx([1.83 / 1.55, 1.52 / 1.34], rel=1e-9)
    assert (out / "fit.png").stat().st_size > 0 and (out / "fitted.yaml").exists()


def test_calibrate_bad_spec_names_the_field(tmp_path, capsys):
    p = small_spec(tmp_path, patients_per_arm=-5)
    assert main(["calibrate", str(p), "--out", str(tmp_path / "x")]) == 2
    assert "patients_per_arm" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_calibrate_bad_path(tmp_path, capsys):
    spec = yaml.safe_load(small_spec(tmp_path).read_text())
    spec["parameters"]["emax"]["paths"] = ["drug.emaxx"]
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(spec))
    assert main(["calibrate", str(p)]) == 2
    assert "drug.emaxx" in capsys.readouterr().err


def test_explain_decomposes_the_difference(tmp_path):
    out = tmp_path / "ex"
    assert main(["explain", str(ROOT / "configs/bliss52.yaml"), str(ROOT / "configs/bliss76.yaml"),
                 "--patients-per-arm", "300", "--out", str(out)]) == 0
    grid = pd.read_csv(out / "protocol_by_population.csv")
    assert len(grid) == 4
    steps = pd.read_csv(out / "decomposition.csv")
    seq = steps[steps.method == "sequential"]
    rd = grid.set_index(["protocol", "population"]).risk_difference
    total = rd[("bliss52", "bliss52")] - rd[("bliss76", "bliss76")]
    # the sequential deltas add up to the whole difference between the two trials
    assert seq.delta_risk_difference.sum() == pytest.approx(total, abs=1e-8)
    assert set(steps.factor) >= {"race", "region", "steroids", "serology", "disease_duration"}
    # every delta carries a paired Monte Carlo SE from the batches; a swap that changes the
    # population has a positive one, smaller than the unpaired SE of a risk difference
    ser = steps.set_index(["method", "factor"])
    se = ser.loc[("one_at_a_time", "serology"), "mcse_delta_risk_difference"]
    assert 0 < se < grid.mcse_risk_difference.max() * np.sqrt(2)
    assert (grid.mcse_risk_difference > 0).all()
    assert (out / "waterfall.png").stat().st_size > 0
