"""Skin studies, replicated: the observational cohort of seed 004 and the randomised skin trial.

``run_cohort`` simulates a cohort study many times and reports, for each assessment, the
distribution over replicates of what such a study would publish (mean CLASI with its CI,
Wilcoxon p against baseline, CLASI-k rates among the evaluable, by subtype), next to the
truth the simulation knows (every eligible patient, no attrition) and the untreated
counterfactual (the same patients off drug: regression to the mean and background therapy).
``run_trial`` simulates a randomised skin trial and reports power, rates and odds ratios.

Each replicate's numbers depend only on (seed, replicate): chunks and ``n_jobs`` change
nothing (tested).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from trialsim.analysis.ancova import (
    DIFFERENCE,
    P_VALUE,
    ancova_kernel,
    arm_means,
    locf_change,
)
from trialsim.analysis.cmh import cmh_test
from trialsim.analysis.cohort import (
    STAT_NAMES,
    cohort_statistics,
    first_response_times,
    statistics_frame,
    t_quantiles,
)
from trialsim.analysis.survival import LOG_HR, P_LOGRANK, compare_survival, km_median
from trialsim.config.skin import CohortDesign, SkinScenario, TrialDesign
from trialsim.config.vocab import SKIN_SUBTYPES
from trialsim.core.rng import replicate_key
from trialsim.errors import ScenarioError
from trialsim.model.clasi import SLEDAI_SKIN_DESCRIPTORS, clasi_responders
from trialsim.model.randomization import randomize
from trialsim.model.skin import (
    SkinParams,
    cohort_attrition,
    exposure,
    months_to_weeks,
    skin_courses,
    skin_params,
    skin_patients,
    trial_dropout_weeks,
)
from trialsim.summarize.mcse import mean_mcse, median_mcse, proportion_of

GROUPS = ("all", *SKIN_SUBTYPES)
#: screening gives up when fewer than this share of candidates qualify (a hang otherwise)
MIN_PASS_RATE = 1e-3

#: What seed 004 reports (../shared/seeds/004_*.txt): month → value. Bounds are one-sided
#: where the seed says "below" or "most". ``None``: not reported.
SEED_004 = {
    "mean": {0: 8.76, 3: 5.6},
    "mean_below": {12: 4.0},
    "clasi20_rate_above": {6: 0.5},
    "clasi50_rate": {12: 0.45, 24: 0.45},
    "clasi100_rate": {60: 1.0 / 3.0},
}


@dataclass
class Screened:
    """Candidates that met the CLASI entry criterion, in screening order."""

    units: np.ndarray
    subtype: np.ndarray
    weight: np.ndarray
    baseline: np.ndarray


def screen(p: SkinParams, key: tuple[int, int], min_clasi: int, wanted: int,
           accept=None) -> tuple[Screened, int]:
    """Screen candidates in order until ``wanted`` pass (``accept`` may refuse some of the
    CLASI-eligible ones: it gets the eligible batch and returns a boolean mask); returns the
    eligible candidates screened so far and how many of them were accepted, in order,
    before the last one needed."""
    batch = max(4 * wanted, 64)
    start, taken = 0, 0
    parts: list[Screened] = []
    while True:
        units = np.arange(start, start + batch, dtype=np.int64)
        subtype, weight = skin_patients(p, units, key[0], key[1])
        act = skin_courses(p, units, subtype, np.zeros((batch, 1)), key[0], key[1], 1)[0][:, 0]
        ok = act >= min_clasi
        part = Screened(units[ok], subtype[ok], weight[ok], act[ok])
        mask = np.ones(part.units.size, bool) if accept is None else accept(part)
        need = wanted - taken
        hits = np.flatnonzero(mask)
        if hits.size >= need:
            cut = hits[need - 1] + 1 if need > 0 else 0
            parts.append(Screened(part.units[:cut], part.subtype[:cut], part.weight[:cut],
                                  part.baseline[:cut]))
            taken = wanted
            break
        parts.append(part)
        taken += hits.size
        start += batch
        if start >= 50_000 and taken < MIN_PASS_RATE * start:
            raise ScenarioError(
                f"design: after {start} candidates only {taken} of {wanted} patients met the "
                f"entry criteria (min_clasi, min_months_on_drug); lower design.min_clasi or "
                f"check the skin model")
    out = Screened(*(np.concatenate([getattr(q, f) for q in parts])
                     for f in ("units", "subtype", "weight", "baseline")))
    return out, taken


# --------------------------------------------------------------------------------------
# the observational cohort
# --------------------------------------------------------------------------------------

def cohort_replicate(scenario: SkinScenario, p: SkinParams, replicate: int, tq: np.ndarray
                     ) -> dict[str, np.ndarray]:
    """One simulated cohort study: the study's statistics (by group and assessment), the
    truth (every eligible patient screened, on drug, no attrition) and the untreated
    counterfactual; plus the study's patient-level data."""
    des: CohortDesign = scenario.design
    key = replicate_key(scenario.seed, replicate)
    n_assess = p.assessment_weeks.size
    min_weeks = months_to_weeks(des.min_months_on_drug)
    fu_min, fu_max = months_to_weeks(des.follow_up.min_months), months_to_weeks(
        des.follow_up.max_months)
    store: dict[str, list] = {"act": [], "dam": [], "sl": [], "desc": [], "last": []}

    def accept(part: Screened) -> np.ndarray:
        expo = exposure(scenario, np.zeros(part.units.size, np.int64), part.weight,
                        part.units, key)
        act, dam, sl, desc, _ = skin_courses(p, part.units, part.subtype, expo, key[0],
                                             key[1], n_assess)
        last, _stopped = cohort_attrition(
            p, part.units, act, key[0], key[1], fu_min, fu_max, des.stop_per_year,
            des.lost_per_year, des.nonresponder_stop_prob,
            months_to_weeks(des.stop_from_month))
        for name, arr in zip(("act", "dam", "sl", "desc", "last"),
                             (act, dam, sl, desc, last), strict=True):
            store[name].append(arr)
        return last >= min_weeks

    eligible, _ = screen(p, key, des.min_clasi, des.sample_size, accept)
    n_el = eligible.units.size
    if tq.size <= n_el:  # the truth counts every eligible candidate screened
        tq = t_quantiles(2 * n_el, 1.0 - scenario.analysis.alpha)
    act = np.concatenate(store["act"])[:n_el]
    dam = np.concatenate(store["dam"])[:n_el]
    sl = np.concatenate(store["sl"])[:n_el]
    desc = np.concatenate(store["desc"])[:n_el]
    last = np.concatenate(store["last"])[:n_el]
    enrolled = last >= min_weeks
    weeks = p.assessment_weeks
    evaluable = (weeks[None, :] <= last[:, None]) & enrolled[:, None]
    thresholds = np.array(scenario.analysis.response_thresholds, dtype=np.float64)
    mb = scenario.min_baseline
    clasi = act.astype(np.float64)
    study = cohort_statistics(clasi[enrolled], evaluable[enrolled], eligible.subtype[enrolled],
                              len(SKIN_SUBTYPES), mb, thresholds, tq)
    everyone = np.ones_like(evaluable)
    truth = cohort_statistics(clasi, everyone, eligible.subtype, len(SKIN_SUBTYPES), mb,
                              thresholds, tq)
    off = np.zeros((n_el, p.n_weeks + 1))
    untreated_act = skin_courses(p, eligible.units, eligible.subtype, off, key[0], key[1],
                                 n_assess)[0]
    untreated = cohort_statistics(untreated_act.astype(np.float64), everyone,
                                  eligible.subtype, len(SKIN_SUBTYPES), mb, thresholds, tq)
    months = np.array(des.assessment_months, dtype=np.float64)
    k = float(scenario.analysis.time_to_response)
    time_to = np.stack([
        _km_by_group(clasi[enrolled], evaluable[enrolled], eligible.subtype[enrolled],
                     months, k, mb),
        _km_by_group(clasi, everyone, eligible.subtype, months, k, mb),
        _km_by_group(untreated_act.astype(np.float64), everyone, eligible.subtype, months,
                     k, mb)])
    return {"study": study, "truth": truth, "untreated": untreated, "time_to": time_to,
            "patients": (eligible.units[enrolled], eligible.subtype[enrolled],
                         act[enrolled], dam[enrolled], sl[enrolled], desc[enrolled],
                         evaluable[enrolled])}


