"""Benchmark of the engine on bliss76 at its real size, written to results/bench.json.

Measures, in one run (ratios are meaningful, absolute times depend on the machine):
trials per second serial and with 2 jobs (after a warm-up that loads the compiled kernels in
every worker); wall time of a large run (default 10,000 trials, 2 jobs); the RNG bound (the
time a numba kernel needs to make as many uniforms and normals as the engine makes per
trial, from a passed numpy Generator; and with the engine's own counter generator); trials per
second of the plain reference implementation (``tests/reference_model/plain.py``); the cost
of the subgroup analyses (serial trials per second without them over with the defaults, and
over with every endpoint analysed within subgroups); the cost of CLASI in the trial (serial
trials per second of the scenario over with clasi20/50/100 added); peak RSS
of a fresh process running 1,000 and 100,000 replicates (the run streams its replicates to
disk: the target is 100,000 within 1.1x of 1,000).

    python scripts/bench.py [--replicates 400] [--large 10000] [--rss 1000,100000] [--quick]
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
from numba import njit

from trialsim import __version__, load_scenario
from trialsim.config.scenario import with_overrides
from trialsim.config.vocab import CLASI_ENDPOINTS
from trialsim.core.io import write_json
from trialsim.core.rng import normal_quantile, philox4x32_lanes, replicate_key
from trialsim.run.simulate import simulate
from trialsim.run.trial import Plan


def trials_per_second(scenario, replicates: int, n_jobs: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    simulate(scenario, replicates=replicates, n_jobs=n_jobs, progress=False)
    wall = time.perf_counter() - t0
    return replicates / wall, wall


def engine_draws(scenario) -> dict[str, int]:
    """Random numbers one trial of ``scenario`` (replicate 0) needs and makes.

    ``used_*``: the uniforms and normals the model reads, counted from the simulated trial
    (what a generator drawing one number per use would draw): per screened candidate the
    race x region cell, ANA and one uniform per clinical descriptor, the copula, complement,
    fluctuation, organ-propensity and proteinuria normals; per enrolled patient the sex and
    BILAG-history uniforms and the PGA and BILAG rater and noise normals; per patient-visit
    after baseline one uniform per descriptor, the fluctuation and PGA normals, one normal
    per active BILAG system, the dropout uniform while on study and the flare response's
    uniforms. ``slots_*``: what the counter generator makes (every slot of every candidate
    and patient-visit; normal slots as 53-bit uniforms). Randomization and the reduced model
    are negligible.
    """
    from trialsim.model.course import N_NORMAL, N_UNIFORM, run_course
    from trialsim.model.instruments import CLINICAL, FLARE_NONE, GRADE_C, N_BILAG
    from trialsim.model.population import N_CANDIDATE_NORMAL, N_CANDIDATE_UNIFORM
    from trialsim.model.randomization import randomize, strata_indicators, stratum_index

    plan = Plan(scenario)
    key = replicate_key(scenario.seed, 0)
    n = scenario.design.sample_size
    cohort, screened = plan.population.enroll(n, key)
    x, _ = strata_indicators(cohort, scenario.design)
    arm = randomize(stratum_index(x), plan.allocation, scenario.design.block_multiplier, key)
    course = run_course(scenario, cohort, arm, key, plan.course, plan.pk)
    v = course.sledai.shape[1]
    clinical = int(CLINICAL.sum())
    d = CLINICAL.size
    active_systems = int((course.bilag[:, 1:, :] >= GRADE_C).sum())
    on_study = int(np.minimum(course.dropout_visit - 1, v - 1).sum())
    flare_visits = int((course.flare[:, 1:] != FLARE_NONE).sum())
    visits = n * (v - 1)
    used_uniforms = (screened * (2 + clinical) + n * (1 + N_BILAG)
                     + visits * (d + 1) + on_study + 2 * flare_visits)
    used_normals = (screened * (9 + 2 + 1 + clinical + 1) + n * 2 * (1 + N_BILAG)
                    + visits * 2 + active_systems)
    return {
        "used_uniforms": int(used_uniforms),
        "used_normals": int(used_normals),
        "slot_uniforms": int(screened * N_CANDIDATE_UNIFORM + visits * N_UNIFORM),
        "slot_normals": int(screened * N_CANDIDATE_NORMAL + visits * N_NORMAL),
    }


@njit(nogil=True)
def _generator_draws(rng, n_uniform, n_normal):
    s = 0.0
    for _ in range(n_uniform):
        s += rng.random()
    for _ in range(n_normal):
        s += rng.standard_normal()
    return s


@njit(nogil=True)
def _counter_draws(n_uniform, n_normal):
    """The engine's way: Philox words in blocks of lanes, normals by AS 241."""
    lanes = 256
    c = np.empty((4, lanes), dtype=np.uint64)
    s = 0.0
    words = n_uniform + 2 * n_normal
    done = 0
    block = 0
    while done < words:
        for k in range(lanes):
            c[0, k] = block
            c[1, k] = k
            c[2, k] = 0
            c[3, k] = 2
        philox4x32_lanes(c, lanes, 12345, 678)
        for k in range(lanes):
            s += c[0, k] + c[1, k] + c[2, k] + c[3, k]
        done += 4 * lanes
        block += 1
    for i in range(n_normal):
        s += normal_quantile((i + 0.5) / (n_normal + 1))
    return s


