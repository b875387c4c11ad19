"""The sections of the HTML report, built as plain tables from a results folder.

Every number comes from a file of the folder (or of the calibration folder) and keeps its
Monte Carlo SE; nothing here simulates or re-estimates.
"""

from __future__ import annotations

import math

import numpy as np
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
from trialsim.summarize.mcse import wilson_interval

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


#: the decision rule's power beside the unadjusted one, when the design has one:
#: statistic -> (column label, what it is)
DECISION_POWER = {
    "power_adjusted": ("power after multiplicity",
                       "rejected by the multiplicity procedure (analysis.multiplicity)"),
    "gs_power": ("group-sequential power",
                 "H0 rejected at some look of the group-sequential design, futility stops "
                 "obeyed (design.interim)"),
}
#: a comparison's estimates are marked when fewer trials than this share were analysable
ANALYSABLE_MARK = 0.9


def headline_table(s: pd.DataFrame, replicates: int | None = None) -> Table | None:
    """Response endpoints by week: each arm's rate and each comparison's power (and the
    decision rule's power, when the design has multiplicity or interim looks), odds ratio
    (median over trials) and risk difference, all with their MCSE."""
    w = _whole_trial(s)
    rates = w[w.statistic == "response_rate"]
    if rates.empty:
        return None
    arms = list(dict.fromkeys(rates.arm.dropna()))
    comps = list(dict.fromkeys(w[w.statistic == "power"].comparison.dropna()))
    rules = [st for st in DECISION_POWER if (w.statistic == st).any()]
    stats = [*rules, "power", "odds_ratio_median", "risk_difference_mean"]
    labels = {"power": "power, unadjusted" if rules else "power",
              "odds_ratio_median": "OR median", "risk_difference_mean": "risk difference",
              **{st: DECISION_POWER[st][0] for st in rules}}
    columns = ["endpoint", "week", *(f"{a} rate" for a in arms),
               *(f"{c}: {labels[st]}" for c in comps for st in stats)]
    note = ("Rates are means over simulated trials; power is the share of trials rejecting "
            "at the analysis' alpha; the odds ratio is the median over trials. MCSE: Monte "
            "Carlo standard error.")
    for st in rules:
        note += f" {DECISION_POWER[st][0].capitalize()}: {DECISION_POWER[st][1]}."
    note += (f" † fewer than {ANALYSABLE_MARK:.0%} of trials analysable (model fitted): the "
             "estimate describes those alone.")
    table = Table("Response endpoints: rates by arm and comparisons (MCSE in brackets)",
                  columns, note=note)
    index = {key_of(r): r for _, r in w.iterrows()}
    for (endpoint, week), _ in rates.groupby(["endpoint", "week"], sort=False):
        row = [Cell(str(endpoint)), Cell(fmt_number(week))]
        for a in arms:
            row.append(_lookup(index, endpoint, week, a, "", "response_rate", percent=True))
        for c in comps:
            analysable = index.get(_key(endpoint, week, "", c, "analyzable"))
            thin = analysable is not None and analysable.value < ANALYSABLE_MARK
            for st in stats:
                cell = _lookup(index, endpoint, week, "", c, st, replicates=replicates)
                if thin and st in ("odds_ratio_median", "risk_difference_mean"):
                    cell.text += " †"
                row.append(cell)
        table.rows.append(row)
    return table


def _key(endpoint, week, arm, comparison, statistic) -> str:
    return "|".join([str(endpoint), fmt_number(week), arm, comparison, "", "", statistic])


def _lookup(index: dict, endpoint, week, arm, comparison, statistic, percent=False,
            replicates: int | None = None) -> Cell:
    key = _key(endpoint, week, arm, comparison, statistic)
    r = index.get(key)
    if r is None:
        return Cell("–")
    cell = value_cell(r.value, r.mcse, key, "summary.csv", percent=percent)
    if "power" in statistic and replicates:
        cell.text = power_text(r.value, r.mcse, replicates)
    return cell