def _km_by_group(clasi, evaluable, subtype, months, percent, min_baseline) -> np.ndarray:
    """Kaplan-Meier median months to a first CLASI-``percent`` response, for all patients
    and by subtype (nan for a group without eligible patients, inf when not reached)."""
    time, observed, eligible = first_response_times(clasi, evaluable, months, percent,
                                                    min_baseline)
    out = np.full(len(GROUPS), np.nan)
    for g in range(len(GROUPS)):
        m = eligible if g == 0 else eligible & (subtype == g - 1)
        if m.any():
            out[g] = km_median(time[m], observed[m])
    return out


def _cohort_chunk(scenario: SkinScenario, start: int, stop: int) -> list[dict]:
    p = skin_params(scenario)
    tq = t_quantiles(max(4 * scenario.design.sample_size, 100),
                     1.0 - scenario.analysis.alpha)
    out = []
    for r in range(start, stop):
        res = cohort_replicate(scenario, p, r, tq)
        if r != 0:
            res.pop("patients")
        out.append(res)
    return out


def _replicated(fn, scenario: SkinScenario, replicates: int, n_jobs: int) -> list:
    size = scenario.engine.chunk_size
    bounds = [(a, min(a + size, replicates)) for a in range(0, replicates, size)]
    if n_jobs <= 1 or len(bounds) == 1:
        chunks = [fn(scenario, a, b) for a, b in bounds]
    else:
        chunks = Parallel(n_jobs=n_jobs)(delayed(fn)(scenario, a, b) for a, b in bounds)
    return [res for chunk in chunks for res in chunk]


