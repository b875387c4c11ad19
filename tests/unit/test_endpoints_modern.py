"""BICLA, LLDAS, DORIS remission, the modified, the sustained SRI and SRI-S2K on hand-made
visit arrays, each definition at its edges (analysis/endpoints.py; sources in its docstring)."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.analysis.endpoints import ENDPOINTS, Trial
from trialsim.model.course import Course
from trialsim.model.instruments import (
    FLAG_MAJOR,
    FLAG_NEW,
    FLAG_PROTEINURIA_UNSCORED,
    GRADE_A,
    GRADE_B,
    GRADE_C,
    GRADE_D,
    GRADE_E,
    N_BILAG,
)

V = 5  # visits 0..4, 4-weekly: the endpoint is visit 4 (week 16)


def patient(**kw) -> dict:
    """One patient's visit arrays: constant unless given (baseline first)."""
    p = {
        "sledai": [10] * V, "csledai": [6] * V, "pga": [1.0] * V, "pred": [5.0] * V,
        "flags": [0] * V, "bilag0": [GRADE_E] * N_BILAG, "bilag": [GRADE_E] * N_BILAG,
        "failure": V, "dropout": V,
    }
    p.update(kw)
    return p


def trial(*patients: dict, interval: int = 4) -> Trial:
    n = len(patients)
    bilag = np.zeros((n, V, N_BILAG), np.int8)
    for i, p in enumerate(patients):
        bilag[i, 0] = p["bilag0"]
        bilag[i, 1:] = p["bilag"]
    course = Course(
        sledai=np.array([p["sledai"] for p in patients], np.int16),
        pga=np.array([p["pga"] for p in patients], float),
        bilag=bilag,
        prednisone=np.array([p["pred"] for p in patients], float),
        flare=np.zeros((n, V), np.int8),
        failure_visit=np.array([p["failure"] for p in patients], np.int64),
        dropout_visit=np.array([p["dropout"] for p in patients], np.int64),
        clinical_sledai=np.array([p["csledai"] for p in patients], np.int16),
        activity_flags=np.array([p["flags"] for p in patients], np.uint8),
    )
    return Trial(None, np.zeros(n, np.int64), course, interval_weeks=interval)


def flags(name: str, *patients: dict, visit: int = V - 1) -> list[bool]:
    return ENDPOINTS[name](trial(*patients), visit).tolist()


def grades(**systems) -> list[int]:
    """BILAG grades by system index (``s1=GRADE_A``), E elsewhere."""
    g = [GRADE_E] * N_BILAG
    for key, value in systems.items():
        g[int(key[1:])] = value
    return g


# --------------------------------------------------------------------------- BICLA

BASE = {"sledai": [10, 8, 8, 8, 8], "pga": [1.5, 1.5, 1.5, 1.5, 1.7]}


def test_bicla_every_a_to_b_or_better_and_every_b_to_c_or_better():
    cases = [
        (grades(s1=GRADE_A, s3=GRADE_B), grades(s1=GRADE_B, s3=GRADE_C), True),
        (grades(s1=GRADE_A, s3=GRADE_B), grades(s1=GRADE_A, s3=GRADE_D), False),  # A stays
        (grades(s1=GRADE_A, s3=GRADE_B), grades(s1=GRADE_C, s3=GRADE_B), False),  # B stays
        (grades(s1=GRADE_B), grades(s1=GRADE_D), True),
        (grades(s1=GRADE_C), grades(s1=GRADE_D), False),  # no A or B at baseline
        (grades(s1=GRADE_B), grades(s1=GRADE_D, s6=GRADE_A), False),  # a new A
        (grades(s1=GRADE_B), grades(s1=GRADE_D, s6=GRADE_B), True),  # one new B
        (grades(s1=GRADE_B), grades(s1=GRADE_D, s6=GRADE_B, s7=GRADE_B), False),  # two
    ]
    got = flags("bicla", *(patient(bilag0=b0, bilag=b, **BASE) for b0, b, _ in cases))
    assert got == [want for *_, want in cases]


