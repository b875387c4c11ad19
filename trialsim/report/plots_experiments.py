"""Figures for experiments: power curves, sweeps (lines, heatmap, tornado), sample size.

Like :mod:`trialsim.report.plots`, every function takes tidy tables, builds a
:class:`matplotlib.figure.Figure` with the object API (no pyplot state, safe on headless
machines) and returns it; pass ``ax`` to draw into an existing axes. Save with
:func:`trialsim.report.plots.save_figure` (atomic). Monte Carlo bands are 95%: the table's
``ci_low``/``ci_high`` when present, else value ± 1.96 MCSE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from trialsim.analysis import Z_95
from trialsim.report.plots import comparison_label, endpoint_label

__all__ = [
    "plot_endpoint_sensitivity",
    "plot_multiplicity_power",
    "plot_power_vs_screening",
    "plot_power_curve",
    "plot_power_lines",
    "plot_sample_size",
    "plot_stopping_per_look",
    "plot_sweep_heatmap",
    "plot_tornado",
]

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf", "#bcbd22")


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 4.5)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _require(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}")


def _band(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if {"ci_low", "ci_high"} <= set(df.columns):
        return df["ci_low"].to_numpy(float), df["ci_high"].to_numpy(float)
    v, se = df["value"].to_numpy(float), np.nan_to_num(df["mcse"].to_numpy(float))
    return np.clip(v - Z_95 * se, 0, 1), np.clip(v + Z_95 * se, 0, 1)


def _series_label(key: dict[str, Any], varying: list[str]) -> str:
    parts = []
    for col in varying:
        v = key[col]
        if col == "endpoint":
            parts.append(endpoint_label(str(v)))
        elif col == "week":
            parts.append(f"week {v}")
        elif col == "comparison":
            parts.append(comparison_label(str(v)))
        elif col == "sample_size":
            parts.append(f"N = {v}")
        else:
            parts.append(f"{col} = {v}")
    return ", ".join(parts) or "power"


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def plot_power_lines(
    table: pd.DataFrame,
    x: str,
    series: Sequence[str] = ("endpoint", "week", "comparison"),
    statistic: str = "power",
    target: float | None = None,
    xlabel: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """A statistic (power) against one column, a line with its Monte Carlo band per series.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy rows with ``statistic``, ``value``, ``mcse``, the column ``x`` and the
        ``series`` columns (a power-curve or sweep table).
    x : str
        Column on the horizontal axis; non-numeric values are placed as categories in
        order of appearance (e.g. endpoints sri4 … sri8).
    series : sequence of str
        Columns whose combinations make the lines; only those that vary enter the labels.
    statistic : str
    target : float, optional
        Horizontal target line (e.g. 0.9).
    """
    _require(table, [x, "statistic", "value", "mcse", *series], "table")
    df = table[table["statistic"] == statistic]
    if df.empty:
        raise ValueError(f"table has no rows with statistic {statistic!r}")
    fig, ax = _axes(ax)
    series = list(series)
    varying = [c for c in series if df[c].nunique() > 1]
    numeric = _is_numeric(df[x])
    categories = list(pd.unique(df[x].astype(str))) if not numeric else []
    groups = df.groupby(series, sort=False) if series else [((), df)]
    for i, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        g = g.sort_values(x) if numeric else g
        xs = g[x].to_numpy(float) if numeric else np.array(
            [categories.index(str(v)) for v in g[x]], float
        )
        lo, hi = _band(g)
        color = _PALETTE[i % len(_PALETTE)]
        label = _series_label(dict(zip(series, key, strict=True)), varying)
        ax.fill_between(xs, lo, hi, color=color, alpha=0.18, linewidth=0)
        ax.plot(xs, g["value"].to_numpy(float), marker="o", color=color, label=label)
    if not numeric:
        ax.set_xticks(range(len(categories)))
        ax.set_xticklabels(
            [endpoint_label(c) if x == "endpoint" else c for c in categories]
        )
    if target is not None:
        ax.axhline(target, color="0.3", linestyle="--", linewidth=1,
                   label=f"target {target:.0%}")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(statistic.replace("_", " "))
    ax.grid(True, alpha=0.3)
    fixed = [c for c in series if c not in varying]
    legend_title = _series_label(df.iloc[0].to_dict(), fixed) if fixed else None
    ax.legend(fontsize="small", loc="best", title=legend_title, title_fontsize="small")
    ax.set_title(title or f"{statistic.replace('_', ' ')} (bands: 95% Monte Carlo)")
    return fig


def plot_power_curve(
    table: pd.DataFrame,
    statistic: str = "power",
    target: float | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Power against total sample size (the ``power_curve`` table), with 95% MC bands."""
    return plot_power_lines(
        table,
        "sample_size",
        statistic=statistic,
        target=target,
        xlabel="total sample size N",
        ax=ax,
        title=title,
    )


