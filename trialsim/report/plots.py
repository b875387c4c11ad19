"""Publication-style figures for simulated SLE trial results.

Every plotting function takes a tidy :class:`pandas.DataFrame` produced by the
summary / replicate / trajectory stages and returns a
:class:`matplotlib.figure.Figure`. Figures are built with
:class:`matplotlib.figure.Figure` directly, so no pyplot state and no GUI
backend are involved; this makes the module safe on headless machines and in
worker processes. Use :func:`save_figure` to write a figure atomically.

Input shapes
------------
``summary``
    Columns ``scenario, endpoint, week, arm, comparison, statistic, value,
    mcse``. Per-arm statistics (``response_rate``, ``response_rate_q025``,
    ``response_rate_q975``) have ``arm`` set and ``comparison == ""``;
    per-comparison statistics (``power``, ``odds_ratio_median``, ...) have
    ``comparison`` set and ``arm == ""``.
``replicates``
    Columns ``replicate, endpoint, week, comparison, log_or, odds_ratio,
    p_value, rate_treated, rate_control, risk_difference``; one row per
    replicate x endpoint x week x comparison. ``odds_ratio`` may be NaN for
    trials that could not be analysed.
``trajectory``
    Columns ``arm, week, mean, q025, q975``: mean SELENA-SLEDAI score per arm
    and visit averaged over replicates, with 2.5% / 97.5% quantiles over
    replicates.
"""

from __future__ import annotations

import os
import re
import tempfile
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from trialsim.analysis import Z_95
from trialsim.core.io import SUMMARY_COLUMNS, whole_trial

__all__ = [
    "comparison_label",
    "endpoint_label",
    "plot_odds_ratio_distribution",
    "plot_power",
    "plot_response_rates",
    "plot_sledai_trajectory",
    "save_figure",
]

REPLICATE_COLUMNS = ("endpoint", "week", "comparison", "odds_ratio", "p_value")
TRAJECTORY_COLUMNS = ("arm", "week", "mean", "q025", "q975")


_PLACEBO_COLOR = "0.55"
_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)

_ENDPOINT_LABELS = {
    "no_new_bilag": "No new BILAG",
    "no_pga_worsening": "No PGA worsening",
    "no_flare": "No SFI flare",
    "no_severe_flare": "No severe SFI flare",
    "bicla": "BICLA",
    "lldas": "LLDAS",
    "lldas_50": "LLDAS ≥50% of visits",
    "doris_remission": "DORIS remission",
    "sri4_modified": "Modified SRI-4",
    "sri4_sustained": "Sustained SRI-4",
    "sri4_s2k": "SRI-S2K",
    "steroid_sparing": "Steroid sparing",
    "sledai_change": "SELENA-SLEDAI change (ANCOVA)",
    "clasi20": "CLASI-20",
    "clasi50": "CLASI-50",
    "clasi100": "CLASI-100",
    "clasi_change": "CLASI-A change (ANCOVA)",
    "time_to_first_flare": "Time to first SFI flare",
    "time_to_first_severe_flare": "Time to first severe SFI flare",
}


# --------------------------------------------------------------------------- helpers


def _require_columns(df: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}")


def _select_scenario(
    df: pd.DataFrame, scenario: str | None, name: str
) -> tuple[pd.DataFrame, str | None]:
    """Restrict ``df`` to one scenario (if it has a ``scenario`` column)."""
    if "scenario" not in df.columns:
        return df, scenario
    present = list(pd.unique(df["scenario"].dropna()))
    if scenario is None:
        if len(present) > 1:
            raise ValueError(
                f"{name} holds several scenarios ({', '.join(map(str, present))}); "
                "pass scenario= to choose one"
            )
        return df, (str(present[0]) if present else None)
    if scenario not in present:
        raise ValueError(f"scenario {scenario!r} not found in {name}; available: {present}")
    return df[df["scenario"] == scenario], scenario


