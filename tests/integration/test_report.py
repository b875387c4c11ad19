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
    assert "used the fitted value of all" in on
    assert "published 95% confidence interval for 82 of 83" in on
    sc = load_scenario(CONFIGS / "bliss76.yaml", {**TINY, "standard_of_care.effect": 0.5})
    run_scenario(sc, tmp_path / "off", replicates=2, n_jobs=1, progress=False, figures=False)
    off = "".join(parse(render_report(tmp_path / "off", CALIBRATION)).text)
    assert "departs from the fit in 1 parameter(s): soc_effect = 0.5" in off
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


@pytest.mark.parametrize("folder", ["calibration", "clasi_realworld"])
def test_other_commands_folders_report_every_table(folder):
    path = ROOT / "results" / folder
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
