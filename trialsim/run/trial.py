"""The Monte Carlo engine: the compiled trial, run on chunks of replicates.

``run_trials`` simulates and analyses every replicate of a chunk in compiled code: screening
and enrolment, stratified randomization, the course, every endpoint, the adjusted logistic
comparisons, the ANCOVA of the change in SELENA-SLEDAI, the first-flare survival analyses
(log-rank, Cox with Efron ties, Kaplan–Meier medians), baseline moments and SLEDAI
trajectories. Python validates the scenario, builds the parameters once per process
(``Plan``), derives the replicates' keys and calls it once per chunk. Each replicate draws
from its own counter space (``rng.replicate_key``), so the numbers depend only on the
scenario and the seed, never on the chunk size, ``n_jobs`` or the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from trialsim.analysis.ancova import (
    CLASI_CHANGE,
    N_ANCOVA_FIELDS,
    SLEDAI_CHANGE,
    ancova_kernel,
    arm_means,
    locf_change,
)
from trialsim.analysis.baseline import BASELINE_NAMES, add_moments, baseline_row
from trialsim.analysis.comparisons import (
    N_FIELDS,
    RESULT_FIELDS,
    compare_arms_kernel,
)
from trialsim.analysis.endpoints import (
    ENDPOINT_SPECS,
    NOT_EVALUABLE,
    Trial,
    endpoint_flags,
    first_flare,
    steroid_sparing_window,
    sustained_gap,
)
from trialsim.analysis.group_sequential import GroupSequentialDesign
from trialsim.analysis.interim import (
    CALENDAR_LOOK_FIELDS,
    LOOK_FIELDS,
    InterimParams,
    interim_design,
    interim_looks,
    interim_params,
)
from trialsim.analysis.multiplicity import MultiplicityPlan, multiplicity_plan
from trialsim.analysis.safety import SAFETY_FIELDS, compare_safety
from trialsim.analysis.subgroup_cells import analyse_levels
from trialsim.analysis.subgroups import (
    INTERACTION_FIELDS,
    SubgroupPlan,
    covariate_matrix,
    eval_programs,
    subgroup_plan,
)
from trialsim.analysis.survival import SURVIVAL_FIELDS, compare_survival, km_median
from trialsim.config.scenario import Scenario
from trialsim.core.jit import jit
from trialsim.core.rng import STAGE_REDUCED, counter_uniforms, replicate_key, replicate_keys
from trialsim.model.accrual import (
    CALENDAR_FIELDS,
    WEEKS_PER_MONTH,
    AccrualParams,
    accrual_params,
    calendar,
    entry_months,
)
from trialsim.model.clasi import clasi_eligible
from trialsim.model.course import (
    CourseParams,
    CoursePatients,
    amplitudes,
    course_params,
    run_course,
    simulate_course,
)
from trialsim.model.pk import PKParams, pk_params, visit_exposure
from trialsim.model.population import (
    B_ANA,
    B_ANTIMALARIAL,
    B_DSDNA,
    B_FEMALE,
    B_IMMUNOSUPPRESSANT,
    B_LOW_C3,
    B_LOW_C4,
    F_ACTIVITY,
    F_AGE,
    F_DURATION,
    F_FLUCTUATION,
    F_PGA,
    F_PGA_RATER,
    F_PREDNISONE,
    F_PROTEINURIA,
    F_WEIGHT,
    I_CANDIDATE,
    I_RACE,
    I_REGION,
    I_SLEDAI,
    SCREEN_FAILURE_REASONS,
    PopulationModel,
    enroll_kernel,
    max_candidates,
    raise_screening_error,
)
from trialsim.model.protocol import n_visits, visit_of_week
from trialsim.model.randomization import (
    randomize,
    randomize_kernel,
    strata_indicators,
    strata_matrix,
    strata_program,
    stratum_codes,
    stratum_index,
)
from trialsim.model.safety import SafetyParams, draw_adverse_events, safety_params
from trialsim.model.skin import TrialSkinParams, trial_clasi, trial_skin_params


class TrialParams(NamedTuple):
    """The design and analysis of a scenario's trials, as the compiled trial reads them."""

    sample_size: int
    max_candidates: int
    st_ops: np.ndarray  # stratification indicators' postfix programs (strata_program)
    st_args: np.ndarray
    st_starts: np.ndarray
    adjust_for_strata: bool
    template: np.ndarray  # one randomization block: arm codes
    doses: np.ndarray  # belimumab mg/kg of each arm
    pairs: np.ndarray  # (n_comparisons, 2) treated, control
    alpha: float
    kinds: np.ndarray  # per target (endpoint, week): endpoint kind
    ks: np.ndarray  # per target: the endpoint's k
    visits: np.ndarray  # per target: the visit of its week
    constant_rates: np.ndarray  # per arm, the reduced model's response rate (empty: none)
    interval_days: float
    gap: int  # visits between the visits of a sustained response (endpoints.sustained_gap)
    window: int  # visits back of the steroid-sparing window (endpoints.steroid_sparing_window)
    sg_ops: np.ndarray  # subgroup conditions' postfix programs (analysis/subgroups.py)
    sg_args: np.ndarray
    sg_starts: np.ndarray  # (n_levels + 1,) program bounds
    sg_factor_start: np.ndarray  # (n_factors + 1,) level bounds of each factor
    sg_targets: np.ndarray  # indices of the targets analysed within subgroups
    change_visits: np.ndarray  # visits of the SELENA-SLEDAI change's ANCOVA (empty: off)
    clasi_change_visits: np.ndarray  # visits of the CLASI-A change's ANCOVA (empty: off)
    clasi_min: float  # the CLASI-k endpoints' baseline CLASI-A threshold


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
    change_weeks: list[int] = field(init=False)  # weeks of the SLEDAI change's ANCOVA
    #: the change endpoints analysed by ANCOVA, (name, week): ``sledai_change`` at
    #: ``change_weeks``, then ``clasi_change`` (with a CLASI endpoint and
    #: ``analysis.clasi_change``)
    change_targets: list[tuple[str, int]] = field(init=False)
    n_visits: int = field(init=False)
    course: CourseParams = field(init=False)
    #: the arms' regimens and PK (model/pk.py)
    pk: PKParams = field(init=False)
    subgroups: SubgroupPlan = field(init=False)
    safety: SafetyParams = field(init=False)
    #: CLASI in the trial (model/skin.py), enabled when a CLASI endpoint is asked for
    skin: TrialSkinParams = field(init=False)
    accrual: AccrualParams = field(init=False)
    interim: InterimParams = field(init=False)
    #: ``analysis.multiplicity``: the procedure and each hypothesis's (target, comparison),
    #: or None
    multiplicity: MultiplicityPlan | None = field(init=False)
    #: the group-sequential design of ``design.interim`` (None without it)
    interim_design: GroupSequentialDesign | None = field(init=False)
    trial: TrialParams = field(init=False)

    def __post_init__(self) -> None:
        des = self.scenario.design
        self.population = PopulationModel(self.scenario)
        self.arms = list(des.arms)
        #: each arm's dose (mg/kg or mg; 0 = placebo)
        self.doses = np.array([des.arms[a].amount for a in self.arms])
        self.allocation = np.array([des.arms[a].allocation for a in self.arms], dtype=np.int64)
        self.pairs = np.array(
            [[self.arms.index(t), self.arms.index(c)] for t, c in des.comparison_pairs],
            dtype=np.int64,
        )
        self.comparisons = [f"{t}_vs_{c}" for t, c in des.comparison_pairs]
        self.targets = [
            (e, w) for w in des.endpoint_weeks for e in self.scenario.analysis.endpoints
        ]
        self.change_weeks = list(des.endpoint_weeks) if self.scenario.analysis.sledai_change \
            else []
        self.n_visits = n_visits(des.duration_weeks, des.visit_interval_weeks)
        self.course = course_params(self.scenario)
        self.pk = pk_params(self.scenario)
        sc = self.scenario
        self.safety = safety_params(sc, self.arms, self.doses)
        self.skin = trial_skin_params(sc)
        clasi_weeks = list(des.endpoint_weeks) if (self.skin.enabled
                                                   and sc.analysis.clasi_change) else []
        self.change_targets = ([(SLEDAI_CHANGE, w) for w in self.change_weeks]
                               + [(CLASI_CHANGE, w) for w in clasi_weeks])
        self.accrual = accrual_params(sc)
        self.interim = interim_params(sc)
        self.multiplicity = multiplicity_plan(sc, self.targets, self.comparisons)
        self.interim_design = interim_design(sc)
        strata = strata_program(des)
        template = np.repeat(np.arange(len(self.arms)), self.allocation * des.block_multiplier)
        constant = sc.constant_response
        sg = sc.analysis.subgroups
        wanted = sc.analysis.subgroup_endpoints
        self.subgroups = subgroup_plan(
            sg.factors, sg.custom, [t for t, (e, _) in enumerate(self.targets) if e in wanted]
        )
        self.trial = TrialParams(
            sample_size=int(des.sample_size),
            max_candidates=int(max_candidates(des.sample_size)),
            st_ops=strata.ops,
            st_args=strata.args,
            st_starts=strata.starts,
            adjust_for_strata=bool(sc.analysis.adjust_for_strata),
            template=template.astype(np.int64),
            doses=self.doses.astype(np.float64),
            pairs=self.pairs,
            alpha=float(sc.analysis.alpha),
            kinds=np.array([ENDPOINT_SPECS[e][0] for e, _ in self.targets], dtype=np.int64),
            ks=np.array([ENDPOINT_SPECS[e][1] for e, _ in self.targets], dtype=np.int64),
            visits=np.array(
                [visit_of_week(w, des.visit_interval_weeks) for _, w in self.targets],
                dtype=np.int64,
            ),
            constant_rates=np.array(
                [] if constant is None else [constant.rates[a] for a in self.arms], dtype=float
            ),
            interval_days=float(des.visit_interval_weeks * 7.0),
            gap=int(sustained_gap(des.visit_interval_weeks)),
            window=int(steroid_sparing_window(des.visit_interval_weeks)),
            sg_ops=self.subgroups.ops,
            sg_args=self.subgroups.args,
            sg_starts=self.subgroups.starts,
            sg_factor_start=self.subgroups.factor_start,
            sg_targets=self.subgroups.targets,
            change_visits=np.array(
                [visit_of_week(w, des.visit_interval_weeks) for w in self.change_weeks],
                dtype=np.int64,
            ),
            clasi_min=float(sc.analysis.clasi_min_baseline),
            clasi_change_visits=np.array(
                [visit_of_week(w, des.visit_interval_weeks) for w in clasi_weeks],
                dtype=np.int64,
            ),
        )

    @property
    def safety_events(self) -> list[str]:
        """The scenario's adverse events (``safety.events``), in order."""
        return list(self.scenario.safety.events)

    @property
    def subgroup_targets(self) -> list[tuple[str, int]]:
        """The (endpoint, week) targets analysed within subgroups."""
        return [self.targets[t] for t in self.subgroups.targets]


