"""Issue 14, bad input: every case gets a named error (exit 2, nothing written) or the run
the user asked for, never a silently different one. Each test is written from the issue's
reproduction and failed on the main before the fix."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from trialsim.cli import main
from trialsim.config.scenario import ScenarioError, load_scenario, with_overrides
from trialsim.core.io import write_json

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BLISS76 = CONFIGS / "bliss76.yaml"
#: the issue's quick options (only reached when the scenario is valid)
QUICK = ["--replicates", "2", "--n-jobs", "1", "--no-figures", "--quiet",
         "--set", "design.sample_size=60"]


def child(tmp_path: Path, body: str, name: str = "child.yaml") -> Path:
    """A scenario file that extends bliss76.yaml with ``body``."""
    path = tmp_path / name
    path.write_text(f"extends: {BLISS76}\n{body}", encoding="utf-8")
    return path


def refused(capsys, tmp_path: Path, argv: list[str], *words: str) -> str:
    """Run the CLI; assert exit 2, a one-line-led message containing ``words``, no
    traceback and no output folder. Returns the message."""
    out = tmp_path / "out"
    rc = main(["run", *argv, "--out", str(out), *QUICK])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("trialsim: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not out.exists()
    return err


# 1. a child that lists its arms gets exactly those arms -----------------------------------


def test_child_arms_replace_the_inherited_ones(tmp_path):
    path = child(tmp_path, """
design:
  arms:
    placebo: {dose_mg_kg: 0.0, allocation: 1}
    bel10: {dose_mg_kg: 10.0, allocation: 2}
