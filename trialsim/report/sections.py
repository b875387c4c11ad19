"""The sections of the HTML report, built as plain tables from a results folder.

Every number comes from a file of the folder (or of the calibration folder) and keeps its
Monte Carlo SE; nothing here simulates or re-estimates.
"""

from __future__ import annotations

import math

import pandas as pd

from trialsim.config.published import SOURCE_POPULATIONS
from trialsim.report.cells import (
    Cell,
    Table,
    fmt_number,
    frame_table,
    is_missing,
    key_of,
    summary_rows_table,
    value_cell,
)
from trialsim.report.folder import MAX_SHOWN_ROWS, ResultsFolder

#: statistics of the headline table of a run, per comparison (the rest are in the full table)
HEADLINE_COMPARISON = ("power", "odds_ratio_median", "risk_difference_mean")


# --------------------------------------------------------------------------- design

def _flat(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.extend(_flat(v, path + "."))
        else:
            out.append((path, v))
    return out


def _text(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(_text(x) for x in v) if v else "none"
    if isinstance(v, dict):
        return "none" if not v else ", ".join(f"{k}: {_text(x)}" for k, x in v.items())
    return fmt_number(v) if isinstance(v, (int, float)) else str(v)


def design_tables(config: dict) -> list[Table]:
    """The design at a glance: the arms (regimen, allocation), then every design and
    analysis setting by its YAML path (multiplicity, interim, accrual, strata included)."""
    tables = []
    design = config.get("design") or {}
    arms = design.get("arms")
    if isinstance(arms, dict) and arms:
        fields = sorted({k for a in arms.values() if isinstance(a, dict) for k in a})
        arm_table = Table("Arms", ["arm", *fields])
        for name, arm in arms.items():
            arm_table.rows.append([Cell(name), *(Cell(_text(arm.get(f))) for f in fields)])
        tables.append(arm_table)
    for block in ("design", "analysis"):
        part = config.get(block)
        if not isinstance(part, dict):
            continue
        rows = [(p, v) for p, v in _flat(part, f"{block}.")
                if not p.startswith("design.arms.")]
        table = Table(f"{block.capitalize()} settings (by YAML path)", ["setting", "value"])
        table.rows = [[Cell(p), Cell(_text(v))] for p, v in rows]
        tables.append(table)
    return tables


# --------------------------------------------------------------------------- results

def _whole_trial(s: pd.DataFrame) -> pd.DataFrame:
    return s[s.subgroup.isna()] if "subgroup" in s else s


def headline_table(s: pd.DataFrame, config: dict) -> Table | None:
    """Response endpoints by week: each arm's rate and each comparison's power, odds ratio
    (median over trials) and risk difference, all with their MCSE."""
    w = _whole_trial(s)
    rates = w[w.statistic == "response_rate"]
    if rates.empty:
        return None
    arms = list(dict.fromkeys(rates.arm.dropna()))
    comps = list(dict.fromkeys(w[w.statistic == "power"].comparison.dropna()))
    labels = {"power": "power", "odds_ratio_median": "OR median",
              "risk_difference_mean": "risk difference"}
    columns = ["endpoint", "week", *(f"{a} rate" for a in arms),
               *(f"{c}: {labels[st]}" for c in comps for st in HEADLINE_COMPARISON)]
    table = Table("Response endpoints: rates by arm and comparisons (MCSE in brackets)",
                  columns, note="Rates are means over simulated trials; power is the share of "
                  "trials rejecting at the analysis' alpha; the odds ratio is the median "
                  "over trials. MCSE: Monte Carlo standard error.")
    index = {key_of(r): r for _, r in w.iterrows()}
    for (endpoint, week), _ in rates.groupby(["endpoint", "week"], sort=False):
        row = [Cell(str(endpoint)), Cell(fmt_number(week))]
        for a in arms:
            row.append(_lookup(index, endpoint, week, a, "", "response_rate", percent=True))
        for c in comps:
            for st in HEADLINE_COMPARISON:
                row.append(_lookup(index, endpoint, week, "", c, st))
        table.rows.append(row)
    return table


def key_findings(s: pd.DataFrame, config: dict) -> list[str]:
    """The primary endpoint at the primary week in words: rates and power, with MCSE."""
    endpoint = config["analysis"]["endpoints"][0]
    week = config["design"]["endpoint_weeks"][0]
    w = _whole_trial(s)
    w = w[(w.endpoint == endpoint) & (w.week == week)]
    out = []
    rates = w[w.statistic == "response_rate"]
    if not rates.empty:
        out.append(f"Primary endpoint {endpoint} at week {week}: response rate " + ", ".join(
            f"{r.arm} {value_cell(r.value, r.mcse, percent=True).text}"
            for r in rates.itertuples()) + ".")
    for r in w[w.statistic == "power"].itertuples():
        out.append(f"Power, {r.comparison}: {value_cell(r.value, r.mcse).text}.")
    for r in w[(w.statistic == "analyzable") & (w.value < 0.9)].itertuples():
        out.append(f"Warning: {r.comparison}: only {100 * r.value:.0f}% of trials could be "
                   "analysed (logistic model fitted).")
    return out


def _lookup(index: dict, endpoint, week, arm, comparison, statistic, percent=False) -> Cell:
    key = "|".join([str(endpoint), fmt_number(week).replace(",", ""), arm, comparison, "", "",
                    statistic])
    r = index.get(key)
    if r is None:
        return Cell("–")
    return value_cell(r.value, r.mcse, key, "summary.csv", percent=percent)


def all_statistics_tables(s: pd.DataFrame) -> list[Table]:
    """Every whole-trial row of ``summary.csv``, one folded table per endpoint."""
    w = _whole_trial(s)
    return [summary_rows_table(part, f"{endpoint}: every statistic",
                               ("week", "arm", "comparison", "statistic"))
            for endpoint, part in w.groupby("endpoint", sort=False)]


def subgroup_table(s: pd.DataFrame) -> Table | None:
    """Every subgroup row of ``summary.csv`` (folded)."""
    if "subgroup" not in s:
        return None
    sub = s[s.subgroup.notna()]
    if sub.empty:
        return None
    return summary_rows_table(
        sub, f"Subgroups: every statistic ({len(sub)} rows)",
        ("endpoint", "week", "subgroup", "level", "arm", "comparison", "statistic"),
        note="interaction_power: share of trials whose treatment-by-subgroup interaction "
        "test rejected.")


# --------------------------------------------------------------------------- baseline

def baseline_table(res: ResultsFolder, source: str | None) -> Table | None:
    """The simulated baseline by arm (mean over trials, MCSE in brackets; SD of means)
    beside the published source population when there is one."""
    b = res.baseline
    if b is None or b.empty:
        return None
    pop = SOURCE_POPULATIONS.get(source or res.name)
    arms = list(dict.fromkeys(b.arm))
    columns = ["characteristic", "unit", *arms]
    if pop is not None:
        columns.append(f"{pop.trial} (published)")
    note = ("Percentages of randomised patients, or mean (SD) over patients; each with its "
            "MCSE in brackets. ")
    note += (f"Source population: {pop.source}." if pop is not None else
             "No published source population is stored for this scenario "
             "(trialsim report --source bliss52|bliss76 names one).")
    table = Table("Baseline characteristics: simulated and source population", columns,
                  note=note)
    for characteristic, part in b.groupby("characteristic", sort=False):
        by_arm = {r.arm: r for r in part.itertuples()}
        kind = part.kind.iloc[0]
        row = [Cell(str(characteristic)), Cell({"percent": "%", "mean": "mean (SD)"}
                                                .get(kind, kind))]
        for a in arms:
            r = by_arm.get(a)
            if r is None:
                row.append(Cell("–"))
                continue
            cell = value_cell(r.value, r.mcse, f"{characteristic}|{a}", "baseline.csv")
            if kind == "mean" and not is_missing(r.sd):
                cell.text = f"{fmt_number(r.value, r.mcse)} ({fmt_number(r.sd)})"
            row.append(cell)
        if pop is not None:
            row.append(_published(pop, str(characteristic)))
        table.rows.append(row)
    return table


def _published(pop, name: str) -> Cell:
    if name in pop.percent:
        return Cell(f"{fmt_number(pop.percent[name])}%", pop.percent[name], numeric=True)
    if name in pop.mean_sd:
        mean, sd = pop.mean_sd[name]
        return Cell(f"{fmt_number(mean)} ({fmt_number(sd)})", mean, numeric=True)
    return Cell("")


# --------------------------------------------------------------------------- other tables

def file_tables(res: ResultsFolder, skip: tuple[str, ...] = ()) -> list[Table]:
    """Every CSV of the folder not shown elsewhere, as it is (folded when long); a
    patient-level file too long to show is named with its size."""
    tables = []
    for path in res.table_files:
        if path.name in skip:
            continue
        df = res.table(path.name)
        if len(df) > MAX_SHOWN_ROWS:
            tables.append(Table(path.name, ["rows", "columns"], [[
                Cell(f"{len(df):,}"), Cell(", ".join(map(str, df.columns)))]],
                note="Too long to show here: open the file."))
            continue
        tables.append(frame_table(df, path.name, path.name, collapsed=len(df) > 40))
    return tables


def json_facts(record: dict, title: str, skip: tuple[str, ...] = ()) -> Table:
    """A flat JSON record (``samplesize.json``, a calibration's ``report.json``) as a
    two-column table of its scalar fields."""
    table = Table(title, ["field", "value"])
    for k, v in _flat(record):
        if k in skip or (isinstance(v, list) and len(v) > 12):
            continue
        numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
        value = float(v) if numeric and math.isfinite(v) else None
        table.rows.append([Cell(k), Cell(_text(v), value, numeric=numeric)])
    return table
