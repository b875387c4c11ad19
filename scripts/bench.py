"""Benchmark: bliss76 trials per second, serial and with 2 jobs, into results/bench.json.

Compilation is paid (and cached) by a warm-up run first; both timings then run the same
replicates in the same process tree, so their ratio is measured in one run.

    python scripts/bench.py [--config CONFIG] [--replicates 400] [--out results/bench.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from trialsim import __version__, load_scenario
from trialsim.engine import simulate
from trialsim.results import write_json


def trials_per_second(scenario, replicates: int, n_jobs: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    simulate(scenario, replicates=replicates, n_jobs=n_jobs, progress=False)
    wall = time.perf_counter() - t0
    return replicates / wall, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/bliss76.yaml")
    ap.add_argument("--replicates", type=int, default=400)
    ap.add_argument("--out", default="results/bench.json")
    args = ap.parse_args()
    sc = load_scenario(args.config)
    simulate(sc, replicates=4, n_jobs=1, progress=False)  # compile / load the kernel cache
    # start the worker pool and load the kernel cache in every worker (one chunk each)
    simulate(sc, replicates=4, n_jobs=2, chunk_size=1, progress=False)
    serial, serial_wall = trials_per_second(sc, args.replicates, 1)
    parallel, parallel_wall = trials_per_second(sc, args.replicates, 2)
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
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "trialsim_version": __version__,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(report, args.out)
    for k, v in report.items():
        print(f"{k:28s} {v}")


if __name__ == "__main__":
    main()
