"""Per-patient endpoints from the visit-level arrays of one simulated trial.

Every endpoint is a kind and a threshold k; ``endpoint_flag`` decides one patient at one
visit, and the compiled trial and the Python API (``ENDPOINTS[name](trial, visit)``) both
call it. Patients who dropped out or became treatment failures by that visit are
non-responders (domain.md §2.5). The endpoints (``ENDPOINT_DOCS`` has each definition and
its source):

* ``sri4`` … ``sri8``: SLE Responder Index, SELENA-SLEDAI reduction ≥ k, no new BILAG A and
  ≤ 1 new B, PGA increase < 0.3 (domain.md §2.5); its components ``sledai_reduction_k``,
  ``no_new_bilag``, ``no_pga_worsening``;
* ``sri4_modified``: SRI-4 with the SLEDAI reduction counted on the clinical descriptors only
  (anti-dsDNA and complement changes ignored; van Vollenhoven et al., Ann Rheum Dis 2012;
  71:1343);
* ``sri4_sustained``: SRI-4 at the endpoint week and 4 and 8 weeks before it (weeks 44, 48
  and 52 for week 52);
* ``no_flare``, ``no_severe_flare``: no (severe) SFI flare from week 0 to the visit;
* ``bicla``: BILAG-based Composite Lupus Assessment (Wallace et al., Ann Rheum Dis 2014;
  73:183): every system A at baseline now B or better and every B now C or better (at least
  one A or B at baseline), no new A and ≤ 1 new B, SELENA-SLEDAI not above baseline, PGA
  increase < 0.3 (10% of the scale), no treatment failure;
* ``lldas``: Lupus Low Disease Activity State (Franklyn et al., Ann Rheum Dis 2016;75:1615)
  at the visit: SELENA-SLEDAI ≤ 4 (for SLEDAI-2K) with no major organ activity (renal,
  cardiopulmonary, vasculitis, fever; ``instruments.MAJOR``), no clinical descriptor new
  since the previous visit, PGA ≤ 1, prednisone ≤ 7.5 mg/day (immunosuppressants allowed);
  ``lldas_50``: in LLDAS at ≥ 50% of the visits after baseline up to the endpoint week;
* ``doris_remission``: DORIS remission on treatment (van Vollenhoven et al., Ann Rheum Dis
  2017;76:554): clinical SELENA-SLEDAI 0, PGA < 0.5, prednisone ≤ 5 mg/day;
* ``constant_response``: the reduced model's Bernoulli responders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trialsim.config.vocab import ENDPOINT_NAMES
from trialsim.core.jit import jit
from trialsim.model.course import Course
from trialsim.model.instruments import (
    FLAG_MAJOR,
    FLAG_NEW,
    FLARE_NONE,
    FLARE_SEVERE,
    GRADE_A,
    GRADE_B,
    GRADE_C,
    bilag_not_worse,
    pga_not_worse,
    sledai_reduced,
)
from trialsim.model.population import Cohort
from trialsim.model.protocol import is_on_study, on_study

#: endpoint kinds
(SRI, SLEDAI_REDUCTION, NO_NEW_BILAG, NO_PGA_WORSENING, NO_FLARE, NO_SEVERE_FLARE, CONSTANT,
 BICLA, LLDAS, LLDAS_SHARE, DORIS, SRI_MODIFIED, SRI_SUSTAINED) = range(13)

#: LLDAS (Franklyn 2016): SLEDAI-2K at most, PGA (0-3) at most, prednisone mg/day at most
LLDAS_SLEDAI, LLDAS_PGA, LLDAS_PREDNISONE_MG = 4, 1.0, 7.5
#: DORIS remission on treatment (van Vollenhoven 2017): clinical SLEDAI 0, PGA below,
#: prednisone mg/day at most
DORIS_PGA, DORIS_PREDNISONE_MG = 0.5, 5.0
#: share of the visits after baseline in LLDAS for ``lldas_50``
LLDAS_SHARE_NEEDED = 0.5
#: weeks between the visits of a sustained response (weeks 44, 48, 52)
SUSTAINED_GAP_WEEKS = 4

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
    "bicla": (BICLA, 0),
    "lldas": (LLDAS, 0),
    "lldas_50": (LLDAS_SHARE, 0),
    "doris_remission": (DORIS, 0),
    "sri4_modified": (SRI_MODIFIED, 4),
    "sri4_sustained": (SRI_SUSTAINED, 4),
    "constant_response": (CONSTANT, 0),
})


@jit
def bicla_improved(baseline, visit):
    """BICLA's BILAG criterion: every system A at baseline now B or better, every B now C or
    better, and at least one A or B at baseline (nothing to improve is not a response)."""
    moderate = False
    for s in range(baseline.shape[0]):
        if baseline[s] == GRADE_A:
            moderate = True
            if visit[s] > GRADE_B:
                return False
        elif baseline[s] == GRADE_B:
            moderate = True
            if visit[s] > GRADE_C:
                return False
    return moderate


@jit
def in_lldas(sledai, pga, prednisone, flags):
    """LLDAS at one visit (Franklyn 2016; see the module docstring)."""
    return (
        sledai <= LLDAS_SLEDAI
        and (flags & FLAG_MAJOR) == 0
        and (flags & FLAG_NEW) == 0
        and pga <= LLDAS_PGA
        and prednisone <= LLDAS_PREDNISONE_MG
    )


@jit
def _sri(k, visit, i, sledai, pga, bilag):
    return (
        sledai_reduced(sledai[i, 0], sledai[i, visit], k)
        and bilag_not_worse(bilag[i, 0], bilag[i, visit])
        and pga_not_worse(pga[i, 0], pga[i, visit])
    )


@jit
def endpoint_flag(kind, k, visit, i, sledai, pga, bilag, flare, failure, dropout, constant,
                  csledai, aflags, pred, gap):
    """Whether patient ``i`` responds on endpoint (``kind``, ``k``) at ``visit``.

    The definitions are in the module docstring; all require the patient on study at the
    visit (``constant_response`` excepted). ``constant`` holds the reduced model's
    responders (any array for other kinds); ``csledai``, ``aflags`` and ``pred`` are the
    course's clinical SELENA-SLEDAI, activity flags and prednisone; ``gap`` is the number of
    visits in ``SUSTAINED_GAP_WEEKS`` weeks.
    """
    if kind == CONSTANT:
        return constant[i]
    if not is_on_study(dropout[i], failure[i], visit):
        return False
    if kind == SRI:
        return _sri(k, visit, i, sledai, pga, bilag)
    if kind == SRI_SUSTAINED:
        for back in range(3):
            v = visit - back * gap
            if v < 1 or not _sri(k, v, i, sledai, pga, bilag):
                return False
        return True
    if kind == SRI_MODIFIED:
        return (
            sledai_reduced(csledai[i, 0], csledai[i, visit], k)
            and bilag_not_worse(bilag[i, 0], bilag[i, visit])
            and pga_not_worse(pga[i, 0], pga[i, visit])
        )
    if kind == BICLA:
        return (
            bicla_improved(bilag[i, 0], bilag[i, visit])
            and bilag_not_worse(bilag[i, 0], bilag[i, visit])
            and sledai[i, visit] <= sledai[i, 0]
            and pga_not_worse(pga[i, 0], pga[i, visit])
        )
    if kind == LLDAS:
        return in_lldas(sledai[i, visit], pga[i, visit], pred[i, visit], aflags[i, visit])
    if kind == LLDAS_SHARE:
        hits = 0
        for v in range(1, visit + 1):
            if in_lldas(sledai[i, v], pga[i, v], pred[i, v], aflags[i, v]):
                hits += 1
        return visit > 0 and hits >= LLDAS_SHARE_NEEDED * visit
    if kind == DORIS:
        return (csledai[i, visit] == 0 and pga[i, visit] < DORIS_PGA
                and pred[i, visit] <= DORIS_PREDNISONE_MG)
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
def endpoint_flags(kinds, ks, visits, sledai, pga, bilag, flare, failure, dropout, constant,
                   csledai, aflags, pred, gap):
    """``endpoint_flag`` of every target (kind, k, visit) and patient, uint8 (targets, n)."""
    n = sledai.shape[0]
    out = np.zeros((kinds.shape[0], n), dtype=np.uint8)
    for t in range(kinds.shape[0]):
        for i in range(n):
            if endpoint_flag(kinds[t], ks[t], visits[t], i, sledai, pga, bilag, flare, failure,
                             dropout, constant, csledai, aflags, pred, gap):
                out[t, i] = 1
    return out


def sustained_gap(interval_weeks: int) -> int:
    """Visits in ``SUSTAINED_GAP_WEEKS`` weeks at this visit interval (at least one)."""
    return max(1, round(SUSTAINED_GAP_WEEKS / interval_weeks))


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
    #: weeks between visits (for the sustained response's visits)
    interval_weeks: int = 4

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
        n, v = c.sledai.shape
        csledai = (c.clinical_sledai if c.clinical_sledai is not None
                   else np.zeros((n, v), dtype=np.int16))
        aflags = (c.activity_flags if c.activity_flags is not None
                  else np.zeros((n, v), dtype=np.uint8))
        if kind in (SRI_MODIFIED, DORIS) and c.clinical_sledai is None:
            raise ValueError("this endpoint needs the course's clinical_sledai")
        if kind in (LLDAS, LLDAS_SHARE) and c.activity_flags is None:
            raise ValueError("this endpoint needs the course's activity_flags")
        flags = endpoint_flags(
            np.array([kind]), np.array([k]), np.array([visit]), c.sledai, c.pga, c.bilag,
            c.flare, c.failure_visit, c.dropout_visit, np.zeros(1, dtype=np.bool_),
            csledai, aflags, np.ascontiguousarray(c.prednisone, dtype=np.float64),
            sustained_gap(trial.interval_weeks),
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
