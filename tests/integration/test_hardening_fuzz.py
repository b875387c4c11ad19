"""Issue 14: property-based fuzzing of the scenario schema.

Random mutations of the shipped scenarios (a value of another type, NaN or infinity, out of
range, a missing or an unknown key, a key given twice) must give either a valid scenario
that runs, or a named error (``ScenarioError``; from the CLI exit 2, ``trialsim: error:``,
nothing written): never a traceback. ``make test`` runs a few hundred examples; the ``slow``
marker runs many more.
"""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialsim.cli import main
from trialsim.config.scenario import Scenario, ScenarioError, _read_yaml, load_scenario

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
#: the shipped scenarios, merged (no ``extends``), as plain data
BASES = {name: _read_yaml(CONFIGS / f"{name}.yaml") for name in ("bliss76", "bliss52")}
#: small runs: the fuzzing is about input handling, not about the numbers
SMALL = {"engine": {"replicates": 1, "chunk_size": 1, "n_jobs": 1}}

OTHER_TYPES = ["text", [1, 2], {"unexpected": 1}, None, True, "", []]
NON_FINITE = [math.nan, math.inf, -math.inf]
OUT_OF_RANGE = [-1, 0, 1, 2, 0.5, -0.5, 1e9, -1e9, 10**20, 1e308, 7]


def _paths(node, prefix=()):
    """Every key path of a nested mapping (mappings and leaves alike)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out.extend(_paths(v, prefix + (k,)))
    return out


PATHS = {name: _paths(data) for name, data in BASES.items()}


@st.composite
def mutated(draw):
    """(YAML text, description) of a shipped scenario with one to three mutations."""
    name = draw(st.sampled_from(sorted(BASES)))
    data = copy.deepcopy(BASES[name])
    data.update(copy.deepcopy(SMALL))
    done = []
    duplicate = None
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(
            ["type", "non_finite", "range", "range", "missing", "extra", "duplicate"]))
        path = draw(st.sampled_from(PATHS[name]))
        parent = data
        for k in path[:-1]:
            parent = parent.get(k) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or (kind != "extra" and path[-1] not in parent):
            continue  # an earlier mutation removed or replaced this branch
        key = path[-1]
        if kind == "type":
            parent[key] = draw(st.sampled_from(OTHER_TYPES))
        elif kind == "non_finite":
            parent[key] = draw(st.sampled_from(NON_FINITE))
        elif kind == "range":
            parent[key] = draw(st.sampled_from(OUT_OF_RANGE))
        elif kind == "missing":
            del parent[key]
        elif kind == "extra":
            parent[draw(st.sampled_from(["unexpected_key", "Sample_Size", "seeds"]))] = 1
        else:
            duplicate = path[0]
        done.append(f"{kind} {'.'.join(map(str, path))}")
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if duplicate is not None and duplicate in data:
        text += yaml.safe_dump({duplicate: data[duplicate]}, sort_keys=False)
    return text, "; ".join(done) or "none"


def _load(text: str) -> Scenario | ScenarioError:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_scenario(path)
        except ScenarioError as exc:
            return exc


@settings(max_examples=300, deadline=None, derandomize=True)
@given(case=mutated())
def test_schema_gives_a_scenario_or_a_named_error(case):
    text, what = case
    result = _load(text)  # anything but ScenarioError propagates: the test fails
    if isinstance(result, ScenarioError):
        message = str(result)
        assert message.strip(), what
        assert "Traceback" not in message, what


def _run_cli(text: str, capsys) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.yaml"
        path.write_text(text, encoding="utf-8")
        out = Path(tmp) / "out"
        rc = main(["run", str(path), "--out", str(out), "--no-figures", "--quiet",
                   "--no-checkpoint"])
        err = capsys.readouterr().err
        assert rc in (0, 2), err
        if rc == 2:
            assert err.startswith("trialsim: error:"), err
            assert "Traceback" not in err
            assert not out.exists(), "a refused run wrote its output folder"
        else:
            assert (out / "summary.csv").is_file()


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated())
def test_cli_runs_or_refuses_cleanly(case, capsys):
    _run_cli(case[0], capsys)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated())
def test_schema_fuzz_long(case):
    test_schema_gives_a_scenario_or_a_named_error.hypothesis.inner_test(case)


@pytest.mark.slow
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated())
def test_cli_fuzz_long(case, capsys):
    _run_cli(case[0], capsys)