@dataclass
class CohortResult:
    """What ``run_cohort`` returns (``write_cohort`` writes it)."""

    scenario: SkinScenario
    replicates: pd.DataFrame  # one row per replicate × source × group × month
    summary: pd.DataFrame  # over replicates, with MCSE
    first_study: pd.DataFrame  # replicate 0 analysed as the paper would
    patients: pd.DataFrame  # replicate 0's patient-level data
    seed_comparison: pd.DataFrame
    provenance: dict


def run_cohort(scenario: SkinScenario, replicates: int | None = None,
               n_jobs: int | None = None) -> CohortResult:
    """Simulate a cohort study ``replicates`` times (default ``engine.replicates``)."""
    t0 = time.perf_counter()
    if not isinstance(scenario.design, CohortDesign):
        raise ScenarioError("design.type: run_cohort needs a cohort design")
    R = replicates or scenario.engine.replicates
    jobs = n_jobs or scenario.engine.n_jobs
    results = _replicated(_cohort_chunk, scenario, R, jobs)
    months = list(scenario.design.assessment_months)
    thresholds = scenario.analysis.response_thresholds
    names = STAT_NAMES(np.array(thresholds, dtype=np.float64))
    rows = []
    for r, res in enumerate(results):
        for source in ("study", "truth", "untreated"):
            arr = res[source]
            for g, group in enumerate(GROUPS):
                for j, m in enumerate(months):
                    rows.append((r, source, group, m, *arr[g, j]))
    reps = pd.DataFrame(rows, columns=["replicate", "source", "group", "month", *names])
    for k in thresholds:
        reps[f"clasi{k}_rate"] = reps[f"clasi{k}"] / reps["n_eligible"].where(
            reps["n_eligible"] > 0)
    reps["significant"] = (reps["p_wilcoxon"] < scenario.analysis.alpha).astype(float)
    reps.loc[reps["p_wilcoxon"].isna(), "significant"] = np.nan
    summary = summarize_cohort(reps, thresholds)
    summary = pd.concat([summary, summarize_time_to(
        np.stack([r["time_to"] for r in results]), scenario.analysis.time_to_response)],
        ignore_index=True)
    first = statistics_frame(results[0]["study"], months, list(GROUPS),
                             np.array(thresholds, dtype=np.float64),
                             level=1.0 - scenario.analysis.alpha)
    patients = patient_frame(results[0]["patients"], months)
    comparison = seed_comparison(reps, summary)
    prov = {"replicates": R, "n_jobs": jobs, "seed": scenario.seed,
            "wall_time_seconds": round(time.perf_counter() - t0, 3)}
    return CohortResult(scenario, reps, summary, first, patients, comparison, prov)


def summarize_cohort(reps: pd.DataFrame, thresholds) -> pd.DataFrame:
    """Per source, group, month and statistic: the mean over replicates with its Monte
    Carlo SE, the SD between studies, and the 5th, 50th and 95th percentiles."""
    stats = ["n", "mean", "change", "n_eligible", "significant",
             *[f"clasi{k}_rate" for k in thresholds]]
    long = reps.melt(id_vars=["replicate", "source", "group", "month"], value_vars=stats,
                     var_name="statistic")
    g = long.dropna(subset=["value"]).groupby(["source", "group", "month", "statistic"],
                                              sort=False)["value"]
    out = g.agg(value="mean", sd="std", replicates="count",
                q05=lambda x: x.quantile(0.05), median="median",
                q95=lambda x: x.quantile(0.95)).reset_index()
    out["mcse"] = out["sd"] / np.sqrt(out["replicates"])
    return out