def key_findings(s: pd.DataFrame, config: dict, replicates: int | None = None) -> list[str]:
    """The primary endpoint at the primary week in words: rates and power (the decision
    rule's first, when the design has one), with MCSE; warnings."""
    endpoint = config["analysis"]["endpoints"][0]
    week = config["design"]["endpoint_weeks"][0]
    w = _whole_trial(s)
    family = w[w.endpoint == "multiplicity"]
    w = w[(w.endpoint == endpoint) & (w.week == week)]
    out = []
    rates = w[w.statistic == "response_rate"]
    if not rates.empty:
        out.append(f"Primary endpoint {endpoint} at week {week}: response rate " + ", ".join(
            f"{r.arm} {value_cell(r.value, r.mcse, percent=True).text}"
            for r in rates.itertuples()) + ".")
    rules = [st for st in DECISION_POWER if (w.statistic == st).any()]
    for st in rules:
        for r in w[w.statistic == st].itertuples():
            out.append(f"{DECISION_POWER[st][0].capitalize()}, {r.comparison}: "
                       f"{power_text(r.value, r.mcse, replicates)} "
                       f"({DECISION_POWER[st][1]}).")
    names = {"disjunctive_power": "at least one hypothesis rejected",
             "conjunctive_power": "every hypothesis rejected",
             "success_any_power": "the success rule, any of its hypotheses rejected",
             "success_all_power": "the success rule, all of its hypotheses rejected"}
    for r in family[family.statistic.isin(list(names))].itertuples():
        out.append(f"Multiplicity family, {names[r.statistic]}: "
                   f"{power_text(r.value, r.mcse, replicates)}.")
    label = "Power, unadjusted (one final analysis, no multiplicity)" if rules else "Power"
    for r in w[w.statistic == "power"].itertuples():
        out.append(f"{label}, {r.comparison}: {power_text(r.value, r.mcse, replicates)}.")
    for r in w[(w.statistic == "analyzable") & (w.value < ANALYSABLE_MARK)].itertuples():
        out.append(f"Warning: {r.comparison}: only {100 * r.value:.0f}% of trials could be "
                   "analysed (logistic model fitted).")
    return out


def power_text(value: float, mcse: float, replicates: int | None) -> str:
    """A share of trials with its MCSE; at 0 or 1, where the binomial MCSE is 0 and says
    nothing, the count and a 95% Wilson interval instead."""
    if replicates and not is_missing(value) and value in (0.0, 1.0):
        low, high = (float(x[0]) for x in wilson_interval(np.array([value]), replicates))
        return (f"{fmt_number(value)} ({round(value * replicates)} of {replicates} trials; "
                f"95% CI {low:.3f}–{high:.3f})")
    return value_cell(value, mcse).text


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
    note = ("Percentages of randomised patients, or means over patients, each with its "
            "MCSE in brackets (for means, the patients' SD follows); means over trials. ")
    note += (f"Source population: {pop.source}." if pop is not None else
             "No published source population is stored for this scenario "
             "(trialsim report --source bliss52|bliss76 names one).")
    table = Table("Baseline characteristics: simulated and source population", columns,
                  note=note)
    for characteristic, part in b.groupby("characteristic", sort=False):
        by_arm = {r.arm: r for r in part.itertuples()}
        kind = part.kind.iloc[0]
        row = [Cell(str(characteristic)), Cell({"percent": "%", "mean": "mean; SD"}
                                                .get(kind, kind))]
        for a in arms:
            r = by_arm.get(a)
            if r is None:
                row.append(Cell("–"))
                continue
            cell = value_cell(r.value, r.mcse, f"{characteristic}|{a}", "baseline.csv")
            if kind == "mean" and not is_missing(r.sd):
                cell.text += f"; SD {fmt_number(r.sd, r.mcse)}"
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
        return Cell(f"{fmt_number(mean)}; SD {fmt_number(sd)}", mean, numeric=True)
    return Cell("")


# --------------------------------------------------------------------------- other tables

#: the statistics a long summary-like table (sweep.csv, one summary per grid point) keeps
#: in the report, whole trial only; the file has every row
KEPT_STATISTICS = ("response_rate", "power", "power_adjusted", "gs_power",
                   "odds_ratio_median", "risk_difference_mean", "mean_change",
                   "difference_mean", "hazard_ratio_median", "disjunctive_power",
                   "success_any_power", "success_all_power")


def _shorter(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A long summary-like table cut to its whole-trial headline statistics, and a note."""
    if "statistic" not in df.columns:
        return df, ""
    keep = df.statistic.isin(KEPT_STATISTICS)
    if "subgroup" in df.columns:
        keep &= df.subgroup.isna()
    return df[keep], (f"{int(keep.sum())} of {len(df)} rows shown: the whole-trial "
                      f"{', '.join(KEPT_STATISTICS)}; the file has every row.")


def file_tables(res: ResultsFolder, skip: tuple[str, ...] = ()) -> list[Table]:
    """Every CSV of the folder not shown elsewhere, as it is (folded when long; a long
    summary-like table cut to its headline statistics); a patient-level file too long to
    show is named with its size."""
    tables = []
    for path in res.table_files:
        if path.name in skip:
            continue
        df = res.table(path.name)
        note = ""
        if len(df) > MAX_SHOWN_ROWS:
            df, note = _shorter(df)
        if len(df) > MAX_SHOWN_ROWS:
            tables.append(Table(path.name, ["rows", "columns"], [[
                Cell(f"{len(df):,}"), Cell(", ".join(map(str, df.columns)))]],
                note="Too long to show here: open the file."))
            continue
        tables.append(frame_table(df, path.name, path.name, collapsed=len(df) > 40,
                                  note=note))
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
