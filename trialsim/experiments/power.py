"""Experiments over scenarios: power curves, sweeps and sample-size search.

Every point of an experiment is a scenario (the base scenario with dotted-path overrides)
simulated with the same seed, so replicate ``r`` of every point shares its random streams:
common random numbers (CRN). Across sample sizes replicate ``r`` at N = 300 has the same
first 300 patients, arms and courses as at N = 1000, so power curves are smooth and
monotone up to Monte Carlo noise; across other parameters each simulation stage keeps its
own stream, so e.g. a drug-parameter sweep keeps the same patients.

All chunks of all points run in one pool (``trialsim.run.backends``), and with a checkpoint
directory every finished chunk is kept (``trialsim.run.checkpoint``): an interrupted experiment
resumes where it stopped and gives bit-identical tables.

Public functions return tidy :class:`pandas.DataFrame` objects (every estimate with its
Monte Carlo SE) and are usable from Python without the command line.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.config.scenario import (
    MAX_SAMPLE_SIZE,
    Scenario,
    ScenarioError,
    with_overrides,
    with_pinned,
)
from trialsim.core.rng import bootstrap_stream
from trialsim.experiments.samplesize import (
    MAX_BOOTSTRAP,
    SampleSizeResult,
    find_sample_size,
    fit_probit_sqrt,
    probit_sqrt_power,
    probit_sqrt_roots,
    round_up,
)
from trialsim.run.backends import run_scenarios
from trialsim.run.checkpoint import ExperimentStore, locked
from trialsim.run.trial import ChunkResult, Plan
from trialsim.summarize.mcse import wilson_interval
from trialsim.summarize.tables import summarize, whole_trial

#: summary statistics a power curve reports
POWER_STATISTICS = ("power", "power_favoring_treatment")
_P_VALUE = RESULT_FIELDS.index("p_value")
_LOG_OR = RESULT_FIELDS.index("log_or")


# --------------------------------------------------------------------------- running points


@dataclass
class RunSettings:
    """How an experiment's points are simulated (never what they give).

    Parameters
    ----------
    replicates, n_jobs, chunk_size : int, optional
        Default to the base scenario's ``engine`` block.
    backend : {"local", "dask"}
    scheduler : str, optional
        Address of a running dask scheduler.
    checkpoint_dir : str or Path, optional
        Keep every finished chunk there and resume from it.
    progress : bool, optional
        Progress bar on a terminal, progress lines elsewhere (default); False: silent.
    dask_timeout : float, optional
        Seconds to wait for the dask scheduler to answer and for a first worker.
    """

    replicates: int | None = None
    n_jobs: int | None = None
    chunk_size: int | None = None
    backend: str = "local"
    scheduler: str | None = None
    checkpoint_dir: str | Path | None = None
    progress: bool | None = None
    dask_timeout: float | None = None


class _Runner:
    """Simulates lists of scenarios with the settings and the experiment's checkpoint."""

    def __init__(self, base: Scenario, settings: RunSettings, store: ExperimentStore | None):
        eng = base.engine
        self.replicates = settings.replicates or eng.replicates
        self.chunk_size = settings.chunk_size or eng.chunk_size
        self.settings = settings
        self.n_jobs = settings.n_jobs or eng.n_jobs
        self.store = store

    def __call__(
        self, scenarios: Sequence[Scenario], first: int = 0, replicates: int | None = None
    ) -> list[ChunkResult]:
        stores = [self.store.point(sc) for sc in scenarios] if self.store else None
        return run_scenarios(
            scenarios,
            replicates or self.replicates,
            self.chunk_size,
            first=first,
            n_jobs=self.n_jobs,
            backend=self.settings.backend,
            scheduler=self.settings.scheduler,
            dask_timeout=self.settings.dask_timeout,
            stores=stores,
            progress=self.settings.progress,
            desc=scenarios[0].name if scenarios else None,
        )


@contextlib.contextmanager
def _runner(kind: str, base: Scenario, settings: RunSettings) -> Iterator[_Runner]:
    if settings.checkpoint_dir is None:
        yield _Runner(base, settings, None)
        return
    with locked(settings.checkpoint_dir) as path:
        chunk = settings.chunk_size or base.engine.chunk_size
        yield _Runner(base, settings, ExperimentStore(path, kind, base, chunk))