""")
    sc = load_scenario(path)
    assert list(sc.design.arms) == ["placebo", "bel10"]
    assert sc.design.arms["bel10"].allocation == 2
    assert sc.design.comparison_pairs == [("bel10", "placebo")]


def test_child_that_changes_nothing_of_the_arms_keeps_them(tmp_path):
    sc = load_scenario(child(tmp_path, "seed: 5\n"))
    assert list(sc.design.arms) == ["placebo", "bel1", "bel10"]


# 2. NaN and infinity ----------------------------------------------------------------------


@pytest.mark.parametrize("field", [
    "disease.descriptors.arthritis.intercept",
    "population.age.mean",
    "population.age.sd",
    "standard_of_care.region_effect.latin_america",
    "drug.emax",
])
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_are_refused(capsys, tmp_path, field, value):
    refused(capsys, tmp_path, [str(BLISS76), "--set", f"{field}={value}"], field,
            "finite number")


def test_non_finite_number_in_a_file_is_refused_with_its_path(tmp_path):
    path = child(tmp_path, "population:\n  age: {mean: .nan, sd: 12}\n")
    with pytest.raises(ScenarioError, match=r"population\.age\.mean"):
        load_scenario(path)


def test_json_outputs_are_strict_json(tmp_path):
    path = write_json({"a": math.nan, "b": [1.0, math.inf], "c": {"d": -math.inf}, "e": 2.5},
                      tmp_path / "x.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == {
        "a": None, "b": [1.0, None], "c": {"d": None}, "e": 2.5}


# 3. duplicate keys ------------------------------------------------------------------------


def test_duplicate_key_is_refused_with_its_line(capsys, tmp_path):
    path = child(tmp_path, "seed: 1\ndesign:\n  sample_size: 60\n  sample_size: 90\n")
    err = refused(capsys, tmp_path, [str(path)], "sample_size", "twice", "line")
    assert "line 4" in err and "line 5" in err


def test_duplicate_top_level_key_is_refused(tmp_path):
    path = child(tmp_path, "seed: 1\nseed: 2\n")
    with pytest.raises(ScenarioError, match="'seed' twice"):
        load_scenario(path)


# 4. shares of one mix set together --------------------------------------------------------


def test_two_shares_of_a_mix_are_kept_as_given():
    sc = load_scenario(BLISS76, {"population.race.black": 0.2, "population.race.white": 0.5})
    race = sc.population.race
    assert race.black == pytest.approx(0.2, abs=1e-12)
    assert race.white == pytest.approx(0.5, abs=1e-12)
    assert sum(race.model_dump().values()) == pytest.approx(1.0, abs=1e-9)
    base = load_scenario(BLISS76).population.race
    # the others keep their proportions to one another
    assert race.asian / race.indigenous_american == pytest.approx(
        base.asian / base.indigenous_american)
    assert race.other == 0.0


def test_the_order_of_the_shares_does_not_matter():
    a = load_scenario(BLISS76, {"population.race.black": 0.2, "population.race.white": 0.5})
    b = load_scenario(BLISS76, {"population.race.white": 0.5, "population.race.black": 0.2})
    assert a.population.race == b.population.race


def test_shares_over_one_are_refused(capsys, tmp_path):
    refused(capsys, tmp_path, [str(BLISS76), "--set", "population.race.black=0.7",
                               "--set", "population.race.white=0.5"], "sum to 1.2")


def test_sweep_records_the_requested_share():
    sc = load_scenario(BLISS76)
    point = with_overrides(sc, {"population.race.black": 0.3,
                                "population.region.us_canada": 0.6})
    assert point.population.race.black == 0.3
    assert point.population.region.us_canada == 0.6


@pytest.fixture
def sweep_points_seen(monkeypatch) -> list:
    """The scenarios a sweep hands to its runner (which then stops, as Ctrl-C would)."""
    import contextlib

    import trialsim.experiments.power as power

    seen: list = []

    def fake_runner(command, scenario, settings):
        @contextlib.contextmanager
        def run():
            def go(points):
                seen.extend(points)
                raise KeyboardInterrupt

            yield type("R", (), {"__call__": staticmethod(go), "replicates": 1})()

        return run()

    monkeypatch.setattr(power, "_runner", fake_runner)
    return seen


def test_set_and_sweep_shares_of_one_mix_are_applied_together(tmp_path, sweep_points_seen):
    """``--set population.race.black=0.2 --sweep population.race.white=0.3,0.5`` used to
    rescale the given black share at every point (hostile re-test of issue 14)."""
    rc = main(["sweep", str(BLISS76), "--set", "population.race.black=0.2", "--sweep",
               "population.race.white=0.3,0.5", "--replicates", "2", "--no-figures",
               "--quiet", "--out", str(tmp_path / "s")])
    assert rc == 130  # the fake runner's Ctrl-C
    races = [p.population.race for p in sweep_points_seen]
    assert [r.black for r in races] == pytest.approx([0.2, 0.2], abs=1e-12)
    assert [r.white for r in races] == [0.3, 0.5]


def test_pinned_shares_are_kept_by_a_sweep_point():
    from trialsim.config.scenario import mix_shares, with_pinned

    given = {"population.race.black": 0.2, "design.sample_size": 60}
    sc = load_scenario(BLISS76, given)
    pinned = mix_shares(given)
    assert pinned == {"population.race.black": 0.2}
    for white in (0.3, 0.5):
        point = with_overrides(sc, with_pinned({"population.race.white": white}, pinned))
        race = point.population.race
        assert race.black == pytest.approx(0.2, abs=1e-12) and race.white == white
        assert sum(race.model_dump().values()) == pytest.approx(1.0, abs=1e-9)
    # a point of another mix, or one that sets the pinned share itself, is left alone
    assert with_pinned({"population.region.europe": 0.3}, pinned) == {
        "population.region.europe": 0.3}
    assert with_pinned({"population.race.black": 0.4}, pinned) == {"population.race.black": 0.4}


def test_a_sweep_keeps_the_set_shares_at_every_point(sweep_points_seen):
    import trialsim.experiments.power as power

    sc = load_scenario(BLISS76, {"population.race.black": 0.2})
    with pytest.raises(KeyboardInterrupt):
        power.sweep(sc, {"population.race.white": [0.3, 0.5]},
                    pinned={"population.race.black": 0.2})
    races = [p.population.race for p in sweep_points_seen]
    assert [r.black for r in races] == pytest.approx([0.2, 0.2], abs=1e-12)
    assert [r.white for r in races] == [0.3, 0.5]


# 5. duplicates in lists -------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("design.endpoint_weeks", "[52, 52]"),
    ("analysis.endpoints", "[sri4, sri4]"),
    ("design.stratify_by", "[race, race]"),
])
def test_repeated_list_entries_are_refused(capsys, tmp_path, field, value):
    refused(capsys, tmp_path, [str(BLISS76), "--set", f"{field}={value}"], field, "distinct")


def test_repeated_sweep_values_are_refused(tmp_path):
    path = child(tmp_path, "sweep:\n  design.sample_size: [300, 300]\n")
    with pytest.raises(ScenarioError, match="sweep"):
        load_scenario(path)


# 11. names are safe folder names ----------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "-rf", "a/b", "x" * 101])
def test_unsafe_scenario_names_are_refused(capsys, tmp_path, name):
    # --out is given, but the default folder would be results/<name>
    refused(capsys, tmp_path, [str(BLISS76), "--set", f"name={json.dumps(name)}"], "name")


def test_unsafe_name_never_reaches_the_project_root(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = main(["run", str(BLISS76), "--set", "name=..", *QUICK])
    assert rc == 2
    assert list(tmp_path.iterdir()) == []


# 13. endpoint weeks -----------------------------------------------------------------------


def test_no_endpoint_week_is_refused_at_the_schema(capsys, tmp_path):
    refused(capsys, tmp_path, [str(BLISS76), "--set", "design.endpoint_weeks=[]"],
            "design.endpoint_weeks")


# 14. files that are not UTF-8 text --------------------------------------------------------


def test_non_utf8_file_is_named(capsys, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(f"extends: {BLISS76}\ndescription: caf\xe9\n".encode("latin-1"))
    refused(capsys, tmp_path, [str(path)], str(path), "UTF-8")


def test_binary_file_is_named(capsys, tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_bytes(bytes(range(256)))
    refused(capsys, tmp_path, [str(path)], str(path))


def test_a_folder_given_as_scenario_is_named(capsys, tmp_path):
    refused(capsys, tmp_path, [str(tmp_path)], str(tmp_path), "is a folder")


def test_a_fifo_given_as_scenario_is_named(capsys, tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    refused(capsys, tmp_path, [str(fifo)], str(fifo), "not a regular file")


# the same field given twice on the command line ------------------------------------------


def test_the_same_set_path_twice_is_refused(capsys, tmp_path):
    refused(capsys, tmp_path, [str(BLISS76), "--set", "design.sample_size=300",
                               "--set", "design.sample_size=400"],
            "design.sample_size", "twice", "300", "400")


# review findings (a hostile re-test after the fixes above) --------------------------------


@pytest.mark.parametrize("arm", ["../../../escaped", "bel/10", ".hidden"])
def test_unsafe_arm_names_are_refused(tmp_path, arm):
    path = child(tmp_path, f"""
