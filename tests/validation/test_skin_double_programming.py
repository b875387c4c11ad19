"""Double programming of the skin model: the engine and a plain reference agree in distribution.

``tests/reference_model/skin_plain.py`` re-implements docs/model.md §7 (CLASI, subtypes, the
weekly latent course, damage, rater noise, SLEDAI skin descriptors, cohorts and trials) from the
text alone, one patient and one week at a time, with the SLE reference's own PK. Both simulate
large cohorts of the shipped ``clasi_realworld`` scenario with the design overridden so that
every assessment of every patient is seen (:data:`BIG_COHORT`), on the drug and off it (the
engine with ``skin.drug.emax: 0``, the reference with X = 0). Each pre-declared statistic
(:func:`statistics`: a mean over patients of a per-patient value) is compared by a two-sample
z-test; it must lie within ``Z_MAX``:

* mean CLASI-A at every assessment month, mean CLASI-D at months 12 and 60, the share of each
  SLEDAI skin descriptor (rash, alopecia, mucosal ulcers, vasculitis) and the mean skin SLEDAI
  points at baseline and month 12, CLASI-20/50/100 at month 12, the subtype shares of the
  eligible, by subtype the mean CLASI-A at baseline and month 12 and CLASI-D at month 60
  (on drug);
* mean CLASI-A at every month, CLASI-D at month 60 and CLASI-50 at month 12 (off drug);
* the trial's primary response per arm (``clasi_rct``: CLASI-50 at week 24, entry CLASI-A >=
  10, no dropout) against the engine's trial of the same design.

Power: the same comparison run against a reference with a deliberate error (each subtype's
``drug_sensitivity`` ignored; the ``scale_shift`` ignored) must fail, by far.

Engine and reference draw different random numbers (the engine's generator is counter-based),
so only distributions are compared. Both are seeded: the test is deterministic. The reference
runs in two spawned worker processes with single-threaded BLAS: SciPy's bundled OpenBLAS
otherwise wakes its threads for each 4x4 matrix exponential of the PK (milliseconds each on a
busy 2-core machine).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest

from tests.reference_model import skin_plain as ref
from trialsim.analysis.cohort import t_quantiles
from trialsim.config.skin import load_skin_scenario
from trialsim.experiments.skin import cohort_replicate, trial_replicate
from trialsim.model.skin import skin_params

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
REALWORLD = CONFIGS / "clasi_realworld.yaml"
RCT = CONFIGS / "clasi_rct.yaml"

#: limit of |z| of every pre-declared statistic
Z_MAX = 4.0
#: patients per cohort (engine and reference)
N = 3000
#: a cohort in which every assessment of every patient is evaluable
BIG_COHORT = {
    "design.sample_size": N,
    "design.min_months_on_drug": 0,
    "design.stop_per_year": 0.0,
    "design.lost_per_year": 0.0,
    "design.follow_up.min_months": 60,
    "design.follow_up.max_months": 60,
}
OFF_DRUG = {"skin.drug.emax": 0.0}
#: the first year only (assessments at months 0, 3, 6, 12)
FIRST_YEAR = {"design.assessment_months": [0.0, 3.0, 6.0, 12.0]}
#: a cohort of SCLE patients only: the subtype with its own drug sensitivity (0.4)
SCLE_ONLY = {f"population.subtypes.{s}": float(s == "scle") for s in ref.SUBTYPES}
#: the deliberate errors of the power checks (reference only)
NO_DRUG_SENSITIVITY = {f"skin.subtypes.{s}.drug_sensitivity": 1.0 for s in ref.SUBTYPES}
NO_SCALE_SHIFT = {f"skin.subtypes.{s}.scale_shift": 0.0 for s in ref.SUBTYPES}
#: the trial of the per-arm comparison: no dropout, so that the response is the course's
TRIAL = {"design.sample_size": 2000, "design.dropout_per_year": 0.0}
TRIAL_WEEK = 24
#: the reference's seeds (independent of the engine's)
SEEDS = {"on_a": 7101, "on_b": 7102, "off": 7103, "scle": 7104, "scle_no_sens": 7105,
         "no_shift": 7106, "trial": 7107}


@dataclass
class Cohort:
    """Patients x assessments, as the engine's patient table (all evaluable)."""

    subtype: np.ndarray
    clasi_a: np.ndarray
    clasi_d: np.ndarray
    sledai: np.ndarray
    descriptors: np.ndarray  # (n, n_assess, 4): rash, alopecia, mucosal ulcers, vasculitis

    @classmethod
    def concat(cls, parts: list[ref.CohortResult]) -> Cohort:
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("subtype", "clasi_a", "clasi_d", "sledai_points", "descriptors")))


