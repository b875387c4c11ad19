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
    spec["targets"] = [t for t in spec["targets"]
                       if t["endpoint"] == "sri4" and t["week"] == 52 and "subgroup" not in t]
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
    # per trial 3 arm rates, 2 crude and 2 adjusted odds ratios; fitted: the placebo rate and
    # the crude odds ratios (the drug arms' rates and adjusted odds ratios are reported)
    assert len(fit) == 14 and {"published", "ci_low", "ci_high", "simulated", "prediction_low",
                               "prediction_high"} <= set(fit.columns)
    assert fit.fitted.sum() == 6
    assert set(fit[fit.fitted].kind) == {"rate", "log_or_crude"}
    assert (fit.ci_low < fit.published).all() and (fit.published < fit.ci_high).all()
    # a rate's 95% prediction interval is simulated +- 1.96 sqrt(parameter variance + the
    # published arm's binomial variance), the latter recomputed here from the counts; an
    # odds ratio's is symmetric on the log scale, with Woolf's variance of the counts
    spec = yaml.safe_load(small_spec(tmp_path).read_text())
    rates = fit[fit.kind == "rate"].reset_index(drop=True)
    counts = [(t["events"], t["n"]) for t in spec["targets"] if "arm" in t]
    assert len(counts) == len(rates)
    for (e, n), row in zip(counts, rates.itertuples(), strict=True):
        half = 1.959964 * np.hypot(row.parameter_se, np.sqrt(e / n * (1 - e / n) / n))
        assert row.prediction_low == pytest.approx(row.simulated - half, rel=1e-6)
        assert row.prediction_high == pytest.approx(row.simulated + half, rel=1e-6)
    crude = fit[fit.kind == "log_or_crude"].reset_index(drop=True)
    woolf = [np.sqrt(sum(1 / a + 1 / (b - a) for a, b in t["counts"]))
             for t in spec["targets"] if "counts" in t]
    for se, row in zip(woolf, crude.itertuples(), strict=True):
        half = 1.959964 * np.hypot(row.parameter_se, se)
        assert np.log(row.prediction_high / row.simulated) == pytest.approx(half, rel=1e-6)
        assert np.log(row.simulated / row.prediction_low) == pytest.approx(half, rel=1e-6)
    doses = pd.read_csv(out / "dose_contrasts.csv")
    assert list(doses.contrast) == ["bel10_vs_bel1"] * 4
    adjusted = doses[doses.kind == "log_or"]
    assert adjusted.published_ratio.tolist() == pytest.approx([1.83 / 1.55, 1.52 / 1.34],
                                                              rel=1e-9)
    crude = doses[doses.kind == "log_or_crude"]  # (167/123)/(148/140), (118/155)/(110/161)
    assert crude.published_ratio.tolist() == pytest.approx(
        [(167 / 123) / (148 / 140), (118 / 155) / (110 / 161)], rel=1e-9)
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
    assert main(["calibrate", str(p), "--out", str(tmp_path / "out")]) == 2
    assert "drug.emaxx" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused when the spec is read


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
    # population has a positive one. Swapping a covariate the screening does not select on
    # (the steroid dose) keeps the same patients, so its SE is far below the unpaired SE of a
    # difference of two risk differences; swapping serology changes who passes screening, so
    # its pairing is weak (the full run: 0.0049 against 0.0032 and 0.0022 for the two risk
    # differences) and only its being positive is asserted
    ser = steps.set_index(["method", "factor"])
    unpaired = grid.mcse_risk_difference.max() * np.sqrt(2)
    assert 0 < ser.loc[("one_at_a_time", "steroids"), "mcse_delta_risk_difference"] < (
        unpaired / 2)
    assert ser.loc[("one_at_a_time", "serology"), "mcse_delta_risk_difference"] > 0
    assert (grid.mcse_risk_difference > 0).all()
    assert (out / "waterfall.png").stat().st_size > 0


def test_calibrate_cross_validation_predicts_each_held_out_trial(tmp_path, capsys):
    """--cross-validate fits without each scenario in turn and predicts it: every held-out
    target gets a prediction interval, and the coverage table counts the covered ones."""
    out = tmp_path / "cv"
    spec = small_spec(tmp_path, covariance_replicates=20)
    assert main(["calibrate", str(spec), "--out", str(out), "--max-evaluations", "2",
                 "--cross-validate"]) == 0
    cv = pd.read_csv(out / "cross_validation.csv")
    assert list(cv.held_out) == ["bliss52", "bliss76", "all"]
    for name in ("bliss52", "bliss76"):
        h = pd.read_csv(out / f"holdout_{name}.csv")
        assert set(h.scenario) == {name} and not h.fitted.any()
        assert (h.prediction_low < h.prediction_high).all()
        row = cv[cv.held_out == name].iloc[0]
        assert row.targets == len(h) and row.covered == h.inside_prediction.sum()
    assert cv.iloc[-1].targets == cv.iloc[:2].targets.sum()


