"""The HTML report (``trialsim report``, ``trialsim run --report``): it parses, every number
of summary.csv and baseline.csv is in it with its exact value, every figure is embedded,
the calibration status tells a run on the fitted model from one off it, and bad input is
refused without writing anything.

The real-browser check lives in ``test_report_browser.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import CONFIGS, ROOT, TINY
from trialsim.cli.main import main
from trialsim.config.scenario import load_scenario
from trialsim.errors import ScenarioError
from trialsim.experiments.pipeline import run_scenario
from trialsim.report.cells import SUMMARY_KEY, key_of
from trialsim.report.folder import ResultsFolder
from trialsim.report.html import render_report
from trialsim.report.sections import KEPT_STATISTICS

CALIBRATION = ROOT / "results" / "calibration"
VOID = {"meta", "img", "br", "hr", "input", "link"}


class Parsed(HTMLParser):
    """Strict enough: every non-void tag closed in order; collects the keyed cells, the
    images and the text."""

    def __init__(self):
        super().__init__()
        self.stack, self.cells, self.images, self.errors = [], [], [], []
        self.text = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "td" and "data-key" in a:
            self._cell = a

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "td" and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Parsed:
    p = Parsed()
    p.feed(html)
    p.close()
    assert not p.errors, p.errors[:5]
    assert p.stack == [], p.stack
    return p


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "tiny"
    sc = load_scenario(CONFIGS / "bliss76.yaml", TINY)
    run_scenario(sc, out, replicates=6, n_jobs=1, progress=False, report=True,
                 calibration=CALIBRATION)
    return out


@pytest.fixture(scope="module")
def parsed(run_folder):
    return parse((run_folder / "report.html").read_text())


def test_run_report_is_written_with_the_run_and_parses(run_folder, parsed):
    html = (run_folder / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_every_summary_row_is_in_the_report_with_its_exact_value(run_folder, parsed):
    s = pd.read_csv(run_folder / "summary.csv", keep_default_na=False, na_values=[""])
    csv = {key_of(r): float(r.value) for _, r in s.iterrows()}
    shown = {}
    for cell in parsed.cells:
        if cell.get("data-source") != "summary.csv":
            continue
        shown.setdefault(cell["data-key"], []).append(float(cell["data-value"]))
    missing = set(csv) - set(shown)
    assert not missing, sorted(missing)[:5]
    wrong = [k for k, vs in shown.items() if k not in csv or not all(same(v, csv[k])
                                                                       for v in vs)]
    assert not wrong, wrong[:5]
    # the headline table shows the primary endpoint twice (headline and full table)
    assert len(shown["sri4|12|placebo||||response_rate"]) >= 2


def test_baseline_cells_equal_baseline_csv_and_the_source_is_shown(run_folder, parsed):
    b = pd.read_csv(run_folder / "baseline.csv")
    csv = {f"{r.characteristic}|{r.arm}": float(r.value) for r in b.itertuples()}
    cells = [c for c in parsed.cells if c.get("data-source") == "baseline.csv"]
    assert {c["data-key"] for c in cells} == set(csv)
    assert all(same(float(c["data-value"]), csv[c["data-key"]]) for c in cells)
    text = "".join(parsed.text)
    assert "BLISS-76 (published)" in text and "Furie et al." in text


def test_every_figure_is_embedded_as_a_png(run_folder, parsed):
    pngs = sorted(p.name for p in run_folder.glob("*.png"))
    assert any(n.startswith("forest_") for n in pngs)
    assert len(parsed.images) == len(pngs)
    for img in parsed.images:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for name in pngs:
        assert name in "".join(parsed.text)


def test_design_scenario_yaml_and_provenance(run_folder, parsed):
    text = "".join(parsed.text)
    run = json.loads((run_folder / "run.json").read_text())
    for needle in ("design.sample_size", "90", "bel10", "dose_mg_kg", "analysis.alpha",
                   "sledai, proteinuria, race", run["scenario_sha256"],
                   run["packages"]["numpy"], run["machine"]["platform"], "wall_time_seconds"):
        assert needle in text, needle
    html = (run_folder / "report.html").read_text()
    pre = re.search(r"<pre>(.*?)</pre>", html, re.S).group(1)
    from html import unescape

    shown = unescape(pre)
    assert yaml.safe_load(shown) == run["scenario_config"]
    assert hashlib.sha256(shown.encode()).hexdigest() in text


def test_calibration_status_tells_a_run_off_the_fitted_model(tmp_path, run_folder):
    on = "".join(parse((run_folder / "report.html").read_text()).text)
    assert "This run used the calibrated model: the fitted value of all 19" in on
    assert "published 95% confidence interval for 82 of 83" in on
    sc = load_scenario(CONFIGS / "bliss76.yaml", {**TINY, "standard_of_care.effect": 0.5})
    run_scenario(sc, tmp_path / "off", replicates=2, n_jobs=1, progress=False, figures=False)
    off = "".join(parse(render_report(tmp_path / "off", CALIBRATION)).text)
    assert ("departs from the calibrated model in 1 parameter(s): soc_effect = 0.5 "
            "(calibrated model: 0.7465)") in off
    none = "".join(parse(render_report(tmp_path / "off")).text)
    assert "Calibration status unknown" in none


def test_bridged_parameters_are_the_values_the_model_carries(bliss76):
    from trialsim.report.calibration_status import BRIDGED

    params = pd.read_csv(CALIBRATION / "parameters.csv").set_index("parameter")
    for name, (value, _) in BRIDGED.items():
        path = params.loc[name, "paths"].split(".")
        node = bliss76
        for part in path:
            node = getattr(node, part)
        assert node == pytest.approx(value, abs=1e-9), name


def test_run_without_report_removes_a_stale_one(tmp_path):
    out = tmp_path / "r"
    args = ["run", str(CONFIGS / "bliss76.yaml"), "--out", str(out), "--quiet",
            "--no-figures", "--replicates", "2", *sum((["--set", f"{k}={json.dumps(v)}"]
                                                       for k, v in TINY.items()), [])]
    assert main([*args, "--report", "--calibration", str(CALIBRATION)]) == 0
    assert (out / "report.html").is_file()
    assert main(args) == 0
    assert not (out / "report.html").exists()
    assert main(["report", str(out), "--quiet"]) == 0
    assert (out / "report.html").is_file()


@pytest.fixture(scope="module")
def skin_cohort(tmp_path_factory):
    """A small run of the seed 004 cohort (results/ holds only the committed calibration)."""
    out = tmp_path_factory.mktemp("skin") / "clasi_realworld"
    assert main(["run", str(CONFIGS / "clasi_realworld.yaml"), "--replicates", "3",
                 "--n-jobs", "1", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("folder", ["calibration", "clasi_realworld"])
def test_other_commands_folders_report_every_table(folder, request):
    path = (ROOT / "results" / folder if folder == "calibration"
            else request.getfixturevalue("skin_cohort"))
    p = parse(render_report(path, CALIBRATION))
    res = ResultsFolder(path)
    keyed = {(c.get("data-source"), c["data-key"]): float(c["data-value"]) for c in p.cells}
    for table in res.table_files:
        df = res.table(table.name)
        if len(df) > 2000:
            continue
        for i, row in enumerate(df.itertuples(index=False)):
            for col, v in zip(df.columns, row, strict=True):
                if isinstance(v, (int, float)) and not isinstance(v, bool) and not pd.isna(v):
                    assert same(keyed[(table.name, f"{i}|{col}")], float(v)), (table, i, col)
    assert len(p.images) == len(res.figure_files)


def test_power_folder_report(tmp_path):
    out = tmp_path / "pw"
    args = ["power", str(CONFIGS / "bliss76.yaml"), "--out", str(out), "--quiet",
            "--replicates", "3", "--sizes", "60,90",
            *sum((["--set", f"{k}={json.dumps(v)}"] for k, v in TINY.items()
                  if k != "design.sample_size"), [])]
    assert main(args) == 0
    assert main(["report", str(out), "--out", str(tmp_path / "p.html"), "--quiet"]) == 0
    p = parse((tmp_path / "p.html").read_text())
    text = "".join(p.text)
    assert "Power curve: bliss76" in text and "power.csv" in text
    power = pd.read_csv(out / "power.csv")
    keyed = {c["data-key"]: float(c["data-value"]) for c in p.cells
             if c.get("data-source") == "power.csv"}
    assert all(same(keyed[f"{i}|value"], v) for i, v in enumerate(power.value))


def test_bad_input_is_refused_and_nothing_written(tmp_path, run_folder, capsys):
    before = sorted(p.name for p in run_folder.iterdir())
    cases = [
        (["report", str(tmp_path / "nowhere")], "no such results folder"),
        (["report", str(tmp_path)], "not a trialsim results folder"),
        (["report", str(run_folder), "--out", str(tmp_path)], "not a folder"),
        (["report", str(run_folder), "--out", str(tmp_path / "r.txt")], "ending in .html"),
        (["report", str(run_folder), "--calibration", str(run_folder)],
         "not a calibration folder"),
        (["run", str(CONFIGS / "bliss76.yaml"), "--calibration", str(CALIBRATION)],
         "give it with --report"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_folder), "--source", "bliss99"])
    assert exc.value.code == 2
    assert sorted(p.name for p in run_folder.iterdir()) == before
    assert not list(tmp_path.iterdir())


def test_results_folder_displays_in_jupyter(run_folder):
    res = ResultsFolder(run_folder)
    html = res._repr_html_()
    p = parse(html)
    head = res.headline()
    assert set(head.statistic) == {"response_rate", "power", "odds_ratio_median",
                                   "risk_difference_mean"}
    assert len(p.cells) >= len(head)
    assert "run of bliss76" in repr(res)
    with pytest.raises(ScenarioError, match="no run.json"):
        ResultsFolder(run_folder / "trials")


def test_run_output_displays_in_jupyter(tmp_path):
    sc = load_scenario(CONFIGS / "bliss76.yaml", TINY)
    out = run_scenario(sc, None, replicates=2, n_jobs=1, progress=False, figures=False)
    html = out._repr_html_()
    cells = parse(html).cells
    s = out.summary
    rate = s[(s.endpoint == "sri4") & (s.week == 12) & (s.arm == "placebo")
             & (s.statistic == "response_rate") & (s.subgroup.fillna("") == "")].value.iloc[0]
    # summary.csv keeps ten significant digits
    assert any(float(c["data-value"]) == pytest.approx(rate, rel=1e-9) for c in cells
               if c.get("data-value"))


def test_skin_run_with_report(tmp_path):
    out = tmp_path / "skin"
    assert main(["run", str(CONFIGS / "clasi_rct.yaml"), "--replicates", "3", "--out",
                 str(out), "--quiet", "--no-figures", "--report"]) == 0
    p = parse((out / "report.html").read_text())
    summary = pd.read_csv(out / "summary.csv")
    keyed = {c["data-key"]: float(c["data-value"]) for c in p.cells
             if c.get("data-source") == "summary.csv"}
    numeric = [c for c in summary.columns if pd.api.types.is_numeric_dtype(summary[c])]
    for i, row in summary.iterrows():
        for col in numeric:
            if not pd.isna(row[col]):
                assert same(keyed[f"{i}|{col}"], float(row[col]))
    assert "seed 004" in "".join(p.text)


def test_summary_key_names_every_naming_column(run_folder):
    s = pd.read_csv(run_folder / "summary.csv")
    assert set(s.columns) == {*SUMMARY_KEY, "scenario", "value", "mcse"}
    assert Path(run_folder / "report.html").stat().st_size < 5_000_000


# --------------------------------------------------------------------------- review fixes

def section_text(html: str, section: str) -> str:
    """The text of one section of a report."""
    body = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S).group(1)
    return "".join(parse(body).text)


def _run(tmp_path, config, overrides, name="r", replicates=4):
    sc = load_scenario(config, overrides)
    run_scenario(sc, tmp_path / name, replicates=replicates, n_jobs=1, progress=False,
                 figures=False)
    return tmp_path / name


def test_multiplicity_design_leads_with_the_adjusted_power(tmp_path):
    folder = _run(tmp_path, CONFIGS / "experiments" / "bliss52_multiplicity.yaml",
                  {"design.sample_size": 120})
    html = render_report(folder)
    p = parse(html)
    text = "".join(p.text)
    summary = section_text(html, "summary")
    assert "Power after multiplicity, bel10_vs_placebo" in summary
    assert "Multiplicity family, the success rule" in summary
    assert summary.index("after multiplicity") < summary.index("Power, unadjusted")
    assert "bel10_vs_placebo: power after multiplicity" in text  # a headline column
    s = pd.read_csv(folder / "summary.csv")
    adjusted = s[s.statistic == "power_adjusted"]
    keys = {c["data-key"] for c in p.cells if c.get("data-source") == "summary.csv"}
    assert {key_of(r) for _, r in adjusted.iterrows()} <= keys


def test_power_at_zero_or_one_shows_the_count_and_an_interval():
    from trialsim.report.sections import power_text

    assert power_text(1.0, 0.0, 8) == "1 (8 of 8 trials; 95% CI 0.676–1.000)"
    assert power_text(0.0, 0.0, 8) == "0 (0 of 8 trials; 95% CI 0.000–0.324)"
    assert power_text(0.25, 0.2165, 4) == "0.25 (0.22)"


def test_numbers_are_shown_to_their_monte_carlo_precision():
    from trialsim.report.cells import fmt_mcse, fmt_number

    assert fmt_number(0.2816, 0.010056) == "0.282" and fmt_mcse(0.010056) == "0.010"
    assert fmt_number(35.974, 0.063) == "35.97"
    assert fmt_number(-0.0001, 0.046) == "0.00"
    assert fmt_number(20261122) == "20261122"  # seeds copy and paste
    assert fmt_number(float("inf")) == "∞" and fmt_number(float("nan")) == "–"


def test_calibration_flags_a_changed_fixed_assumption(tmp_path):
    folder = _run(tmp_path, CONFIGS / "bliss52.yaml",
                  {**TINY, "drug.modifiers.race.black": 2.0}, replicates=2)
    html = render_report(folder, CALIBRATION)
    text = "".join(parse(html).text)
    assert ("departs from the calibrated model in 1 parameter(s): drug.modifiers.race.black"
            " = 2 (fixed at 0.73 in the fit)") in text
    summary = section_text(html, "summary")
    assert "departs from the calibrated model" in summary


def test_damaged_folders_and_calibrations_are_refused_in_one_line(tmp_path, run_folder,
                                                                  capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(run_folder, bad, ignore=shutil.ignore_patterns("trials", "replicates"))
    (bad / "summary.csv").write_bytes(b"a,b\n1,2,3,4\n\x00\xff")
    assert main(["report", str(bad), "--out", str(tmp_path / "x.html")]) == 2
    assert "summary.csv: cannot be read as a table" in capsys.readouterr().err
    (bad / "summary.csv").write_text("a,b\n1,2\n")
    assert main(["report", str(bad), "--out", str(tmp_path / "x.html")]) == 2
    assert "not a trialsim summary" in capsys.readouterr().err
    (bad / "summary.csv").unlink()
    assert main(["report", str(bad), "--out", str(tmp_path / "x.html")]) == 2
    assert "without summary.csv" in capsys.readouterr().err
    record = json.loads((run_folder / "run.json").read_text())
    (bad / "run.json").write_text(json.dumps({"trialsim_version": record["trialsim_version"]}))
    assert main(["report", str(bad), "--out", str(tmp_path / "x.html")]) == 2
    assert "not a complete run record" in capsys.readouterr().err
    cal = tmp_path / "cal"
    cal.mkdir()
    (cal / "parameters.csv").write_text("")
    for argv in (["report", str(run_folder), "--calibration", str(cal)],
                 ["run", str(CONFIGS / "bliss76.yaml"), "--report", "--calibration", str(cal),
                  "--out", str(tmp_path / "never")]):
        assert main(argv) == 2
        assert "cannot be read" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "never").exists()


def test_run_report_names_the_published_folder(run_folder):
    html = (run_folder / "report.html").read_text()
    assert f"<code>{run_folder}</code>" in html and ".staging" not in html


def test_a_failing_report_does_not_lose_the_run(tmp_path, monkeypatch, capsys):
    import trialsim.experiments.pipeline as pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("template trouble")

    monkeypatch.setattr(pipeline, "write_report", broken)
    out = tmp_path / "r"
    argv = ["run", str(CONFIGS / "bliss76.yaml"), "--out", str(out), "--quiet",
            "--no-figures", "--replicates", "2", "--report",
            *sum((["--set", f"{k}={json.dumps(v)}"] for k, v in TINY.items()), [])]
    assert main(argv) == 0
    assert (out / "summary.csv").is_file() and not (out / "report.html").exists()
    assert "report.html could not be written (RuntimeError: template trouble)" in \
        capsys.readouterr().err


def test_source_and_calibration_are_refused_where_they_mean_nothing(capsys, skin_cohort):
    skin = str(skin_cohort)
    assert main(["report", skin, "--source", "bliss52"]) == 2
    assert "has no baseline" in capsys.readouterr().err
    assert main(["report", skin, "--calibration", str(CALIBRATION)]) == 2
    assert "seed 004" in capsys.readouterr().err


def test_notebook_headline_of_other_commands_is_their_main_table():
    res = ResultsFolder(ROOT / "results" / "calibration")
    assert list(res.headline().columns) == list(res.table("fit_table").columns)
    assert res.name == "configs/calibration.yaml"


def test_the_notebook_example_draws_its_figure(tmp_path, run_folder):
    import subprocess
    import sys

    script = ROOT / "docs" / "examples" / "custom_plot.py"
    done = subprocess.run([sys.executable, str(script), str(run_folder),
                           str(tmp_path / "fig.png")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sri8" in done.stdout
    other = subprocess.run([sys.executable, str(script), str(ROOT / "results" / "calibration")],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert other.returncode == 1 and "holds `trialsim calibrate`" in other.stderr


def assert_reports_every_table(folder: Path, html: str) -> None:
    """Every number of every CSV of ``folder`` is in the report with its exact value, and
    every PNG is embedded."""
    p = parse(html)
    res = ResultsFolder(folder)
    keyed = {(c.get("data-source"), c["data-key"]): float(c["data-value"]) for c in p.cells}
    assert res.table_files
    for table in res.table_files:
        df = res.table(table.name)
        shown = {k.split("|")[0] for s, k in keyed if s == table.name}
        if len(df) > 2000:  # a long table keeps its whole-trial headline rows
            assert shown and "rows shown: the whole-trial" in "".join(p.text)
            df = df.iloc[sorted(int(i) for i in shown)]
            assert set(df.statistic) <= set(KEPT_STATISTICS) and df.subgroup.isna().all()
        for i, row in zip(df.index, df.itertuples(index=False), strict=True):
            for col, v in zip(df.columns, row, strict=True):
                if isinstance(v, (int, float)) and not isinstance(v, bool) and not pd.isna(v):
                    assert same(keyed[(table.name, f"{i}|{col}")], float(v)), (table, i, col)
    assert len(p.images) == len(res.figure_files) > 0


TINY_SET = sum((["--set", f"{k}={json.dumps(v)}"] for k, v in TINY.items()
                if k != "design.sample_size"), [])


@pytest.mark.parametrize("command, options", [
    ("sweep", ["--sweep", "design.dropout_per_year=0.05,0.2", "--replicates", "3"]),
    ("assurance", ["--draws", "2", "--sizes", "60,90", "--replicates", "2",
                   "--calibration", str(CALIBRATION)]),
    ("samplesize", ["--target-power", "0.5", "--n-min", "60", "--n-max", "300",
                    "--replicates", "20", "--confirm-replicates", "20", "--bootstrap", "20",
                    "--set", 'constant_response={"rates": {"placebo": 0.3, "bel1": 0.45, '
                    '"bel10": 0.65}}', "--set", 'analysis.endpoints=["constant_response"]',
                    "--set", "analysis.subgroups.factors=[]", "--endpoint",
                    "constant_response", "--comparison", "bel10_vs_placebo"]),
])
def test_experiment_folders_report_every_table(tmp_path, command, options):
    out = tmp_path / command
    assert main([command, str(CONFIGS / "bliss76.yaml"), "--out", str(out), "--quiet",
                 "--no-checkpoint", *options, *TINY_SET]) == 0
    assert main(["report", str(out), "--quiet", "--calibration", str(CALIBRATION)]) == 0
    html = (out / "report.html").read_text()
    assert_reports_every_table(out, html)
    assert section_text(html, "calibration")  # the model's calibration status is given
