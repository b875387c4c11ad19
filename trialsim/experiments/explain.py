"""Why two trials differed: swap population factors between two scenarios.

Each scenario's protocol is simulated on each population, and the difference in treatment
effect (a treated arm vs control on one endpoint and week) is decomposed into population
factors by swapping them one at a time and cumulatively. Each configuration is simulated as
``batches`` large trials (replicates 0..batches-1 of one seed), so replicate k of every
configuration shares its random streams (common random numbers) and each delta is a paired
difference: its Monte Carlo SE is the SD of the ``batches`` paired deltas over sqrt(batches).

Common random numbers hold best across swaps that keep the trial length; a protocol of
another length (52 vs 76 weeks) draws the course in another order, so the ``protocol`` step
carries more Monte Carlo noise (its SE says how much).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trialsim.config.scenario import MAX_SAMPLE_SIZE, Scenario, ScenarioError, with_overrides
from trialsim.config.vocab import ENDPOINT_NAMES
from trialsim.run.progress import Progress
from trialsim.run.trial import Plan, run_chunk
from trialsim.summarize.tables import mean_mcse

#: population factors: name -> population fields swapped together
FACTORS: dict[str, tuple[str, ...]] = {
    "race": ("race",),
    "region": ("region",),
    "steroids": ("prednisone",),
    "serology": ("anti_dsdna", "low_c3", "low_c4", "ana_positive"),
    "disease_duration": ("disease_duration_years",),
    "background_therapy": ("immunosuppressant", "antimalarial"),
    "demographics": ("age", "female", "weight_kg"),
}


@dataclass
class Effect:
    """Arm-level rates of one configuration, one entry per batch (paired across configs)."""

    rate_treated: np.ndarray
    rate_control: np.ndarray

    @property
    def risk_difference(self) -> np.ndarray:
        return self.rate_treated - self.rate_control

    @property
    def log_odds_ratio(self) -> np.ndarray:
        t = np.clip(self.rate_treated, 1e-9, 1 - 1e-9)
        c = np.clip(self.rate_control, 1e-9, 1 - 1e-9)
        return np.log(t / (1 - t)) - np.log(c / (1 - c))


def _delta(e: Effect, ref: Effect) -> dict:
    rd, rd_se = mean_mcse(e.risk_difference - ref.risk_difference)
    lor, lor_se = mean_mcse(e.log_odds_ratio - ref.log_odds_ratio)
    return {"delta_risk_difference": rd, "mcse_delta_risk_difference": rd_se,
            "delta_log_odds_ratio": lor, "mcse_delta_log_odds_ratio": lor_se}


def _population_fields(sc: Scenario, fields: tuple[str, ...]) -> dict:
    pop = sc.population.model_dump()
    return {f"population.{f}": pop[f] for f in fields}


#: most batches (large trials) per configuration: SEs shrink as 1/sqrt(batches), and 10,000
#: already puts them far below any difference worth explaining
MAX_BATCHES = 10_000


def treatment_effect(sc: Scenario, endpoint: str, week: int, treated: str, patients_per_arm: int,
                     seed: int, batches: int = 1, done: Callable[[int], None] | None = None
                     ) -> Effect:
    """Arm-level rates from ``batches`` large simulated trials (replicates 0.. of ``seed``).

    The trials are simulated one at a time (the same numbers as one chunk of ``batches``),
    so memory holds one trial; ``done(1)`` is called after each.
    """
    over = {
        "design.sample_size": patients_per_arm * len(sc.design.arms),
        "analysis.endpoints": [endpoint],
        "design.endpoint_weeks": [week],
        "seed": seed,
    }
    sc = with_overrides(sc, over)
    plan = Plan(sc)
    rates = np.empty((batches, len(plan.arms)))
    for k in range(batches):
        rates[k] = run_chunk(sc, k, k + 1).rates[0, 0]
        if done is not None:
            done(1)
    return Effect(rates[:, plan.arms.index(treated)].copy(),
                  rates[:, plan.arms.index(sc.design.control)].copy())


def check_explain(a: Scenario, b: Scenario, endpoint: str, week: int, treated: str,
                  patients_per_arm: int, batches: int) -> None:
    """Refuse settings :func:`explain` cannot use, naming its command-line option."""
    if endpoint not in ENDPOINT_NAMES:
        raise ScenarioError(
            f"--endpoint {endpoint!r}: unknown endpoint; allowed: {', '.join(ENDPOINT_NAMES)}")
    if not 2 <= batches <= MAX_BATCHES:
        raise ScenarioError(
            f"--batches {batches}: must be 2 to {MAX_BATCHES:,} (two at least for Monte Carlo "
            "SEs)")
    for sc in (a, b):
        arms = sc.design.arms
        if treated not in arms or treated == sc.design.control:
            raise ScenarioError(
                f"--treated {treated!r}: not a treated arm of {sc.name}; its treated arms: "
                f"{', '.join(x for x in arms if x != sc.design.control)}")
        d = sc.design
        if not (1 <= week <= d.duration_weeks and week % d.visit_interval_weeks == 0):
            raise ScenarioError(
                f"--week {week}: not a visit week of {sc.name} (a multiple of "
                f"{d.visit_interval_weeks} from {d.visit_interval_weeks} to {d.duration_weeks})")
        most = MAX_SAMPLE_SIZE // len(arms)
        if not 1 <= patients_per_arm <= most:
            raise ScenarioError(
                f"--patients-per-arm {patients_per_arm}: must be 1 to {most:,} for the "
                f"{len(arms)} arms of {sc.name} (design.sample_size is at most "
                f"{MAX_SAMPLE_SIZE:,})")


def configurations(a: Scenario, b: Scenario) -> int:
    """How many configurations :func:`explain` simulates (each ``batches`` trials)."""
    current = b
    for fields in FACTORS.values():
        current = with_overrides(current, _population_fields(a, fields))
    rest = with_overrides(current, {"population": a.population.model_dump()})
    return 4 + 2 + 2 * len(FACTORS) + (rest.population != current.population)


def explain(a: Scenario, b: Scenario, endpoint: str = "sri4", week: int = 52,
            treated: str = "bel10", patients_per_arm: int = 4000,
            seed: int = 20261122, batches: int = 10, progress: bool | None = False
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decompose effect(A) - effect(B) into population factors.

    ``progress``: None reports progress on stderr (a bar on a terminal, lines with the ETA
    in a log), True always a bar, False nothing (see ``trialsim.run.progress``).

    Returns
    -------
    grid : DataFrame
        Each protocol on each population: protocol, population, rates, risk difference and
        log odds ratio (means over batches) with Monte Carlo SEs.
    steps : DataFrame
        ``one_at_a_time`` rows (B with one factor of A) and ``sequential`` rows (B's
        population turned into A's factor by factor, in the order of ``FACTORS``, then A's
        protocol), each delta with its paired Monte Carlo SE; sequential deltas add up to
        the total difference exactly.
    """
    check_explain(a, b, endpoint, week, treated, patients_per_arm, batches)
    bar = Progress(configurations(a, b) * batches, desc=f"explain {a.name} vs {b.name}",
                   show=progress)

    def effect(sc: Scenario) -> Effect:
        return treatment_effect(sc, endpoint, week, treated, patients_per_arm, seed, batches,
                                bar.update)

    def on_population(protocol: Scenario, population: Scenario) -> Scenario:
        return with_overrides(protocol, {"population": population.population.model_dump()})

    try:
        rows = []
        for proto in (a, b):
            for pop in (a, b):
                e = effect(on_population(proto, pop))
                rd, rd_se = mean_mcse(e.risk_difference)
                lor, lor_se = mean_mcse(e.log_odds_ratio)
                rows.append({"protocol": proto.name, "population": pop.name,
                             "rate_treated": float(e.rate_treated.mean()),
                             "rate_control": float(e.rate_control.mean()),
                             "risk_difference": rd, "mcse_risk_difference": rd_se,
                             "log_odds_ratio": lor, "mcse_log_odds_ratio": lor_se})
        grid = pd.DataFrame(rows)
        base = effect(b)
        target = effect(a)
        steps = []
        for name, fields in FACTORS.items():
            e = effect(with_overrides(b, _population_fields(a, fields)))
            steps.append({"method": "one_at_a_time", "factor": name, **_delta(e, base)})
        current, prev = b, base
        for name, fields in FACTORS.items():
            current = with_overrides(current, _population_fields(a, fields))
            e = effect(current)
            steps.append({"method": "sequential", "factor": name, **_delta(e, prev)})
            prev = e
        # whatever population fields no factor lists (affinity, correlations, ...) come last
        rest = with_overrides(current, {"population": a.population.model_dump()})
        if rest.population != current.population:
            e = effect(rest)
            steps.append({"method": "sequential", "factor": "other_population", **_delta(e, prev)})
            prev = e
        steps.append({"method": "sequential", "factor": "protocol", **_delta(target, prev)})
    finally:
        bar.close()
    out = pd.DataFrame(steps)
    out.attrs.update(base=float(base.risk_difference.mean()),
                     target=float(target.risk_difference.mean()),
                     base_name=b.name, target_name=a.name)
    return grid, out
