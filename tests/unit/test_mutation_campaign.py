"""The mutation catalog is in step with the code, and the campaign runner's pure helpers work.

Every mutation of ``scripts/mutation_catalog.py`` must locate exactly one snippet of the current
tree and still parse once applied (a kill must never be a syntax error); its tests must exist.
A refactor that moves a snippet fails here, naming the mutation, and the catalog is updated.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

catalog = importlib.import_module("mutation_catalog")
runner = importlib.import_module("mutations")

MUTATIONS = catalog.MUTATIONS
BY_NAME = {m.name: m for m in MUTATIONS}
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def test_catalog_is_not_empty_and_names_are_unique():
    names = [m.name for m in MUTATIONS]
    assert names
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_mutation_is_frozen():
    m = MUTATIONS[0]
    with pytest.raises(AttributeError):
        m.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", list(BY_NAME))
def test_mutation_is_in_step_with_the_tree(name):
    m = BY_NAME[name]
    assert SNAKE.match(m.name), f"{m.name!r} is not snake_case"
    assert m.why.strip() and "\n" not in m.why, "why must be one line"
    assert m.find and m.replace != m.find
    assert isinstance(m.tests, tuple) and m.tests, "tests must be a non-empty tuple"
    assert isinstance(m.validate_tests, tuple)

    path = ROOT / m.path
    assert not Path(m.path).is_absolute() and path.is_file(), f"{m.path} does not exist"
    text = path.read_text(encoding="utf-8")
    count = text.count(m.find)
    assert count == 1, f"find occurs {count} times in {m.path}, expected exactly once"

    mutated = runner.apply_mutation(text, m.find, m.replace)
    assert mutated != text
    if m.path.endswith(".py"):
        ast.parse(mutated, filename=m.path)  # a kill must not be a syntax error

    for arg in m.tests + m.validate_tests:
        file_part = arg.split("::", 1)[0]
        assert file_part.endswith(".py"), f"{arg}: not a .py test path"
        assert (ROOT / file_part).is_file(), f"{arg}: {file_part} does not exist"


# --------------------------------------------------------------------------- runner helpers


def test_apply_mutation_replaces_the_single_occurrence():
    text = "a = 1\nif x > 12:\n    pass\n"
    assert runner.apply_mutation(text, "x > 12", "x > 13") == "a = 1\nif x > 13:\n    pass\n"


@pytest.mark.parametrize(
    "text, find",
    [("a = 1\n", "b = 2"), ("x > 12 or x > 12", "x > 12"), ("anything", "")],
    ids=["missing", "twice", "empty"],
)
def test_apply_mutation_refuses_anything_but_exactly_one_occurrence(text, find):
    with pytest.raises(ValueError):
        runner.apply_mutation(text, find, "zzz")


PYTEST_OUTPUT = """\
..F
=================================== FAILURES ===================================
____________________________ test_logrank[case 1] _____________________________
E   AssertionError: assert 1.0 == 2.0
=========================== short test summary info ============================
FAILED tests/reference/test_survival.py::test_logrank[case 1] - AssertionError: a - b
FAILED tests/reference/test_survival.py::test_cox - AssertionError
!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
1 failed, 2 passed in 3.21s
"""


def test_first_failure_takes_the_first_failed_node_id():
    node = runner.first_failure(PYTEST_OUTPUT)
    assert node == "tests/reference/test_survival.py::test_logrank[case 1]"


def test_first_failure_reads_error_lines_and_returns_none_without_failures():
    out = "E\nERROR tests/unit/test_x.py::test_y - RuntimeError: boom\n1 error in 0.1s\n"
    assert runner.first_failure(out) == "tests/unit/test_x.py::test_y"
    assert runner.first_failure("ERROR tests/unit/test_x.py\n") == "tests/unit/test_x.py"
    assert runner.first_failure("...\n3 passed in 0.5s\n") is None
    # lines that merely contain the word are not summary lines
    assert runner.first_failure("    assert 'FAILED ' in log\n") is None


@pytest.mark.parametrize(
    "code, timed_out, status",
    [(0, False, "survived"), (1, False, "killed"), (2, False, "error"), (3, False, "error"),
     (4, False, "error"), (5, False, "error"), (None, True, "timeout")],
)
def test_classify(code, timed_out, status):
    assert runner.classify(code, timed_out) == status


def test_union_keeps_first_order_without_duplicates():
    assert runner.union([("a", "b"), ("b", "c"), ("a",)]) == ["a", "b", "c"]


def test_summary_counts_and_lists():
    def entry(name, status, validate=None):
        return {"name": name, "status": status, "killed": status == "killed",
                "validate": None if validate is None else {"status": validate,
                                                           "killed": validate == "killed"},
                "killed_by_validate": None if validate is None else validate == "killed"}

    entries = [entry("a", "killed"), entry("b", "survived", "killed"),
               entry("c", "survived", "survived"), entry("d", "survived"),
               entry("e", "error"), entry("f", "pattern-missing"), entry("g", "timeout"),
               entry("h", "survived", "timeout")]
    s = runner.summarize(entries)
    assert s["n"] == 8
    assert s["killed_by_test"] == 1
    assert s["killed_by_test_or_validate"] == 2
    assert s["kill_rate_test"] == pytest.approx(1 / 8)
    assert s["kill_rate_test_or_validate"] == pytest.approx(2 / 8)
    assert s["survivors"] == ["c", "d"]
    assert s["errors"] == ["e", "f", "g", "h"]
    assert runner.summarize([])["kill_rate_test"] is None


def test_atomic_json_write(tmp_path):
    out = tmp_path / "sub" / "m.json"
    runner.write_json_atomic(out, {"x": 1})
    runner.write_json_atomic(out, {"x": 2})
    assert out.read_text().strip().endswith("}")
    assert [p.name for p in out.parent.iterdir()] == ["m.json"]