def summarize_time_to(times: np.ndarray, k: int) -> pd.DataFrame:
    """Rows of the summary for the Kaplan-Meier median months to a first CLASI-k response
    (``times``: replicates × source × group): over the simulated studies, the median of
    the medians with its batch-means MCSE and 5-95% range (inf: not reached), and the share
    of studies whose median is reached (month left empty)."""
    rows = []
    for s, source in enumerate(("study", "truth", "untreated")):
        for g, group in enumerate(GROUPS):
            x = times[:, s, g]
            x = x[~np.isnan(x)]
            if x.size == 0:
                continue
            med, se = median_mcse(x)
            rows.append({"source": source, "group": group, "month": np.nan,
                         "statistic": f"median_months_to_clasi{k}", "value": med,
                         "sd": np.nan, "replicates": x.size,
                         "q05": float(np.quantile(x, 0.05, method="inverted_cdf")),
                         "median": med,
                         "q95": float(np.quantile(x, 0.95, method="inverted_cdf")),
                         "mcse": se})
            share, se = proportion_of(int(np.isfinite(x).sum()), x.size)
            rows.append({"source": source, "group": group, "month": np.nan,
                         "statistic": f"clasi{k}_median_reached", "value": share,
                         "sd": np.nan, "replicates": x.size, "q05": np.nan,
                         "median": np.nan, "q95": np.nan, "mcse": se})
    return pd.DataFrame(rows)


