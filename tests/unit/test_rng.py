"""The counter-based generator: Philox4x32-10 against its published known answers, the AS 241
normal quantile against scipy, the distribution and independence of the draws, and the
common-random-number properties the engine relies on."""

import numpy as np
import pytest
from scipy import special, stats

from trialsim.core.rng import (
    STAGE_COURSE,
    STAGES,
    counter_normals,
    counter_uniforms,
    fill_draws,
    normal_quantile,
    philox4x32,
    philox4x32_lanes,
    replicate_key,
)

F = 0xFFFFFFFF
#: Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key, output
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((F, F, F, F), (F, F), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(x) for x in philox4x32(*counter, *key)) == expected
    lanes = np.array(counter, dtype=np.uint64).reshape(4, 1).repeat(3, axis=1).copy()
    philox4x32_lanes(lanes, 3, *key)
    assert (lanes == np.array(expected, dtype=np.uint64)[:, None]).all()


def test_normal_quantile_matches_scipy_to_rounding():
    p = np.concatenate([
        np.logspace(-300, -1, 2000), np.linspace(0.01, 0.99, 20001), 1 - np.logspace(-16, -2, 200)
    ])
    z = np.array([normal_quantile(x) for x in p])
    ref = special.ndtri(p)
    rel = np.abs(z - ref) / np.maximum(np.abs(ref), 1e-300)
    assert rel.max() < 2e-15
    assert normal_quantile(0.5) == 0.0


def test_uniforms_and_normals_have_their_distributions():
    k0, k1 = replicate_key(2026, 3)
    u = counter_uniforms(k0, k1, STAGE_COURSE, 7, 1, 20_000)
    assert 0.0 < u.min() and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    z = counter_normals(k0, k1, STAGE_COURSE, 7, 1, 20_000)
    assert stats.kstest(z, "norm").pvalue > 1e-4
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)


def test_neighbouring_counters_are_independent():
    """Units, visits, stages and replicates next to each other give uncorrelated draws."""
    k0, k1 = replicate_key(1, 0)
    n = 5000
    base = counter_uniforms(k0, k1, STAGE_COURSE, 0, 0, n)
    others = [
        counter_uniforms(k0, k1, STAGE_COURSE, 1, 0, n),  # next unit
        counter_uniforms(k0, k1, STAGE_COURSE, 0, 1, n),  # next visit
        counter_uniforms(k0, k1, STAGE_COURSE + 1, 0, 0, n),  # next stage
        counter_uniforms(*replicate_key(1, 1), STAGE_COURSE, 0, 0, n),  # next replicate
        base[1:],  # lag one within a counter space
    ]
    for o in others:
        r = np.corrcoef(base[: o.size], o)[0, 1]
        assert abs(r) < 5 / np.sqrt(o.size), r


def test_fill_draws_slots_are_the_counter_draws_and_do_not_depend_on_the_table():
    k0, k1 = replicate_key(5, 2)
    u = np.zeros((6, 7))
    z = np.zeros((6, 3))
    scratch = np.empty((4, 6 * 4), dtype=np.uint64)
    fill_draws(k0, k1, STAGE_COURSE, 11, 1, u, z, scratch)
    assert (u[0] == 0).all() and (z[0] == 0).all()  # rows before first_visit untouched
    for v in range(1, 6):
        words = counter_uniforms(k0, k1, STAGE_COURSE, 11, v, 13)
        np.testing.assert_array_equal(u[v], words[6:])  # after 3 normals of 2 words
        np.testing.assert_array_equal(z[v], counter_normals(k0, k1, STAGE_COURSE, 11, v, 3))
    # fewer visits: the same numbers in the rows they share
    u4, z4 = np.zeros((4, 7)), np.zeros((4, 3))
    fill_draws(k0, k1, STAGE_COURSE, 11, 1, u4, z4, scratch)
    np.testing.assert_array_equal(u4[1:], u[1:4])
    np.testing.assert_array_equal(z4[1:], z[1:4])
    # normal slots left as uniforms map to the same normals
    zu = np.zeros((6, 3))
    fill_draws(k0, k1, STAGE_COURSE, 11, 1, u, zu, scratch, False)
    np.testing.assert_array_equal(np.vectorize(normal_quantile)(zu[1:]), z[1:])


def test_replicate_keys_are_deterministic_and_distinct():
    keys = {replicate_key(2026, r) for r in range(2000)}
    assert len(keys) == 2000
    assert replicate_key(2026, 17) == replicate_key(2026, 17)
    assert replicate_key(2026, 17) != replicate_key(2027, 17)
    assert len(STAGES) == 8


def test_a_patients_course_does_not_depend_on_the_other_patients(tiny):
    """Common random numbers inside the course: simulating a subset of the cohort gives the
    subset's patients exactly the trajectories they have in the whole cohort."""
    from trialsim.model.course import run_course
    from trialsim.run.trial import Plan

    plan = Plan(tiny)
    key = replicate_key(tiny.seed, 0)
    cohort, _ = plan.population.enroll(60, key)
    arm = np.where(np.arange(60) % 2 == 0, list(tiny.design.arms).index("bel10"), 0)
    whole = run_course(tiny, cohort, arm, key)
    idx = np.array([3, 17, 18, 42, 59])
    part = run_course(tiny, cohort.take(idx), arm[idx], key)
    for name in ("sledai", "pga", "bilag", "prednisone", "flare", "failure_visit",
                 "dropout_visit"):
        np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[idx], name)


def test_screening_tables_are_accurate(bliss52, bliss76):
    from trialsim.model.population import PopulationModel

    for sc in (bliss52, bliss76):
        duration_err, dose_err = PopulationModel(sc).tabulation_error
        # years; mg/day, largest just above the prednisone-use threshold, where the quantile
        # function's slope is infinite: 1% of the 0.5 mg tablet step
        assert duration_err < 1e-5 and dose_err < 5e-3, (sc.name, duration_err, dose_err)


def test_the_top_53_bit_uniform_stays_below_one():
    """(2^53 - 1 + 0.5) 2^-53 rounds to 1.0, whose normal quantile is infinite."""
    import math

    from trialsim.core.rng import uniform53

    top = uniform53(np.uint64(0xFFFFFFFF), np.uint64(0xFFFFFFFF))
    assert top < 1.0 and math.isfinite(normal_quantile(top))
    bottom = uniform53(np.uint64(0), np.uint64(0))
    assert bottom == 0.5 * 2.0**-53 and math.isfinite(normal_quantile(bottom))