# --------------------------------------------------------------------------- selections


def _choose(given: Sequence | None, allowed: Sequence, default: Sequence, option: str) -> list:
    if given is None or len(given) == 0:
        return list(default)
    if any(str(g) == "all" for g in given):
        return list(allowed)
    bad = [g for g in given if g not in allowed]
    if bad:
        shown = ", ".join(str(a) for a in allowed)
        raise ScenarioError(
            f"{option} {', '.join(map(str, bad))}: not in this scenario; choose from {shown} "
            "(or all)"
        )
    return list(dict.fromkeys(given))


def select_targets(
    scenario: Scenario,
    endpoints: Sequence[str] | None = None,
    weeks: Sequence[int] | None = None,
    comparisons: Sequence[str] | None = None,
) -> tuple[list[str], list[int], list[str]]:
    """Validate a choice of endpoints, weeks and comparisons of a scenario.

    Defaults: the primary endpoint (first of ``analysis.endpoints``), the primary week
    (first of ``design.endpoint_weeks``) and every comparison. ``"all"`` selects all.

    Raises
    ------
    ScenarioError
        A name that the scenario does not analyse (the message lists the allowed ones).
    """
    plan_comparisons = [f"{t}_vs_{c}" for t, c in scenario.design.comparison_pairs]
    eps = scenario.analysis.endpoints
    wks = scenario.design.endpoint_weeks
    return (
        _choose(endpoints, eps, eps[:1], "--endpoint"),
        [int(w) for w in _choose(weeks, wks, wks[:1], "--week")],
        _choose(comparisons, plan_comparisons, plan_comparisons, "--comparison"),
    )


def _with(scenario: Scenario, overrides: dict[str, Any], what: str) -> Scenario:
    """``with_overrides`` whose errors start with ``what`` (the option and value at fault)."""
    try:
        return with_overrides(scenario, overrides)
    except ScenarioError as exc:
        raise ScenarioError(f"{what}: not a valid scenario:\n{exc}") from None


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


# --------------------------------------------------------------------------- power curves


def power_curve(
    scenario: Scenario,
    sizes: Sequence[int],
    endpoints: Sequence[str] | None = None,
    weeks: Sequence[int] | None = None,
    comparisons: Sequence[str] | None = None,
    settings: RunSettings | None = None,
) -> pd.DataFrame:
    """Power against total sample size, with common random numbers across the sizes.

    Each size is the scenario with ``design.sample_size`` overridden (allocation, strata and
    everything else kept) and the same seed, so replicate ``r`` at a larger size extends the
    trial of replicate ``r`` at a smaller one.

    Parameters
    ----------
    scenario : Scenario
    sizes : sequence of int
        Total sample sizes.
    endpoints, weeks, comparisons : sequence, optional
        Which results to report (see :func:`select_targets`); ``["all"]`` for all.
    settings : RunSettings, optional

    Returns
    -------
    pandas.DataFrame
        One row per size × endpoint × week × comparison × statistic (``power``,
        ``power_favoring_treatment``, and ``analyzable``: the share of trials whose model
        could be fitted, the others counting as not rejecting): ``scenario, sample_size,
        endpoint, week, comparison, statistic, value, mcse, ci_low, ci_high, replicates``;
        ``ci_low``/``ci_high`` is the 95% Wilson Monte Carlo band.
    """
    settings = settings or RunSettings()
    endpoints, weeks, comparisons = _power_selection(scenario, endpoints, weeks, comparisons)
    sizes = sorted(dict.fromkeys(int(n) for n in sizes))
    if not sizes:
        raise ScenarioError("--sizes: give at least one sample size")
    points = [_with(scenario, {"design.sample_size": n}, f"--sizes {n}") for n in sizes]
    with _runner("power", scenario, settings) as run:
        results = run(points)
        replicates = run.replicates
    frames = []
    for n, sc, res in zip(sizes, points, results, strict=True):
        s = whole_trial(summarize(Plan(sc), res))
        s = s[s.statistic.isin((*POWER_STATISTICS, "analyzable")) & (s.comparison != "")]
        if endpoints is not None:
            s = s[s.endpoint.isin(endpoints)]
        if weeks is not None and endpoints is not None:
            s = s[s.week.isin(weeks)]
        s = s[s.comparison.isin(comparisons)]
        frames.append(s.assign(sample_size=n))
    out = pd.concat(frames, ignore_index=True)
    out["scenario"] = scenario.name
    out["ci_low"], out["ci_high"] = wilson_interval(out["value"].to_numpy(), replicates)
    out["replicates"] = replicates
    cols = ["scenario", "sample_size", "endpoint", "week", "comparison", "statistic", "value",
            "mcse", "ci_low", "ci_high", "replicates"]
    return out[cols].reset_index(drop=True)