def seed_comparison(reps: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Each number seed 004 reports beside the simulated studies: the mean over replicates
    (MCSE), the 5-95% range of a 29-patient study, and ``share``: for a value, the share of
    simulated studies at least as far from the simulated mean as the seed (two-sided); for a
    bound ("below 4", "most"), the share of studies that meet it. ``consistent``: share ≥
    5%, i.e. a study of the seed's size could have reported it."""
    study = reps[(reps["source"] == "study") & (reps["group"] == "all")]
    rows = []
    for what, values in SEED_004.items():
        stat = {"mean": "mean", "mean_below": "mean", "clasi20_rate_above": "clasi20_rate",
                "clasi50_rate": "clasi50_rate", "clasi100_rate": "clasi100_rate"}[what]
        for month, reported in values.items():
            x = study.loc[study["month"] == month, stat].dropna().to_numpy()
            if x.size == 0:
                continue
            mean = float(x.mean())
            if what == "mean_below":
                share = float(np.mean(x < reported))
                verdict = f"simulated studies with a mean below {reported}: {share:.0%}"
            elif what == "clasi20_rate_above":
                share = float(np.mean(x > reported))
                verdict = f"simulated studies with most patients CLASI-20: {share:.0%}"
            else:
                share = float(np.mean(np.abs(x - mean) >= abs(reported - mean)))
                verdict = f"share of studies at least as far from the mean: {share:.2f}"
            # a 29-patient study could have reported it: at least 5% of simulated studies do
            matches = share >= 0.05
            rows.append({"statistic": stat, "month": month, "reported": reported,
                         "relation": {"mean_below": "below", "clasi20_rate_above": "above"}
                         .get(what, "about"),
                         "simulated_mean": mean, "mcse": float(x.std(ddof=1) / math.sqrt(x.size))
                         if x.size > 1 else float("nan"), "share": share,
                         "q05": float(np.quantile(x, 0.05)), "q95": float(np.quantile(x, 0.95)),
                         "consistent": bool(matches), "check": verdict})
    return pd.DataFrame(rows)


def patient_frame(patients: tuple, months: list[float]) -> pd.DataFrame:
    """Replicate 0's study as a dataset: one row per patient and assessment."""
    units, subtype, act, dam, sl, desc, evaluable = patients
    n, t = act.shape
    frame = pd.DataFrame({
        "patient": np.repeat(np.arange(n), t),
        "candidate": np.repeat(units, t),
        "subtype": np.repeat(np.array(SKIN_SUBTYPES)[subtype], t),
        "month": np.tile(np.array(months, dtype=float), n),
        "evaluable": evaluable.ravel(),
        "clasi_a": act.ravel(),
        "clasi_d": dam.ravel(),
        "sledai_skin_points": sl.ravel(),
    })
    for q, name in enumerate(SLEDAI_SKIN_DESCRIPTORS):
        frame[f"sledai_{name}"] = desc[:, :, q].ravel()
    frame.loc[~frame["evaluable"], ["clasi_a", "clasi_d", "sledai_skin_points",
                                    *[f"sledai_{d}" for d in SLEDAI_SKIN_DESCRIPTORS]]] = np.nan
    return frame


# --------------------------------------------------------------------------------------
# the randomised skin trial
# --------------------------------------------------------------------------------------

def trial_replicate(scenario: SkinScenario, p: SkinParams, replicate: int,
                    sample_size: int | None = None) -> dict[str, np.ndarray]:
    """One randomised skin trial: per comparison (each arm vs control) the CMH test of the
    primary CLASI-k response stratified by subtype (when the randomisation is; missing =
    non-responder): statistic, two-sided p, Mantel-Haenszel log odds ratio and its SE; per
    arm × subtype the responders and patients. Secondary: the time to a first CLASI-k
    response (``survival``, ``medians``) and the change in CLASI-A at the primary week
    (``change``: the ANCOVA per comparison, ``analysis/ancova.py``; ``change_means``: per
    arm)."""
    des: TrialDesign = scenario.design
    key = replicate_key(scenario.seed, replicate)
    n = sample_size or des.sample_size
    pat, _ = screen(p, key, des.min_clasi, n)
    arms = list(des.arms)
    allocation = np.array([a.allocation for a in des.arms.values()], dtype=np.int64)
    stratum = pat.subtype if des.stratify_by_subtype else np.zeros(n, np.int64)
    arm = randomize(stratum, allocation, des.block_multiplier, key)
    expo = exposure(scenario, arm, pat.weight, pat.units, key)
    weeks = p.assessment_weeks
    j = int(np.flatnonzero(weeks == des.primary_week)[0])
    act = skin_courses(p, pat.units, pat.subtype, expo, key[0], key[1], weeks.size)[0]
    u_drop = trial_dropout_weeks(pat.units, key[0], key[1], des.dropout_per_year)
    seen = u_drop > des.primary_week
    mb = scenario.min_baseline
    resp = seen & clasi_responders(act[:, 0], act[:, j], float(des.primary_response), mb)
    # secondary: weeks to a first CLASI-k response over every assessment, censored at the
    # last assessment before dropout (Kaplan-Meier medians, log-rank, Cox)
    time, event, eligible = first_response_times(
        act.astype(np.float64), weeks[None, :] < u_drop[:, None],
        weeks.astype(np.float64), float(des.primary_response), mb)
    control = arms.index(des.control)
    comps = [a for a in range(len(arms)) if a != control]
    est = np.full((len(comps), 4), np.nan)
    for c, a in enumerate(comps):
        keep = (arm == a) | (arm == control)
        st = stratum[keep]
        est[c] = cmh_test(arm[keep] == a, resp[keep], st, len(SKIN_SUBTYPES))
    pairs = np.array([[a, control] for a in comps], dtype=np.int64)
    surv = compare_survival(time[eligible], event[eligible], arm[eligible], pairs)
    medians = np.array([km_median(time[eligible & (arm == a)], event[eligible & (arm == a)])
                        if np.any(eligible & (arm == a)) else np.nan
                        for a in range(len(arms))])
    counts = np.zeros((len(arms), len(SKIN_SUBTYPES), 2))
    np.add.at(counts, (arm, pat.subtype, 0), resp)
    np.add.at(counts, (arm, pat.subtype, 1), 1)
    # secondary: change in CLASI-A at the primary week, the last assessment before dropout
    # carried forward, by ANCOVA on baseline CLASI-A and the subtype strata
    missed = np.searchsorted(weeks, u_drop, side="left").astype(np.int64)
    change = locf_change(act, missed, np.full(n, weeks.size, dtype=np.int64),
                         np.array([j], dtype=np.int64))
    strata = (pat.subtype[:, None] == np.arange(1, len(SKIN_SUBTYPES))[None, :]
              ).astype(np.float64) if des.stratify_by_subtype else np.zeros((n, 0))
    ancova = ancova_kernel(change, act[:, 0].astype(np.int64), arm, strata, pairs,
                           float(scenario.analysis.alpha))[0]
    return {"estimates": est, "counts": counts, "survival": surv, "medians": medians,
            "change": ancova, "change_means": arm_means(change, arm, len(arms))[0]}


def _trial_chunk(scenario: SkinScenario, start: int, stop: int,
                 sample_size: int | None = None) -> list[dict]:
    p = skin_params(scenario)
    return [trial_replicate(scenario, p, r, sample_size) for r in range(start, stop)]


def run_trial(scenario: SkinScenario, replicates: int | None = None,
              n_jobs: int | None = None, sample_size: int | None = None) -> pd.DataFrame:
    """Per comparison: power (two-sided p < alpha and the drug better), the mean log odds
    ratio, per arm the primary response rate; each with its Monte Carlo SE. Secondary, the
    change in CLASI-A at the primary week (LOCF; ANCOVA on baseline CLASI-A and the subtype
    strata): per comparison ``power_clasi_change`` (the drug lower) and the mean adjusted
    difference, per arm the mean change. Rows also per
    arm × subtype (rates). Secondary, time to a first CLASI-k response (k the primary's):
    per comparison the log-rank power and the mean Cox log hazard ratio (> 0: faster on the
    arm), per arm the median over trials of the Kaplan-Meier median in weeks (inf: not
    reached; batch-means MCSE)."""
    des: TrialDesign = scenario.design
    R = replicates or scenario.engine.replicates
    jobs = n_jobs or scenario.engine.n_jobs

    def chunk(sc, a, b):
        return _trial_chunk(sc, a, b, sample_size)

    res = _replicated(chunk, scenario, R, jobs)
    arms = list(des.arms)
    comps = [a for a in arms if a != des.control]
    est = np.stack([r["estimates"] for r in res])  # (R, comps, 4)
    surv = np.stack([r["survival"] for r in res])  # (R, comps, SURVIVAL_FIELDS)
    medians = np.stack([r["medians"] for r in res])  # (R, arms)
    counts = np.stack([r["counts"] for r in res])  # (R, arms, subtypes, 2)
    change = np.stack([r["change"] for r in res])  # (R, comps, ANCOVA_FIELDS)
    change_means = np.stack([r["change_means"] for r in res])  # (R, arms)
    alpha = scenario.analysis.alpha
    n = sample_size or des.sample_size
    rows = []

    def row(comparison, arm, subtype, statistic, value_mcse):
        rows.append({"sample_size": n, "comparison": comparison, "arm": arm,
                     "subtype": subtype, "statistic": statistic, "value": value_mcse[0],
                     "mcse": value_mcse[1]})

    for c, name in enumerate(comps):
        p, lor = est[:, c, 1], est[:, c, 2]
        label = f"{name} vs {des.control}"
        row(label, name, "all", "power", proportion_of(int(np.sum((p < alpha) & (lor > 0))), R))
        # the MH log odds ratio is ±inf when one arm has no responders (or non-responders)
        # in every stratum: its mean is over the trials where it is finite
        row(label, name, "all", "log_odds_ratio", mean_mcse(lor))
        row(label, name, "all", "log_odds_ratio_undefined",
            proportion_of(int(np.sum(~np.isfinite(lor))), R))
        p_lr, log_hr = surv[:, c, P_LOGRANK], surv[:, c, LOG_HR]
        k = des.primary_response
        row(label, name, "all", f"power_time_to_clasi{k}",
            proportion_of(int(np.sum((p_lr < alpha) & (log_hr > 0))), R))
        row(label, name, "all", f"log_hazard_ratio_clasi{k}", mean_mcse(log_hr))
        diff, p_chg = change[:, c, DIFFERENCE], change[:, c, P_VALUE]
        row(label, name, "all", "power_clasi_change",
            proportion_of(int(np.sum((p_chg < alpha) & (diff < 0))), R))
        row(label, name, "all", "clasi_change_difference", mean_mcse(diff))
    for a, arm in enumerate(arms):
        for s, sub in enumerate(("all", *SKIN_SUBTYPES)):
            if sub == "all":
                y, m = counts[:, a, :, 0].sum(1), counts[:, a, :, 1].sum(1)
            else:
                y, m = counts[:, a, s - 1, 0], counts[:, a, s - 1, 1]
            if not (m > 0).any():
                continue
            # the rate among the trials with patients of this arm and subtype
            row("", arm, sub, f"clasi{des.primary_response}_rate",
                mean_mcse(y / np.where(m > 0, m, np.nan)))
            row("", arm, sub, "patients", mean_mcse(m.astype(float)))
        row("", arm, "all", f"median_weeks_to_clasi{des.primary_response}",
            median_mcse(medians[:, a]))
        row("", arm, "all", "clasi_change_mean", mean_mcse(change_means[:, a]))
    return pd.DataFrame(rows)


__all__ = ["run_cohort", "run_trial", "cohort_replicate", "trial_replicate", "screen",
           "CohortResult", "SEED_004", "GROUPS"]
