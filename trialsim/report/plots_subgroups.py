"""Subgroup forest plots from the subgroup rows of a run's summary (``subgroup`` set).

One figure per endpoint and week analysed within subgroups, laid out as published subgroup
analyses are: the whole trial first, then a row per level under a header per factor, with
the mean number of patients and the mean response rate per arm, then one panel per
comparison with the median odds ratio over the simulated trials and the median of their 95%
CI bounds (the interval a typical trial of this design would report for that subgroup), and
the factor's interaction test: how often it rejects at alpha (its power) and its median
p-value (and in how many trials it could be fitted, when not all). A level analysable in
fewer than half of the trials is drawn faint.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trialsim.report.plots import comparison_label, endpoint_label

_ROW_HEIGHT = 0.24
#: the first line of a forest plot: the whole trial (not a factor of the summary)
OVERALL = ""


def _percent(x: float) -> str:
    return f"{100 * x:.0f}%" if np.isfinite(x) else "–"


def subgroup_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The subgroup rows of a summary (``subgroup`` non-empty)."""
    if "subgroup" not in summary.columns:
        return summary.iloc[0:0]
    sg = summary["subgroup"]
    return summary[sg.notna() & (sg != "")]


def forest_targets(summary: pd.DataFrame) -> list[tuple[str, int]]:
    """The (endpoint, week) pairs with subgroup rows, in the summary's order."""
    rows = subgroup_rows(summary)
    return list(dict.fromkeys(zip(rows.endpoint, rows.week.astype(int), strict=True)))


def plot_forest(summary: pd.DataFrame, endpoint: str, week: int,
                title: str | None = None) -> Figure:
    """Forest plot of one endpoint and week (see the module docstring).

    Parameters
    ----------
    summary : DataFrame
        A run's summary (``summary.csv``), with its subgroup rows.
    endpoint : str
    week : int
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = subgroup_rows(summary)
    rows = rows[(rows.endpoint == endpoint) & (rows.week.astype(int) == int(week))]
    if rows.empty:
        raise ValueError(f"summary has no subgroup rows for {endpoint} week {week}")
    whole = summary.drop(subgroup_rows(summary).index)
    whole = whole[(whole.endpoint == endpoint) & (whole.week.astype(int) == int(week))]
    level = rows.level.fillna("").astype(str)
    arm = rows.arm.fillna("").astype(str)
    comp = rows.comparison.fillna("").astype(str)
    rows = rows.assign(level=level, arm=arm, comparison=comp)
    arms = list(dict.fromkeys(rows.loc[(rows.arm != "") & (rows.level != ""), "arm"]))
    comps = list(dict.fromkeys(rows.loc[rows.comparison != "", "comparison"]))
    factors = list(dict.fromkeys(rows.subgroup))
    value = rows.set_index(["subgroup", "level", "arm", "comparison", "statistic"])["value"]

    overall = whole.assign(arm=whole.arm.fillna("").astype(str),
                           comparison=whole.comparison.fillna("").astype(str)).set_index(
        ["arm", "comparison", "statistic"])["value"]

    def get(f, lv, a, c, stat):
        if f == OVERALL:  # the whole trial; its patients: any factor's levels together
            if stat == "patients":
                return sum(get(factors[0], x, a, c, stat) for x in levels_of(factors[0]))
            try:
                return float(overall.loc[(a, c, stat)])
            except KeyError:
                return float("nan")
        try:
            return float(value.loc[(f, lv, a, c, stat)])
        except KeyError:
            return float("nan")

    def levels_of(f):
        return [lv for lv in dict.fromkeys(rows.loc[rows.subgroup == f, "level"]) if lv]

    # layout: the whole trial, then a header line per factor and its levels
    lines: list[tuple[str, str | None]] = [(OVERALL, "all patients")]
    for f in factors:
        lines.append((f, None))
        lines += [(f, lv) for lv in levels_of(f)]
    n_lines = len(lines)
    height = 1.3 + _ROW_HEIGHT * n_lines
    fig = Figure(figsize=(5.6 + 2.9 * len(comps), height), layout="constrained")
    grid = fig.add_gridspec(1, 1 + len(comps), width_ratios=[2.3] + [1.3] * len(comps))
    text_ax = fig.add_subplot(grid[0, 0])
    y = np.arange(n_lines)[::-1].astype(float)
    text_ax.set_ylim(-0.7, n_lines - 0.3)
    text_ax.set_xlim(0, 1)
    text_ax.axis("off")
    text_ax.text(0.0, n_lines - 0.2, "Subgroup", fontsize=8, weight="bold", va="bottom")
    text_ax.text(0.42, n_lines - 0.2, "n per arm\n" + " / ".join(arms), fontsize=7,
                 weight="bold", va="bottom")
    text_ax.text(0.72, n_lines - 0.2, "response rate\n" + " / ".join(arms), fontsize=7,
                 weight="bold", va="bottom")
    for yy, (f, lv) in zip(y, lines, strict=True):
        if lv is None:
            text_ax.text(0.0, yy, f.replace("_", " "), fontsize=8, weight="bold", va="center")
            continue
        n = " / ".join(f"{get(f, lv, a, '', 'patients'):.0f}" for a in arms)
        r = " / ".join(_percent(get(f, lv, a, "", "response_rate")) for a in arms)
        text_ax.text(0.0 if f == OVERALL else 0.03, yy, lv.replace("_", " "), fontsize=7.5,
                     va="center", weight="bold" if f == OVERALL else "normal")
        text_ax.text(0.42, yy, n, fontsize=7, va="center")
        text_ax.text(0.72, yy, r, fontsize=7, va="center")
    for k, c in enumerate(comps):
        ax = fig.add_subplot(grid[0, 1 + k], sharey=text_ax)
        ax.axvline(1.0, color="0.5", lw=0.8, ls="--")
        for yy, (f, lv) in zip(y, lines, strict=True):
            if lv is None:
                p_int = get(f, "", "", c, "interaction_p_median")
                pw = get(f, "", "", c, "interaction_power")
                fit = get(f, "", "", c, "interaction_analyzable")
                shown = (f"interaction: power {pw:.0%}, median p {p_int:.2f}"
                         + (f" (fitted in {fit:.0%} of trials)" if fit < 0.995 else "")
                         if np.isfinite(p_int) else "interaction: not analysable")
                ax.text(0.01, yy, shown,
                        transform=ax.get_yaxis_transform(), fontsize=6.5, va="center",
                        color="0.25")
                continue
            odds = get(f, lv, "", c, "odds_ratio_median")
            lo = get(f, lv, "", c, "ci_low_median")
            hi = get(f, lv, "", c, "ci_high_median")
            # a level analysable in fewer than half of the trials: drawn faint (its median
            # describes a selected few)
            faint = not get(f, lv, "", c, "analyzable") >= 0.5
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [yy, yy], color="0.8" if faint else "0.2", lw=1.1)
            if np.isfinite(odds):
                ax.plot(odds, yy, "D" if f == OVERALL else "s",
                        color="0.7" if faint else ("k" if f == OVERALL else "C0"), ms=4)
        ax.set_xscale("log")
        ax.set_xlabel("odds ratio (median; median 95% CI)", fontsize=7.5)
        ax.set_title(comparison_label(c), fontsize=8.5)
        ax.tick_params(axis="y", left=False, labelleft=False)
        ax.tick_params(axis="x", labelsize=7)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    fig.suptitle(title or f"{endpoint_label(endpoint)}, week {week}: subgroups", fontsize=10)
    return fig
