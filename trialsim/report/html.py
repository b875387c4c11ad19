"""The HTML report of a results folder: one self-contained file (figures embedded, no
network needed to open it), rendered with Jinja2 from ``templates/report.html.j2``.

``render_report`` builds it from any folder a trialsim command wrote (a run, a power curve,
a sweep, a sample-size search, an assurance, a calibration, an explanation, the skin
studies); ``write_report`` writes it atomically.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from markupsafe import Markup

from trialsim import __version__
from trialsim.core.io import atomic_write
from trialsim.core.provenance import machine, package_versions
from trialsim.report import sections
from trialsim.report.calibration_status import calibration_status
from trialsim.report.cells import Cell, Table
from trialsim.report.folder import ResultsFolder
from trialsim.report.render import environment

#: what each command's folder is, for the report's title
TITLES = {
    "run": "Simulated trials", "power": "Power curve", "sweep": "Sensitivity sweep",
    "samplesize": "Sample-size search", "assurance": "Assurance (probability of success)",
    "calibrate": "Calibration to the published trials", "explain": "Why two trials differ",
}

#: figure captions by file-name pattern (first match); others are named by their file
CAPTIONS = (
    ("response_rates.png", "Response rate by arm, endpoint and week (mean over trials; "
                           "bars: 95% range of the trials)"),
    ("power.png", "Power (share of trials rejecting), with 95% intervals"),
    ("odds_ratio_distribution.png", "Distribution of the estimated odds ratio over trials"),
    ("sledai_trajectory.png", "Mean SLEDAI-2K by visit and arm"),
    ("forest_*_week*.png", "Subgroup forest plot: odds ratio by subgroup level"),
    ("endpoint_sensitivity.png", "Sample size needed, by endpoint"),
    ("sweep.png", "Power across the swept parameter"),
    ("tornado_*.png", "Tornado: power at the low and high end of each swept parameter"),
    ("heatmap_*.png", "Power over two swept parameters"),
    ("samplesize.png", "Sample-size search: power at the evaluated sizes"),
    ("assurance.png", "Assurance: power averaged over the parameter uncertainty"),
    ("fit.png", "Calibration fit: simulated against published, with 95% CIs"),
    ("waterfall.png", "Decomposition of the difference between the two trials"),
    ("clasi_trajectory.png", "CLASI-A over time"),
    ("clasi50_distribution.png", "CLASI-50 response over replicates"),
    ("subtype_response.png", "CLASI response by rash subtype"),
)

#: provenance fields shown first, in this order (the rest follow alphabetically)
PROVENANCE_ORDER = ("command", "scenario", "scenario_sha256", "seed", "replicates",
                    "n_jobs", "chunk_size", "backend", "wall_time_seconds",
                    "trials_per_second", "finished_at", "trialsim_version", "python")


@dataclass
class Figure:
    """One embedded PNG: its file, caption and ``data:`` URI."""

    name: str
    caption: str
    uri: str


@dataclass
class Section:
    """A section of the report: a heading, paragraphs, tables and figures."""

    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    pre: str | None = None


def caption(name: str) -> str:
    """The caption of a figure file."""
    for pattern, text in CAPTIONS:
        if fnmatch.fnmatch(name, pattern):
            return f"{text} ({name})"
    return name


def embed(path: Path) -> Figure:
    """A PNG file as an embedded figure."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return Figure(path.name, caption(path.name), f"data:image/png;base64,{data}")


# --------------------------------------------------------------------------- sections

def _results_sections(res: ResultsFolder, source: str | None) -> list[Section]:
    out = []
    s = res.summary
    shown = set()
    if res.command == "run" and res.family == "sle" and s is not None:
        shown |= {"summary.csv", "baseline.csv"}
        base = sections.baseline_table(res, source)
        if base is not None:
            out.append(Section("baseline", "Baseline: simulated and source population",
                               tables=[base]))
        replicates = res.run.get("replicates")
        results = Section("results", "Results", tables=[
            t for t in [sections.headline_table(s, replicates)] if t is not None])
        results.tables += sections.all_statistics_tables(s)
        results.paragraphs.append(
            f"{res.run.get('replicates')} simulated trials. Every estimate carries its Monte "
            "Carlo standard error (MCSE, in brackets); the folded tables hold every row of "
            "summary.csv.")
        out.append(results)
        forests = [embed(p) for p in res.figure_files if p.name.startswith("forest_")]
        sub = sections.subgroup_table(s)
        if forests or sub is not None:
            out.append(Section("subgroups", "Subgroups", figures=forests,
                               tables=[sub] if sub is not None else []))
    tables = sections.file_tables(res, skip=tuple(shown))
    for name in ("samplesize.json", "report.json"):
        path = res.path / name
        if path.is_file():
            tables.insert(0, sections.json_facts(json.loads(path.read_text()), name,
                                                 skip=("parameter_covariance",)))
    if tables:
        title = "Tables" if shown else "Results"
        out.append(Section("tables", title, tables=tables))
    figures = [embed(p) for p in res.figure_files if not p.name.startswith("forest_")
               or not shown]
    if figures:
        out.append(Section("figures", "Figures", figures=figures))
    return out


def _calibration_section(res: ResultsFolder, calibration: Path | None) -> Section | None:
    if res.family == "skin":
        text = ("The skin model is calibrated to the real-world cohort of seed 004 "
                "(docs/skin.md)")
        text += ("; this cohort run compares itself with it in seed_comparison.csv (Tables)."
                 if (res.path / "seed_comparison.csv").is_file() else
                 ": `trialsim run configs/clasi_realworld.yaml` reproduces that cohort and "
                 "compares itself with it.")
        return Section("calibration", "Calibration status", paragraphs=[text])
    status = _status(res, calibration)
    if status is None:
        return None
    return Section("calibration", "Calibration status of the model",
                   paragraphs=[status.headline, *status.verdicts], tables=status.tables)


