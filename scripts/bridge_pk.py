"""Re-express the calibrated Emax and EC50 on the two-compartment PK's concentrations.

The calibration (configs/calibration.yaml) fitted ``drug.emax`` and ``drug.ec50_ug_ml`` when
the drug effect followed a linear "average concentration", ``C = 11.6 µg/mL per mg/kg``
(10 mg/kg: 116 µg/mL) for every patient at every visit. The effect now follows each
patient's effect-site concentration (model/pk.py): weight, between-patient variability,
troughs and peaks. This script finds the (Emax, EC50) under which the mean full effect of the
BLISS cohort's patients at the visits of weeks 24 to 52 equals the calibrated one at 1 and
at 10 mg/kg: two equations, two unknowns, solved exactly. The BLISS doses' effects are kept;
what the regimen, the weight and the visit's place in the dosing interval change comes on
top. The calibration acceptance (tests/validation/test_bliss_reproduction.py) checks the
result.

Usage: ``python scripts/bridge_pk.py [--patients 20000]``; prints the values written in
configs/model.yaml.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import brentq

from trialsim.config.scenario import load_scenario, with_overrides
from trialsim.core.rng import replicate_key
from trialsim.model.pk import effect_site_concentrations, pk_params

#: the calibration's linear PK and fitted values (before this bridge; git 78db5d9)
LINEAR_CAVG_PER_MG_KG = 11.6
CALIBRATED_EMAX = 0.1957
CALIBRATED_EC50 = 35.8454
DOSES = (1.0, 10.0)
WEEKS = (24, 52)


def concentrations(patients: int) -> dict[float, np.ndarray]:
    """Effect-site concentrations of ``patients`` BLISS-52 and BLISS-76 patients (half
    each) at the visits of ``WEEKS``, all on each dose."""
    out: dict[float, list[np.ndarray]] = {d: [] for d in DOSES}
    for name in ("bliss52", "bliss76"):
        sc = load_scenario(f"configs/{name}.yaml")
        from trialsim.model.population import PopulationModel

        cohort, _ = PopulationModel(sc).enroll(patients // 2, replicate_key(sc.seed, 0))
        for dose in DOSES:
            one = with_overrides(sc, {"design.arms": {"placebo": {"dose_mg_kg": 0.0},
                                                     "drug": {"dose_mg_kg": dose}}})
            p = pk_params(one)
            arm = np.ones(len(cohort), dtype=np.int64)
            conc = effect_site_concentrations(
                p, arm, np.asarray(cohort.weight_kg, dtype=np.float64),
                np.arange(len(cohort), dtype=np.int64), 11, 13)
            weeks = p.visit_days / 7
            keep = (weeks >= WEEKS[0]) & (weeks <= WEEKS[1])
            out[dose].append(conc[:, keep].ravel())
    return {d: np.concatenate(v) for d, v in out.items()}


def bridge(conc: dict[float, np.ndarray]) -> tuple[float, float]:
    """(Emax, EC50) with mean ``Emax C/(EC50 + C)`` equal to the calibrated effect at each
    dose."""
    target = {d: CALIBRATED_EMAX * LINEAR_CAVG_PER_MG_KG * d
              / (CALIBRATED_EC50 + LINEAR_CAVG_PER_MG_KG * d) for d in DOSES}
    ratio = target[DOSES[0]] / target[DOSES[1]]

    def mean_fraction(ec50: float, dose: float) -> float:
        c = conc[dose]
        return float(np.mean(c / (ec50 + c)))

    ec50 = brentq(lambda e: mean_fraction(e, DOSES[0]) / mean_fraction(e, DOSES[1]) - ratio,
                  1e-3, 1e4, xtol=1e-10)
    emax = target[DOSES[1]] / mean_fraction(ec50, DOSES[1])
    return emax, ec50


def main() -> None:
    """Print the bridged values and the effects they give."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=20000)
    args = ap.parse_args()
    conc = concentrations(args.patients)
    emax, ec50 = bridge(conc)
    for d in DOSES:
        print(f"{d:g} mg/kg: mean effect-site concentration {conc[d].mean():.2f} ug/mL "
              f"(linear {LINEAR_CAVG_PER_MG_KG * d:.1f}), 5-95% "
              f"{np.percentile(conc[d], 5):.1f}-{np.percentile(conc[d], 95):.1f}")
    print(f"emax: {emax:.4f}")
    print(f"ec50_ug_ml: {ec50:.4f}")


if __name__ == "__main__":
    main()
