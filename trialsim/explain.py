"""Why two trials differed: swap population factors between two scenarios.

Each scenario's protocol is simulated on each population, and the difference in treatment
effect (a treated arm vs control on one endpoint and week) is decomposed into population
factors by swapping them one at a time and cumulatively, with common random numbers (one
large simulated trial per evaluation, the same seed everywhere).

Common random numbers hold exactly across population swaps that keep the trial length; a
protocol of another length (52 vs 76 weeks) draws the course in another order, so the
``protocol`` step also carries Monte Carlo noise of the order of ``mcse_risk_difference``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine import Plan, run_chunk
from .scenario import Scenario, ScenarioError, with_overrides

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
    rate_treated: float
    rate_control: float

    @property
    def risk_difference(self) -> float:
        return self.rate_treated - self.rate_control

    @property
    def log_odds_ratio(self) -> float:
        t, c = self.rate_treated, self.rate_control
        return float(np.log(t / (1 - t)) - np.log(c / (1 - c)))


def _population_fields(sc: Scenario, fields: tuple[str, ...]) -> dict:
    pop = sc.population.model_dump()
    return {f"population.{f}": pop[f] for f in fields}


def treatment_effect(sc: Scenario, endpoint: str, week: int, treated: str, patients_per_arm: int,
                     seed: int) -> Effect:
    """Arm-level effect from one large simulated trial (CRN: fixed seed)."""
    over = {
        "design.sample_size": patients_per_arm * len(sc.design.arms),
        "analysis.endpoints": [endpoint],
        "design.endpoint_weeks": [week],
        "seed": seed,
    }
    sc = with_overrides(sc, over)
    plan = Plan(sc)
    res = run_chunk(sc, 0, 1)
    rates = res.rates[0, 0]
    return Effect(float(rates[plan.arms.index(treated)]),
                  float(rates[plan.arms.index(sc.design.control)]))


def explain(a: Scenario, b: Scenario, endpoint: str = "sri4", week: int = 52,
            treated: str = "bel10", patients_per_arm: int = 4000,
            seed: int = 20261122) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decompose effect(A) - effect(B) into population factors.

    Returns
    -------
    grid : DataFrame
        Each protocol on each population: protocol, population, rates, risk difference,
        log odds ratio.
    steps : DataFrame
        ``one_at_a_time`` rows (B with one factor of A) and ``sequential`` rows (B's
        population turned into A's factor by factor, in the order of ``FACTORS``, then A's
        protocol); sequential deltas add up to the total difference exactly.
    """
    for sc in (a, b):
        if treated not in sc.design.arms:
            raise ScenarioError(f"{sc.name}: arm {treated!r} is not defined")
        if week > sc.design.duration_weeks:
            raise ScenarioError(f"{sc.name}: week {week} is after the end of the trial")

    def effect(sc: Scenario) -> Effect:
        return treatment_effect(sc, endpoint, week, treated, patients_per_arm, seed)

    def on_population(protocol: Scenario, population: Scenario) -> Scenario:
        return with_overrides(protocol, {"population": population.population.model_dump()})

    rows = []
    for proto in (a, b):
        for pop in (a, b):
            e = effect(on_population(proto, pop))
            mcse = np.sqrt((e.rate_treated * (1 - e.rate_treated)
                            + e.rate_control * (1 - e.rate_control)) / patients_per_arm)
            rows.append({"protocol": proto.name, "population": pop.name,
                         "rate_treated": e.rate_treated, "rate_control": e.rate_control,
                         "risk_difference": e.risk_difference,
                         "mcse_risk_difference": mcse,
                         "log_odds_ratio": e.log_odds_ratio})
    grid = pd.DataFrame(rows)
    base = effect(b)
    target = effect(a)
    steps = []
    for name, fields in FACTORS.items():
        e = effect(with_overrides(b, _population_fields(a, fields)))
        steps.append({"method": "one_at_a_time", "factor": name,
                      "delta_risk_difference": e.risk_difference - base.risk_difference,
                      "delta_log_odds_ratio": e.log_odds_ratio - base.log_odds_ratio})
    current, prev = b, base
    for name, fields in FACTORS.items():
        current = with_overrides(current, _population_fields(a, fields))
        e = effect(current)
        steps.append({"method": "sequential", "factor": name,
                      "delta_risk_difference": e.risk_difference - prev.risk_difference,
                      "delta_log_odds_ratio": e.log_odds_ratio - prev.log_odds_ratio})
        prev = e
    # whatever population fields no factor lists (affinity, correlations, ...) come last
    rest = with_overrides(current, {"population": a.population.model_dump()})
    if rest.population != current.population:
        e = effect(rest)
        steps.append({"method": "sequential", "factor": "other_population",
                      "delta_risk_difference": e.risk_difference - prev.risk_difference,
                      "delta_log_odds_ratio": e.log_odds_ratio - prev.log_odds_ratio})
        prev = e
    steps.append({"method": "sequential", "factor": "protocol",
                  "delta_risk_difference": target.risk_difference - prev.risk_difference,
                  "delta_log_odds_ratio": target.log_odds_ratio - prev.log_odds_ratio})
    out = pd.DataFrame(steps)
    out.attrs.update(base=base.risk_difference, target=target.risk_difference,
                     base_name=b.name, target_name=a.name)
    return grid, out