#: target powers of ``sample_size_table``
SAMPLE_SIZE_TARGETS = (0.8, 0.9)
#: parametric bootstrap draws behind each MCSE of ``sample_size_table``
SAMPLE_SIZE_DRAWS = 400
#: ``sample_size_table`` extrapolates its fitted curves to at most this multiple of the
#: largest simulated size (beyond, a curve fitted to low powers says little about where it
#: reaches 80%: simulate larger sizes)
MAX_EXTRAPOLATION = 2
#: columns of ``sample_size_table``
SAMPLE_SIZE_COLUMNS = [
    "scenario", "endpoint", "week", "comparison", "target_power", "sample_size",
    "sample_size_estimate", "mcse", "extrapolated", "power_at_design", "power_at_design_mcse",
]


def sample_size_table(curve: pd.DataFrame, scenario: Scenario,
                      targets: Sequence[float] = SAMPLE_SIZE_TARGETS) -> pd.DataFrame:
    """The total sample size each endpoint, week and comparison needs, from a power curve.

    Endpoint sensitivity at a glance: per target of the curve (``power_curve``'s ``power``
    rows), the probit-√N curve fitted to its rejection counts (``fit_probit_sqrt``, as the
    sample-size search fits it) gives the N whose power reaches each target
    (``sample_size_estimate``; ``sample_size`` rounded up to the allocation total) and the
    power at the scenario's own size. MCSEs from a parametric bootstrap: each size's count
    redrawn binomially at its observed rate (``SAMPLE_SIZE_DRAWS`` times, from the scenario's
    bootstrap stream, so the table is reproducible); that ignores the common random numbers'
    positive correlation between sizes and so, if anything, overstates the MCSE. A root
    outside the simulated sizes is an extrapolation of the fitted curve (``extrapolated``);
    one the fit cannot place (a flat or falling curve), or beyond ``MAX_EXTRAPOLATION`` times
    the largest size, is nan; such bootstrap draws are left out of the MCSE, which for a root
    near that limit is therefore too small.
    """
    des = scenario.design
    step = int(sum(a.allocation for a in des.arms.values()))
    n0 = des.sample_size
    power = curve[curve.statistic == "power"]
    rng = bootstrap_stream(scenario.seed)
    rows = []
    for (endpoint, week, comp), g in power.groupby(["endpoint", "week", "comparison"],
                                                     sort=False):
        g = g.sort_values("sample_size")
        sizes = g.sample_size.to_numpy(dtype=float)
        trials = int(g.replicates.iloc[0])
        hits = np.rint(g.value.to_numpy() * trials)
        boot = rng.binomial(trials, hits / trials, size=(SAMPLE_SIZE_DRAWS, sizes.size))
        a, b, centre, scale = fit_probit_sqrt(sizes, np.vstack([hits, boot]), trials)
        at0 = probit_sqrt_power(a, b, centre, scale, n0)
        for target in targets:
            roots = probit_sqrt_roots(a, b, centre, scale, target)
            roots[roots > MAX_EXTRAPOLATION * sizes.max()] = np.nan
            est = float(roots[0])
            se = float(np.nanstd(roots[1:], ddof=1)) if np.isfinite(est) else float("nan")
            rows.append((
                scenario.name, endpoint, int(week), comp, float(target),
                float(round_up(est, step)) if np.isfinite(est) else float("nan"), est, se,
                bool(np.isfinite(est) and not sizes.min() <= est <= sizes.max()),
                float(at0[0]), float(np.nanstd(at0[1:], ddof=1)),
            ))
    return pd.DataFrame(rows, columns=SAMPLE_SIZE_COLUMNS)


