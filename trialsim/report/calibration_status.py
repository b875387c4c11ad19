"""The calibration status of the model a run used: was it simulated with the fitted
parameters, and how well does that fit reproduce the published trials?

Read from a calibration folder (``trialsim calibrate``: ``parameters.csv``,
``fit_table.csv``, ``report.json``, ``cross_validation.csv``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialsim.errors import ScenarioError
from trialsim.report.cells import Cell, Table, fmt_number, frame_table, is_missing

#: a run's parameter agrees with the fit when they differ by less than this, relative to
#: the fitted value (the configs carry fitted values to four decimals)
AGREEMENT = 5e-4

#: fitted parameters the shipped model re-expresses rather than copies: name -> (the value
#: configs/model.yaml carries, why); a run agrees when it uses that value (a test checks the
#: values against configs/model.yaml)
BRIDGED = {
    "emax": (0.2020, "bridged from the linear average concentration of the fit to the PK "
             "model's effect-site concentrations (scripts/bridge_pk.py)"),
    "ec50": (24.5797, "bridged with emax (scripts/bridge_pk.py)"),
}


@dataclass
class CalibrationStatus:
    """What the report says of the calibration: a headline, its verdicts and tables."""

    folder: Path | None
    headline: str
    verdicts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    ok: bool | None = None


def _value_at(config: dict, path: str):
    node = config
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _parameter_table(params: pd.DataFrame, config: dict | None) -> tuple[Table, list[str]]:
    columns = ["parameter", "YAML path", "fitted", "SE", "95% CI", "at bound"]
    if config is not None:
        columns += ["this run", "agrees"]
    table = Table("Fitted parameters", columns, note="SE and CI from the fit's parameter "
                  "covariance (sandwich, GMM). 'agrees': the run used the fitted value "
                  f"(to a relative {AGREEMENT:g}).")
    differ = []
    for r in params.itertuples():
        fixed = is_missing(r.fitted)
        bridged = BRIDGED.get(r.parameter)
        row = [Cell(r.parameter), Cell(str(r.paths).replace(";", ", ")),
               Cell(f"fixed: {r.why}" if fixed else fmt_number(r.fitted),
                    None if fixed else float(r.fitted), numeric=not fixed),
               Cell(fmt_number(r.se)),
               Cell("–" if fixed else f"{fmt_number(r.ci_low)} – {fmt_number(r.ci_high)}"),
               Cell("yes" if str(r.at_bound) == "True" else "no")]
        if config is not None:
            used = [_value_at(config, p) for p in str(r.paths).split(";")]
            used = [u for u in used if isinstance(u, (int, float))]
            target = bridged[0] if bridged else r.fitted
            assumed = fixed_value(r.why) if fixed else None
            if not used:
                row += [Cell("not set"), Cell("–")]
            elif fixed and assumed is None:
                row += [Cell(fmt_number(used[0]), float(used[0]), numeric=True),
                        Cell("fixed, not fitted (no value stated to compare)")]
            elif fixed:
                agrees = all(abs(u - assumed) <= AGREEMENT * max(1.0, abs(assumed))
                             for u in used)
                if not agrees:
                    differ.append(f"{r.parameter} = {fmt_number(used[0])} (fixed at "
                                  f"{fmt_number(assumed)} in the fit)")
                row += [Cell(fmt_number(used[0]), float(used[0]), numeric=True),
                        Cell(("yes" if agrees else "NO") + f": fixed at {fmt_number(assumed)}")]
            else:
                agrees = all(abs(u - target) <= AGREEMENT * max(1.0, abs(target))
                             for u in used)
                if not agrees:
                    differ.append(f"{r.parameter} = {fmt_number(used[0])} (calibrated model: "
                                  f"{fmt_number(target)}"
                                  + (f", bridged from the fitted {fmt_number(r.fitted)})"
                                     if bridged else ")"))
                verdict = ("yes" if agrees else "NO") + (f": {bridged[1]}, "
                                                         f"{fmt_number(bridged[0])}"
                                                         if bridged else "")
                row += [Cell(fmt_number(used[0]), float(used[0]), numeric=True),
                        Cell(verdict)]
        table.rows.append(row)
    return table, differ


def fixed_value(why: str) -> float | None:
    """The value a fixed parameter's note states first (``"0.73: EMBRACE ..."``, ``"52
    (seed 000 ...)"``), or None when it states none."""
    match = re.match(r"\s*(-?\d+(?:\.\d+)?)(?![\d.])", str(why))
    return float(match.group(1)) if match else None