def test_bicla_sledai_pga_and_treatment_failure():
    improved = {"bilag0": grades(s1=GRADE_A), "bilag": grades(s1=GRADE_C)}
    got = flags(
        "bicla",
        patient(**improved, sledai=[10, 10, 10, 10, 10]),  # SLEDAI not worse: equal is fine
        patient(**improved, sledai=[10, 10, 10, 10, 11]),  # worse
        patient(**improved, pga=[1.0, 1.0, 1.0, 1.0, 1.29]),  # PGA up by < 0.3
        patient(**improved, pga=[1.0, 1.0, 1.0, 1.0, 1.3]),  # by 0.3
        patient(**improved, failure=3),  # a treatment failure before the visit
        patient(**improved, dropout=4),  # missed the visit
    )
    assert got == [True, False, True, False, False, False]


# --------------------------------------------------------------------------- LLDAS


def test_lldas_each_criterion_at_its_edge():
    ok = {"sledai": [10, 6, 6, 6, 4], "pga": [2.0, 1.5, 1.5, 1.5, 1.0],
          "pred": [10.0, 10.0, 10.0, 10.0, 7.5]}

    def at4(key, value):
        row = list(ok[key])
        row[4] = value
        return {**ok, key: row}

    got = flags(
        "lldas",
        patient(**ok),
        patient(**at4("sledai", 5)),
        patient(**at4("pga", 1.01)),
        patient(**at4("pred", 7.6)),
        patient(**ok, flags=[0, 0, 0, 0, FLAG_MAJOR]),  # renal, serosal, vasculitis, fever
        patient(**ok, flags=[0, 0, 0, 0, FLAG_NEW]),  # new activity since the last visit
        patient(**ok, flags=[FLAG_MAJOR | FLAG_NEW, 0, 0, 0, 0]),  # only at baseline
        patient(**ok, failure=2),
    )
    assert got == [True, False, False, False, False, False, True, False]


def test_lldas_50_is_half_of_the_visits_after_baseline():
    def visits(*lldas):  # LLDAS (SLEDAI 2) or not (SLEDAI 8) at visits 1..4
        return patient(sledai=[10, *[2 if x else 8 for x in lldas]], pga=[0.5] * V,
                       pred=[5.0] * V)

    got = flags("lldas_50", visits(1, 1, 0, 0), visits(0, 1, 0, 0), visits(0, 0, 1, 1),
                visits(1, 1, 1, 1))
    assert got == [True, False, True, True]
    # at visit 3, two of three visits
    assert flags("lldas_50", visits(1, 0, 1, 0), visit=3) == [True]


# --------------------------------------------------------------------------- DORIS


def test_doris_remission():
    def at4(csledai=0, pga=0.49, pred=5.0):
        return patient(csledai=[6, 4, 2, 1, csledai], sledai=[10, 8, 6, 5, 4 + csledai],
                       pga=[1.0, 1.0, 1.0, 1.0, pga], pred=[10.0, 10.0, 10.0, 10.0, pred])

    got = flags("doris_remission", at4(), at4(csledai=1), at4(pga=0.5), at4(pred=5.01),
                at4(pred=0.0))
    # serological activity (SLEDAI 4 from complement and anti-dsDNA) does not count
    assert got == [True, False, False, False, True]


# --------------------------------------------------------------------------- SRI variants


def test_modified_sri_ignores_serology():
    # clinical SLEDAI 8 -> 4 (-4) while serology worsens: SLEDAI 10 -> 8 (-2)
    p = patient(sledai=[10, 8, 8, 8, 8], csledai=[8, 4, 4, 4, 4])
    q = patient(sledai=[10, 6, 6, 6, 6], csledai=[8, 5, 5, 5, 5])  # the reverse
    assert flags("sri4_modified", p, q) == [True, False]
    assert flags("sri4", p, q) == [False, True]


