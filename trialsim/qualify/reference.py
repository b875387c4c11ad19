"""Checks 1 and 2: trialsim's model fits against stored fits of independent packages.

The datasets and the oracles' results are stored in ``golden.json``
(``scripts/make_qualify_golden.py``): the logistic regression of the per-trial analysis
against statsmodels ``Logit``, the Cox model (Efron ties) and log-rank test of the
time-to-flare analysis against lifelines ``CoxPHFitter`` and ``logrank_test``. Each fit is
run twice: by its kernel alone and through the per-trial analysis that the simulated trials
use (``compare_arms``, ``compare_survival``), so the wiring is checked too.
"""

from __future__ import annotations

import numpy as np

from trialsim.qualify import golden
from trialsim.qualify.results import Item, Outcome, close

#: agreement required with the oracles (both fit to convergence; they agree to ~1e-12)
TOLERANCE = 1e-6


def _converged(what: str, ok: bool) -> list[Item]:
    """An item only when a fit failed (a converged fit is shown by its values)."""
    return [] if ok else [Item(f"{what} converged", "no", "yes", "must converge", False)]


def logistic_check() -> Outcome:
    """Check 1: the logistic regression of response on treatment and two stratum
    indicators, by ``fit_logistic`` (every coefficient and SE) and by the per-trial analysis
    ``compare_arms`` (the treatment's log odds ratio, SE, z and Wald p-value)."""
    from trialsim.analysis.comparisons import LOG_OR, P_VALUE, SE, Z, compare_arms
    from trialsim.analysis.logistic import fit_logistic

    g = golden.load()["logistic"]
    data, ref, columns = g["data"], g["reference"], g["columns"]
    y = np.asarray(data["response"], dtype=np.float64)
    X = np.column_stack([np.ones(y.size)]
                        + [np.asarray(data[c], dtype=np.float64) for c in columns[1:]])
    beta, cov, ok = fit_logistic(X, y)
    items = _converged("fit_logistic", ok)
    se = np.sqrt(np.diag(cov))
    for j, name in enumerate(columns):
        items.append(close(f"fit_logistic coef[{name}]", beta[j], ref["coef"][j], TOLERANCE))
        items.append(close(f"fit_logistic se[{name}]", se[j], ref["se"][j], TOLERANCE))
    t = columns.index("treated")
    arm = np.asarray(data["treated"], dtype=np.int64)
    out = compare_arms(y.astype(np.uint8), arm, X[:, 2:], np.array([[1, 0]], dtype=np.int64))
    for field, index, key in (("log OR", LOG_OR, "coef"), ("SE", SE, "se"), ("z", Z, "z"),
                              ("Wald p-value", P_VALUE, "p_value")):
        items.append(close(f"compare_arms treated vs control: {field}", out[0, 0, index],
                           ref[key][t], TOLERANCE))
    return Outcome(items, {"patients": int(y.size), "columns": columns,
                           "oracle_versions": _oracles("statsmodels")})


def survival_check() -> Outcome:
    """Check 2: the Cox model (Efron ties) and log-rank test of treated vs control on tied,
    censored times, by ``cox_binary`` and ``logrank`` and by the per-trial analysis
    ``compare_survival``."""
    from trialsim.analysis.survival import (
        HAZARD_RATIO,
        LOG_HR,
        LOGRANK_CHI2,
        P_LOGRANK,
        P_WALD,
        SE,
        compare_survival,
        cox_binary,
        logrank,
    )

    g = golden.load()["survival"]
    data, ref = g["data"], g["reference"]
    time = np.asarray(data["time_days"], dtype=np.float64)
    event = np.asarray(data["event"], dtype=np.int64) == 1
    treated = np.asarray(data["treated"], dtype=np.int64) == 1
    beta, se, ok = cox_binary(time, event, treated.astype(np.float64))
    items = _converged("cox_binary", ok)
    items.append(close("cox_binary log HR", beta, ref["log_hr"], TOLERANCE))
    items.append(close("cox_binary SE", se, ref["se"], TOLERANCE))
    chi2, p = logrank(time, event, treated)
    items.append(close("logrank chi-square", chi2, ref["logrank_chi2"], TOLERANCE))
    items.append(close("logrank p-value", p, ref["p_logrank"], TOLERANCE))
    out = compare_survival(time, event, treated.astype(np.int64),
                           np.array([[1, 0]], dtype=np.int64))[0]
    for field, index, key in (("log HR", LOG_HR, "log_hr"), ("SE", SE, "se"),
                              ("hazard ratio", HAZARD_RATIO, "hazard_ratio"),
                              ("Wald p-value", P_WALD, "p_wald"),
                              ("log-rank chi-square", LOGRANK_CHI2, "logrank_chi2"),
                              ("log-rank p-value", P_LOGRANK, "p_logrank")):
        items.append(close(f"compare_survival treated vs control: {field}", out[index],
                           ref[key], TOLERANCE))
    ties = int(time[event].size - np.unique(time[event]).size)
    return Outcome(items, {"patients": int(time.size), "events": int(event.sum()),
                           "tied_event_times": ties,
                           "censored": int((~event).sum()), "ties_method": "Efron",
                           "oracle_versions": _oracles("lifelines")})


def _oracles(name: str) -> dict[str, str]:
    """The versions of the oracle (and numpy) that made the stored values."""
    versions = golden.load().get("oracles", {})
    return {k: v for k, v in versions.items() if k in (name, "numpy", "python")}