@dataclass
class ChunkResult:
    """Arrays over the replicates of a chunk (first axis: replicate)."""

    replicates: np.ndarray  # (r,) replicate indices
    analysis: np.ndarray  # (r, n_targets, n_comparisons, n_fields)
    rates: np.ndarray  # (r, n_targets, n_arms)
    arm_n: np.ndarray  # (r, n_arms)
    #: patients in each target's analysis (all of the arm's, unless the endpoint has a
    #: denominator: endpoints.DENOMINATOR_KINDS), the denominators of ``rates``
    evaluable: np.ndarray  # (r, n_targets, n_arms) int64
    sledai_mean: np.ndarray  # (r, n_arms, n_visits) mean SLEDAI of patients on study
    baseline: np.ndarray  # (r, n_arms, 3, n_characteristics)
    flare_median_days: np.ndarray  # (r, n_arms) Kaplan–Meier median time to first flare
    flare_analysis: np.ndarray  # (r, n_comparisons, n_survival_fields) first-flare Cox/log-rank
    screened: np.ndarray  # (r,) candidates screened
    #: per subgroup level (analysis/subgroups.py), the analysis of its patients:
    #: (r, n_levels, n_subgroup_targets, n_comparisons, n_fields)
    subgroup_analysis: np.ndarray
    subgroup_rates: np.ndarray  # (r, n_levels, n_subgroup_targets, n_arms)
    subgroup_n: np.ndarray  # (r, n_levels, n_arms) patients
    #: treatment x subgroup interaction: (r, n_factors, n_subgroup_targets, n_comparisons, 3)
    interaction: np.ndarray
    #: responder profile: baseline moments by primary-endpoint response and arm, group
    #: ``responded * n_arms + arm`` (the primary: the first endpoint at the first week)
    profile: np.ndarray  # (r, 2 * n_arms, 3, n_characteristics)
    #: time to first severe SFI flare: (r, n_comparisons, n_survival_fields) Cox/log-rank
    severe_flare_analysis: np.ndarray
    #: candidates screened out, by the first criterion failed (SCREEN_FAILURE_REASONS)
    screen_failures: np.ndarray  # (r, n_reasons) int64
    #: adverse events (model/safety.py): patients with at least one, and events, of each kind
    #: per arm: (r, n_events, n_arms) int64; patient-years at risk per arm: (r, n_arms)
    safety_patients: np.ndarray
    safety_events: np.ndarray
    safety_years: np.ndarray
    #: (r, n_events, n_comparisons, len(SAFETY_FIELDS)) (analysis/safety.py)
    safety_analysis: np.ndarray
    #: change from baseline (LOCF) of each ``Plan.change_targets`` (SELENA-SLEDAI, then
    #: CLASI-A): the arm means (r, n_change_targets, n_arms) and the ANCOVA per comparison
    #: (analysis/ancova.py)
    change_mean: np.ndarray
    ancova: np.ndarray  # (r, n_change_targets, n_comparisons, N_ANCOVA_FIELDS)
    #: the trial's calendar in months (model/accrual.py ``CALENDAR_FIELDS``), nan without
    #: ``design.accrual``: (r, len(CALENDAR_FIELDS))
    calendar: np.ndarray
    #: interim analyses of the primary endpoint (analysis/interim.py), empty without
    #: ``design.interim``: per comparison and look ``LOOK_FIELDS`` (r, n_comparisons, K, 3),
    #: and per look ``CALENDAR_LOOK_FIELDS`` (r, K, 2)
    interim_looks: np.ndarray
    interim_calendar: np.ndarray

    def take(self, index) -> ChunkResult:
        """The replicates ``index`` (a slice or index array) of this chunk."""
        return ChunkResult(**{k: getattr(self, k)[index] for k in ChunkResult.__annotations__})

    @staticmethod
    def concat(parts: list[ChunkResult]) -> ChunkResult:
        return ChunkResult(
            **{
                k: np.concatenate([getattr(p, k) for p in parts])
                for k in ChunkResult.__annotations__
            }
        )