def engine_trial() -> np.ndarray:
    """The engine's trial of ``TRIAL``: responders and patients per arm × subtype."""
    sc = load_skin_scenario(RCT, TRIAL)
    return trial_replicate(sc, skin_params(sc), 0)["counts"]


def engine_cohort(overrides: dict) -> Cohort:
    """The engine's study patients of replicate 0 of ``clasi_realworld`` with ``overrides``."""
    sc = load_skin_scenario(REALWORLD, overrides)
    n = sc.design.sample_size
    _, subtype, clasi_a, clasi_d, sledai, descriptors, evaluable = (
        cohort_replicate(sc, skin_params(sc), 0, t_quantiles(n))["patients"])
    assert evaluable.all() and len(subtype) == n, "the big cohort must see every assessment"
    return Cohort(subtype, clasi_a, clasi_d, sledai, descriptors)


def first_assessments(c: Cohort, k: int) -> Cohort:
    """The first ``k`` assessments of a cohort."""
    return Cohort(c.subtype, c.clasi_a[:, :k], c.clasi_d[:, :k], c.sledai[:, :k],
                  c.descriptors[:, :k])


def statistics(c: Cohort, months: list[float], min_baseline: float, on_drug: bool,
               by_subtype: bool = True) -> dict[str, np.ndarray]:
    """The pre-declared statistics: each the mean over patients of the array it names.

    Off drug: mean CLASI-A at every month, CLASI-D at the last, CLASI-50 at month 12. On
    drug, also: CLASI-D at month 12, each descriptor's share and the skin SLEDAI points at
    months 0 and 12, CLASI-20 and -100 at month 12, and (``by_subtype``) per subtype its
    share and its mean CLASI-A at months 0 and 12 and CLASI-D at the last month.
    """
    out: dict[str, np.ndarray] = {}
    for j, m in enumerate(months):
        out[f"mean CLASI-A month {m:g}"] = c.clasi_a[:, j]
    m12, last = months.index(12.0), len(months) - 1
    out[f"mean CLASI-D month {months[last]:g}"] = c.clasi_d[:, last]
    base = c.clasi_a[:, 0]
    response = {k: np.array([ref.clasi_response(b, v, k, min_baseline)
                             for b, v in zip(base, c.clasi_a[:, m12], strict=True)])
                for k in (20, 50, 100)}
    if not on_drug:
        out["CLASI-50 month 12"] = response[50]
        return out
    out["mean CLASI-D month 12"] = c.clasi_d[:, m12]
    for j, m in ((0, 0.0), (m12, 12.0)):
        for d, name in enumerate(ref.DESCRIPTOR_NAMES):
            out[f"share {name} month {m:g}"] = c.descriptors[:, j, d].astype(float)
        out[f"mean skin SLEDAI month {m:g}"] = c.sledai[:, j]
    for k, flags in response.items():
        out[f"CLASI-{k} month 12"] = flags
    if by_subtype:
        for s, name in enumerate(ref.SUBTYPES):
            mask = c.subtype == s
            out[f"share {name}"] = mask.astype(float)
            out[f"mean CLASI-A month 0, {name}"] = c.clasi_a[mask, 0]
            out[f"mean CLASI-A month 12, {name}"] = c.clasi_a[mask, m12]
            out[f"mean CLASI-D month {months[last]:g}, {name}"] = c.clasi_d[mask, last]
    return out


