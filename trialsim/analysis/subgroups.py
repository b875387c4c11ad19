"""Patient subgroups by baseline characteristics: one home for their definitions.

Each subgroup is a function of the enrolled cohort (``Cohort``) giving every patient's
membership. The names are the vocabulary's (``config.vocab.SUBGROUP_NAMES``), which the
configuration validates against.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trialsim.config.vocab import RACES, SUBGROUP_NAMES
from trialsim.model.instruments import HIGH_STEROID_MG
from trialsim.model.population import Cohort


def serologically_active(cohort: Cohort) -> np.ndarray:
    """Anti-dsDNA positive and low C3 or C4 at baseline: the "low complement/anti-dsDNA
    positive" subgroup of the pooled BLISS analysis (van Vollenhoven et al., Ann Rheum Dis
    2012;71:1343) and of the EMA label (seed 000)."""
    return cohort.serologically_active


def high_steroid(cohort: Cohort) -> np.ndarray:
    """On more than 7.5 mg/day prednisone at baseline (seed 000 Table 4)."""
    return cohort.prednisone > HIGH_STEROID_MG


def black(cohort: Cohort) -> np.ndarray:
    """Black race (the BLISS and EMBRACE subgroup)."""
    return cohort.race == RACES.index("black")


#: name -> function(cohort) of the patients' membership
SUBGROUPS: dict[str, Callable[[Cohort], np.ndarray]] = {
    "serologically_active": serologically_active,
    "high_steroid": high_steroid,
    "black": black,
}

if tuple(SUBGROUPS) != SUBGROUP_NAMES:  # the schema validates against the vocabulary
    raise RuntimeError(f"vocab.SUBGROUP_NAMES {SUBGROUP_NAMES} != defined {tuple(SUBGROUPS)}")