def _select_weeks(df: pd.DataFrame, week: int | None, name: str) -> list[int]:
    weeks = sorted(int(w) for w in pd.unique(df["week"].dropna()))
    if week is None:
        if not weeks:
            raise ValueError(f"{name} has no rows to plot")
        return weeks
    if int(week) not in weeks:
        raise ValueError(f"week {week} not found in {name}; available weeks: {weeks}")
    return [int(week)]


def _ordered(values: Iterable[Any], first: str | None = None) -> list[str]:
    """Unique non-empty values in order of appearance, optionally moving ``first`` to the front."""
    out = [str(v) for v in pd.unique(pd.Series(list(values), dtype=object).dropna()) if str(v)]
    if first is not None and first in out:
        out.remove(first)
        out.insert(0, first)
    return out


def _arm_colors(arms: Sequence[str]) -> dict[str, str]:
    colors: dict[str, str] = {}
    i = 0
    for arm in arms:
        if arm == "placebo":
            colors[arm] = _PLACEBO_COLOR
        else:
            colors[arm] = _PALETTE[i % len(_PALETTE)]
            i += 1
    return colors


def _series_colors(keys: Sequence[str]) -> dict[str, str]:
    return {k: _PALETTE[i % len(_PALETTE)] for i, k in enumerate(keys)}


def endpoint_label(endpoint: str) -> str:
    """Human-readable label for an endpoint code (``"sri4"`` -> ``"SRI-4"``).

    Parameters
    ----------
    endpoint : str
        Endpoint code as used in the summary tables.

    Returns
    -------
    str
        Label for axes and titles; unknown codes have underscores replaced by spaces.
    """
    if m := re.fullmatch(r"sri(\d+)", endpoint):
        return f"SRI-{m.group(1)}"
    if m := re.fullmatch(r"sledai_reduction_(\d+)", endpoint):
        return f"SLEDAI reduction \u2265{m.group(1)}"
    if endpoint.startswith("safety_"):  # an adverse event (model/safety.py)
        return "AE: " + endpoint.removeprefix("safety_").replace("_", " ")
    return _ENDPOINT_LABELS.get(endpoint, endpoint.replace("_", " "))


def comparison_label(comparison: str) -> str:
    """Human-readable label for a comparison code (``"bel1_vs_placebo"`` -> ``"bel1 vs placebo"``).

    Parameters
    ----------
    comparison : str
        Comparison code as used in the summary and replicate tables.

    Returns
    -------
    str
        Label used in legends.
    """
    return comparison.replace("_vs_", " vs ").replace("_", " ")


def _title(base: str, scenario: str | None) -> str:
    return f"{base}: scenario {scenario}" if scenario else base


def _panels(
    n: int, ax: Axes | None, *, panel_width: float, height: float = 4.5, sharey: bool = True
) -> tuple[Figure, list[Axes]]:
    """Create ``n`` side-by-side panels, or reuse the caller's single ``ax``."""
    if ax is not None:
        if n != 1:
            raise ValueError(
                f"{n} weeks to plot but a single ax was given; pass week= to choose one"
            )
        return _root_figure(ax), [ax]
    fig = Figure(figsize=(max(5.0, panel_width * n) + 1.8, height), layout="constrained")
    axes = fig.subplots(1, n, sharey=sharey, squeeze=False)[0]
    return fig, list(axes)


def _root_figure(ax: Axes) -> Figure:
    """The top-level Figure holding ``ax`` (also when ``ax`` lives in a SubFigure)."""
    fig = ax.figure
    return fig if isinstance(fig, Figure) else fig.figure  # SubFigure.figure is the root


def _set_titles(fig: Figure, axes: Sequence[Axes], weeks: Sequence[int], base: str) -> None:
    if len(axes) == 1:
        axes[0].set_title(f"{base}\nWeek {weeks[0]}")
    else:
        fig.suptitle(base)
        for a, w in zip(axes, weeks, strict=True):
            a.set_title(f"Week {w}")


