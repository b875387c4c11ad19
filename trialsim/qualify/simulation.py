"""Checks 3 to 6: the simulation engine, at reduced size, on the shipped BLISS scenarios.

Each mirrors a validation test of the repository at a fraction of its trials (their
tolerances widened accordingly, in Monte Carlo standard errors): closed-form power
(tests/validation/test_power_closed_form.py), type I error
(tests/validation/test_type1_error.py), the BLISS acceptance
(tests/validation/test_bliss_reproduction.py) and bit-identical results for any ``n_jobs``
and chunk size (tests/integration/test_reproducibility.py). Seeds are fixed, so a rerun on
the same machine gives the same numbers bit for bit; another machine should agree to the
last digits (its math library may round differently), well inside the tolerances.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from trialsim.qualify import golden
from trialsim.qualify.results import Item, Outcome, inside, within

#: worker processes of the simulation checks (the bit-identity check compares 1 with this)
N_JOBS = 2
#: the Monte Carlo tolerance of checks 3 to 5, in MCSEs
K_MCSE = 3.5

#: a small, fast BLISS-76 trial (tests/conftest.py's ``tiny``): compiles the engine before
#: the checks and serves the bit-identity check
TINY = {"design.sample_size": 120, "design.duration_weeks": 24,
        "design.endpoint_weeks": [12, 24]}
BIT_REPLICATES = 10
#: (n_jobs, chunk_size) of the runs compared with the first: one process, one chunk
BIT_RUNS = ((1, BIT_REPLICATES), (1, 3), (N_JOBS, 3), (N_JOBS, 4))

#: check 3: constant response probabilities per arm (the model reduced to Bernoulli draws)
POWER_RATES = {"placebo": 0.35, "bel1": 0.42, "bel10": 0.50}
POWER_N, POWER_REPLICATES, POWER_SEED = 360, 2000, 4242
POWER_SCENARIO = {
    "design.sample_size": POWER_N, "design.duration_weeks": 12, "design.endpoint_weeks": [12],
    "analysis.endpoints": ["constant_response"], "analysis.subgroups.factors": [],
    "constant_response": {"rates": POWER_RATES}, "seed": POWER_SEED,
}

#: check 4: the drug switched off (no effect on activity nor on therapy escalations)
NULL_REPLICATES, NULL_SEED = 2000, 20261122
NULL_SCENARIO = {
    "drug.emax": 0.0, "drug.stabilization": 0.0, "design.sample_size": 240,
    "design.duration_weeks": 52, "design.endpoint_weeks": [52],
    "analysis.endpoints": ["sri4"], "analysis.subgroups.factors": [], "seed": NULL_SEED,
}

#: check 5: trials of each BLISS preset (the acceptance test runs 300)
BLISS_REPLICATES = 200


def _simulate(sc, replicates: int, n_jobs: int = N_JOBS, chunk_size: int | None = None):
    from trialsim.run.simulate import simulate

    return simulate(sc, replicates=replicates, n_jobs=n_jobs, chunk_size=chunk_size,
                    progress=False)


def warm_up() -> None:
    """Compile the engine in this process (one tiny trial), so that the worker processes
    of the checks load it from numba's disk cache instead of each compiling it."""
    _simulate(golden.scenario("bliss76", TINY), 1, n_jobs=1)


def _row(s, **where):
    """The one row of summary table ``s`` with these column values."""
    sel = np.ones(len(s), dtype=bool)
    for k, v in where.items():
        sel &= (s[k] == v).to_numpy()
    if sel.sum() != 1:
        raise LookupError(f"{sel.sum()} rows of the summary have {where}")
    return s[sel].iloc[0]


def closed_form_power(p1: float, p0: float, n1: float, n0: float, alpha: float) -> float:
    """Power of the two-sided Wald test of the log odds ratio: P(|Z| > z) with
    Z ~ N(delta / se, 1)."""
    from scipy import stats

    delta = math.log(p1 / (1 - p1)) - math.log(p0 / (1 - p0))
    se = math.sqrt(1 / (n1 * p1 * (1 - p1)) + 1 / (n0 * p0 * (1 - p0)))
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(delta / se - z) + stats.norm.cdf(-delta / se - z))


def power_check() -> Outcome:
    """Check 3: simulated power of the constant-response trials against the closed form,
    and each arm's response rate against its configured probability."""
    from trialsim.run.trial import Plan
    from trialsim.summarize.tables import summarize

    sc = golden.scenario("bliss76", POWER_SCENARIO)
    s = summarize(Plan(sc), _simulate(sc, POWER_REPLICATES, chunk_size=250))
    alpha = sc.analysis.alpha
    per_arm = POWER_N / len(POWER_RATES)
    items = []
    for arm in ("bel1", "bel10"):
        row = _row(s, endpoint="constant_response", comparison=f"{arm}_vs_placebo",
                   statistic="power")
        expected = closed_form_power(POWER_RATES[arm], POWER_RATES["placebo"], per_arm,
                                     per_arm, alpha)
        items.append(within(f"power {arm} vs placebo", row.value, expected,
                            K_MCSE * row.mcse, f"{K_MCSE} MCSE, MCSE {row.mcse:.4f}"))
    for arm, p in POWER_RATES.items():
        row = _row(s, endpoint="constant_response", arm=arm, statistic="response_rate")
        items.append(within(f"response rate {arm}", row.value, p, K_MCSE * row.mcse,
                            f"{K_MCSE} MCSE, MCSE {row.mcse:.5f}"))
    return Outcome(items, {"scenario": "bliss76", "replicates": POWER_REPLICATES,
                           "seed": POWER_SEED, "sample_size": POWER_N, "alpha": alpha,
                           "rates": POWER_RATES, "n_jobs": N_JOBS})


