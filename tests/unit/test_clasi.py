"""CLASI scored on hand-made lesion maps: the instrument's rules at their edges
(model/clasi.py; domain.md §2.6; Albrecht et al., J Invest Dermatol 2005;125:889)."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.config.vocab import CLASI_AREAS
from trialsim.model.clasi import (
    ACLE,
    CLASI_A_MAX,
    CLASI_D_MAX,
    DCLE,
    NONSPECIFIC,
    SCALP,
    SCLE,
    SLEDAI_SKIN_DESCRIPTORS,
    clasi_activity,
    clasi_band,
    clasi_damage,
    clasi_response,
    sledai_skin_descriptors,
)

Z = np.zeros(13, dtype=np.int64)


def area_map(**grades) -> np.ndarray:
    out = np.zeros(13, dtype=np.int64)
    for name, g in grades.items():
        out[CLASI_AREAS.index(name)] = g
    return out


def test_empty_map_scores_zero():
    assert clasi_activity(Z, Z, 0, 0, 0) == 0
    assert clasi_damage(Z, Z, Z, 0) == 0


def test_the_worst_map_scores_the_published_maxima():
    full_e, full_s = np.full(13, 3, np.int64), np.full(13, 2, np.int64)
    assert clasi_activity(full_e, full_s, 1, 1, 3) == 70 == CLASI_A_MAX
    scar = np.full(13, 2, np.int64)
    scar[SCALP] = 0  # the scalp's scarring is the scalp item
    dys, long = np.ones(13, np.int64), np.full(13, 52, np.int64)
    assert clasi_damage(dys, long, scar, 6) == 56 == CLASI_D_MAX


def test_activity_adds_each_item_once():
    # a malar rash (erythema 2, scale 1), red ears (1), oral ulcer, patchy alopecia
    e = area_map(nose_malar=2, ears=1)
    s = area_map(nose_malar=1)
    assert clasi_activity(e, s, 1, 0, 2) == 2 + 1 + 1 + 1 + 2
    assert clasi_activity(e, s, 1, 1, 2) == 8  # recent hair loss is its own point


@pytest.mark.parametrize("bad", [
    dict(erythema=area_map(arms=4)), dict(erythema=area_map(arms=-1)),
    dict(scale=area_map(chest=3)), dict(mucous=2), dict(hair_loss=2), dict(alopecia=4),
    dict(alopecia=-1),
])
def test_a_grade_out_of_range_is_refused(bad):
    args = dict(erythema=Z, scale=Z, mucous=0, hair_loss=0, alopecia=0) | bad
    with pytest.raises(ValueError):
        clasi_activity(args["erythema"], args["scale"], args["mucous"], args["hair_loss"],
                       args["alopecia"])


def test_a_map_of_twelve_areas_is_refused():
    with pytest.raises(ValueError):
        clasi_activity(np.zeros(12, np.int64), np.zeros(12, np.int64), 0, 0, 0)


def test_dyspigmentation_counts_twice_from_twelve_months():
    d = area_map(rest_of_face=1)
    assert clasi_damage(d, area_map(rest_of_face=51), Z, 0) == 1
    assert clasi_damage(d, area_map(rest_of_face=52), Z, 0) == 2
    # the duration of an area without dyspigmentation does not matter
    assert clasi_damage(Z, area_map(rest_of_face=99), Z, 0) == 0


@pytest.mark.parametrize("scalp", [1, 2, 7, -3])
def test_scarring_of_the_scalp_is_0_or_3_to_6(scalp):
    with pytest.raises(ValueError):
        clasi_damage(Z, Z, Z, scalp)


@pytest.mark.parametrize("scalp", [0, 3, 4, 5, 6])
def test_scalp_quadrants(scalp):
    assert clasi_damage(Z, Z, Z, scalp) == scalp


def test_scalp_scarring_is_not_also_an_area_grade():
    with pytest.raises(ValueError):
        clasi_damage(Z, Z, area_map(scalp=1), 0)
    assert clasi_damage(Z, Z, area_map(ears=2, arms=1), 0) == 3


@pytest.mark.parametrize("baseline, current, k, expected", [
    (10, 8, 20, True), (10, 8.1, 20, False), (10, 5, 50, True), (10, 6, 50, False),
    (10, 0, 100, True), (10, 1, 100, False), (3, 0, 100, True), (7, 3.5, 50, True),
    (9, 7.2, 20, True),
])
def test_response_is_a_fall_of_at_least_k_percent(baseline, current, k, expected):
    assert clasi_response(float(baseline), float(current), float(k), 0.0) is expected


def test_response_needs_the_baseline_threshold_and_a_positive_baseline():
    assert clasi_response(9.0, 0.0, 50.0, 10.0) is False
    assert clasi_response(10.0, 0.0, 50.0, 10.0) is True
    assert clasi_response(0.0, 0.0, 20.0, 0.0) is False  # nothing to improve


def test_a_worse_score_is_never_a_response():
    assert clasi_response(10.0, 11.0, 20.0, 0.0) is False


@pytest.mark.parametrize("score, band", [(0, 0), (9, 0), (10, 1), (20, 1), (21, 2), (70, 2)])
def test_bands(score, band):
    assert clasi_band(score) == band


def _descriptors(subtype, erythema=Z, mucous=0, hair_loss=0, alopecia=0):
    out = np.zeros(4, np.int64)
    points = sledai_skin_descriptors(subtype, erythema, mucous, hair_loss, alopecia, out)
    return dict(zip(SLEDAI_SKIN_DESCRIPTORS, out.tolist(), strict=True)), points


@pytest.mark.parametrize("subtype", [ACLE, SCLE, DCLE])
def test_an_inflammatory_lesion_of_a_specific_subtype_is_the_sledai_rash(subtype):
    d, points = _descriptors(subtype, area_map(chest=1))
    assert d == {"rash": 1, "alopecia": 0, "mucosal_ulcers": 0, "vasculitis": 0}
    assert points == 2


def test_non_specific_lesions_are_the_sledai_vasculitis():
    d, points = _descriptors(NONSPECIFIC, area_map(hands=2))
    assert d["vasculitis"] == 1 and d["rash"] == 0 and points == 8


def test_scale_without_erythema_and_damage_are_not_sledai_activity():
    d, points = _descriptors(DCLE, Z)
    assert points == 0 and sum(d.values()) == 0


def test_alopecia_and_ulcers_are_scored_by_both_instruments():
    d, points = _descriptors(ACLE, Z, mucous=1, hair_loss=1, alopecia=1)
    assert d == {"rash": 0, "alopecia": 1, "mucosal_ulcers": 1, "vasculitis": 0}
    assert points == 4
    d, _ = _descriptors(ACLE, Z, alopecia=2)
    assert d["alopecia"] == 1


def test_responders_apply_the_one_rule_to_each_patient():
    from trialsim.model.clasi import clasi_responders

    base = np.array([10, 10, 9, 0, 12], dtype=np.int64)
    now = np.array([5, 6, 0, 0, 6], dtype=np.int64)
    got = clasi_responders(base, now, 50.0, 10.0)
    want = [clasi_response(float(b), float(c), 50.0, 10.0) for b, c in zip(base, now, strict=True)]
    assert got.tolist() == want == [True, False, False, False, True]
