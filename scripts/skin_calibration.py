"""Tune the skin model (configs/skin.yaml, the values marked "tuned"), in two steps.

1. Belimumab's skin effect on seed 004, a real-world cohort: a common shift of the four
   subtypes' ``mean_activity`` (their differences are assumptions), ``skin.drug.emax``,
   ``skin.drug.patient_sd`` and ``skin.drug.onset_weeks``, given the standard of care of
   configs/skin.yaml (an assumption: small, since patients start belimumab when their
   background therapy has failed), to the seed's numbers read as: mean CLASI 8.76 at
   baseline; "approximately 5.6" at 3 months; "below 4" at 12 months as 3.8; CLASI-20 "in
   most patients" by 6 months as 0.7; CLASI-50 "nearly half ... at several time points" as
   0.45 at 12 and 24 months; CLASI-100 "a third of evaluable patients at 5 years" as 1/3.
2. A randomised trial's placebo response (``skin.trial_effect``, with the standard of
   care's 8-week onset): the placebo arms of the TULIP trials, the only controlled CLASI
   data found. Among patients with CLASI-A >= 10, CLASI-50 on placebo was 24.9% (24/94) at
   week 12 (pooled TULIP-1/2; Vital et al., Ann Rheum Dis 2022, Table 1) and 44.7% (42/94:
   26/57 and 16/37 in the immunosuppressant-experienced and -inexperienced subgroups) at
   week 52 (pooled TULIP abstract, EULAR 2026). Found with the search tool. The untreated
   course with standard of care + trial effect is fitted to these two rates.

``--soc-explains`` is calibration A (configs/clasi_rct_soc_explains.yaml): the whole TULIP
placebo response is the standard of care, in the real-world cohort too (no trial effect),
and the drug is refitted to seed 004 on top of it.

Each grid point simulates one large cohort (4,000 patients, no attrition: the expected
values; common random numbers across the grid). The distance is the sum of squared
differences to the targets, each divided by its standard error in the source study (94
patients for TULIP, 29 for seed 004): what the published numbers can tell.

    .venv/bin/python scripts/skin_calibration.py                  # about 10 minutes
    .venv/bin/python scripts/skin_calibration.py --soc-explains   # calibration A
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trialsim.analysis.cohort import (  # noqa: E402
    STAT_MEAN,
    STAT_N_ELIGIBLE,
    STAT_RESP,
    t_quantiles,
)
from trialsim.config.skin import load_skin_scenario  # noqa: E402
from trialsim.config.vocab import SKIN_SUBTYPES  # noqa: E402
from trialsim.experiments.skin import cohort_replicate  # noqa: E402
from trialsim.model.skin import skin_params  # noqa: E402

#: (statistic, month, target, SD of one patient's value or None for a proportion, study n)
SOC_TARGETS = [("clasi50", 12 * 12 / 52, 0.249, None, 94), ("clasi50", 12.0, 0.447, None, 94)]
SEED_TARGETS = [("mean", 0, 8.76, 5.0, 29), ("mean", 3, 5.6, 5.0, 29),
                ("mean", 12, 3.8, 5.0, 29), ("clasi20", 6, 0.7, None, 29),
                ("clasi50", 12, 0.45, None, 29), ("clasi50", 24, 0.45, None, 29),
                ("clasi100", 60, 1 / 3, None, 29)]
N_BIG = 4000


def outcomes(overrides: dict, targets: list, source: str, min_clasi: int) -> dict:
    months = sorted({0.0, *(t[1] for t in targets)})
    sc = load_skin_scenario(ROOT / "configs/clasi_realworld.yaml", {
        **overrides, "design.sample_size": N_BIG, "design.min_clasi": min_clasi,
        "design.assessment_months": months, "design.min_months_on_drug": 0,
        "design.stop_per_year": 0.0, "design.lost_per_year": 0.0,
        "design.follow_up.min_months": months[-1], "design.follow_up.max_months": months[-1]})
    res = cohort_replicate(sc, skin_params(sc), 0, t_quantiles(N_BIG + 10))
    table = res[source][0]
    thr = sc.analysis.response_thresholds
    out = {}
    for stat, month, *_ in targets:
        j = months.index(month)
        if stat == "mean":
            out[(stat, month)] = table[j, STAT_MEAN]
        else:
            k = thr.index(int(stat[5:]))
            out[(stat, month)] = table[j, STAT_RESP + k] / table[j, STAT_N_ELIGIBLE]
    return out


def distance(out: dict, targets: list) -> float:
    d = 0.0
    for stat, month, target, sd, n in targets:
        if sd is None:
            sd = math.sqrt(target * (1 - target))
        d += ((out[(stat, month)] - target) / (sd / math.sqrt(n))) ** 2
    return d


def show(out: dict, targets: list) -> str:
    return ", ".join(f"{s}@{m:g}={out[(s, m)]:.3f} ({t:.3f})" for s, m, t, *_ in targets)


def fit_drug(soc: dict, means: dict, grid) -> tuple:
    rows = []
    for shift, emax, psd, onset in grid:
        ov = {f"skin.subtypes.{s}.mean_activity": round(m + shift, 4) for s, m in means.items()}
        ov.update(soc)
        ov.update({"skin.drug.emax": emax, "skin.drug.patient_sd": psd,
                   "skin.drug.onset_weeks": onset})
        out = outcomes(ov, SEED_TARGETS, "truth", 2)
        rows.append((distance(out, SEED_TARGETS), (shift, emax, psd, onset), out))
    rows.sort(key=lambda r: r[0])
    for d, (shift, emax, psd, onset), out in rows[:5]:
        print(f"  {d:6.2f} shift {shift:+.2f} emax {emax} patient_sd {psd} onset {onset}: "
              f"{show(out, SEED_TARGETS)}", flush=True)
    return rows[0]


def fit_placebo(extra: dict) -> float:
    """The total standard-of-care effect (onset 8 weeks) that gives TULIP's placebo rates."""
    rows = []
    for effect in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1]:
        ov = {**extra, "skin.standard_of_care.effect": effect,
              "skin.standard_of_care.onset_weeks": 8.0}
        out = outcomes(ov, SOC_TARGETS, "untreated", 10)
        rows.append((distance(out, SOC_TARGETS), effect, out))
    rows.sort(key=lambda r: r[0])
    for d, effect, out in rows[:3]:
        print(f"  {d:6.2f} total placebo effect {effect}: {show(out, SOC_TARGETS)}",
              flush=True)
    return rows[0][1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--soc-explains", action="store_true",
                    help="calibration A: TULIP's placebo response is all standard of care")
    args = ap.parse_args()
    base = load_skin_scenario(ROOT / "configs/clasi_realworld.yaml")
    means = {s: base.skin.subtypes[s].mean_activity for s in SKIN_SUBTYPES}
    soc = base.skin.standard_of_care
    if args.soc_explains:
        print("A, step 1: the standard of care on the TULIP placebo arms", flush=True)
        total = fit_placebo({})
        print("A, step 2: belimumab on seed 004 on top of it", flush=True)
        grid = itertools.product([0.2, 0.3, 0.4], [1.0, 1.5, 2.0, 2.5], [1.3, 1.9, 2.5],
                                 [18.0, 40.0, 80.0])
        fit_drug({"skin.standard_of_care.effect": total,
                  "skin.standard_of_care.onset_weeks": 8.0}, means, grid)
        return
    print(f"step 1: belimumab on seed 004 (CLASI-A >= 2, on drug; standard of care "
          f"{soc.effect} with onset {soc.onset_weeks} weeks)", flush=True)
    grid = itertools.product([-0.1, 0.0, 0.1], [2.5, 3.0, 3.5, 4.0], [1.6, 1.9, 2.2],
                             [12.0, 18.0, 26.0])
    d, (shift, emax, psd, onset), _ = fit_drug({}, means, grid)
    print("step 2: a trial's placebo response on the TULIP placebo arms", flush=True)
    total = fit_placebo({f"skin.subtypes.{s}.mean_activity": round(m + shift, 4)
                         for s, m in means.items()})
    print(f"  trial_effect = {total} - standard of care {soc.effect} = "
          f"{total - soc.effect:.2f} (onset 8 weeks)")


if __name__ == "__main__":
    main()
