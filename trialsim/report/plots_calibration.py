"""Figures of the calibration fit and of the trial-difference decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trialsim.analysis import Z_95


def plot_calibration_fit(fit: pd.DataFrame, title: str = "Calibration fit") -> Figure:
    """Published value with its 95% CI against the simulated value, one panel per scenario.

    ``fit`` has columns scenario, endpoint, week, arm, published, ci_low, ci_high, simulated
    (and optionally comparison). Rates are shown in percent; time-to-flare medians in days
    and contrasts (odds and hazard ratios, log axis) on their own panels.
    """
    comparison = fit.comparison.fillna("") if "comparison" in fit else pd.Series("", fit.index)
    panel = np.where(comparison != "", "ratio",
                     np.where(fit.endpoint == "time_to_first_flare", "days", "rate"))
    groups = [(s, kind) for s in fit.scenario.unique() for kind in ("rate", "days", "ratio")
              if ((fit.scenario == s) & (panel == kind)).any()]
    fig = Figure(figsize=(6.5 * len(groups), 7.5), layout="constrained")
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (scen, kind) in zip(axes, groups, strict=True):
        d = fit[(fit.scenario == scen) & (panel == kind)]
        scale = 100.0 if kind == "rate" else 1.0
        y = np.arange(len(d))[::-1]
        labels = [(f"{r.endpoint} w{r.week} {r.arm or ''}{getattr(r, 'comparison', '') or ''}"
                   + (f" [{r.subgroup}]" if getattr(r, "subgroup", "") else ""))
                  .replace("_vs_placebo", " vs pbo").replace("serologically_active", "sero+")
                  for r in d.itertuples()]
        ax.errorbar(d.published * scale, y,
                    xerr=[(d.published - d.ci_low) * scale, (d.ci_high - d.published) * scale],
                    fmt="o", color="black", capsize=3, label="published (95% CI)")
        inside = d.inside_ci.to_numpy(bool)
        ax.scatter(d.simulated[inside] * scale, y[inside], marker="D", color="tab:blue",
                   zorder=3, label="simulated, inside CI")
        ax.scatter(d.simulated[~inside] * scale, y[~inside], marker="D", color="tab:red",
                   zorder=3, label="simulated, outside CI")
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlabel({"days": "median time to first flare (days)", "rate": "responders (%)",
                       "ratio": "odds ratio (response) / hazard ratio (flare) vs placebo"}[kind])
        ax.set_title(f"{scen}: " + {"days": "flares", "rate": "response rates",
                                    "ratio": "contrasts"}[kind])
        if kind == "ratio":
            ax.set_xscale("log")
            ax.axvline(1.0, color="gray", lw=0.8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(title)
    return fig


def plot_waterfall(steps: pd.DataFrame, title: str = "", metric: str = "delta_risk_difference"
                   ) -> Figure:
    """Waterfall of the sequential decomposition from trial B's effect to trial A's."""
    seq = steps[steps.method == "sequential"]
    base, target = steps.attrs["base"], steps.attrs["target"]
    scale = 100.0
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    level = base * scale
    ax.bar(0, level, color="gray")
    xs = [steps.attrs["base_name"]]
    for i, r in enumerate(seq.itertuples(), start=1):
        d = getattr(r, metric) * scale
        se = getattr(r, "mcse_" + metric, float("nan")) * scale
        ax.bar(i, d, bottom=level, color="tab:green" if d >= 0 else "tab:red",
               yerr=None if np.isnan(se) else Z_95 * se, capsize=3)
        ax.text(i, level + d + (0.2 if d >= 0 else -0.2), f"{d:+.1f}", ha="center",
                va="bottom" if d >= 0 else "top", fontsize=8)
        level += d
        xs.append(r.factor)
    ax.bar(len(xs), target * scale, color="gray")
    xs.append(steps.attrs["target_name"])
    ax.set_xticks(range(len(xs)), xs, rotation=30, ha="right")
    ax.set_ylabel("treatment effect, risk difference (percentage points)")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title(title or f"From {steps.attrs['base_name']} to {steps.attrs['target_name']}")
    return fig
