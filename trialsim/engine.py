"""The Monte Carlo engine: replicates in fixed-size chunks, run serially or with joblib.

Each replicate draws from its own counter space (``rng.replicate_key``), so the numbers depend
only on the scenario and the seed, never on the chunk size, ``n_jobs`` or the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .analysis.comparisons import RESULT_FIELDS, compare_arms
from .analysis.survival import compare_survival
from .baseline import arm_moments, baseline_columns
from .course import CourseParams, course_params, run_course
from .design import randomize, strata_indicators, stratum_index
from .endpoints import ENDPOINTS, Trial, first_flare_visit
from .population import PopulationModel
from .protocol import n_visits, visit_of_week
from .rng import STAGE_REDUCED, counter_uniforms, replicate_key
from .scenario import Scenario


@dataclass
class Plan:
    """What one scenario's replicates need, prepared once per process."""

    scenario: Scenario
    population: PopulationModel = field(init=False)
    arms: list[str] = field(init=False)
    doses: np.ndarray = field(init=False)
    allocation: np.ndarray = field(init=False)
    pairs: np.ndarray = field(init=False)
    comparisons: list[str] = field(init=False)
    targets: list[tuple[str, int]] = field(init=False)  # (endpoint, week)
    n_visits: int = field(init=False)
    course: CourseParams = field(init=False)

    def __post_init__(self) -> None:
        des = self.scenario.design
        self.population = PopulationModel(self.scenario)
        self.arms = list(des.arms)
        self.doses = np.array([des.arms[a].dose_mg_kg for a in self.arms])
        self.allocation = np.array([des.arms[a].allocation for a in self.arms], dtype=np.int64)
        self.pairs = np.array(
            [[self.arms.index(t), self.arms.index(c)] for t, c in des.comparisons], dtype=np.int64
        )
        self.comparisons = [f"{t}_vs_{c}" for t, c in des.comparisons]
        self.targets = [
            (e, w) for w in des.endpoint_weeks for e in self.scenario.analysis.endpoints
        ]
        self.n_visits = n_visits(des.duration_weeks, des.visit_interval_weeks)
        self.course = course_params(self.scenario)


@dataclass
class ChunkResult:
    """Arrays over the replicates of a chunk (first axis: replicate)."""

    replicates: np.ndarray  # (r,) replicate indices
    analysis: np.ndarray  # (r, n_targets, n_comparisons, n_fields)
    rates: np.ndarray  # (r, n_targets, n_arms)
    arm_n: np.ndarray  # (r, n_arms)
    sledai_mean: np.ndarray  # (r, n_arms, n_visits) mean SLEDAI of patients on study
    baseline: np.ndarray  # (r, n_arms, 3, n_characteristics)
    flare_median_days: np.ndarray  # (r, n_arms) Kaplan–Meier median time to first flare
    flare_analysis: np.ndarray  # (r, n_comparisons, n_survival_fields) first-flare Cox/log-rank
    screened: np.ndarray  # (r,) candidates screened

    @staticmethod
    def concat(parts: list[ChunkResult]) -> ChunkResult:
        return ChunkResult(
            **{
                k: np.concatenate([getattr(p, k) for p in parts])
                for k in ChunkResult.__annotations__
            }
        )


def km_median(time: np.ndarray, observed: np.ndarray) -> float:
    """Kaplan–Meier median, linearly interpolated between event times.

    Flares happen between visits and are detected at the next one, so the survival curve is
    interpolated linearly between successive event times (from S(0) = 1 at time 0) to the
    time at which it reaches 0.5; inf if it never does.
    """
    order = np.argsort(time, kind="stable")
    t, e = time[order], observed[order]
    at_risk = t.size
    surv, prev_t, prev_s = 1.0, 0.0, 1.0
    i = 0
    while i < t.size:
        j = i
        events = 0
        while j < t.size and t[j] == t[i]:
            events += int(e[j])
            j += 1
        if at_risk > 0 and events:
            surv *= 1.0 - events / at_risk
            if surv <= 0.5:
                frac = (prev_s - 0.5) / (prev_s - surv)
                return float(prev_t + frac * (t[i] - prev_t))
            prev_t, prev_s = float(t[i]), surv
        at_risk -= j - i
        i = j
    return float("inf")


