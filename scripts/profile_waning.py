"""Profile of the drug's waning half-life at the shipped fit (issue 9, the week-76 decline).

Evaluates the calibration's GMM distance (configs/calibration.yaml, weighting matrix simulated
at the shipped values) at the fitted half-life and at the half-lives given, all else as
fitted, with BLISS-76's 10 mg/kg crude log odds ratio at weeks 52 and 76: whether the data
decide between a sustained and a fading effect. About 2 minutes.

    .venv/bin/python scripts/profile_waning.py [HALF_LIFE_WEEKS ...]   (default: 4)
"""

from __future__ import annotations

import sys

import numpy as np

from trialsim.experiments.calibration import (
    MomentSimulator,
    load_spec,
    sampling_covariance,
    start_values,
)


def main(half_lives: list[float]) -> None:
    spec, scenarios = load_spec("configs/calibration.yaml")
    sim = MomentSimulator(spec, scenarios)
    theta = start_values(spec, scenarios)  # the shipped values: the fit
    j = list(spec.parameters).index("waning_half_life")
    observed = np.array([t.observed for t in spec.targets])
    fitted = np.array([t.fit for t in spec.targets])
    cov = sampling_covariance(spec, sim.replicates(theta, spec.covariance_replicates))
    chol = np.linalg.cholesky(cov[np.ix_(fitted, fitted)])
    k = {t.label: i for i, t in enumerate(spec.targets)}
    for half_life in [theta[j], *half_lives]:
        th = theta.copy()
        th[j] = half_life
        m = sim(th)
        r = np.linalg.solve(chol, (m - observed)[fitted])
        w52, w76 = (m[k[f"bliss76:sri4:w{w}:bel10_vs_placebo:crude"]] for w in (52, 76))
        print(f"half-life {half_life:6.1f} weeks: GMM distance {r @ r:6.2f}; BLISS-76 "
              f"10 mg/kg crude log OR week 52 {w52:.3f}, week 76 {w76:.3f}", flush=True)


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [4.0])
