"""Double programming: the fast engine and the plain reference agree in distribution.

``tests/reference_model/plain.py`` re-implements docs/model.md §1-4 independently of the
engine (one trial, one patient and one visit at a time, plain Python loops, its own descriptor
table transcribed from domain.md). On the shipped ``bliss76`` scenario, at whatever parameter
values ``configs/`` holds when the test runs, both are simulated and compared:

* arm-level response rates at weeks 52 and 76 and baseline marginals, each cell within
  ``Z_MAX`` combined Monte Carlo standard errors (``steroid_sparing``'s over its evaluable
  patients, on > 7.5 mg/day prednisone at baseline, and their share of each arm);
* the course beyond response rates, patient by patient, in families: endpoint flags, SFI
  flares at every visit, treatment failure / dropout / first flare by weeks 24, 52 and 76,
  the SELENA-SLEDAI trajectory, prednisone; per family one Hotelling test of the arm means
  (all cells of a family at once, their correlation taken into account) and a per-cell
  limit; and the Kaplan–Meier median time to first flare per arm.

Steroid sparing is also compared exactly, patient by patient: the reference's definition
applied to the courses the engine simulated gives the engine's responder flags and
evaluable masks at every visit, and the compiled trial's arm rates and denominators
(``test_steroid_sparing_patient_by_patient``).

The fast version (``PLAIN_TRIALS`` plain trials) is part of ``make test`` and detects a
shift of about 2.5 percentage points in one endpoint's rates; the ``slow`` version (``make
validate``) runs ``SLOW_PLAIN_TRIALS`` and detects a 1 point shift (per-arm SE ~0.17 pp).

The proteinuria reading: docs/model.md says baseline proteinuria is log-normal, clipped at
0.5/0.51 g/24h; the plain reference can also read "forced" as truncation; the comparison runs
it with ``proteinuria_rule="clip"``, and ``test_proteinuria_reading`` checks the engine's.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.reference_model import plain as ref
from tests.reference_model.plain import (
    PLAIN_DENOMINATOR_ENDPOINTS,
    PlainResult,
    baseline_marginals,
    run_plain,
)
from trialsim.analysis.baseline import BASELINE_NAMES
from trialsim.config.scenario import load_scenario, with_overrides
from trialsim.run.simulate import simulate

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

#: endpoints compared at every endpoint week (the engine's targets are built from this list)
ENDPOINTS = [
    "sri4",
    "sri6",
    "sri8",
    "sledai_reduction_4",
    "no_new_bilag",
    "no_pga_worsening",
    "no_flare",
    "no_severe_flare",
    # the endpoints used since BLISS (docs/model.md §4)
    "sri4_modified",
    "sri4_sustained",
    "bicla",
    "lldas",
    "lldas_50",
    "doris_remission",
    "steroid_sparing",  # over its evaluable patients (PLAIN_DENOMINATOR_ENDPOINTS)
]
#: baseline characteristics compared, pooled over patients (names of trialsim.analysis.baseline)
BASELINE = [
    "sledai",
    "anti_dsdna_positive",
    "low_c3",
    "prednisone_use",
    "prednisone_gt_7_5mg",
    "race_black",
    "region_us_canada",
    "bilag_1a_or_2b",
    "proteinuria_ge_2g",
    # beyond the required list
    "sledai_ge_10",
    "pga",
    "low_c4",
    "ana_positive",
    "female",
    "age_years",
    "weight_kg",
    "disease_duration_years",
    "prednisone_mg",
    "immunosuppressant",
    "antimalarial",
    "proteinuria_g",
    "race_indigenous_american",
    "region_eastern_europe",
    "descriptor_arthritis",
    "descriptor_rash",
    "descriptor_proteinuria",
    "descriptor_low_complement",
]
ENGINE_REPLICATES = 300
PLAIN_TRIALS = 48  # of 819 patients: ~39,000 patients, ~13,000 per arm
SLOW_PLAIN_TRIALS = 320  # ~87,000 per arm
SLOW_ENGINE_REPLICATES = 1200
#: engine trials rebuilt patient by patient for the fast course comparison
FAST_ENGINE_TRIALS = 120
Z_MAX = 4.0
#: a family of course statistics fails when its Hotelling test has p below this
P_FAMILY = 1e-4
#: cells of the course families: a per-cell limit that allows for their number
Z_CELL = 4.5


def plain_run(scenario, trials: int, seed: int):
    """``trials`` plain trials, half in each of two processes (independent seeds)."""
    from joblib import Parallel, delayed

    halves = [trials // 2, trials - trials // 2]
    parts = Parallel(n_jobs=2)(
        delayed(run_plain)(scenario, n, seed=seed + k, proteinuria_rule="clip")
        for k, n in enumerate(halves)
    )
    for k, part in enumerate(parts):
        part.patients["replicate"] += k * halves[0]
        part.rates["replicate"] += k * halves[0]
    return PlainResult(
        rates=pd.concat([p.rates for p in parts], ignore_index=True),
        patients=pd.concat([p.patients for p in parts], ignore_index=True),
    )


def _scenario():
    return with_overrides(
        load_scenario(CONFIGS / "bliss76.yaml"),
        {"analysis.endpoints": ENDPOINTS, "analysis.subgroups.factors": []},
    )


@pytest.fixture(scope="module")
def runs():
    """Both implementations on the same validated scenario object (same parameter values)."""
    scenario = _scenario()
    engine = simulate(scenario, replicates=ENGINE_REPLICATES, n_jobs=2, progress=False)
    plain = plain_run(scenario, PLAIN_TRIALS, seed=20261122)
    return scenario, engine, plain


def _z(a: float, se_a: float, b: float, se_b: float) -> float:
    se = math.hypot(se_a, se_b)
    if se == 0.0:
        return 0.0 if a == b else math.inf
    return (a - b) / se


def _engine_pooled_rate(engine, t: int, a: int) -> tuple[float, float]:
    """Rate of target ``t`` in arm ``a`` over all evaluable patients of all replicates.

    The replicates' rates weighted by their evaluable patients (``engine.evaluable``), i.e.
    the responders over the evaluable patients pooled as the plain reference pools them;
    the SE is the ratio estimator's (linearized, replicates independent).

    Returns
    -------
    rate, se : float
    """
    n = engine.evaluable[:, t, a].astype(float)
    x = np.where(n > 0, engine.rates[:, t, a], 0.0) * n  # responders per replicate
    rate = x.sum() / n.sum()
    r = len(n)
    se = math.sqrt(r / (r - 1) * np.sum((x - rate * n) ** 2)) / n.sum()
    return rate, se


def test_response_rates_agree(runs):
    scenario, engine, plain = runs
    targets = [(e, w) for w in scenario.design.endpoint_weeks for e in scenario.analysis.endpoints]
    assert engine.rates.shape == (ENGINE_REPLICATES, len(targets), len(scenario.design.arms))
    pats = plain.patients
    lines, bad = [], []
    for t, (endpoint, week) in enumerate(targets):
        for a, arm in enumerate(scenario.design.arms):
            in_arm = pats["arm"] == arm
            if endpoint in PLAIN_DENOMINATOR_ENDPOINTS:
                # rates over the evaluable patients only, in both implementations; and the
                # evaluable share of the arm, compared as a cell of its own
                evaluable = pats.loc[in_arm, f"{endpoint}_evaluable_w{week}"].astype(float)
                share_e = engine.evaluable[:, t, a].sum() / engine.arm_n[:, a].sum()
                se_se = math.sqrt(share_e * (1 - share_e) / engine.arm_n[:, a].sum())
                share_p = evaluable.mean()
                se_sp = math.sqrt(share_p * (1 - share_p) / len(evaluable))
                z = _z(share_p, se_sp, share_e, se_se)
                lines.append(
                    f"{endpoint + ' evaluable':>20} w{week} {arm:>8}: engine {share_e:.4f} ± "
                    f"{se_se:.4f}, plain {share_p:.4f} ± {se_sp:.4f}, z = {z:+.2f}"
                )
                if abs(z) > Z_MAX:
                    bad.append(lines[-1])
                in_arm &= pats[f"{endpoint}_evaluable_w{week}"].astype(bool)
                mean_e, se_e = _engine_pooled_rate(engine, t, a)
            else:
                r = engine.rates[:, t, a]
                mean_e, se_e = r.mean(), r.std(ddof=1) / math.sqrt(len(r))
            flags = pats.loc[in_arm, f"{endpoint}_w{week}"].astype(float)
            mean_p = flags.mean()
            se_p = math.sqrt(mean_p * (1.0 - mean_p) / len(flags))
            z = _z(mean_p, se_p, mean_e, se_e)
            line = (
                f"{endpoint:>20} w{week} {arm:>8}: engine {mean_e:.4f} ± {se_e:.4f}, "
                f"plain {mean_p:.4f} ± {se_p:.4f} (n {len(flags)}), z = {z:+.2f}"
            )
            lines.append(line)
            if abs(z) > Z_MAX:
                bad.append(line)
    print("\n".join(lines))
    assert not bad, "engine and plain reference disagree:\n" + "\n".join(bad)


def _engine_pooled(engine, name: str) -> tuple[float, float]:
    """Mean over all enrolled patients and its SE, from per-arm count, sum and sum of squares."""
    k = BASELINE_NAMES.index(name)
    n, s, ss = engine.baseline[:, :, :, k].sum(axis=(0, 1))
    mean = s / n
    var = max(ss / n - mean * mean, 0.0) * n / (n - 1)
    return mean, math.sqrt(var / n)


def test_baseline_marginals_agree(runs):
    _, engine, plain = runs
    marg = baseline_marginals(plain.patients)
    lines, bad = [], []
    for name in BASELINE:
        mean_e, se_e = _engine_pooled(engine, name)
        n, mean_p, sd_p = marg.loc[name, ["n", "mean", "sd"]]
        se_p = sd_p / math.sqrt(n)
        z = _z(mean_p, se_p, mean_e, se_e)
        line = f"{name:>26}: engine {mean_e:.4f} ± {se_e:.4f}, plain {mean_p:.4f} ± {se_p:.4f}"
        lines.append(f"{line}, z = {z:+.2f}")
        if abs(z) > Z_MAX:
            bad.append(lines[-1])
    print("\n".join(lines))
    assert not bad, "baseline marginals disagree:\n" + "\n".join(bad)


def _share_ge_2g_given_active(scenario, rule: str) -> float:
    """P(proteinuria ≥ 2 g | descriptor active, enrolled) under one reading of "forced > 0.5".

    Given the descriptor, the g/24h value is independent of everything else, and the only
    selection on it is the entry limit ``screening.max_proteinuria_g``.
    """
    dis = scenario.disease
    mu, sd = math.log(dis.proteinuria_active_median_g), dis.proteinuria_log_sd

    def cdf(x: float) -> float:
        return 0.5 * math.erfc(-(math.log(x) - mu) / (sd * math.sqrt(2.0)))

    top = scenario.screening.max_proteinuria_g
    lower = cdf(0.5) if rule == "truncate" else 0.0  # clipping keeps the mass below 0.5
    return (cdf(top) - cdf(2.0)) / (cdf(top) - lower)


@pytest.mark.parametrize("rule", ["clip"])
def test_proteinuria_reading(runs, rule):
    """Which reading of "forced > 0.5" the engine follows, from its own baseline output."""
    scenario, engine, _ = runs
    k_ge2 = BASELINE_NAMES.index("proteinuria_ge_2g")
    k_act = BASELINE_NAMES.index("descriptor_proteinuria")
    n_ge2 = engine.baseline[:, :, 1, k_ge2].sum()
    n_act = engine.baseline[:, :, 1, k_act].sum()
    share = n_ge2 / n_act
    se = math.sqrt(share * (1.0 - share) / n_act)
    expected = _share_ge_2g_given_active(scenario, rule)
    assert abs(share - expected) < Z_MAX * se, (rule, share, expected, se)


def test_plain_reference_is_deterministic_and_well_formed(runs):
    scenario, _, plain = runs
    pats = plain.patients
    assert len(pats) == PLAIN_TRIALS * scenario.design.sample_size
    assert pats["replicate"].nunique() == PLAIN_TRIALS
    assert (pats["sledai"] >= scenario.screening.min_sledai).all()
    assert (pats["proteinuria_g"] <= scenario.screening.max_proteinuria_g).all()
    # responders of SRI-4 are responders of each component
    for week in scenario.design.endpoint_weeks:
        sri = pats[f"sri4_w{week}"]
        for comp in ("sledai_reduction_4", "no_new_bilag", "no_pga_worsening"):
            assert not (sri & ~pats[f"{comp}_w{week}"]).any()
        # nesting of the endpoints used since BLISS (docs/model.md §4)
        assert not (pats[f"sri4_sustained_w{week}"] & ~sri).any()
        bicla = pats[f"bicla_w{week}"]
        for comp in ("no_new_bilag", "no_pga_worsening"):
            assert not (bicla & ~pats[f"{comp}_w{week}"]).any()
        # DORIS remission (clinical SLEDAI 0, PGA < 0.5, prednisone ≤ 5) is LLDAS
        assert not (pats[f"doris_remission_w{week}"] & ~pats[f"lldas_w{week}"]).any()
        # steroid sparing: evaluated exactly on > 7.5 mg/day at baseline; a responder is
        # evaluable, and on ≤ 7.5 mg/day at the visit
        spared = pats[f"steroid_sparing_w{week}"]
        evaluable = pats[f"steroid_sparing_evaluable_w{week}"]
        assert (evaluable == pats["prednisone_gt_7_5mg"]).all()
        assert not (spared & ~evaluable).any()
        v = week // scenario.design.visit_interval_weeks
        assert (pats.loc[spared, f"prednisone_v{v}"] <= 7.5 + 1e-9).all()
        assert 0 < spared.sum() < evaluable.sum()
    small = with_overrides(scenario, {"design.sample_size": 30})
    a = run_plain(small, 1, seed=7).rates
    b = run_plain(small, 1, seed=7).rates
    assert np.array_equal(a["rate"].to_numpy(), b["rate"].to_numpy(), equal_nan=True)


# --------------------------------------------------------------------------- steroid sparing

#: designs of the patient-by-patient comparison, (weeks between visits, duration, endpoint
#: weeks): the shipped 4-weekly visits (a window of ⌊12 / 4⌋ = 3 visits back: weeks 40-52),
#: weekly visits (12 visits back), 8-weekly (⌊12 / 8⌋ = 1, where round() would give 2) and
#: 5-weekly (2)
SPARING_DESIGNS = [(4, 76, [52, 76]), (1, 52, [40, 52]), (8, 72, [24, 72]), (5, 75, [50, 75])]
#: replicates of each design compared patient by patient (819 patients each)
SPARING_REPLICATES = 3


def _plain_course(course, i: int) -> dict:
    """Patient ``i`` of an engine ``Course`` in the plain reference's form.

    Only what ``steroid_sparing_code`` reads: prednisone after each visit's decisions, and the
    failure and dropout visits (the engine's ``n_visits`` for never is the reference's
    ``None``).
    """
    n_visits = course.prednisone.shape[1]

    def first(visit: int) -> int | None:
        return None if visit >= n_visits else int(visit)

    return {
        "prednisone_mg": course.prednisone[i].tolist(),
        "failure_visit": first(course.failure_visit[i]),
        "dropout_visit": first(course.dropout_visit[i]),
    }


def test_plain_steroid_sparing_by_hand():
    """The reference's steroid sparing on courses made by hand (docs/model.md §4)."""
    resp, non, out = ref.RESPONDER, ref.NON_RESPONDER, ref.NOT_EVALUABLE

    def code(doses, visit, interval=4, failure=None, dropout=None):
        course = {"prednisone_mg": doses, "failure_visit": failure, "dropout_visit": dropout}
        return ref.steroid_sparing_code(course, visit, interval)

    # evaluated only on > 7.5 mg/day at baseline, whatever happens later
    assert code([7.5, 5, 5, 5, 5], 4) == out
    assert code([0.0, 0, 0, 0, 0], 4) == out
    assert code([7.5, 5, 5, 5, 5], 4, dropout=2) == out
    # both limits, each reached with equality: ≤ 7.5 and ≤ 75% of baseline
    assert code([10, 7.5, 7.5, 7.5, 7.5], 4) == resp
    assert code([10, 7.5, 7.5, 7.5, 7.6], 4) == non
    assert code([8, 6, 6, 6, 6], 4) == resp
    assert code([8, 6, 6, 6.5, 6], 4) == non  # ≤ 7.5 but above 75% of 8
    assert code([20, 7.5, 7.5, 7.5, 8], 4) == non
    # the window: visits v - 3 ... v for 4-weekly visits, from visit 1 on (not the baseline)
    assert code([20, 20, 7.5, 7.5, 7.5, 7.5], 5) == resp
    assert code([20, 20, 8, 7.5, 7.5, 7.5], 5) == non
    assert code([10, 7, 7], 2) == resp
    assert code([10, 8, 7], 2) == non
    # weekly visits: 12 visits back; 8-weekly: ⌊12 / 8⌋ = 1 visit back
    weekly = [10] + [8] * 3 + [5] * 13
    assert code(weekly, 16, interval=1) == resp
    assert code(weekly, 15, interval=1) == non
    assert code([10, 8, 5], 2, interval=8) == non
    assert code([10, 8, 5, 5], 3, interval=8) == resp
    # dropouts and treatment failures by the visit are (evaluable) non-responders
    assert code([10, 5, 5, 5, 5], 4, dropout=4) == non
    assert code([10, 5, 5, 5, 5], 4, dropout=5) == resp
    assert code([10, 5, 5, 5, 5], 4, failure=4) == non
    assert code([10, 5, 5, 5, 5], 4, failure=5) == resp