def z_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Means of two independent samples and the z of their difference."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ma, mb = a.mean(), b.mean()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    if se == 0.0:
        return ma, mb, 0.0 if ma == mb else math.inf
    return ma, mb, (ma - mb) / se


def compare(engine: Cohort, reference: Cohort, months: list[float], on_drug: bool = True,
            by_subtype: bool = True) -> dict[str, tuple]:
    """Every pre-declared statistic (:func:`statistics`): (engine, reference, z)."""
    min_baseline = load_skin_scenario(REALWORLD).min_baseline
    se = statistics(engine, months, min_baseline, on_drug, by_subtype)
    sr = statistics(reference, months, min_baseline, on_drug, by_subtype)
    return {name: z_test(se[name], sr[name]) for name in se}


def failures(table: dict[str, tuple]) -> list[str]:
    """The statistics of a comparison outside ``Z_MAX``, with both values and z."""
    return [f"{name}: engine {e:.4f}, reference {r:.4f}, z {z:+.2f}"
            for name, (e, r, z) in table.items() if not abs(z) < Z_MAX]


# --------------------------------------------------------------------------- the runs


def _reference_jobs() -> dict[str, tuple]:
    """The reference's runs: name -> (function, arguments)."""
    big = load_skin_scenario(REALWORLD, BIG_COHORT)
    scle = load_skin_scenario(REALWORLD, {**BIG_COHORT, **FIRST_YEAR, **SCLE_ONLY})
    scle_no_sens = load_skin_scenario(
        REALWORLD, {**BIG_COHORT, **FIRST_YEAR, **SCLE_ONLY, **NO_DRUG_SENSITIVITY})
    no_shift = load_skin_scenario(REALWORLD, {**BIG_COHORT, **FIRST_YEAR, **NO_SCALE_SHIFT})
    half = N // 2
    return {
        "on_a": (ref.simulate_cohort, (big, half, SEEDS["on_a"])),
        "on_b": (ref.simulate_cohort, (big, N - half, SEEDS["on_b"])),
        "off": (ref.simulate_cohort, (big, N, SEEDS["off"], False)),
        "scle": (ref.simulate_cohort, (scle, N, SEEDS["scle"])),
        "scle_no_sens": (ref.simulate_cohort, (scle_no_sens, N, SEEDS["scle_no_sens"])),
        "no_shift": (ref.simulate_cohort, (no_shift, N, SEEDS["no_shift"])),
        "trial": (ref.simulate_trial, (load_skin_scenario(RCT, TRIAL), SEEDS["trial"])),
    }


@pytest.fixture(scope="module")
def runs() -> dict:
    """All runs: the reference's in two single-threaded worker processes, the engine's here
    meanwhile."""
    saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                            "MKL_NUM_THREADS")}
    os.environ.update(dict.fromkeys(saved, "1"))  # inherited by the spawned workers
    try:
        with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
            futures = {name: pool.submit(fn, *args)
                       for name, (fn, args) in _reference_jobs().items()}
            out = {
                "engine_on": engine_cohort(BIG_COHORT),
                "engine_off": engine_cohort({**BIG_COHORT, **OFF_DRUG}),
                "engine_scle": engine_cohort({**BIG_COHORT, **FIRST_YEAR, **SCLE_ONLY}),
                "engine_trial": engine_trial(),
            }
            res = {name: f.result() for name, f in futures.items()}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out["reference_on"] = Cohort.concat([res["on_a"], res["on_b"]])
    for name in ("off", "scle", "scle_no_sens", "no_shift"):
        out[f"reference_{name}"] = Cohort.concat([res[name]])
    out["reference_trial"] = res["trial"]
    return out


# --------------------------------------------------------------------------- the tests

MONTHS = [0.0, 3.0, 6.0, 12.0, 24.0, 36.0, 48.0, 60.0]
YEAR_ONE = MONTHS[:4]


