"""Replicate-level results, streamed: mergeable reducers and the per-trial tables on disk.

A run's chunks pass through, in replicate order, two consumers that never hold more than one
part of the run in memory:

* ``Reducer``: counts (rejections, fits), Welford means and variances (rates, risk
  differences, per-trial baseline means) and plain sums (baseline moments). Every update is
  made replicate by replicate in replicate order, so the result does not depend on how the
  replicates were cut into chunks (bit-identical for any chunk size, ``n_jobs`` or backend).
* ``PartWriter``: the replicate-level tables as parquet datasets, one part file per
  ``part_size`` replicates (part boundaries at fixed multiples, so the files do not depend on
  chunking either): ``replicates/`` (one row per replicate x endpoint x week x comparison, the
  analysis fields) and ``trials/`` (one row per replicate: arm rates, odds ratios, survival
  estimates, SLEDAI trajectories, arm sizes, candidates screened). Both read back with
  ``pandas.read_parquet(folder)``. ``trials/`` also holds, per endpoint week, the arms' mean
  change in SELENA-SLEDAI (and in CLASI-A, with a CLASI endpoint) and each comparison's
  ANCOVA difference, SE and p (``mean_change.sledai_change.w52.placebo``,
  ``difference.clasi_change.w52.<comparison>``).

Quantiles over replicates are taken from ``trials/``, one column at a time (``Columns``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from trialsim.analysis.ancova import ANCOVA_FIELDS, DIFFERENCE, P_VALUE
from trialsim.analysis.ancova import FITTED as ANCOVA_FITTED
from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.analysis.group_sequential import bounds_at
from trialsim.analysis.interim import (
    CALENDAR_LOOK_FIELDS,
    EFFICACY,
    FUTILITY,
    LOOK_FIELDS,
    sequential_decisions,
)
from trialsim.analysis.multiplicity import trial_rejections
from trialsim.analysis.safety import P_VALUE as SAFETY_P_VALUE
from trialsim.analysis.safety import RATE_RATIO, RISK_DIFFERENCE
from trialsim.analysis.subgroups import INTERACTION_FIELDS
from trialsim.analysis.survival import HAZARD_RATIO, LOG_HR, P_LOGRANK
from trialsim.core.jit import jit
from trialsim.model.accrual import CALENDAR_FIELDS
from trialsim.model.population import SCREEN_FAILURE_REASONS

F = {name: i for i, name in enumerate(RESULT_FIELDS)}
#: replicates per part file of the replicate-level datasets
PART_SIZE = 2000


@jit
def welford_rows(n, mean, m2, x):
    """Add the rows of ``x`` (r, k), in order, to per-column Welford accumulators; values
    that are not finite (nan, ±inf) are skipped."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            if math.isfinite(v):
                n[j] += 1.0
                d = v - mean[j]
                mean[j] += d / n[j]
                m2[j] += d * (v - mean[j])


