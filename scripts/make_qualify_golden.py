"""Write ``trialsim/qualify/golden.json``: the stored reference values of ``trialsim qualify``.

The installation qualification (``trialsim qualify``, docs/qualification.md) compares the
installed package with values it cannot compute itself: the fits of two independent
statistics packages (statsmodels, lifelines: test-only dependencies, never imported by
``trialsim``) on two fixed datasets, and the published BLISS-52 / BLISS-76 response rates.
This script makes those datasets (fixed seeds), fits them with the oracles and writes the
data, the reference values and the oracles' versions into one JSON file, which ships with
the package.

    .venv/bin/python scripts/make_qualify_golden.py [--out trialsim/qualify/golden.json]

Rerun it only to change a dataset or to re-derive the references with a newer oracle; then
``tests/reference/test_qualify_golden.py`` checks the stored values against the oracles
again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test

from trialsim.config import published

GOLDEN = Path(__file__).resolve().parents[1] / "trialsim" / "qualify" / "golden.json"

#: the logistic dataset: an arm indicator and two stratum indicators, as in the per-trial
#: analysis (``analysis/comparisons.py``: intercept, treated, strata)
LOGISTIC_SEED, LOGISTIC_N = 20240611, 300
LOGISTIC_COLUMNS = ("intercept", "treated", "sledai_ge_10", "proteinuria_ge_2")
LOGISTIC_TRUE = (-0.6, 0.55, 0.45, -0.35)

#: the survival dataset: time to first flare on a 28-day visit grid (heavy ties), censored
SURVIVAL_SEED, SURVIVAL_N, SURVIVAL_HR = 20240612, 300, 0.7

#: published SRI-4 and component response rates, (events, n) per arm: seed 000 Table 3
BLISS_ARMS, BLISS_RATES = published.BLISS_ARMS, published.BLISS_RESPONSES


def logistic_data() -> dict[str, list[int]]:
    """~300 patients: 1:1 treated, two stratum indicators, a 0/1 response."""
    rng = np.random.default_rng(LOGISTIC_SEED)
    n = LOGISTIC_N
    treated = rng.permutation(np.repeat([0, 1], n // 2))
    s1 = (rng.random(n) < 0.5).astype(int)
    s2 = (rng.random(n) < 0.3).astype(int)
    eta = np.column_stack([np.ones(n), treated, s1, s2]) @ np.array(LOGISTIC_TRUE)
    response = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(int)
    return {"treated": treated.tolist(), "sledai_ge_10": s1.tolist(),
            "proteinuria_ge_2": s2.tolist(), "response": response.tolist()}


def logistic_reference(data: dict) -> dict:
    """statsmodels ``Logit`` (Newton, tight tolerance): coefficients, SEs, z, Wald p."""
    X = np.column_stack([np.ones(len(data["response"]))]
                        + [np.asarray(data[c], float) for c in LOGISTIC_COLUMNS[1:]])
    fit = sm.Logit(np.asarray(data["response"], float), X).fit(
        disp=0, method="newton", tol=1e-12, maxiter=200)
    return {"coef": fit.params.tolist(), "se": fit.bse.tolist(), "z": fit.tvalues.tolist(),
            "p_value": fit.pvalues.tolist()}


def survival_data() -> dict[str, list[int]]:
    """~300 patients: exponential times (HR 0.7 treated), uniform censoring, on a 28-day grid."""
    rng = np.random.default_rng(SURVIVAL_SEED)
    n = SURVIVAL_N
    treated = rng.random(n) < 0.5
    t_event = rng.exponential(120 / np.where(treated, SURVIVAL_HR, 1.0))
    t_cens = rng.uniform(50, 400, n)
    event = t_event <= t_cens
    time = (np.ceil(np.minimum(t_event, t_cens) / 28) * 28).astype(int)
    return {"time_days": time.tolist(), "event": event.astype(int).tolist(),
            "treated": treated.astype(int).tolist()}


def survival_reference(data: dict) -> dict:
    """lifelines ``CoxPHFitter`` (Efron ties, its default) and ``logrank_test``."""
    t = np.asarray(data["time_days"], float)
    e = np.asarray(data["event"], int)
    g = np.asarray(data["treated"], bool)
    df = pd.DataFrame({"t": t, "e": e, "treated": g.astype(float)})
    cph = CoxPHFitter().fit(df, "t", "e")
    lr = logrank_test(t[g], t[~g], e[g], e[~g])
    return {"log_hr": float(cph.params_["treated"]),
            "se": float(cph.standard_errors_["treated"]),
            "hazard_ratio": float(np.exp(cph.params_["treated"])),
            "p_wald": float(cph.summary.loc["treated", "p"]),
            "logrank_chi2": float(lr.test_statistic), "p_logrank": float(lr.p_value)}


def bliss_rates() -> list[dict]:
    """The published rates, one record per trial, endpoint, week and arm."""
    return [{"trial": trial, "endpoint": endpoint, "week": week, "arm": arm,
             "events": events, "n": n}
            for trial, table in BLISS_RATES.items()
            for (endpoint, week), per_arm in table.items()
            for arm, (events, n) in zip(BLISS_ARMS, per_arm, strict=True)]


def golden() -> dict:
    """The whole golden file's content."""
    logistic, survival = logistic_data(), survival_data()
    return {
        "about": "Reference values of `trialsim qualify` (docs/qualification.md); written by "
                 "scripts/make_qualify_golden.py, checked by "
                 "tests/reference/test_qualify_golden.py. Do not edit by hand.",
        "generated": dt.date.today().isoformat(),
        "oracles": {name: metadata.version(name)
                    for name in ("statsmodels", "lifelines", "numpy", "scipy", "pandas")}
        | {"python": platform.python_version()},
        "logistic": {
            "oracle": "statsmodels.api.Logit(response, X).fit(method='newton', tol=1e-12)",
            "columns": list(LOGISTIC_COLUMNS),
            "seed": LOGISTIC_SEED,
            "data": logistic,
            "reference": logistic_reference(logistic),
        },
        "survival": {
            "oracle": "lifelines CoxPHFitter().fit (Efron ties) on time_days, event, treated; "
                      "lifelines.statistics.logrank_test (treated vs control)",
            "seed": SURVIVAL_SEED,
            "data": survival,
            "reference": survival_reference(survival),
        },
        "bliss": {
            "source": "Published BLISS-52 and BLISS-76 arm response rates at the published "
                      "arm sizes (seed 000 Table 3; Navarra et al., Lancet 2011; Furie et "
                      "al., Arthritis Rheum 2011)",
            "arms": list(BLISS_ARMS),
            "rates": bliss_rates(),
        },
    }


def dumps(obj, indent: int = 0) -> str:
    """JSON with 2-space indents, each list of numbers on one line (the datasets stay
    readable); floats as ``repr`` (they read back exactly)."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        body = ",\n".join(f"{inner}{json.dumps(k)}: {dumps(v, indent + 1)}"
                          for k, v in obj.items())
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(obj, list) and not all(isinstance(v, (int, float)) for v in obj):
        body = ",\n".join(inner + dumps(v, indent + 1) for v in obj)
        return "[\n" + body + "\n" + pad + "]"
    return json.dumps(obj, allow_nan=False, separators=(", ", ": "))


def main(argv: list[str] | None = None) -> int:
    """Write the golden file (``--out``, default the package's)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=GOLDEN)
    args = parser.parse_args(argv)
    content = golden()
    text = dumps(content) + "\n"
    assert json.loads(text) == content  # the layout loses nothing
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
