"""Double programming of CLASI in the SLE trials (docs/model.md §7a): engine vs plain reference.

``tests/reference_model/trial_clasi_plain.py`` re-implements §7a from the document alone
(rash subtype, lesion-prone areas, patient and area levels, the latent activity
``L_v = mean_activity_s + u + c (g_v + D_v − g_0) − c_d · drug_sensitivity_s · D_v`` with
c = ``skin.coupling`` and c_d = ``skin.drug_coupling``, the lesion map conditioned on the
course's skin bits, CLASI-A; the CLASI-k endpoint codes). The engine's course outputs of the
same patients (skin bits, global activity, drug effect) are fed to the reference, so that only
the CLASI map differs; engine and reference draw different random numbers, so its
distribution is compared.

**Statistics.** Each is a ratio Σ_i a_i / Σ_i b_i over patients i of per-patient values (a
mean over a subset fixed by the course's outputs, pooled visits, a responder rate among the
evaluable). Engine and reference are paired by patient (same course), and the z of their
difference uses the per-patient linearisation ψ_i = (a_i − R b_i) / mean(b) of each side:
z = (R_engine − R_reference) / (sd(ψ_engine − ψ_reference) / √n). Patients are independent
given the scenario, so under the null (same distribution of the map given the course) z is
approximately N(0, 1). Every statistic must have |z| < ``Z_MAX`` = 4: 36 statistics in each
of three scenarios, a family-wise false-alarm probability below 108 × 6.3e-5 ≈ 0.7 %
(Bonferroni). All seeds are fixed (the engine's by the scenario, the reference's here): the
test is deterministic. (With 80 replicates and three reference seeds per scenario, no
statistic reached |z| = 3.)

**Scenarios** (bliss76, 819 patients per replicate): ``main``, as shipped (c = 0, c_d = 1:
the lesions move only with the drug, whose effect on the SLEDAI scale is small, ~0.16 at
10 mg/kg); ``scle``, SCLE only (drug sensitivity 0.4) with ``drug.emax`` 3 (~15 times the
drug effect) and the shipped c and c_d, where the drug term ``c_d · drug_sensitivity_s · D_v``
shows; ``coupled``, c = 1, c_d = 0.5 and ``drug.emax`` 3, where the change of the global
activity without the drug and the drug's own slope both show and differ.

Runtime: about 10 s once the engine's numba kernels are compiled (their first compilation,
shared with every other engine test, takes a few minutes cold), so nothing is marked
``slow``.

**Exact checks.** The invariants §7a implies for every engine patient and visit (CLASI-A 0
exactly when no bit is on; rash on ⇒ ≥ 1; mucosal ulcers alone ⇒ exactly 1; alopecia alone ⇒
2–4; rash off ⇒ ≤ 5; ...), and the CLASI-k endpoint codes of the reference applied to the
engine's own CLASI-A against ``ENDPOINTS`` / ``EVALUABLE`` at every visit; and the course is
the same with and without the CLASI endpoints (§7a: the map has its own stage).

**Power.** Deliberately wrong references must be detected by a named statistic with |z| >
``Z_POWER`` = 8 (and fail the comparison as a whole). In ``coupled``: the latent activity
without the change in global activity; that change taken with the drug (``g_v − g_0``, the
drug counted twice); c_d read as c (which is also §7a's previous formula, c_d = c, and, as
c = 1 there, a c_d hard-coded to its default 1); c and c_d swapped; no forced erythema-1
area; no alopecia floor. In ``scle``: the drug sensitivity ignored; c_d read as c (= 0: the
skin without the drug). In ``main`` these have little power (c = 0 and a small drug effect),
which is why the other two scenarios exist.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.reference_model import trial_clasi_plain as ref
from trialsim.analysis.endpoints import ENDPOINTS, EVALUABLE
from trialsim.config.scenario import load_scenario
from trialsim.model.clasi import BIT_ALOPECIA, BIT_RASH, BIT_ULCERS
from trialsim.run.trial import ReplicatePatients

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BLISS76 = CONFIGS / "bliss76.yaml"
BASE = {"analysis.endpoints": ["sri4", "clasi20", "clasi50", "clasi100"],
        "design.sample_size": 819}
#: SCLE only (drug sensitivity 0.4) and a drug effect ~15 times bliss76's (shipped c = 0,
#: c_d = 1): power for the drug term c_d · drug_sensitivity_s · D_v
SCLE_STRONG_DRUG = {**BASE, "skin.subtypes.acle": 0.0, "skin.subtypes.scle": 1.0,
                    "skin.subtypes.dcle": 0.0, "drug.emax": 3.0}
#: c > 0 and c_d other than c and the shipped 1, with the stronger drug: power for the
#: change of the global activity without the drug and for the drug's own slope
COUPLED = {**BASE, "skin.coupling": 1.0, "skin.drug_coupling": 0.5, "drug.emax": 3.0}

#: limit of |z| of every pre-declared statistic
Z_MAX = 4.0
#: a wrong reference must miss by at least this
Z_POWER = 2 * Z_MAX
#: replicates pooled (819 patients each)
N_REPLICATES = {"main": 20, "scle": 10, "coupled": 30}
#: the reference's seeds (independent of the engine's)
SEEDS = {"main": 761001, "scle": 761002, "coupled": 761003, "no_change": 761004,
         "no_forced": 761005, "no_floor": 761006, "scle_no_sens": 761007,
         "scle_cd_as_c": 761008, "no_add_back": 761009, "cd_as_c": 761010,
         "swapped": 761011, "main_no_forced": 761012, "main_no_floor": 761013}
WEEK52, WEEK76 = 52, 76
KS = (20, 50, 100)


@dataclass
class Pool:
    """Engine patients of several replicates: the course's outputs and the engine's CLASI-A."""

    scenario: object
    bits: np.ndarray  # (n, n_visits) int64
    global_activity: np.ndarray
    drug_effect: np.ndarray
    clasi: np.ndarray  # (n, n_visits) int64
    arm: np.ndarray
    dropout: np.ndarray
    failure: np.ndarray
    min_baseline: float
    interval: int
    trials: list

    def visit(self, week: int) -> int:
        assert week % self.interval == 0
        return week // self.interval

    def params(self) -> ref.TrialSkinParams:
        return ref.TrialSkinParams.from_scenario(self.scenario)

    def reference(self, seed: int, params: ref.TrialSkinParams | None = None,
                  **switches) -> np.ndarray:
        """The reference's CLASI-A of these patients (its own generator), with the scenario's
        parameters unless ``params`` is given."""
        clasi, _ = ref.reference_clasi(self.scenario if params is None else params,
                                       self.bits, self.global_activity, self.drug_effect,
                                       np.random.default_rng(seed), **switches)
        return clasi


def engine_pool(overrides: dict, n_replicates: int) -> Pool:
    sc = load_scenario(BLISS76, overrides)
    make = ReplicatePatients(sc)
    trials = [make(r) for r in range(n_replicates)]

    def cat(get):
        return np.concatenate([get(t) for t in trials])

    mins = {float(t.clasi_min_baseline) for t in trials}
    assert len(mins) == 1
    return Pool(
        scenario=sc,
        bits=cat(lambda t: t.course.skin_bits).astype(np.int64),
        global_activity=cat(lambda t: t.course.global_activity),
        drug_effect=cat(lambda t: t.course.drug_effect),
        clasi=cat(lambda t: t.clasi).astype(np.int64),
        arm=cat(lambda t: t.arm),
        dropout=cat(lambda t: t.course.dropout_visit),
        failure=cat(lambda t: t.course.failure_visit),
        min_baseline=mins.pop(),
        interval=int(trials[0].interval_weeks),
        trials=trials,
    )


# --------------------------------------------------------------------------- statistics


def statistics(p: Pool, clasi: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The pre-declared statistics of the CLASI-A ``clasi`` of the pool's patients: name ->
    (a, b) per-patient arrays, the statistic Σa/Σb. Subsets are fixed by the course's
    outputs (bits, arm), except the endpoint rates' evaluable patients (baseline CLASI-A)."""
    c = clasi.astype(float)
    bits = p.bits
    on = bits > 0
    rash = (bits & BIT_RASH) > 0
    one = np.ones(len(c))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    v52, v76 = p.visit(WEEK52), p.visit(WEEK76)
    for v in (0, 1, 2, 3, 6, 9, v52, 16, v76):
        out[f"mean CLASI-A, any bit on, visit {v}"] = (c[:, v] * on[:, v], on[:, v] * one)
    for v in (0, v52):
        out[f"mean CLASI-A, rash on, visit {v}"] = (c[:, v] * rash[:, v], rash[:, v] * one)
        off = on[:, v] & ~rash[:, v]
        out[f"mean CLASI-A, bits on but rash off, visit {v}"] = (c[:, v] * off, off * one)
    out["mean CLASI-A^2, any bit on, visit 0"] = (c[:, 0] ** 2 * on[:, 0], on[:, 0] * one)
    out["share CLASI-A >= 10, visit 0"] = ((c[:, 0] >= 10) * one, one)
    out["share CLASI-A >= 21, visit 0"] = ((c[:, 0] >= 21) * one, one)
    for a, name in enumerate(p.scenario.design.arms):
        in_arm = (p.arm == a) * one
        out[f"mean CLASI-A, arm {name}, week 52"] = (c[:, v52] * in_arm, in_arm)
    # pooled over all visits (clustered by patient: the ratio's linearisation handles it)
    rash_only = bits == BIT_RASH
    out["share CLASI-A = 1 (one erythema point), rash only, all visits"] = (
        ((c == 1) & rash_only).sum(axis=1), rash_only.sum(axis=1))
    out["share CLASI-A >= 5, rash only, all visits"] = (
        ((c >= 5) & rash_only).sum(axis=1), rash_only.sum(axis=1))
    out["mean CLASI-A, rash only, all visits"] = (
        (c * rash_only).sum(axis=1), rash_only.sum(axis=1))
    alopecia_only = bits == BIT_ALOPECIA
    out["mean CLASI-A, alopecia only, all visits"] = (
        (c * alopecia_only).sum(axis=1), alopecia_only.sum(axis=1))
    out["share CLASI-A = 4 (grade 3), alopecia only, all visits"] = (
        ((c == 4) & alopecia_only).sum(axis=1), alopecia_only.sum(axis=1))
    for week, visit, ks in ((WEEK52, v52, KS), (WEEK76, v76, (50,))):
        for k in ks:
            codes = ref.clasi_endpoint_codes(clasi, p.dropout, p.failure, visit, k,
                                             p.min_baseline)
            for a, name in enumerate(p.scenario.design.arms):
                evaluable = (p.arm == a) & (codes != ref.NOT_EVALUABLE)
                out[f"CLASI-{k} rate, arm {name}, week {week}"] = (
                    (evaluable & (codes == ref.RESPONDER)) * one, evaluable * one)
    return out


