"""Unit tests for trialsim.report.plots (figure structure, plotted values, atomic saving)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from scipy.special import ndtri

from trialsim.report import plots
from trialsim.report.plots import (
    comparison_label,
    plot_odds_ratio_distribution,
    plot_power,
    plot_response_rates,
    plot_sledai_trajectory,
    save_figure,
)

#: the two-sided 95% normal quantile, from scipy (not from trialsim)
Z = float(ndtri(0.975))

ENDPOINTS = ["sri4", "sledai_reduction_4"]
ARMS = ["placebo", "bel1", "bel10"]
COMPARISONS = ["bel1_vs_placebo", "bel10_vs_placebo"]
WEEKS = [52, 76]
N_REP = 50
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rate(endpoint: str, week: int, arm: str) -> float:
    """Distinct, deterministic response rate for each cell."""
    return (
        0.30 + 0.05 * ARMS.index(arm) + 0.02 * ENDPOINTS.index(endpoint) + 0.01 * WEEKS.index(week)
    )


def _power(endpoint: str, week: int, comparison: str) -> float:
    return (
        0.40
        + 0.2 * COMPARISONS.index(comparison)
        + 0.1 * ENDPOINTS.index(endpoint)
        + 0.05 * (WEEKS.index(week))
    )


def make_summary(scenario: str = "base") -> pd.DataFrame:
    rows = []
    for e in ENDPOINTS:
        for w in WEEKS:
            for a in ARMS:
                r = _rate(e, w, a)
                for stat, val, se in [
                    ("response_rate", r, 0.004),
                    ("response_rate_q025", r - 0.1, np.nan),
                    ("response_rate_q975", r + 0.12, np.nan),
                ]:
                    rows.append((scenario, e, w, a, "", stat, val, se))
            for c in COMPARISONS:
                p = _power(e, w, c)
                rows.append((scenario, e, w, "", c, "power", p, 0.01 + 0.001 * len(rows)))
                rows.append((scenario, e, w, "", c, "odds_ratio_median", 1.5, 0.02))
                rows.append((scenario, e, w, "", c, "odds_ratio_q025", 0.9, np.nan))
                rows.append((scenario, e, w, "", c, "odds_ratio_q975", 2.4, np.nan))
                rows.append((scenario, e, w, "", c, "risk_difference_mean", 0.1, 0.003))
    old = [c for c in plots.SUMMARY_COLUMNS if c not in ("subgroup", "level")]
    df = pd.DataFrame(rows, columns=old).assign(subgroup="", level="")
    return df[list(plots.SUMMARY_COLUMNS)]


def make_replicates(seed: int = 1, n_nan: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for e in ENDPOINTS:
        for w in WEEKS:
            for k, c in enumerate(COMPARISONS):
                log_or = rng.normal(0.3 + 0.2 * k, 0.3, N_REP)
                p = rng.uniform(0, 0.2 + 0.3 * k, N_REP)
                ors = np.exp(log_or)
                if n_nan:
                    ors[:n_nan] = np.nan
                    log_or[:n_nan] = np.nan
                    p[:n_nan] = np.nan
                for i in range(N_REP):
                    rows.append((i, e, w, c, log_or[i], ors[i], p[i], 0.5, 0.4, 0.1))
    return pd.DataFrame(
        rows,
        columns=[
            "replicate",
            "endpoint",
            "week",
            "comparison",
            "log_or",
            "odds_ratio",
            "p_value",
            "rate_treated",
            "rate_control",
            "risk_difference",
        ],
    )


def make_trajectory() -> pd.DataFrame:
    weeks = [0, 4, 8, 12, 24, 36, 52]
    rows = []
    for j, a in enumerate(ARMS):
        for w in reversed(weeks):  # deliberately unsorted
            m = 10.0 - (1 + j) * w / 26
            rows.append((a, w, m, m - 1.5 - 0.01 * w, m + 1.7 + 0.01 * w))
    return pd.DataFrame(rows, columns=["arm", "week", "mean", "q025", "q975"])


def _bar_containers(ax):
    return {c.get_label(): c for c in ax.containers if isinstance(c, BarContainer)}


def _errorbar_containers(ax):
    return {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}


# --------------------------------------------------------------------------- response rates


def test_response_rates_one_panel_per_week_and_bar_heights():
    summary = make_summary()
    fig = plot_response_rates(summary)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(WEEKS)
    for ax, w in zip(fig.axes, WEEKS, strict=True):
        bars = _bar_containers(ax)
        assert list(bars) == ARMS  # placebo first, one container per arm
        for arm, cont in bars.items():
            heights = [p.get_height() for p in cont.patches]
            np.testing.assert_allclose(heights, [_rate(e, w, arm) for e in ENDPOINTS])
        assert str(w) in ax.get_title()
        assert ax.get_xlabel() == "Endpoint"
    assert fig.axes[-1].get_legend() is not None
    assert "base" in fig.get_suptitle()
    assert fig.axes[0].get_ylabel()


def test_response_rates_placebo_first_then_order_of_appearance():
    summary = make_summary().iloc[::-1].reset_index(drop=True)  # arms appear bel10, bel1, placebo
    fig = plot_response_rates(summary, week=52)
    assert list(_bar_containers(fig.axes[0])) == ["placebo", "bel10", "bel1"]


def test_response_rates_error_bars_span_quantiles_and_mcse():
    summary = make_summary()
    fig = plot_response_rates(summary, week=76)
    (ax,) = fig.axes
    errs = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    # one quantile whisker set + one MC SE set per arm
    assert len(errs) == 2 * len(ARMS)
    quantile = errs[0]  # placebo trial-level spread
    segs = quantile.lines[2][0].get_segments()
    for seg, e in zip(segs, ENDPOINTS, strict=True):
        r = _rate(e, 76, "placebo")
        np.testing.assert_allclose(sorted(seg[:, 1]), [r - 0.1, r + 0.12])
    mc = errs[1].lines[2][0].get_segments()
    for seg, e in zip(mc, ENDPOINTS, strict=True):
        r = _rate(e, 76, "placebo")
        np.testing.assert_allclose(sorted(seg[:, 1]), [r - Z * 0.004, r + Z * 0.004])


def test_response_rates_into_given_ax_and_week_errors():
    summary = make_summary()
    fig = Figure()
    ax = fig.subplots()
    assert plot_response_rates(summary, week=52, ax=ax) is fig
    with pytest.raises(ValueError, match="week"):
        plot_response_rates(summary, ax=Figure().subplots())  # two weeks, one ax
    with pytest.raises(ValueError, match="week 99"):
        plot_response_rates(summary, week=99)


def test_response_rates_requires_scenario_choice_when_several():
    summary = pd.concat([make_summary("base"), make_summary("null")], ignore_index=True)
    with pytest.raises(ValueError, match="scenario"):
        plot_response_rates(summary)
    fig = plot_response_rates(summary, week=52, scenario="null")
    assert "null" in fig.axes[0].get_title()


# --------------------------------------------------------------------------- odds ratios


def test_odds_ratio_histograms_counts_median_power():
    reps = make_replicates()
    fig = plot_odds_ratio_distribution(reps, endpoint="sri4", week=52)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    bars = _bar_containers(ax)
    assert list(bars) == [comparison_label(c) for c in COMPARISONS]
    sub = reps[(reps.endpoint == "sri4") & (reps.week == 52)]
    text = " ".join(t.get_text() for t in ax.texts)
    for c in COMPARISONS:
        ors = sub.loc[sub.comparison == c, "odds_ratio"].to_numpy()
        heights = [p.get_height() for p in bars[comparison_label(c)].patches]
        assert sum(heights) == len(ors)
        (med_line,) = [ln for ln in ax.lines if ln.get_gid() == f"median:{c}"]
        np.testing.assert_allclose(med_line.get_xdata(), np.median(ors))
        power = np.mean(sub.loc[sub.comparison == c, "p_value"] < 0.05)
        assert f"power {power:.1%}" in text
    (one,) = [ln for ln in ax.lines if ln.get_gid() == "or_one"]
    np.testing.assert_allclose(one.get_xdata(), 1.0)
    lo, hi = ax.get_xlim()
    assert lo < 1 < hi


def test_odds_ratio_one_panel_per_week_by_default():
    fig = plot_odds_ratio_distribution(make_replicates(), endpoint="sledai_reduction_4")
    assert len(fig.axes) == len(WEEKS)
    assert [ax.get_title() for ax in fig.axes] == [f"Week {w}" for w in WEEKS]


def test_odds_ratio_nan_values_are_skipped():
    reps = make_replicates(n_nan=7)
    reps.loc[reps.index[10], "odds_ratio"] = np.inf  # also not plottable on a log axis
    fig = plot_odds_ratio_distribution(reps, endpoint="sri4", week=52)
    (ax,) = fig.axes
    bars = _bar_containers(ax)
    heights = [p.get_height() for p in bars[comparison_label(COMPARISONS[0])].patches]
    assert sum(heights) == N_REP - 8
    heights = [p.get_height() for p in bars[comparison_label(COMPARISONS[1])].patches]
    assert sum(heights) == N_REP - 7
    sub = reps[(reps.endpoint == "sri4") & (reps.week == 52) & (reps.comparison == COMPARISONS[1])]
    (med,) = [ln for ln in ax.lines if ln.get_gid() == f"median:{COMPARISONS[1]}"]
    np.testing.assert_allclose(med.get_xdata(), np.nanmedian(sub.odds_ratio))
    assert "7 unanalysable skipped" in ax.texts[0].get_text()
    # NaN p-values count as non-rejections over all replicates
    k = int(np.sum(sub.p_value < 0.05))
    assert f"({k}/{N_REP})" in ax.texts[0].get_text()


def test_odds_ratio_all_nan_comparison_does_not_crash():
    reps = make_replicates()
    reps.loc[reps.comparison == COMPARISONS[0], ["odds_ratio", "p_value"]] = np.nan
    fig = plot_odds_ratio_distribution(reps, week=76)
    (ax,) = fig.axes
    assert list(_bar_containers(ax)) == [comparison_label(COMPARISONS[1])]
    assert "no analysable trials" in ax.texts[0].get_text()


def test_odds_ratio_unknown_endpoint():
    with pytest.raises(ValueError, match="endpoint"):
        plot_odds_ratio_distribution(make_replicates(), endpoint="sri9")


# --------------------------------------------------------------------------- trajectory


def test_sledai_trajectory_lines_and_bands():
    traj = make_trajectory()
    fig = plot_sledai_trajectory(traj, title="Scenario base")
    (ax,) = fig.axes
    assert ax.get_title() == "Scenario base"
    assert [ln.get_label() for ln in ax.lines] == ARMS
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == len(ARMS)
    for ln, band, arm in zip(ax.lines, bands, ARMS, strict=True):
        sub = traj[traj.arm == arm].sort_values("week")
        np.testing.assert_allclose(ln.get_xdata(), sub.week)
        np.testing.assert_allclose(ln.get_ydata(), sub["mean"])
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(sub.q025.min())
        assert ys.max() == pytest.approx(sub.q975.max())
    assert ax.get_xlabel() == "Week"
    assert "SLEDAI" in ax.get_ylabel()
    assert ax.get_legend() is not None


def test_sledai_trajectory_into_given_ax():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plot_sledai_trajectory(make_trajectory(), ax=ax2) is fig
    assert len(ax2.lines) == len(ARMS) and not ax1.lines


# --------------------------------------------------------------------------- power


def test_power_points_errorbars_and_reference_lines():
    summary = make_summary()
    fig = plot_power(summary)
    assert len(fig.axes) == len(WEEKS)
    table = summary[summary.statistic == "power"].set_index(["week", "endpoint", "comparison"])
    for ax, w in zip(fig.axes, WEEKS, strict=True):
        conts = _errorbar_containers(ax)
        assert list(conts) == [comparison_label(c) for c in COMPARISONS]
        for c in COMPARISONS:
            cont = conts[comparison_label(c)]
            expected = [_power(e, w, c) for e in ENDPOINTS]
            np.testing.assert_allclose(cont.lines[0].get_ydata(), expected)
            segs = cont.lines[2][0].get_segments()
            for seg, e in zip(segs, ENDPOINTS, strict=True):
                se = table.at[(w, e, c), "mcse"]
                np.testing.assert_allclose(
                    sorted(seg[:, 1]),
                    [expected[ENDPOINTS.index(e)] + s * Z * se for s in (-1, 1)],
                )
        refs = {ln.get_gid(): ln for ln in ax.lines if ln.get_gid()}
        np.testing.assert_allclose(refs["target_power"].get_ydata(), 0.8)
        np.testing.assert_allclose(refs["alpha"].get_ydata(), 0.05)
        assert refs["target_power"].get_linestyle() in ("--", ":")
        assert refs["alpha"].get_linestyle() in ("--", ":")
    assert "base" in fig.get_suptitle()


def test_power_single_week():
    fig = plot_power(make_summary(), week=52)
    assert len(fig.axes) == 1
    assert "52" in fig.axes[0].get_title()


def test_missing_columns_raise():
    with pytest.raises(ValueError, match="mcse"):
        plot_power(make_summary().drop(columns="mcse"))


# --------------------------------------------------------------------------- saving


def test_save_figure_writes_png_atomically(tmp_path):
    fig = plot_power(make_summary(), week=52)
    target = tmp_path / "power.png"
    out = save_figure(fig, target)
    assert out == target
    data = target.read_bytes()
    assert len(data) > 1000 and data[:8] == PNG_MAGIC
    assert sorted(os.listdir(tmp_path)) == ["power.png"]
    # overwrite in place, still no leftovers
    save_figure(plot_sledai_trajectory(make_trajectory()), target)
    assert target.read_bytes()[:8] == PNG_MAGIC
    assert sorted(os.listdir(tmp_path)) == ["power.png"]


def test_save_figure_cleans_up_on_error(tmp_path):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")

    class Boom(RuntimeError):
        pass

    fig = Figure()

    def failing_savefig(fname, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(b"partial")
        raise Boom

    fig.savefig = failing_savefig
    with pytest.raises(Boom):
        save_figure(fig, target)
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["fig.png"]