design:
  arms:
    placebo: {{dose_mg_kg: 0.0}}
    {json.dumps(arm)}: {{dose_mg_kg: 10.0}}
""")
    with pytest.raises(ScenarioError, match="arm name"):
        load_scenario(path)


@pytest.mark.parametrize("field, value", [
    ("population.weight_kg.mean", "-1000"),
    ("population.age.mean", "-40"),
    ("population.disease_duration_years.mean", "-5"),
    ("design.arms.bel10.dose_mg_kg", "1e308"),
    ("population.prednisone.mean_dose_mg", "1e308"),
])
def test_physically_impossible_values_are_refused(capsys, tmp_path, field, value):
    refused(capsys, tmp_path, [str(BLISS76), "--set", f"{field}={value}"], field)


def test_a_childs_sweep_replaces_the_parents(tmp_path):
    parent = child(tmp_path, "sweep:\n  drug.emax: [0.1, 0.2, 0.3]\n", "parent.yaml")
    kid = tmp_path / "kid.yaml"
    kid.write_text(f"extends: {parent}\nsweep:\n  design.sample_size: [60, 90]\n")
    assert load_scenario(kid).sweep == {"design.sample_size": [60, 90]}


@pytest.mark.parametrize("values", ["[60, 60.0]", "[60, '60']"])
def test_equal_numbers_are_repeated_entries(tmp_path, values):
    with pytest.raises(ScenarioError, match="distinct"):
        load_scenario(child(tmp_path, f"sweep:\n  design.sample_size: {values}\n"))


def test_a_share_written_1e_minus_1_is_a_number():
    from trialsim.config.scenario import parse_override

    path, value = parse_override("population.race.black=1e-1")  # YAML 1.1 reads a string
    sc = load_scenario(BLISS76, {path: value})
    assert sc.population.race.black == 0.1


def test_a_key_given_twice_in_a_set_value_is_named(capsys, tmp_path):
    refused(capsys, tmp_path, [str(BLISS76), "--set",
                               "design.arms={placebo: {dose_mg_kg: 0}, bel10: {dose_mg_kg: 10},"
                               " bel10: {dose_mg_kg: 1}}"], "bel10", "twice")


# --------------------------------------------------------------------------- alias bombs

#: 'billion laughs': eight nested lists of nine aliases expand to ~54 million values
BOMB = ("[&a [x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], "
        "&c [*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], "
        "&e [*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e], "
        "&g [*f,*f,*f,*f,*f,*f,*f,*f,*f], [*g,*g,*g,*g,*g,*g,*g,*g,*g]]")


@pytest.mark.parametrize("where", ["file", "--set", "--sweep"])
def test_a_yaml_alias_bomb_is_refused_at_once(where, tmp_path):
    """Used to hang (hostile re-test of issue 14); run in a subprocess with a deadline."""
    import subprocess
    import sys

    config = str(BLISS76)
    extra: list[str] = []
    if where == "file":
        config = str(tmp_path / "bomb.yaml")
        Path(config).write_text(f"extends: {BLISS76}\ndesign:\n  stratify_by: {BOMB}\n")
    elif where == "--set":
        extra = ["--set", f"design.stratify_by={BOMB}"]
    else:
        extra = ["--sweep", f"design.stratify_by={BOMB}"]
    command = "sweep" if where == "--sweep" else "run"
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "trialsim.cli", command, config, *extra, "--replicates", "2",
         "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "expands to 54,481,0" in proc.stderr and "at most 1,000,000" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_ordinary_aliases_still_work():
    from trialsim.config.scenario import read_yaml_text

    assert read_yaml_text("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
