"""Issue 14, items 6 and 15: targets that make no sense are refused, the CLI keeps the
YAML's limits, and a long run is announced with an estimate of its time and disk."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from trialsim.cli import main
from trialsim.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs/bliss76.yaml")
SMALL = ["--replicates", "3", "--n-jobs", "1", "--no-figures", "--set", "design.sample_size=60"]


# --------------------------------------------------------------------------- item 6


@pytest.mark.parametrize("target", ["0.05", "0.04", "0.01"])
def test_samplesize_target_at_or_below_alpha_is_refused(tmp_path, capsys, target):
    """Power <= alpha is reached without any treatment effect: no N answers it."""
    out = tmp_path / "never"
    rc = main(["samplesize", CONFIG, "--target-power", target, *SMALL, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"--target-power {target}" in err and "alpha" in err and "0.05" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_samplesize_api_refuses_target_at_alpha(tiny):
    from trialsim.config.scenario import ScenarioError
    from trialsim.experiments.power import sample_size

    with pytest.raises(ScenarioError, match="alpha"):
        sample_size(tiny, tiny.analysis.alpha)


@pytest.mark.parametrize("target", ["1.5", "1", "0", "-0.2", "nan"])
def test_power_target_outside_0_1_is_refused(tmp_path, capsys, target):
    out = tmp_path / "never"
    rc = main(["power", CONFIG, "--sizes", "30", "--target", target, *SMALL, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"--target {target}" in err and "between 0 and 1" in err
    assert not out.exists()


def test_confirmation_z_is_finite_when_the_confirmation_power_is_0_or_1():
    """A confirmation with no rejection has a binomial MCSE of 0; its test against the
    target must not divide by (nearly) zero (the report showed z = -40000000000.0)."""
    from trialsim.experiments.samplesize import SampleSizeResult

    for hits, sign in ((np.zeros(20, dtype=bool), -1), (np.ones(20, dtype=bool), 1)):
        res = SampleSizeResult(target=0.5, step=3, n_required=60, n_estimate=60.0, n_se=1.0,
                               n_low=57, n_high=63, power_fit=0.5, power_fit_se=0.01,
                               replicates=20)
        res.add_confirmation(hits)
        z = float(re.search(r"z = (-?[0-9.e+]+)", res.note).group(1))
        assert sign * z == pytest.approx(math.sqrt(20), abs=0.05)  # |0.5 - p| / sqrt(.25/20)
        assert abs(res.confirm_z) < 10


# --------------------------------------------------------------------------- item 15


@pytest.mark.parametrize("command", [
    ["run", CONFIG],
    ["power", CONFIG],
    ["sweep", CONFIG],
    ["samplesize", CONFIG, "--target-power", "0.9"],
])
def test_cli_limits_are_the_yaml_limits(command, capsys):
    from trialsim.config.scenario import load_scenario
    from trialsim.errors import ScenarioError

    parser = build_parser()
    assert parser.parse_args([*command, "--replicates", "10000000"]).replicates == 10_000_000
    with pytest.raises(ScenarioError, match="10000000"):  # the YAML's own limit
        load_scenario(CONFIG, {"engine.replicates": 10_000_001})
    for option, bad in (("--replicates", "10000001"), ("--replicates", "100000000"),
                        ("--n-jobs", "1025")):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([*command, option, bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert option in err and "at most" in err
    if command[0] != "run":
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--chunk-size", "100001"])
        assert "at most 100000" in capsys.readouterr().err


def test_confirm_replicates_and_explain_batches_keep_the_limit(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["samplesize", CONFIG, "--target-power", "0.9",
                                   "--confirm-replicates", "10000001"])
    assert "at most 10000000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["explain", CONFIG, CONFIG, "--batches", "10000001"])
    assert "--batches" in capsys.readouterr().err


class _Stop(Exception):
    pass


def _stop(*args, **kwargs):
    raise _Stop


def test_a_long_run_is_announced_with_time_and_disk(tmp_path, capsys, monkeypatch):
    """10 million bliss76 trials: hours and tens of GB, said before anything runs."""
    import trialsim.experiments.pipeline as pipeline

    monkeypatch.setattr(pipeline, "run_scenario", _stop)
    args = ["run", CONFIG, "--replicates", "10000000", "--n-jobs", "2", "--no-figures",
            "--out", str(tmp_path / "res"), "--force"]
    with pytest.raises(_Stop):
        main(args)
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "estimate" in ln)
    assert "10,000,000 trials" in line and " h" in line and "GB" in line
    with pytest.raises(_Stop):
        main([*args, "--quiet"])
    assert "estimate" not in capsys.readouterr().err


def test_estimate_is_sane_in_order_of_magnitude(bliss76):
    """bliss76 costs ~16 ms per trial (README, make bench) and writes ~2.5 kB per replicate
    (measured: 1.9 kB replicates/ + 0.7 kB trials/); within a factor of ~30 either way."""
    from trialsim.cli.estimate import estimate

    est = estimate(bliss76, [(1.0, 10_000_000)], n_jobs=1, chunk_size=100, datasets=True,
                   checkpoint=True)
    assert est is not None and est.long()
    assert 5e-4 < est.seconds_per_trial < 0.5
    assert 5e3 < est.seconds < 5e6
    assert 1e9 < est.disk_bytes < 1e12
    assert est.workers == 1
    two = estimate(bliss76, [(1.0, 10_000_000)], n_jobs=2, chunk_size=100, datasets=True,
                   checkpoint=False)
    assert two.disk_bytes < est.disk_bytes  # no checkpoint chunks
    # a small run needs no estimate (and no pilot)
    assert estimate(bliss76, [(1.0, 20)], n_jobs=1, chunk_size=100, datasets=True,
                    checkpoint=True) is None


def test_an_experiment_that_holds_many_replicates_says_so(tmp_path, capsys, monkeypatch):
    import trialsim.experiments.power as power

    monkeypatch.setattr(power, "power_curve", _stop)
    with pytest.raises(_Stop):
        main(["power", CONFIG, "--replicates", "2000000", "--sizes", "300,600", "--n-jobs", "1",
              "--out", str(tmp_path / "p"), "--force"])
    line = next(ln for ln in capsys.readouterr().err.splitlines() if "estimate" in ln)
    assert "4,000,000 trials" in line and "memory" in line and "GB" in line


def test_a_short_run_prints_no_estimate(tmp_path, capsys):
    assert main(["run", CONFIG, *SMALL, "--out", str(tmp_path / "r")]) == 0
    assert "estimate" not in capsys.readouterr().err


def test_samplesize_with_too_few_replicates_is_refused(tmp_path, capsys):
    """Review finding: 5 replicates per size gave 'required N = n_max' with a fitted power
    below the target, and 1 replicate an interval of one point."""
    out = tmp_path / "ss"
    rc = main(["samplesize", CONFIG, "--target-power", "0.8", *SMALL, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "--replicates 3" in err and "at least 20" in err, err
    assert not out.exists()


@pytest.mark.parametrize("values", ["60,60", "60,60.0", "60,'60'",
                                    "{a: 1, a: 2},{a: 3}"])
def test_repeated_or_ambiguous_sweep_values_are_refused(tmp_path, capsys, values):
    out = tmp_path / "sw"
    with pytest.raises(SystemExit) as exc:
        main(["sweep", CONFIG, *SMALL, "--sweep", f"design.sample_size={values}",
              "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "distinct" in err or "twice" in err, err
    assert not out.exists()


def test_a_huge_dask_timeout_is_refused(tmp_path, capsys):
    rc = main(["run", CONFIG, *SMALL, "--backend", "dask", "--dask-timeout", "1e10",
               "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "--dask-timeout" in err and "86400" in err, err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- hostile re-test


@pytest.mark.parametrize("command, extra", [
    ("power", ["--sizes", "60"]),
    ("sweep", ["--sweep", "design.sample_size=60,90"]),
    ("samplesize", ["--target-power", "0.8"]),
])
@pytest.mark.parametrize("option, value", [("--endpoint", ""), ("--endpoint", " "),
                                           ("--week", ""), ("--comparison", "")])
def test_an_empty_target_option_is_refused_not_the_default(command, extra, option, value,
                                                            tmp_path, capsys):
    out = tmp_path / "x"
    rc = main([command, CONFIG, *extra, *SMALL, option, value, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"{option} {value!r}: an empty" in err, err
    assert not out.exists()


def test_power_list_with_an_empty_entry_is_refused(tmp_path, capsys):
    rc = main(["power", CONFIG, "--sizes", "60", *SMALL, "--endpoint", "sri4,,sri5",
               "--out", str(tmp_path / "x")])
    assert rc == 2 and "--endpoint 'sri4,,sri5': an empty" in capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["samplesize", CONFIG, "--target-power", "0.8", "--n-max", "100001"], "--n-max"),
    (["samplesize", CONFIG, "--target-power", "0.8", "--n-min", "100001"], "--n-min"),
    (["samplesize", CONFIG, "--target-power", "0.8", "--bootstrap", "100001"], "--bootstrap"),
    (["power", CONFIG, "--sizes", "60,100001"], "--sizes"),
])
def test_search_limits_are_the_schemas(argv, named, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert named in err and ("100000" in err or "100,000" in err), err


def test_samplesize_api_keeps_the_limits(tiny):
    from trialsim.config.scenario import ScenarioError
    from trialsim.experiments.power import RunSettings, sample_size

    settings = RunSettings(replicates=20, progress=False, checkpoint_dir=None)
    with pytest.raises(ScenarioError, match="--n-max 100001: must be 1 to 100,000"):
        sample_size(tiny, 0.8, n_max=100_001, settings=settings)
    with pytest.raises(ScenarioError, match="--bootstrap 0"):
        sample_size(tiny, 0.8, bootstrap=0, settings=settings)


def test_the_default_n_max_stays_within_the_schema(monkeypatch, bliss76):
    """8 × N of a 20,000-patient scenario used to be searched up to 160,000, which the
    schema refuses deep into the search."""
    import trialsim.experiments.power as power
    from trialsim.config.scenario import with_overrides

    seen = {}

    def fake(evaluate, target, start, step, n_min, n_max, *rest):
        seen["n_max"] = n_max
        raise _Stop

    monkeypatch.setattr(power, "find_sample_size", fake)
    big = with_overrides(bliss76, {"design.sample_size": 20_000})
    with pytest.raises(_Stop):
        power.sample_size(big, 0.8, settings=power.RunSettings(replicates=20, progress=False,
                                                              checkpoint_dir=None))
    assert seen["n_max"] == 100_000


@pytest.mark.parametrize("command", [
    ["run", CONFIG, "--replicates", "10000000"],
    ["power", CONFIG, "--replicates", "1000000", "--sizes", "300,600,900"],
    ["sweep", CONFIG, "--replicates", "1000000", "--sweep", "design.sample_size=300,600"],
])
def test_a_command_that_needs_more_than_there_is_is_refused(command, tmp_path, capsys,
                                                            monkeypatch):
    """An estimate beyond the machine's memory or free disk used to be a warning, and the
    run started anyway (hostile re-test of issue 14); --force still runs it."""
    import trialsim.cli.estimate as estimate
    import trialsim.experiments.pipeline as pipeline
    import trialsim.run.backends as backends

    monkeypatch.setattr(estimate, "_free_bytes", lambda where: 1e6)
    monkeypatch.setattr(estimate, "_ram_bytes", lambda: 1e6)
    monkeypatch.setattr(pipeline, "run_scenario", _stop)
    monkeypatch.setattr(backends, "execute", _stop)
    out = tmp_path / "res"
    assert main([*command, "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "trialsim: error: this command would need about" in err, err
    assert "--force" in err and ("of memory" in err or "of disk" in err)
    assert not out.exists()
    with pytest.raises(_Stop):
        main([*command, "--quiet", "--force", "--out", str(out)])


# --------------------------------------------------------------------------- second re-test


@pytest.mark.parametrize("option", ["--endpoint", "--week", "--comparison"])
def test_samplesize_refuses_all(option, tmp_path, capsys):
    """'all' silently meant the first entry (second hostile re-test of issue 14)."""
    rc = main(["samplesize", CONFIG, "--target-power", "0.8", *SMALL, option, "all",
               "--out", str(tmp_path / "x")])
    assert rc == 2 and f"{option} all: a sample-size search is for one" in (
        capsys.readouterr().err)


@pytest.mark.parametrize("argv, named", [
    (["--out", ""], "--out '': an empty folder name"),
    (["--out", " "], "--out '': an empty folder name"),
    (["--checkpoint", ""], "--checkpoint '': an empty folder name"),
    (["--out", "/tmp/" + "x" * 300], "not a usable path (File name too long)"),
])
def test_empty_or_impossible_paths_are_refused(argv, named, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the default results folder, had it been used
    rc = main(["run", CONFIG, *SMALL, *argv])
    err = capsys.readouterr().err
    assert rc == 2 and named in err and "Traceback" not in err, err
    assert not any(tmp_path.iterdir())


def test_a_refused_command_does_not_first_say_how_to_resume(tmp_path, capsys, monkeypatch):
    import trialsim.cli.estimate as estimate

    monkeypatch.setattr(estimate, "_ram_bytes", lambda: 1e6)
    rc = main(["power", CONFIG, "--replicates", "1000000", "--sizes", "300,600",
               "--out", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert rc == 2 and "resumes from the checkpoint" not in err, err


def test_sweep_comparison_all_shows_every_comparison(tmp_path, capsys):
    rc = main(["sweep", CONFIG, "--replicates", "2", "--n-jobs", "1", "--no-figures",
               "--sweep", "design.sample_size=60,90", "--comparison", "all",
               "--out", str(tmp_path / "s")])
    out = capsys.readouterr().out
    assert rc == 0 and "bel1_vs_placebo" in out and "bel10_vs_placebo" in out, out
