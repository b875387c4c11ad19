"""Figures of the skin studies (``trialsim run`` of a skin scenario, ``trialsim power``)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _finish(fig: Figure, ax, xlabel: str, ylabel: str, title: str,
            ylim: tuple[float, float] | None = None) -> Figure:
    """Labels, limits, legend and title of a one-panel skin figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


SOURCE_LABELS = {"study": "simulated 29-patient studies (evaluable patients)",
                 "truth": "truth: every eligible patient, on drug",
                 "untreated": "the same patients off drug"}


def plot_cohort_trajectory(reps: pd.DataFrame, reported: Mapping[int, float] | None = None,
                           title: str = "") -> Figure:
    """Mean CLASI-A by month: each simulated study's curve (thin), the 5-95% band of the
    studies, the truth and the untreated counterfactual, and the published points."""
    fig, ax = plt.subplots(figsize=(8, 5))
    study = reps[(reps["source"] == "study") & (reps["group"] == "all")]
    wide = study.pivot(index="replicate", columns="month", values="mean")
    months = wide.columns.to_numpy(dtype=float)
    for _, row in wide.head(40).iterrows():
        ax.plot(months, row.to_numpy(), color="tab:blue", alpha=0.12, lw=0.8)
    q = wide.quantile([0.05, 0.5, 0.95])
    ax.fill_between(months, q.loc[0.05], q.loc[0.95], color="tab:blue", alpha=0.18,
                    label="5-95% of simulated studies")
    ax.plot(months, q.loc[0.5], color="tab:blue", lw=2, label="median simulated study")
    for source, style in (("truth", dict(color="black", lw=2, ls="--")),
                          ("untreated", dict(color="tab:gray", lw=2, ls=":"))):
        x = reps[(reps["source"] == source) & (reps["group"] == "all")]
        m = x.groupby("month")["mean"].mean()
        ax.plot(m.index, m.to_numpy(), label=SOURCE_LABELS[source], **style)
    if reported:
        ax.plot(list(reported), list(reported.values()), "o", color="tab:red", ms=8,
                label="seed 004 (reported)")
    ax.set_ylim(bottom=0)
    return _finish(fig, ax, "months on belimumab", "mean CLASI-A", title)


def plot_response_distribution(reps: pd.DataFrame, statistic: str, month: float,
                               reported: float | None = None, title: str = "") -> Figure:
    """Histogram over simulated studies of one response rate at one month, the truth's
    mean, and the published value."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sel = reps[(reps["group"] == "all") & (reps["month"] == month)]
    x = sel.loc[sel["source"] == "study", statistic].dropna().to_numpy()
    ax.hist(x, bins=np.linspace(0, 1, 30), color="tab:blue", alpha=0.7,
            label="simulated studies")
    truth = sel.loc[sel["source"] == "truth", statistic].mean()
    ax.axvline(truth, color="black", ls="--", label=f"truth {truth:.2f}")
    if reported is not None:
        ax.axvline(reported, color="tab:red", lw=2, label=f"seed 004 {reported:.2f}")
    return _finish(fig, ax, f"{statistic.replace('_rate', '').upper()} rate at month "
                   f"{month:g}", "simulated studies", title)


def plot_subtype_trajectory(summary: pd.DataFrame, title: str = "") -> Figure:
    """Mean CLASI-A change from baseline by subtype (truth) and the share of simulated
    studies whose Wilcoxon test against baseline is significant."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    truth = summary[(summary["source"] == "truth") & (summary["statistic"] == "change")]
    study = summary[(summary["source"] == "study") & (summary["statistic"] == "significant")]
    for group, g in truth.groupby("group", sort=False):
        a1.plot(g["month"], g["value"], marker="o", label=group)
    for group, g in study.groupby("group", sort=False):
        a2.plot(g["month"], g["value"], marker="o", label=group)
    a1.set_xlabel("months")
    a1.set_ylabel("mean change in CLASI-A (truth)")
    a2.set_xlabel("months")
    a2.set_ylabel("studies with Wilcoxon p < alpha")
    a2.set_ylim(0, 1.02)
    a1.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_skin_power(table: pd.DataFrame, title: str = "") -> Figure:
    """Power (with 95% Monte Carlo bands) against total sample size, per comparison."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    p = table[table["statistic"] == "power"]
    for comp, g in p.groupby("comparison", sort=False):
        g = g.sort_values("sample_size")
        ax.errorbar(g["sample_size"], g["value"], yerr=1.96 * g["mcse"], marker="o",
                    capsize=3, label=comp)
    ax.axhline(0.8, color="gray", ls=":", lw=1)
    return _finish(fig, ax, "total sample size", "power", title, (0, 1.02))


def plot_skin_rates(table: pd.DataFrame, statistic: str, title: str = "") -> Figure:
    """Primary response rate per arm, overall and by subtype (MCSE bars)."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    r = table[table["statistic"] == statistic]
    groups = list(dict.fromkeys(r["subtype"]))
    arms = list(dict.fromkeys(r["arm"]))
    width = 0.8 / max(len(arms), 1)
    for k, arm in enumerate(arms):
        g = r[r["arm"] == arm].set_index("subtype").reindex(groups)
        ax.bar(np.arange(len(groups)) + k * width, g["value"], width,
               yerr=1.96 * g["mcse"].fillna(0), capsize=2, label=arm)
    ax.set_xticks(np.arange(len(groups)) + width * (len(arms) - 1) / 2, groups)
    return _finish(fig, ax, "", statistic.replace("_", " "), title, (0, 1))


def plot_skin_sweep(table: pd.DataFrame, factors: list[str], title: str = "") -> Figure:
    """Power (95% Monte Carlo bars) against the first swept factor, a line per combination
    of the others and per comparison."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    p = table[table["statistic"] == "power"]
    first, rest = factors[0], factors[1:]
    keys = [*rest, "comparison"]
    for key, g in p.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))
        ax.errorbar(g[first].astype(str), g["value"], yerr=1.96 * g["mcse"], marker="o",
                    capsize=3, label=label)
    return _finish(fig, ax, first, "power", title, (0, 1.02))
