"""Benchmark of the engine on bliss76 at its real size, written to results/bench.json.

Measures, in one run (ratios are meaningful, absolute times depend on the machine):
trials per second serial and with 2 jobs (after a warm-up that loads the compiled kernels in
every worker); wall time of a large run (default 10,000 trials, 2 jobs); the RNG bound (the
time numpy needs to draw as many random numbers as the engine draws per trial); trials per
second of the plain reference implementation (``tests/reference_model/plain.py``); peak RSS
of a fresh process running 1,000 and 20,000 replicates.

    python scripts/bench.py [--replicates 400] [--large 10000] [--rss 1000,20000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from trialsim import __version__, load_scenario
from trialsim.engine import Plan
from trialsim.results import write_json
from trialsim.rng import replicate_streams
from trialsim.simulation import simulate


def trials_per_second(scenario, replicates: int, n_jobs: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    simulate(scenario, replicates=replicates, n_jobs=n_jobs, progress=False)
    wall = time.perf_counter() - t0
    return replicates / wall, wall


#: random numbers drawn per screened candidate in ``PopulationModel.candidates``: race×region
#: cell 1, copula 9, complement 2, sex/ANA 2, fluctuation 1, organ propensity 17, descriptor
#: states 17, proteinuria 1, PGA rater + noise 2, BILAG rater 8 + noise 8 + prior 8
DRAWS_PER_CANDIDATE = 76


def engine_draws(scenario) -> int:
    """Random numbers one trial draws, counted from the simulated trial itself.

    Screening: ``DRAWS_PER_CANDIDATE`` per candidate screened. Course (per patient and visit
    after baseline): 1 fluctuation normal, one uniform per descriptor, 1 PGA normal, one
    normal per active BILAG system, one dropout uniform while on study, and up to two
    uniforms per flare (steroid step, escalation). Randomization draws are negligible.
    """
    from trialsim.course import run_course
    from trialsim.design import randomize, strata_indicators, stratum_index
    from trialsim.instruments import GRADE_C, N_DESCRIPTORS

    plan = Plan(scenario)
    streams = replicate_streams(scenario.seed, 0)
    cohort, screened = plan.population.enroll(scenario.design.sample_size, streams["population"])
    x, _ = strata_indicators(cohort, scenario.design)
    arm = randomize(stratum_index(x), plan.allocation, 2, streams["randomization"])
    course = run_course(scenario, cohort, plan.doses[arm], streams["course"])
    n, v = course.sledai.shape
    active_systems = int((course.bilag[:, 1:, :] >= GRADE_C).sum())
    on_study = int(np.minimum(course.dropout_visit, v - 1).sum())
    flares = int((course.flare[:, 1:] > 0).sum())
    course_draws = n * (v - 1) * (2 + N_DESCRIPTORS) + active_systems + on_study + 2 * flares
    return int(screened * DRAWS_PER_CANDIDATE + course_draws)


def rng_bound_seconds(n_draws: int, repeats: int = 5) -> float:
    """Best-of time for numpy to draw ``n_draws`` uniforms."""
    rng = np.random.default_rng(0)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        rng.random(n_draws)
        best = min(best, time.perf_counter() - t0)
    return best


def peak_rss_mb(config: str, replicates: int, n_jobs: int) -> float:
    """Peak RSS (MB) of a fresh process that runs ``replicates`` trials (children included)."""
    code = (
        "import resource, sys\n"
        "from trialsim import load_scenario\n"
        "from trialsim.pipeline import run_scenario\n"
        f"sc = load_scenario({config!r})\n"
        f"run_scenario(sc, None, replicates={replicates}, n_jobs={n_jobs}, progress=False)\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(max(own, kids) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/bliss76.yaml")
    ap.add_argument("--replicates", type=int, default=400)
    ap.add_argument("--large", type=int, default=10_000, help="replicates of the large run")
    ap.add_argument("--rss", default="1000,20000", help="replicate counts for peak RSS")
    ap.add_argument("--quick", action="store_true", help="skip the large run and RSS")
    ap.add_argument("--out", default="results/bench.json")
    args = ap.parse_args()
    sc = load_scenario(args.config)
    simulate(sc, replicates=4, n_jobs=1, progress=False)  # compile / load the kernel cache
    # start the worker pool and load the kernel cache in every worker (one chunk each)
    simulate(sc, replicates=4, n_jobs=2, chunk_size=1, progress=False)
    serial, serial_wall = trials_per_second(sc, args.replicates, 1)
    parallel, parallel_wall = trials_per_second(sc, args.replicates, 2)
    draws = engine_draws(sc)
    bound = rng_bound_seconds(draws)
    report = {
        "scenario": sc.name,
        "sample_size": sc.design.sample_size,
        "visits": sc.design.duration_weeks // sc.design.visit_interval_weeks + 1,
        "replicates": args.replicates,
        "serial_trials_per_second": round(serial, 2),
        "serial_wall_seconds": round(serial_wall, 3),
        "two_jobs_trials_per_second": round(parallel, 2),
        "two_jobs_wall_seconds": round(parallel_wall, 3),
        "speedup_two_jobs": round(parallel / serial, 3),
        "random_draws_per_trial": draws,
        "rng_bound_seconds_per_trial": round(bound, 6),
        "engine_seconds_per_trial_serial": round(1 / serial, 6),
        "engine_over_rng_bound": round((1 / serial) / bound, 2),
    }
    try:
        # the plain reference lives with the tests (tests/reference_model), not in the package
        root = str(Path(__file__).resolve().parents[1])
        if root not in sys.path:
            sys.path.insert(0, root)
        from tests.reference_model.plain import simulate_trial_plain

        rng = np.random.default_rng(1)
        t0 = time.perf_counter()
        simulate_trial_plain(sc, rng)
        plain = time.perf_counter() - t0
        report["plain_reference_seconds_per_trial"] = round(plain, 3)
        report["engine_speedup_over_plain"] = round(plain * serial, 1)
    except ImportError:
        report["plain_reference_seconds_per_trial"] = None
    if not args.quick:
        large, large_wall = trials_per_second(sc, args.large, 2)
        report[f"wall_seconds_{args.large}_trials_two_jobs"] = round(large_wall, 2)
        for reps in (int(x) for x in args.rss.split(",")):
            report[f"peak_rss_mb_{reps}_replicates"] = round(peak_rss_mb(args.config, reps, 2), 1)
    report.update({
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "trialsim_version": __version__,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    write_json(report, args.out)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