def test_schedule_is_clasi_realworld():
    assert load_skin_scenario(REALWORLD).design.assessment_months == MONTHS


def test_on_drug_cohort_agrees(runs):
    table = compare(runs["engine_on"], runs["reference_on"], MONTHS)
    assert len(table) == 8 + 2 + 10 + 3 + 16  # the pre-declared statistics
    bad = failures(table)
    assert not bad, "engine and reference differ:\n" + "\n".join(bad)


def test_untreated_course_agrees(runs):
    table = compare(runs["engine_off"], runs["reference_off"], MONTHS, on_drug=False)
    assert len(table) == 8 + 1 + 1
    bad = failures(table)
    assert not bad, "engine (emax 0) and reference (off drug) differ:\n" + "\n".join(bad)


def test_scle_cohort_agrees(runs):
    """SCLE alone (its drug sensitivity 0.4, dyspigmentation, scale), first year."""
    assert (runs["engine_scle"].subtype == ref.SUBTYPES.index("scle")).all()
    table = compare(runs["engine_scle"], runs["reference_scle"], YEAR_ONE, by_subtype=False)
    assert len(table) == 4 + 1 + 10 + 3
    bad = failures(table)
    assert not bad, "engine and reference differ on SCLE:\n" + "\n".join(bad)


def test_drug_effect_is_there(runs):
    """Sanity: the comparisons above are not of two flat courses (on vs off drug, month 12)."""
    on, off = runs["reference_on"].clasi_a[:, 3], runs["reference_off"].clasi_a[:, 3]
    assert z_test(off, on)[2] > 3 * Z_MAX


def test_trial_primary_response_per_arm(runs):
    """The trial's CLASI-50 at week 24 per arm (reference ``simulate_trial``, no dropout) vs the
    engine's trial (``trial_replicate``, the same design; its trial effect included)."""
    trial = runs["reference_trial"]
    sc = load_skin_scenario(RCT, TRIAL)
    assert sc.design.primary_week == TRIAL_WEEK and sc.design.primary_response == 50
    counts = runs["engine_trial"]
    bad = []
    for arm in ("placebo", "belimumab"):
        e_arm = list(sc.design.arms).index(arm)
        engine = np.zeros(int(counts[e_arm, :, 1].sum()))
        engine[:int(counts[e_arm, :, 0].sum())] = 1.0
        a = trial.arms.index(arm)
        reference = np.zeros(trial.n[a])
        reference[:trial.responders[a]] = 1.0
        e, r, z = z_test(engine, reference)
        if not abs(z) < Z_MAX:
            bad.append(f"CLASI-50 week 24, {arm}: engine {e:.4f}, reference {r:.4f}, z {z:+.2f}")
    assert not bad, "\n".join(bad)
    # permuted blocks of 4 within 4 subtypes: the arms differ by at most 2 per stratum
    assert abs(int(trial.n[0]) - int(trial.n[1])) <= 2 * len(ref.SUBTYPES)


def test_detects_ignored_drug_sensitivity(runs):
    """Power: the SCLE comparison fails against a reference that ignores the subtype's
    drug_sensitivity (reads SCLE's 0.4 as 1)."""
    table = compare(runs["engine_scle"], runs["reference_scle_no_sens"], YEAR_ONE,
                    by_subtype=False)
    assert abs(table["mean CLASI-A month 12"][2]) > 2 * Z_MAX
    assert failures(table)


def test_detects_ignored_scale_shift(runs):
    """Power: the first-year comparison fails against a reference that grades scale without
    the subtype's scale_shift, by the baseline CLASI-A of ACLE (-1.0) and non-specific lesions
    (-1.5) first of all."""
    engine = first_assessments(runs["engine_on"], len(YEAR_ONE))
    table = compare(engine, runs["reference_no_shift"], YEAR_ONE)
    assert abs(table["mean CLASI-A month 0, acle"][2]) > Z_MAX
    assert abs(table["mean CLASI-A month 0, nonspecific"][2]) > Z_MAX
    assert failures(table)