def rng_bounds(n_uniform: int, n_normal: int, repeats: int = 5) -> tuple[float, float]:
    """Best-of seconds to make the trial's draws in a numba kernel: from a passed numpy
    Generator (PCG64), one at a time; and with the engine's counter generator."""
    rng = np.random.default_rng(0)
    _generator_draws(rng, 10, 10)
    _counter_draws(10, 10)
    best_gen = best_ctr = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        _generator_draws(rng, n_uniform, n_normal)
        best_gen = min(best_gen, time.perf_counter() - t0)
        t0 = time.perf_counter()
        _counter_draws(n_uniform, n_normal)
        best_ctr = min(best_ctr, time.perf_counter() - t0)
    return best_gen, best_ctr


def peak_rss_mb(config: str, replicates: int, n_jobs: int) -> float:
    """Peak RSS (MB) of a fresh process that runs ``replicates`` trials (children included)."""
    code = (
        "import resource, sys\n"
        "from trialsim import load_scenario\n"
        "from trialsim.experiments.pipeline import run_scenario\n"
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
    ap.add_argument("--rss", default="1000,100000", help="replicate counts for peak RSS")
    ap.add_argument("--quick", action="store_true", help="skip the large run and RSS")
    ap.add_argument("--out", default="results/bench.json")
    args = ap.parse_args()
    sc = load_scenario(args.config)
    simulate(sc, replicates=4, n_jobs=1, progress=False)  # compile / load the kernel cache
    # start the worker pool and load the kernel cache in every worker (one chunk each)
    simulate(sc, replicates=4, n_jobs=2, chunk_size=1, progress=False)
    serial, serial_wall = trials_per_second(sc, args.replicates, 1)
    parallel, parallel_wall = trials_per_second(sc, args.replicates, 2)
    # subgroup analyses (issue 10: at most 2x the trial without them), serial, same replicates
    no_sg = with_overrides(sc, {"analysis.subgroups.factors": [], "analysis.subgroups.custom": {}})
    all_sg = with_overrides(sc, {"analysis.subgroups.endpoints": list(sc.analysis.endpoints)})
    # CLASI in the trial (docs/model.md §7a): the three CLASI-k endpoints and the CLASI-A
    # change added to the scenario's endpoints (subgroups as configured)
    with_clasi = with_overrides(sc, {"analysis.endpoints": [
        *sc.analysis.endpoints, *(e for e in CLASI_ENDPOINTS if e not in sc.analysis.endpoints)]})
    for extra in (no_sg, all_sg, with_clasi):
        simulate(extra, replicates=2, n_jobs=1, progress=False)
    without, _ = trials_per_second(no_sg, args.replicates, 1)
    every, _ = trials_per_second(all_sg, args.replicates, 1)
    clasi, _ = trials_per_second(with_clasi, args.replicates, 1)
    draws = engine_draws(sc)
    bound, _ = rng_bounds(draws["used_uniforms"], draws["used_normals"])
    _, bound_counter = rng_bounds(draws["slot_uniforms"], draws["slot_normals"])
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
        "subgroup_levels": Plan(sc).subgroups.n_levels,
        "serial_trials_per_second_without_subgroups": round(without, 2),
        "cost_ratio_subgroups_default": round(without / serial, 3),
        "cost_ratio_subgroups_every_endpoint": round(without / every, 3),
        "cost_ratio_clasi_endpoints": round(serial / clasi, 3),
        **{f"{k}_per_trial": val for k, val in draws.items()},
        "rng_bound_seconds_per_trial": round(bound, 6),
        "rng_bound_counter_seconds_per_trial": round(bound_counter, 6),
        "engine_seconds_per_trial_serial": round(1 / serial, 6),
        "engine_over_rng_bound": round((1 / serial) / bound, 2),
        "engine_over_rng_bound_counter": round((1 / serial) / bound_counter, 2),
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
        # the 2-job speedup at scale: the short runs above include starting the pool
        report["speedup_two_jobs_large"] = round(args.large / serial / large_wall, 3)
        for reps in (int(x) for x in args.rss.split(",")):
            report[f"peak_rss_mb_{reps}_replicates"] = round(peak_rss_mb(args.config, reps, 2), 1)
        counts = [int(x) for x in args.rss.split(",")]
        if len(counts) > 1:
            lo, hi = (report[f"peak_rss_mb_{r}_replicates"] for r in (counts[0], counts[-1]))
            report[f"peak_rss_ratio_{counts[-1]}_over_{counts[0]}"] = round(hi / lo, 3)
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