def type1_check() -> Outcome:
    """Check 4: with the drug switched off, the share of trials rejecting at alpha (the
    logistic Wald test of SRI-4 at week 52 and the log-rank test of time to first flare,
    each comparison) is alpha within its MCSE under the null, sqrt(alpha (1 - alpha) / R)."""
    from trialsim.analysis.comparisons import P_VALUE
    from trialsim.analysis.survival import P_LOGRANK
    from trialsim.run.trial import Plan

    sc = golden.scenario("bliss76", NULL_SCENARIO)
    plan = Plan(sc)
    res = _simulate(sc, NULL_REPLICATES, chunk_size=250)
    alpha = sc.analysis.alpha
    mcse = math.sqrt(alpha * (1 - alpha) / NULL_REPLICATES)
    why = f"{K_MCSE} MCSE under the null, MCSE {mcse:.4f}"
    t = plan.targets.index(("sri4", 52))
    items = []
    for c, comp in enumerate(plan.comparisons):
        rate = float((res.analysis[:, t, c, P_VALUE] < alpha).mean())
        items.append(within(f"SRI-4 week 52 {comp}: logistic Wald rejection rate", rate,
                            alpha, K_MCSE * mcse, why))
    for c, comp in enumerate(plan.comparisons):
        rate = float((res.flare_analysis[:, c, P_LOGRANK] < alpha).mean())
        items.append(within(f"time to first flare {comp}: log-rank rejection rate", rate,
                            alpha, K_MCSE * mcse, why))
    return Outcome(items, {"scenario": "bliss76 with drug.emax = drug.stabilization = 0",
                           "replicates": NULL_REPLICATES, "seed": NULL_SEED,
                           "sample_size": NULL_SCENARIO["design.sample_size"],
                           "alpha": alpha, "n_jobs": N_JOBS})


def bliss_check() -> Outcome:
    """Check 5: each preset's simulated arm response rates (SRI-4 and its components, as
    the acceptance test) inside the exact 95% CI of the published rate at the published arm
    size, widened by the MCSE of the simulated rate."""
    from trialsim.experiments.calibration import binomial_ci
    from trialsim.run.trial import Plan
    from trialsim.summarize.tables import summarize, whole_trial

    published = golden.load()["bliss"]["rates"]
    items, seeds = [], {}
    for trial in golden.SCENARIOS:
        rows = [r for r in published if r["trial"] == trial]
        endpoints = list(dict.fromkeys(r["endpoint"] for r in rows))
        sc = golden.scenario(trial, {"analysis.endpoints": endpoints,
                                     "analysis.subgroups.factors": []})
        seeds[trial] = sc.seed
        s = whole_trial(summarize(Plan(sc), _simulate(sc, BLISS_REPLICATES)))
        for r in rows:
            row = _row(s, endpoint=r["endpoint"], week=r["week"], arm=r["arm"],
                       statistic="response_rate")
            lo, hi = binomial_ci(r["events"], r["n"])
            pad = K_MCSE * row.mcse
            items.append(inside(
                f"{trial} {r['endpoint']} week {r['week']} {r['arm']}", row.value, lo - pad,
                hi + pad, f"published {r['events']}/{r['n']} = {r['events'] / r['n']:.3f}, "
                f"95% CI [{lo:.3f}, {hi:.3f}]", f"95% CI ± {K_MCSE} MCSE, MCSE {row.mcse:.4f}"))
    return Outcome(items, {"replicates_per_trial": BLISS_REPLICATES, "seeds": seeds,
                           "n_jobs": N_JOBS, "source": golden.load()["bliss"]["source"]})


def _digest(res) -> str:
    """SHA-256 of every array of a simulation result (names, dtypes, shapes, bytes)."""
    from trialsim.run.trial import ChunkResult

    h = hashlib.sha256()
    for name in ChunkResult.__annotations__:
        a = np.ascontiguousarray(getattr(res, name))
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _differing(a, b) -> list[str]:
    from trialsim.run.trial import ChunkResult

    out = []
    for name in ChunkResult.__annotations__:
        x, y = getattr(a, name), getattr(b, name)
        if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=True):
            out.append(name)
    return out


def bit_identity_check() -> Outcome:
    """Check 6: the same scenario and seed, run in one process and in ``N_JOBS`` worker
    processes with other chunk sizes, gives bit-identical results (every array of the
    result, nan equal to nan)."""
    from trialsim.run.trial import ChunkResult

    sc = golden.scenario("bliss76", TINY)
    (n0, c0), *others = BIT_RUNS
    first = _simulate(sc, BIT_REPLICATES, n_jobs=n0, chunk_size=c0)
    fields = len(ChunkResult.__annotations__)
    items = []
    for n_jobs, chunk in others:
        diff = _differing(first, _simulate(sc, BIT_REPLICATES, n_jobs=n_jobs, chunk_size=chunk))
        measured = f"{fields - len(diff)} of {fields} arrays identical" + (
            f" (differ: {', '.join(diff)})" if diff else "")
        items.append(Item(f"n_jobs={n_jobs}, chunk_size={chunk} vs n_jobs={n0}, "
                          f"chunk_size={c0}", measured, f"{fields} of {fields} arrays",
                          "bit-identical (nan equal to nan)", not diff))
    return Outcome(items, {"scenario": "bliss76, 120 patients, 24 weeks (all endpoints and "
                           "subgroups)", "replicates": BIT_REPLICATES, "seed": sc.seed,
                           "runs": [{"n_jobs": n, "chunk_size": c} for n, c in BIT_RUNS],
                           "results_sha256": _digest(first)})