@pytest.mark.parametrize("interval, visits_needed", [(4, (2, 3, 4))])
def test_sustained_sri_needs_the_three_visits(interval, visits_needed):
    def responder_at(*visits):
        s = [10] + [10] * (V - 1)
        for v in visits:
            s[v] = 6
        return patient(sledai=s)

    got = flags("sri4_sustained", responder_at(*visits_needed), responder_at(3, 4),
                responder_at(2, 4), responder_at(1, 2, 3, 4))
    assert got == [True, False, False, True]
    # at visit 2, visit 0 (baseline) would be needed: no response
    assert flags("sri4_sustained", responder_at(1, 2, 3, 4), visit=2) == [False]


def test_sustained_gap_follows_the_visit_interval():
    from trialsim.analysis.endpoints import sustained_gap

    assert [sustained_gap(w) for w in (1, 2, 4, 8)] == [4, 2, 1, 1]


# --------------------------------------------------------------------------- SRI-S2K

U = FLAG_PROTEINURIA_UNSCORED  # proteinuria present, left out of the SELENA-SLEDAI


def test_sri_s2k_scores_persistent_proteinuria():
    # baseline 10 with proteinuria; at week 16 SELENA-SLEDAI 6
    persists = patient(sledai=[10, 6, 6, 6, 6], flags=[0, U, U, U, U])  # SLEDAI-2K 10
    resolved = patient(sledai=[10, 6, 6, 6, 6])  # proteinuria gone: SLEDAI-2K 6 as well
    earlier = patient(sledai=[10, 6, 6, 6, 6], flags=[0, U, U, U, 0])  # only visit 4 counts
    edge = patient(sledai=[10, 2, 2, 2, 2], flags=[0, U, U, U, U])  # SLEDAI-2K 6: -4
    assert flags("sri4", persists, resolved, earlier, edge) == [True, True, True, True]
    assert flags("sri4_s2k", persists, resolved, earlier, edge) == [False, True, True, True]
    # SRI-S2K is SRI-4 otherwise: BILAG, PGA and treatment failure as in SRI-4
    worse_pga = patient(sledai=[10, 6, 6, 6, 6], pga=[1.0, 1.0, 1.0, 1.0, 1.3])
    new_a = patient(sledai=[10, 6, 6, 6, 6], bilag=grades(s1=GRADE_A))
    failed = patient(sledai=[10, 6, 6, 6, 6], failure=3)
    for name in ("sri4", "sri4_s2k"):
        assert flags(name, worse_pga, new_a, failed) == [False, False, False]


def test_sledai_2k_endpoints_add_back_unscored_proteinuria():
    # LLDAS: SLEDAI-2K <= 4; SELENA-SLEDAI 2 + proteinuria 4 = 6
    ok = {"sledai": [10, 6, 6, 6, 2], "pga": [2.0, 1.5, 1.5, 1.5, 1.0]}
    assert flags("lldas", patient(**ok), patient(**ok, flags=[0, 0, 0, 0, U])) == [True, False]
    # DORIS: clinical SLEDAI-2K 0
    doris = {"csledai": [6, 4, 2, 1, 0], "sledai": [10, 8, 6, 5, 4], "pga": [1.0] * 4 + [0.4]}
    assert flags("doris_remission", patient(**doris),
                 patient(**doris, flags=[0, 0, 0, 0, U])) == [True, False]
    # BICLA: SLEDAI-2K not above baseline (SELENA 8 + 4 = 12 > 10)
    b = {"sledai": [10, 8, 8, 8, 8], "bilag0": grades(s1=GRADE_B), "bilag": grades(s1=GRADE_C)}
    assert flags("bicla", patient(**b), patient(**b, flags=[0, 0, 0, 0, U])) == [True, False]