def simulate_replicate(plan: Plan, replicate: int) -> tuple:
    """Simulate and analyse one trial; returns the per-replicate pieces of a ChunkResult."""
    sc = plan.scenario
    des = sc.design
    key = replicate_key(sc.seed, replicate)
    cohort, screened = plan.population.enroll(des.sample_size, key)
    x, _ = strata_indicators(cohort, des)
    arm = randomize(
        stratum_index(x), plan.allocation, des.block_multiplier, key
    )
    course = run_course(sc, cohort, plan.doses[arm], key, plan.course)
    constant = None
    if sc.constant_response is not None:
        p_arm = np.array([sc.constant_response.rates[a] for a in plan.arms])
        u = counter_uniforms(key[0], key[1], STAGE_REDUCED, 0, 0, arm.size)
        constant = u < p_arm[arm]
    trial = Trial(cohort, arm, course, constant)
    n_arms = len(plan.arms)
    response = np.empty((len(plan.targets), arm.size), dtype=np.uint8)
    for t, (name, week) in enumerate(plan.targets):
        response[t] = ENDPOINTS[name](trial, visit_of_week(week, des.visit_interval_weeks))
    covariates = x if sc.analysis.adjust_for_strata else np.zeros((arm.size, 0))
    analysis = compare_arms(response, arm, covariates, plan.pairs, sc.analysis.alpha)
    arm_n = np.bincount(arm, minlength=n_arms)
    rates = np.zeros((len(plan.targets), n_arms))
    for a in range(n_arms):
        if arm_n[a]:
            rates[:, a] = response[:, arm == a].mean(axis=1)
    visits = np.arange(plan.n_visits)
    seen = course.dropout_visit[:, None] > visits[None, :]
    sledai_mean = np.full((n_arms, plan.n_visits), np.nan)
    flare_median = np.full(n_arms, np.nan)
    first, observed = first_flare_visit(course)
    days = first * des.visit_interval_weeks * 7.0
    for a in range(n_arms):
        m = arm == a
        cnt = seen[m].sum(axis=0)
        sledai_mean[a] = np.where(
            cnt > 0, (course.sledai[m] * seen[m]).sum(axis=0) / np.maximum(cnt, 1), np.nan
        )
        flare_median[a] = km_median(days[m], observed[m])
    flare = compare_survival(days, observed, arm, plan.pairs)
    moments = arm_moments(baseline_columns(cohort), arm, n_arms)
    return analysis, rates, arm_n, sledai_mean, moments, flare_median, flare, screened


_PLANS: dict[str, Plan] = {}


def _plan(scenario: Scenario) -> Plan:
    """The scenario's Plan, built once per process (small chunks need not rebuild it)."""
    key = scenario.model_dump_json()
    if key not in _PLANS:
        if len(_PLANS) > 64:
            _PLANS.clear()
        _PLANS[key] = Plan(scenario)
    return _PLANS[key]


def run_chunk(scenario: Scenario, start: int, stop: int) -> ChunkResult:
    """Simulate replicates ``start`` … ``stop - 1`` (one task of the engine)."""
    plan = _plan(scenario)
    pieces = [simulate_replicate(plan, r) for r in range(start, stop)]
    cols = list(zip(*pieces, strict=True))
    return ChunkResult(
        replicates=np.arange(start, stop),
        analysis=np.stack(cols[0]),
        rates=np.stack(cols[1]),
        arm_n=np.stack(cols[2]),
        sledai_mean=np.stack(cols[3]),
        baseline=np.stack(cols[4]),
        flare_median_days=np.stack(cols[5]),
        flare_analysis=np.stack(cols[6]),
        screened=np.array(cols[7]),
    )


__all__ = ["Plan", "ChunkResult", "run_chunk", "RESULT_FIELDS"]
