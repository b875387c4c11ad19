"""Side-by-side timing with R's Mediana (the closest peer), written to results/bench_peers.json.

Mediana simulates a 3-arm, 273-per-arm binomial trial with two proportion tests (placebo vs
each dose): the cheapest trial a clinical-trial simulator can run. trialsim simulates its
full longitudinal bliss76 trial (819 patients screened from a source population, 20 visits,
8 endpoints at 2 weeks, adjusted logistic comparisons, survival analyses, baseline table).
Both run serially on one core in the same invocation, so the ratio is meaningful; the goal is
a full trialsim trial at or below half of Mediana's binomial-only trial.

Installs nothing: with R, Mediana and rpact absent (``apt-get install r-base-core
r-cran-mediana r-cran-rpact``) it says so and exits 0.

    python scripts/bench_peers.py [--sims 2000] [--replicates 200] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

from trialsim import __version__, load_scenario
from trialsim.core.io import write_json
from trialsim.run.simulate import simulate

MEDIANA = r"""
suppressMessages(library(Mediana))
data.model <- DataModel() +
  OutcomeDist(outcome.dist = "BinomDist") +
  SampleSize(273) +
  Sample(id = "Placebo", outcome.par = parameters(parameters(prop = 0.39))) +
  Sample(id = "Dose1", outcome.par = parameters(parameters(prop = 0.46))) +
  Sample(id = "Dose2", outcome.par = parameters(parameters(prop = 0.47)))
analysis.model <- AnalysisModel() +
  Test(id = "Pl vs D1", samples = samples("Placebo", "Dose1"), method = "PropTest") +
  Test(id = "Pl vs D2", samples = samples("Placebo", "Dose2"), method = "PropTest")
evaluation.model <- EvaluationModel() +
  Criterion(id = "Marginal power", method = "MarginalPower",
            tests = tests("Pl vs D1", "Pl vs D2"), labels = c("D1", "D2"),
            par = parameters(alpha = 0.025))
sims <- as.integer(commandArgs(trailingOnly = TRUE)[1])
sim.parameters <- SimParameters(n.sims = sims, proc.load = 1, seed = 42938001)
elapsed <- system.time(
  res <- CSE(data.model, analysis.model, evaluation.model, sim.parameters)
)[["elapsed"]]
cat(sprintf("%.9f\n", elapsed / sims))
"""


def r_available() -> str | None:
    """Why the peers cannot run here (None when they can)."""
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    probe = subprocess.run(
        ["Rscript", "-e", "suppressMessages({library(Mediana); library(rpact)})"],
        capture_output=True, text=True,
    )
    if probe.returncode != 0:
        return "R packages Mediana and rpact not installed"
    return None


def mediana_seconds_per_trial(sims: int) -> float:
    out = subprocess.run(["Rscript", "-e", MEDIANA, str(sims)], capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sims", type=int, default=2000, help="Mediana simulations")
    ap.add_argument("--replicates", type=int, default=200, help="trialsim trials (serial)")
    ap.add_argument("--config", default="configs/bliss76.yaml")
    ap.add_argument("--out", default="results/bench_peers.json")
    args = ap.parse_args()
    why = r_available()
    if why is not None:
        print(f"bench-peers skipped: {why} (apt-get install r-base-core r-cran-mediana "
              "r-cran-rpact); nothing measured")
        return 0
    sc = load_scenario(args.config)
    simulate(sc, replicates=2, n_jobs=1, progress=False)  # compile / load the kernel cache
    t0 = time.perf_counter()
    simulate(sc, replicates=args.replicates, n_jobs=1, chunk_size=50, progress=False)
    ours = (time.perf_counter() - t0) / args.replicates
    theirs = mediana_seconds_per_trial(args.sims)
    report = {
        "mediana_trial": "3 arms x 273, binomial, two PropTest comparisons, one core",
        "mediana_sims": args.sims,
        "mediana_seconds_per_trial": round(theirs, 6),
        "trialsim_trial": f"{sc.name}: full longitudinal trial, serial",
        "trialsim_replicates": args.replicates,
        "trialsim_seconds_per_trial": round(ours, 6),
        "trialsim_over_mediana": round(ours / theirs, 3),
        "goal_trialsim_over_mediana": 0.5,
        "trialsim_version": __version__,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(report, args.out)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