@jit
def sum_rows(total, x):
    """``total += x[i]`` for each row i in order (x: (r, k))."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            total[j] += x[i, j]


class Welford:
    """Count, mean and sum of squared deviations of k columns, updated row by row."""

    def __init__(self, k: int):
        self.n = np.zeros(k)
        self.mean = np.zeros(k)
        self.m2 = np.zeros(k)

    def add(self, x: np.ndarray) -> None:
        welford_rows(self.n, self.mean, self.m2, np.ascontiguousarray(x, dtype=np.float64))

    def mean_mcse(self, j: int) -> tuple[float, float]:
        """Mean of column j and its Monte Carlo SE (SD / sqrt(n)); nan when undefined."""
        n = self.n[j]
        if n == 0:
            return float("nan"), float("nan")
        se = math.sqrt(self.m2[j] / (n - 1) / n) if n > 1 else float("nan")
        return float(self.mean[j]), se

    def sd(self, j: int) -> float:
        n = self.n[j]
        return math.sqrt(self.m2[j] / (n - 1)) if n > 1 else float("nan")


class Reducer:
    """Everything a summary needs that adds up over replicates (see the module docstring)."""

    def __init__(self, plan):
        self.plan = plan
        n_t, n_a, n_c = len(plan.targets), len(plan.arms), len(plan.comparisons)
        self.n_t, self.n_a, self.n_c = n_t, n_a, n_c
        self.replicates = 0
        self.screened = 0
        # per trial: candidates screened per patient randomised, and the share of candidates
        # screened out (all reasons, then by the first criterion failed)
        self.screening = Welford(2 + len(SCREEN_FAILURE_REASONS))
        self.calendar = Welford(len(CALENDAR_FIELDS))  # months (model/accrual.py), if any
        # group-sequential looks (analysis/interim.py): per comparison and look, efficacy and
        # futility stops; per comparison the rejections with and without the futility
        # stops, and at the stopping look the patients randomised, the month, the log OR
        # and its difference from the final analysis's (the estimate's bias at stopping)
        n_looks = plan.interim.patients.shape[0]
        self.gs_efficacy = np.zeros((n_c, n_looks), dtype=np.int64)
        self.gs_futility = np.zeros((n_c, n_looks), dtype=np.int64)
        self.gs_reject = np.zeros(n_c, dtype=np.int64)
        self.gs_reject_efficacy_only = np.zeros(n_c, dtype=np.int64)
        self.gs_at_stop = Welford(4 * n_c)  # (patients, months, log OR, log OR - final) x c
        # per look: the information fraction, efficacy and futility bound each trial had
        # (constant with information fractions, per trial with calendar months)
        self.gs_looks = Welford(3 * n_looks)
        self._gs_bounds: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        # multiplicity (analysis/multiplicity.py): each trial's rejections, in order
        self.mult_reject: list[np.ndarray] = []
        self.rate = Welford(n_t * n_a)
        self.evaluable = Welford(n_t * n_a)  # patients in each target's analysis, per arm
        self.risk_difference = Welford(n_t * n_c)
        self.reject = np.zeros((n_t, n_c), dtype=np.int64)
        self.favor = np.zeros((n_t, n_c), dtype=np.int64)
        self.converged = np.zeros((n_t, n_c), dtype=np.int64)
        self.flare_reject = np.zeros(n_c, dtype=np.int64)
        self.flare_favor = np.zeros(n_c, dtype=np.int64)
        self.severe_reject = np.zeros(n_c, dtype=np.int64)
        self.severe_favor = np.zeros(n_c, dtype=np.int64)
        self.baseline_total: np.ndarray | None = None  # (arms + 1, 3, k) sums
        self.baseline_trial_mean: Welford | None = None  # per-trial means, (arms + 1) x k
        # responder profile: (responded 0/1, arms + 1) groups, as the baseline's
        self.profile_total: np.ndarray | None = None  # (2, arms + 1, 3, k) sums
        self.profile_trial_mean: Welford | None = None
        # subgroups: levels x subgroup targets x arms / comparisons; factors for interactions
        sg = plan.subgroups
        n_l, n_s, n_f = sg.n_levels, sg.targets.shape[0], len(sg.factors)
        self.sg_shape = (n_l, n_s, n_a, n_c, n_f)
        self.sg_rate = Welford(n_l * n_s * n_a)
        self.sg_n = Welford(n_l * n_a)
        # per level, subgroup target and arm: the patients in the target's analysis (fewer
        # than sg_n for an endpoint with a denominator), from the comparisons' arm sizes
        self.sg_evaluable = Welford(n_l * n_s * n_a)
        self.sg_risk_difference = Welford(n_l * n_s * n_c)
        self.sg_reject = np.zeros((n_l, n_s, n_c), dtype=np.int64)
        self.sg_favor = np.zeros((n_l, n_s, n_c), dtype=np.int64)
        self.sg_converged = np.zeros((n_l, n_s, n_c), dtype=np.int64)
        self.int_reject = np.zeros((n_f, n_s, n_c), dtype=np.int64)
        self.int_analyzable = np.zeros((n_f, n_s, n_c), dtype=np.int64)
        # SELENA-SLEDAI change (ANCOVA): per week, arm means and adjusted differences
        n_w = len(plan.change_targets)
        self.change_mean = Welford(n_w * n_a)
        self.change_difference = Welford(n_w * n_c)
        self.change_reject = np.zeros((n_w, n_c), dtype=np.int64)
        self.change_favor = np.zeros((n_w, n_c), dtype=np.int64)
        self.change_fitted = np.zeros((n_w, n_c), dtype=np.int64)
        # adverse events: per event and arm the share of patients with one and the events
        # per 100 patient-years; per arm the years at risk per patient; per event and
        # comparison the risk difference, rejections of equal rates and those showing harm
        n_e = len(plan.safety_events)
        self.n_e = n_e
        self.safety_share = Welford(n_e * n_a)
        self.safety_rate = Welford(n_e * n_a)
        self.safety_years = Welford(n_a)
        self.safety_rd = Welford(n_e * n_c)
        self.safety_reject = np.zeros((n_e, n_c), dtype=np.int64)
        self.safety_harm = np.zeros((n_e, n_c), dtype=np.int64)

    def _trial_bounds(self, res) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Each trial's information fractions and bounds, (r, K), (r, K - 1) or None, and
        (r, K): the design's, or with looks at calendar months the spending functions at the
        trial's own fractions (``group_sequential.bounds_at``; one computation per distinct
        set of patient counts)."""
        design = self.plan.interim_design
        n = self.plan.scenario.design.sample_size
        analysed = res.interim_calendar[:, :, CALENDAR_LOOK_FIELDS.index("analysed")]
        fractions = analysed / n
        r, k_max = fractions.shape
        if not self.plan.interim.calendar:
            eff = np.broadcast_to(design.critical_values, (r, k_max))
            fut = (None if design.futility_bounds is None
                   else np.broadcast_to(design.futility_bounds, (r, k_max - 1)))
            return eff, fut, fractions
        eff = np.empty((r, k_max))
        fut = np.empty((r, k_max - 1))
        for i in range(r):
            key = tuple(int(v) for v in analysed[i])
            if key not in self._gs_bounds:
                self._gs_bounds[key] = bounds_at(design, fractions[i])
            eff[i], fut[i] = self._gs_bounds[key]
        return eff, (None if design.futility_bounds is None else fut), fractions

    def _add_interim(self, res) -> None:
        r = res.replicates.size
        rows = np.arange(r)
        at_stop = np.empty((r, 4 * self.n_c))
        efficacy, futility, fractions = self._trial_bounds(res)
        k_max = fractions.shape[1]
        looks = np.full((r, 3 * k_max), np.nan)
        looks[:, 0::3] = fractions
        looks[:, 1::3] = np.where(np.isfinite(efficacy), efficacy, np.nan)
        if futility is not None:
            looks[:, 2:3 * (k_max - 1):3] = np.where(np.isfinite(futility), futility, np.nan)
        self.gs_looks.add(looks)
        for c in range(self.n_c):
            z = res.interim_looks[:, c, :, LOOK_FIELDS.index("z")]
            log_or = res.interim_looks[:, c, :, LOOK_FIELDS.index("log_or")]
            look, outcome = sequential_decisions(z, efficacy, futility)
            for k in range(z.shape[1]):
                self.gs_efficacy[c, k] += int(np.sum((look == k) & (outcome == EFFICACY)))
                self.gs_futility[c, k] += int(np.sum((look == k) & (outcome == FUTILITY)))
            self.gs_reject[c] += int(np.sum(outcome == EFFICACY))
            _, eff_only = sequential_decisions(z, efficacy, None)
            self.gs_reject_efficacy_only[c] += int(np.sum(eff_only == EFFICACY))
            at_stop[:, 4 * c] = res.interim_calendar[rows, look, 1]
            at_stop[:, 4 * c + 1] = res.interim_calendar[rows, look, 0]
            at_stop[:, 4 * c + 2] = log_or[rows, look]
            at_stop[:, 4 * c + 3] = log_or[rows, look] - log_or[:, -1]
        self.gs_at_stop.add(at_stop)

    def _subgroup_evaluable(self, res) -> np.ndarray:
        """Patients in each subgroup target's analysis, (r, levels, targets, arms): an arm's
        ``n_treated`` or ``n_control`` in a comparison it is part of (every level's patients
        of the arm, ``subgroup_n``, for an arm in no comparison)."""
        g = res.subgroup_analysis
        n_s = g.shape[2]
        out = np.repeat(res.subgroup_n[:, :, np.newaxis, :], n_s, axis=2).astype(np.float64)
        for c, (treated, control) in enumerate(self.plan.pairs):
            out[:, :, :, treated] = g[:, :, :, c, F["n_treated"]]
            out[:, :, :, control] = g[:, :, :, c, F["n_control"]]
        return out

    def add(self, res) -> Reducer:
        """Add a chunk (a ``ChunkResult``; its replicates follow the ones added before)."""
        r = res.replicates.size
        alpha = self.plan.scenario.analysis.alpha
        self.replicates += r
        self.screened += int(res.screened.sum())
        n = float(self.plan.scenario.design.sample_size)
        scr = res.screened.astype(np.float64)[:, None]
        fails = res.screen_failures.astype(np.float64)
        self.screening.add(np.concatenate(
            [scr / n, fails.sum(axis=1, keepdims=True) / scr, fails / scr], axis=1))
        if self.plan.accrual.enabled:
            self.calendar.add(res.calendar)
        if self.plan.interim.enabled:
            self._add_interim(res)
        if self.plan.multiplicity is not None:
            self.mult_reject.append(trial_rejections(self.plan.multiplicity, res.analysis,
                                                     F["p_value"], F["log_or"])[1])
        self.rate.add(res.rates.reshape(r, -1))
        self.evaluable.add(res.evaluable.astype(np.float64).reshape(r, -1))
        a = res.analysis
        self.risk_difference.add(a[..., F["risk_difference"]].reshape(r, -1))
        reject = a[..., F["p_value"]] < alpha
        self.reject += reject.sum(axis=0)
        self.favor += (reject & (a[..., F["log_or"]] > 0)).sum(axis=0)
        self.converged += (a[..., F["converged"]] > 0).sum(axis=0)
        f = res.flare_analysis
        flare_reject = f[..., P_LOGRANK] < alpha
        self.flare_reject += flare_reject.sum(axis=0)
        self.flare_favor += (flare_reject & (f[..., LOG_HR] < 0)).sum(axis=0)
        f = res.severe_flare_analysis
        severe_reject = f[..., P_LOGRANK] < alpha
        self.severe_reject += severe_reject.sum(axis=0)
        self.severe_favor += (severe_reject & (f[..., LOG_HR] < 0)).sum(axis=0)
        m = res.baseline  # (r, arms, 3, k)
        groups = np.concatenate([m, m.sum(axis=1, keepdims=True)], axis=1)  # + overall
        if self.baseline_total is None:
            self.baseline_total = np.zeros(groups.shape[1:])
            self.baseline_trial_mean = Welford(groups.shape[1] * groups.shape[3])
        total = self.baseline_total.reshape(-1)
        sum_rows(total, groups.reshape(r, -1))
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty arm: nan, skipped
            per_trial = groups[:, :, 1, :] / groups[:, :, 0, :]
        self.baseline_trial_mean.add(per_trial.reshape(r, -1))
        pm = res.profile.reshape(r, 2, self.n_a, *res.profile.shape[2:])
        pg = np.concatenate([pm, pm.sum(axis=2, keepdims=True)], axis=2)  # + all arms
        if self.profile_total is None:
            self.profile_total = np.zeros(pg.shape[1:])
            self.profile_trial_mean = Welford(int(np.prod(pg.shape[1:3])) * pg.shape[4])
        sum_rows(self.profile_total.reshape(-1), pg.reshape(r, -1))
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty group: nan, skipped
            per_trial = pg[:, :, :, 1, :] / pg[:, :, :, 0, :]
        self.profile_trial_mean.add(per_trial.reshape(r, -1))
        if res.ancova.shape[1]:
            self.change_mean.add(res.change_mean.reshape(r, -1))
            g = res.ancova
            self.change_difference.add(g[..., DIFFERENCE].reshape(r, -1))
            reject = g[..., P_VALUE] < alpha
            self.change_reject += reject.sum(axis=0)
            # a larger fall of SELENA-SLEDAI on treatment: a negative difference
            self.change_favor += (reject & (g[..., DIFFERENCE] < 0)).sum(axis=0)
            self.change_fitted += (g[..., ANCOVA_FITTED] > 0).sum(axis=0)
        if self.sg_shape[0]:
            self.sg_rate.add(res.subgroup_rates.reshape(r, -1))
            self.sg_n.add(res.subgroup_n.astype(np.float64).reshape(r, -1))
            g = res.subgroup_analysis
            self.sg_evaluable.add(self._subgroup_evaluable(res).reshape(r, -1))
            self.sg_risk_difference.add(g[..., F["risk_difference"]].reshape(r, -1))
            reject = g[..., F["p_value"]] < alpha
            self.sg_reject += reject.sum(axis=0)
            self.sg_favor += (reject & (g[..., F["log_or"]] > 0)).sum(axis=0)
            self.sg_converged += (g[..., F["converged"]] > 0).sum(axis=0)
            p = res.interaction[..., INTERACTION_FIELDS.index("p_value")]
            self.int_reject += (p < alpha).sum(axis=0)
            self.int_analyzable += np.isfinite(p).sum(axis=0)
        if self.n_e:
            size = res.arm_n.astype(np.float64)[:, None, :]
            years = res.safety_years[:, None, :]
            with np.errstate(invalid="ignore", divide="ignore"):  # an empty arm: nan, skipped
                self.safety_share.add((res.safety_patients / size).reshape(r, -1))
                self.safety_rate.add((100.0 * res.safety_events / years).reshape(r, -1))
                self.safety_years.add(res.safety_years / res.arm_n)
            s = res.safety_analysis
            self.safety_rd.add(s[..., RISK_DIFFERENCE].reshape(r, -1))
            reject = s[..., SAFETY_P_VALUE] < alpha
            self.safety_reject += reject.sum(axis=0)
            self.safety_harm += (reject & (s[..., RATE_RATIO] > 1.0)).sum(axis=0)
        return self


