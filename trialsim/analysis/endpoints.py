"""Per-patient endpoints from the visit-level arrays of one simulated trial.

Every endpoint is a kind (SRI-k, one SRI component, freedom from flares, the reduced model's
constant response) and a threshold k; ``endpoint_flag`` decides one patient at one visit, and
the compiled trial and the Python API (``ENDPOINTS[name](trial, visit)``) both call it.
Patients who dropped out or became treatment failures by that visit are non-responders
(domain.md §2.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trialsim.config.vocab import ENDPOINT_NAMES
from trialsim.core.jit import jit
from trialsim.model.course import Course
from trialsim.model.instruments import (
    FLARE_NONE,
    FLARE_SEVERE,
    bilag_not_worse,
    pga_not_worse,
    sledai_reduced,
)
from trialsim.model.population import Cohort
from trialsim.model.protocol import is_on_study, on_study

#: endpoint kinds
SRI, SLEDAI_REDUCTION, NO_NEW_BILAG, NO_PGA_WORSENING, NO_FLARE, NO_SEVERE_FLARE, CONSTANT = (
    range(7)
)

#: name -> (kind, k); k is the SLEDAI reduction of SRI-k and its component
ENDPOINT_SPECS: dict[str, tuple[int, int]] = {}
for _k in range(4, 9):
    ENDPOINT_SPECS[f"sri{_k}"] = (SRI, _k)
    ENDPOINT_SPECS[f"sledai_reduction_{_k}"] = (SLEDAI_REDUCTION, _k)
ENDPOINT_SPECS.update({
    "no_new_bilag": (NO_NEW_BILAG, 0),
    "no_pga_worsening": (NO_PGA_WORSENING, 0),
    "no_flare": (NO_FLARE, 0),
    "no_severe_flare": (NO_SEVERE_FLARE, 0),
    "constant_response": (CONSTANT, 0),
})


@jit
def endpoint_flag(kind, k, visit, i, sledai, pga, bilag, flare, failure, dropout, constant):
    """Whether patient ``i`` responds on endpoint (``kind``, ``k``) at ``visit``.

    SRI-k: SLEDAI reduction ≥ k, no new BILAG A and ≤ 1 new B, PGA increase < 0.3; each
    component alone; no (severe) SFI flare from week 0 to the visit; all on study at the
    visit. ``constant`` holds the reduced model's responders (any array for other kinds).
    """
    if kind == CONSTANT:
        return constant[i]
    if not is_on_study(dropout[i], failure[i], visit):
        return False
    if kind == SRI:
        return (
            sledai_reduced(sledai[i, 0], sledai[i, visit], k)
            and bilag_not_worse(bilag[i, 0], bilag[i, visit])
            and pga_not_worse(pga[i, 0], pga[i, visit])
        )
    if kind == SLEDAI_REDUCTION:
        return sledai_reduced(sledai[i, 0], sledai[i, visit], k)
    if kind == NO_NEW_BILAG:
        return bilag_not_worse(bilag[i, 0], bilag[i, visit])
    if kind == NO_PGA_WORSENING:
        return pga_not_worse(pga[i, 0], pga[i, visit])
    severe_only = kind == NO_SEVERE_FLARE
    for v in range(1, visit + 1):
        if flare[i, v] == FLARE_SEVERE or (not severe_only and flare[i, v] != FLARE_NONE):
            return False
    return True


@jit
def endpoint_flags(kinds, ks, visits, sledai, pga, bilag, flare, failure, dropout, constant):
    """``endpoint_flag`` of every target (kind, k, visit) and patient, uint8 (targets, n)."""
    n = sledai.shape[0]
    out = np.zeros((kinds.shape[0], n), dtype=np.uint8)
    for t in range(kinds.shape[0]):
        for i in range(n):
            if endpoint_flag(kinds[t], ks[t], visits[t], i, sledai, pga, bilag, flare, failure,
                             dropout, constant):
                out[t, i] = 1
    return out


@jit
def first_flare(flare, dropout_visit, severe):
    """Visit of one patient's first SFI flare (severe only if ``severe``) and whether it was
    observed; else censored at the last visit observed."""
    n_visits = flare.shape[0]
    first = n_visits
    for v in range(1, n_visits):
        if flare[v] == FLARE_SEVERE or (not severe and flare[v] != FLARE_NONE):
            first = v
            break
    last_seen = min(dropout_visit - 1, n_visits - 1)
    if first <= last_seen:
        return first, True
    return last_seen, False


@dataclass
class Trial:
    """One simulated trial: enrolled cohort, arm of each patient, and the course."""

    cohort: Cohort
    arm: np.ndarray
    course: Course
    #: responder flags of the constant-response reduced model (None unless configured)
    constant_response: np.ndarray | None = None

    def on_study(self, visit: int) -> np.ndarray:
        """Observed at ``visit`` and not a treatment failure by then."""
        return on_study(self.course.dropout_visit, self.course.failure_visit, visit)


def _endpoint_fn(kind: int, k: int) -> Callable[[Trial, int], np.ndarray]:
    def fn(trial: Trial, visit: int) -> np.ndarray:
        c = trial.course
        constant = trial.constant_response
        if kind == CONSTANT:
            if constant is None:
                raise ValueError("constant_response: the scenario has no constant_response")
            return constant
        flags = endpoint_flags(
            np.array([kind]), np.array([k]), np.array([visit]), c.sledai, c.pga, c.bilag,
            c.flare, c.failure_visit, c.dropout_visit, np.zeros(1, dtype=np.bool_),
        )
        return flags[0].astype(bool)

    return fn


EndpointFn = Callable[[Trial, int], np.ndarray]
#: name -> function(trial, visit) of the patients' responder flags
ENDPOINTS: dict[str, EndpointFn] = {n: _endpoint_fn(*spec) for n, spec in ENDPOINT_SPECS.items()}

if tuple(ENDPOINTS) != ENDPOINT_NAMES:  # the schema validates against the vocabulary
    raise RuntimeError(f"vocab.ENDPOINT_NAMES {ENDPOINT_NAMES} != registered {tuple(ENDPOINTS)}")


def first_flare_visit(course: Course, severe: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``first_flare`` of each patient.

    Returns
    -------
    visit : ndarray of int64
        First flare visit, or the last visit observed when censored.
    observed : ndarray of bool
    """
    n = course.flare.shape[0]
    visit = np.empty(n, dtype=np.int64)
    observed = np.empty(n, dtype=bool)
    for i in range(n):
        visit[i], observed[i] = first_flare(course.flare[i], course.dropout_visit[i], severe)
    return visit, observed