def _unique_lookup(df: pd.DataFrame, keys: list[str], name: str) -> pd.DataFrame:
    dup = df.duplicated(subset=keys, keep=False)
    if dup.any():
        example = df.loc[dup, keys].iloc[0].to_dict()
        raise ValueError(
            f"{name} has duplicate rows for {example}; filter to one scenario/endpoint first"
        )
    return df.set_index(keys)


def _get(table: pd.DataFrame, key: tuple, column: str) -> float:
    try:
        return float(table.at[key, column])
    except KeyError:
        return float("nan")


def _format_endpoint_axis(ax: Axes, endpoints: Sequence[str]) -> None:
    ax.set_xticks(np.arange(len(endpoints)))
    rotate = len(endpoints) > 4
    labels = [endpoint_label(e) for e in endpoints]
    if not rotate:  # wrap long labels so neighbours do not overlap
        labels = [textwrap.fill(lab, 12, break_long_words=False) for lab in labels]
    ax.set_xticklabels(
        labels,
        rotation=35 if rotate else 0,
        ha="right" if rotate else "center",
        rotation_mode="anchor" if rotate else "default",
    )
    ax.set_xlabel("Endpoint")
    ax.set_xlim(-0.6, len(endpoints) - 0.4)


# --------------------------------------------------------------------------- response rates