@jit
def run_trials(tp, pp, cp, pk, sp, keys, analysis, rates, arm_n, evaluable, sledai_mean, baseline,
               flare_median_days, flare_analysis, screened, subgroup_analysis, subgroup_rates,
               subgroup_n, interaction, profile, severe_flare_analysis, screen_failures,
               change_mean, ancova, safety_patients, safety_events, safety_years,
               safety_analysis, ap, calendar_out, ip, looks_out, look_calendar_out, kp):
    """Simulate and analyse the replicates of ``keys`` (one row per replicate), into the
    arrays of a ``ChunkResult`` (first axis: the chunk's replicates). ``kp`` is the
    ``TrialSkinParams``: CLASI is drawn (stage ``skin``) only when it is enabled.

    Returns
    -------
    failed, status, got, candidates : int
        ``failed`` is -1 when every replicate ran; else the replicate (row) whose screening
        could not fill the trial, with ``enroll_kernel``'s status, patients enrolled and
        candidates screened.
    """
    n = tp.sample_size
    n_arms = tp.doses.shape[0]
    n_targets = tp.kinds.shape[0]
    n_visits = cp.n_visits
    row = np.empty(baseline.shape[3])
    for r in range(keys.shape[0]):
        k0 = keys[r, 0]
        k1 = keys[r, 1]
        (status, n_screened, got, ints, floats, flags, propensity, active, bilag_rater,
         bilag0, bilag_ever, failures) = enroll_kernel(pp, n, k0, k1, tp.max_candidates)
        if status != 0:
            return r, status, got, n_screened
        entry = np.zeros(0)
        if ap.enabled:
            entry = entry_months(ap, n, k0, k1)
            calendar(ap, entry, calendar_out[r])
        race = np.ascontiguousarray(ints[:, I_RACE])
        region = np.ascontiguousarray(ints[:, I_REGION])
        sledai0 = np.ascontiguousarray(ints[:, I_SLEDAI])
        proteinuria = np.ascontiguousarray(floats[:, F_PROTEINURIA])
        prednisone = np.ascontiguousarray(floats[:, F_PREDNISONE])
        duration = np.ascontiguousarray(floats[:, F_DURATION])
        cov = covariate_matrix(
            race, region, sledai0.astype(np.float64), floats[:, F_AGE], floats[:, F_WEIGHT],
            duration, prednisone, proteinuria, floats[:, F_PGA], flags[:, B_FEMALE],
            flags[:, B_ANA], flags[:, B_DSDNA], flags[:, B_LOW_C3], flags[:, B_LOW_C4],
            flags[:, B_IMMUNOSUPPRESSANT], flags[:, B_ANTIMALARIAL],
        )
        x = strata_matrix(tp.st_ops, tp.st_args, tp.st_starts, cov)
        arm = randomize_kernel(stratum_codes(x), tp.template, k0, k1)
        dose = np.empty(n)
        sero = np.empty(n, dtype=np.bool_)
        for i in range(n):
            dose[i] = tp.doses[arm[i]]
            sero[i] = flags[i, B_DSDNA] and (flags[i, B_LOW_C3] or flags[i, B_LOW_C4])
        drug_amp, stab_amp, soc_amp = amplitudes(cp, race, region, sero, duration, prednisone,
                                                 dose)
        weight = np.ascontiguousarray(floats[:, F_WEIGHT])
        unit = np.ascontiguousarray(ints[:, I_CANDIDATE])
        exposure = visit_exposure(pk, arm, weight, unit, k0, k1)
        pt = CoursePatients(
            activity=np.ascontiguousarray(floats[:, F_ACTIVITY]),
            fluctuation0=np.ascontiguousarray(floats[:, F_FLUCTUATION]),
            propensity=propensity,
            active0=active,
            soc_amp=soc_amp,
            drug_amp=drug_amp,
            stab_amp=stab_amp,
            pga_rater=np.ascontiguousarray(floats[:, F_PGA_RATER]),
            pga0=np.ascontiguousarray(floats[:, F_PGA]),
            bilag_rater=bilag_rater,
            bilag0=bilag0,
            bilag_ever0=bilag_ever,
            prednisone0=prednisone,
            weight_kg=weight,
            on_is0=np.ascontiguousarray(flags[:, B_IMMUNOSUPPRESSANT]),
            unit=unit,
            exposure=exposure,
        )
        (sledai, pga, bilag, pred, flare, failure, dropout, csledai, aflags, sbits, gact,
         dreff) = simulate_course(cp, pt, k0, k1)
        clasi = np.zeros((0, 0), dtype=np.int16)
        if kp.enabled:
            clasi, _, _ = trial_clasi(kp, unit, sbits, gact, dreff, k0, k1)
        constant = np.zeros(n, dtype=np.bool_)
        if tp.constant_rates.shape[0] > 0:
            u = counter_uniforms(k0, k1, STAGE_REDUCED, 0, 0, n)
            for i in range(n):
                constant[i] = u[i] < tp.constant_rates[arm[i]]
        response = endpoint_flags(tp.kinds, tp.ks, tp.visits, sledai, pga, bilag, flare,
                                  failure, dropout, constant, csledai, aflags, pred, tp.gap,
                                  tp.window, clasi, tp.clasi_min)
        covariates = x if tp.adjust_for_strata else np.zeros((n, 0))
        analysis[r] = compare_arms_kernel(response, arm, covariates, tp.pairs, tp.alpha)
        if ip.enabled:
            interim_looks(ip, response[0:1], arm, covariates, tp.pairs, tp.alpha, entry,
                          WEEKS_PER_MONTH, looks_out[r], look_calendar_out[r])
        n_sw = tp.change_visits.shape[0]
        if n_sw > 0:
            change = locf_change(sledai, dropout, failure, tp.change_visits)
            change_mean[r, :n_sw] = arm_means(change, arm, n_arms)
            ancova[r, :n_sw] = ancova_kernel(change, sledai0, arm, covariates, tp.pairs,
                                             tp.alpha)
        if tp.clasi_change_visits.shape[0] > 0:
            clasi_change(tp, clasi, dropout, failure, arm, covariates, n_arms,
                         change_mean[r, n_sw:], ancova[r, n_sw:])
        # rates (among each target's evaluable patients), arm sizes, SLEDAI trajectories of
        # the patients on study
        count = np.zeros(n_arms, dtype=np.int64)
        resp = np.zeros((n_targets, n_arms))
        left_out = np.zeros((n_targets, n_arms), dtype=np.int64)
        s_sum = np.zeros((n_arms, n_visits))
        s_cnt = np.zeros((n_arms, n_visits))
        for i in range(n):
            a = arm[i]
            count[a] += 1
            for t in range(n_targets):
                if response[t, i] == NOT_EVALUABLE:
                    left_out[t, a] += 1
                else:
                    resp[t, a] += response[t, i]
            for v in range(min(dropout[i], n_visits)):
                s_sum[a, v] += sledai[i, v]
                s_cnt[a, v] += 1.0
        for a in range(n_arms):
            arm_n[r, a] = count[a]
            for t in range(n_targets):
                m = count[a] - left_out[t, a]
                evaluable[r, t, a] = m
                rates[r, t, a] = resp[t, a] / m if m > 0 else np.nan
            for v in range(n_visits):
                sledai_mean[r, a, v] = s_sum[a, v] / s_cnt[a, v] if s_cnt[a, v] > 0 else np.nan
        # time to first flare
        days = np.empty(n)
        observed = np.empty(n, dtype=np.bool_)
        for i in range(n):
            first, seen = first_flare(flare[i], dropout[i], False)
            days[i] = first * tp.interval_days
            observed[i] = seen
        for a in range(n_arms):
            m = arm == a
            flare_median_days[r, a] = km_median(days[m], observed[m])
        flare_analysis[r] = compare_survival(days, observed, arm, tp.pairs)
        for i in range(n):
            first, seen = first_flare(flare[i], dropout[i], True)
            days[i] = first * tp.interval_days
            observed[i] = seen
        severe_flare_analysis[r] = compare_survival(days, observed, arm, tp.pairs)
        # baseline table moments
        for i in range(n):
            baseline_row(i, race, region, flags[:, B_FEMALE], floats[:, F_AGE],
                         floats[:, F_WEIGHT], duration, sledai0, bilag0, floats[:, F_PGA],
                         flags[:, B_ANA], flags[:, B_DSDNA], flags[:, B_LOW_C3],
                         flags[:, B_LOW_C4], prednisone, flags[:, B_IMMUNOSUPPRESSANT],
                         flags[:, B_ANTIMALARIAL], proteinuria, active, row)
            add_moments(baseline[r], arm[i], row)
            if response[0, i] != NOT_EVALUABLE:
                add_moments(profile[r], response[0, i] * n_arms + arm[i], row)
        screened[r] = n_screened
        screen_failures[r] = failures
        counts, years = draw_adverse_events(sp, arm, dropout, pt.unit, n_visits,
                                            tp.interval_days / 7.0, k0, k1)
        (safety_patients[r], safety_events[r], safety_years[r],
         safety_analysis[r]) = compare_safety(counts, years, arm, tp.pairs, n_arms)
        if tp.sg_starts.shape[0] > 1:
            analyse_subgroups(tp, eval_programs(tp.sg_ops, tp.sg_args, tp.sg_starts, cov),
                              response, arm, covariates, n_arms, subgroup_analysis[r],
                              subgroup_rates[r], subgroup_n[r], interaction[r])
    return -1, 0, 0, 0