@pytest.mark.parametrize("extra, message", [
    (["--hold-out", "bliss99"], "--hold-out 'bliss99' is not a scenario"),
    (["--hold-out", "bliss52", "--cross-validate"], "give one"),
])
def test_calibrate_hold_out_options_are_checked(tmp_path, capsys, extra, message):
    out = tmp_path / "x"
    assert main(["calibrate", str(small_spec(tmp_path)), "--out", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_calibrate_names_a_target_whose_moment_cannot_be_simulated(tmp_path, capsys):
    """SRI-8 at week 4 in 50 patients per arm has no responders: its log odds ratio is not
    finite. The fit used to end in scipy's 'Residuals are not finite' traceback."""
    spec = yaml.safe_load(small_spec(tmp_path, patients_per_arm=50).read_text())
    spec["targets"].append({"scenario": "bliss52", "endpoint": "sri8", "week": 4,
                            "comparison": "bel1_vs_placebo", "counts": [[2, 100], [1, 100]]})
    p = tmp_path / "nan.yaml"
    p.write_text(yaml.safe_dump(spec))
    assert main(["calibrate", str(p), "--out", str(tmp_path / "o"),
                 "--max-evaluations", "2"]) == 2
    err = capsys.readouterr().err
    assert "bliss52:sri8:w4:bel1_vs_placebo:crude" in err and "not finite" in err


def _spec_with_waning(tmp_path, alone=False, prior=None, start=10.0, **extra):
    """The small spec plus the waning half-life, which week-52 targets cannot inform (the
    effect wanes only after week 52); ``alone``: the only free parameter; ``prior``: its
    informative prior."""
    from trialsim.experiments.calibration import load_spec

    p = small_spec(tmp_path, covariance_replicates=20, **extra)
    spec = yaml.safe_load(p.read_text())
    if alone:
        spec["parameters"] = {}
    spec["parameters"]["waning"] = {"paths": ["drug.waning_half_life_weeks"],
                                    "bounds": [2.0, 400.0] if prior else [4.0, 400.0],
                                    "scale": "log", "start": start, "why": "test"}
    if prior:
        spec["parameters"]["waning"]["prior"] = prior
    p.write_text(yaml.safe_dump(spec))
    return load_spec(p)


def test_calibrate_holds_an_uninformed_parameter_by_its_prior(tmp_path):
    """The bounds' prior is part of the objective: a parameter no fitted target informs ends
    at the centre of its range (geometric, on a log scale) with the prior's SD (range / 4 on
    the optimizer's scale), wherever it started; without the prior it would stay at its
    start (10 weeks) and its SD would be that of the prior only by the covariance's
    construction (the simulation noise inflates the moments' variance, not the prior's)."""
    from trialsim.experiments.calibration import calibrate

    spec, scenarios = _spec_with_waning(tmp_path, alone=True)
    res = calibrate(spec, scenarios, max_evaluations=10, log=None)
    j = list(spec.parameters).index("waning")
    assert res.start[j] == 10.0
    assert res.theta[j] == pytest.approx(np.sqrt(4.0 * 400.0), rel=1e-3)
    assert np.abs(res.gradient[:, j]).max() == 0.0  # no target moves with it
    assert np.sqrt(res.cov[j, j]) == pytest.approx(np.log(100.0) / 4, rel=1e-6)
    # the reported distance is the moments' alone: the prior's terms are not in J
    fitted = res.fitted
    r = np.linalg.solve(np.linalg.cholesky(res.sampling_cov[np.ix_(fitted, fitted)]),
                        (res.simulated - [t.observed for t in spec.targets])[fitted])
    assert 2 * res.cost == pytest.approx(float(r @ r), rel=1e-9)


def test_an_informative_prior_replaces_the_bounds_prior(tmp_path):
    """A parameter's own prior (a 95% interval, log scale here) replaces its bounds' weak
    one: an uninformed parameter ends at the interval's geometric centre, with the prior's SD
    ((log 24 - log 3) / 3.92) in its covariance, not the range's (log 200 / 4), and the
    table says where the prior comes from."""
    from trialsim.experiments.calibration import calibrate

    prior = {"interval": [3.0, 24.0], "source": "a test's source"}
    spec, scenarios = _spec_with_waning(tmp_path, alone=True, prior=prior)
    res = calibrate(spec, scenarios, max_evaluations=10, log=None)
    assert res.theta[0] == pytest.approx(np.sqrt(3.0 * 24.0), rel=1e-3)
    assert np.sqrt(res.cov[0, 0]) == pytest.approx(np.log(8.0) / (2 * 1.959964), rel=1e-5)
    row = res.parameter_table().iloc[0]
    assert (row.prior_low, row.prior_high, row.prior_source) == (3.0, 24.0, "a test's source")


def test_an_informative_prior_without_the_bounds_prior(tmp_path):
    """``prior_sds: 0`` switches the bounds' weak prior off, not a parameter's own: the
    uninformed half-life, started far from it (100 weeks), is pulled inside its prior's 95%
    interval (the rough simulated objective stops the optimizer short of the centre) and
    keeps the prior's SD, while emax and the background therapy, which the targets inform, have
    no prior term."""
    from trialsim.experiments.calibration import calibrate

    prior = {"interval": [3.0, 24.0], "source": "a test's source"}
    spec, scenarios = _spec_with_waning(tmp_path, prior=prior, start=100.0, prior_sds=0.0)
    assert [p.prior_normal(0.0)[1] for p in spec.parameters.values()][:2] == [np.inf] * 2
    res = calibrate(spec, scenarios, max_evaluations=60, log=None)
    j = list(spec.parameters).index("waning")
    assert 3.0 < res.theta[j] < 24.0  # inside its prior's 95% interval (without it: 100)
    assert np.sqrt(res.cov[j, j]) == pytest.approx(np.log(8.0) / (2 * 1.959964), rel=1e-5)


def test_a_held_out_fit_drops_a_prior_that_uses_the_held_out_trial(tmp_path):
    """A prior that restates a trial's results (``uses``) is not used when that trial is
    held out: the held-out fit's half-life falls back to the bounds' weak prior (geometric
    centre of [2, 400], SD log(200) / 4); holding out the other trial keeps it."""
    from trialsim.experiments.calibration import calibrate

    prior = {"interval": [3.0, 24.0], "source": "a test's source", "uses": ["bliss76"]}
    spec, scenarios = _spec_with_waning(tmp_path, alone=True, prior=prior)
    held = calibrate(spec, scenarios, max_evaluations=10, log=None, hold_out="bliss76")
    assert held.theta[0] == pytest.approx(np.sqrt(2.0 * 400.0), rel=1e-3)
    assert np.sqrt(held.cov[0, 0]) == pytest.approx(np.log(200.0) / 4, rel=1e-5)
    kept = calibrate(spec, scenarios, max_evaluations=10, log=None, hold_out="bliss52")
    assert kept.theta[0] == pytest.approx(np.sqrt(3.0 * 24.0), rel=1e-3)


@pytest.mark.parametrize("prior, message", [
    ({"interval": [24.0, 3.0], "source": "x"}, "must be increasing"),
    ({"interval": [1.0, 24.0], "source": "x"}, "inside the bounds"),
    ({"interval": [3.0, 24.0], "source": ""}, "source"),
    ({"interval": [3.0, 24.0]}, "source"),
    ({"interval": [3.0, 24.0], "source": "  "}, "source"),
    ({"interval": [3.0, 24.0], "source": "x", "uses": ["bliss99"]}, "bliss99"),
])
def test_a_bad_prior_is_refused_with_its_path(tmp_path, capsys, prior, message):
    p = small_spec(tmp_path)
    spec = yaml.safe_load(p.read_text())
    spec["parameters"]["waning"] = {"paths": ["drug.waning_half_life_weeks"],
                                    "bounds": [2.0, 400.0], "scale": "log", "prior": prior}
    p.write_text(yaml.safe_dump(spec))
    assert main(["calibrate", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "parameters.waning" in err and message in err
    assert not (tmp_path / "o").exists()


def test_a_held_out_fit_starts_from_the_centre_of_the_ranges(tmp_path):
    """Leave-one-trial-out must not start from the shipped values (fitted to the held-out
    trial too): a held-out fit starts from the centre of every range."""
    from trialsim.experiments.calibration import MomentSimulator, calibrate

    spec, scenarios = _spec_with_waning(tmp_path)
    res = calibrate(spec, scenarios, max_evaluations=1, log=None, hold_out="bliss76")
    bounds = np.array([p.bounds for p in spec.parameters.values()])
    centre = bounds.mean(axis=1)
    centre[-1] = np.sqrt(bounds[-1].prod())  # log scale: geometric centre
    assert res.start == pytest.approx(centre, rel=1e-12)
    # and each scenario's simulated trials have their own seed (no shared random numbers)
    sim = MomentSimulator(spec, scenarios)
    assert sim.seed("bliss52") != sim.seed("bliss76")
    assert sim.scenario("bliss76", res.theta).seed == sim.seed("bliss76")


@pytest.mark.parametrize("change, message", [
    ({"endpoint": "sri44"}, "'sri44'"),
    ({"week": 200}, "200"),
])
def test_a_target_the_scenario_cannot_simulate_is_refused_when_read(tmp_path, capsys, change,
                                                                    message):
    """An unknown endpoint or a week beyond the trial is refused when the spec is read, naming
    the target and the value, before anything is simulated or written."""
    spec = yaml.safe_load(small_spec(tmp_path).read_text())
    spec["targets"][0].update(change)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(spec))
    assert main(["calibrate", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "targets[0]" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_a_subgroup_target_pools_its_trials_patient_by_patient(tmp_path):
    """A pooled subgroup moment is the subgroup's responders over its patients, added across
    the trials in proportion to their published sizes, counted here independently in the
    same simulated trials; and, counted in the very trials that give the whole-trial moments,
    it correlates with them (the subgroup is part of each trial), which independent
    simulations of the subgroup would not."""
    from trialsim.analysis.endpoints import ENDPOINTS
    from trialsim.experiments.calibration import MomentSimulator, load_spec, start_values
    from trialsim.run.trial import ReplicatePatients

    spec = yaml.safe_load((ROOT / "configs/calibration.yaml").read_text())
    spec["scenarios"] = {k: str(ROOT / "configs" / v) for k, v in spec["scenarios"].items()}
    spec["patients_per_arm"] = 300
    spec["targets"] = [t for t in spec["targets"] if t["endpoint"] == "sri4" and t["week"] == 52
                       and t.get("arm") == "placebo" or t.get("subgroup")]
    p = tmp_path / "sub.yaml"
    p.write_text(yaml.safe_dump(spec))
    spec, scenarios = load_spec(p)
    sim = MomentSimulator(spec, scenarios)
    theta = start_values(spec, scenarios)
    moments = sim(theta)
    k = {t.label: i for i, t in enumerate(spec.targets)}
    events, n = {}, {}
    for name in ("bliss52", "bliss76"):
        sc = sim.scenario(name, theta)
        trial = ReplicatePatients(sc)(0)
        c = trial.cohort
        sero = c.anti_dsdna & (c.low_c3 | c.low_c4)
        flags = ENDPOINTS["sri4"](trial, 52 // sc.design.visit_interval_weeks)
        w = scenarios[name].design.sample_size / sc.design.sample_size
        for a, arm in enumerate(sc.design.arms):
            mask = sero & (trial.arm == a)
            events[arm] = events.get(arm, 0.0) + w * flags[mask].sum()
            n[arm] = n.get(arm, 0.0) + w * mask.sum()
        # the whole trial's placebo rate, from the compiled trial, is these patients' too
        assert moments[k[f"{name}:sri4:w52:placebo"]] == pytest.approx(
            flags[trial.arm == 0].mean(), abs=1e-12)
    rate = {arm: events[arm] / n[arm] for arm in events}
    pooled = "bliss52+bliss76:sri4:w52"
    assert moments[k[f"{pooled}:placebo[serologically_active]"]] == pytest.approx(
        rate["placebo"], rel=1e-12)
    logit = {arm: np.log(r / (1 - r)) for arm, r in rate.items()}
    assert moments[k[f"{pooled}:bel10_vs_placebo:crude[serologically_active]"]] == (
        pytest.approx(logit["bel10"] - logit["placebo"], rel=1e-12))
    # week 76 is BLISS-76's alone; the subgroup is about half of each trial
    assert 0.3 < n["placebo"] / (scenarios["bliss52"].design.sample_size / 3
                                 + scenarios["bliss76"].design.sample_size / 3) < 0.7
    reps = sim.replicates(theta, 80)
    assert np.isfinite(reps).all()
    r = np.corrcoef(reps[:, k[f"{pooled}:placebo[serologically_active]"]],
                    reps[:, k["bliss52:sri4:w52:placebo"]])[0, 1]
    assert r > 0.25, r
