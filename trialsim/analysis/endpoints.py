"""Per-patient endpoints from the visit-level arrays of one simulated trial.

Every endpoint is a kind and a threshold k; ``endpoint_flag`` decides one patient at one
visit, and the compiled trial and the Python API (``ENDPOINTS[name](trial, visit)``) both
call it. Patients who dropped out or became treatment failures by that visit are
non-responders (domain.md §2.5). The endpoints (each with its definition and
its source):

* ``sri4`` … ``sri8``: SLE Responder Index, SELENA-SLEDAI reduction ≥ k, no new BILAG A and
  ≤ 1 new B, PGA increase < 0.3 (domain.md §2.5); its components ``sledai_reduction_k``,
  ``no_new_bilag``, ``no_pga_worsening``;
* ``sri4_modified``: SRI-4 with the SLEDAI reduction counted on the clinical descriptors only
  (anti-dsDNA and complement changes ignored; van Vollenhoven et al., Ann Rheum Dis 2012;
  71:1343);
* ``sri4_sustained``: SRI-4 at the endpoint week and 4 and 8 weeks before it (weeks 44, 48
  and 52 for week 52);
* ``sri4_s2k``: SRI-4 with the reduction counted on the SLEDAI-2K, whose proteinuria
  > 0.5 g/24h is scored at every visit where present (``instruments.sledai_2k_score``; the
  SRI-S2K of EMBRACE, Ginzler et al., Arthritis Rheumatol 2022;74:112, domain.md §2.5). The
  same as ``sri4`` unless the scenario's SELENA-SLEDAI scores proteinuria only when new
  (``disease.sledai_proteinuria: new_onset``);
* ``no_flare``, ``no_severe_flare``: no (severe) SFI flare from week 0 to the visit;
* ``bicla``: BILAG-based Composite Lupus Assessment (Wallace et al., Ann Rheum Dis 2014;
  73:183): every system A at baseline now B or better and every B now C or better (at least
  one A or B at baseline), no new A and ≤ 1 new B, SLEDAI-2K not above baseline, PGA
  increase < 0.3 (10% of the scale), no treatment failure;
* ``lldas``: Lupus Low Disease Activity State (Franklyn et al., Ann Rheum Dis 2016;75:1615)
  at the visit: SLEDAI-2K ≤ 4 with no major organ activity (renal,
  cardiopulmonary, vasculitis, fever; ``instruments.MAJOR``), no clinical descriptor new
  since the previous visit, PGA ≤ 1, prednisone ≤ 7.5 mg/day (immunosuppressants allowed);
  ``lldas_50``: in LLDAS at ≥ 50% of the visits after baseline up to the endpoint week;
* ``doris_remission``: DORIS remission on treatment (van Vollenhoven et al., Ann Rheum Dis
  2017;76:554): clinical SLEDAI-2K 0, PGA < 0.5, prednisone ≤ 5 mg/day;
* ``steroid_sparing``: the BLISS steroid-sparing endpoint (domain.md §2.5; Navarra et al.,
  Lancet 2011;377:721, Furie et al., Arthritis Rheum 2011;63:3918): among the patients on
  > 7.5 mg/day prednisone at baseline, prednisone reduced by ≥ 25% from baseline *and* to
  ≤ 7.5 mg/day at every visit from 12 weeks before the endpoint week up to it (weeks 40–52
  for week 52; ``steroid_sparing_window``); see ``steroid_spared``. Patients on ≤ 7.5 mg/day
  at baseline are not in this endpoint's analysis at all (``NOT_EVALUABLE``);
* ``constant_response``: the reduced model's Bernoulli responders;
* ``clasi20``, ``clasi50``, ``clasi100``: CLASI-k response (``clasi.clasi_response``: CLASI-A
  at most (1 - k/100) x baseline; domain.md §2.6) at the visit, on study, among the patients
  with baseline CLASI-A at least ``analysis.clasi_min_baseline`` (10, moderate activity, as in
  the TULIP trials' CLASI analyses); the others are ``NOT_EVALUABLE``. CLASI-A comes from the
  lesion map drawn to agree with the course's mucocutaneous descriptors
  (``model/skin.py`` ``trial_clasi``, docs/model.md §7a).

Most endpoints count every randomized patient. An endpoint with a *denominator*
(``DENOMINATOR_KINDS``: ``steroid_sparing``, the CLASI-k endpoints) leaves some patients
out: ``endpoint_flags`` gives them ``NOT_EVALUABLE`` instead of 0 or 1, and the compiled
analysis (arm rates, logistic comparisons, subgroups, interaction tests, responder
profile) skips them for that target only. The Python API gives responder flags
(``ENDPOINTS``, False for a patient not evaluable) and the patients evaluated
(``EVALUABLE``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trialsim.config.vocab import ENDPOINT_NAMES
from trialsim.core.jit import jit
from trialsim.model.clasi import clasi_eligible, clasi_response
from trialsim.model.course import Course
from trialsim.model.instruments import (
    FLAG_MAJOR,
    FLAG_NEW,
    FLARE_NONE,
    FLARE_SEVERE,
    GRADE_A,
    GRADE_B,
    GRADE_C,
    HIGH_STEROID_MG,
    bilag_not_worse,
    is_high_steroid,
    pga_not_worse,
    sledai_2k_score,
    sledai_reduced,
)
from trialsim.model.population import Cohort
from trialsim.model.protocol import is_on_study, on_study

#: endpoint kinds
(SRI, SLEDAI_REDUCTION, NO_NEW_BILAG, NO_PGA_WORSENING, NO_FLARE, NO_SEVERE_FLARE, CONSTANT,
 BICLA, LLDAS, LLDAS_SHARE, DORIS, SRI_MODIFIED, SRI_SUSTAINED, STEROID_SPARING,
 SRI_S2K, CLASI) = range(16)

#: ``endpoint_flags`` codes: non-responder, responder, and not in this endpoint's analysis
#: (outside its denominator: neither a responder nor a non-responder)
NON_RESPONDER, RESPONDER, NOT_EVALUABLE = 0, 1, 2
#: kinds whose analysis is restricted to some patients (the others are ``NOT_EVALUABLE``)
DENOMINATOR_KINDS = (STEROID_SPARING, CLASI)

#: LLDAS (Franklyn 2016): SLEDAI-2K at most, PGA (0-3) at most, prednisone mg/day at most
LLDAS_SLEDAI, LLDAS_PGA, LLDAS_PREDNISONE_MG = 4, 1.0, 7.5
#: DORIS remission on treatment (van Vollenhoven 2017): clinical SLEDAI 0, PGA below,
#: prednisone mg/day at most
DORIS_PGA, DORIS_PREDNISONE_MG = 0.5, 5.0
#: share of the visits after baseline in LLDAS for ``lldas_50``
LLDAS_SHARE_NEEDED = 0.5
#: weeks between the visits of a sustained response (weeks 44, 48, 52)
SUSTAINED_GAP_WEEKS = 4
#: steroid sparing (BLISS; domain.md §2.5): the evaluable patients are on more than
#: ``HIGH_STEROID_MG`` (7.5) mg/day at baseline (``instruments.is_high_steroid``); a responder
#: is at most ``HIGH_STEROID_MG`` and at least this share below baseline ...
STEROID_SPARING_REDUCTION = 0.25
#: ... at every visit in the weeks up to the endpoint week (weeks 40-52 for week 52)
STEROID_SPARING_WINDOW_WEEKS = 12

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
    "sri4_s2k": (SRI_S2K, 4),
    "steroid_sparing": (STEROID_SPARING, 0),
    "constant_response": (CONSTANT, 0),
})
for _k in (20, 50, 100):  # k: the CLASI-A fall, % of baseline
    ENDPOINT_SPECS[f"clasi{_k}"] = (CLASI, _k)
#: endpoints with a denominator (some patients ``NOT_EVALUABLE``)
DENOMINATOR_ENDPOINTS = tuple(
    name for name, (kind, _) in ENDPOINT_SPECS.items() if kind in DENOMINATOR_KINDS
)


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
    """LLDAS at one visit (Franklyn 2016; see the module docstring); ``sledai`` is the
    visit's SELENA-SLEDAI, scored here as the SLEDAI-2K (``sledai_2k_score``)."""
    return (
        sledai_2k_score(sledai, flags) <= LLDAS_SLEDAI
        and (flags & FLAG_MAJOR) == 0
        and (flags & FLAG_NEW) == 0
        and pga <= LLDAS_PGA
        and prednisone <= LLDAS_PREDNISONE_MG
    )


