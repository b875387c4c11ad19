"""Run the qualification checks and gather what the report records.

``qualify`` compiles the simulation engine once (numba; reused from its disk cache after the
first run), runs the six checks in order, each timed and each on its own (an exception fails
that check, with its message, and the next one still runs) and returns the report's content:
the verdict, the checks, the installed package (version, location, a digest of its files),
the package versions, the platform and the stored reference file's digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba

import trialsim
from trialsim import __version__
from trialsim.core.jit import CACHE
from trialsim.core.provenance import machine, package_versions
from trialsim.qualify import golden, reference, simulation
from trialsim.qualify.results import Check, CheckResult

_K = simulation.K_MCSE

#: the checks, in the order they run and are reported
CHECKS = (
    Check(1, "logistic_regression", "Logistic regression vs statsmodels",
          "statsmodels Logit (Newton) fit of a stored dataset of 300 patients (treated, two "
          "stratum indicators, 0/1 response), stored in golden.json",
          "|Δ| ≤ 1e-6 × max(1, |reference|) for every coefficient and SE, and the "
          "per-trial analysis' log OR, SE, z and Wald p-value", reference.logistic_check),
    Check(2, "cox_logrank", "Cox model (Efron ties) and log-rank test vs lifelines",
          "lifelines CoxPHFitter (Efron ties) and logrank_test on a stored dataset of 300 "
          "patients with tied visit-grid times and censoring, stored in golden.json",
          "|Δ| ≤ 1e-6 × max(1, |reference|) for the log HR, SE, HR, Wald p-value, log-rank "
          "chi-square and p-value", reference.survival_check),
    Check(3, "closed_form_power", "Simulated power vs closed-form power",
          "the closed-form power of the two-sided Wald test of the log odds ratio, on trials "
          "with constant response probabilities per arm",
          f"|simulated - closed form| ≤ {_K} MCSE of the simulated power; each arm's rate "
          f"within {_K} MCSE of its configured probability", simulation.power_check),
    Check(4, "type1_error", "Type I error with the drug switched off",
          "the nominal two-sided alpha (0.05): BLISS-76 trials without any drug effect",
          f"|rejection rate - alpha| ≤ {_K} × sqrt(alpha (1 - alpha) / R)",
          simulation.type1_check),
    Check(5, "bliss_acceptance", "BLISS-52 and BLISS-76 arm response rates vs published",
          "the published SRI-4 and component response rates of BLISS-52 and BLISS-76 (seed "
          "000 Table 3), stored in golden.json",
          f"the simulated mean rate inside the published rate's exact 95% CI, widened by {_K} "
          "MCSE of the simulated rate", simulation.bliss_check),
    Check(6, "bit_identity", "Bit-identical results for any n_jobs and chunk size",
          "the same scenario and seed run in one process, as one chunk",
          "every result array equal to the last bit (nan equal to nan)",
          simulation.bit_identity_check),
)


def run_check(check: Check) -> CheckResult:
    """Run one check, timed; an exception fails it (its message and traceback kept)."""
    t0 = time.perf_counter()
    base = dict(number=check.number, name=check.name, title=check.title,
                oracle=check.oracle, tolerance=check.tolerance)
    try:
        outcome = check.run()
    except Exception as exc:  # noqa: BLE001 (a failing check must not stop the others)
        return CheckResult(**base, passed=False, seconds=time.perf_counter() - t0,
                           error=f"{type(exc).__name__}: {exc}",
                           settings={"traceback": traceback.format_exc(limit=8)})
    passed = bool(outcome.items) and all(item.passed for item in outcome.items)
    return CheckResult(**base, passed=passed, seconds=time.perf_counter() - t0,
                       items=outcome.items, settings=outcome.settings)


def package_digest() -> dict[str, Any]:
    """Where trialsim is installed and a SHA-256 of its files (sources, templates, stored
    values, scenario files; caches left out): two installations of the same release have
    the same digest."""
    root = Path(trialsim.__file__).resolve().parent
    h = hashlib.sha256()
    files = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (path.is_dir() or "__pycache__" in rel.parts
                or path.suffix not in (".py", ".json", ".yaml", ".j2")):
            continue
        h.update(rel.as_posix().encode() + b"\0" + path.read_bytes())
        files += 1
    return {"location": str(root), "files": files, "sha256": h.hexdigest()}


def _warm_up() -> dict[str, Any]:
    """Compile the engine (or load it from numba's cache), timed; an error is recorded (the
    simulation checks then fail on their own, or compile as they go)."""
    t0 = time.perf_counter()
    error = None
    try:
        simulation.warm_up()
    except Exception as exc:  # noqa: BLE001
        error = f"{type(exc).__name__}: {exc}"
    return {"seconds": round(time.perf_counter() - t0, 3), "error": error}


def qualify(progress: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
    """Run every check; the report's content.

    Parameters
    ----------
    progress : callable, optional
        Called as ``progress("compile", None)`` before the engine is compiled,
        ``progress("compiled", info)`` after, and ``progress("check", result)`` after each
        check (the console table).

    Returns
    -------
    dict
        ``passed`` (every check passed), ``checks`` (``CheckResult.as_dict`` each), the
        times, the installation, package versions, platform and reference file.
    """
    say = progress or (lambda *_: None)
    started = dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    say("compile", None)
    compiled = _warm_up()
    say("compiled", compiled)
    results = []
    for check in CHECKS:
        results.append(run_check(check))
        say("check", results[-1])
    passed = sum(r.passed for r in results)
    return {
        "title": "trialsim installation qualification",
        "passed": passed == len(results),
        "summary": f"{passed} of {len(results)} checks passed",
        "date": started.date().isoformat(),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "wall_time_seconds": round(time.perf_counter() - t0, 3),
        "compile": compiled | {"numba_cache": numba.config.CACHE_DIR if CACHE else None},
        "trialsim_version": __version__,
        "installation": package_digest(),
        "packages": package_versions(),
        "machine": machine(),
        "golden": golden.describe(),
        "checks": [r.as_dict() for r in results],
    }