def _status(res: ResultsFolder, calibration: Path | None):
    """The calibration status of an SLE folder's model (None: explain, skin)."""
    if res.family == "skin" or res.command == "explain":
        return None
    if res.command == "calibrate":
        return calibration_status(res.path, None, None)
    return calibration_status(calibration, res.config, res.name)


def _summary_section(res: ResultsFolder, calibration: Path | None) -> Section | None:
    """What a reader needs first: the primary result with its MCSE and whether the model
    is the calibrated one."""
    paras = []
    s = res.summary
    if res.command == "run" and res.family == "sle" and s is not None:
        paras += [Markup('<span class="warn">{}</span>').format(p) if p.startswith("Warning")
                  else p for p in sections.key_findings(s, res.config, res.run.get("replicates"))]
    status = _status(res, calibration)
    if status is not None and res.command != "calibrate" and status.verdicts:
        paras.append(status.verdicts[0] if status.ok is not None else status.headline)
        if status.ok is False:
            paras[-1] = Markup('<span class="warn">{}</span>').format(paras[-1])
    elif status is not None and res.command != "calibrate":
        paras.append(status.headline)
    if not paras:
        return None
    return Section("summary", "Summary", paragraphs=paras)


def _scenario_section(res: ResultsFolder) -> Section | None:
    config = res.config
    if not config:
        return None
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
    digest = hashlib.sha256(text.encode()).hexdigest()
    paras = [Markup("SHA-256 of the YAML below: <code>{}</code>.").format(digest)]
    if res.run.get("scenario_sha256"):
        paras.append(Markup(
            "SHA-256 of the validated scenario as run.json records it (engine, description "
            "and sweep left out): <code>{}</code>.").format(res.run["scenario_sha256"]))
    section = Section("scenario", "The scenario as run (resolved YAML)", pre=text)
    section.paragraphs = paras
    return section


def _provenance_section(res: ResultsFolder) -> Section:
    run = res.run
    keys = [k for k in PROVENANCE_ORDER if k in run]
    keys += sorted(k for k in run if k not in keys and not isinstance(run[k], (dict, list)))
    table = Table("The run", ["field", "value"])
    table.rows = [[Cell(k), Cell(sections._text(run[k]))] for k in keys]
    tables = [table]
    for name, title in (("machine", "The machine"), ("packages", "Package versions")):
        record = run.get(name)
        if isinstance(record, dict):
            t = Table(title, ["field", "value"])
            t.rows = [[Cell(k), Cell(sections._text(v))] for k, v in record.items()]
            tables.append(t)
    if not isinstance(run.get("machine"), dict):
        tables.append(Table("The machine", ["field", "value"], [[
            Cell("recorded"), Cell("no: this folder was written before trialsim recorded it")]]))
    report = Table("This report", ["field", "value"])
    report.rows = [[Cell("written at"), Cell(time.strftime("%Y-%m-%dT%H:%M:%S%z"))],
                   [Cell("trialsim"), Cell(__version__)],
                   [Cell("platform"), Cell(machine()["platform"])],
                   [Cell("jinja2"), Cell(package_versions(("jinja2",))["jinja2"])]]
    tables.append(report)
    return Section("provenance", "Provenance", tables=tables)


def report_sections(res: ResultsFolder, calibration: Path | None = None,
                    source: str | None = None) -> list[Section]:
    """Every section of the report of ``res``, in reading order."""
    out = [sec for sec in [_summary_section(res, calibration)] if sec is not None]
    if res.config and res.command != "calibrate":
        tables = sections.design_tables(res.config)
        if tables:
            out.append(Section("design", "Design", tables=tables))
    out += _results_sections(res, source)
    cal = _calibration_section(res, calibration)
    if cal is not None:
        out.append(cal)
    scenario = _scenario_section(res)
    if scenario is not None:
        out.append(scenario)
    out.append(_provenance_section(res))
    return out


# --------------------------------------------------------------------------- rendering

def render_report(folder: str | Path, calibration: str | Path | None = None,
                  source: str | None = None, shown_as: str | Path | None = None) -> str:
    """The HTML report of the results ``folder`` as one self-contained page.

    Parameters
    ----------
    folder : str or Path
        A folder a trialsim command wrote (it holds ``run.json``).
    calibration : str or Path, optional
        The calibration folder whose status the report gives (``trialsim calibrate``'s
        output, e.g. ``results/calibration``); None: no status, the report says so.
    source : str, optional
        The preset whose published baseline the simulated one is set against (``bliss52``
        or ``bliss76``); default: the scenario's own name when it is one of them.
    shown_as : str or Path, optional
        The folder's name in the report (``trialsim run --report`` renders its staging
        folder, published under the results folder's name).
    """
    res = ResultsFolder(folder)
    secs = report_sections(res, Path(calibration) if calibration else None, source)
    config = res.config or {}
    title = f"{TITLES.get(res.command, res.command)}: {res.name}"
    return environment().get_template("report.html.j2").render(
        title=title, description=config.get("description") or "", sections=secs,
        folder=str(shown_as or res.path), version=__version__,
        run_report=res.command == "run" and res.family == "sle")


def write_report(folder: str | Path, out: str | Path | None = None,
                 calibration: str | Path | None = None, source: str | None = None,
                 shown_as: str | Path | None = None) -> Path:
    """Write the report of ``folder`` to ``out`` (default ``<folder>/report.html``) in one
    step: a reader never sees half of it."""
    html = render_report(folder, calibration, source, shown_as)
    path = Path(out) if out else Path(folder) / "report.html"
    return atomic_write(path, lambda p: p.write_text(html, encoding="utf-8"))