@jit
def steroid_spared(pred, dropout, failure, visit, window):
    """One patient's BLISS steroid-sparing code at ``visit`` (domain.md §2.5; Navarra et al.
    2011, Furie et al. 2011).

    The rule implemented: a patient on ≤ ``HIGH_STEROID_MG`` (7.5) mg/day prednisone at
    baseline (``pred[0]``) is ``NOT_EVALUABLE``, whatever happens later. Any other patient is a
    ``RESPONDER`` when on study at ``visit`` (``is_on_study``: not dropped out, not a
    treatment failure by then) and, at every visit ``u`` from ``max(1, visit - window)`` to
    ``visit``, the prednisone after that visit's decisions is ≤ 7.5 mg/day and
    ≤ (1 - ``STEROID_SPARING_REDUCTION``) x baseline (a reduction of at least 25%, exactly
    25% included); else a ``NON_RESPONDER``. ``window`` is ``steroid_sparing_window``: the
    visits in the ``STEROID_SPARING_WINDOW_WEEKS`` (12) weeks before the endpoint week, so the
    window holds the visits of weeks 40, 44, 48 and 52 for week 52 at 4-weekly visits.

    Parameters
    ----------
    pred : ndarray of float64, shape (n_visits,)
        The patient's prednisone mg/day after each visit's decisions (visit 0: baseline).
    dropout, failure : int
        First visit missed and first visit a treatment failure (``n_visits``: never).
    visit, window : int
    """
    base = pred[0]
    if not is_high_steroid(base):
        return NOT_EVALUABLE
    if not is_on_study(dropout, failure, visit):
        return NON_RESPONDER
    ceiling = min(HIGH_STEROID_MG, (1.0 - STEROID_SPARING_REDUCTION) * base)
    for u in range(max(1, visit - window), visit + 1):
        if pred[u] > ceiling:
            return NON_RESPONDER
    return RESPONDER