@jit
def clasi_change(tp, clasi, dropout, failure, arm, covariates, n_arms, means, out):
    """The change in CLASI-A (LOCF, ``locf_change``) at ``tp.clasi_change_visits`` among the
    patients with baseline CLASI-A at least ``tp.clasi_min`` (the CLASI endpoints'
    population): its arm means into ``means`` and its ANCOVA, adjusted for baseline CLASI-A
    and the trial's covariates, into ``out`` (one replicate's rows)."""
    keep = np.zeros(arm.shape[0], dtype=np.bool_)
    for i in range(arm.shape[0]):
        keep[i] = clasi_eligible(float(clasi[i, 0]), tp.clasi_min)
    idx = np.nonzero(keep)[0]
    sub = np.ascontiguousarray(clasi[idx])
    change = locf_change(sub, dropout[idx], failure[idx], tp.clasi_change_visits)
    a = arm[idx]
    means[:] = arm_means(change, a, n_arms)
    base = sub[:, 0].astype(np.int64)
    out[:] = ancova_kernel(change, base, a, np.ascontiguousarray(covariates[idx]), tp.pairs,
                           tp.alpha)


@jit
def analyse_subgroups(tp, member, response, arm, covariates, n_arms, out, rates, counts,
                      interaction):
    """Each subgroup level's patients analysed as the trial is, with their arm sizes and
    rates, and each factor's treatment x level interaction test (``analyse_levels``), on the
    targets ``tp.sg_targets``; into one replicate's rows of the ``ChunkResult`` arrays."""
    n = arm.shape[0]
    n_t = tp.sg_targets.shape[0]
    resp = np.empty((n_t, n), dtype=np.uint8)
    for t in range(n_t):
        for i in range(n):
            resp[t, i] = response[tp.sg_targets[t], i]
    analyse_levels(member, resp, arm, n_arms, covariates, tp.pairs, tp.alpha,
                   tp.sg_factor_start, out, rates, counts, interaction)


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
    r = stop - start
    n_arms = len(plan.arms)
    n_cmp = plan.pairs.shape[0]
    sg = plan.subgroups
    n_sgt = sg.targets.shape[0]
    n_ev = len(plan.safety_events)
    n_looks = plan.interim.patients.shape[0]
    res = ChunkResult(
        replicates=np.arange(start, stop),
        analysis=np.empty((r, len(plan.targets), n_cmp, N_FIELDS)),
        rates=np.zeros((r, len(plan.targets), n_arms)),
        arm_n=np.zeros((r, n_arms), dtype=np.int64),
        evaluable=np.zeros((r, len(plan.targets), n_arms), dtype=np.int64),
        sledai_mean=np.full((r, n_arms, plan.n_visits), np.nan),
        baseline=np.zeros((r, n_arms, 3, len(BASELINE_NAMES))),
        flare_median_days=np.full((r, n_arms), np.nan),
        flare_analysis=np.empty((r, n_cmp, len(SURVIVAL_FIELDS))),
        screened=np.zeros(r, dtype=np.int64),
        subgroup_analysis=np.empty((r, sg.n_levels, n_sgt, n_cmp, N_FIELDS)),
        subgroup_rates=np.empty((r, sg.n_levels, n_sgt, n_arms)),
        subgroup_n=np.zeros((r, sg.n_levels, n_arms), dtype=np.int64),
        interaction=np.empty((r, len(sg.factors), n_sgt, n_cmp, len(INTERACTION_FIELDS))),
        profile=np.zeros((r, 2 * n_arms, 3, len(BASELINE_NAMES))),
        severe_flare_analysis=np.empty((r, n_cmp, len(SURVIVAL_FIELDS))),
        screen_failures=np.zeros((r, len(SCREEN_FAILURE_REASONS)), dtype=np.int64),
        change_mean=np.empty((r, len(plan.change_targets), n_arms)),
        ancova=np.empty((r, len(plan.change_targets), n_cmp, N_ANCOVA_FIELDS)),
        safety_patients=np.zeros((r, n_ev, n_arms), dtype=np.int64),
        safety_events=np.zeros((r, n_ev, n_arms), dtype=np.int64),
        safety_years=np.zeros((r, n_arms)),
        safety_analysis=np.empty((r, n_ev, n_cmp, len(SAFETY_FIELDS))),
        calendar=np.full((r, len(CALENDAR_FIELDS)), np.nan),
        interim_looks=np.full((r, n_cmp, n_looks, len(LOOK_FIELDS)), np.nan),
        interim_calendar=np.full((r, n_looks, len(CALENDAR_LOOK_FIELDS)), np.nan),
    )
    keys = replicate_keys(scenario.seed, start, stop)
    failed, status, got, candidates = run_trials(
        plan.trial, plan.population.params, plan.course, plan.pk, plan.safety, keys, res.analysis,
        res.rates, res.arm_n, res.evaluable, res.sledai_mean, res.baseline,
        res.flare_median_days, res.flare_analysis, res.screened, res.subgroup_analysis,
        res.subgroup_rates, res.subgroup_n, res.interaction, res.profile,
        res.severe_flare_analysis, res.screen_failures, res.change_mean, res.ancova,
        res.safety_patients, res.safety_events, res.safety_years, res.safety_analysis,
        plan.accrual, res.calendar, plan.interim, res.interim_looks, res.interim_calendar,
        plan.skin,
    )
    if failed >= 0:
        raise_screening_error(scenario, status, got, candidates, replicate=start + failed)
    return res


