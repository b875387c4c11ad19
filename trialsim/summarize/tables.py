"""Summaries over replicates, each with its Monte Carlo standard error (MCSE)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialsim.analysis import Z_95
from trialsim.analysis.baseline import BASELINE_KINDS, BASELINE_NAMES
from trialsim.analysis.endpoints import DENOMINATOR_ENDPOINTS
from trialsim.analysis.safety import safety_study_size
from trialsim.core.io import SUMMARY_COLUMNS, whole_trial
from trialsim.model.accrual import CALENDAR_FIELDS
from trialsim.model.population import SCREEN_FAILURE_REASONS
from trialsim.run.trial import ChunkResult, Plan
from trialsim.summarize.mcse import mean_mcse, proportion_of
from trialsim.summarize.multiplicity import summarize_rejections
from trialsim.summarize.reduce import (
    Columns,
    Reducer,
    memory_columns,
    replicate_table,
    trial_table,
)

__all__ = [
    "whole_trial", "summarize", "summarize_from", "baseline_table", "baseline_from",
    "profile_table", "profile_from",
    "trajectory_table", "trajectory_from", "replicate_table", "trial_table", "mean_mcse",
    "proportion_mcse", "quantile_mcse",
]


def proportion_mcse(hits: np.ndarray) -> tuple[float, float]:
    """Share of replicates with an event (e.g. rejection) and its binomial MCSE (nan with
    fewer than two replicates)."""
    return proportion_of(int(np.sum(hits)), hits.size)


def quantile_mcse(x: np.ndarray, q: float) -> tuple[float, float]:
    """Sample quantile and its MCSE from the distribution-free order-statistic interval.

    The 95% interval for the ``q`` quantile runs between the order statistics of ranks
    ``R q ∓ z sqrt(R q (1 - q))`` (z = ``Z_95``); its half-width / z is reported as the MCSE.
    With a single value (one replicate, or one analysable trial) the MCSE is nan: there is
    no spread to estimate it from.
    """
    x = np.sort(x[~np.isnan(x)])  # nan: not estimable; inf (e.g. a median never reached) stays
    r = x.size
    if r == 0:
        return float("nan"), float("nan")
    if r == 1:
        return float(x[0]), float("nan")
    if np.isinf(x).any():  # no interpolation with infinite order statistics
        value = float(np.quantile(x, q, method="inverted_cdf"))
    else:
        value = float(np.quantile(x, q))
    half = Z_95 * np.sqrt(r * q * (1 - q))
    lo = int(np.clip(np.floor(r * q - half), 0, r - 1))
    hi = int(np.clip(np.ceil(r * q + half), 0, r - 1))
    spread = x[hi] - x[lo] if np.isfinite(x[hi]) and np.isfinite(x[lo]) else np.inf
    return value, float(spread / (2 * Z_95))


def summarize(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """The tidy summary table of replicates held in memory (``summarize_from``)."""
    return summarize_from(plan, Reducer(plan).add(res), memory_columns(trial_table(plan, res)))


def summarize_from(plan: Plan, red: Reducer, column: Columns) -> pd.DataFrame:
    """The tidy summary table (``summary.csv``) from a run's reducer and per-trial columns.

    Statistics: per arm ``response_rate`` (mean over replicates of the arm's rate) and its
    2.5/97.5% quantiles over replicates, and for an endpoint with a denominator
    (``steroid_sparing``: patients on > 7.5 mg/day prednisone at baseline) ``evaluable``, the
    mean number of the arm's patients in its analysis (the rate's denominator); per
    comparison ``power`` (two-sided rejection rate at alpha), ``power_favoring_treatment``
    (rejection with OR > 1), ``odds_ratio_median`` and its 2.5/97.5% quantiles, the medians
    of the trials' 95% CI bounds (``ci_low_median``, ``ci_high_median``: the CI a typical trial
    reports),
    ``risk_difference_mean`` and ``analyzable`` (share of trials whose logistic model could
    be fitted), ``nnt`` (number needed to treat, ``1 / risk_difference_mean``;
    ``number_needed``), and the distribution over trials of the risk difference
    (``risk_difference_q025/q975``) and of the NNT (``nnt_q025/q975``: the reversed
    reciprocals; ``nnt_q975`` inf when the risk difference's 2.5% quantile is not positive,
    i.e. some trials show no benefit). Endpoint ``time_to_first_flare`` (SFI, at the last
    visit week): per arm the median over trials of the Kaplan–Meier median (``km_median_days``),
    per comparison log-rank ``power``, the Cox (Efron) ``hazard_ratio_median`` and quantiles,
    and ``analyzable`` (share of trials with a Cox estimate); endpoint
    ``time_to_first_severe_flare`` the same per comparison (its Kaplan–Meier median is rarely
    reached, so none is reported). Endpoint ``screening`` (week 0): the mean over trials of
    ``screened_per_randomised`` (candidates screened per patient randomised), of
    ``screen_failure_rate`` (share of candidates screened out) and of
    ``screen_failure_<reason>`` (share screened out by each entry criterion, the first one
    failed). Endpoint ``accrual`` (week 0; with ``design.accrual`` only): the mean over
    trials, and the 2.5/97.5% quantiles, of the ``CALENDAR_FIELDS`` in months (the last
    randomisation, the primary analysis, the end of the study). Endpoints ``sledai_change``
    and ``clasi_change``: the ANCOVA of the change in SELENA-SLEDAI and in CLASI-A
    (``_change_rows``). Means and proportions come from the reducer, quantiles
    from the columns (read one at a time).

    Power counts an unanalysable trial as not rejecting; the odds and hazard ratio quantiles
    and the risk difference are over the analysable trials only, so with a low
    ``analyzable`` share they describe a selected few. An MCSE that cannot be estimated (one
    replicate, or one analysable trial) is nan, never 0.
    """
    sc = plan.scenario
    rows = []

    def add(endpoint, week, arm, comparison, statistic, value, mcse, subgroup="", level=""):
        rows.append((sc.name, endpoint, week, arm, comparison, subgroup, level, statistic,
                     value, mcse))

    def share(count):
        return proportion_of(int(count), red.replicates)

    n_a, n_c = len(plan.arms), len(plan.comparisons)
    for t, (endpoint, week) in enumerate(plan.targets):
        for a, arm in enumerate(plan.arms):
            add(endpoint, week, arm, "", "response_rate", *red.rate.mean_mcse(t * n_a + a))
            x = column(f"rate.{endpoint}.w{week}.{arm}")
            add(endpoint, week, arm, "", "response_rate_q025", *quantile_mcse(x, 0.025))
            add(endpoint, week, arm, "", "response_rate_q975", *quantile_mcse(x, 0.975))
            if endpoint in DENOMINATOR_ENDPOINTS:
                add(endpoint, week, arm, "", "evaluable", *red.evaluable.mean_mcse(t * n_a + a))
        for c, comp in enumerate(plan.comparisons):
            add(endpoint, week, "", comp, "power", *share(red.reject[t, c]))
            add(endpoint, week, "", comp, "power_favoring_treatment", *share(red.favor[t, c]))
            odds = column(f"odds_ratio.{endpoint}.w{week}.{comp}")
            add(endpoint, week, "", comp, "odds_ratio_median", *quantile_mcse(odds, 0.5))
            add(endpoint, week, "", comp, "odds_ratio_q025", *quantile_mcse(odds, 0.025))
            add(endpoint, week, "", comp, "odds_ratio_q975", *quantile_mcse(odds, 0.975))
            key = f"{endpoint}.w{week}.{comp}"
            add(endpoint, week, "", comp, "ci_low_median",
                *quantile_mcse(column(f"ci_low.{key}"), 0.5))
            add(endpoint, week, "", comp, "ci_high_median",
                *quantile_mcse(column(f"ci_high.{key}"), 0.5))
            rd = red.risk_difference.mean_mcse(t * n_c + c)
            add(endpoint, week, "", comp, "risk_difference_mean", *rd)
            add(endpoint, week, "", comp, "nnt", *number_needed(*rd))
            treated, control = (plan.arms[int(a)] for a in plan.pairs[c])
            per_trial = (column(f"rate.{endpoint}.w{week}.{treated}")
                         - column(f"rate.{endpoint}.w{week}.{control}"))
            low, high = quantile_mcse(per_trial, 0.025), quantile_mcse(per_trial, 0.975)
            add(endpoint, week, "", comp, "risk_difference_q025", *low)
            add(endpoint, week, "", comp, "risk_difference_q975", *high)
            # 1 / rd is decreasing where rd > 0: the NNT's quantiles are the risk
            # difference's, reversed; a trial-to-trial 97.5% risk difference at or below 0
            # leaves the upper NNT unbounded (inf)
            add(endpoint, week, "", comp, "nnt_q025", *number_needed(*high))
            add(endpoint, week, "", comp, "nnt_q975",
                *(number_needed(*low) if low[0] > 0 else (float("inf"), float("nan"))))
            add(endpoint, week, "", comp, "analyzable", *share(red.converged[t, c]))
    flare = "time_to_first_flare"
    last_week = plan.scenario.design.duration_weeks
    for arm in plan.arms:
        km = quantile_mcse(column(f"km_median_days.{arm}"), 0.5)
        add(flare, last_week, arm, "", "km_median_days", *km)
    survival = (
        (flare, red.flare_reject, red.flare_favor, "hazard_ratio"),
        ("time_to_first_severe_flare", red.severe_reject, red.severe_favor,
         "severe_hazard_ratio"),
    )
    for endpoint, reject, favor, hr_column in survival:
        for c, comp in enumerate(plan.comparisons):
            add(endpoint, last_week, "", comp, "power", *share(reject[c]))
            add(endpoint, last_week, "", comp, "power_favoring_treatment", *share(favor[c]))
            hr = column(f"{hr_column}.{comp}")
            add(endpoint, last_week, "", comp, "hazard_ratio_median", *quantile_mcse(hr, 0.5))
            add(endpoint, last_week, "", comp, "hazard_ratio_q025", *quantile_mcse(hr, 0.025))
            add(endpoint, last_week, "", comp, "hazard_ratio_q975", *quantile_mcse(hr, 0.975))
            add(endpoint, last_week, "", comp, "analyzable",
                *share(np.count_nonzero(~np.isnan(hr))))
    add("screening", 0, "", "", "screened_per_randomised", *red.screening.mean_mcse(0))
    add("screening", 0, "", "", "screen_failure_rate", *red.screening.mean_mcse(1))
    for k, reason in enumerate(SCREEN_FAILURE_REASONS):
        add("screening", 0, "", "", f"screen_failure_{reason}", *red.screening.mean_mcse(2 + k))
    if plan.accrual.enabled:
        for k, name in enumerate(CALENDAR_FIELDS):
            add("accrual", 0, "", "", name, *red.calendar.mean_mcse(k))
            months = column(f"calendar.{name}")
            add("accrual", 0, "", "", f"{name}_q025", *quantile_mcse(months, 0.025))
            add("accrual", 0, "", "", f"{name}_q975", *quantile_mcse(months, 0.975))
    if plan.interim.enabled:
        _interim_rows(plan, red, add, share)
    if plan.multiplicity is not None:
        _multiplicity_rows(plan, red, add)
    _change_rows(plan, red, column, add, share)
    _subgroup_rows(plan, red, column, add, share)
    _safety_rows(plan, red, column, add, share)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _change_rows(plan: Plan, red: Reducer, column: Columns, add, share) -> None:
    """Rows of endpoints ``sledai_change`` and ``clasi_change`` (analysis/ancova.py; the
    latter among the CLASI endpoints' patients), per endpoint week (``Plan.change_targets``):
    per arm ``mean_change`` (mean over trials of the arm's mean change from baseline, LOCF);
    per comparison ``power`` (the ANCOVA's two-sided t test rejects at alpha),
    ``power_favoring_treatment`` (rejects with a negative difference: the score falls
    more on treatment), ``difference_mean`` (mean over trials of the adjusted mean
    difference, treated minus control) and its 2.5/97.5% quantiles over trials, and
    ``analyzable`` (share of trials whose model could be fitted)."""
    n_a, n_c = len(plan.arms), len(plan.comparisons)
    for w, (name, week) in enumerate(plan.change_targets):
        for a, arm in enumerate(plan.arms):
            add(name, week, arm, "", "mean_change", *red.change_mean.mean_mcse(w * n_a + a))
        for c, comp in enumerate(plan.comparisons):
            add(name, week, "", comp, "power", *share(red.change_reject[w, c]))
            add(name, week, "", comp, "power_favoring_treatment",
                *share(red.change_favor[w, c]))
            add(name, week, "", comp, "difference_mean",
                *red.change_difference.mean_mcse(w * n_c + c))
            x = column(f"difference.{name}.w{week}.{comp}")
            add(name, week, "", comp, "difference_q025", *quantile_mcse(x, 0.025))
            add(name, week, "", comp, "difference_q975", *quantile_mcse(x, 0.975))
            add(name, week, "", comp, "analyzable", *share(red.change_fitted[w, c]))
#: power of the safety study sizes reported
SAFETY_STUDY_POWERS = (0.8, 0.9)


def _safety_rows(plan: Plan, red: Reducer, column: Columns, add, share) -> None:
    """Adverse-event rows (endpoint ``safety_<event>``, at the last visit week).

    Per arm: ``patients_with_event`` (mean over trials of the share of patients with at least
    one), ``events_per_100py`` (mean over trials of the arm's events per 100 patient-years at
    risk) and ``years_at_risk`` (mean years at risk per patient). Per comparison:
    ``risk_difference_mean`` (share with an event, treated minus control), ``nnh`` (number
    needed to harm, ``1 / risk_difference_mean``), ``rate_ratio_median`` and its 2.5/97.5%
    quantiles over trials, ``power`` (share of trials whose exact conditional test of equal
    rates rejects at alpha), ``power_harm`` (rejections with more events on treatment),
    ``p_value_median``, ``responders_per_event`` (the primary endpoint's risk difference over
    the event's: extra responders per extra event; MCSE by the delta method, the two treated
    as independent, since their draws are) and ``study_size_80``/``study_size_90``: patients
    per arm of a 1:1 study whose log rate ratio test has 80/90% power at the scenario's rates
    of the two arms and this trial's years at risk per patient (``safety_study_size``; MCSE
    from the years' MCSE).
    """
    events = plan.safety_events
    if not events:
        return
    week = plan.scenario.design.duration_weeks
    alpha = plan.scenario.analysis.alpha
    n_a, n_c = len(plan.arms), len(plan.comparisons)
    rates = plan.safety.rates
    for e, event in enumerate(events):
        name = f"safety_{event}"
        for a, arm in enumerate(plan.arms):
            j = e * n_a + a
            add(name, week, arm, "", "patients_with_event", *red.safety_share.mean_mcse(j))
            add(name, week, arm, "", "events_per_100py", *red.safety_rate.mean_mcse(j))
            add(name, week, arm, "", "years_at_risk", *red.safety_years.mean_mcse(a))
        for c, comp in enumerate(plan.comparisons):
            treated, control = (int(x) for x in plan.pairs[c])
            rd = red.safety_rd.mean_mcse(e * n_c + c)
            add(name, week, "", comp, "risk_difference_mean", *rd)
            add(name, week, "", comp, "nnh", *number_needed(*rd))
            ratio = column(f"safety_rate_ratio.{event}.{comp}")
            add(name, week, "", comp, "rate_ratio_median", *quantile_mcse(ratio, 0.5))
            add(name, week, "", comp, "rate_ratio_q025", *quantile_mcse(ratio, 0.025))
            add(name, week, "", comp, "rate_ratio_q975", *quantile_mcse(ratio, 0.975))
            add(name, week, "", comp, "power", *share(red.safety_reject[e, c]))
            add(name, week, "", comp, "power_harm", *share(red.safety_harm[e, c]))
            p = column(f"safety_p_value.{event}.{comp}")
            add(name, week, "", comp, "p_value_median", *quantile_mcse(p, 0.5))
            add(name, week, "", comp, "responders_per_event",
                *_ratio_mcse(red.risk_difference.mean_mcse(c), rd))
            y_t, se_t = red.safety_years.mean_mcse(treated)
            y_c, se_c = red.safety_years.mean_mcse(control)
            years, years_se = (y_t + y_c) / 2.0, float(np.hypot(se_t, se_c)) / 2.0
            for power in SAFETY_STUDY_POWERS:
                size = safety_study_size(rates[e, control], rates[e, treated], years, alpha,
                                         power)
                add(name, week, "", comp, f"study_size_{round(100 * power)}", size,
                    size * years_se / years if years > 0 else float("nan"))


def _multiplicity_rows(plan: Plan, red: Reducer, add) -> None:
    """``analysis.multiplicity`` rows (docs/multiplicity.md): per hypothesis, at its endpoint,
    week and comparison, ``power_adjusted`` (share of trials rejecting it under the
    procedure, one-sided at ``analysis.alpha / 2``); under endpoint ``multiplicity`` (week
    0) the family's ``disjunctive_power`` (at least one rejected), ``conjunctive_power``
    (all), ``expected_rejections`` and, with ``success``, ``success_any_power`` and
    ``success_all_power``."""
    mp = plan.multiplicity
    reject = np.concatenate(red.mult_reject) if red.mult_reject else np.zeros(
        (0, len(mp.names)), dtype=bool)
    summ = summarize_rejections(reject, mp.success or None)
    for h in range(len(mp.names)):
        endpoint, week = plan.targets[int(mp.target[h])]
        add(endpoint, week, "", plan.comparisons[int(mp.comparison[h])], "power_adjusted",
            float(summ.power[h]), float(summ.power_mcse[h]))
    add("multiplicity", 0, "", "", "disjunctive_power", summ.disjunctive,
        summ.disjunctive_mcse)
    add("multiplicity", 0, "", "", "conjunctive_power", summ.conjunctive,
        summ.conjunctive_mcse)
    add("multiplicity", 0, "", "", "expected_rejections", summ.expected_rejections,
        summ.expected_rejections_mcse)
    if mp.success:
        add("multiplicity", 0, "", "", "success_any_power", summ.subset_any,
            summ.subset_any_mcse)
        add("multiplicity", 0, "", "", "success_all_power", summ.subset_all,
            summ.subset_all_mcse)


def _interim_rows(plan: Plan, red: Reducer, add, share) -> None:
    """Group-sequential rows (``design.interim``; analysis/interim.py), on the primary
    endpoint at its week: per look (no arm, no comparison) the design's
    ``gs_information_look<k>`` (share of patients analysed), ``gs_alpha_spent_look<k>``,
    ``gs_efficacy_bound_look<k>`` and ``gs_futility_bound_look<k>`` (Z scale, one-sided;
    with looks at calendar months ``gs_month_look<k>``, the planned fraction
    ``gs_planned_information_look<k>`` and, as means over trials with their MCSE, the
    fraction each trial had and the bounds it got from it);
    per comparison ``gs_power`` (H0 rejected at some look, futility stops obeyed),
    ``gs_power_efficacy_only`` (the non-binding futility bounds ignored),
    ``gs_efficacy_stop_look<k>`` and ``gs_futility_stop_look<k>`` (share of trials
    stopping there), and at the stopping look the means over trials of the patients
    randomised (``gs_expected_patients``), the calendar month (``gs_expected_months``), the
    log odds ratio (``gs_log_or_at_stop_mean``) and its difference from the same trial's
    final analysis (``gs_log_or_bias``: the conditional bias of stopping early)."""
    design = plan.interim_design
    endpoint, week = plan.targets[0]
    calendar = plan.interim.calendar
    for k in range(design.k_max):
        look = f"_look{k + 1}"
        if calendar:  # the trials' own fractions and bounds: means over trials, with MCSE
            if k < design.k_max - 1:
                add(endpoint, week, "", "", f"gs_month{look}",
                    float(plan.interim.months[k]), 0.0)
            add(endpoint, week, "", "", f"gs_information{look}", *red.gs_looks.mean_mcse(3 * k))
            add(endpoint, week, "", "", f"gs_planned_information{look}",
                float(design.information_fractions[k]), 0.0)
            add(endpoint, week, "", "", f"gs_efficacy_bound{look}",
                *red.gs_looks.mean_mcse(3 * k + 1))
            if design.futility_bounds is not None and k < design.k_max - 1:
                add(endpoint, week, "", "", f"gs_futility_bound{look}",
                    *red.gs_looks.mean_mcse(3 * k + 2))
            continue
        add(endpoint, week, "", "", f"gs_information{look}",
            plan.interim.patients[k] / plan.scenario.design.sample_size, 0.0)
        add(endpoint, week, "", "", f"gs_alpha_spent{look}", float(design.alpha_spent[k]), 0.0)
        add(endpoint, week, "", "", f"gs_efficacy_bound{look}",
            float(design.critical_values[k]), 0.0)
        if design.futility_bounds is not None and k < design.k_max - 1:
            add(endpoint, week, "", "", f"gs_futility_bound{look}",
                float(design.futility_bounds[k]), 0.0)
    for c, comp in enumerate(plan.comparisons):
        add(endpoint, week, "", comp, "gs_power", *share(red.gs_reject[c]))
        add(endpoint, week, "", comp, "gs_power_efficacy_only",
            *share(red.gs_reject_efficacy_only[c]))
        for k in range(design.k_max):
            add(endpoint, week, "", comp, f"gs_efficacy_stop_look{k + 1}",
                *share(red.gs_efficacy[c, k]))
            if design.futility_bounds is not None and k < design.k_max - 1:
                add(endpoint, week, "", comp, f"gs_futility_stop_look{k + 1}",
                    *share(red.gs_futility[c, k]))
        for j, stat in enumerate(("gs_expected_patients", "gs_expected_months",
                                  "gs_log_or_at_stop_mean", "gs_log_or_bias")):
            add(endpoint, week, "", comp, stat, *red.gs_at_stop.mean_mcse(4 * c + j))


def _ratio_mcse(num: tuple[float, float], den: tuple[float, float]) -> tuple[float, float]:
    """``num / den`` of two independent estimates with MCSEs (delta method); nan unless
    both are positive."""
    (a, sa), (b, sb) = num, den
    if not (a > 0.0 and b > 0.0):
        return float("nan"), float("nan")
    ratio = a / b
    return ratio, ratio * float(np.hypot(sa / a, sb / b))


def _subgroup_rows(plan: Plan, red: Reducer, column: Columns, add, share) -> None:
    """Subgroup rows of the summary (``subgroup`` and ``level`` set): per level, subgroup
    target and arm the mean ``patients`` and ``response_rate`` (and ``evaluable``, the
    patients in the analysis, for an endpoint with a denominator); per comparison ``power``,
    ``power_favoring_treatment``, the OR's median and 2.5/97.5% quantiles over trials, the
    medians of the trials' CI bounds (``ci_low_median``, ``ci_high_median``: the CI a typical
    trial reports), ``risk_difference_mean`` and ``analyzable``; per factor and comparison
    (``level`` empty) ``interaction_power`` (share of trials whose interaction test rejects
    at alpha), ``interaction_p_median`` and ``interaction_analyzable``."""
    sg = plan.subgroups
    n_l, n_s, n_a, n_c, _ = red.sg_shape
    for l_, (factor, level) in enumerate(sg.levels):
        for s, (endpoint, week) in enumerate(plan.subgroup_targets):
            def put(arm, comp, stat, value, mcse, e=endpoint, w=week, f=factor, lv=level):
                add(e, w, arm, comp, stat, value, mcse, subgroup=f, level=lv)

            for a, arm in enumerate(plan.arms):
                put(arm, "", "patients", *red.sg_n.mean_mcse(l_ * n_a + a))
                put(arm, "", "response_rate", *red.sg_rate.mean_mcse((l_ * n_s + s) * n_a + a))
                if endpoint in DENOMINATOR_ENDPOINTS:
                    put(arm, "", "evaluable",
                        *red.sg_evaluable.mean_mcse((l_ * n_s + s) * n_a + a))
            for c, comp in enumerate(plan.comparisons):
                put("", comp, "power", *share(red.sg_reject[l_, s, c]))
                put("", comp, "power_favoring_treatment", *share(red.sg_favor[l_, s, c]))
                key = f"{factor}={level}.{endpoint}.w{week}.{comp}"
                odds = column(f"sg_odds_ratio.{key}")
                put("", comp, "odds_ratio_median", *quantile_mcse(odds, 0.5))
                put("", comp, "odds_ratio_q025", *quantile_mcse(odds, 0.025))
                put("", comp, "odds_ratio_q975", *quantile_mcse(odds, 0.975))
                put("", comp, "ci_low_median", *quantile_mcse(column(f"sg_ci_low.{key}"), 0.5))
                put("", comp, "ci_high_median",
                    *quantile_mcse(column(f"sg_ci_high.{key}"), 0.5))
                put("", comp, "risk_difference_mean",
                    *red.sg_risk_difference.mean_mcse((l_ * n_s + s) * n_c + c))
                put("", comp, "analyzable", *share(red.sg_converged[l_, s, c]))
    for f, factor in enumerate(sg.factors):
        for s, (endpoint, week) in enumerate(plan.subgroup_targets):
            for c, comp in enumerate(plan.comparisons):
                p = column(f"interaction_p.{factor}.{endpoint}.w{week}.{comp}")
                add(endpoint, week, "", comp, "interaction_power",
                    *share(red.int_reject[f, s, c]), subgroup=factor)
                add(endpoint, week, "", comp, "interaction_p_median", *quantile_mcse(p, 0.5),
                    subgroup=factor)
                add(endpoint, week, "", comp, "interaction_analyzable",
                    *share(red.int_analyzable[f, s, c]), subgroup=factor)



def number_needed(rd: float, rd_mcse: float) -> tuple[float, float]:
    """Number needed to treat for one more responder, ``1 / rd`` (the mean risk difference
    over trials, as the seed's NNT of 7 and 11 are for BLISS-52 and BLISS-76), with its MCSE
    by the delta method (``rd_mcse / rd²``); nan when the drug does not help on average
    (``rd`` ≤ 0: the number needed to harm is then ``-1 / rd``)."""
    if not (rd > 0.0) or not np.isfinite(rd):
        return float("nan"), float("nan")
    return 1.0 / rd, rd_mcse / (rd * rd) if np.isfinite(rd_mcse) else float("nan")


def baseline_table(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """``baseline_from`` replicates held in memory."""
    return baseline_from(plan, Reducer(plan).add(res))


def baseline_from(plan: Plan, red: Reducer) -> pd.DataFrame:
    """Simulated baseline characteristics per arm and overall, pooled over replicates.

    Percent characteristics report the percentage; mean characteristics the mean and the
    patient-level SD. ``mcse`` is the Monte Carlo SE of the value from the spread of the
    per-trial values.
    """
    names, kinds = BASELINE_NAMES, BASELINE_KINDS
    k = len(names)
    groups = [*plan.arms, "overall"]
    rows = []
    for g, group in enumerate(groups):
        tot_n, tot_s, tot_ss = red.baseline_total[g]
        mean = tot_s / tot_n
        sd = np.where(tot_n >= 2, np.sqrt(np.maximum(tot_ss / tot_n - mean**2, 0.0)), np.nan)
        n_per_trial = float(tot_n[0] / red.replicates)
        rows.append(("n_per_trial", "count", group, n_per_trial, float("nan"), float("nan")))
        for j, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            scale = 100.0 if kind == "percent" else 1.0
            mcse = red.baseline_trial_mean.mean_mcse(g * k + j)[1]
            rows.append((name, kind, group, mean[j] * scale,
                         sd[j] if kind == "mean" else float("nan"), mcse * scale))
    return pd.DataFrame(rows, columns=["characteristic", "kind", "arm", "value", "sd", "mcse"])


def profile_table(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """``profile_from`` replicates held in memory."""
    return profile_from(plan, Reducer(plan).add(res))


def profile_from(plan: Plan, red: Reducer) -> pd.DataFrame:
    """Responder profile: the baseline characteristics of the primary endpoint's responders
    and non-responders (the first endpoint at the first endpoint week), per arm and over all
    arms, pooled over replicates, as published post-hoc analyses report them.

    Columns ``endpoint, week, characteristic, kind, arm, responder, value, sd, mcse`` (as in
    the baseline table; ``n_per_trial`` rows give the group sizes) and, per characteristic
    and arm, ``difference`` rows: responders minus non-responders, with the MCSE of the
    difference of the two pooled values (their per-trial means are taken as independent).
    """
    names, kinds = BASELINE_NAMES, BASELINE_KINDS
    endpoint, week = plan.targets[0]
    k = len(names)
    n_groups = len(plan.arms) + 1
    rows = []
    for g, arm in enumerate([*plan.arms, "all"]):
        value = {}
        for resp, label in ((1, "yes"), (0, "no")):
            tot_n, tot_s, tot_ss = red.profile_total[resp, g]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = tot_s / tot_n
                var = np.maximum(tot_ss / tot_n - mean**2, 0.0)
                sd = np.where(tot_n >= 2, np.sqrt(var), np.nan)  # one patient: no spread
            rows.append((endpoint, week, "n_per_trial", "count", arm, label,
                         float(tot_n[0] / red.replicates), float("nan"), float("nan")))
            for j, (name, kind) in enumerate(zip(names, kinds, strict=True)):
                scale = 100.0 if kind == "percent" else 1.0
                mcse = red.profile_trial_mean.mean_mcse((resp * n_groups + g) * k + j)[1]
                value[resp, j] = (mean[j] * scale, mcse * scale)
                rows.append((endpoint, week, name, kind, arm, label, mean[j] * scale,
                             sd[j] if kind == "mean" else float("nan"), mcse * scale))
        for j, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            (v1, m1), (v0, m0) = value[1, j], value[0, j]
            rows.append((endpoint, week, name, kind, arm, "difference", v1 - v0, float("nan"),
                         float(np.hypot(m1, m0))))
    return pd.DataFrame(rows, columns=["endpoint", "week", "characteristic", "kind", "arm",
                                       "responder", "value", "sd", "mcse"])


def trajectory_table(plan: Plan, res: ChunkResult) -> pd.DataFrame:
    """``trajectory_from`` replicates held in memory."""
    return trajectory_from(plan, memory_columns(trial_table(plan, res)))


def trajectory_from(plan: Plan, column: Columns) -> pd.DataFrame:
    """Mean SELENA-SLEDAI of patients on study by arm and week, with replicate quantiles."""
    rows = []
    interval = plan.scenario.design.visit_interval_weeks
    for arm in plan.arms:
        for v in range(plan.n_visits):
            x = column(f"sledai_mean.{arm}.w{v * interval}")
            col = x[np.isfinite(x)]
            if col.size == 0:  # nobody on study at this visit in any replicate
                rows.append((arm, v * interval, np.nan, np.nan, np.nan))
                continue
            rows.append((arm, v * interval, float(col.mean()), float(np.quantile(col, 0.025)),
                         float(np.quantile(col, 0.975))))
    return pd.DataFrame(rows, columns=["arm", "week", "mean", "q025", "q975"])