def plot_sweep_heatmap(
    table: pd.DataFrame,
    x: str,
    y: str,
    endpoint: str,
    week: int,
    comparison: str,
    statistic: str = "power",
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """A statistic over a two-factor grid, each cell annotated with value ± MCSE.

    Parameters
    ----------
    table : pandas.DataFrame
        A two-factor sweep table (``experiments.sweep``).
    x, y : str
        The swept paths on the horizontal and vertical axes.
    """
    _require(table, [x, y, "endpoint", "week", "comparison", "statistic", "value", "mcse"],
             "table")
    df = table[
        (table.endpoint == endpoint)
        & (table.week == week)
        & (table.comparison == comparison)
        & (table.statistic == statistic)
    ]
    if df.empty:
        raise ValueError(
            f"no {statistic} rows for {endpoint} week {week}, {comparison} in the table"
        )
    xs = list(pd.unique(df[x]))
    ys = list(pd.unique(df[y]))
    if _is_numeric(df[x]):
        xs = sorted(xs)
    if _is_numeric(df[y]):
        ys = sorted(ys)
    grid = np.full((len(ys), len(xs)), np.nan)
    se = np.full_like(grid, np.nan)
    for _, r in df.iterrows():
        grid[ys.index(r[y]), xs.index(r[x])] = r["value"]
        se[ys.index(r[y]), xs.index(r[x])] = r["mcse"]
    fig, ax = _axes(ax, (1.2 * len(xs) + 3.0, 0.8 * len(ys) + 2.5))
    image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.0%}\n±{se[i, j]:.1%}", ha="center", va="center",
                        fontsize="small", color="white" if grid[i, j] < 0.6 else "black")
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([f"{v:g}" if isinstance(v, float) else str(v) for v in xs])
    ax.set_yticks(range(len(ys)))
    ax.set_yticklabels([f"{v:g}" if isinstance(v, float) else str(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    cbar = fig.colorbar(image, ax=ax)
    cbar.ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
    cbar.set_label(statistic.replace("_", " "))
    ax.set_title(title or f"{endpoint_label(endpoint)} week {week}, "
                 f"{comparison_label(comparison)}: {statistic.replace('_', ' ')}")
    return fig


def plot_tornado(
    tornado: pd.DataFrame,
    statistic: str = "power",
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """One-at-a-time sensitivity: per factor a bar from its lowest to its highest value.

    Parameters
    ----------
    tornado : pandas.DataFrame
        ``experiments.tornado_table``: ``factor, base, low, low_value, high, high_value``
        (and their ``*_mcse``), widest first.
    """
    _require(tornado, ["factor", "base", "low", "high", "low_value", "high_value"], "tornado")
    if tornado.empty:
        raise ValueError("tornado table has no factors")
    df = tornado.iloc[::-1]  # widest at the top
    fig, ax = _axes(ax, (7.5, 0.6 * len(df) + 2.0))
    base = float(df["base"].iloc[0])
    pos = np.arange(len(df))
    low, high = df["low"].to_numpy(float), df["high"].to_numpy(float)
    below_lo, below_hi = np.minimum(low, base), np.minimum(high, base)
    above_lo, above_hi = np.maximum(low, base), np.maximum(high, base)
    ax.barh(pos, below_hi - below_lo, left=below_lo, color="#d62728", alpha=0.8,
            label="below base")
    ax.barh(pos, above_hi - above_lo, left=above_lo, color="#2ca02c", alpha=0.8,
            label="above base")
    has_se = {"low_mcse", "high_mcse"} <= set(df.columns)
    for k, (_, r) in enumerate(df.iterrows()):
        lo_w = Z_95 * np.nan_to_num(r["low_mcse"]) if has_se else 0.0
        hi_w = Z_95 * np.nan_to_num(r["high_mcse"]) if has_se else 0.0
        if has_se:
            ax.errorbar([r["low"], r["high"]], [k, k], xerr=[lo_w, hi_w], fmt="none",
                        ecolor="0.2", capsize=3, linewidth=1)
        ax.annotate(str(r["low_value"]), (r["low"] - lo_w, k), xytext=(-4, 0),
                    textcoords="offset points", ha="right", va="center", fontsize="small")
        ax.annotate(str(r["high_value"]), (r["high"] + hi_w, k), xytext=(4, 0),
                    textcoords="offset points", ha="left", va="center", fontsize="small")
    ax.axvline(base, color="0.2", linewidth=1)
    ax.set_yticks(pos)
    ax.set_yticklabels(df["factor"])
    lo = min(df["low"].min(), base)
    hi = max(df["high"].max(), base)
    pad = max(0.12, 0.3 * (hi - lo))
    ax.set_xlim(max(-0.1, lo - pad), min(1.15, hi + pad))
    ax.xaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
    ax.set_xlabel(f"{statistic.replace('_', ' ')} (base {base:.1%}; whiskers 95% MC)")
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title(title or "one-at-a-time sensitivity")
    return fig


def plot_power_vs_screening(
    table: pd.DataFrame,
    factors: Sequence[str],
    endpoint: str,
    week: int,
    comparisons: Sequence[str],
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Power against candidates screened per patient randomised, one point per grid point of
    a sweep (labelled with its factor values) and comparison: what an enrichment costs in
    screening and buys in power. Error bars: 95% Monte Carlo, both ways.

    Parameters
    ----------
    table : pandas.DataFrame
        A sweep table (``point``, the factor columns, and the summary columns, with the
        ``screening`` endpoint's ``screened_per_randomised`` rows).
    factors : sequence of str
        The sweep's factor columns (the point labels).
    """
    _require(table, ["point", *factors, "endpoint", "week", "comparison", "statistic", "value",
                     "mcse"], "table")
    scr = table[(table.endpoint == "screening")
                & (table.statistic == "screened_per_randomised")].set_index("point")
    if scr.empty:
        raise ValueError("table has no screening rows (screened_per_randomised)")
    fig, ax = _axes(ax, size=(7.0, 4.8))
    for i, comp in enumerate(comparisons):
        pw = table[(table.endpoint == endpoint) & (table.week == week)
                   & (table.comparison == comp) & (table.statistic == "power")]
        pw = pw.set_index("point")
        pw = pw.loc[pw.index.intersection(scr.index)]
        x = scr.loc[pw.index, "value"].to_numpy(float)
        xe = Z_95 * scr.loc[pw.index, "mcse"].to_numpy(float)
        y = pw["value"].to_numpy(float)
        ye = Z_95 * pw["mcse"].to_numpy(float)
        color = _PALETTE[i % len(_PALETTE)]
        ax.errorbar(x, y, xerr=xe, yerr=ye, fmt="o", color=color, capsize=3,
                    label=comparison_label(comp))
        if i == 0:
            for point, xx, yy in zip(pw.index, x, y, strict=True):
                row = scr.loc[point]
                label = ", ".join(
                    f"{f.split('.')[-1].removeprefix('require_')}={row[f]}" for f in factors)
                ax.annotate(label, (xx, yy), textcoords="offset points", xytext=(5, -11),
                            fontsize=6.5, color="0.3")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
    ax.set_xlabel("candidates screened per patient randomised")
    ax.set_ylabel(f"power, {endpoint_label(endpoint)} week {week}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title(title or "enrichment: power against screening cost")
    return fig


def plot_sample_size(
    points: pd.DataFrame,
    result,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """The sample-size search: simulated points, fitted power curve, target and chosen N.

    Parameters
    ----------
    points : pandas.DataFrame
        ``sample_size, power, mcse, stage`` (``SampleSizeResult.points``).
    result : SampleSizeResult
    """
    _require(points, ["sample_size", "power", "mcse", "stage"], "points")
    fig, ax = _axes(ax)
    markers = {"bracket": "s", "local": "o", "confirm": "D"}
    for i, (stage, g) in enumerate(points.groupby("stage", sort=False)):
        ax.errorbar(g["sample_size"], g["power"], yerr=Z_95 * g["mcse"], fmt=markers.get(
            stage, "o"), color=_PALETTE[i % len(_PALETTE)], capsize=3, label=f"{stage} runs")
    if result.fit is not None:
        n = np.linspace(points["sample_size"].min(), points["sample_size"].max(), 200)
        ax.plot(n, result.fit.power(n), color="0.3", linewidth=1.2, label="fitted (probit in √N)")
    ax.axhline(result.target, color="0.3", linestyle="--", linewidth=1,
               label=f"target {result.target:.0%}")
    ax.axvspan(result.n_low, result.n_high, color="#1f77b4", alpha=0.12,
               label=f"95% MC interval {result.n_low}–{result.n_high}")
    ax.axvline(result.n_required, color="#1f77b4", linewidth=1.5,
               label=f"N = {result.n_required}")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
    ax.set_xlabel("total sample size N")
    ax.set_ylabel("power")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    ax.set_title(title or "sample size search")
    return fig


def plot_assurance(summary: pd.DataFrame, per_draw: pd.DataFrame, statistic: str = "power",
                   title: str | None = None) -> Figure:
    """Assurance (``experiments.assurance``): the distribution of power over the parameter
    draws at the first sample size (one histogram per endpoint/week/comparison, with the
    assurance and the power at the estimate marked); with several sizes, a second panel of
    assurance and power at the estimate against total sample size (95% MC bands)."""
    sizes = sorted(summary.sample_size.unique())
    fig = Figure(figsize=(12 if len(sizes) > 1 else 7, 5), layout="constrained")
    axes = fig.subplots(1, 2 if len(sizes) > 1 else 1, squeeze=False)[0]
    ax = axes[0]
    s = summary[summary.statistic == statistic]
    first = s[s.sample_size == sizes[0]]
    bins = np.linspace(0, 1, 26)
    for i, r in enumerate(first.itertuples()):
        sel = ((per_draw.sample_size == r.sample_size) & (per_draw.endpoint == r.endpoint)
               & (per_draw.week == r.week) & (per_draw.comparison == r.comparison))
        color = f"C{i}"
        label = f"{endpoint_label(r.endpoint)} w{r.week}, {comparison_label(r.comparison)}"
        ax.hist(per_draw.loc[sel, statistic], bins=bins, alpha=0.45, color=color,
                label=f"{label}: assurance {r.assurance:.2f}")
        ax.axvline(r.assurance, color=color, lw=2)
        ax.axvline(r.power_at_estimate, color=color, lw=1, ls="--")
    ax.set_xlabel(f"{statistic.replace('_', ' ')} of a parameter draw")
    ax.set_ylabel("parameter draws")
    ax.set_title(f"N = {sizes[0]}: solid = assurance, dashed = power at the estimate",
                 fontsize=9)
    ax.legend(fontsize=8)
    if len(sizes) > 1:
        ax2 = axes[1]
        for i, (key, g) in enumerate(s.groupby(["endpoint", "week", "comparison"], sort=False)):
            g = g.sort_values("sample_size")
            color = f"C{i}"
            label = f"{endpoint_label(key[0])} w{key[1]}, {comparison_label(key[2])}"
            ax2.plot(g.sample_size, g.assurance, "o-", color=color, label=f"{label}: assurance")
            ax2.fill_between(g.sample_size, g.assurance - Z_95 * g.mcse,
                             g.assurance + Z_95 * g.mcse, color=color, alpha=0.2)
            ax2.plot(g.sample_size, g.power_at_estimate, "--", color=color,
                     label=f"{label}: power at the estimate")
        ax2.set_xlabel("total sample size")
        ax2.set_ylabel(statistic.replace("_", " "))
        ax2.set_ylim(0, 1)
        ax2.yaxis.set_major_formatter(ticker.PercentFormatter(1.0))
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=8)
    fig.suptitle(title or "Assurance over the calibration's parameter uncertainty")
    return fig


def plot_endpoint_sensitivity(table: pd.DataFrame, design_size: int,
                              title: str | None = None) -> Figure:
    """Endpoint sensitivity in one picture (the ``sample_size_table``): per endpoint and week
    (rows) and comparison (colours), the power at the scenario's size (left) and the total N
    that reaches each target power (right; filled: the first target, open: the others;
    crosses: extrapolated beyond the simulated sizes; none beyond ``MAX_EXTRAPOLATION``
    times the largest). Whiskers: 95% Monte Carlo."""
    _require(table, ["endpoint", "week", "comparison", "target_power", "sample_size_estimate",
                     "mcse", "extrapolated", "power_at_design", "power_at_design_mcse"],
             "table")
    rows = list(dict.fromkeys(zip(table.endpoint, table.week, strict=True)))
    comps = list(dict.fromkeys(table.comparison))
    targets = sorted(table.target_power.unique())
    height = 1.2 + 0.32 * len(rows) * max(1, len(comps)) ** 0.5
    fig = Figure(figsize=(10.0, height), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1.4]})
    offsets = np.linspace(-0.25, 0.25, len(comps)) if len(comps) > 1 else np.zeros(1)
    for c, comp in enumerate(comps):
        color = _PALETTE[c % len(_PALETTE)]
        sub = table[table.comparison == comp]
        first = sub[sub.target_power == targets[0]].set_index(["endpoint", "week"])
        y = np.array([i + offsets[c] for i, key in enumerate(rows) if key in first.index])
        keys = [key for key in rows if key in first.index]
        p = first.loc[keys, "power_at_design"].to_numpy(float)
        pe = Z_95 * np.nan_to_num(first.loc[keys, "power_at_design_mcse"].to_numpy(float))
        left.errorbar(p, y, xerr=pe, fmt="o", color=color, capsize=2, ms=4,
                      label=comparison_label(comp))
        for t, target in enumerate(targets):
            at = sub[sub.target_power == target].set_index(["endpoint", "week"]).loc[keys]
            n = at.sample_size_estimate.to_numpy(float)
            ne = Z_95 * np.nan_to_num(at.mcse.to_numpy(float))
            extra = at.extrapolated.to_numpy(bool)
            face = color if t == 0 else "white"
            ok = np.isfinite(n)
            right.errorbar(n[ok & ~extra], y[ok & ~extra], xerr=ne[ok & ~extra], fmt="o",
                           color=color, mfc=face, capsize=2, ms=4)
            right.errorbar(n[ok & extra], y[ok & extra], xerr=ne[ok & extra], fmt="x",
                           color=color, capsize=2, ms=5)
    left.axvline(0.8, color="0.5", ls="--", lw=0.8)
    left.set_xlim(0, 1.02)
    left.xaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
    left.set_xlabel(f"power at N = {design_size}")
    left.set_yticks(range(len(rows)))
    left.set_yticklabels([f"{endpoint_label(e)}, week {w}" for e, w in rows], fontsize=8)
    left.invert_yaxis()
    left.grid(True, axis="x", alpha=0.3)
    left.legend(fontsize="x-small", loc="lower right")
    right.axvline(design_size, color="0.5", ls="--", lw=0.8)
    right.set_xscale("log")
    right.set_xlabel("total N for " + " / ".join(f"{t:.0%}" for t in targets)
                     + " power (x: extrapolated)")
    right.grid(True, axis="x", which="both", alpha=0.3)
    keys = [Line2D([], [], marker="o", ls="", color="0.3", mfc="0.3" if t == 0 else "white",
                   label=f"{target:.0%} power") for t, target in enumerate(targets)]
    keys.append(Line2D([], [], marker="x", ls="", color="0.3", label="extrapolated"))
    right.legend(handles=keys, fontsize="x-small", loc="lower right")
    if not np.isfinite(table.sample_size_estimate.to_numpy(float)).any():
        right.text(0.5, 0.5, "no target reached within twice the largest size simulated",
                   transform=right.transAxes, ha="center", fontsize=8, color="0.4")
    fig.suptitle(title or "endpoint sensitivity")
    return fig


def plot_multiplicity_power(
    table: pd.DataFrame,
    panels: Sequence[tuple[str, str]] | None = None,
    labels: dict[str, str] | None = None,
    reference: str = "none",
    ncols: int = 3,
    title: str | None = None,
) -> Figure:
    """Power of several multiplicity procedures against total sample size, one panel per
    statistic, a line with its 95% Monte Carlo band per procedure.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy rows ``sample_size, procedure, statistic, hypothesis, value, mcse`` (the
        ``rejection_table`` of each procedure at each size, e.g. from
        ``scripts/design_figures.py``).
    panels : sequence of (statistic, hypothesis), optional
        What each panel shows, in row-major order: ``("power", name)`` for a hypothesis's
        adjusted power, ``("disjunctive_power", "")``, ``("expected_rejections", "")``, ...
        Default: each hypothesis's power, then the disjunctive power.
    labels : dict of str to str, optional
        Legend label of each procedure (default its name); also the order of the lines.
    reference : str
        A procedure drawn dashed in grey (default ``none``, the unadjusted tests).
    ncols : int
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _require(table, ["sample_size", "procedure", "statistic", "hypothesis", "value", "mcse"],
             "table")
    if panels is None:
        hyps = table.loc[table.statistic == "power", "hypothesis"]
        panels = [("power", h) for h in pd.unique(hyps)] + [("disjunctive_power", "")]
    panels = list(panels)
    if not panels:
        raise ValueError("panels is empty")
    order = list(labels) if labels else list(pd.unique(table.procedure))
    labels = labels or {p: p for p in order}
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.4 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True)).ravel()
    colour = iter(_PALETTE)
    colours = {p: ("0.45" if p == reference else next(colour)) for p in order}
    for ax, (statistic, hypothesis) in zip(axes, panels, strict=False):
        sel = table[(table.statistic == statistic) & (table.hypothesis.fillna("") == hypothesis)]
        if sel.empty:
            raise ValueError(f"table has no rows for {statistic!r} {hypothesis!r}")
        count = statistic == "expected_rejections"
        for proc in order:
            g = sel[sel.procedure == proc].sort_values("sample_size")
            if g.empty:
                continue
            xs = g.sample_size.to_numpy(float)
            v = g.value.to_numpy(float)
            se = np.nan_to_num(g.mcse.to_numpy(float))
            dashed = proc == reference
            ax.fill_between(xs, v - Z_95 * se, v + Z_95 * se, color=colours[proc],
                            alpha=0.12 if dashed else 0.2, linewidth=0)
            ax.plot(xs, v, marker="" if dashed else "o", ms=3, color=colours[proc],
                    ls="--" if dashed else "-", lw=1.0 if dashed else 1.4,
                    label=labels.get(proc, proc))
        if statistic == "power":
            comp, endpoint = hypothesis.rsplit(".", 1)
            name = f"{comparison_label(comp)}, {endpoint_label(endpoint.split('@')[0])}"
            ax.set_title(f"{name}: adjusted power", fontsize=9)
        else:
            ax.set_title(statistic.replace("_", " "), fontsize=9)
        if count:
            ax.set_ylim(bottom=0)
        else:
            ax.set_ylim(0, 1.0)
            ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("total sample size N")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 6),
               fontsize="small")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_stopping_per_look(
    table: pd.DataFrame,
    scenarios: dict[str, str] | None = None,
    comparisons: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Stopping shares per look of a group-sequential design, under the alternative and
    the null, with the expected calendar time at stopping and the type I error per look.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy rows ``scenario, comparison, look, statistic, value, mcse`` as
        ``scripts/design_figures.py`` writes them (``design_interim_stopping.csv``): per look
        ``efficacy_stop``, ``futility_stop``, ``recursion_efficacy``,
        ``recursion_futility``, ``efficacy_stop_no_futility``, ``alpha_spent``; per
        comparison (look 0) ``gs_power``, ``fixed_power``, ``expected_months``,
        ``expected_patients``, ``fixed_months``, ``fixed_patients``.
    scenarios : dict of str to str, optional
        The two scenarios, alternative first, to their row titles (default ``drug_on``:
        "drug as calibrated", ``drug_off``: "drug off (0 mg/kg)").
    comparisons : sequence of str, optional
        The comparisons, in the order of the columns (default: as in the table).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Rows: the scenarios. Columns: per comparison the share of trials stopping for
        efficacy (green) and for futility (red) at each look, 95% MC error bars, black
        marks the canonical recursion; last column, top: months at stopping per
        comparison and scenario against the fixed design's (dashed), patients randomised
        written on the bars; bottom: the null's efficacy stops per look with futility
        ignored (the type I error the bounds spend) and obeyed, against the alpha spent.
    """
    _require(table, ["scenario", "comparison", "look", "statistic", "value", "mcse"], "table")
    scenarios = scenarios or {"drug_on": "drug as calibrated", "drug_off": "drug off (0 mg/kg)"}
    keys = list(scenarios)
    if len(keys) != 2:
        raise ValueError("scenarios must name two scenarios: the alternative, then the null")
    comps = list(comparisons) if comparisons is not None else list(pd.unique(table.comparison))
    fig = Figure(figsize=(4.0 * (len(comps) + 1), 7.4), layout="constrained")
    axes = fig.subplots(2, len(comps) + 1)

    def stat(scen, comp, name):
        g = table[(table.scenario == scen) & (table.comparison == comp)
                  & (table.statistic == name)].sort_values("look")
        return (g.look.to_numpy(int), g.value.to_numpy(float),
                np.nan_to_num(g.mcse.to_numpy(float)))

    width = 0.36
    for r, scen in enumerate(keys):
        for c, comp in enumerate(comps):
            ax = axes[r, c]
            for name, shift, colour in (("efficacy_stop", -width / 2, "#2ca02c"),
                                        ("futility_stop", width / 2, "#d62728")):
                looks, v, se = stat(scen, comp, name)
                ax.bar(looks + shift, v, width, yerr=Z_95 * se, color=colour, alpha=0.8,
                       capsize=3, label=name.replace("_", " "))
                lk, rec, _ = stat(scen, comp, f"recursion_{name.split('_')[0]}")
                ax.plot(lk + shift, rec, ls="", marker="_", ms=14, mew=2, color="k")
            _, power, power_se = stat(scen, comp, "gs_power")
            _, fixed, fixed_se = stat(scen, comp, "fixed_power")
            ax.text(0.02, 0.97, f"rejects H0: {power[0]:.3f} ({power_se[0]:.3f})\n"
                    f"fixed design: {fixed[0]:.3f} ({fixed_se[0]:.3f})",
                    transform=ax.transAxes, va="top", fontsize=8)
            ax.set_ylim(0, 1.0)
            ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1))
            ax.set_xticks(stat(scen, comp, "efficacy_stop")[0])
            ax.set_xlabel("look")
            ax.grid(True, axis="y", alpha=0.3)
            ax.set_title(f"{scenarios[scen]}: {comparison_label(comp)}", fontsize=9)
    marks = Line2D([], [], ls="", marker="_", ms=14, mew=2, color="k",
                   label="canonical recursion")
    handles, names = axes[0, 0].get_legend_handles_labels()
    axes[0, 0].legend([*handles, marks], [*names, marks.get_label()], fontsize="x-small",
                      loc="upper right")
    # months at stopping
    ax = axes[0, -1]
    xs = np.arange(len(comps))
    for r, scen in enumerate(keys):
        months = [stat(scen, comp, "expected_months") for comp in comps]
        patients = [stat(scen, comp, "expected_patients")[1][0] for comp in comps]
        x = xs + (r - 0.5) * width
        v = np.array([m[1][0] for m in months])
        bars = ax.bar(x, v, width, yerr=Z_95 * np.array([m[2][0] for m in months]),
                      capsize=3, color=("#1f77b4", "#7f7f7f")[r], alpha=0.85,
                      label=scenarios[scen])
        for b, n in zip(bars, patients, strict=True):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() * 0.5, f"{n:.0f}\npts",
                    ha="center", fontsize=7, color="white")
    _, fixed_months, _ = stat(keys[0], comps[0], "fixed_months")
    _, fixed_n, _ = stat(keys[0], comps[0], "fixed_patients")
    ax.axhline(fixed_months[0], color="0.3", ls="--", lw=1,
               label=f"fixed design: {fixed_n[0]:.0f} pts, month {fixed_months[0]:.1f}")
    ax.set_xticks(xs)
    ax.set_xticklabels([comparison_label(c) for c in comps], fontsize=8)
    ax.set_ylabel("calendar month at stopping (mean)")
    ax.set_ylim(0, fixed_months[0] * 1.4)
    ax.legend(fontsize="x-small", loc="upper center", ncols=2)
    ax.set_title("months (and patients randomised) at stopping", fontsize=9)
    # type I error per look
    ax = axes[1, -1]
    null = keys[1]
    step = 0.8 / (2 * len(comps))
    top = 0.0
    for c, comp in enumerate(comps):
        for j, (name, alpha, hatch, how) in enumerate((
                ("efficacy_stop_no_futility", 0.85, None, "futility ignored"),
                ("efficacy_stop", 0.35, "//", "futility obeyed"))):
            looks, v, se = stat(null, comp, name)
            shift = -0.4 + step * (2 * c + j + 0.5)
            ax.bar(looks + shift, v, step * 0.9, yerr=Z_95 * se, capsize=2,
                   color=_PALETTE[c], alpha=alpha, hatch=hatch,
                   label=f"{comparison_label(comp)}, {how}")
            top = max(top, float(np.max(v + Z_95 * se)))
    looks, spent, _ = stat(null, comps[0], "alpha_spent")
    ax.hlines(spent, looks - 0.42, looks + 0.42, color="k", lw=2,
              label="alpha spent at the look")
    ax.set_xticks(looks)
    ax.set_xlabel("look")
    ax.set_ylim(0, 1.7 * max(top, float(np.max(spent))))
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1, decimals=1))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="xx-small", loc="upper left", ncols=2)
    ax.set_title(f"{scenarios[null]}: type I error per look", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