def trial_columns(plan) -> list[str]:
    """Column names of ``trials/`` (after ``replicate``)."""
    cols = []
    for e, w in plan.targets:
        cols += [f"rate.{e}.w{w}.{a}" for a in plan.arms]
        cols += [f"odds_ratio.{e}.w{w}.{c}" for c in plan.comparisons]
        cols += [f"ci_low.{e}.w{w}.{c}" for c in plan.comparisons]
        cols += [f"ci_high.{e}.w{w}.{c}" for c in plan.comparisons]
    cols += [f"km_median_days.{a}" for a in plan.arms]
    for c in plan.comparisons:
        cols += [f"hazard_ratio.{c}", f"log_hr.{c}", f"p_logrank.{c}"]
    for c in plan.comparisons:
        cols += [f"severe_hazard_ratio.{c}", f"severe_log_hr.{c}", f"severe_p_logrank.{c}"]
    interval = plan.scenario.design.visit_interval_weeks
    cols += [f"sledai_mean.{a}.w{v * interval}" for a in plan.arms for v in range(plan.n_visits)]
    cols += [f"arm_n.{a}" for a in plan.arms]
    cols += ["screened"]
    sg = plan.subgroups
    for f, lv in sg.levels:
        for e, w in plan.subgroup_targets:
            for c in plan.comparisons:
                cols += [f"sg_{stat}.{f}={lv}.{e}.w{w}.{c}" for stat in SUBGROUP_TRIAL_STATS]
    for f in sg.factors:
        for e, w in plan.subgroup_targets:
            cols += [f"interaction_p.{f}.{e}.w{w}.{c}" for c in plan.comparisons]
    for name, w in plan.change_targets:
        cols += [f"mean_change.{name}.w{w}.{a}" for a in plan.arms]
        for stat in CHANGE_TRIAL_STATS:
            cols += [f"{stat}.{name}.w{w}.{c}" for c in plan.comparisons]
    for ev in plan.safety_events:
        cols += [f"safety_{stat}.{ev}.{c}" for c in plan.comparisons for stat in SAFETY_TRIAL_STATS]
    if plan.accrual.enabled:
        cols += [f"calendar.{name}" for name in CALENDAR_FIELDS]
    if plan.multiplicity is not None:
        cols += [f"{stat}.{h}" for stat in ("p_one_sided", "p_adjusted")
                 for h in plan.multiplicity.names]
    return cols


