"""Issue 14, item 7: headlines that look exact when they are not. An MCSE that cannot be
estimated (one replicate, one analysable trial) is nan, never 0, and a headline computed on a
small share of analysable trials says so, with the share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialsim.cli import main
from trialsim.core.io import whole_trial

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs/bliss76.yaml")
FAST = ["--n-jobs", "1", "--no-figures", "--no-checkpoint"]


def test_mcse_helpers_are_nan_with_one_value():
    from trialsim.experiments.samplesize import binomial_mcse
    from trialsim.summarize.tables import proportion_mcse, proportion_of, quantile_mcse

    for hits in (0, 1):
        assert proportion_of(hits, 1)[0] == hits and np.isnan(proportion_of(hits, 1)[1])
        assert np.isnan(proportion_mcse(np.array([bool(hits)]))[1])
        assert np.isnan(binomial_mcse(np.array([bool(hits)])))
    value, se = quantile_mcse(np.array([4.0, np.nan, np.nan]), 0.5)
    assert value == 4.0 and np.isnan(se)
    # with two or more values the MCSEs stay as they were
    assert proportion_of(1, 4)[1] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    assert quantile_mcse(np.array([1.0, 2.0, 3.0]), 0.5)[1] > 0


def test_one_replicate_prints_no_zero_mcse(tmp_path, capsys):
    out = tmp_path / "one"
    rc = main(["run", CONFIG, "--replicates", "1", *FAST, "--set", "design.sample_size=60",
               "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "MCSE 0.000" not in printed and "MCSE 0.00)" not in printed
    assert "MCSE undefined" in printed and "at least 2" in printed
    summary = whole_trial(pd.read_csv(out / "summary.csv"))
    assert not (summary.mcse == 0).any()
    assert summary.mcse.isna().all()


def test_a_headline_on_few_analysable_trials_is_flagged(tmp_path, capsys):
    """At 6 patients most trials cannot fit the logistic model: the odds ratio median comes
    from the few that can, and the headline says how few."""
    out = tmp_path / "six"
    rc = main(["run", CONFIG, "--replicates", "20", *FAST, "--set", "design.sample_size=6",
               "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    summary = whole_trial(pd.read_csv(out / "summary.csv"))
    sel = summary[(summary.endpoint == "sri4") & (summary.week == 52)
                  & (summary.statistic == "analyzable")].set_index("comparison").value
    assert (sel < 0.5).all()
    warnings = [ln for ln in printed.splitlines() if "warning" in ln]
    for comp, share in sel.items():
        line = next(ln for ln in warnings if comp in ln)
        assert f"{100 * share:.0f}%" in line and "analysable" in line
    # the time-to-first-flare comparisons report their share too
    flare = summary[(summary.endpoint == "time_to_first_flare")
                    & (summary.statistic == "analyzable")]
    assert len(flare) == 2 and flare.value.between(0, 1).all()


def test_a_well_powered_run_has_no_warning(tmp_path, capsys):
    rc = main(["run", CONFIG, "--replicates", "8", *FAST, "--set", "design.sample_size=120",
               "--out", str(tmp_path / "ok")])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "warning" not in printed and "undefined" not in printed


def test_power_curve_with_one_replicate_says_mcse_undefined(tmp_path, capsys):
    rc = main(["power", CONFIG, "--replicates", "1", "--sizes", "30,60", *FAST,
               "--out", str(tmp_path / "p")])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "MCSE ≤ 0.000" not in printed and "MCSE ≤ nan" not in printed
    assert "MCSE undefined" in printed
    table = pd.read_csv(tmp_path / "p" / "power.csv")
    assert table.mcse.isna().all()


# --------------------------------------------------------------------------- hostile re-test


def test_a_power_of_0_or_1_is_printed_with_its_interval_not_mcse_0(tmp_path, capsys):
    rc = main(["run", CONFIG, "--replicates", "20", *FAST, "--set", "design.sample_size=6",
               "--out", str(tmp_path / "six")])
    assert rc == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if " power:" in ln]
    assert lines and all("MCSE 0.000" not in ln for ln in lines)
    # none rejected among 20: the Wilson 95% interval is 0 to 0.161
    assert any("0.000 (none of 20 trials rejected; 95% CI 0.000-0.161)" in ln for ln in lines)


def test_mcse_text_of_powers_all_0_or_1():
    from trialsim.cli.experiments import mcse_text

    assert "MCSE ≤ 0.000" not in mcse_text([0.0, 0.0])
    assert "95% intervals" in mcse_text([0.0, 0.0])
    assert mcse_text([0.0, 0.02]) == "MCSE ≤ 0.020"


def test_power_and_sweep_headlines_warn_about_unanalysable_trials(tmp_path, capsys):
    rc = main(["power", CONFIG, "--replicates", "20", "--sizes", "6,60", *FAST,
               "--out", str(tmp_path / "p")])
    assert rc == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(tmp_path / "p" / "power.csv")
    share = table[(table.statistic == "analyzable") & (table.sample_size == 6)].value
    assert len(share) == 2 and (share < 0.5).all()
    assert "warning:" in printed and "analysable" in printed and "sample_size=6" in printed
    rc = main(["sweep", CONFIG, "--replicates", "20", "--sweep", "design.sample_size=6,60",
               *FAST, "--out", str(tmp_path / "s")])
    assert rc == 0
    assert "warning:" in capsys.readouterr().out


def test_a_sweep_of_endpoint_weeks_shows_every_point(tmp_path, capsys):
    """A point that evaluates no primary week used to vanish from the printed table and
    the figure (hostile re-test of issue 14)."""
    out = tmp_path / "s"
    rc = main(["sweep", CONFIG, "--replicates", "10", "--sweep",
               "design.endpoint_weeks=[24],[52]", "--n-jobs", "1", "--no-checkpoint",
               "--set", "design.sample_size=60", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "1 grid point(s) evaluate no week 52" in printed
    rows = [ln.split() for ln in printed.splitlines() if ln.startswith("[")]
    assert [r[:2] for r in rows] == [["[24]", "24"], ["[52]", "52"]], printed
    assert (out / "sweep.png").stat().st_size > 0