@pytest.mark.parametrize("interval, duration, weeks", SPARING_DESIGNS)
def test_steroid_sparing_patient_by_patient(interval, duration, weeks):
    """The reference's steroid sparing on the engine's own simulated courses, exactly.

    For ``SPARING_REPLICATES`` bliss76 trials of each design, every patient at every visit
    1..end: the reference's code (``steroid_sparing_code`` on the engine's prednisone,
    failure and dropout) against the engine's responder flags (``ENDPOINTS``) and evaluable
    mask (``EVALUABLE``), both from ``ReplicatePatients`` (the compiled trial's patients);
    and at the endpoint weeks, the compiled trial's arm rates (over the evaluable) and
    denominators. The courses must reach both edges of the window (a responder whose dose
    broke a limit the visit before it starts, a non-responder whose dose broke one only at
    its first visit), or a window off by one visit would pass.
    """
    from trialsim.analysis.endpoints import ENDPOINTS as REGISTRY
    from trialsim.analysis.endpoints import EVALUABLE
    from trialsim.run.trial import ReplicatePatients

    scenario = with_overrides(
        _scenario(),
        {
            "design.visit_interval_weeks": interval,
            "design.duration_weeks": duration,
            "design.endpoint_weeks": weeks,
            "analysis.endpoints": ["steroid_sparing"],
        },
    )
    engine = simulate(scenario, replicates=SPARING_REPLICATES, n_jobs=1, progress=False)
    patients = ReplicatePatients(scenario)
    window = 12 // interval  # visits back: docs/model.md §4, ⌊12 / d⌋
    bad: list[str] = []
    tally = {"patient-visits": 0, "responder": 0, "non-responder": 0, "not evaluable": 0,
             "edge before window": 0, "edge first visit": 0}
    for r in range(SPARING_REPLICATES):
        trial = patients(r)
        c = trial.course
        n, n_visits = c.prednisone.shape
        courses = [_plain_course(c, i) for i in range(n)]
        limit = np.minimum(7.5, 0.75 * c.prednisone[:, 0]) + 1e-9
        above = c.prednisone > limit[:, None]  # a limit broken at that visit
        codes = np.full((n, n_visits), -1)
        for v in range(1, n_visits):
            code = np.array([ref.steroid_sparing_code(x, v, interval) for x in courses])
            codes[:, v] = code
            responder = REGISTRY["steroid_sparing"](trial, v)
            evaluable = EVALUABLE["steroid_sparing"](trial, v)
            wrong = ((code == ref.RESPONDER) != responder) | (
                (code != ref.NOT_EVALUABLE) != evaluable
            )
            for i in np.flatnonzero(wrong)[:5]:
                bad.append(
                    f"replicate {r} patient {i} visit {v}: plain code {code[i]}, engine "
                    f"responder {responder[i]} evaluable {evaluable[i]}; prednisone "
                    f"{np.round(c.prednisone[i, : v + 1], 3).tolist()}, failure visit "
                    f"{c.failure_visit[i]}, dropout visit {c.dropout_visit[i]}"
                )
            tally["patient-visits"] += n
            tally["responder"] += int(np.sum(code == ref.RESPONDER))
            tally["non-responder"] += int(np.sum(code == ref.NON_RESPONDER))
            tally["not evaluable"] += int(np.sum(code == ref.NOT_EVALUABLE))
            first = v - window
            if first - 1 >= 1:
                tally["edge before window"] += int(
                    np.sum((code == ref.RESPONDER) & above[:, first - 1])
                )
            if first >= 1:
                on_study = (c.failure_visit > v) & (c.dropout_visit > v)
                tally["edge first visit"] += int(np.sum(
                    (code == ref.NON_RESPONDER) & on_study & above[:, first]
                    & ~above[:, first + 1 : v + 1].any(axis=1)
                ))
        # the compiled trial's analysis of the same patients
        for t, week in enumerate(weeks):
            code = codes[:, week // interval]
            for a in range(engine.rates.shape[2]):
                ev = (trial.arm == a) & (code != ref.NOT_EVALUABLE)
                rate = float(np.mean(code[ev] == ref.RESPONDER))
                if engine.evaluable[r, t, a] != ev.sum() or not math.isclose(
                    engine.rates[r, t, a], rate, abs_tol=1e-12
                ):
                    bad.append(
                        f"replicate {r} week {week} arm {a}: engine rate "
                        f"{engine.rates[r, t, a]:.6f} of {engine.evaluable[r, t, a]}, plain "
                        f"{rate:.6f} of {ev.sum()}"
                    )
    print(f"interval {interval}: {tally}")
    assert not bad, "steroid sparing: engine and plain reference disagree:\n" + "\n".join(bad)
    assert all(count > 0 for count in tally.values()), tally


# --------------------------------------------------------------------------- the course

#: visits at which cumulative failure, dropout and first flare are compared (weeks 24, 52, 76)
BY_VISITS = (6, 13, 19)


def engine_patients(scenario, replicates: int) -> pd.DataFrame:
    """The engine's patients, with the plain table's course columns, from the stage functions."""
    from tests.integration.test_engine_wiring import rebuild
    from trialsim.analysis.endpoints import ENDPOINTS as REGISTRY
    from trialsim.analysis.endpoints import EVALUABLE, first_flare_visit

    des = scenario.design
    frames = []
    for r in range(replicates):
        trial, _, arms = rebuild(scenario, r)
        # rebuild() leaves Trial.interval_weeks at its default (4): the scenario's interval
        # decides the sustained SRI's and steroid sparing's visits
        trial = dataclasses.replace(trial, interval_weeks=des.visit_interval_weeks)
        c = trial.course
        cols = {"replicate": r, "arm": np.array(arms)[trial.arm]}
        for week in des.endpoint_weeks:
            for name in ENDPOINTS:
                cols[f"{name}_w{week}"] = REGISTRY[name](trial, week // des.visit_interval_weeks)
            for name in PLAIN_DENOMINATOR_ENDPOINTS:
                cols[f"{name}_evaluable_w{week}"] = EVALUABLE[name](
                    trial, week // des.visit_interval_weeks
                )
        cols["failure_visit"] = c.failure_visit
        cols["dropout_visit"] = c.dropout_visit
        first, observed = first_flare_visit(c)
        cols["first_flare_visit"] = first
        cols["first_flare_observed"] = observed
        for v in range(c.sledai.shape[1]):
            cols[f"sledai_v{v}"] = c.sledai[:, v]
            cols[f"flare_v{v}"] = c.flare[:, v]
            cols[f"prednisone_v{v}"] = c.prednisone[:, v]
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def course_families(pats: pd.DataFrame, scenario) -> dict[str, pd.DataFrame]:
    """Per-patient features of the course, by family (same columns for both implementations)."""
    des = scenario.design
    n_visits = des.duration_weeks // des.visit_interval_weeks + 1
    visits = range(1, n_visits)
    fam = {
        "endpoints": pats[[f"{e}_w{w}" for w in des.endpoint_weeks for e in ENDPOINTS]],
        "flare_by_visit": pd.DataFrame({f"v{v}": pats[f"flare_v{v}"] > 0 for v in visits}),
        "severe_flare_by_visit": pd.DataFrame(
            {f"v{v}": pats[f"flare_v{v}"] == 2 for v in visits}
        ),
        "failure_dropout_first_flare": pd.DataFrame(
            {
                **{f"failure_by_v{v}": pats["failure_visit"] <= v for v in BY_VISITS},
                **{f"dropout_by_v{v}": pats["dropout_visit"] <= v for v in BY_VISITS},
                **{
                    f"flare_by_v{v}": pats["first_flare_observed"].astype(bool)
                    & (pats["first_flare_visit"] <= v)
                    for v in BY_VISITS
                },
            }
        ),
        "sledai_trajectory": pats[[f"sledai_v{v}" for v in visits]],
        "prednisone": pats[[f"prednisone_v{v}" for v in visits]],
    }
    return {k: v.astype(float).assign(arm=pats["arm"].to_numpy()) for k, v in fam.items()}


def hotelling(a: np.ndarray, b: np.ndarray) -> tuple[float, int, np.ndarray]:
    """Two-sample Hotelling statistic of the means of ``a`` and ``b`` (rows = patients).

    Large samples: T² = d' [S (1/n_a + 1/n_b)]⁺ d with S the pooled covariance, chi-square
    with rank(S) degrees of freedom under equal means. Also returns per-cell z values.
    """
    na, nb = len(a), len(b)
    d = a.mean(0) - b.mean(0)
    pooled = ((na - 1) * np.cov(a, rowvar=False) + (nb - 1) * np.cov(b, rowvar=False)) / (
        na + nb - 2
    )
    cov = np.atleast_2d(pooled) * (1 / na + 1 / nb)
    w, v = np.linalg.eigh(cov)
    keep = w > w.max() * 1e-9
    proj = v[:, keep].T @ d
    t2 = float(np.sum(proj**2 / w[keep]))
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    z = np.divide(d, se, out=np.zeros_like(d), where=se > 0)
    return t2, int(keep.sum()), z


def compare_families(scenario, plain_pats, engine_pats):
    """Per family: p of its Hotelling test (all arms), Bonferroni p of its worst statistic
    (z² summed over the arms, chi-square with one df per arm), the worst cell's z and line."""
    fp, fe = course_families(plain_pats, scenario), course_families(engine_pats, scenario)
    out = {}
    for name in fp:
        t2_sum, df_sum, lines, zs = 0.0, 0, [], []
        for arm in scenario.design.arms:
            a = fp[name][fp[name]["arm"] == arm].drop(columns="arm")
            b = fe[name][fe[name]["arm"] == arm].drop(columns="arm")
            t2, df, z = hotelling(a.to_numpy(), b.to_numpy())
            t2_sum, df_sum = t2_sum + t2, df_sum + df
            zs.append(z)
            k = int(np.argmax(np.abs(z)))
            lines.append(
                f"{name:>28} {arm:>8}: T2 {t2:8.1f} on {df:3d} df, worst cell "
                f"{a.columns[k]} plain {a.iloc[:, k].mean():.4f} engine "
                f"{b.iloc[:, k].mean():.4f} z {z[k]:+.2f}"
            )
        zs = np.array(zs)  # (arms, statistics)
        per_stat = stats.chi2.sf((zs**2).sum(0), zs.shape[0]) * zs.shape[1]
        out[name] = {
            "p_hotelling": stats.chi2.sf(t2_sum, df_sum),
            "p_worst_statistic": float(per_stat.min()),
            "z_worst_cell": float(np.abs(zs).max()),
            "lines": lines,
        }
    return out


def family_failures(result: dict) -> list[str]:
    """Families whose comparison fails any of the three limits."""
    return [
        f"{name}: Hotelling p {r['p_hotelling']:.1e}, worst statistic p "
        f"{r['p_worst_statistic']:.1e}, worst cell |z| {r['z_worst_cell']:.2f}\n  "
        + "\n  ".join(r["lines"])
        for name, r in result.items()
        if r["p_hotelling"] < P_FAMILY or r["p_worst_statistic"] < P_FAMILY
        or r["z_worst_cell"] > Z_CELL
    ]


def km_medians_by_trial(pats: pd.DataFrame, interval: int) -> pd.DataFrame:
    """KM median time to first flare (days, interpolated) per trial and arm, via lifelines."""
    from lifelines import KaplanMeierFitter

    rows = []
    for (rep, arm), g in pats.groupby(["replicate", "arm"]):
        days = g["first_flare_visit"].to_numpy() * interval * 7.0
        seen = g["first_flare_observed"].astype(bool)
        sf = KaplanMeierFitter().fit(days, seen).survival_function_
        t_prev, s_prev, median = 0.0, 1.0, math.inf
        for t, s in sf.iloc[:, 0].items():
            if t > 0 and s <= 0.5:
                median = t_prev + (s_prev - 0.5) / (s_prev - s) * (t - t_prev)
                break
            if t > 0 and s < s_prev:
                t_prev, s_prev = t, s
        rows.append((rep, arm, median))
    return pd.DataFrame(rows, columns=["replicate", "arm", "median"])


def _check_families(scenario, plain, engine_pats):
    result = compare_families(scenario, plain.patients, engine_pats)
    print("\n".join(line for r in result.values() for line in r["lines"]))
    bad = family_failures(result)
    assert not bad, "engine and plain reference disagree on the course:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def engine_pats(runs):
    scenario, _, _ = runs
    return engine_patients(scenario, FAST_ENGINE_TRIALS)


def test_course_families_agree(runs, engine_pats):
    scenario, _, plain = runs
    _check_families(scenario, plain, engine_pats)


def test_km_median_time_to_first_flare_agrees(runs):
    scenario, engine, plain = runs
    interval = scenario.design.visit_interval_weeks
    plain_km = km_medians_by_trial(plain.patients, interval)
    bad, lines = [], []
    for a, arm in enumerate(scenario.design.arms):
        e = engine.flare_median_days[:, a]
        p = plain_km.loc[plain_km["arm"] == arm, "median"].to_numpy()
        assert np.isfinite(e).all() and np.isfinite(p).all()
        z = _z(p.mean(), p.std(ddof=1) / math.sqrt(len(p)), e.mean(),
               e.std(ddof=1) / math.sqrt(len(e)))
        lines.append(f"{arm}: engine {e.mean():.1f} days, plain {p.mean():.1f} days, z {z:+.2f}")
        if abs(z) > Z_MAX:
            bad.append(lines[-1])
    print("\n".join(lines))
    assert not bad, bad


@pytest.mark.slow
def test_course_families_agree_at_1pp_resolution():
    """The slow version: ~87,000 plain patients per arm (``make validate``)."""
    scenario = _scenario()
    plain = plain_run(scenario, SLOW_PLAIN_TRIALS, seed=20261130)
    _check_families(scenario, plain, engine_patients(scenario, SLOW_ENGINE_REPLICATES))


@pytest.mark.parametrize(
    "plain_trials, engine_trials, shift",
    [(PLAIN_TRIALS, FAST_ENGINE_TRIALS, 0.025), (SLOW_PLAIN_TRIALS, SLOW_ENGINE_REPLICATES, 0.01)],
)
def test_the_family_test_detects_a_shift(plain_trials, engine_trials, shift):
    """Power check of the comparison itself at the fast and slow versions' sizes: a shift of
    one statistic (of the largest family's, the endpoint flags at weeks 52 and 76; rate 0.4)
    in every arm is found (2.5 pp fast, 1 pp slow), and no shift passes (so the test can
    fail, and need not)."""
    rng = np.random.default_rng(1)
    per_arm = 819 // 3  # bliss76: 819 patients, 1:1:1
    n_stats = 2 * len(ENDPOINTS)  # the "endpoints" family: every endpoint at weeks 52 and 76
    n_p, n_e, n_arms = plain_trials * per_arm, engine_trials * per_arm, 3

    def means_and_se(n, delta):
        # the mean of n Bernoulli(0.4 + delta) per statistic and arm, and its SE
        p = np.full((n_arms, n_stats), 0.4)
        p[:, 0] += delta
        return rng.binomial(n, p) / n, np.sqrt(p * (1 - p) / n)

    def found(delta):
        (mp, sp), (me, se) = means_and_se(n_p, delta), means_and_se(n_e, 0.0)
        z = (mp - me) / np.hypot(sp, se)
        p_stat = stats.chi2.sf((z**2).sum(0), n_arms) * n_stats
        return p_stat.min() < P_FAMILY or np.abs(z).max() > Z_CELL

    assert not found(0.0)
    assert found(shift)