def plot_response_rates(
    summary: pd.DataFrame,
    week: int | None = None,
    title: str | None = None,
    *,
    scenario: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Grouped bar chart of responder rates per endpoint and arm.

    Bars show the ``response_rate`` statistic (mean over replicates of the
    per-trial arm response rate). Thin capped whiskers span the 2.5% to 97.5%
    quantiles of the trial-level rates (``response_rate_q025`` /
    ``response_rate_q975`` rows), i.e. what a single trial might observe. Where
    a finite ``mcse`` is available a thick black segment shows
    ``value +/- 1.96 * mcse``, the Monte Carlo precision of the bar height.

    Parameters
    ----------
    summary : pandas.DataFrame
        Tidy summary table (see module docstring).
    week : int, optional
        Week to plot. If None, one panel is drawn per week present.
    title : str, optional
        Figure title. Defaults to ``"Response rates by endpoint and arm: scenario <name>"``.
    scenario : str, optional
        Scenario to plot; required only when ``summary`` holds several scenarios.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into. Only valid when a single week is plotted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure containing the plot. Each arm is one
        :class:`~matplotlib.container.BarContainer` labelled with the arm name.

    Raises
    ------
    ValueError
        If columns are missing, the week/scenario is absent, there are no
        ``response_rate`` rows, or rows are duplicated.
    """
    _require_columns(summary, SUMMARY_COLUMNS, "summary")
    df, scenario = _select_scenario(whole_trial(summary), scenario, "summary")
    stats = ("response_rate", "response_rate_q025", "response_rate_q975")
    df = df[df["statistic"].isin(stats) & (df["arm"].astype(str) != "")]
    rates = df[df["statistic"] == "response_rate"]
    if rates.empty:
        raise ValueError("summary has no 'response_rate' rows to plot")
    weeks = _select_weeks(rates, week, "summary response_rate rows")
    endpoints = _ordered(rates["endpoint"])
    arms = _ordered(rates["arm"], first="placebo")
    colors = _arm_colors(arms)
    table = _unique_lookup(df, ["week", "endpoint", "arm", "statistic"], "summary")

    fig, axes = _panels(
        len(weeks), ax, panel_width=max(3.0, 0.3 * len(endpoints) * len(arms) + 0.8)
    )
    x = np.arange(len(endpoints), dtype=float)
    width = 0.8 / len(arms)
    any_mcse = False
    any_quantile = False
    for a, w in zip(axes, weeks, strict=True):
        for j, arm in enumerate(arms):
            xpos = x + (j - (len(arms) - 1) / 2) * width
            keys = [(w, e, arm) for e in endpoints]
            val = np.array([_get(table, (*k, "response_rate"), "value") for k in keys])
            se = np.array([_get(table, (*k, "response_rate"), "mcse") for k in keys])
            lo = np.array([_get(table, (*k, "response_rate_q025"), "value") for k in keys])
            hi = np.array([_get(table, (*k, "response_rate_q975"), "value") for k in keys])
            a.bar(xpos, val, width=width * 0.95, color=colors[arm], label=arm, zorder=2)
            ok = np.isfinite(val) & np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                any_quantile = True
                yerr = np.vstack([np.clip(val - lo, 0, None), np.clip(hi - val, 0, None)])
                a.errorbar(
                    xpos[ok],
                    val[ok],
                    yerr=yerr[:, ok],
                    fmt="none",
                    ecolor="0.25",
                    elinewidth=1.0,
                    capsize=3,
                    zorder=3,
                )
            ok = np.isfinite(val) & np.isfinite(se)
            if ok.any():
                any_mcse = True
                a.errorbar(
                    xpos[ok],
                    val[ok],
                    yerr=Z_95 * se[ok],
                    fmt="none",
                    ecolor="black",
                    elinewidth=3.5,
                    capsize=0,
                    zorder=4,
                )
        _format_endpoint_axis(a, endpoints)
        a.set_ylim(0, 1)
        a.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
        a.grid(axis="y", alpha=0.3, zorder=0)
    axes[0].set_ylabel("Responder rate")

    handles: list[Any] = [Patch(facecolor=colors[arm], label=arm) for arm in arms]
    if any_quantile:
        handles.append(
            Line2D(
                [],
                [],
                color="0.25",
                lw=1.0,
                marker="_",
                markersize=8,
                label="2.5\u201397.5% of trial-level rates",
            )
        )
    if any_mcse:
        handles.append(Line2D([], [], color="black", lw=3.5, label="\u00b11.96 Monte Carlo SE"))
    axes[-1].legend(handles=handles, title="Arm", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _set_titles(fig, axes, weeks, title or _title("Response rates by endpoint and arm", scenario))
    return fig


# --------------------------------------------------------------------------- odds ratios


def plot_odds_ratio_distribution(
    replicates: pd.DataFrame,
    endpoint: str = "sri4",
    week: int | None = None,
    title: str | None = None,
    *,
    scenario: str | None = None,
    alpha: float = 0.05,
    bins: int = 30,
    ax: Axes | None = None,
) -> Figure:
    """Histograms of the per-trial odds ratio for each comparison, on a log scale.

    For each comparison the finite, positive odds ratios are histogrammed on
    shared log-spaced bins. A dashed black line marks OR = 1 and a solid line
    in the comparison's color marks the median of the plotted odds ratios. A
    text box reports, per comparison, the empirical power (share of *all*
    replicates with ``p_value < alpha``; unanalysable trials count as
    non-rejections), the median OR and the number of trials skipped because
    their odds ratio was NaN, zero or infinite.

    Parameters
    ----------
    replicates : pandas.DataFrame
        Per-replicate results (see module docstring).
    endpoint : str, default "sri4"
        Endpoint to plot.
    week : int, optional
        Week to plot. If None, one panel is drawn per week present for the endpoint.
    title : str, optional
        Figure title. Defaults to ``"<endpoint> odds ratios across simulated trials"``,
        followed by the scenario name if known.
    scenario : str, optional
        Scenario name. Used to filter if ``replicates`` has a ``scenario`` column,
        otherwise only shown in the title.
    alpha : float, default 0.05
        Significance level used for the power annotation.
    bins : int, default 30
        Number of log-spaced histogram bins.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into. Only valid when a single week is plotted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. Each comparison's histogram is a
        :class:`~matplotlib.container.BarContainer` labelled with
        :func:`comparison_label`; median lines have gid ``"median:<comparison>"``
        and the reference line has gid ``"or_one"``.

    Raises
    ------
    ValueError
        If columns are missing or the endpoint/week/scenario is absent.
    """
    _require_columns(replicates, REPLICATE_COLUMNS, "replicates")
    df, scenario = _select_scenario(replicates, scenario, "replicates")
    df = df[df["endpoint"] == endpoint]
    if df.empty:
        available = sorted(map(str, pd.unique(replicates["endpoint"])))
        raise ValueError(f"endpoint {endpoint!r} not found in replicates; available: {available}")
    weeks = _select_weeks(df, week, f"replicates for endpoint {endpoint!r}")
    comparisons = _ordered(df["comparison"])
    colors = _series_colors(comparisons)

    fig, axes = _panels(len(weeks), ax, panel_width=5.5, sharey=False)
    for a, w in zip(axes, weeks, strict=True):
        sub = df[df["week"] == w]
        ors = {
            c: sub.loc[sub["comparison"] == c, "odds_ratio"].to_numpy(float) for c in comparisons
        }
        finite = {c: v[np.isfinite(v) & (v > 0)] for c, v in ors.items()}
        pooled = np.concatenate([v for v in finite.values()] or [np.empty(0)])
        lines: list[str] = []
        if pooled.size:
            lo, hi = float(pooled.min()), float(pooled.max())
            if np.isclose(lo, hi):
                lo, hi = lo / 1.1, hi * 1.1
            edges = np.geomspace(lo, hi, bins + 1)
        for c in comparisons:
            label = comparison_label(c)
            pv = sub.loc[sub["comparison"] == c, "p_value"].to_numpy(float)
            n_total = pv.size
            n_reject = int(np.sum(pv < alpha))  # NaN compares False -> non-rejection
            power = n_reject / n_total if n_total else float("nan")
            v = finite[c]
            n_skip = ors[c].size - v.size
            if v.size:
                _, _, container = a.hist(
                    v,
                    bins=edges,
                    color=colors[c],
                    alpha=0.45,
                    label=label,
                    edgecolor=colors[c],
                    linewidth=0.5,
                )
                # label the container (one legend entry, easy to find), not the patches
                container.set_label(label)
                for patch in container.patches:
                    patch.set_label("_nolegend_")
                med = float(np.median(v))
                a.axvline(med, color=colors[c], lw=2, label=f"Median, {label}", gid=f"median:{c}")
                med_txt = f"median OR {med:.2f}"
            else:
                med_txt = "no analysable trials"
            skip_txt = f"; {n_skip} unanalysable skipped" if n_skip else ""
            lines.append(f"{label}: power {power:.1%} ({n_reject}/{n_total})")
            lines.append(f"    {med_txt}{skip_txt}")
        a.axvline(1.0, color="black", ls="--", lw=1.2, label="OR = 1 (no effect)", gid="or_one")
        a.set_xscale("log")
        if pooled.size:
            xlo, xhi = edges[0], edges[-1]
            a.set_xlim(min(xlo, 0.9), max(xhi, 1.1))
        else:
            a.set_xlim(0.5, 2.0)
        xlo, xhi = a.get_xlim()
        dense = xhi / xlo < 20
        subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if dense else (1.0, 2.0, 5.0)
        a.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
        a.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
        a.xaxis.set_minor_formatter(ticker.NullFormatter())
        ymax = a.get_ylim()[1]
        # headroom for the annotation box (one title line + two lines per comparison)
        a.set_ylim(0, ymax * (1.2 + 0.1 * (1 + len(lines))) if pooled.size else 1)
        a.text(
            0.02,
            0.98,
            f"Power = share of trials with p < {alpha:g}\n" + "\n".join(lines),
            transform=a.transAxes,
            va="top",
            ha="left",
            fontsize=8,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"},
        )
        a.set_xlabel("Odds ratio (treated vs control), log scale")
        a.grid(axis="x", which="major", alpha=0.3)
    axes[0].set_ylabel("Number of simulated trials")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    base = f"{endpoint_label(endpoint)} odds ratios across simulated trials"
    _set_titles(fig, axes, weeks, title or _title(base, scenario))
    return fig


# --------------------------------------------------------------------------- trajectory


def plot_sledai_trajectory(
    trajectory: pd.DataFrame,
    title: str | None = None,
    *,
    scenario: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Mean SELENA-SLEDAI score over time per arm with a 2.5%-97.5% band.

    Parameters
    ----------
    trajectory : pandas.DataFrame
        Columns ``arm, week, mean, q025, q975`` (see module docstring).
    title : str, optional
        Axes title. Defaults to ``"Mean SELENA-SLEDAI over time"`` followed by
        the scenario name if known.
    scenario : str, optional
        Scenario name. Used to filter if ``trajectory`` has a ``scenario``
        column, otherwise only shown in the title.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; a new figure is created if None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. One line per arm (labelled with the arm name, points sorted
        by week) and one shaded band per arm.

    Raises
    ------
    ValueError
        If columns are missing, the table is empty, or an arm has duplicate weeks.
    """
    _require_columns(trajectory, TRAJECTORY_COLUMNS, "trajectory")
    df, scenario = _select_scenario(trajectory, scenario, "trajectory")
    if df.empty:
        raise ValueError("trajectory has no rows to plot")
    _unique_lookup(df, ["arm", "week"], "trajectory")
    arms = _ordered(df["arm"], first="placebo")
    colors = _arm_colors(arms)
    if ax is None:
        fig = Figure(figsize=(7.5, 4.5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = _root_figure(ax)
    for arm in arms:
        sub = df[df["arm"].astype(str) == arm].sort_values("week")
        wk = sub["week"].to_numpy(float)
        ax.fill_between(
            wk,
            sub["q025"].to_numpy(float),
            sub["q975"].to_numpy(float),
            color=colors[arm],
            alpha=0.2,
            linewidth=0,
            label="_nolegend_",
        )
        ax.plot(wk, sub["mean"].to_numpy(float), marker="o", ms=4, color=colors[arm], label=arm)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Patch(facecolor="0.5", alpha=0.25, label="2.5\u201397.5% over replicates"))
    ax.legend(handles=handles, title="Arm", loc="best")
    ax.set_xlabel("Week")
    ax.set_ylabel("Mean SELENA-SLEDAI score")
    weeks = np.sort(pd.unique(df["week"]).astype(float))
    if weeks.size <= 12:
        ax.set_xticks(weeks)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(title or _title("Mean SELENA-SLEDAI over time", scenario))
    return fig


# --------------------------------------------------------------------------- power


def plot_power(
    summary: pd.DataFrame,
    week: int | None = None,
    title: str | None = None,
    *,
    scenario: str | None = None,
    target: float = 0.8,
    alpha: float = 0.05,
    ax: Axes | None = None,
) -> Figure:
    """Dot-and-whisker plot of empirical power per endpoint and comparison.

    Points are the ``power`` statistic; whiskers are ``power +/- 1.96 * mcse``
    (Monte Carlo 95% interval). Dashed horizontal lines mark the target power
    and the nominal significance level (the expected rejection rate under the
    null, useful for null scenarios).

    Parameters
    ----------
    summary : pandas.DataFrame
        Tidy summary table (see module docstring).
    week : int, optional
        Week to plot. If None, one panel is drawn per week present.
    title : str, optional
        Figure title. Defaults to ``"Power by endpoint and comparison: scenario <name>"``.
    scenario : str, optional
        Scenario to plot; required only when ``summary`` holds several scenarios.
    target : float, default 0.8
        Target power drawn as a dashed reference line (gid ``"target_power"``).
    alpha : float, default 0.05
        Nominal type I error drawn as a dashed reference line (gid ``"alpha"``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into. Only valid when a single week is plotted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. Each comparison is one
        :class:`~matplotlib.container.ErrorbarContainer` labelled with
        :func:`comparison_label`.

    Raises
    ------
    ValueError
        If columns are missing, the week/scenario is absent, there are no
        ``power`` rows, or rows are duplicated.
    """
    _require_columns(summary, SUMMARY_COLUMNS, "summary")
    df, scenario = _select_scenario(whole_trial(summary), scenario, "summary")
    df = df[(df["statistic"] == "power") & (df["comparison"].astype(str) != "")]
    if df.empty:
        raise ValueError("summary has no 'power' rows to plot")
    weeks = _select_weeks(df, week, "summary power rows")
    endpoints = _ordered(df["endpoint"])
    comparisons = _ordered(df["comparison"])
    colors = _series_colors(comparisons)
    table = _unique_lookup(df, ["week", "endpoint", "comparison"], "summary")

    fig, axes = _panels(len(weeks), ax, panel_width=max(3.0, 0.8 * len(endpoints) + 1.0))
    x = np.arange(len(endpoints), dtype=float)
    step = 0.6 / max(len(comparisons), 1)
    markers = ("o", "s", "D", "^", "v", "P", "X")
    for a, w in zip(axes, weeks, strict=True):
        a.axhline(
            target,
            color="0.3",
            ls="--",
            lw=1,
            label=f"Target power {target:g}",
            gid="target_power",
            zorder=1,
        )
        a.axhline(
            alpha,
            color="0.3",
            ls=":",
            lw=1.2,
            label=f"Nominal \u03b1 = {alpha:g}",
            gid="alpha",
            zorder=1,
        )
        for j, c in enumerate(comparisons):
            xpos = x + (j - (len(comparisons) - 1) / 2) * step
            val = np.array([_get(table, (w, e, c), "value") for e in endpoints])
            se = np.array([_get(table, (w, e, c), "mcse") for e in endpoints])
            yerr = np.where(np.isfinite(se), Z_95 * se, 0.0)
            a.errorbar(
                xpos,
                val,
                yerr=yerr,
                fmt=markers[j % len(markers)],
                linestyle="none",
                color=colors[c],
                capsize=3,
                ms=6,
                label=comparison_label(c),
                zorder=3,
            )
        _format_endpoint_axis(a, endpoints)
        a.set_ylim(-0.02, 1.02)
        a.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
        a.grid(axis="y", alpha=0.3, zorder=0)
    axes[0].set_ylabel(f"Power (share of trials with p < {alpha:g})")
    axes[-1].legend(
        title="Comparison (\u00b11.96 MC SE)", loc="upper left", bbox_to_anchor=(1.01, 1.0)
    )
    _set_titles(fig, axes, weeks, title or _title("Power by endpoint and comparison", scenario))
    return fig


# --------------------------------------------------------------------------- saving


def save_figure(fig: Figure, path: str | os.PathLike[str], **savefig_kwargs: Any) -> Path:
    """Save a figure atomically.

    The figure is first written to a temporary file in the destination
    directory (same suffix, so the format is inferred identically) and then
    moved over ``path`` with :func:`os.replace`. Readers therefore never see a
    partially written file, and an existing file at ``path`` is left untouched
    if saving fails; the temporary file is removed on any error.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Figure to save.
    path : str or os.PathLike
        Destination file. The format is taken from its suffix (e.g. ``.png``,
        ``.pdf``, ``.svg``). Missing parent directories are created.
    **savefig_kwargs
        Passed to :meth:`matplotlib.figure.Figure.savefig` (e.g. ``dpi=300``).
        Defaults to ``dpi=150`` if not given.

    Returns
    -------
    pathlib.Path
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    savefig_kwargs.setdefault("dpi", 150)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix, delete=False
    ) as handle:
        tmp = Path(handle.name)
    try:
        fig.savefig(tmp, **savefig_kwargs)
        os.chmod(tmp, 0o644)  # NamedTemporaryFile creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
