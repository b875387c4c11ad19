"""Power curves, sweeps and the sample-size search: structure, reproducibility, algorithms."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr, ndtri

import trialsim.run.backends as backends
from trialsim.cli import main
from trialsim.config.scenario import ScenarioError, with_overrides
from trialsim.experiments.power import (
    RunSettings,
    power_curve,
    select_targets,
    sweep,
    sweep_points,
    tornado_table,
)
from trialsim.experiments.samplesize import find_sample_size, fit_probit_sqrt
from trialsim.run.backends import chunk_ranges, run_scenarios
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan, run_chunk
from trialsim.summarize.mcse import wilson_interval
from trialsim.summarize.tables import summarize, whole_trial

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

FAST = RunSettings(replicates=6, chunk_size=3, n_jobs=1, progress=False)
TINY_SET = ["--set", "design.duration_weeks=24", "--set", "design.endpoint_weeks=[12,24]"]


# --------------------------------------------------------------------------- helpers


def test_chunk_ranges_cut_at_multiples_of_the_chunk_size():
    assert chunk_ranges(0, 7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert chunk_ranges(5, 11, 4) == [(5, 8), (8, 11)]
    assert chunk_ranges(4, 4, 4) == []


def test_wilson_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    p = np.array([0.0, 0.05, 0.5, 0.93, 1.0])
    lo, hi = wilson_interval(p, 200)
    ref = proportion_confint(np.round(p * 200), 200, alpha=0.05, method="wilson")
    assert np.allclose(lo, ref[0], atol=1e-7) and np.allclose(hi, ref[1], atol=1e-7)


def test_probit_fit_matches_statsmodels():
    import statsmodels.api as sm

    sizes = np.array([300.0, 450.0, 600.0, 800.0])
    hits = np.array([61, 98, 129, 160])
    trials = 200
    a, b, centre, scale = fit_probit_sqrt(sizes, hits[None, :], trials)
    x = (np.sqrt(sizes) - centre) / scale
    endog = np.column_stack([hits, trials - hits])
    glm = sm.GLM(endog, sm.add_constant(x), family=sm.families.Binomial(sm.families.links.Probit()))
    ref = glm.fit(tol=1e-12).params
    assert np.allclose([a[0], b[0]], ref, atol=1e-6)


def test_select_targets_defaults_and_errors(tiny):
    eps, wks, comps = select_targets(tiny)
    assert eps == [tiny.analysis.endpoints[0]] and wks == [12]
    assert comps == ["bel1_vs_placebo", "bel10_vs_placebo"]
    assert select_targets(tiny, None, ["all"])[1] == [12, 24]
    with pytest.raises(ScenarioError, match="--comparison bel5_vs_placebo: not in this scenario"):
        select_targets(tiny, comparisons=["bel5_vs_placebo"])
    with pytest.raises(ScenarioError, match="--week 52"):
        select_targets(tiny, weeks=[52])


def test_identical_scenarios_are_simulated_once(tiny, monkeypatch):
    calls = []

    def counting(scenario, start, stop):
        calls.append(start)
        return run_chunk(scenario, start, stop)

    monkeypatch.setattr(backends, "run_chunk", counting)
    renamed = with_overrides(tiny, {"name": "other"})
    a, b = run_scenarios([tiny, renamed], 4, 2, progress=False)
    assert calls == [0, 2]
    assert np.array_equal(a.analysis, b.analysis, equal_nan=True)


# --------------------------------------------------------------------------- power curves


def test_power_curve_table_and_crn_points(tiny):
    table = power_curve(tiny, [60, 90], weeks=["all"], settings=FAST)
    assert list(table.columns) == [
        "scenario", "sample_size", "endpoint", "week", "comparison", "statistic", "value",
        "mcse", "ci_low", "ci_high", "replicates",
    ]
    # 2 sizes × 1 endpoint × 2 weeks × 2 comparisons × 3 statistics (two powers, and the
    # share of analysable trials)
    assert len(table) == 24 and set(table.sample_size) == {60, 90}
    assert set(table.statistic) == {"power", "power_favoring_treatment", "analyzable"}
    assert (table.ci_low <= table.value).all() and (table.value <= table.ci_high).all()
    # each point is exactly the scenario at that size with the same seed (same replicates)
    at60 = with_overrides(tiny, {"design.sample_size": 60})
    ref = whole_trial(summarize(Plan(at60), simulate(at60, replicates=6, progress=False)))
    ref = ref[(ref.statistic == "power") & (ref.endpoint == "sri4")].set_index(["week",
                                                                                 "comparison"])
    got = table[(table.sample_size == 60) & (table.statistic == "power")]
    for _, r in got.iterrows():
        assert r.value == ref.loc[(r.week, r.comparison), "value"]
        assert r.mcse == ref.loc[(r.week, r.comparison), "mcse"]


def test_power_curve_is_identical_for_any_n_jobs_and_chunking(tiny):
    a = power_curve(tiny, [60, 90], endpoints=["all"], settings=FAST)
    b = power_curve(
        tiny, [90, 60], endpoints=["all"],
        settings=RunSettings(replicates=6, chunk_size=2, n_jobs=2, progress=False),
    )
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_power_curve_rejects_bad_sizes(tiny):
    with pytest.raises(ScenarioError, match="--sizes 3: not a valid scenario"):
        power_curve(tiny, [3, 60], settings=FAST)


# --------------------------------------------------------------------------- sweeps


def test_sweep_grids():
    full = sweep_points({"a.x": [1, 2], "b.y": [3, 4, 5]})
    assert len(full) == 6 and full[0] == ("", {"a.x": 1, "b.y": 3})
    oat = sweep_points({"a.x": [1, 2], "b.y": [3]}, "oat")
    assert oat == [("", {}), ("a.x", {"a.x": 1}), ("a.x", {"a.x": 2}), ("b.y", {"b.y": 3})]
    with pytest.raises(ScenarioError, match="nothing to sweep"):
        sweep_points({})
    with pytest.raises(ScenarioError, match="engine"):
        sweep_points({"engine.replicates": [1, 2]})


def test_sweep_table_has_grid_columns_and_exact_points(tiny):
    factors = {"drug.emax": [0.2, 0.8], "design.endpoint_weeks": [[12], [12, 24]]}
    table = sweep(tiny, factors, settings=FAST)
    assert list(table.columns[:4]) == ["point", "varied", "drug.emax", "design.endpoint_weeks"]
    assert sorted(table.point.unique()) == [0, 1, 2, 3]
    assert set(table["design.endpoint_weeks"]) == {"[12]", "[12, 24]"}
    # point 1 = emax 0.2, weeks [12, 24]: the same numbers as simulating it directly
    sc = with_overrides(tiny, {"drug.emax": 0.2, "design.endpoint_weeks": [12, 24]})
    ref = whole_trial(summarize(Plan(sc), simulate(sc, replicates=6, progress=False)))
    got = table[table.point == 1][ref.columns].reset_index(drop=True)
    ref = ref.reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


def test_sweep_uses_the_scenario_sweep_block(tiny):
    sc = with_overrides(tiny, {"sweep": {"drug.emax": [0.2, 0.3]}})
    table = sweep(sc, settings=FAST)
    assert set(table["drug.emax"]) == {0.2, 0.3}


def test_sweep_error_names_option_and_value(tiny):
    with pytest.raises(ScenarioError, match=r"--sweep drug.emax=-1: not a valid scenario"):
        sweep(tiny, {"drug.emax": [0.2, -1]}, settings=FAST)


def test_tornado_table_orders_factors_by_range():
    rows = []

    def add(point, varied, value):
        rows.append(dict(point=point, varied=varied, endpoint="sri4", week=52,
                         comparison="c", statistic="power", value=value, mcse=0.01,
                         a=point, b=point))

    add(0, "", 0.5)
    add(1, "a", 0.45)
    add(2, "a", 0.55)
    add(3, "b", 0.2)
    add(4, "b", 0.9)
    tor = tornado_table(pd.DataFrame(rows), "sri4", 52, "c")
    assert list(tor.factor) == ["b", "a"]
    assert tor.iloc[0][["low", "high", "base"]].tolist() == [0.2, 0.9, 0.5]
    assert tor.iloc[0].low_value == "3" and tor.iloc[0].high_value == "4"


# --------------------------------------------------------------------------- sample size


def _synthetic(delta: float, z: float, replicates: int, seed: int):
    """A CRN power model with a known root: replicate r rejects at N iff δ√N + e_r > z."""
    e = np.random.default_rng(seed).standard_normal(replicates)
    calls = []

    def evaluate(ns):
        calls.append(list(ns))
        return {n: delta * np.sqrt(n) + e > z for n in ns}

    return evaluate, calls


@pytest.mark.parametrize("start", [150, 900, 3000])
def test_sample_size_search_finds_the_known_root(start):
    delta, z, target = 0.1, 1.96, 0.8
    truth = ((z + ndtri(target)) / delta) ** 2  # 784.9
    evaluate, calls = _synthetic(delta, z, 2000, seed=1)
    res = find_sample_size(evaluate, target, start, 3, 12, 20000, bootstrap=400,
                           rng=np.random.default_rng(2))
    assert abs(res.n_estimate - truth) < 4 * res.n_se
    assert 10 < res.n_se < 60  # binomial SE of power 0.009, slope ~2.2e-4 per patient
    assert res.n_required % 3 == 0 and res.n_required >= res.n_estimate
    assert res.n_low <= res.n_required <= res.n_high
    assert abs(res.power_fit - ndtr(delta * np.sqrt(res.n_required) - z)) < 4 * res.power_fit_se
    assert set(res.points.stage) == {"bracket", "local"}
    assert all(len(c) <= 3 for c in calls)


def test_sample_size_bootstrap_se_matches_the_spread_over_seeds():
    delta, z, target = 0.1, 1.96, 0.9
    estimates, ses = [], []
    for seed in range(12):
        evaluate, _ = _synthetic(delta, z, 400, seed=seed)
        res = find_sample_size(evaluate, target, 1000, 1, 10, 20000, bootstrap=300,
                               rng=np.random.default_rng(seed))
        estimates.append(res.n_estimate)
        ses.append(res.n_se)
    ratio = np.std(estimates, ddof=1) / np.mean(ses)
    assert 0.5 < ratio < 2.0


def test_sample_size_limits():
    evaluate, _ = _synthetic(1.0, 1.96, 500, seed=3)
    res = find_sample_size(evaluate, 0.8, 100, 3, 30, 10000, bootstrap=50)
    assert res.n_required == 30 and "smallest size searched" in res.note
    evaluate, _ = _synthetic(0.001, 1.96, 500, seed=3)
    with pytest.raises(ScenarioError, match="not reached up to N = 999"):
        find_sample_size(evaluate, 0.8, 100, 3, 30, 1000, bootstrap=50)
    with pytest.raises(ScenarioError, match="--target-power 1.2"):
        find_sample_size(evaluate, 1.2, 100, 3, 30, 1000)


# --------------------------------------------------------------------------- command line


def _cli(*args: str) -> int:
    return main([*args, *TINY_SET])


def test_cli_power_writes_outputs(tmp_path, capsys):
    out = tmp_path / "p"
    rc = _cli("power", str(CONFIGS / "bliss76.yaml"), "--sizes", "60,90", "--replicates", "4",
              "--chunk-size", "2", "--out", str(out), "--target", "0.8")
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {
        "power.csv", "sample_size_by_endpoint.csv", "power.png", "endpoint_sensitivity.png",
        "run.json"}
    table = pd.read_csv(out / "power.csv")
    assert set(table.sample_size) == {60, 90}
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "power" and run["sizes"] == [60, 90]
    assert "sample_size" in capsys.readouterr().out
    # an explicit checkpoint directory is kept, and a rerun loads everything from it
    ck = tmp_path / "ck"
    args = ["power", str(CONFIGS / "bliss76.yaml"), "--sizes", "60,90", "--replicates", "4",
            "--chunk-size", "2", "--out", str(tmp_path / "q"), "--checkpoint", str(ck), "--quiet"]
    assert _cli(*args) == 0
    assert len(list(ck.rglob("chunk-*.npz"))) == 4
    assert (tmp_path / "q" / "power.csv").read_bytes() == (out / "power.csv").read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["power", "--sizes", "300,4x0"], "argument --sizes: '4x0' is not a whole number"),
        (["power", "--sizes", "300,-5"],
         "argument --sizes: -5 is not a sample size of 1 to 100,000"),
        (["power", "--sizes", "60,3"], "--sizes 3: not a valid scenario"),
        (["power", "--sizes", "60", "--endpoint", "sri9"], "--endpoint sri9: not in this"),
        (["sweep", "--sweep", "drug.emax"], "argument --sweep: 'drug.emax': expected PATH="),
        (["sweep", "--sweep", "drug.emax="], "argument --sweep: 'drug.emax=': give at least"),
        (["sweep", "--sweep", "drug.emax=[1"], "argument --sweep: 'drug.emax=[1': cannot read"),
        (["sweep", "--sweep", "drug.emaxx=1,2"], "--sweep drug.emaxx=1: not a valid scenario"),
        (["sweep"], "nothing to sweep"),
        (["samplesize", "--target-power", "1.5"], "--target-power 1.5"),
        (["run", "--set", "screening.min_sledai=60"], "pass the entry criteria"),
        (["power", "--sizes", "60", "--set", "screening.min_sledai=60"], "pass the entry"),
        (["run", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --backend dask"),
    ],
)
def test_cli_bad_experiment_input_exits_2_with_a_message(tmp_path, capsys, args, message):
    command, *rest = args
    with pytest.raises(SystemExit) if "argument" in message else contextlib.nullcontext():
        rc = _cli(command, str(CONFIGS / "bliss76.yaml"), *rest, "--out", str(tmp_path / "o"),
                  "--replicates", "2", "--quiet")
        assert rc == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()  # nothing written, not even a checkpoint


# --------------------------------------------------------------------------- figures


def _power_rows(x_name: str, xs, comparisons=("c1", "c2")) -> pd.DataFrame:
    rows = []
    for c, comp in enumerate(comparisons):
        for i, x in enumerate(xs):
            rows.append({x_name: x, "endpoint": "sri4", "week": 52, "comparison": comp,
                         "statistic": "power", "value": 0.2 + 0.1 * i + 0.05 * c,
                         "mcse": 0.01})
    return pd.DataFrame(rows)


def test_power_lines_plot_one_line_per_series_in_x_order():
    from trialsim.report.plots_experiments import plot_power_curve

    table = _power_rows("sample_size", [600, 300, 450]).sample(frac=1, random_state=1)
    fig = plot_power_curve(table, target=0.9)
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert len(lines) == 2
    assert list(lines[0].get_xdata()) == [300, 450, 600]
    assert np.allclose(lines[0].get_ydata(), [0.3, 0.4, 0.2])
    assert ax.get_legend().get_title().get_text() == "SRI-4, week 52"
    with pytest.raises(ValueError, match="missing required column"):
        plot_power_curve(table.drop(columns="mcse"))


def test_heatmap_holds_the_grid():
    from trialsim.report.plots_experiments import plot_sweep_heatmap

    rows = [{"a": a, "b": b, "endpoint": "sri4", "week": 52, "comparison": "c",
             "statistic": "power", "value": a * b, "mcse": 0.01}
            for a in (0.5, 1.0) for b in (0.2, 0.4, 0.6)]
    fig = plot_sweep_heatmap(pd.DataFrame(rows), "a", "b", "sri4", 52, "c")
    grid = fig.axes[0].get_images()[0].get_array()
    assert grid.shape == (3, 2)
    assert np.allclose(grid[2], [0.3, 0.6])  # b = 0.6 row: a = 0.5, 1.0


def test_tornado_and_sample_size_figures():
    from trialsim.report.plots_experiments import plot_sample_size, plot_tornado

    tor = pd.DataFrame([
        {"factor": "a", "base": 0.5, "low": 0.3, "low_mcse": 0.01, "low_value": "1",
         "high": 0.8, "high_mcse": 0.01, "high_value": "2", "range": 0.5},
        {"factor": "b", "base": 0.5, "low": 0.55, "low_mcse": 0.01, "low_value": "3",
         "high": 0.6, "high_mcse": 0.01, "high_value": "4", "range": 0.05},
    ])
    ax = plot_tornado(tor).axes[0]
    widths = sorted(round(p.get_width(), 6) for p in ax.patches if p.get_width() != 0)
    assert widths == [0.05, 0.2, 0.3]  # a: 0.2 below and 0.3 above the base; b: 0.05 above
    evaluate, _ = _synthetic(0.1, 1.96, 300, seed=4)
    res = find_sample_size(evaluate, 0.8, 400, 3, 12, 5000, bootstrap=50)
    fig = plot_sample_size(res.points, res)
    assert fig.axes[0].get_xlabel() == "total sample size N"


def test_confirmation_and_json_summary():
    evaluate, _ = _synthetic(0.1, 1.96, 1000, seed=5)
    res = find_sample_size(evaluate, 0.8, 700, 3, 12, 5000, bootstrap=100)
    fresh = np.zeros(400, dtype=bool)
    fresh[:380] = True  # 0.95: far above the target
    res.add_confirmation(fresh)
    assert res.confirm_power == 0.95 and res.confirmed
    assert "significantly above" in res.note
    assert res.points.iloc[-1].stage == "confirm"
    data = json.loads(json.dumps(res.to_dict()))
    assert data["n_required"] == res.n_required and data["fit"]["b"] > 0
    low = np.zeros(400, dtype=bool)
    low[:280] = True  # 0.70: below
    res.add_confirmation(low)
    assert not res.confirmed and "significantly below" in res.note


def test_quantile_mcse_keeps_infinite_medians():
    """Trials whose KM curve never reaches 0.5 have an infinite median: they count."""
    from trialsim.summarize.tables import quantile_mcse

    x = np.array([100.0, 110.0, np.inf, np.inf, np.inf, np.nan])
    value, _ = quantile_mcse(x, 0.5)
    assert value == np.inf
    value, _ = quantile_mcse(np.array([100.0, 110.0, 120.0, np.inf, np.nan]), 0.5)
    assert value == 110.0
