"""The mutation catalog of trialsim: small, named, behavioural changes of the source.

Each :class:`Mutation` locates its change by an exact source snippet, ``find``, that must occur
exactly once in ``path``; the campaign (``scripts/mutations.py``) replaces it by ``replace`` in a
copy of the repository, runs ``tests`` and records whether they fail ("kill" the mutation).
``tests/unit/test_mutation_campaign.py`` checks every entry against the current tree, so a
refactor that moves a snippet fails that test and the catalog is kept in step with the code.

Adding a mutation is one entry in :data:`MUTATIONS`::

    Mutation(
        name="sfi_severe_threshold_12_to_13",          # unique, snake_case
        path="trialsim/model/instruments.py",                # relative to the repository root
        find="sledai_increase > 12",                   # occurs exactly once in path
        replace="sledai_increase > 13",                # must still parse
        tests=("tests/unit/test_instruments.py",),     # pytest arguments that should kill it
        why="SFI severe flare needs a SLEDAI increase above 13 instead of 12",
    ),

``validate_tests`` (optional) are extra pytest arguments for ``--validate``, the second pass
over the survivors that also runs the tests marked ``slow``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    """One named behavioural change of the source.

    Attributes
    ----------
    name : str
        Unique snake_case identifier.
    path : str
        File to mutate, relative to the repository root.
    find : str
        Exact source snippet; must occur exactly once in ``path``.
    replace : str
        The mutated text that replaces ``find``.
    tests : tuple of str
        pytest arguments (files or node ids, relative to the repository root) that should kill
        the mutation with the ``slow`` tests deselected.
    why : str
        One line: the behaviour the mutation changes.
    validate_tests : tuple of str, optional
        Further pytest arguments run, with ``tests`` and the ``slow`` tests included, by the
        ``--validate`` pass on mutations that survived ``tests``.
    """

    name: str
    path: str
    find: str
    replace: str
    tests: tuple[str, ...]
    why: str
    validate_tests: tuple[str, ...] = ()


MUTATIONS: list[Mutation] = [
    Mutation(
        name="survival_arms_swapped",
        path="trialsim/analysis/survival.py",
        find="g = arm[sel] == pairs[c, 0]",
        replace="g = arm[sel] == pairs[c, 1]",
        tests=("tests/reference/test_survival.py", "tests/integration/test_engine_wiring.py"),
        why="log-rank/Cox group indicator marks the control arm instead of the treated arm (every HR inverted)",
    ),
    Mutation(
        name="engine_drops_strata_adjustment",
        path="trialsim/run/trial.py",
        find="covariates = x if tp.adjust_for_strata else np.zeros((n, 0))",
        replace="covariates = np.zeros((n, 0))",
        tests=("tests/integration/test_engine_wiring.py",),
        why="engine ignores analysis.adjust_for_strata: logistic models never adjust for strata",
    ),
    Mutation(
        name="sfi_severe_sledai_12_to_13",
        path="trialsim/model/instruments.py",
        find="SFI_SEVERE_SLEDAI = 12",
        replace="SFI_SEVERE_SLEDAI = 13",
        tests=("tests/unit/test_instruments.py", "tests/validation/test_double_programming.py"),
        why="SFI severe flare needs SELENA-SLEDAI above 13 instead of 12",
    ),
    Mutation(
        name="no_flare_window_excludes_endpoint_visit",
        path="trialsim/analysis/endpoints.py",
        find="for v in range(1, visit + 1):\n        if flare[i, v] == FLARE_SEVERE",
        replace="for v in range(1, visit):\n        if flare[i, v] == FLARE_SEVERE",
        tests=("tests/unit/test_endpoints.py",),
        why="no_flare looks at visits 1 .. v-1, missing a flare at the endpoint visit",
    ),
    Mutation(
        name="endpoint_visit_off_by_one",
        path="trialsim/model/protocol.py",
        find="return week // interval_weeks",
        replace="return week // interval_weeks - 1",
        tests=("tests/unit/test_instruments.py", "tests/integration/test_engine_wiring.py"),
        why="endpoints are read one visit before the endpoint week",
    ),
    Mutation(
        name="pga_component_swapped",
        path="trialsim/model/instruments.py",
        find="return visit - baseline < SRI_PGA_WORSENING - PGA_TOLERANCE",
        replace="return baseline - visit < SRI_PGA_WORSENING - PGA_TOLERANCE",
        tests=("tests/unit/test_instruments.py",),
        why="SRI PGA component tests improvement instead of worsening (baseline/visit swapped)",
    ),
    Mutation(
        name="bilag_thresholds_swapped",
        path="trialsim/model/instruments.py",
        find="        if severity > threshold_a:\n            return GRADE_A\n        if severity > threshold_b:\n            return GRADE_B",
        replace="        if severity > threshold_b:\n            return GRADE_A\n        if severity > threshold_a:\n            return GRADE_B",
        tests=("tests/unit/test_instruments.py",),
        why="BILAG grader that runs uses threshold B for A and threshold A for B",
    ),
    Mutation(
        name="comparison_pairs_swapped",
        path="trialsim/run/trial.py",
        find="[[self.arms.index(t), self.arms.index(c)] for t, c in des.comparison_pairs]",
        replace="[[self.arms.index(c), self.arms.index(t)] for t, c in des.comparison_pairs]",
        tests=("tests/integration/test_engine_wiring.py",),
        why="every comparison is control vs treated (ORs and HRs inverted)",
    ),
    Mutation(
        name="screening_sledai_strict",
        path="trialsim/model/population.py",
        find="if sledai < p.min_sledai:",
        replace="if sledai <= p.min_sledai:",
        tests=("tests/unit/test_endpoints.py",),
        why="a candidate at exactly the minimum SELENA-SLEDAI is screened out",
    ),
    Mutation(
        name="sri_reduction_strict",
        path="trialsim/model/instruments.py",
        find="return baseline - visit >= k",
        replace="return baseline - visit > k",
        tests=("tests/unit/test_instruments.py",),
        why="SRI-k needs a reduction of more than k",
    ),
    Mutation(
        name="pga_worsening_exactly_0_3_allowed",
        path="trialsim/model/instruments.py",
        find="return visit - baseline < SRI_PGA_WORSENING - PGA_TOLERANCE",
        replace="return visit - baseline < SRI_PGA_WORSENING + PGA_TOLERANCE",
        tests=("tests/unit/test_instruments.py",),
        why="a PGA rise of exactly 0.3 no longer counts as worsening",
    ),
    Mutation(
        name="two_new_bilag_b_allowed",
        path="trialsim/model/instruments.py",
        find="return new_a == 0 and new_b <= 1",
        replace="return new_a == 0 and new_b <= 2",
        tests=("tests/unit/test_instruments.py", "tests/unit/test_endpoints.py"),
        why="SRI BILAG component allows two new B systems",
    ),
    Mutation(
        name="baseline_a_counts_as_new_a",
        path="trialsim/model/instruments.py",
        find="if visit[k] == GRADE_A and baseline[k] != GRADE_A:",
        replace="if visit[k] == GRADE_A:",
        tests=("tests/unit/test_instruments.py",),
        why="a system graded A at baseline and at the visit counts as a new A",
    ),
    Mutation(
        name="a_to_b_counts_as_new_b",
        path="trialsim/model/instruments.py",
        find="if visit[k] == GRADE_B and baseline[k] < GRADE_B:",
        replace="if visit[k] == GRADE_B and baseline[k] != GRADE_B:",
        tests=("tests/unit/test_instruments.py",),
        why="an improvement from A to B counts as a new B",
    ),
    Mutation(
        name="sfi_severe_pga_inclusive",
        path="trialsim/model/instruments.py",
        find="pga > SFI_SEVERE_PGA and previous_pga <= SFI_SEVERE_PGA",
        replace="pga >= SFI_SEVERE_PGA and previous_pga <= SFI_SEVERE_PGA",
        tests=("tests/unit/test_instruments.py",),
        why="a PGA of exactly 2.5 makes a severe flare",
    ),
    Mutation(
        name="sfi_severe_without_crossing",
        path="trialsim/model/instruments.py",
        find="(sledai > SFI_SEVERE_SLEDAI and previous_sledai <= SFI_SEVERE_SLEDAI)",
        replace="(sledai > SFI_SEVERE_SLEDAI)",
        tests=("tests/unit/test_instruments.py",),
        why="every visit above 12 is a new severe flare, not only the crossing",
    ),
    Mutation(
        name="sfi_mild_sledai_rise_strict",
        path="trialsim/model/instruments.py",
        find="if sledai - previous_sledai >= SFI_MILD_SLEDAI_RISE or",
        replace="if sledai - previous_sledai > SFI_MILD_SLEDAI_RISE or",
        tests=("tests/unit/test_instruments.py",),
        why="a SELENA-SLEDAI rise of exactly 3 is not a mild flare",
    ),
    Mutation(
        name="sfi_mild_pga_rise_strict",
        path="trialsim/model/instruments.py",
        find="or pga - previous_pga >= SFI_MILD_PGA_RISE:",
        replace="or pga - previous_pga > SFI_MILD_PGA_RISE:",
        tests=("tests/unit/test_instruments.py",),
        why="a PGA rise of exactly 1.0 is not a mild flare",
    ),
    Mutation(
        name="prednisone_severe_inclusive",
        path="trialsim/model/instruments.py",
        find="return dose_mg > SFI_SEVERE_PREDNISONE_MG_PER_KG * weight_kg",
        replace="return dose_mg >= SFI_SEVERE_PREDNISONE_MG_PER_KG * weight_kg",
        tests=("tests/unit/test_instruments.py",),
        why="prednisone of exactly 0.5 mg/kg makes a severe flare",
    ),
    Mutation(
        name="steroid_rule_dose_inclusive",
        path="trialsim/model/protocol.py",
        find="after_steroid_limit(week, limit_week) and dose_mg > baseline_dose_mg + allowance_mg",
        replace="after_steroid_limit(week, limit_week) and dose_mg >= baseline_dose_mg + allowance_mg",
        tests=("tests/unit/test_instruments.py",),
        why="a dose exactly at baseline + allowance after week 24 is a treatment failure",
    ),
    Mutation(
        name="steroid_rule_from_limit_week",
        path="trialsim/model/protocol.py",
        find="""    return week > limit_week