def _power_selection(scenario, endpoints, weeks, comparisons):
    every = endpoints is not None and any(str(e) == "all" for e in endpoints)
    eps, wks, comps = select_targets(scenario, endpoints, weeks, comparisons)
    if every:  # every endpoint of the summary, including any beyond analysis.endpoints
        return None, wks, comps
    return eps, wks, comps


# --------------------------------------------------------------------------- sweeps


def get_path(data: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted path of a (dumped) scenario."""
    node: Any = data
    for key in dotted.split("."):
        node = node[key]
    return node


def sweep_points(
    factors: dict[str, Sequence[Any]], design: str = "factorial"
) -> list[tuple[str, dict[str, Any]]]:
    """The grid of a sweep: ``(varied, overrides)`` per point.

    Parameters
    ----------
    factors : dict of str to sequence
        ``{dotted.path: [v1, v2, ...]}``.
    design : {"factorial", "oat"}
        ``factorial``: every combination (``varied`` is ``""``); ``oat``: one factor at a
        time around the base scenario, the base first (``varied`` ``""``, no overrides),
        then each value of each factor with the others at their base values.
    """
    if not factors:
        raise ScenarioError(
            "nothing to sweep: give --sweep PATH=v1,v2,... or a sweep: block in the scenario"
        )
    for path, values in factors.items():
        if path.split(".")[0] in ("engine", "sweep"):
            raise ScenarioError(
                f"--sweep {path}: engine and sweep settings do not change the simulated "
                "numbers; sweep a model, population, design or analysis field"
            )
        if len(values) == 0:
            raise ScenarioError(f"--sweep {path}: give at least one value")
    if design == "factorial":
        names = list(factors)
        return [("", dict(zip(names, combo, strict=True)))
                for combo in itertools.product(*factors.values())]
    if design == "oat":
        return [("", {})] + [(p, {p: v}) for p, values in factors.items() for v in values]
    raise ScenarioError(f"sweep design {design!r}: allowed are factorial, oat")


def sweep(
    scenario: Scenario,
    factors: dict[str, Sequence[Any]] | None = None,
    design: str = "factorial",
    settings: RunSettings | None = None,
    pinned: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Simulate a grid of scenarios (any fields, by dotted path) and tabulate their summaries.

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    factors : dict of str to sequence, optional
        ``{dotted.path: [v1, v2, ...]}``; default the scenario's ``sweep`` block.
    design : {"factorial", "oat"}
        Full factorial, or one factor at a time around the base (for a tornado plot).
    settings : RunSettings, optional
    pinned : dict, optional
        Shares of a mix given with the base scenario (``--set population.race.black=0.2``):
        a point that sets other shares of that mix keeps these as given and rescales only
        the rest (``config.scenario.with_pinned``).

    Returns
    -------
    pandas.DataFrame
        The tidy summary of every point (``summarize``), one row per grid point × endpoint ×
        week × arm/comparison × statistic, preceded by ``point``, ``varied`` (the factor
        moved from the base in an ``oat`` sweep, ``""`` for the base or a factorial point)
        and one column per swept path holding that point's value (lists as JSON text).
    """
    settings = settings or RunSettings()
    factors = dict(scenario.sweep if factors is None else factors)
    grid = sweep_points(factors, design)
    points = [
        _with(scenario, with_pinned(over, pinned or {}),
              "--sweep " + ", ".join(f"{k}={_show(v)}" for k, v in over.items()))
        for _, over in grid
    ]
    with _runner("sweep", scenario, settings) as run:
        results = run(points)
    frames = []
    for i, ((varied, _), sc, res) in enumerate(zip(grid, points, results, strict=True)):
        s = whole_trial(summarize(Plan(sc), res))  # subgroup rows: the run's own summary
        dumped = sc.model_dump(mode="json")
        values = {p: _cell(get_path(dumped, p)) for p in factors}
        frames.append(s.assign(point=i, varied=varied, **values))
    out = pd.concat(frames, ignore_index=True)
    out["scenario"] = scenario.name
    lead = ["point", "varied", *factors]
    return out[lead + [c for c in out.columns if c not in lead]]


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def tornado_table(
    table: pd.DataFrame,
    endpoint: str,
    week: int,
    comparison: str,
    statistic: str = "power",
) -> pd.DataFrame:
    """One-at-a-time sensitivity: per factor the lowest and highest value of a statistic.

    Parameters
    ----------
    table : pandas.DataFrame
        The result of ``sweep(..., design="oat")``.

    Returns
    -------
    pandas.DataFrame
        ``factor, base, base_mcse, low, low_mcse, low_value, high, high_mcse, high_value,
        range``, one row per factor, widest range first; ``low_value``/``high_value`` are
        the factor settings giving the extremes.
    """
    sel = table[
        (table.endpoint == endpoint)
        & (table.week == week)
        & (table.comparison == comparison)
        & (table.statistic == statistic)
    ]
    if sel.empty:
        raise ScenarioError(
            f"no {statistic} rows for endpoint {endpoint}, week {week}, comparison {comparison}"
        )
    if not (sel.varied == "").any() or not (sel.varied != "").any():
        raise ScenarioError("a tornado table needs a one-at-a-time sweep (design='oat')")
    base = sel[sel.varied == ""].iloc[0]
    rows = []
    for factor in [v for v in pd.unique(sel.varied) if v]:
        f = sel[sel.varied == factor]
        lo, hi = f.loc[f.value.idxmin()], f.loc[f.value.idxmax()]
        rows.append(
            {
                "factor": factor,
                "base": base.value,
                "base_mcse": base.mcse,
                "low": lo.value,
                "low_mcse": lo.mcse,
                "low_value": _show(lo[factor]),
                "high": hi.value,
                "high_mcse": hi.mcse,
                "high_value": _show(hi[factor]),
                "range": hi.value - lo.value,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values("range", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- sample size


def rejections(
    plan: Plan, res: ChunkResult, endpoint: str, week: int, comparison: str, favoring: bool
) -> np.ndarray:
    """Per-replicate rejection (p < alpha; with ``favoring`` also OR > 1) of one target."""
    t = plan.targets.index((endpoint, week))
    c = plan.comparisons.index(comparison)
    a = res.analysis[:, t, c, :]
    hit = a[:, _P_VALUE] < plan.scenario.analysis.alpha
    return hit & (a[:, _LOG_OR] > 0) if favoring else hit


def check_target_power(scenario: Scenario, target_power: float) -> None:
    """Refuse a target power outside (``analysis.alpha``, 1).

    Raises
    ------
    ScenarioError
        A power at or below alpha is reached without any treatment effect (a test rejects
        with probability alpha under the null), so no sample size answers it; 1 and above
        are never reached.
    """
    alpha = scenario.analysis.alpha
    if not alpha < target_power < 1:
        raise ScenarioError(
            f"--target-power {target_power:g}: must lie above the significance level "
            f"analysis.alpha = {alpha:g} and below 1 (a power at or below alpha is reached "
            "without any treatment effect, so no sample size answers it)"
        )


#: fewest replicates per size a sample-size search accepts: with fewer, every rate is 0 or
#: 1 or nearly so and the fitted curve (and its bootstrap) says nothing
MIN_SEARCH_REPLICATES = 20


def sample_size(
    scenario: Scenario,
    target_power: float,
    endpoint: str | None = None,
    week: int | None = None,
    comparison: str | None = None,
    statistic: str = "power",
    n_min: int | None = None,
    n_max: int | None = None,
    confirm_replicates: int | None = None,
    bootstrap: int = 1000,
    settings: RunSettings | None = None,
) -> SampleSizeResult:
    """The smallest total sample size reaching a target power, with its Monte Carlo error.

    Stochastic root finding (:func:`find_sample_size`) on the CRN power curve of one
    endpoint, week and comparison, then a confirmation run at the chosen N on fresh
    replicates (numbers ``R … R + R_confirm − 1``, independent of the search), which gives
    an unbiased power estimate at N.

    Parameters
    ----------
    scenario : Scenario
        Its ``design.sample_size`` is the first size tried; allocation is kept and N is a
        multiple of the allocation total (e.g. 3 for 1:1:1).
    target_power : float
        In (``analysis.alpha``, 1).
    endpoint, week, comparison : optional
        Default the primary endpoint, the primary week and the first comparison.
    statistic : {"power", "power_favoring_treatment"}
        Two-sided rejection, or rejection with the treatment better.
    n_min, n_max : int, optional
        Search limits (default two randomization blocks, and 8 × the scenario's size).
    confirm_replicates : int, optional
        Replicates of the confirmation run (default as many as the search; 0 to skip).
    bootstrap : int
    settings : RunSettings, optional
        ``settings.replicates`` is the number of replicates at each searched size.

    Returns
    -------
    SampleSizeResult
    """
    settings = settings or RunSettings()
    check_target_power(scenario, target_power)
    reps = settings.replicates or scenario.engine.replicates
    if reps < MIN_SEARCH_REPLICATES:
        raise ScenarioError(
            f"--replicates {reps}: a sample-size search fits a power curve to the rejection "
            f"rates at each size, which needs at least {MIN_SEARCH_REPLICATES} replicates per "
            "size (a few hundred for a usable interval)"
        )
    if statistic not in POWER_STATISTICS:
        raise ScenarioError(
            f"--statistic {statistic!r}: allowed are {', '.join(POWER_STATISTICS)}"
        )
    eps, wks, comps = select_targets(
        scenario,
        [endpoint] if endpoint else None,
        [week] if week is not None else None,
        [comparison] if comparison else None,
    )
    endpoint, week, comparison = eps[0], wks[0], comps[0]
    des = scenario.design
    step = sum(arm.allocation for arm in des.arms.values())
    block = step * des.block_multiplier
    smallest = round_up(max(6, 2 * len(des.arms)), step)  # the schema's smallest valid trial
    for option, value in (("--n-min", n_min), ("--n-max", n_max)):
        if value is not None and not 1 <= value <= MAX_SAMPLE_SIZE:
            raise ScenarioError(
                f"{option} {value}: must be 1 to {MAX_SAMPLE_SIZE:,} (the largest "
                "design.sample_size a scenario may simulate)"
            )
    if not 1 <= bootstrap <= MAX_BOOTSTRAP:
        raise ScenarioError(f"--bootstrap {bootstrap}: must be 1 to {MAX_BOOTSTRAP:,}")
    n_min = max(n_min if n_min is not None else 2 * block, smallest)
    n_max = n_max if n_max is not None else min(8 * des.sample_size, MAX_SAMPLE_SIZE)
    if n_min > n_max:
        raise ScenarioError(f"--n-min {n_min} is larger than --n-max {n_max}")
    favoring = statistic == "power_favoring_treatment"

    def at(n: int) -> Scenario:
        return _with(scenario, {"design.sample_size": int(n)}, f"sample size {n}")

    with _runner("samplesize", scenario, settings) as run:

        def evaluate(ns: list[int]) -> dict[int, np.ndarray]:
            scs = [at(n) for n in ns]
            return {
                n: rejections(Plan(sc), res, endpoint, week, comparison, favoring)
                for n, sc, res in zip(ns, scs, run(scs), strict=True)
            }

        result = find_sample_size(
            evaluate, target_power, des.sample_size, step, n_min, n_max, bootstrap,
            bootstrap_stream(scenario.seed),
        )
        confirm = run.replicates if confirm_replicates is None else confirm_replicates
        if confirm > 0:
            sc = at(result.n_required)
            (res,) = run([sc], first=run.replicates, replicates=confirm)
            y = rejections(Plan(sc), res, endpoint, week, comparison, favoring)
            result.add_confirmation(y)
    result.context = {
        "scenario": scenario.name,
        "endpoint": endpoint,
        "week": week,
        "comparison": comparison,
        "statistic": statistic,
        "n_min": n_min,
        "n_max": n_max,
    }
    return result
