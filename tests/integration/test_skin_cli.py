"""``trialsim run`` and ``trialsim power`` of skin scenarios, end to end (cli/skin.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from trialsim.cli.main import main
from trialsim.cli.skin import COHORT_OUTPUTS, POWER_OUTPUTS, TRIAL_OUTPUTS

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_cohort_run_writes_every_output(tmp_path, capsys):
    out = tmp_path / "cohort"
    rc = main(["run", str(CONFIGS / "clasi_realworld.yaml"), "--replicates", "12",
               "--n-jobs", "1", "--out", str(out)])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(set(COHORT_OUTPUTS) - {"report.html"})
    said = capsys.readouterr().out
    assert "mean CLASI-A" in said and str(out) in said
    run = json.loads((out / "run.json").read_text())
    assert run["design"] == "cohort" and run["replicates"] == 12
    patients = pd.read_csv(out / "patients.csv")
    assert patients["patient"].nunique() == 29
    seen = patients[patients["evaluable"]]
    assert (seen.loc[seen["month"] == 0, "clasi_a"] >= 2).all()
    # not evaluable: no scores in the dataset
    assert patients.loc[~patients["evaluable"], "clasi_a"].isna().all()
    table = pd.read_csv(out / "study_table.csv")
    first = table[(table["group"] == "all") & (table["time"] == 0)].iloc[0]
    assert first["n"] == 29
    cmp = pd.read_csv(out / "seed_comparison.csv")
    assert set(cmp["statistic"]) >= {"mean", "clasi50_rate", "clasi100_rate"}


def test_cohort_results_do_not_depend_on_n_jobs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out, jobs in ((a, "1"), (b, "2")):
        assert main(["run", str(CONFIGS / "clasi_realworld.yaml"), "--replicates", "6",
                     "--n-jobs", jobs, "--out", str(out), "--no-figures", "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(a / "replicates.parquet"),
                                  pd.read_parquet(b / "replicates.parquet"))
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()


def test_trial_run_and_power(tmp_path, capsys):
    out = tmp_path / "rct"
    assert main(["run", str(CONFIGS / "clasi_rct.yaml"), "--replicates", "20", "--out",
                 str(out), "--set", "design.sample_size=40"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(set(TRIAL_OUTPUTS) - {"report.html"})
    assert "power" in capsys.readouterr().out
    power = tmp_path / "power"
    assert main(["power", str(CONFIGS / "clasi_rct.yaml"), "--sizes", "30,50",
                 "--replicates", "20", "--out", str(power)]) == 0
    assert sorted(p.name for p in power.iterdir()) == sorted(set(POWER_OUTPUTS) - {"report.html"})
    table = pd.read_csv(power / "power.csv")
    assert sorted(table.loc[table.statistic == "power", "sample_size"]) == [30, 50]


@pytest.mark.parametrize("args, words", [
    (["--set", "design.type=registry"], ["design", "registry", "cohort", "rct"]),
    (["--set", "population.subtypes.scle=1.5"], ["population.subtypes"]),
    (["--set", "skin.subtypes.acle.areas.elbow=0.3"], ["elbow"]),
    (["--set", "design.assessment_months=[3, 6]"], ["design.assessment_months", "month 0"]),
    (["--backend", "dask"], ["dask", "skin"]),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, capsys, args, words):
    out = tmp_path / "nothing"
    rc = main(["run", str(CONFIGS / "clasi_realworld.yaml"), "--replicates", "2",
               "--out", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not out.exists()


def test_a_cohort_has_no_power_curve(tmp_path, capsys):
    rc = main(["power", str(CONFIGS / "clasi_realworld.yaml"), "--out", str(tmp_path / "p")])
    assert rc == 2
    assert "rct" in capsys.readouterr().err


def test_drug_from_must_exist(tmp_path, capsys):
    for name in ("skin.yaml", "clasi_realworld.yaml"):
        shutil.copy(CONFIGS / name, tmp_path / name)
    rc = main(["run", str(tmp_path / "clasi_realworld.yaml"), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "model.yaml" in err and "Traceback" not in err


def test_trial_sweep_over_the_scle_share(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(CONFIGS / "clasi_rct.yaml"), "--sweep",
                 "population.subtypes.scle=0,0.6", "--replicates", "30", "--out",
                 str(out)]) == 0
    table = pd.read_csv(out / "sweep.csv")
    power = table[table.statistic == "power"].set_index("population.subtypes.scle")["value"]
    assert list(power.index) == [0.0, 0.6]
    rates = table[(table.statistic == "patients") & (table.subtype == "scle")]
    assert set(rates["population.subtypes.scle"]) == {0.6}  # no SCLE patient at share 0
    # a bad point is refused before anything runs
    rc = main(["sweep", str(CONFIGS / "clasi_rct.yaml"), "--sweep",
               "population.subtypes.scle=0.2,1.4", "--out", str(tmp_path / "bad")])
    assert rc == 2 and not (tmp_path / "bad").exists()
    assert "population.subtypes" in capsys.readouterr().err
