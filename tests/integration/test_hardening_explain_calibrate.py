"""``trialsim explain`` and ``trialsim calibrate`` under the rules of the other commands
(hostile re-test of issue 14): their results folders are checked and locked before anything
is simulated and appear as one unit with a ``run.json``; bad options are named as the user
typed them, with nothing written; a long ``explain`` reports its progress off a terminal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import trialsim.experiments.explain as explain_module
from trialsim.cli import main
from trialsim.config.scenario import load_scenario
from trialsim.experiments.pipeline import results_folder

ROOT = Path(__file__).resolve().parents[2]
A, B = str(ROOT / "configs/bliss52.yaml"), str(ROOT / "configs/bliss76.yaml")
SMALL = ["--patients-per-arm", "20", "--batches", "2"]


@pytest.fixture
def simulated(monkeypatch) -> list[int]:
    """How many explain trials were simulated."""
    count = [0]
    real = explain_module.run_chunk

    def counting(sc, start, stop):
        count[0] += stop - start
        return real(sc, start, stop)

    monkeypatch.setattr(explain_module, "run_chunk", counting)
    return count


@pytest.mark.parametrize("bad, named", [
    (["--endpoint", ""], "--endpoint '': unknown endpoint; allowed: sri4"),
    (["--endpoint", "sri44"], "--endpoint 'sri44'"),
    (["--treated", "placebo"], "--treated 'placebo': not a treated arm of bliss52"),
    (["--treated", "bel99"], "its treated arms: bel1, bel10"),
    (["--week", "50"], "--week 50: not a visit week of bliss52"),
    (["--week", "100"], "--week 100: not a visit week of bliss52"),
    (["--patients-per-arm", "50000"], "--patients-per-arm 50000: must be 1 to 33,333"),
])
def test_explain_names_the_option_and_writes_nothing(bad, named, tmp_path, capsys, simulated):
    out = tmp_path / "res" / "ex"
    assert main(["explain", A, B, *SMALL, *bad, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert named in err, err
    assert not err.startswith("trialsim: error: design.")  # not the schema's field
    assert "analysis.endpoints" not in err
    assert not (tmp_path / "res").exists() and simulated[0] == 0


def test_explain_batches_are_bounded(capsys):
    with pytest.raises(SystemExit):
        main(["explain", A, B, "--batches", "10001"])
    assert "--batches: must be at most 10000" in capsys.readouterr().err


def test_explain_into_a_busy_or_foreign_folder_is_refused_before_simulating(
        tmp_path, capsys, simulated):
    out = tmp_path / "ex"
    with results_folder(out, ("x.csv",), "run"):  # another process holds it
        proc = subprocess.run([sys.executable, "-m", "trialsim.cli", "explain", A, B, *SMALL,
                               "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "another trialsim process" in proc.stderr, proc.stderr
    assert not out.exists() or not any(out.iterdir())
    out.mkdir()
    (out / "decomposition.csv").write_text("mine\n")  # the user's own file, same name
    assert main(["explain", A, B, *SMALL, "--out", str(out)]) == 2
    assert "no run.json of a trialsim run" in capsys.readouterr().err
    assert (out / "decomposition.csv").read_text() == "mine\n" and simulated[0] == 0
    (tmp_path / "file").write_text("")
    assert main(["explain", A, B, *SMALL, "--out", str(tmp_path / "file")]) == 2
    assert simulated[0] == 0


def test_explain_outputs_are_one_unit_with_a_run_json(tmp_path, capsys):
    out = tmp_path / "ex"
    assert main(["explain", A, B, *SMALL, "--quiet", "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""  # --quiet
    names = {p.name for p in out.iterdir()}
    assert names == {"protocol_by_population.csv", "decomposition.csv", "waterfall.png",
                     "run.json"}
    record = json.loads((out / "run.json").read_text())
    assert record["command"] == "explain" and record["batches"] == 2
    assert "trialsim_version" in record
    # a rerun replaces them (its own folder), leaving no staging folder or lock beside it
    first = (out / "decomposition.csv").read_bytes()
    assert main(["explain", A, B, *SMALL, "--quiet", "--seed", "7", "--out", str(out)]) == 0
    assert (out / "decomposition.csv").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ex"]
    # a run cannot write into explain's folder, nor explain into a run's
    assert main(["run", A, "--replicates", "2", "--no-figures", "--set",
                 "design.sample_size=60", "--out", str(out)]) == 2
    assert "holds the results of 'trialsim explain'" in capsys.readouterr().err


def test_explain_reports_progress_off_a_terminal(tmp_path, capsys):
    assert main(["explain", A, B, *SMALL, "--out", str(tmp_path / "ex")]) == 0
    err = capsys.readouterr().err
    n = explain_module.configurations(*(load_scenario(x) for x in (A, B)))
    assert f"trialsim: explain bliss52 vs bliss76: 0/{2 * n} trials (0%), started" in err
    assert f"{2 * n}/{2 * n} trials (100%)" in err


def test_explain_one_trial_at_a_time_gives_the_numbers_of_one_chunk():
    sc = load_scenario(A)
    e = explain_module.treatment_effect(sc, "sri4", 52, "bel10", 20, 5, batches=3)
    over = {"design.sample_size": 60, "analysis.endpoints": ["sri4"],
            "design.endpoint_weeks": [52], "seed": 5}
    rates = explain_module.run_chunk(explain_module.with_overrides(sc, over), 0, 3).rates[:, 0]
    arms = list(sc.design.arms)
    assert (e.rate_treated == rates[:, arms.index("bel10")]).all()
    assert (e.rate_control == rates[:, arms.index("placebo")]).all()


def _spec(tmp_path: Path, **changes) -> Path:
    spec = yaml.safe_load((ROOT / "configs/calibration.yaml").read_text())
    spec["scenarios"] = {k: str(ROOT / "configs" / v) for k, v in spec["scenarios"].items()}
    spec["patients_per_arm"] = 60
    spec["parameters"] = {k: spec["parameters"][k] for k in ("soc_effect", "emax")}
    spec["targets"] = [t for t in spec["targets"] if t["endpoint"] == "sri4" and t["week"] == 52]
    for name, paths in changes.items():
        spec["parameters"][name]["paths"] = paths
    p = tmp_path / "cal.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


@pytest.mark.parametrize("path, kind", [
    ("population.race", "a mapping"),
    ("design.sample_size", "a whole number"),
    ("design.control", "str 'placebo'"),
    ("design.endpoint_weeks", "a list"),
])
def test_calibrating_a_field_that_is_not_a_real_number_is_named(path, kind, tmp_path, capsys):
    out = tmp_path / "cal"
    assert main(["calibrate", str(_spec(tmp_path, emax=[path])), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"parameters.emax.paths: '{path}'" in err and kind in err, err
    assert "Traceback" not in err and not out.exists()


def test_calibrate_outputs_are_one_unit_and_its_folder_is_checked(tmp_path, capsys):
    spec = str(_spec(tmp_path))
    (tmp_path / "file").write_text("")
    assert main(["calibrate", spec, "--out", str(tmp_path / "file" / "x")]) == 2
    with pytest.raises(SystemExit):
        main(["calibrate", spec, "--max-evaluations", "100001"])
    capsys.readouterr()
    out = tmp_path / "cal"
    assert main(["calibrate", spec, "--out", str(out), "--max-evaluations", "2"]) == 0
    assert {p.name for p in out.iterdir()} == {"parameters.csv", "fit_table.csv",
                                                "dose_contrasts.csv", "fitted.yaml",
                                                "report.json", "fit.png", "run.json"}
    assert json.loads((out / "run.json").read_text())["command"] == "calibrate"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal", "cal.yaml", "file"]


@pytest.mark.parametrize("change, named", [
    ({"parameters": {}}, "parameters"),
    ({"targets": []}, "targets"),
    ({"targets": "twice"}, "is given twice"),
    ({"targets": "flare-as-rate"}, "time_to_first_flare target is a median in days"),
])
def test_calibration_specs_that_cannot_be_fitted_are_refused(change, named, tmp_path, capsys):
    """Empty parameters or targets ended in tracebacks after publishing; a repeated target
    counted twice; a flare median given as events/n was compared with days (second hostile
    re-test of issue 14)."""
    spec = yaml.safe_load(_spec(tmp_path).read_text())
    if change.get("targets") == "twice":
        spec["targets"].append(spec["targets"][0])
    elif change.get("targets") == "flare-as-rate":
        spec["targets"].append({"scenario": "bliss52", "endpoint": "time_to_first_flare",
                                "week": 52, "arm": "placebo", "events": 125, "n": 287})
    else:
        spec.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "cal"
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err, err
    assert not out.exists()