@jit
def breaks_steroid_rule""",
        replace="""    return week >= limit_week


@jit
def breaks_steroid_rule""",
        tests=("tests/unit/test_instruments.py", "tests/unit/test_course_by_hand.py"),
        why="the steroid limit applies from week 24 itself",
    ),
    Mutation(
        name="is_rule_from_limit_week",
        path="trialsim/model/protocol.py",
        find="return (not on_immunosuppressant) or week > limit_week",
        replace="return (not on_immunosuppressant) or week >= limit_week",
        tests=("tests/unit/test_instruments.py",),
        why="an immunosuppressant increase at week 16 is a treatment failure",
    ),
    Mutation(
        name="new_immunosuppressant_allowed",
        path="trialsim/model/protocol.py",
        find="return (not on_immunosuppressant) or week > limit_week",
        replace="return week > limit_week",
        tests=("tests/unit/test_instruments.py", "tests/unit/test_course_by_hand.py"),
        why="a new immunosuppressant before week 16 is not a treatment failure",
    ),
    Mutation(
        name="on_study_at_dropout_visit",
        path="trialsim/model/protocol.py",
        find="return dropout_visit > visit and failure_visit > visit",
        replace="return dropout_visit >= visit and failure_visit > visit",
        tests=("tests/unit/test_instruments.py", "tests/unit/test_endpoints.py"),
        why="a patient who missed the endpoint visit counts as observed there",
    ),
    Mutation(
        name="on_study_ignores_failure",
        path="trialsim/model/protocol.py",
        find="return dropout_visit > visit and failure_visit > visit",
        replace="return dropout_visit > visit",
        tests=("tests/unit/test_instruments.py", "tests/unit/test_endpoints.py"),
        why="treatment failures can be responders",
    ),
    Mutation(
        name="screening_proteinuria_strict",
        path="trialsim/model/population.py",
        find="if proteinuria_g > p.max_proteinuria_g:",
        replace="if proteinuria_g >= p.max_proteinuria_g:",
        tests=("tests/unit/test_endpoints.py",),
        why="proteinuria exactly at the exclusion limit is screened out",
    ),
    Mutation(
        name="screening_ignores_anti_dsdna",
        path="trialsim/model/population.py",
        find="if p.require_serology and not (ana or anti_dsdna):",
        replace="if p.require_serology and not ana:",
        tests=("tests/unit/test_endpoints.py",),
        why="anti-dsDNA positive, ANA negative candidates are screened out",
    ),
    Mutation(
        name="sledai_weight_arthritis_2",
        path="trialsim/config/vocab.py",
        find='("arthritis", 4, "musculoskeletal", 3),',
        replace='("arthritis", 2, "musculoskeletal", 3),',
        tests=("tests/unit/test_instruments.py",),
        why="arthritis weighs 2 instead of 4 in the SELENA-SLEDAI",
    ),
    Mutation(
        name="arthritis_in_mucocutaneous_bilag",
        path="trialsim/config/vocab.py",
        find='("arthritis", 4, "musculoskeletal", 3),',
        replace='("arthritis", 4, "musculoskeletal", 1),',
        tests=("tests/unit/test_instruments.py",),
        why="arthritis is graded in the BILAG mucocutaneous system",
    ),
    Mutation(
        name="inactive_involved_system_is_e",
        path="trialsim/model/instruments.py",
        find="    if ever_active:\n        return GRADE_D",
        replace="    if ever_active:\n        return GRADE_E",
        tests=("tests/unit/test_instruments.py",),
        why="an inactive system that was involved before is graded E instead of D",
    ),
    Mutation(
        name="bilag_severity_half_per_weight",
        path="trialsim/model/instruments.py",
        find="BILAG_SEVERITY_PER_WEIGHT = 0.25",
        replace="BILAG_SEVERITY_PER_WEIGHT = 0.5",
        tests=("tests/unit/test_instruments.py",),
        why="BILAG system severity doubled",
    ),
    Mutation(
        name="high_steroid_inclusive",
        path="trialsim/model/instruments.py",
        find="return dose_mg > HIGH_STEROID_MG",
        replace="return dose_mg >= HIGH_STEROID_MG",
        tests=("tests/unit/test_instruments.py",),
        why="7.5 mg/day counts as a high steroid dose",
    ),
    Mutation(
        name="strata_sledai_cutoff_strict",
        path="trialsim/model/randomization.py",
        find='"sledai": [("sledai_ge_10", f"sledai >= {SLEDAI_STRATUM_CUT}")],',
        replace='"sledai": [("sledai_ge_10", f"sledai > {SLEDAI_STRATUM_CUT}")],',
        tests=("tests/unit/test_endpoints.py",),
        why="SELENA-SLEDAI stratum is > 10 instead of >= 10",
    ),
    Mutation(
        name="strata_proteinuria_cutoff_strict",
        path="trialsim/model/randomization.py",
        find='[("proteinuria_ge_2g", f"proteinuria >= {PROTEINURIA_STRATUM_CUT_G}")]',
        replace='[("proteinuria_ge_2g", f"proteinuria > {PROTEINURIA_STRATUM_CUT_G}")]',
        tests=("tests/unit/test_endpoints.py",),
        why="proteinuria stratum is > 2 instead of >= 2 g/24h",
    ),
    Mutation(
        name="randomization_ignores_allocation",
        path="trialsim/model/randomization.py",
        find="template = np.repeat(np.arange(allocation.size), allocation * block_multiplier)",
        replace="template = np.repeat(np.arange(allocation.size), block_multiplier)",
        tests=("tests/unit/test_design.py",),
        why="permuted blocks are 1:1 whatever the allocation ratio",
    ),
    Mutation(
        name="waning_not_applied",
        path="trialsim/model/course.py",
        find="f *= math.exp(-waning_rate * (week - waning_start))",
        replace="f *= 1.0",
        tests=("tests/unit/test_course_by_hand.py",),
        why="the drug effect never wanes",
    ),
    Mutation(
        name="calibration_prior_ignored",
        path="trialsim/experiments/calibration.py",
        find="prior = self.prior if self.prior and hold_out not in self.prior.uses else None",
        replace="prior = None",
        tests=("tests/integration/test_calibrate_explain.py::"
               "test_an_informative_prior_replaces_the_bounds_prior",),
        why="a parameter's informative prior is replaced by its bounds' (centre and SD)",
    ),
    Mutation(
        name="taper_floor_ignored",
        path="trialsim/model/course.py",
        find="return max(floor_mg, dose * (1.0 - fraction))",
        replace="return dose * (1.0 - fraction)",
        tests=("tests/unit/test_course_by_hand.py",),
        why="prednisone is tapered below its floor",
    ),
    Mutation(
        name="markov_persistence_wrong",
        path="trialsim/model/course.py",
        find="return stationary + persistence * (1.0 - stationary)",
        replace="return stationary + persistence * stationary",
        tests=("tests/unit/test_course_by_hand.py",),
        why="P(on | on) of a descriptor chain is wrong",
    ),
    Mutation(
        name="symptom_high_steroid_factor_ignored",
        path="trialsim/model/course.py",
        find="p.symptom_high_steroid_factor if is_high_steroid(dose0) else 1.0",
        replace="1.0 if is_high_steroid(dose0) else 1.0",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="steroid-reliant practice does not raise symptom-driven prednisone increases",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="drug_serology_modifier_inverted",
        path="trialsim/model/course.py",
        find="    if serologically_active:\n        effect *= p.serologically_active_modifier",
        replace="    if not serologically_active:\n        effect *= p.serologically_active_modifier",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="the serology drug modifier applies to the serologically inactive",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="steroid_effect_sign",
        path="trialsim/model/course.py",
        find="+ p.steroid_potency * (math.log1p(dose) - log_dose0)",
        replace="- p.steroid_potency * (math.log1p(dose) - log_dose0)",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="raising prednisone raises disease activity",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="escalation_without_effect",
        path="trialsim/model/course.py",
        find="escalation += p.escalation_effect",
        replace="escalation += 0.0",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="an immunosuppressant escalation does not reduce activity",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="background_therapy_immediate",
        path="trialsim/model/course.py",
        find="out[0, v] = 1.0 - math.exp(-t / p.soc_onset_weeks)",
        replace="out[0, v] = 1.0",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="background therapy acts at full strength from week 0",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="persistence_per_visit_not_per_week",
        path="trialsim/model/course.py",
        find="persistence[j] = autocorrelation_over(per_week, weeks)",
        replace="persistence[j] = per_week",
        tests=("tests/unit/test_timescale.py", "tests/validation/test_visit_schedule.py"),
        why="the descriptors' chains step once per visit: the disease runs faster when it is "
            "looked at more often (issue 9)",
    ),
    Mutation(
        name="interval_probability_not_converted",
        path="trialsim/model/timescale.py",
        find="return 1.0 - (1.0 - per_week) ** weeks",
        replace="return per_week",
        tests=("tests/unit/test_timescale.py", "tests/validation/test_visit_schedule.py"),
        why="per-week probabilities (tapering, symptom-driven increases) are applied once per "
            "visit whatever its interval",
    ),
    Mutation(
        name="two_state_chain_one_step",
        path="trialsim/model/timescale.py",
        find="lam = (1.0 - total) ** weeks",
        replace="lam = (1.0 - total)",
        tests=("tests/unit/test_timescale.py",),
        why="the serology chain runs one weekly step per visit instead of the interval's",
    ),
    Mutation(
        name="serology_drug_effect_ignored",
        path="trialsim/model/course.py",
        find="off_per_week = 1.0 - math.exp(-(p_norm0 + p.serology_drug_normalize * drug))",
        replace="off_per_week = 1.0 - math.exp(-p_norm0)",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="the drug does not speed up serological normalization",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="cox_sign_flipped",
        path="trialsim/analysis/survival.py",
        find="out[c, LOG_HR] = beta",
        replace="out[c, LOG_HR] = -beta",
        tests=("tests/reference/test_survival.py", "tests/integration/test_engine_wiring.py"),
        why="the reported log hazard ratio has the wrong sign",
    ),
    Mutation(
        name="km_median_not_interpolated",
        path="trialsim/analysis/survival.py",
        find="return prev_t + frac * (ti - prev_t)",
        replace="return ti",
        tests=("tests/unit/test_endpoints.py",),
        why="the KM median is the step-function median on the visit grid",
    ),
    Mutation(
        name="first_flare_censor_at_dropout_visit",
        path="trialsim/analysis/endpoints.py",
        find="last_seen = min(dropout_visit - 1, n_visits - 1)",
        replace="last_seen = min(dropout_visit, n_visits - 1)",
        tests=("tests/unit/test_endpoints.py",),
        why="a flare at the visit the patient missed counts as observed",
    ),
    Mutation(
        name="power_favoring_wrong_side",
        path="trialsim/summarize/reduce.py",
        find='self.favor += (reject & (a[..., F["log_or"]] > 0)).sum(axis=0)',
        replace='self.favor += (reject & (a[..., F["log_or"]] < 0)).sum(axis=0)',
        tests=("tests/integration/test_engine_wiring.py",),
        why="power_favoring_treatment counts rejections with OR < 1",
    ),
    Mutation(
        name="flare_favoring_wrong_side",
        path="trialsim/summarize/reduce.py",
        find="self.flare_favor += (flare_reject & (f[..., LOG_HR] < 0)).sum(axis=0)",
        replace="self.flare_favor += (flare_reject & (f[..., LOG_HR] > 0)).sum(axis=0)",
        tests=("tests/integration/test_engine_wiring.py",),
        why="flare power_favoring_treatment counts rejections with HR > 1",
    ),
    Mutation(
        name="logistic_ci_one_sided_z",
        path="trialsim/analysis/comparisons.py",
        find="    return norm_ppf(1.0 - 0.5 * alpha)",
        replace="    return norm_ppf(1.0 - alpha)",
        tests=("tests/reference/test_logistic.py",),
        why="the OR confidence interval uses the one-sided z",
    ),
    Mutation(
        name="rates_of_the_wrong_arm",
        path="trialsim/run/trial.py",
        find="rates[r, t, a] = resp[t, a] / m if m > 0 else np.nan",
        replace="rates[r, t, a] = resp[t, (a + 1) % n_arms] / m if m > 0 else np.nan",
        tests=("tests/integration/test_engine_wiring.py",),
        why="arm response rates are reported under the next arm's name",
    ),
    Mutation(
        name="trajectory_counts_dropouts",
        path="trialsim/run/trial.py",
        find="for v in range(min(dropout[i], n_visits)):",
        replace="for v in range(min(dropout[i] + 1, n_visits)):",
        tests=("tests/integration/test_engine_wiring.py",),
        why="the SLEDAI trajectory includes patients at the visit they missed",
    ),
    Mutation(
        name="flare_days_shifted",
        path="trialsim/run/trial.py",
        find="""first, seen = first_flare(flare[i], dropout[i], False)
            days[i] = first * tp.interval_days""",
        replace="""first, seen = first_flare(flare[i], dropout[i], False)
            days[i] = first * tp.interval_days + 7.0""",
        tests=("tests/integration/test_engine_wiring.py",),
        why="time to first flare is a week late",
    ),
    Mutation(
        name="dropout_rate_linear",
        path="trialsim/model/protocol.py",
        find="return 1.0 - (1.0 - per_year) ** (interval_weeks / WEEKS_PER_YEAR)",
        replace="return per_year * interval_weeks / WEEKS_PER_YEAR",
        tests=("tests/unit/test_instruments.py",),
        why="per-visit dropout from the annual proportion by linear scaling",
    ),
    Mutation(
        name="symptom_increase_ignores_steroid_limit",
        path="trialsim/model/course.py",
        find="(p.symptom_after_limit_factor if after_steroid_limit(t, p.steroid_limit_week)\n               else 1.0)",
        replace="1.0",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="investigators do not avoid symptom-driven increases that would break the week-24 rule",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="stabilization_ignored",
        path="trialsim/model/course.py",
        find="* (1.0 - stab)\n            * (p.symptom_after_limit_factor",
        replace="* 1.0\n            * (p.symptom_after_limit_factor",
        tests=("tests/unit/test_course_by_hand.py", "tests/validation/test_double_programming.py"),
        why="the drug does not reduce symptom-driven prednisone increases",
        validate_tests=("tests/validation/test_bliss_reproduction.py",),
    ),
    Mutation(
        name="symptom_increase_without_failure_check",
        path="trialsim/model/course.py",
        find="""            level = FLARE_MILD
            dose += p.flare_increase_mg
            if failed == n_visits and breaks_steroid_rule(""",
        replace="""            level = FLARE_MILD
            dose += p.flare_increase_mg
            if False and breaks_steroid_rule(""",
        tests=("tests/unit/test_course_by_hand.py",),
        why="a symptom-driven increase above the allowance after week 24 is not a treatment failure",
    ),
    Mutation(
        name="drug_duration_modifier_from_year_0",
        path="trialsim/model/course.py",
        find="max(disease_duration - 2.0, 0.0)",
        replace="max(disease_duration, 0.0)",
        tests=("tests/unit/test_course_by_hand.py",),
        why="the disease-duration modifier counts from diagnosis instead of from year 2",
    ),
    Mutation(
        name="calibration_subgroup_pool_ignores_trial_size",
        path="trialsim/experiments/calibration.py",
        find="""                weight[name] = (self.scenarios[name].design.sample_size
                                / sc.design.sample_size)""",
        replace="""                weight[name] = 1.0 / sc.design.sample_size""",
        tests=("tests/integration/test_calibrate_explain.py::"
               "test_a_subgroup_target_pools_its_trials_patient_by_patient",),
        why="a pooled subgroup moment weighs each trial by its simulated size, not its "
            "published one",
    ),
    Mutation(
        name="calibration_subgroup_counted_in_separate_trials",
        path="trialsim/experiments/calibration.py",
        find="counts[r][name] = patient_counts(self.spec, name, sc, patients(r))",
        replace="counts[r][name] = patient_counts(self.spec, name, sc, patients(r + 10_000))",
        tests=("tests/integration/test_calibrate_explain.py::"
               "test_a_subgroup_target_pools_its_trials_patient_by_patient",),
        why="the subgroup's replicate moments come from other trials than the whole-trial "
            "moments, so their sampling correlation is lost",
    ),
    Mutation(
        name="bicla_b_may_stay_b",
        path="trialsim/analysis/endpoints.py",
        find="            if visit[s] > GRADE_C:",
        replace="            if visit[s] > GRADE_B:",
        tests=("tests/unit/test_endpoints_modern.py",),
        why="BICLA accepts a baseline BILAG B that is still B (it must improve to C or better)",
    ),
    Mutation(
        name="lldas_sledai_5",
        path="trialsim/analysis/endpoints.py",
        find="LLDAS_SLEDAI, LLDAS_PGA, LLDAS_PREDNISONE_MG = 4, 1.0, 7.5",
        replace="LLDAS_SLEDAI, LLDAS_PGA, LLDAS_PREDNISONE_MG = 5, 1.0, 7.5",
        tests=("tests/unit/test_endpoints_modern.py",),
        why="LLDAS allows SELENA-SLEDAI 5",
    ),
    Mutation(
        name="lldas_ignores_new_activity",
        path="trialsim/model/instruments.py",
        find="            if clinical[j] and not previous[j]:",
        replace="            if clinical[j] and not previous[j] and False:",
        tests=("tests/validation/test_double_programming.py::test_course_families_agree",),
        why="the course never flags new clinical activity, so LLDAS's 'no new activity' "
            "criterion always holds",
    ),
    Mutation(
        name="modified_sri_counts_serology",
        path="trialsim/analysis/endpoints.py",
        find="            sledai_reduced(csledai[i, 0], csledai[i, visit], k)",
        replace="            sledai_reduced(sledai[i, 0], sledai[i, visit], k)",
        tests=("tests/unit/test_endpoints_modern.py",),
        why="the modified SRI counts the serological descriptors (it is SRI-4 again)",
    ),
    Mutation(
        name="selena_scores_persistent_proteinuria",
        path="trialsim/model/instruments.py",
        find="    return rule == PROTEINURIA_NEW_ONSET and visit >= 1 and active[j] and previous[j]",
        replace="    return rule == PROTEINURIA_NEW_ONSET and visit >= 1 and active[j] and not "
                "previous[j]",
        tests=("tests/unit/test_instruments.py", "tests/unit/test_course_by_hand.py"),
        why="the SELENA rule leaves out new proteinuria and scores persistent proteinuria",
    ),
    Mutation(
        name="selena_rule_at_baseline",
        path="trialsim/model/instruments.py",
        find="    return rule == PROTEINURIA_NEW_ONSET and visit >= 1 and active[j] and previous[j]",
        replace="    return rule == PROTEINURIA_NEW_ONSET and visit >= 0 and active[j] and previous[j]",
        tests=("tests/unit/test_instruments.py",),
        why="the screening score would leave out the proteinuria that qualified the patient",
    ),
    Mutation(
        name="sri_s2k_is_sri4",
        path="trialsim/analysis/endpoints.py",
        find="            sledai_reduced(sledai[i, 0], sledai_2k_score(sledai[i, visit], "
             "aflags[i, visit]), k)",
        replace="            sledai_reduced(sledai[i, 0], sledai[i, visit], k)",
        tests=("tests/unit/test_endpoints_modern.py", "tests/integration/test_sri_s2k_wiring.py"),
        why="SRI-S2K does not score the persistent proteinuria back (it is SRI-4 again)",
    ),
    Mutation(
        name="lldas_on_selena_score",
        path="trialsim/analysis/endpoints.py",
        find="        sledai_2k_score(sledai, flags) <= LLDAS_SLEDAI",
        replace="        sledai <= LLDAS_SLEDAI",
        tests=("tests/unit/test_endpoints_modern.py",),
        why="LLDAS reads the SELENA-SLEDAI, not the SLEDAI-2K its definition names",
    ),
    Mutation(
        name="pga_sees_the_score_not_the_activity",
        path="trialsim/model/course.py",
        find="            clinical_activity,",
        replace="            clinical_score,",
        tests=("tests/unit/test_course_by_hand.py",),
        why="the PGA falls when the SELENA rule stops scoring persistent proteinuria",
    ),
    Mutation(
        name="interim_looks_at_the_last_patients",
        path="trialsim/analysis/interim.py",
        find="                               np.arange(max(m, 1), dtype=np.int64))",
        replace="                               np.arange(n - max(m, 1), n, dtype=np.int64))",
        tests=("tests/integration/test_interim_wiring.py",),
        why="an interim look analyses the patients who entered last, not those with data",
    ),
    Mutation(
        name="interim_efficacy_strict",
        path="trialsim/analysis/interim.py",
        find="            eff = open_ & (z[:, k] >= efficacy[:, k])",
        replace="            eff = open_ & (z[:, k] > efficacy[:, k])",
        tests=("tests/integration/test_interim_wiring.py",),
        why="a Z exactly on the efficacy bound does not reject",
    ),
    Mutation(
        name="interim_two_sided_alpha_as_one_sided",
        path="trialsim/analysis/interim.py",
        find="        planned_fractions(scenario), alpha=scenario.analysis.alpha / 2.0,",
        replace="        planned_fractions(scenario), alpha=scenario.analysis.alpha,",
        tests=("tests/validation/test_group_sequential_power.py",),
        why="the one-sided bounds spend the two-sided alpha: twice the type I error",
    ),
    Mutation(
        name="accrual_ramp_counts_full_rate",
        path="trialsim/model/accrual.py",
        find="    return s / rate + 0.5 * ramp",
        replace="    return s / rate + ramp",
        tests=("tests/unit/test_accrual.py",),
        why="after the ramp-up the entries run half a ramp late",
    ),
    Mutation(
        name="subgroup_expression_or_as_and",
        path="trialsim/model/covariates.py",
        find="                        r = a != 0.0 or b != 0.0",
        replace="                        r = a != 0.0 and b != 0.0",
        tests=("tests/unit/test_subgroups.py",),
        why="the subgroup evaluator reads 'or' as 'and'",
    ),
    Mutation(
        name="interaction_test_one_df_short",
        path="trialsim/analysis/subgroups.py",
        find="        out[e, c, 2] = chi2_sf(stat, df)",
        replace="        out[e, c, 2] = chi2_sf(stat, max(df - 1, 1))",
        tests=("tests/unit/test_subgroups.py",),
        why="the interaction test has one degree of freedom too few for factors of 3+ levels",
    ),
    Mutation(
        name="subgroup_unadjusted_for_strata",
        path="trialsim/run/trial.py",
        find="    analyse_levels(member, resp, arm, n_arms, covariates, tp.pairs, tp.alpha,",
        replace="    analyse_levels(member, resp, arm, n_arms, covariates[:, :0].copy(), tp.pairs,"
                " tp.alpha,",
        tests=("tests/integration/test_subgroup_wiring.py",),
        why="subgroup odds ratios are not adjusted for the stratification factors",
    ),
    Mutation(
        name="interaction_ignores_separated_strata",
        path="trialsim/analysis/subgroups.py",
        find="    kept[:] = unseparated_groups(rows, y, m, first_stratum, p_full)",
        replace="    kept[:] = True",
        tests=("tests/unit/test_subgroups.py",),
        why="the interaction test keeps strata whose patients all respond (the fit then fails "
            "and the trial counts as not analysable)",
    ),
    Mutation(
        name="enrichment_low_c4_not_low_complement",
        path="trialsim/model/population.py",
        find="    if p.require_serologically_active and not (anti_dsdna and (low_c3 or low_c4)):",
        replace="    if p.require_serologically_active and not (anti_dsdna and low_c3):",
        tests=("tests/integration/test_enrichment.py",),
        why="enrichment for serological activity ignores low C4",
    ),
    Mutation(
        name="enrichment_prednisone_strict",
        path="trialsim/model/population.py",
        find="    if prednisone_mg < p.min_prednisone_mg:",
        replace="    if prednisone_mg <= p.min_prednisone_mg:",
        tests=("tests/integration/test_enrichment.py",),
        why="the minimum prednisone dose excludes patients exactly at it",
    ),
    Mutation(
        name="safety_p_value_one_tail",
        path="trialsim/analysis/safety.py",
        find="        if lk <= bound:",
        replace="        if lk <= bound and k >= x1:",
        tests=("tests/unit/test_safety.py",),
        why="the exact rate test sums only the upper tail (a one-sided p-value)",
    ),
    Mutation(
        name="safety_death_keeps_time_at_risk",
        path="trialsim/model/safety.py",
        find="                    t = at\n",
        replace="\n",
        tests=("tests/integration/test_safety_wiring.py",),
        why="after a death the patient stays at risk of the other events",
    ),
    Mutation(
        name="safety_drug_rate_for_everyone",
        path="trialsim/model/safety.py",
        find="            default = ev.placebo_per_100py if doses[a] == 0 else ev.drug_per_100py",
        replace="            default = ev.drug_per_100py",
        tests=("tests/integration/test_safety_wiring.py",),
        why="placebo patients get the drug's adverse-event rate",
    ),
    Mutation(
        name="safety_exposure_to_dropout_visit",
        path="trialsim/model/protocol.py",
        find="        visits = dropout_visit - 0.5",
        replace="        visits = dropout_visit",
        tests=("tests/unit/test_safety.py",),
        why="a dropout is at risk up to the first visit missed, not midway to it",
    ),
    Mutation(
        name="steroid_sparing_counts_7_5_mg_at_baseline",
        path="trialsim/analysis/endpoints.py",
        find="    if not is_high_steroid(base):",
        replace="    if base < HIGH_STEROID_MG:",
        tests=("tests/unit/test_steroid_sparing.py",),
        why="patients on exactly 7.5 mg/day at baseline enter the steroid-sparing denominator",
    ),
    Mutation(
        name="steroid_sparing_endpoint_visit_only",
        path="trialsim/analysis/endpoints.py",
        find="    for u in range(max(1, visit - window), visit + 1):",
        replace="    for u in range(visit, visit + 1):",
        tests=("tests/unit/test_steroid_sparing.py",),
        why="steroid sparing looks at the endpoint visit only, not at every visit of weeks 40-52",
    ),
    Mutation(
        name="rates_over_patients_not_evaluable",
        path="trialsim/run/trial.py",
        find="                m = count[a] - left_out[t, a]",
        replace="                m = count[a]",
        tests=("tests/integration/test_steroid_sparing_wiring.py",),
        why="an endpoint's rate divides by every patient of the arm, those outside its "
            "denominator included",
    ),
    Mutation(
        name="strata_reference_level_kept",
        path="trialsim/model/randomization.py",
        find="    return [(f\"{factor}_{level}\", expr) for level, expr in levels[:-1]]",
        replace="    return [(f\"{factor}_{level}\", expr) for level, expr in levels[1:]]",
        tests=("tests/integration/test_stratification.py",),
        why="a stratification factor's indicators drop its first level instead of its last",
    ),
    Mutation(
        name="holm_one_step_too_strict",
        path="trialsim/analysis/multiplicity.py",
        find="        level[k] = key[j] * (remaining[k] / total) if key[j] < np.inf else np.inf",
        replace="        level[k] = key[j] * ((remaining[k] + weights[j]) / total) "
                "if key[j] < np.inf else np.inf",
        tests=("tests/unit/test_multiplicity.py",),
        why="Holm's k-th step at alpha / (m - k + 2) instead of alpha / (m - k + 1)",
    ),
    Mutation(
        name="hochberg_step_down",
        path="trialsim/analysis/multiplicity.py",
        find="    for k in range(m - 1, -1, -1):\n        if level[k] <= crit:",
        replace="    for k in range(m):\n        if level[k] <= crit:",
        tests=("tests/unit/test_multiplicity.py",),
        why="Hochberg rejects up to the smallest step below its critical value, not the largest",
    ),
    Mutation(
        name="fixed_sequence_goes_on_after_a_failure",
        path="trialsim/analysis/multiplicity.py",
        find="        if p[order[k]] > crit:\n            break",
        replace="        if p[order[k]] > crit:\n            continue",
        tests=("tests/unit/test_multiplicity.py",),
        why="the fixed sequence tests the hypotheses after one it failed to reject",
    ),
    Mutation(
        name="graph_weight_passed_along_the_reverse_edge",
        path="trialsim/analysis/multiplicity.py",
        find="            weights[k] += wj * transitions[j, k]",
        replace="            weights[k] += wj * transitions[k, j]",
        tests=("tests/unit/test_multiplicity.py",),
        why="a rejected hypothesis's weight follows the edges into it instead of out of it",
    ),
    Mutation(
        name="graph_update_without_renormalizing",
        path="trialsim/analysis/multiplicity.py",
        find="transitions[i, j] * transitions[j, k]) / (\n                    1.0 - loop)",
        replace="transitions[i, j] * transitions[j, k]) / (\n                    1.0)",
        tests=("tests/unit/test_multiplicity.py",),
        why="the transition update drops the denominator 1 - g_lj g_jl of Bretz et al. 2009",
    ),
    Mutation(
        name="graph_adjusted_p_without_running_max",
        path="trialsim/analysis/multiplicity.py",
        find="        running = max(running, level)\n        adjusted[j] = min(running, 1.0)",
        replace="        running = level\n        adjusted[j] = min(running, 1.0)",
        tests=("tests/unit/test_multiplicity.py",),
        why="a graph's adjusted p-value is its own step's p / w, not the largest so far",
    ),
    Mutation(
        name="weight_zero_rejects_p_zero",
        path="trialsim/analysis/multiplicity.py",
        find="    if w > 0.0:\n        return p / w\n    return np.inf",
        replace="    if w > 0.0:\n        return p / w\n    return 0.0 if p == 0.0 else np.inf",
        tests=("tests/unit/test_multiplicity.py",),
        why="a hypothesis without weight is rejected when its p-value is 0",
    ),
    Mutation(
        name="pk_dose_before_the_visit",
        path="trialsim/model/pk.py",
        find="    for day in range(last_day + 1):\n        if day == p.visit_days[v]:",
        replace="    for day in range(last_day + 1):\n        if day - 1 == p.visit_days[v]:",
        tests=("tests/unit/test_pk.py",),
        why="a visit sees the concentration a day late, after that day's dose (not the trough)",
    ),
    Mutation(
        name="pk_missed_doses_given",
        path="trialsim/model/pk.py",
        find="            if doses[j] + shift == day and not missed[j]:",
        replace="            if doses[j] + shift == day:",
        tests=("tests/unit/test_pk.py",),
        why="a missed dose is given all the same",
    ),
    Mutation(
        name="pk_clearance_without_weight",
        path="trialsim/model/pk.py",
        find="    fw_cl = w ** p.weight_exponent_clearance",
        replace="    fw_cl = 1.0",
        tests=("tests/unit/test_pk.py",),
        why="clearance does not scale with body weight",
    ),
    Mutation(
        name="pk_effect_compartment_skipped",
        path="trialsim/model/pk.py",
        find="    _convolve(lam, coef, n, ke0)\n    return lam, coef",
        replace="    lam[n] = ke0\n    return lam, coef",
        tests=("tests/unit/test_pk.py",),
        why="the effect follows the plasma concentration, peaks and all",
    ),
    Mutation(
        name="binding_futility_ignored_under_h0",
        path="trialsim/analysis/group_sequential.py",
        find="            h0 = _advance(h0, t[k], 0.0, f[k], c[k], r)",
        replace="            h0 = _advance(h0, t[k], 0.0, -math.inf, c[k], r)",
        tests=("tests/unit/test_group_sequential.py",),
        why="binding efficacy bounds computed as if no trial stopped for futility",
    ),
    Mutation(
        name="calendar_look_counts_entered_not_with_data",
        path="trialsim/analysis/interim.py",
        find="            while m < n and entry[m] + lag <= month:",
        replace="            while m < n and entry[m] <= month:",
        tests=("tests/integration/test_interim_wiring.py",),
        why="a calendar look analyses every patient randomised by then, data or not",
    ),
    Mutation(
        name="calendar_bounds_at_planned_fractions",
        path="trialsim/summarize/reduce.py",
        find="                self._gs_bounds[key] = bounds_at(design, fractions[i])",
        replace="                self._gs_bounds[key] = bounds_at(design, design.information_fractions)",
        tests=("tests/integration/test_interim_wiring.py",),
        why="each trial gets the planned design's bounds, not those of its own fractions",
    ),
    Mutation(
        name="clasi_dyspigmentation_doubles_late",
        path="trialsim/model/clasi.py",
        find="        if d > 0 and dyspigmentation_weeks[k] >= DYSPIGMENTATION_DOUBLING_WEEKS:",
        replace="        if d > 0 and dyspigmentation_weeks[k] > DYSPIGMENTATION_DOUBLING_WEEKS:",
        tests=("tests/unit/test_clasi.py",),
        why="dyspigmentation of exactly 12 months is not doubled",
    ),
    Mutation(
        name="clasi_response_strict",
        path="trialsim/model/clasi.py",
        find="    return current <= baseline * (1.0 - percent / 100.0) + RESPONSE_TOLERANCE * baseline",
        replace="    return current < baseline * (1.0 - percent / 100.0)",
        tests=("tests/unit/test_clasi.py",),
        why="a fall of exactly k% is not a CLASI-k response",
    ),
    Mutation(
        name="clasi_nonspecific_lesion_is_rash",
        path="trialsim/model/clasi.py",
        find="    out[0] = 1 if (lesion and subtype != NONSPECIFIC) else 0",
        replace="    out[0] = 1 if lesion else 0",
        tests=("tests/unit/test_clasi.py",),
        why="a non-specific (vasculitic) lesion also scores the SLEDAI rash",
    ),
    Mutation(
        name="skin_topicals_always_on",
        path="trialsim/model/skin.py",
        find='        topical = sk.topical.effect if des.topicals == "allowed" else 0.0',
        replace="        topical = sk.topical.effect",
        tests=("tests/unit/test_skin_model.py",),
        why="topical therapy acts even when the design keeps it stable",
    ),
    Mutation(
        name="skin_subtype_sensitivity_ignored",
        path="trialsim/model/skin.py",
        find="        emax = p.drug_emax * p.drug_sensitivity[s] * math.exp(",
        replace="        emax = p.drug_emax * math.exp(",
        tests=("tests/unit/test_skin_model.py",),
        why="subacute CLE responds like the other subtypes",
    ),
    Mutation(
        name="skin_scale_without_subtype_shift",
        path="trialsim/model/skin.py",
        find="                        scale[k] = _grade(x + p.scale_shift[s], p.scale_cuts)",
        replace="                        scale[k] = _grade(x, p.scale_cuts)",
        tests=("tests/validation/test_skin_double_programming.py",),
        why="discoid lesions scale no more than acute ones",
    ),
    Mutation(
        name="cohort_stopping_visit_unseen",
        path="trialsim/model/skin.py",
        find="                    end = weeks[j]\n",
        replace="                    end = weeks[j] - 1\n",
        tests=("tests/unit/test_skin_model.py",),
        why="the assessment at which a non-responder stops therapy is not in the data",
    ),
    Mutation(
        name="cmh_variance_without_finite_correction",
        path="trialsim/analysis/cmh.py",
        find="        var += n1 * n0 * m1 * m0 / (n * n * (n - 1.0))",
        replace="        var += n1 * n0 * m1 * m0 / (n * n * n)",
        tests=("tests/reference/test_cmh.py",),
        why="the CMH variance uses the binomial, not the hypergeometric, variance",
    ),
]