def paired_ratio_z(engine: tuple, reference: tuple) -> tuple[float, float, float]:
    """Σa/Σb of each side and the z of their difference, paired by patient (the module
    docstring's linearisation)."""
    (ae, be), (ar, br) = ([np.asarray(x, float) for x in side] for side in (engine, reference))
    re, rr = ae.sum() / be.sum(), ar.sum() / br.sum()
    d = (ae - re * be) / be.mean() - (ar - rr * br) / br.mean()
    se = d.std(ddof=1) / math.sqrt(len(d))
    if se == 0.0:
        return re, rr, 0.0 if re == rr else math.inf
    return re, rr, (re - rr) / se


def compare(p: Pool, reference_clasi: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """Every pre-declared statistic: (engine, reference, z)."""
    se, sr = statistics(p, p.clasi), statistics(p, reference_clasi)
    return {name: paired_ratio_z(se[name], sr[name]) for name in se}


def table_text(table: dict) -> str:
    return "\n".join(f"  {name:<62} engine {e:8.4f}  reference {r:8.4f}  z {z:+6.2f}"
                     for name, (e, r, z) in table.items())


def failures(table: dict) -> list[str]:
    return [name for name, (_, _, z) in table.items() if not abs(z) < Z_MAX]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def main() -> Pool:
    return engine_pool(BASE, N_REPLICATES["main"])


@pytest.fixture(scope="module")
def scle() -> Pool:
    return engine_pool(SCLE_STRONG_DRUG, N_REPLICATES["scle"])


@pytest.fixture(scope="module")
def coupled() -> Pool:
    return engine_pool(COUPLED, N_REPLICATES["coupled"])


# --------------------------------------------------------------------------- the reference alone


def test_reference_endpoint_codes_by_hand():
    """The reference's CLASI-k codes on a hand-made case (threshold 10, k = 50)."""
    clasi = np.array([[9, 0], [10, 5], [10, 6], [20, 10], [20, 10], [20, 10], [12, 0]])
    dropout = np.array([9, 9, 9, 9, 1, 9, 2])
    failure = np.array([9, 9, 9, 9, 9, 1, 9])
    codes = ref.clasi_endpoint_codes(clasi, dropout, failure, 1, 50, 10)
    assert codes.tolist() == [ref.NOT_EVALUABLE, ref.RESPONDER, ref.NON_RESPONDER,
                              ref.RESPONDER, ref.NON_RESPONDER, ref.NON_RESPONDER,
                              ref.RESPONDER]
    # CLASI-100 is CLASI-A 0; a fall of exactly 20% is a CLASI-20 response
    assert ref.clasi_endpoint_codes(clasi, dropout, failure, 1, 100, 10).tolist()[-1] == 1
    assert ref.clasi_response(np.array([15.0]), np.array([12.0]), 20, 10).tolist() == [True]


# --------------------------------------------------------------------------- exact checks


def test_scenario_is_as_assumed(main, scle, coupled):
    sc = main.scenario
    assert main.interval == 4 and main.visit(WEEK52) == 13 and main.bits.shape[1] == 20
    assert main.min_baseline == 10.0
    assert list(sc.design.arms) == ["placebo", "bel1", "bel10"]
    # the shipped c = 0 and c_d = 1 (§7a), and the reference reads both from the scenario
    assert (sc.skin.coupling, sc.skin.drug_coupling) == (0.0, 1.0)
    assert [(p.params().coupling, p.params().drug_coupling) for p in (main, scle, coupled)] == [
        (0.0, 1.0), (0.0, 1.0), (1.0, 0.5)]
    assert scle.params().shares.tolist() == [0.0, 1.0, 0.0]
    assert scle.params().drug_sensitivity[1] == 0.4
    assert scle.scenario.drug.emax == coupled.scenario.drug.emax == 3.0
    assert (BIT_RASH, BIT_ALOPECIA, BIT_ULCERS) == (ref.BIT_RASH, ref.BIT_ALOPECIA,
                                                    ref.BIT_ULCERS)
    # the inputs of §7a: no drug effect on placebo or at baseline, bits within 0-7
    assert (main.drug_effect[main.arm == 0] == 0).all() and (main.drug_effect[:, 0] == 0).all()
    assert main.bits.min() >= 0 and main.bits.max() <= 7


def _invariant_violations(bits: np.ndarray, clasi: np.ndarray) -> list[str]:
    """§7a's exact consequences, per patient and visit: name -> count of violations."""
    rash = (bits & BIT_RASH) > 0
    alopecia = (bits & BIT_ALOPECIA) > 0
    ulcers = ((bits & BIT_ULCERS) > 0).astype(int)
    # what the non-rash items give: mucous 1 and, with alopecia, hair loss 1 + grade 1-3
    low = ulcers + 2 * alopecia
    high = ulcers + 4 * alopecia
    checks = {
        "CLASI-A 0 exactly when no bit is on": (clasi == 0) != (bits == 0),
        "rash on: CLASI-A >= 1 + the other items' minimum": rash & (clasi < 1 + low),
        "rash on: CLASI-A <= 65 + the other items' maximum": rash & (clasi > 65 + high),
        "rash off: CLASI-A within ulcers + alopecia's 2-4": ~rash & ((clasi < low)
                                                                     | (clasi > high)),
        "ulcers alone: CLASI-A exactly 1": (bits == BIT_ULCERS) & (clasi != 1),
        "within 0-70": (clasi < 0) | (clasi > 70),
    }
    return [f"{name}: {int(bad.sum())}" for name, bad in checks.items() if bad.any()]


def test_engine_exact_invariants(main, scle, coupled):
    for pool in (main, scle, coupled):
        bad = _invariant_violations(pool.bits, pool.clasi)
        assert not bad, "engine CLASI-A breaks §7a:\n" + "\n".join(bad)
    # every bit pattern occurs, so none of the checks is vacuous
    assert set(np.unique(main.bits)) == set(range(8))


def test_reference_exact_invariants(main, coupled):
    assert not _invariant_violations(main.bits, main.reference(SEEDS["main"]))
    assert not _invariant_violations(coupled.bits, coupled.reference(SEEDS["coupled"]))
    # and the invariants can fail: a reference without the forced area or the alopecia floor
    no_forced = _invariant_violations(main.bits, main.reference(SEEDS["main_no_forced"],
                                                                forced_lesion=False))
    no_floor = _invariant_violations(main.bits, main.reference(SEEDS["main_no_floor"],
                                                               alopecia_floor=False))
    assert any(m.startswith("rash on: CLASI-A >= 1") for m in no_forced), no_forced
    assert any(m.startswith("rash off") for m in no_floor), no_floor


@pytest.mark.parametrize("k", KS)
def test_endpoint_codes_agree_exactly(main, k):
    """The reference's CLASI-k codes from the engine's own CLASI-A, dropout and failure
    visits equal ``EVALUABLE`` / ``ENDPOINTS`` at every visit (deterministic)."""
    name = f"clasi{k}"
    offset = 0
    n_visits = main.bits.shape[1]
    for t in main.trials:
        n = len(t.arm)
        sl = slice(offset, offset + n)
        offset += n
        for v in range(n_visits):
            codes = ref.clasi_endpoint_codes(main.clasi[sl], main.dropout[sl],
                                             main.failure[sl], v, k, main.min_baseline)
            evaluable = np.asarray(EVALUABLE[name](t, v), dtype=bool)
            flags = np.asarray(ENDPOINTS[name](t, v), dtype=bool)
            assert np.array_equal(evaluable, codes != ref.NOT_EVALUABLE), (name, v)
            assert np.array_equal(flags[evaluable], codes[evaluable] == ref.RESPONDER), (name, v)
            assert not flags[~evaluable].any(), (name, v)
    assert offset == len(main.arm)


def test_clasi_leaves_the_course_unchanged(main):
    """§7a: with the CLASI endpoints the course's draws are the same (the map has its own
    stage). Without them the course does not record its skin outputs at all."""
    sc = load_scenario(BLISS76, {**BASE, "analysis.endpoints": ["sri4"]})
    plain = ReplicatePatients(sc)(0)
    with_clasi = main.trials[0]
    assert plain.clasi is None
    compared = []
    for field in dataclasses.fields(plain.course):
        mine, theirs = getattr(plain.course, field.name), getattr(with_clasi.course, field.name)
        if mine is None:
            assert field.name in ("skin_bits", "global_activity", "drug_effect"), field.name
            continue
        assert np.array_equal(mine, theirs), field.name
        compared.append(field.name)
    assert {"sledai", "dropout_visit", "failure_visit", "prednisone"} <= set(compared)
    assert np.array_equal(plain.arm, with_clasi.arm)


# --------------------------------------------------------------------------- distributions


def test_clasi_distribution_agrees(main):
    table = compare(main, main.reference(SEEDS["main"]))
    print(f"\nbliss76, {len(main.arm)} patients:\n{table_text(table)}")
    assert len(table) == 9 + 4 + 1 + 2 + 3 + 5 + 12  # the pre-declared statistics
    bad = failures(table)
    assert not bad, "engine and reference differ:\n" + table_text({b: table[b] for b in bad})


def test_scle_strong_drug_agrees(scle):
    """SCLE only (drug sensitivity 0.4) with a drug effect large enough to show it."""
    table = compare(scle, scle.reference(SEEDS["scle"]))
    print("\nSCLE, drug.emax 3 (c 0, c_d 1):\n" + table_text(table))
    bad = failures(table)
    assert not bad, "engine and reference differ:\n" + table_text({b: table[b] for b in bad})


def test_coupled_agrees(coupled):
    """c = 1, c_d = 0.5, drug.emax 3."""
    table = compare(coupled, coupled.reference(SEEDS["coupled"]))
    print("\ncoupling 1, drug_coupling 0.5, drug.emax 3:\n" + table_text(table))
    bad = failures(table)
    assert not bad, "engine and reference differ:\n" + table_text({b: table[b] for b in bad})


# --------------------------------------------------------------------------- power

#: name -> (the pool's fixture, the wrong reference's seed name, its switches, its parameters
#: from the scenario's (None: the scenario's own), the statistic that must detect it)
WRONG = {
    "no change in global activity (c ignored)": (
        "coupled", "no_change", {"use_activity_change": False}, None,
        "mean CLASI-A, any bit on, visit 13"),
    "change of the global activity with the drug (g_v - g_0)": (
        "coupled", "no_add_back", {"add_back_drug": False}, None,
        "mean CLASI-A, arm bel10, week 52"),
    "c_d read as c (the previous formula)": (
        "coupled", "cd_as_c", {}, lambda p: {"drug_coupling": p.coupling},
        "mean CLASI-A, arm bel10, week 52"),
    "c and c_d swapped": (
        "coupled", "swapped", {}, lambda p: {"coupling": p.drug_coupling,
                                             "drug_coupling": p.coupling},
        "share CLASI-A = 1 (one erythema point), rash only, all visits"),
    "no forced erythema-1 area": (
        "coupled", "no_forced", {"forced_lesion": False}, None,
        "share CLASI-A = 1 (one erythema point), rash only, all visits"),
    "no alopecia floor": (
        "coupled", "no_floor", {"alopecia_floor": False}, None,
        "mean CLASI-A, alopecia only, all visits"),
    "drug sensitivity ignored": (
        "scle", "scle_no_sens", {"use_drug_sensitivity": False}, None,
        "mean CLASI-A, arm bel10, week 52"),
    "c_d read as c = 0 (no drug in the skin)": (
        "scle", "scle_cd_as_c", {}, lambda p: {"drug_coupling": p.coupling},
        "mean CLASI-A, arm bel10, week 52"),
}


@pytest.mark.parametrize("variant", list(WRONG))
def test_wrong_reference_is_detected(variant, request):
    pool_name, seed, switches, wrong_params, statistic = WRONG[variant]
    pool = request.getfixturevalue(pool_name)
    params = None
    if wrong_params is not None:
        right = pool.params()
        params = dataclasses.replace(right, **wrong_params(right))
        # the wrong value differs in this scenario
        assert ((params.coupling, params.drug_coupling)
                != (right.coupling, right.drug_coupling))
    table = compare(pool, pool.reference(SEEDS[seed], params, **switches))
    print(f"\nwrong reference ({variant}):\n" + table_text(table))
    assert abs(table[statistic][2]) > Z_POWER, table_text({statistic: table[statistic]})
    assert failures(table)
