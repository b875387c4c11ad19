"""Figures and tables of docs/experiments.md, "Designs: multiplicity and interim analyses".

Two experiments on a BLISS-52-like trial, each from a scenario file that ``trialsim run``
runs as it is:

1. **Power by multiplicity procedure** (``configs/experiments/bliss52_multiplicity.yaml``):
   both doses (10 and 1 mg/kg against placebo) on SRI-4 (primary) and SRI-6 (key
   secondary) at week 52, four hypotheses, each one-sided at ``analysis.alpha / 2`` =
   0.025. The scenario is simulated at several total sample sizes (common random numbers:
   replicate r at a larger size extends the trial of replicate r at a smaller one), and
   six procedures are applied to the same trials' one-sided p-values: none (unadjusted, a
   reference), Bonferroni, Holm, Hochberg, the fixed sequence 10 → 1 mg/kg (SRI-4 of both
   doses, then SRI-6 of both) and the scenario's own graph (each dose's SRI-4 at half of
   alpha, then its SRI-6, then the other dose's SRI-4: ``hierarchy_graph(2, 2)``). The
   graph's rejections are checked against the ones the run itself reports
   (``power_adjusted`` in its summary). Since every procedure sees the same trials, the
   differences between procedures are paired; their MCSEs are in the CSV
   (``difference_vs_holm``).
2. **Stopping per look** (``configs/experiments/bliss52_interim.yaml``): looks at 50, 75
   and 100% of the patients with SRI-4 week-52 data, O'Brien-Fleming-like alpha spending
   and non-binding O'Brien-Fleming-like beta spending for futility, 20 patients a month
   after a 6-month ramp. Simulated with the drug as calibrated and with both drug arms at
   0 mg/kg (the drug off: the type I error each look spends), with the share of trials
   stopping for efficacy and for futility per look, the same without the futility stops
   (the type I error the bounds were built for), the design's alpha spent per look and the
   canonical recursion's stopping probabilities (at drift 0, and at the mean final Z for the
   drug as calibrated), the power, and the patients randomised and calendar months at
   stopping against the fixed design's.

Every value comes with its Monte Carlo SE. Seeds are the scenario files' (BLISS-52's 1057),
so the outputs are reproducible bit for bit. Subgroup analyses are off (``factors: []``) for
speed. About 3.5 minutes on 2 cores shared with another job, numba cache warm (198 s
measured); about 9 minutes right after a change to the package, when everything compiles
first::

    python scripts/design_figures.py [--replicates 2000] [--interim-replicates 4000]
        [--sizes 300,450,600,750,865,1000,1200] [--n-jobs 2]
        [--figures docs/figures] [--data docs/data]

Writes ``design_multiplicity_power.png`` and ``design_interim_stopping.png`` (100 dpi) to
``--figures`` and ``design_multiplicity_power.csv`` and ``design_interim_stopping.csv`` to
``--data``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from trialsim import load_scenario, with_overrides
from trialsim.analysis.group_sequential import crossing_probabilities
from trialsim.analysis.interim import (
    CALENDAR_LOOK_FIELDS,
    EFFICACY,
    LOOK_FIELDS,
    sequential_decisions,
)
from trialsim.analysis.multiplicity import (
    MultiplicityParams,
    hierarchy_graph,
    multiplicity_adjust_trials,
    multiplicity_params,
)
from trialsim.config.scenario import Scenario
from trialsim.core.io import write_csv
from trialsim.report.plots import save_figure
from trialsim.report.plots_experiments import plot_multiplicity_power, plot_stopping_per_look
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan
from trialsim.summarize.mcse import mean_mcse, proportion_of
from trialsim.summarize.multiplicity import rejection_table, summarize_rejections
from trialsim.summarize.reduce import trial_table
from trialsim.summarize.tables import summarize

ROOT = Path(__file__).resolve().parents[1]
MULTIPLICITY_CONFIG = ROOT / "configs" / "experiments" / "bliss52_multiplicity.yaml"
INTERIM_CONFIG = ROOT / "configs" / "experiments" / "bliss52_interim.yaml"
#: the procedures' names in the tables and figure, in the legend's order
PROCEDURE_LABELS = {
    "none": "unadjusted",
    "bonferroni": "Bonferroni",
    "holm": "Holm",
    "hochberg": "Hochberg",
    "fixed_sequence": "fixed sequence 10 → 1 mg/kg",
    "graphical": "graph (each dose: SRI-4 → SRI-6)",
}


# ------------------------------------------------------------------ 1. multiplicity


def procedures(scenario: Scenario) -> dict[str, MultiplicityParams]:
    """The procedures compared, over the scenario's hypotheses, at one-sided level
    ``analysis.alpha / 2``.

    Parameters
    ----------
    scenario : Scenario
        With ``analysis.multiplicity`` over ``bel10_vs_placebo`` and ``bel1_vs_placebo`` on
        ``sri4`` and ``sri6``, dose-major (as in ``bliss52_multiplicity.yaml``).

    Returns
    -------
    dict of str to MultiplicityParams
        Keyed by procedure name (``PROCEDURE_LABELS``).
    """
    names = scenario.analysis.multiplicity.hypotheses
    alpha = scenario.analysis.alpha / 2.0
    sequence = ["bel10_vs_placebo.sri4", "bel1_vs_placebo.sri4",
                "bel10_vs_placebo.sri6", "bel1_vs_placebo.sri6"]
    weights, transitions = hierarchy_graph(2, 2)
    mult = scenario.analysis.multiplicity
    if not (np.allclose(mult.weights, weights) and np.allclose(mult.transitions, transitions)):
        raise ValueError("the scenario's graph is not hierarchy_graph(2, 2)")
    return {
        "none": multiplicity_params("none", names, alpha=alpha),
        "bonferroni": multiplicity_params("bonferroni", names, alpha=alpha),
        "holm": multiplicity_params("holm", names, alpha=alpha),
        "hochberg": multiplicity_params("hochberg", names, alpha=alpha),
        "fixed_sequence": multiplicity_params("fixed_sequence", names, alpha=alpha,
                                              order=sequence),
        "graphical": multiplicity_params("graphical", names, alpha=alpha, weights=weights,
                                         transitions=transitions),
    }


def power_by_procedure(scenario: Scenario, sizes: list[int], replicates: int,
                       n_jobs: int) -> pd.DataFrame:
    """Adjusted power per hypothesis, disjunctive and conjunctive power and expected
    rejections of every procedure at every total sample size, on the same trials.

    Parameters
    ----------
    scenario : Scenario
        The multiplicity scenario (its own procedure must be the graph of
        :func:`procedures`).
    sizes : list of int
        Total sample sizes (``design.sample_size``).
    replicates, n_jobs : int

    Returns
    -------
    pandas.DataFrame
        ``scenario, sample_size, procedure, statistic, hypothesis, value, mcse, replicates``;
        statistics ``power`` (per hypothesis), ``disjunctive_power``, ``conjunctive_power``,
        ``expected_rejections``, ``subset_any_power`` / ``subset_all_power`` (the two
        doses' SRI-4) and ``difference_vs_holm`` (the paired difference of each statistic
        from Holm's on the same trials, ``hypothesis`` naming the statistic compared:
        a hypothesis, or ``disjunctive_power``).
    """
    names = scenario.analysis.multiplicity.hypotheses
    primaries = [names.index(h) for h in scenario.analysis.multiplicity.success]
    procs = procedures(scenario)
    frames = []
    for n in sizes:
        sc = with_overrides(scenario, {"design.sample_size": n})
        plan = Plan(sc)
        res = simulate(sc, replicates=replicates, n_jobs=n_jobs, progress=False)
        p = trial_table(plan, res)[[f"p_one_sided.{h}" for h in names]].to_numpy()
        p = np.ascontiguousarray(p)
        rejections = {k: multiplicity_adjust_trials(p, mp)[0] for k, mp in procs.items()}
        # the run's own procedure (the graph) must agree with the graph applied here
        own = summarize(plan, res)
        own = own[own.statistic == "power_adjusted"]
        for i, h in enumerate(names):
            comp, endpoint = h.rsplit(".", 1)
            got = own[(own.comparison == comp) & (own.endpoint == endpoint)].value.iloc[0]
            if not np.isclose(got, rejections["graphical"][:, i].mean(), rtol=0, atol=1e-12):
                raise AssertionError(f"N = {n}, {h}: the run's power_adjusted {got} differs "
                                     f"from the graph applied to its p-values")
        for k, reject in rejections.items():
            t = rejection_table(summarize_rejections(reject, subset=primaries), names)
            frames.append(t.assign(sample_size=n, procedure=k))
            rows = []
            for i, h in enumerate(names):  # paired differences from Holm
                d = reject[:, i].astype(float) - rejections["holm"][:, i]
                rows.append(("difference_vs_holm", h, *mean_mcse(d)))
            d = reject.any(axis=1).astype(float) - rejections["holm"].any(axis=1)
            rows.append(("difference_vs_holm", "disjunctive_power", *mean_mcse(d)))
            frames.append(pd.DataFrame(rows, columns=["statistic", "hypothesis", "value",
                                                      "mcse"]).assign(sample_size=n,
                                                                      procedure=k))
        print(f"  N = {n}: done", flush=True)
    out = pd.concat(frames, ignore_index=True)
    out["scenario"] = scenario.name
    out["replicates"] = replicates
    cols = ["scenario", "sample_size", "procedure", "statistic", "hypothesis", "value",
            "mcse", "replicates"]
    return out[cols]


# ------------------------------------------------------------------ 2. interim analyses


def interim_stopping(scenario: Scenario, label: str, replicates: int,
                     n_jobs: int) -> pd.DataFrame:
    """Per comparison and look, the stopping shares of a group-sequential scenario, and per
    comparison its power, patients and months at stopping beside the fixed design's.

    Parameters
    ----------
    scenario : Scenario
        With ``design.interim`` and ``design.accrual``.
    label : str
        The ``scenario`` column's value (e.g. ``drug_on``).
    replicates, n_jobs : int

    Returns
    -------
    pandas.DataFrame
        ``scenario, comparison, look, statistic, value, mcse, replicates`` (``look`` 0 for
        a whole-trial statistic). Per look: ``information``, ``efficacy_bound``,
        ``futility_bound``, ``alpha_spent`` (the design's increment at that look),
        ``efficacy_stop`` and ``futility_stop`` (shares of trials, futility stops obeyed),
        ``efficacy_stop_no_futility`` (futility ignored: what the alpha spending counts),
        ``recursion_efficacy`` / ``recursion_futility`` (the canonical joint distribution
        at drift ``drift``), ``look_month`` and ``look_randomised`` (means over trials).
        Per comparison: ``gs_power``, ``gs_power_efficacy_only``, ``fixed_power`` (the last
        look alone at the fixed design's one-sided bound), ``drift`` (the mean final Z;
        0 with the drug off), ``expected_patients``, ``expected_months`` (at stopping),
        ``fixed_patients``, ``fixed_months`` (the primary analysis without looks),
        ``log_or_bias`` (log OR at stopping minus the same trial's final one).
    """
    plan = Plan(scenario)
    design = plan.interim_design
    res = simulate(scenario, replicates=replicates, n_jobs=n_jobs, progress=False)
    s = summarize(plan, res)
    gs = s[s.statistic.str.startswith("gs_")]
    months = s[(s.endpoint == "accrual") & (s.statistic == "primary_analysis_months")].iloc[0]
    k_max = design.k_max
    increments = np.diff(np.concatenate([[0.0], design.alpha_spent]))
    z_fixed = norm.ppf(1.0 - scenario.analysis.alpha / 2.0)
    drug_off = all(scenario.design.arms[a].dose_mg_kg == 0.0 for a in scenario.design.arms)
    rows = []

    def add(comp, look, stat, value, mcse=0.0):
        rows.append((label, comp, look, stat, float(value), float(mcse)))

    def get(comp, stat):
        row = gs[(gs.comparison == comp) & (gs.statistic == stat)].iloc[0]
        return row.value, row.mcse

    calendar = res.interim_calendar
    for c, comp in enumerate(plan.comparisons):
        z = res.interim_looks[:, c, :, LOOK_FIELDS.index("z")]
        drift = 0.0 if drug_off else float(np.nanmean(z[:, -1]))
        want = crossing_probabilities(design, drift)
        look_only, eff_only = sequential_decisions(z, design.critical_values, None)
        for k in range(k_max):
            add(comp, k + 1, "information", plan.interim.patients[k] /
                scenario.design.sample_size)
            add(comp, k + 1, "efficacy_bound", design.critical_values[k])
            add(comp, k + 1, "alpha_spent", increments[k])
            add(comp, k + 1, "efficacy_stop", *get(comp, f"gs_efficacy_stop_look{k + 1}"))
            add(comp, k + 1, "efficacy_stop_no_futility",
                *proportion_of(int(np.sum((look_only == k) & (eff_only == EFFICACY))),
                               z.shape[0]))
            add(comp, k + 1, "recursion_efficacy", want.efficacy[k])
            if k < k_max - 1:
                add(comp, k + 1, "futility_bound", design.futility_bounds[k])
                add(comp, k + 1, "futility_stop", *get(comp, f"gs_futility_stop_look{k + 1}"))
                add(comp, k + 1, "recursion_futility", want.futility[k])
            add(comp, k + 1, "look_month",
                *mean_mcse(calendar[:, k, CALENDAR_LOOK_FIELDS.index("month")]))
            add(comp, k + 1, "look_randomised",
                *mean_mcse(calendar[:, k, CALENDAR_LOOK_FIELDS.index("randomised")]))
        add(comp, 0, "gs_power", *get(comp, "gs_power"))
        add(comp, 0, "gs_power_efficacy_only", *get(comp, "gs_power_efficacy_only"))
        add(comp, 0, "fixed_power", *proportion_of(int(np.sum(z[:, -1] >= z_fixed)),
                                                   z.shape[0]))
        add(comp, 0, "drift", drift)
        add(comp, 0, "recursion_power", want.power)
        add(comp, 0, "expected_patients", *get(comp, "gs_expected_patients"))
        add(comp, 0, "expected_months", *get(comp, "gs_expected_months"))
        add(comp, 0, "fixed_patients", scenario.design.sample_size)
        add(comp, 0, "fixed_months", months.value, months.mcse)
        add(comp, 0, "log_or_bias", *get(comp, "gs_log_or_bias"))
    out = pd.DataFrame(rows, columns=["scenario", "comparison", "look", "statistic", "value",
                                      "mcse"])
    out["replicates"] = replicates
    return out


# ------------------------------------------------------------------ main


def main() -> None:
    """Run both experiments and write the figures and tables (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=2000,
                    help="trials per sample size of the multiplicity experiment")
    ap.add_argument("--interim-replicates", type=int, default=4000,
                    help="trials of each interim scenario (drug on, drug off)")
    ap.add_argument("--sizes", default="300,450,600,750,865,1000,1200")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--figures", default=str(ROOT / "docs" / "figures"))
    ap.add_argument("--data", default=str(ROOT / "docs" / "data"))
    args = ap.parse_args()
    figures, data = Path(args.figures), Path(args.data)
    start = time.perf_counter()

    print("1. power by multiplicity procedure", flush=True)
    scenario = load_scenario(MULTIPLICITY_CONFIG)
    sizes = [int(v) for v in args.sizes.split(",")]
    power = power_by_procedure(scenario, sizes, args.replicates, args.n_jobs)
    write_csv(power, data / "design_multiplicity_power.csv")
    names = scenario.analysis.multiplicity.hypotheses
    panels = [("power", "bel10_vs_placebo.sri4"), ("power", "bel1_vs_placebo.sri4"),
              ("disjunctive_power", ""), ("power", "bel10_vs_placebo.sri6"),
              ("power", "bel1_vs_placebo.sri6"), ("expected_rejections", "")]
    assert {h for _, h in panels if h} == set(names)
    fig = plot_multiplicity_power(
        power, panels=panels, labels=PROCEDURE_LABELS,
        title=f"BLISS-52, two doses x SRI-4/SRI-6 at week 52: power by multiplicity procedure "
              f"(one-sided 0.025; {args.replicates} trials per size; bands 95% MC)")
    save_figure(fig, figures / "design_multiplicity_power.png", dpi=100)
    at = power[(power.sample_size == 865) & (power.statistic != "difference_vs_holm")]
    if not at.empty:
        shown = at.assign(cell=[f"{v:.3f} ({m:.3f})" for v, m in zip(at.value, at.mcse,
                                                                      strict=True)])
        print(shown.pivot_table(index=["statistic", "hypothesis"], columns="procedure",
                                values="cell", aggfunc="first").to_string())

    print("2. stopping per look", flush=True)
    on = load_scenario(INTERIM_CONFIG)
    off = with_overrides(on, {"design.arms.bel1.dose_mg_kg": 0.0,
                              "design.arms.bel10.dose_mg_kg": 0.0,
                              "name": "bliss52_interim_null"})
    stopping = pd.concat([
        interim_stopping(on, "drug_on", args.interim_replicates, args.n_jobs),
        interim_stopping(off, "drug_off", args.interim_replicates, args.n_jobs),
    ], ignore_index=True)
    write_csv(stopping, data / "design_interim_stopping.csv")
    fig = plot_stopping_per_look(
        stopping, comparisons=["bel10_vs_placebo", "bel1_vs_placebo"],
        title=f"BLISS-52 with looks at 50/75/100% of SRI-4 week-52 data, OF-like efficacy "
              f"and futility ({args.interim_replicates} trials each)")
    save_figure(fig, figures / "design_interim_stopping.png", dpi=100)
    shown = stopping.assign(cell=[f"{v:.4f} ({m:.4f})" for v, m in zip(
        stopping.value, stopping.mcse, strict=True)])
    print(shown.pivot_table(index=["statistic", "look"], columns=["scenario", "comparison"],
                            values="cell", aggfunc="first").to_string())
    print(f"written to {figures}/ and {data}/ in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
