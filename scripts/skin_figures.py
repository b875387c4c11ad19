"""The worked examples of docs/skin.md: figures in docs/figures/skin_*.png, numbers printed.

1. The seed 004 cohort (configs/clasi_realworld.yaml): simulated 29-patient studies against
   the published numbers, the truth and the untreated counterfactual.
2. Response-dependent attrition: the evaluable-patient analysis against the truth.
3. The skin trial (configs/clasi_rct.yaml): power by sample size, with topical therapy kept
   stable or allowed to change, and power by the share of subacute CLE.

    .venv/bin/python scripts/skin_figures.py [--replicates 400]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trialsim.config.skin import load_skin_scenario  # noqa: E402
from trialsim.experiments.skin import SEED_004, run_cohort, run_trial  # noqa: E402
from trialsim.report import plots_skin as ps  # noqa: E402
from trialsim.report.plots import save_figure  # noqa: E402

FIG = ROOT / "docs" / "figures"
COHORT = ROOT / "configs" / "clasi_realworld.yaml"
RCT = ROOT / "configs" / "clasi_rct.yaml"


def cohort(reps: int) -> None:
    sc = load_skin_scenario(COHORT)
    res = run_cohort(sc, replicates=reps)
    save_figure(ps.plot_cohort_trajectory(res.replicates, SEED_004["mean"],
                                          title=f"seed 004 cohort: {reps} simulated studies"),
                FIG / "skin_cohort_trajectory.png")
    save_figure(ps.plot_subtype_trajectory(res.summary, title="seed 004 cohort by subtype"),
                FIG / "skin_cohort_subtypes.png")
    print("## seed 004 comparison")
    print(res.seed_comparison.drop(columns=["check"]).to_string(index=False,
                                                                 float_format="%.3f"))
    s = res.summary
    wide = s[(s.group == "all") & s.statistic.isin(["mean", "n", "clasi50_rate",
                                                     "clasi100_rate"])]
    print(wide.pivot_table(index=["source", "month"], columns="statistic", values="value")
          .to_string(float_format="%.2f"))
    sig = s[(s.source == "study") & (s.statistic == "significant")]
    print("share of studies with Wilcoxon p < 0.05, by subtype and month")
    print(sig.pivot_table(index="month", columns="group", values="value")
          .to_string(float_format="%.2f"))


def attrition(reps: int) -> None:
    rows = []
    for prob in (0.0, 0.5):
        sc = load_skin_scenario(COHORT, {"design.nonresponder_stop_prob": prob})
        s = run_cohort(sc, replicates=reps).summary
        x = s[(s.group == "all") & (s.statistic == "clasi50_rate")
              & s.source.isin(["study", "truth"])].copy()
        x["nonresponder_stop_prob"] = prob
        rows.append(x)
    t = pd.concat(rows)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (prob, source), g in t.groupby(["nonresponder_stop_prob", "source"]):
        ax.errorbar(g["month"], g["value"], yerr=1.96 * g["mcse"], marker="o", capsize=2,
                    ls="-" if source == "study" else "--",
                    label=f"{source}, non-responders stop with p = {prob:g}")
    ax.set_xlabel("months")
    ax.set_ylabel("CLASI-50 rate")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("evaluable-patient analysis vs truth")
    fig.tight_layout()
    save_figure(fig, FIG / "skin_attrition_bias.png")
    print("## attrition bias: CLASI-50 rate (evaluable patients vs truth)")
    print(t.pivot_table(index="month", columns=["nonresponder_stop_prob", "source"],
                        values="value").to_string(float_format="%.3f"))


def trial(reps: int) -> None:
    sizes = [40, 60, 80, 120, 160]
    frames = []
    for topicals in ("stable", "allowed"):
        sc = load_skin_scenario(RCT, {"design.topicals": topicals})
        for n in sizes:
            t = run_trial(sc, replicates=reps, sample_size=n)
            t["topicals"] = topicals
            frames.append(t)
    t = pd.concat(frames)
    p = t[t.statistic == "power"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for topicals, g in p.groupby("topicals"):
        ax.errorbar(g["sample_size"], g["value"], yerr=1.96 * g["mcse"], marker="o",
                    capsize=3, label=f"topical therapy {topicals}")
    ax.axhline(0.8, color="gray", ls=":")
    ax.set_xlabel("total sample size (1:1)")
    ax.set_ylabel("power, CLASI-50 at week 24")
    ax.set_ylim(0, 1.02)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, FIG / "skin_rct_power.png")
    print("## skin trial power by N and topical therapy")
    print(p.pivot_table(index="sample_size", columns="topicals", values="value")
          .to_string(float_format="%.3f"))
    r = t[(t.statistic == "clasi50_rate") & (t.subtype == "all")
          & (t.sample_size == 120)]
    print(r[["topicals", "arm", "value", "mcse"]].to_string(index=False,
                                                             float_format="%.3f"))
    shares = [0.0, 0.15, 0.3, 0.5, 0.7]
    rows = []
    for share in shares:
        sc = load_skin_scenario(RCT, {"population.subtypes.scle": share})
        t = run_trial(sc, replicates=reps, sample_size=80)
        rows.append({"scle_share": share,
                     "power": t[t.statistic == "power"].value.iloc[0],
                     "mcse": t[t.statistic == "power"].mcse.iloc[0]})
    q = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.errorbar(q["scle_share"], q["power"], yerr=1.96 * q["mcse"], marker="o", capsize=3)
    ax.set_xlabel("share of subacute CLE among the enrolled")
    ax.set_ylabel("power at N = 80")
    ax.set_ylim(0, 1.02)
    fig.tight_layout()
    save_figure(fig, FIG / "skin_rct_scle_share.png")
    print("## power at N = 80 by SCLE share")
    print(q.to_string(index=False, float_format="%.3f"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=400)
    args = ap.parse_args()
    cohort(args.replicates)
    attrition(args.replicates)
    trial(args.replicates)


if __name__ == "__main__":
    main()