def steroid_sparing_window(interval_weeks: int) -> int:
    """Visits back from the endpoint visit that the steroid-sparing window spans: the visits in
    the ``STEROID_SPARING_WINDOW_WEEKS`` weeks before it (3 at 4-weekly visits: weeks 40, 44,
    48 and 52 for week 52)."""
    return STEROID_SPARING_WINDOW_WEEKS // interval_weeks


@jit
def clasi_code(clasi, dropout, failure, visit, k, min_baseline):
    """One patient's CLASI-k code at ``visit``: ``NOT_EVALUABLE`` when the baseline CLASI-A
    (``clasi[0]``) is below ``min_baseline``; else ``RESPONDER`` when on study at ``visit``
    and ``clasi.clasi_response`` (CLASI-A at most (1 - k/100) x baseline), ``NON_RESPONDER``
    otherwise."""
    base = float(clasi[0])
    if not clasi_eligible(base, min_baseline):
        return NOT_EVALUABLE
    if is_on_study(dropout, failure, visit) and clasi_response(base, float(clasi[visit]),
                                                               float(k), min_baseline):
        return RESPONDER
    return NON_RESPONDER


@jit
def _sri(k, visit, i, sledai, pga, bilag):
    return (
        sledai_reduced(sledai[i, 0], sledai[i, visit], k)
        and bilag_not_worse(bilag[i, 0], bilag[i, visit])
        and pga_not_worse(pga[i, 0], pga[i, visit])
    )


@jit
def endpoint_flag(kind, k, visit, i, sledai, pga, bilag, flare, failure, dropout, constant,
                  csledai, aflags, pred, gap, window, clasi, clasi_min):
    """Whether patient ``i`` responds on endpoint (``kind``, ``k``) at ``visit``.

    The definitions are in the module docstring; all require the patient on study at the
    visit (``constant_response`` excepted). ``constant`` holds the reduced model's
    responders (any array for other kinds); ``csledai``, ``aflags`` and ``pred`` are the
    course's clinical SELENA-SLEDAI, activity flags and prednisone; ``gap`` is the number of
    visits in ``SUSTAINED_GAP_WEEKS`` weeks, ``window`` the steroid-sparing window
    (``steroid_sparing_window``); ``clasi`` the CLASI-A of each visit (``trial_clasi``;
    any array unless a CLASI kind is asked for) and ``clasi_min`` the CLASI endpoints'
    baseline threshold. For a kind with a denominator (``DENOMINATOR_KINDS``) this
    says only whether the patient responded; ``endpoint_flags`` also marks the patients
    outside the denominator (``NOT_EVALUABLE``).
    """
    if kind == CONSTANT:
        return constant[i]
    if kind == STEROID_SPARING:
        return steroid_spared(pred[i], dropout[i], failure[i], visit, window) == RESPONDER
    if kind == CLASI:
        return clasi_code(clasi[i], dropout[i], failure[i], visit, k, clasi_min) == RESPONDER
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
    if kind == SRI_S2K:
        return (
            sledai_reduced(sledai[i, 0], sledai_2k_score(sledai[i, visit], aflags[i, visit]), k)
            and bilag_not_worse(bilag[i, 0], bilag[i, visit])
            and pga_not_worse(pga[i, 0], pga[i, visit])
        )
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
            and sledai_2k_score(sledai[i, visit], aflags[i, visit]) <= sledai[i, 0]
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
        return (sledai_2k_score(csledai[i, visit], aflags[i, visit]) == 0
                and pga[i, visit] < DORIS_PGA
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
                   csledai, aflags, pred, gap, window, clasi, clasi_min):
    """Every target's (kind, k, visit) code of every patient, uint8 (targets, n):
    ``RESPONDER`` (1), ``NON_RESPONDER`` (0), or ``NOT_EVALUABLE`` (2) for a patient outside
    the denominator of an endpoint that has one (``DENOMINATOR_KINDS``)."""
    n = sledai.shape[0]
    out = np.zeros((kinds.shape[0], n), dtype=np.uint8)
    for t in range(kinds.shape[0]):
        if kinds[t] == STEROID_SPARING:
            for i in range(n):
                out[t, i] = steroid_spared(pred[i], dropout[i], failure[i], visits[t], window)
            continue
        if kinds[t] == CLASI:
            for i in range(n):
                out[t, i] = clasi_code(clasi[i], dropout[i], failure[i], visits[t], ks[t],
                                       clasi_min)
            continue
        for i in range(n):
            if endpoint_flag(kinds[t], ks[t], visits[t], i, sledai, pga, bilag, flare, failure,
                             dropout, constant, csledai, aflags, pred, gap, window, clasi,
                             clasi_min):
                out[t, i] = RESPONDER
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
    #: CLASI-A at each visit (n, n_visits) (``model/skin.py`` ``trial_clasi``; None unless
    #: the scenario asks for a CLASI endpoint) and the CLASI endpoints' baseline threshold
    clasi: np.ndarray | None = None
    clasi_min_baseline: float = 10.0

    def on_study(self, visit: int) -> np.ndarray:
        """Observed at ``visit`` and not a treatment failure by then."""
        return on_study(self.course.dropout_visit, self.course.failure_visit, visit)


