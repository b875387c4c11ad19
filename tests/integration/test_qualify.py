"""``trialsim qualify``: runs outside the repository, writes the dated JSON and HTML
reports, exits 0 when every check passes and 1 when one fails (the others still run)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from html.parser import HTMLParser

import pytest

from trialsim.cli import main
from trialsim.qualify import golden
from trialsim.qualify.report import fmt
from trialsim.qualify.results import Check, Outcome, close
from trialsim.qualify.runner import CHECKS, run_check

NAMES = ["logistic_regression", "cox_logrank", "closed_form_power", "type1_error",
         "bliss_acceptance", "bit_identity"]


class _Text(HTMLParser):
    """The text and tags of an HTML page (``feed`` raises nothing on broken HTML, so the
    test checks the tags are balanced)."""

    VOID = {"meta", "br", "img", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.text, self.open, self.tags = [], [], set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(path) -> str:
    p = _Text()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    assert not p.open, p.open
    assert {"html", "head", "style", "body", "table"} <= p.tags
    return " ".join(" ".join(p.text).split())


def _today_files(folder):
    date = dt.date.today().isoformat()  # the run started today (a run across midnight: the
    return (folder / f"qualification-{date}.json",  # start's date)
            folder / f"qualification-{date}.html")


@pytest.fixture(scope="module")
def passing(tmp_path_factory):
    """One qualification run from a folder outside the repository."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    out = cwd / "reports"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        rc = main(["qualify", "--out", str(out)])
    return rc, out


def test_every_check_passes_and_both_reports_are_written(passing):
    rc, out = passing
    assert rc == 0
    json_path, html_path = _today_files(out)
    report = json.loads(json_path.read_text())
    assert report["passed"] is True and report["summary"] == "6 of 6 checks passed"
    assert [c["name"] for c in report["checks"]] == NAMES
    for c in report["checks"]:
        assert c["passed"] and c["error"] is None, c["name"]
        assert c["items"] and all(i["passed"] for i in c["items"]), c["name"]
        assert c["items_passed"] == len(c["items"])
        assert c["seconds"] >= 0 and c["oracle"] and c["tolerance"]
    assert report["trialsim_version"] == report["packages"]["trialsim"]
    for name in ("numpy", "scipy", "numba", "pandas"):
        assert report["packages"][name] not in ("", "not installed")
    assert report["machine"]["cpus"] >= 1 and report["machine"]["platform"]
    assert len(report["installation"]["sha256"]) == 64
    assert report["golden"]["error"] is None
    assert report["golden"]["oracles"]["statsmodels"]
    # the report's numbers are the checks' own
    bit = report["checks"][5]
    assert {r["n_jobs"] for r in bit["settings"]["runs"]} == {1, 2}
    assert len({r["chunk_size"] for r in bit["settings"]["runs"]}) >= 2


def test_the_html_report_names_each_check_and_the_versions(passing):
    _, out = passing
    json_path, html_path = _today_files(out)
    report = json.loads(json_path.read_text())
    text = _parse(html_path)
    assert "PASSED" in text and "FAILED" not in text
    for c in report["checks"]:
        assert c["name"] in text and c["title"] in text
        for item in c["items"]:
            assert item["quantity"] in text
    for name, version in report["packages"].items():
        assert f"{name} {version}" in text
    assert report["machine"]["platform"] in text
    assert "http://" not in html_path.read_text() and "https://" not in html_path.read_text()


def test_a_wrong_reference_fails_its_check_and_the_others_still_run(
        tmp_path, monkeypatch, capsys):
    """A stored coefficient off by 0.01 fails check 1; a reference value missing stops
    check 2 with an error; the other four run and pass; exit status 1; the default folder
    (qualification/ in the current folder) is used, and a second run the same day
    replaces the day's reports."""
    data = copy.deepcopy(golden.load())
    data["logistic"]["reference"]["coef"][1] += 0.01
    del data["survival"]["reference"]["se"]
    monkeypatch.setattr(golden, "load", lambda: data)
    monkeypatch.chdir(tmp_path)
    json_path, html_path = _today_files(tmp_path / "qualification")
    json_path.parent.mkdir()
    json_path.write_text("{}")  # an earlier report of today: replaced
    assert main(["qualify"]) == 1
    report = json.loads(json_path.read_text())
    assert report["passed"] is False and report["summary"] == "4 of 6 checks passed"
    by_name = {c["name"]: c for c in report["checks"]}
    assert list(by_name) == NAMES
    logistic = by_name["logistic_regression"]
    assert not logistic["passed"] and logistic["error"] is None
    failed = [i["quantity"] for i in logistic["items"] if not i["passed"]]
    assert failed == ["fit_logistic coef[treated]", "compare_arms treated vs control: log OR"]
    cox = by_name["cox_logrank"]
    assert not cox["passed"] and cox["error"] == "KeyError: 'se'"
    assert all(by_name[n]["passed"] for n in NAMES[2:])
    text = _parse(html_path)
    assert "FAILED" in text and "KeyError" in text
    stdout = capsys.readouterr().out
    assert "FAIL" in stdout and "fit_logistic coef[treated]" in stdout
    assert "qualification FAILED: 4 of 6 checks passed" in stdout
    assert str(json_path.relative_to(tmp_path)) in stdout


def test_out_naming_a_file_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "report.html"
    f.write_text("")
    assert main(["qualify", "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err
    assert main(["qualify", "--out", ""]) == 2
    assert main(["qualify", "--out", str(f / "below")]) == 2
    assert f.read_text() == ""


def test_an_exception_fails_only_its_check():
    def boom():
        raise RuntimeError("no numba")

    res = run_check(Check(9, "boom", "Boom", "nothing", "none", boom))
    assert not res.passed and res.error == "RuntimeError: no numba"
    assert "no numba" in res.settings["traceback"]
    empty = run_check(Check(9, "empty", "Empty", "nothing", "none", lambda: Outcome([])))
    assert not empty.passed  # a check that compared nothing does not pass


def test_close_is_absolute_below_one_and_relative_above():
    assert close("x", 0.5 + 9e-7, 0.5, 1e-6).passed
    assert not close("x", 0.5 + 2e-6, 0.5, 1e-6).passed
    assert close("x", 100 + 9e-5, 100, 1e-6).passed
    assert not close("x", float("nan"), 0.5, 1e-6).passed
    assert fmt(None) == "—" and fmt(0.1234567891234) == "0.1234567891"


def test_the_checks_are_numbered_in_order():
    assert [c.number for c in CHECKS] == list(range(1, 7))
    assert [c.name for c in CHECKS] == NAMES
