"""Concentration-time curves per regimen (docs/experiments.md, "Regimens and PK").

For each regimen: the typical 70-kg patient's effect-site concentration every day of a
52-week study, and the 5-95% band over the BLISS-52 cohort's patients (their weights and
between-patient variability), at the 4-weekly visits. Also the sensitivity of the visit
concentrations to the effect compartment's half-life.

Usage: ``python scripts/pk_figures.py [--out docs/figures]``; writes
``concentration_time.png`` and ``docs/data/concentration_time.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from trialsim.config.scenario import load_scenario, with_overrides  # noqa: E402
from trialsim.core.rng import replicate_key  # noqa: E402
from trialsim.model.pk import (  # noqa: E402
    effect_site_concentrations,
    pk_params,
    typical_concentrations,  # noqa: E402
)
from trialsim.model.population import PopulationModel  # noqa: E402

REGIMENS = {
    "1 mg/kg IV, days 0, 14, 28, then q4w": {"dose_mg_kg": 1.0},
    "10 mg/kg IV, days 0, 14, 28, then q4w": {"dose_mg_kg": 10.0},
    "10 mg/kg IV q4w, no loading": {"dose_mg_kg": 10.0, "loading_days": [0]},
    "200 mg SC weekly": {"dose_mg": 200.0},
    "400 mg SC every 2 weeks": {"dose_mg": 400.0, "interval_days": 14},
}


def main() -> None:
    """Write the figure and its numbers."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/figures")
    ap.add_argument("--patients", type=int, default=2000)
    args = ap.parse_args()
    base = load_scenario("configs/bliss52.yaml")
    arms = {"placebo": {"dose_mg_kg": 0.0}}
    names = {f"r{k}": label for k, label in enumerate(REGIMENS)}
    arms.update({f"r{k}": reg for k, reg in enumerate(REGIMENS.values())})
    sc = with_overrides(base, {"design.arms": arms, "design.comparisons": None})
    days = np.arange(7 * 52 + 1)
    typical = typical_concentrations(sc, 70.0, days)
    cohort, _ = PopulationModel(sc).enroll(args.patients, replicate_key(sc.seed, 0))
    p = pk_params(sc)
    weight = np.asarray(cohort.weight_kg, dtype=np.float64)
    unit = np.arange(len(cohort), dtype=np.int64)
    weeks = p.visit_days / 7
    rows = []
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6))
    for a, key in enumerate(sc.design.arms):
        if key == "placebo":
            continue
        conc = effect_site_concentrations(p, np.full(len(cohort), a, dtype=np.int64), weight,
                                          unit, 3, 5)
        lo, med, hi = np.percentile(conc, [5, 50, 95], axis=0)
        line = ax.plot(days / 7, typical[key], lw=1.2, label=names[key])[0]
        if "loading" not in names[key] and "2 weeks" not in names[key]:
            ax.fill_between(weeks, lo, hi, color=line.get_color(), alpha=0.12)
        for v, w in enumerate(weeks):
            rows.append({"regimen": names[key], "week": int(w),
                         "typical_70kg": float(typical[key][int(p.visit_days[v])]),
                         "cohort_p5": lo[v], "cohort_median": med[v], "cohort_p95": hi[v]})
    ax.set_xlabel("week")
    ax.set_ylabel("effect-site concentration (µg/mL)")
    ax.set_title("Typical 70-kg patient (lines) and 5-95% of the\nBLISS-52 cohort at the visits "
                 "(bands: 1, 10 mg/kg IV, 200 mg SC)", fontsize=10)
    ax.legend(fontsize=7.5, loc="upper right")
    ax.set_xlim(0, 52)
    # effect-compartment half-life: the 10 mg/kg IV visit (trough) and interval mean
    for half in (1.0, 3.5, 7.0, 14.0, 28.0):
        alt = with_overrides(sc, {"drug.pk.effect_half_life_days": half})
        c = typical_concentrations(alt, 70.0, days)["r1"]
        bx.plot(days / 7, c, lw=1.0, label=f"effect half-life {half:g} d")
    bx.set_xlim(0, 16)
    bx.set_xlabel("week")
    bx.set_title("10 mg/kg IV: the effect compartment smooths the\ninfusion peaks "
                 "(visits at weeks 4, 8, 12 see the troughs)", fontsize=10)
    bx.legend(fontsize=7.5)
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "concentration_time.png", dpi=100)
    data = Path("docs/data")
    data.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(data / "concentration_time.csv", index=False, float_format="%.2f")
    print(f"wrote {out / 'concentration_time.png'} and {data / 'concentration_time.csv'}")


if __name__ == "__main__":
    main()
