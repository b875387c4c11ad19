"""YAML → CLI → results folder, on a tiny scenario; user errors exit 2 without a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from trialsim.cli import main
from trialsim.config.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
TINY_SET = [
    "--set",
    "design.sample_size=90",
    "--set",
    "design.duration_weeks=24",
    "--set",
    "design.endpoint_weeks=[12,24]",
]


def test_cli_run_writes_every_output(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(
        [
            "run",
            str(ROOT / "configs/bliss76.yaml"),
            "--replicates",
            "5",
            "--n-jobs",
            "1",
            "--seed",
            "7",
            "--out",
            str(out),
            "--quiet",
            *TINY_SET,
        ]
    )
    assert rc == 0
    for f in (
        "summary.csv",
        "replicates/part-000000000.parquet",
        "trials/part-000000000.parquet",
        "baseline.csv",
        "trajectory.csv",
        "run.json",
        "response_rates.png",
        "power.png",
        "odds_ratio_distribution.png",
        "sledai_trajectory.png",
        "forest_sri4_week12.png",
        "forest_sri4_week24.png",
    ):
        assert (out / f).stat().st_size > 0, f
    assert not list(out.glob(".*tmp")) and not list(out.parent.glob(".*staging*"))
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == [
        "scenario",
        "endpoint",
        "week",
        "arm",
        "comparison",
        "subgroup",
        "level",
        "statistic",
        "value",
        "mcse",
    ]
    stats = set(summary.statistic)
    assert {"response_rate", "power", "odds_ratio_median", "risk_difference_mean"} <= stats
    assert set(summary[summary.endpoint != "screening"].week.unique()) == {12, 24}
    assert set(summary[summary.endpoint == "screening"].week) == {0}  # at screening
    flare = summary[summary.endpoint == "time_to_first_flare"]
    assert {"km_median_days", "hazard_ratio_median", "power"} <= set(flare.statistic)
    reps = pd.read_parquet(out / "replicates")
    n_endpoints = len(load_scenario(ROOT / "configs/bliss76.yaml").analysis.endpoints)
    assert len(reps) == 5 * n_endpoints * 2 * 2  # replicates × endpoints × weeks × comparisons
    trials = pd.read_parquet(out / "trials")
    assert list(trials.replicate) == list(range(5))
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 7 and run["replicates"] == 5 and run["n_jobs"] == 1
    assert len(run["scenario_sha256"]) == 64
    base = pd.read_csv(out / "baseline.csv")
    assert set(base.arm) == {"placebo", "bel1", "bel10", "overall"}


def test_same_seed_same_summary(tmp_path):
    args = [
        "run",
        str(ROOT / "configs/bliss76.yaml"),
        "--replicates",
        "3",
        "--quiet",
        "--no-figures",
        *TINY_SET,
    ]
    main([*args, "--out", str(tmp_path / "a")])
    main([*args, "--out", str(tmp_path / "b")])
    a = (tmp_path / "a/summary.csv").read_bytes()
    assert a == (tmp_path / "b/summary.csv").read_bytes()
    main([*args, "--out", str(tmp_path / "c"), "--seed", "99"])
    assert a != (tmp_path / "c/summary.csv").read_bytes()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--set", "population.anti_dsdna=2"], "population.anti_dsdna"),
        (["--set", "design.arms.bel10.dose_mg_kg=-3"], "design.arms.bel10.dose_mg_kg"),
        (["--set", "design.control=soc"], "control arm 'soc'"),
        (["--set", "design.sampel_size=3"], "design.sampel_size = 3: unknown field"),
        (["--set", "desgn.sample_size=3"], "no field 'desgn'"),
        (["--set", "nonsense"], "expected PATH=VALUE"),
    ],
)
def test_cli_bad_input_exit_2_no_traceback_nothing_written(tmp_path, extra, needle):
    out = tmp_path / "never"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trialsim.cli",
            "run",
            str(ROOT / "configs/bliss76.yaml"),
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_cli_bad_option_value(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "trialsim.cli", "run", "configs/bliss76.yaml", "--replicates", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and "--replicates" in proc.stderr and "at least 1" in proc.stderr


def test_a_rerun_replaces_its_outputs_and_keeps_everything_else(tmp_path):
    """The results folder of a run also holds other commands' results (``power/`` is the
    default output of ``trialsim power``) and the user's files: a rerun replaces the run's
    own outputs as one unit and keeps them."""
    out = tmp_path / "res"
    args = ["run", str(ROOT / "configs/bliss76.yaml"), "--replicates", "2", "--n-jobs", "1",
            "--out", str(out), "--quiet", "--no-figures", *TINY_SET]
    assert main(args) == 0
    (out / "power").mkdir()
    (out / "power" / "power.csv").write_text("kept\n")
    (out / "notes.txt").write_text("mine\n")
    (out / "summary.csv").write_text("stale\n")
    assert main([*args, "--replicates", "3"]) == 0
    assert (out / "power" / "power.csv").read_text() == "kept\n"
    assert (out / "notes.txt").read_text() == "mine\n"
    assert (out / "summary.csv").read_text() != "stale\n"
    assert json.loads((out / "run.json").read_text())["replicates"] == 3
    assert len(pd.read_parquet(out / "trials")) == 3
    assert not list(tmp_path.glob(".*"))  # no staging or old folder left behind


def test_the_working_directory_is_not_a_results_folder(tmp_path, monkeypatch, capsys):
    """A run replaces its results folder as a whole: --out . (or a folder containing the
    working directory) is refused before anything is simulated or moved."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine\n")
    for out in (".", str(tmp_path.parent)):
        rc = main(["run", str(ROOT / "configs/bliss76.yaml"), "--replicates", "2",
                   "--out", out, "--quiet", "--no-figures", *TINY_SET])
        assert rc == 2
        err = capsys.readouterr().err
        assert "--out" in err and "current directory" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_only_dead_runs_staging_folders_are_removed(tmp_path):
    import os

    from trialsim.experiments.pipeline import remove_dead_staging

    final = tmp_path / "res"
    live = tmp_path / f".res.staging-{os.getpid()}-aaaa"
    dead = tmp_path / ".res.staging-999999999-bbbb"
    mine = tmp_path / f".res.staging-{os.getpid()}-cccc"
    for d in (live, dead, mine):
        d.mkdir()
    remove_dead_staging(final, keep=mine)
    assert live.exists() and mine.exists() and not dead.exists()
