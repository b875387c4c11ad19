"""Per-patient endpoints from the visit-level arrays of one simulated trial.

One function per endpoint, registered by name in ``ENDPOINTS``; each takes a ``Trial`` and a
visit index and returns a bool array (one entry per patient). Patients who dropped out or
became treatment failures by that visit are non-responders (domain.md §2.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from .course import Course
from .instruments import (
    FLARE_NONE,
    FLARE_SEVERE,
    no_new_bilag,
    no_pga_worsening,
    sledai_reduction,
)
from .population import Cohort
from .protocol import on_study
from .vocab import ENDPOINT_NAMES


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


EndpointFn = Callable[[Trial, int], np.ndarray]
ENDPOINTS: dict[str, EndpointFn] = {}


def endpoint(name: str) -> Callable[[EndpointFn], EndpointFn]:
    """Register an endpoint function under ``name``."""

    def register(fn: EndpointFn) -> EndpointFn:
        ENDPOINTS[name] = fn
        return fn

    return register


def _sledai_component(trial: Trial, visit: int, k: int) -> np.ndarray:
    s = trial.course.sledai
    return sledai_reduction(s[:, 0], s[:, visit], k) & trial.on_study(visit)


def _bilag_component(trial: Trial, visit: int) -> np.ndarray:
    b = trial.course.bilag
    return no_new_bilag(b[:, 0, :], b[:, visit, :]) & trial.on_study(visit)


def _pga_component(trial: Trial, visit: int) -> np.ndarray:
    p = trial.course.pga
    return no_pga_worsening(p[:, 0], p[:, visit]) & trial.on_study(visit)


def sri(trial: Trial, visit: int, k: int = 4) -> np.ndarray:
    """SRI-k: SLEDAI reduction ≥ k, no new BILAG A and ≤ 1 new B, PGA increase < 0.3."""
    return (
        _sledai_component(trial, visit, k)
        & _bilag_component(trial, visit)
        & _pga_component(trial, visit)
    )


for _k in range(4, 9):
    endpoint(f"sri{_k}")(partial(sri, k=_k))
    endpoint(f"sledai_reduction_{_k}")(partial(_sledai_component, k=_k))
endpoint("no_new_bilag")(_bilag_component)
endpoint("no_pga_worsening")(_pga_component)


@endpoint("no_flare")
def no_flare(trial: Trial, visit: int) -> np.ndarray:
    """No SELENA-SLEDAI Flare Index flare (any severity) from week 0 to the visit, on study."""
    return ~(trial.course.flare[:, 1 : visit + 1] != FLARE_NONE).any(axis=1) & trial.on_study(visit)


@endpoint("no_severe_flare")
def no_severe_flare(trial: Trial, visit: int) -> np.ndarray:
    """No severe SFI flare from week 0 to the visit, on study."""
    return ~(trial.course.flare[:, 1 : visit + 1] == FLARE_SEVERE).any(axis=1) & trial.on_study(
        visit
    )


@endpoint("constant_response")
def constant_response(trial: Trial, visit: int) -> np.ndarray:
    """Reduced model: Bernoulli response with a fixed probability per arm (validation)."""
    return trial.constant_response


if tuple(ENDPOINTS) != ENDPOINT_NAMES:  # the schema validates against the vocabulary
    raise RuntimeError(f"vocab.ENDPOINT_NAMES {ENDPOINT_NAMES} != registered {tuple(ENDPOINTS)}")


def first_flare_visit(course: Course, severe: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Visit of the first SFI flare and whether it was observed (else censored).

    Returns
    -------
    visit : ndarray of int64
        First flare visit, or the last visit observed when censored.
    observed : ndarray of bool
    """
    hit = course.flare[:, 1:] == FLARE_SEVERE if severe else course.flare[:, 1:] != FLARE_NONE
    n_visits = course.flare.shape[1]
    first = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, n_visits)
    last_seen = np.minimum(course.dropout_visit - 1, n_visits - 1)
    observed = first <= last_seen
    return np.where(observed, first, last_seen), observed
