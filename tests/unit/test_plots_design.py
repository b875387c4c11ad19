"""Unit tests of the design figures (report/plots_experiments.py: plot_multiplicity_power,
plot_stopping_per_look) on hand-made tables: what they plot is the table's values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from trialsim.report.plots import save_figure
from trialsim.report.plots_experiments import plot_multiplicity_power, plot_stopping_per_look

HYPS = ["bel10_vs_placebo.sri4", "bel1_vs_placebo.sri4"]
PROCS = ["none", "holm", "graphical"]
SIZES = [300, 600, 900]


def power_table() -> pd.DataFrame:
    rows = []
    for n in SIZES:
        for k, proc in enumerate(PROCS):
            for i, h in enumerate(HYPS):
                rows.append((n, proc, "power", h, n / 1000 - 0.1 * k - 0.2 * i, 0.01))
            rows.append((n, proc, "disjunctive_power", "", n / 1000 - 0.05 * k, 0.01))
            rows.append((n, proc, "expected_rejections", "", 2 * n / 1000 - 0.1 * k, 0.02))
    return pd.DataFrame(rows, columns=["sample_size", "procedure", "statistic", "hypothesis",
                                       "value", "mcse"])


def test_multiplicity_power_draws_each_procedure_s_values():
    table = power_table()
    panels = [("power", HYPS[0]), ("power", HYPS[1]), ("expected_rejections", "")]
    fig = plot_multiplicity_power(table, panels=panels, labels={p: p.upper() for p in PROCS},
                                  ncols=2)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    for ax, (statistic, h) in zip(visible, panels, strict=True):
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert set(lines) == {p.upper() for p in PROCS}
        for proc in PROCS:
            want = table[(table.procedure == proc) & (table.statistic == statistic)
                         & (table.hypothesis == h)].sort_values("sample_size")
            np.testing.assert_allclose(lines[proc.upper()].get_ydata(), want.value)
            np.testing.assert_allclose(lines[proc.upper()].get_xdata(), SIZES)
        assert lines["NONE"].get_linestyle() == "--"  # the unadjusted reference
    # the default panels: each hypothesis, then the disjunctive power
    assert len([ax for ax in plot_multiplicity_power(table).axes if ax.get_visible()]) == 3


def test_multiplicity_power_refuses_a_missing_panel():
    with pytest.raises(ValueError, match="no rows for 'power' 'bel5_vs_placebo.sri4'"):
        plot_multiplicity_power(power_table(), panels=[("power", "bel5_vs_placebo.sri4")])
    with pytest.raises(ValueError, match="missing required column"):
        plot_multiplicity_power(power_table().drop(columns="mcse"))


def stopping_table() -> pd.DataFrame:
    rows = []
    for s, scen in enumerate(["drug_on", "drug_off"]):
        for c, comp in enumerate(["bel10_vs_placebo", "bel1_vs_placebo"]):
            for k in (1, 2, 3):
                eff = 0.1 * k * (1 - s) + 0.005 * k * s + 0.01 * c
                rows += [(scen, comp, k, "efficacy_stop", eff, 0.01),
                         (scen, comp, k, "recursion_efficacy", eff + 0.001, 0.0),
                         (scen, comp, k, "efficacy_stop_no_futility", eff + 0.002, 0.001),
                         (scen, comp, k, "alpha_spent", 0.005 * k, 0.0)]
                if k < 3:
                    fut = 0.2 + 0.3 * s - 0.05 * k + 0.02 * c
                    rows += [(scen, comp, k, "futility_stop", fut, 0.01),
                             (scen, comp, k, "recursion_futility", fut - 0.001, 0.0)]
            rows += [(scen, comp, 0, "gs_power", 0.6 - 0.5 * s, 0.01),
                     (scen, comp, 0, "fixed_power", 0.65 - 0.5 * s, 0.01),
                     (scen, comp, 0, "expected_months", 40 + s + c, 0.5),
                     (scen, comp, 0, "expected_patients", 800 - 50 * s, 5.0),
                     (scen, comp, 0, "fixed_months", 58.0, 0.1),
                     (scen, comp, 0, "fixed_patients", 865, 0.0)]
    return pd.DataFrame(rows, columns=["scenario", "comparison", "look", "statistic", "value",
                                       "mcse"])


def test_stopping_per_look_draws_the_shares_of_each_look(tmp_path):
    table = stopping_table()
    comps = ["bel1_vs_placebo", "bel10_vs_placebo"]
    fig = plot_stopping_per_look(table, comparisons=comps)
    axes = np.array(fig.axes).reshape(2, 3)
    for r, scen in enumerate(["drug_on", "drug_off"]):
        for c, comp in enumerate(comps):
            ax = axes[r, c]
            assert comp.split("_")[0] in ax.get_title()
            heights = [p.get_height() for p in ax.patches]
            sel = table[(table.scenario == scen) & (table.comparison == comp)]
            want = [*sel[sel.statistic == "efficacy_stop"].sort_values("look").value,
                    *sel[sel.statistic == "futility_stop"].sort_values("look").value]
            np.testing.assert_allclose(heights, want)
    # months at stopping: the alternative's bars, then the null's, each in column order
    heights = [p.get_height() for p in axes[0, 2].patches]
    np.testing.assert_allclose(heights, [41, 40, 42, 41])  # bel1, bel10; on, off
    path = save_figure(fig, tmp_path / "stopping.png", dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stopping_per_look_needs_two_scenarios():
    with pytest.raises(ValueError, match="two scenarios"):
        plot_stopping_per_look(stopping_table(), scenarios={"drug_on": "on"})