#: per-trial ANCOVA statistics kept in ``trials/`` (analysis/ancova.py fields)
CHANGE_TRIAL_STATS = ("difference", "se", "p_value")


#: per-trial subgroup statistics kept in ``trials/`` (for their quantiles over trials)
SUBGROUP_TRIAL_STATS = ("odds_ratio", "ci_low", "ci_high")
#: per-trial adverse-event statistics kept in ``trials/``
SAFETY_TRIAL_STATS = ("rate_ratio", "p_value")


def trial_table(plan, res) -> pd.DataFrame:
    """One row per replicate (``trials/``): the per-trial values behind the summaries."""
    r = res.replicates.size
    parts = []
    for t in range(len(plan.targets)):
        parts.append(res.rates[:, t, :])
        parts.append(res.analysis[:, t, :, F["odds_ratio"]])
        parts.append(res.analysis[:, t, :, F["ci_low"]])
        parts.append(res.analysis[:, t, :, F["ci_high"]])
    parts.append(res.flare_median_days)
    fa = res.flare_analysis[:, :, [HAZARD_RATIO, LOG_HR, P_LOGRANK]]
    parts.append(fa.reshape(r, -1))
    sa = res.severe_flare_analysis[:, :, [HAZARD_RATIO, LOG_HR, P_LOGRANK]]
    parts.append(sa.reshape(r, -1))
    parts.append(res.sledai_mean.reshape(r, -1))
    parts.append(res.arm_n.astype(np.float64))
    parts.append(res.screened.astype(np.float64)[:, None])
    if plan.subgroups.n_levels:
        stats = [F[k] for k in SUBGROUP_TRIAL_STATS]
        parts.append(res.subgroup_analysis[..., stats].reshape(r, -1))
        parts.append(res.interaction[..., INTERACTION_FIELDS.index("p_value")].reshape(r, -1))
    for w in range(len(plan.change_targets)):
        parts.append(res.change_mean[:, w, :])
        for stat in CHANGE_TRIAL_STATS:
            parts.append(res.ancova[:, w, :, ANCOVA_FIELDS.index(stat)])
    if plan.safety_events:
        parts.append(res.safety_analysis[..., [RATE_RATIO, SAFETY_P_VALUE]].reshape(r, -1))
    if plan.accrual.enabled:
        parts.append(res.calendar)
    if plan.multiplicity is not None:
        p, _, adjusted = trial_rejections(plan.multiplicity, res.analysis, F["p_value"],
                                          F["log_or"])
        parts += [p, adjusted]
    values = np.concatenate([np.asarray(p, dtype=np.float64).reshape(r, -1) for p in parts],
                            axis=1)
    df = pd.DataFrame(values, columns=trial_columns(plan))
    df.insert(0, "replicate", res.replicates.astype(np.int64))
    return df