def _endpoint_codes(kind: int, k: int, trial: Trial, visit: int) -> np.ndarray:
    """``endpoint_flags`` of one endpoint for the patients of ``trial`` (uint8 codes)."""
    c = trial.course
    n, v = c.sledai.shape
    csledai = (c.clinical_sledai if c.clinical_sledai is not None
               else np.zeros((n, v), dtype=np.int16))
    aflags = (c.activity_flags if c.activity_flags is not None
              else np.zeros((n, v), dtype=np.uint8))
    if kind in (SRI_MODIFIED, DORIS) and c.clinical_sledai is None:
        raise ValueError("this endpoint needs the course's clinical_sledai")
    if kind in (LLDAS, LLDAS_SHARE) and c.activity_flags is None:
        raise ValueError("this endpoint needs the course's activity_flags")
    if kind == CLASI and trial.clasi is None:
        raise ValueError("a CLASI endpoint needs the trial's CLASI-A (a scenario whose "
                         "analysis.endpoints lists it)")
    clasi = trial.clasi if trial.clasi is not None else np.zeros((n, v), dtype=np.int16)
    return endpoint_flags(
        np.array([kind]), np.array([k]), np.array([visit]), c.sledai, c.pga, c.bilag,
        c.flare, c.failure_visit, c.dropout_visit, np.zeros(1, dtype=np.bool_),
        csledai, aflags, np.ascontiguousarray(c.prednisone, dtype=np.float64),
        sustained_gap(trial.interval_weeks), steroid_sparing_window(trial.interval_weeks),
        np.ascontiguousarray(clasi, dtype=np.int16), float(trial.clasi_min_baseline),
    )[0]


def _endpoint_fn(kind: int, k: int) -> Callable[[Trial, int], np.ndarray]:
    def fn(trial: Trial, visit: int) -> np.ndarray:
        constant = trial.constant_response
        if kind == CONSTANT:
            if constant is None:
                raise ValueError("constant_response: the scenario has no constant_response")
            return constant
        return _endpoint_codes(kind, k, trial, visit) == RESPONDER

    return fn


def _evaluable_fn(kind: int, k: int) -> Callable[[Trial, int], np.ndarray]:
    def fn(trial: Trial, visit: int) -> np.ndarray:
        if kind not in DENOMINATOR_KINDS:
            return np.ones(trial.arm.shape[0], dtype=bool)
        return _endpoint_codes(kind, k, trial, visit) != NOT_EVALUABLE

    return fn


EndpointFn = Callable[[Trial, int], np.ndarray]
#: name -> function(trial, visit) of the patients' responder flags (False for a patient not
#: evaluable: a rate is ``flags[evaluable].mean()``)
ENDPOINTS: dict[str, EndpointFn] = {n: _endpoint_fn(*spec) for n, spec in ENDPOINT_SPECS.items()}
#: name -> function(trial, visit) of the patients in the endpoint's analysis (all of them
#: unless it has a denominator, ``DENOMINATOR_ENDPOINTS``)
EVALUABLE: dict[str, EndpointFn] = {
    n: _evaluable_fn(*spec) for n, spec in ENDPOINT_SPECS.items()
}

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