def calibration_status(folder: Path | None, config: dict | None,
                       scenario: str | None) -> CalibrationStatus:
    """The status of ``folder``'s calibration for a run of ``config`` (the run's resolved
    scenario; None for the calibration folder itself) named ``scenario``."""
    if folder is None or not (folder / "parameters.csv").is_file():
        where = "no calibration folder was given" if folder is None else \
            f"{folder} holds no parameters.csv"
        return CalibrationStatus(folder, f"Calibration status unknown: {where} (run "
                                 "`make calibrate`, or pass --calibration DIR).")
    params, report = read_calibration(folder)
    table, differ = _parameter_table(params, config)
    status = CalibrationStatus(folder, "", tables=[table])
    inside, total = report.get("targets_inside_ci"), report.get("targets")
    if inside is not None and total:
        status.verdicts.append(
            "Acceptance at the fit: the fitted model's simulated value lies inside the "
            f"published 95% confidence interval for {inside} of {total} published targets.")
    if report.get("j_p_value") is not None:
        status.verdicts.append(
            f"Overall fit: GMM J = {fmt_number(report.get('gmm_distance'))} on "
            f"{report.get('j_df')} df, p = {fmt_number(report['j_p_value'])} "
            f"({report.get('fitted_targets')} fitted targets, "
            f"{report.get('evaluations')} evaluations).")
    if config is not None:
        status.ok = not differ
        status.verdicts.insert(0, (
            f"This run used the calibrated model: the fitted value of all "
            f"{int(params.fitted.notna().sum())} fitted parameters (emax and ec50 as bridged "
            "to the PK model) and the fit's fixed values."
            if not differ else
            f"This run departs from the calibrated model in {len(differ)} parameter(s): "
            + "; ".join(differ) + ". Its results are outside the calibrated model."))
    status.headline = f"Calibration: {folder}"
    _fit_tables(status, folder, scenario)
    return status


def _fit_tables(status: CalibrationStatus, folder: Path, scenario: str | None) -> None:
    fit_path = folder / "fit_table.csv"
    if fit_path.is_file():
        fit = pd.read_csv(fit_path, keep_default_na=False, na_values=[""])
        mine = fit[fit.scenario == scenario] if scenario in set(fit.scenario) else fit
        which = f"the {scenario} targets" if scenario in set(fit.scenario) else "all targets"
        cols = [c for c in ("scenario", "endpoint", "week", "arm", "comparison", "subgroup",
                            "kind", "fitted", "published", "ci_low", "ci_high", "simulated",
                            "z", "inside_ci", "source") if c in mine]
        outside = int((mine.inside_ci.astype(str) != "True").sum()) if "inside_ci" in mine \
            else 0
        status.tables.append(frame_table(
            mine[cols].reset_index(drop=True), f"Fit table: {which} ({len(mine)} rows, "
            f"{outside} outside the published 95% CI)", "fit_table.csv", collapsed=True,
            note="published: the trial's estimate and 95% CI; simulated: the fitted model "
            "(large-sample); z = (simulated - published) / published SE."))
    cv = folder / "cross_validation.csv"
    if cv.is_file():
        status.tables.append(frame_table(
            pd.read_csv(cv), "Cross-validation: each trial left out and predicted",
            "cross_validation.csv",
            note="coverage: share of the held-out trial's targets inside their 95% "
            "prediction interval."))


def check_calibration_folder(given: str | Path | None) -> Path | None:
    """The calibration folder a report reads: ``given`` (which must hold a calibration's
    ``parameters.csv``), else ``results/calibration`` of the working directory when there is
    one, else None.

    Raises
    ------
    ScenarioError
        ``given`` is not a calibration folder.
    """
    if given is None:
        path = Path("results") / "calibration"
        if not (path / "parameters.csv").is_file():
            return None
    else:
        path = Path(given)
        if not (path / "parameters.csv").is_file():
            raise ScenarioError(
                f"--calibration {given}: not a calibration folder (no parameters.csv there); "
                "name the folder `trialsim calibrate` wrote, e.g. results/calibration")
    read_calibration(path)  # a damaged folder is refused before anything is simulated
    return path


#: the columns of a calibration's parameters.csv the status reads
PARAMETER_COLUMNS = ("parameter", "paths", "fitted", "se", "ci_low", "ci_high", "at_bound",
                     "why")


def read_calibration(folder: Path) -> tuple[pd.DataFrame, dict]:
    """A calibration folder's ``parameters.csv`` and ``report.json`` (empty when absent).

    Raises
    ------
    ScenarioError
        A file that cannot be read, or a ``parameters.csv`` without the columns above.
    """
    where = folder / "parameters.csv"
    try:
        params = pd.read_csv(where)
        report = (json.loads((folder / "report.json").read_text())
                  if (folder / "report.json").is_file() else {})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ScenarioError(f"--calibration {folder}: a file there cannot be read "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    missing = [c for c in PARAMETER_COLUMNS if c not in params.columns]
    if missing or params.empty or not isinstance(report, dict):
        what = (f"parameters.csv lacks the columns {missing}" if missing else
                "parameters.csv has no parameters" if params.empty else
                "report.json is not a JSON object")
        raise ScenarioError(f"--calibration {folder}: not a complete calibration ({what}); "
                            "name the folder `trialsim calibrate` wrote")
    return params, report

