"""A results folder read back: its ``run.json``, tables and figures, whatever command made it.

``ResultsFolder`` is what the HTML report renders and what a notebook displays: in Jupyter a
``ResultsFolder`` shows its headline table (``_repr_html_``).

>>> from trialsim.report.folder import ResultsFolder
>>> res = ResultsFolder("results/bliss76")      # doctest: +SKIP
>>> res.summary.query("statistic == 'power'")   # doctest: +SKIP
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import pandas as pd

from trialsim.errors import ScenarioError

#: tables with more rows than this are listed, not shown (patient-level files)
MAX_SHOWN_ROWS = 2000
#: the notebook view shows at most this many rows of a folder's headline table
MAX_HEADLINE_ROWS = 60
#: the columns every summary.csv has
SUMMARY_COLUMNS = ("endpoint", "week", "arm", "comparison", "subgroup", "level", "statistic",
                   "value", "mcse")
#: the table a command's folder leads with (the notebook view), after which summary.csv
HEADLINE_TABLES = {
    "power": ("power.csv",), "sweep": ("sweep.csv",), "samplesize": ("samplesize_points.csv",),
    "assurance": ("assurance.csv",), "calibrate": ("fit_table.csv",),
    "explain": ("decomposition.csv",),
}


class ResultsFolder:
    """The outputs of one trialsim command in one folder.

    Parameters
    ----------
    path : str or Path
        A folder written by ``trialsim run``, ``power``, ``sweep``, ``samplesize``,
        ``assurance``, ``calibrate`` or ``explain`` (it holds a ``run.json``).

    Raises
    ------
    ScenarioError
        When the folder does not exist or holds no readable ``run.json``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        record = self.path / "run.json"
        if not self.path.is_dir():
            raise ScenarioError(f"{self.path}: no such results folder")
        if not record.is_file():
            raise ScenarioError(
                f"{self.path}: not a trialsim results folder (it has no run.json); name the "
                "folder a command wrote, e.g. results/bliss76"
            )
        try:
            self.run = json.loads(record.read_text())
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"{record}: unreadable ({exc})") from None
        if not isinstance(self.run, dict) or "trialsim_version" not in self.run:
            raise ScenarioError(f"{record}: not a trialsim run record (no trialsim_version)")
        config = self.run.get("scenario_config", self.run.get("spec_config"))
        if config is not None and not isinstance(config, dict):
            raise ScenarioError(f"{record}: its scenario_config is not a mapping")
        if self.command == "run" and self.family == "sle":
            self._check_run()

    def _check_run(self) -> None:
        """A run folder must say what it ran and hold its summary table."""
        config = self.config or {}
        try:
            config["analysis"]["endpoints"][0], config["design"]["endpoint_weeks"][0]
        except (KeyError, IndexError, TypeError):
            raise ScenarioError(
                f"{self.path / 'run.json'}: no scenario_config with analysis.endpoints and "
                "design.endpoint_weeks: not a complete run record") from None
        s = self.summary
        if s is None:
            raise ScenarioError(f"{self.path}: a run folder without summary.csv; rerun the "
                                "scenario (trialsim run) to write it")
        missing = [c for c in (*SUMMARY_COLUMNS,) if c not in s.columns]
        if missing:
            raise ScenarioError(f"{self.path / 'summary.csv'}: not a trialsim summary (no "
                                f"column {', '.join(missing)})")

    # ------------------------------------------------------------------ what it is
    @property
    def command(self) -> str:
        """The command that wrote the folder (``run`` when run.json does not say)."""
        return str(self.run.get("command", "run"))

    @property
    def family(self) -> str:
        """``skin`` for the skin studies (CLASI cohort and trials), else ``sle``."""
        config = self.run.get("scenario_config") or {}
        design = config.get("design") if isinstance(config, dict) else None
        return "skin" if isinstance(design, dict) and "type" in design else "sle"

    @property
    def name(self) -> str:
        """The scenario's name (the spec's for a calibration, the two scenarios' for an
        explanation)."""
        if self.run.get("scenario"):
            return str(self.run["scenario"])
        if self.command == "explain" and self.run.get("a") and self.run.get("b"):
            return f"{Path(str(self.run['a'])).stem} vs {Path(str(self.run['b'])).stem}"
        if self.run.get("spec"):
            return str(self.run["spec"])
        return self.path.name

    @property
    def config(self) -> dict | None:
        """The resolved scenario (or calibration spec) the command ran, as recorded."""
        return self.run.get("scenario_config") or self.run.get("spec_config")

    # ------------------------------------------------------------------ contents
    @cached_property
    def table_files(self) -> list[Path]:
        """The CSV tables of the folder, by name."""
        return sorted(self.path.glob("*.csv"))

    @cached_property
    def figure_files(self) -> list[Path]:
        """The PNG figures of the folder, by name."""
        return sorted(self.path.glob("*.png"))

    def table(self, name: str) -> pd.DataFrame | None:
        """The table ``name`` (``summary`` or ``summary.csv``), or None when absent.

        Raises
        ------
        ScenarioError
            The file cannot be read as a CSV table (damaged, not text).
        """
        path = self.path / (name if name.endswith(".csv") else f"{name}.csv")
        if not path.is_file():
            return None
        try:
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ScenarioError(f"{path}: cannot be read as a table ({first}); rerun the "
                                "command that wrote it") from None

    @property
    def summary(self) -> pd.DataFrame | None:
        """``summary.csv``: one row per (endpoint, week, arm or comparison, subgroup,
        statistic), with its Monte Carlo SE."""
        return self.table("summary")

    @property
    def baseline(self) -> pd.DataFrame | None:
        """``baseline.csv``: the simulated baseline characteristics by arm."""
        return self.table("baseline")

    def headline(self) -> pd.DataFrame:
        """The primary endpoint's rates and comparisons, each with its MCSE (a run), or
        the first table of the folder (other commands)."""
        s = self.summary
        config = self.config or {}
        if self.command == "run" and self.family == "sle" and s is not None:
            primary = config["analysis"]["endpoints"][0]
            week = config["design"]["endpoint_weeks"][0]
            keep = (s.endpoint == primary) & (s.week == week) & s.subgroup.isna()
            keep &= s.statistic.isin(["response_rate", "power", "odds_ratio_median",
                                      "risk_difference_mean"])
            cols = ["endpoint", "week", "arm", "comparison", "statistic", "value", "mcse"]
            return s.loc[keep, cols].reset_index(drop=True)
        for name in HEADLINE_TABLES.get(self.command, ()) + ("summary.csv",):
            table = self.table(name)
            if table is not None:
                return table.head(MAX_HEADLINE_ROWS)
        return pd.DataFrame()

    def _repr_html_(self) -> str:
        """Jupyter's view: what the folder is and its headline table (with MCSE)."""
        from trialsim.report.render import headline_html

        return headline_html(self)

    def __repr__(self) -> str:
        return (f"ResultsFolder({str(self.path)!r}: {self.command} of {self.name}, "
                f"{len(self.table_files)} tables, {len(self.figure_files)} figures)")