def replicate_table(plan, res) -> pd.DataFrame:
    """One row per replicate x endpoint x week x comparison (``replicates/``)."""
    r, n_t, n_c, n_f = res.analysis.shape
    idx = np.indices((r, n_t, n_c)).reshape(3, -1)
    df = pd.DataFrame(res.analysis.reshape(-1, n_f), columns=list(RESULT_FIELDS))
    df.insert(0, "comparison", np.array(plan.comparisons)[idx[2]])
    df.insert(0, "week", np.array([w for _, w in plan.targets])[idx[1]])
    df.insert(0, "endpoint", np.array([e for e, _ in plan.targets])[idx[1]])
    df.insert(0, "replicate", res.replicates[idx[0]])
    df["converged"] = df["converged"] > 0
    return df


Columns = Callable[[str], np.ndarray]


def memory_columns(table: pd.DataFrame) -> Columns:
    """Column reader of an in-memory ``trial_table``."""
    return lambda name: table[name].to_numpy()


def dataset_columns(folder: Path) -> Columns:
    """Column reader of a ``trials/`` dataset on disk: one column read at a time."""
    import pyarrow.parquet as pq

    files = sorted(Path(folder).glob("part-*.parquet"))

    def read(name: str) -> np.ndarray:
        if not files:
            return np.zeros(0)
        return np.concatenate([
            pq.read_table(f, columns=[name]).column(0).to_numpy() for f in files
        ])

    return read


class PartWriter:
    """Writes ``replicates/`` and ``trials/`` part files under ``root``, one per
    ``part_size`` replicates (``part-<first replicate>.parquet``), from chunks given in
    replicate order."""

    def __init__(self, plan, root: Path, part_size: int = PART_SIZE):
        self.plan = plan
        self.root = Path(root)
        self.part_size = part_size
        self.pending: list = []
        for sub in ("replicates", "trials"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def add(self, res) -> None:
        while res.replicates.size:
            first = int(res.replicates[0])
            boundary = (first // self.part_size + 1) * self.part_size
            take = min(res.replicates.size, boundary - first)
            self.pending.append(res.take(slice(0, take)))
            res = res.take(slice(take, None))
            if first + take == boundary:
                self._flush()

    def _flush(self) -> None:
        from trialsim.run.trial import ChunkResult

        if not self.pending:
            return
        part = ChunkResult.concat(self.pending)
        name = f"part-{int(part.replicates[0]):09d}.parquet"
        replicate_table(self.plan, part).to_parquet(self.root / "replicates" / name,
                                                    index=False)
        trial_table(self.plan, part).to_parquet(self.root / "trials" / name, index=False)
        self.pending = []

    def close(self) -> None:
        self._flush()