class ReplicatePatients:
    """The patients of a scenario's replicates, one by one, from the stage functions that
    the compiled trial runs with the same draws: ``patients(r)`` is the trial that
    ``run_chunk(scenario, r, r + 1)`` analyses, patient for patient
    (tests/integration/test_engine_wiring.py). For what a trial's summary does not keep, such
    as a subgroup's responders (the calibration's subgroup targets).

    Parameters
    ----------
    scenario : Scenario
        The responders of a ``constant_response`` reduced model are not drawn here (the
        trials' ``constant_response`` is None): only the mechanistic endpoints.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.plan = _plan(scenario)  # the compiled trial's own, built once per process

    def __call__(self, r: int) -> Trial:
        """Replicate ``r``: the enrolled cohort, each patient's arm (an index into
        ``design.arms``) and course."""
        plan = self.plan
        sc, des = plan.scenario, plan.scenario.design
        key = replicate_key(sc.seed, r)
        cohort, _ = plan.population.enroll(des.sample_size, key)
        x, _ = strata_indicators(cohort, des)
        arm = randomize(stratum_index(x), plan.allocation, des.block_multiplier, key)
        course = run_course(sc, cohort, arm, key, plan.course, plan.pk)
        clasi = None
        if plan.skin.enabled:
            unit = np.arange(len(cohort)) if cohort.candidate is None else cohort.candidate
            clasi = trial_clasi(plan.skin, np.asarray(unit, dtype=np.int64), course.skin_bits,
                                course.global_activity, course.drug_effect, *key)[0]
        return Trial(cohort, arm, course, interval_weeks=des.visit_interval_weeks, clasi=clasi,
                     clasi_min_baseline=float(sc.analysis.clasi_min_baseline))


__all__ = ["Plan", "ChunkResult", "run_chunk", "RESULT_FIELDS", "ReplicatePatients"]
