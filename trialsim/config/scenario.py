"""Scenario schema: the YAML a user writes, validated with pydantic.

Every field is checked at the edge; errors name the YAML path, the bad value and what is
allowed. Scenario files may ``extends:`` another file (a path relative to themselves), whose
content they deep-merge over: the shared disease and drug model lives in
``configs/model.yaml`` and each trial file says only where the trials differ.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from trialsim.config.expressions import compile_expression
from trialsim.config.multiplicity import PROCEDURES, check_multiplicity
from trialsim.config.vocab import (  # noqa: F401  (re-exported: the schema's names)
    CLASI_AREAS,
    CLASI_ENDPOINTS,
    COPULA_DIMS,
    DESCRIPTOR_NAMES,
    ENDPOINT_NAMES,
    RACES,
    RASH_SUBTYPES,
    REGIONS,
    SKIN_SUBTYPES,
    SLEDAI_PROTEINURIA_RULES,
    SPENDING_FAMILIES,
    STRATIFIERS,
    SUBGROUP_FACTORS,
)
from trialsim.errors import ScenarioError

#: names that become file or folder names (scenarios, arms): no path separators, not hidden
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
#: a custom subgroup's name (a summary.csv value and a plot label)
SUBGROUP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
#: the range of a drug-effect modifier (a ratio): log-linear, bounded, never zero
MIN_MODIFIER_RATIO, MAX_MODIFIER_RATIO = 0.05, 20.0

Prob = Annotated[float, Field(ge=0.0, le=1.0)]
NonNeg = Annotated[float, Field(ge=0.0)]
Pos = Annotated[float, Field(gt=0.0)]
Corr = Annotated[float, Field(gt=-1.0, lt=1.0)]



class Model(BaseModel):
    """Base of every schema block: unknown keys are errors, values are checked on assignment,
    and every number is finite (``.nan`` and ``.inf`` are refused wherever they appear)."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False
    )


def _keys_in(allowed: tuple[str, ...], what: str):
    """A validator: the mapping's keys must be among ``allowed``."""

    def check(v: dict) -> dict:
        bad = sorted(set(v) - set(allowed))
        if bad:
            raise ValueError(f"unknown {what}(s) {bad}; allowed: {', '.join(allowed)}")
        return v

    return AfterValidator(check)


def _entry_key(x: Any) -> str:
    """What makes two list entries the same: equal numbers (60, 60.0, '60') are the same."""
    x = number_or_text(x)
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        x = float(x)
    return json.dumps(x, sort_keys=True, default=str)


def no_duplicates(v: list) -> list:
    """A list validator: every entry at most once (a repeated entry is a typo, not a request)."""
    seen, repeated = set(), []
    for x in v:
        key = _entry_key(x)
        if key in seen and x not in repeated:
            repeated.append(x)
        seen.add(key)
    if repeated:
        raise ValueError(f"entries must be distinct; repeated: {repeated}")
    return v


Distinct = AfterValidator(no_duplicates)


def number_or_text(value: Any) -> Any:
    """A string that reads as a number (``1e-1``, which YAML 1.1 leaves a string) as that
    number; anything else as it is."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        if not math.isfinite(number):  # 'nan', 'inf': words, left to the field to judge
            return value
        if value.strip().lstrip("+-").replace("_", "").isdigit():
            return int(value)
        return number
    return value


def _sums_to_one(values: dict[str, float], what: str) -> None:
    total = sum(values.values())
    if abs(total - 1.0) > 1e-6:
        shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
        raise ValueError(f"{what} proportions must sum to 1, got {total:.6g} ({shown})")


class RaceMix(Model):
    """Proportions by race/ethnicity; they must sum to 1."""

    #: share of White candidates
    white: Prob = 0.0
    #: share of Black candidates
    black: Prob = 0.0
    #: share of Asian candidates
    asian: Prob = 0.0
    #: share of Indigenous American candidates
    indigenous_american: Prob = 0.0
    #: share of candidates of any other race or ethnicity
    other: Prob = 0.0

    @model_validator(mode="after")
    def _check_sum(self) -> RaceMix:
        _sums_to_one(self.model_dump(), "race")
        return self


class RegionMix(Model):
    """Proportions by enrolment region; they must sum to 1."""

    #: share of candidates enrolled in the US and Canada
    us_canada: Prob = 0.0
    #: share of candidates enrolled in Western Europe and Israel
    western_europe_israel: Prob = 0.0
    #: share of candidates enrolled in Eastern Europe
    eastern_europe: Prob = 0.0
    #: share of candidates enrolled in Latin America
    latin_america: Prob = 0.0
    #: share of candidates enrolled in Asia-Pacific
    asia_pacific: Prob = 0.0

    @model_validator(mode="after")
    def _check_sum(self) -> RegionMix:
        _sums_to_one(self.model_dump(), "region")
        return self


class MeanSD(Model):
    #: mean of the quantity
    mean: float
    #: standard deviation of the quantity itself (not of its log)
    sd: Pos


class AgeYears(MeanSD):
    """Adult trial populations (domain.md §3: 18 and over)."""

    #: mean age (normal, clipped to 18-75)
    mean: Annotated[float, Field(ge=18.0, le=75.0)]
    #: SD of age (before clipping)
    sd: Annotated[float, Field(gt=0.0, le=30.0)]


class PositiveMeanSD(MeanSD):
    """A positive quantity (weight, disease duration): mean above 0."""

    #: mean of the quantity itself, not of its log (weight: log-normal; disease duration:
    #: gamma)
    mean: Annotated[float, Field(gt=0.0, le=1000.0)]


class Prednisone(Model):
    """Baseline prednisone: share of patients on it, and dose among users (mg/day)."""

    #: share of candidates on prednisone at baseline (a threshold on its copula latent)
    use: Prob
    #: mean of the gamma-distributed dose among users (then rounded to 0.5 mg, at least 1 mg)
    mean_dose_mg: Annotated[float, Field(gt=0.0, le=200.0)]
    #: SD of that gamma-distributed dose among users
    sd_dose_mg: Annotated[float, Field(gt=0.0, le=200.0)]


def copula_correlation(correlations: dict[str, float]) -> np.ndarray:
    """The latent correlation matrix over ``COPULA_DIMS`` from ``{"a~b": r}`` (others 0)."""
    k = len(COPULA_DIMS)
    corr = np.eye(k)
    for key, r in correlations.items():
        a, b = (COPULA_DIMS.index(p) for p in key.split("~"))
        corr[a, b] = corr[b, a] = r
    return corr


def race_region_joint(
    race: dict[str, float], region: dict[str, float], affinity: dict[str, dict[str, float]]
) -> np.ndarray | None:
    """Joint race × region proportions with the given marginals, or None if none exists.

    Iterative proportional fitting of the affinity matrix (missing entries 1) to the race and
    region marginals.

    Returns
    -------
    ndarray, shape (len(RACES), len(REGIONS)), or None
        None when no table with these zeros has both marginals (an affinity of 0 rules out a
        combination the marginals need).
    """
    rows = np.array([race[r] for r in RACES])
    cols = np.array([region[r] for r in REGIONS])
    table = np.ones((len(RACES), len(REGIONS)))
    for r, row in affinity.items():
        for g, a in row.items():
            table[RACES.index(r), REGIONS.index(g)] = a
    table *= rows[:, None] > 0
    table *= cols[None, :] > 0
    for _ in range(500):
        rs = table.sum(axis=1)
        table *= np.divide(rows, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        cs = table.sum(axis=0)
        table *= np.divide(cols, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
    fits = np.allclose(table.sum(axis=1), rows, atol=1e-6) and np.allclose(
        table.sum(axis=0), cols, atol=1e-6
    )
    return table if fits else None


class Population(Model):
    """The source population that candidates are drawn from before screening.

    Marginals are given as in a baseline table; the enrolled (screened) sample differs from
    them where screening selects on disease activity and serology.
    """

    #: marginal shares by race/ethnicity (they sum to 1)
    race: RaceMix
    #: marginal shares by enrolment region (they sum to 1)
    region: RegionMix
    #: affinity of race to region used to build the joint table (iterative proportional
    #: fitting to both marginals); rows race, columns region
    race_region_affinity: dict[str, dict[str, NonNeg]]
    #: probability that a candidate is female (independent of everything else)
    female: Prob
    #: age, normal with this mean and SD, clipped to 18-75
    age: AgeYears
    #: body weight, log-normal with this mean and SD (for doses per kg and the PK)
    weight_kg: PositiveMeanSD
    #: disease duration at screening, gamma with this mean and SD
    disease_duration_years: PositiveMeanSD
    #: probability that a candidate is ANA positive (independent of everything else)
    ana_positive: Prob
    #: share of candidates anti-dsDNA positive (a threshold on its copula latent)
    anti_dsdna: Prob
    #: share of candidates with low C3 (a threshold on a latent loading ``complement_loading``
    #: on the shared complement latent)
    low_c3: Prob
    #: share of candidates with low C4 (as ``low_c3``)
    low_c4: Prob
    #: baseline prednisone: share of users and dose among them
    prednisone: Prednisone
    #: share of candidates on an immunosuppressant at baseline (a threshold on its copula
    #: latent)
    immunosuppressant: Prob
    #: share of candidates on an antimalarial at baseline (a threshold on its copula latent)
    antimalarial: Prob
    #: pairwise correlations of the latent normal copula, keys "a~b" with a, b in COPULA_DIMS
    correlations: dict[str, Corr] = {}
    #: correlation of the C3 and C4 latents with the shared complement latent
    complement_loading: Annotated[float, Field(ge=0.0, le=1.0)] = 0.8

    @field_validator("correlations")
    @classmethod
    def _check_pairs(cls, v: dict[str, float]) -> dict[str, float]:
        for key in v:
            parts = key.split("~")
            if len(parts) != 2 or any(p not in COPULA_DIMS for p in parts) or parts[0] == parts[1]:
                raise ValueError(
                    f"correlation key {key!r} must be 'a~b' with two different names from "
                    f"{', '.join(COPULA_DIMS)}"
                )
        return v

    @field_validator("correlations")
    @classmethod
    def _check_positive_definite(cls, v: dict[str, float]) -> dict[str, float]:
        smallest = float(np.linalg.eigvalsh(copula_correlation(v)).min())
        if not smallest > 1e-10:
            raise ValueError(
                "these correlations do not form a valid (positive definite) correlation "
                f"matrix over {', '.join(COPULA_DIMS)} (smallest eigenvalue {smallest:.3g}); "
                "reduce their size"
            )
        return v

    @field_validator("race_region_affinity")
    @classmethod
    def _check_affinity(cls, v: dict[str, dict[str, float]], info) -> dict[str, dict[str, float]]:
        for race, row in v.items():
            if race not in RACES:
                raise ValueError(f"unknown race {race!r}; allowed: {', '.join(RACES)}")
            for region in row:
                if region not in REGIONS:
                    raise ValueError(
                        f"unknown region {region!r} for race {race!r}; "
                        f"allowed: {', '.join(REGIONS)}"
                    )
        race, region = info.data.get("race"), info.data.get("region")
        if race is not None and region is not None:  # else their own errors are reported
            if race_region_joint(race.model_dump(), region.model_dump(), v) is None:
                zeros = [f"{r}/{g}" for r, row in v.items() for g, a in row.items() if a == 0]
                raise ValueError(
                    "no joint race × region table has both the population.race and the "
                    "population.region marginals: an affinity of 0 rules out a combination "
                    f"the marginals need (zero affinities: {', '.join(zeros) or 'none'})"
                )
        return v


class Screening(Model):
    """Protocol entry criteria applied to every candidate (domain.md §3)."""

    #: entry: SELENA-SLEDAI at screening at least this (SLEDAI points)
    min_sledai: Annotated[int, Field(ge=0, le=105)] = 6
    #: require ANA positive and/or anti-dsDNA positive
    require_serology: bool = True
    #: exclusion of severe active nephritis, as proteinuria above this (g/24h)
    max_proteinuria_g: Pos = 6.0
    #: give up (error) when fewer than this share of candidates pass
    min_pass_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.01
    # enrichment (a design's own criteria; all off by default, as in BLISS)
    #: require serologically active: anti-dsDNA positive and low C3 or C4
    require_serologically_active: bool = False
    #: require anti-dsDNA positive
    require_anti_dsdna: bool = False
    #: minimum prednisone dose at screening, mg/day (0: none required)
    min_prednisone_mg: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    #: maximum disease duration at screening, years (none: no limit)
    max_disease_duration_years: Pos | None = None
    #: regions that do not recruit
    exclude_regions: Annotated[list[str], Distinct] = []

    @field_validator("exclude_regions")
    @classmethod
    def _check_regions(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if r not in REGIONS]
        if bad:
            raise ValueError(f"unknown region(s) {bad}; allowed: {', '.join(REGIONS)}")
        if set(v) == set(REGIONS):
            raise ValueError("every region is excluded: nobody could be recruited")
        return v


#: an arm's default dosing by route (domain.md §5): IV on days 0, 14, 28 then every 28 days;
#: SC weekly from day 0 without loading doses
DEFAULT_REGIMENS = {"iv": ((0, 14, 28), 28), "sc": ((0,), 7)}


class Arm(Model):
    """A treatment arm: its belimumab regimen (no dose or dose 0 = placebo) and allocation.

    The dose is either ``dose_mg_kg`` (per kg of body weight) or ``dose_mg`` (fixed),
    never both; the route defaults to IV for mg/kg and SC for mg. Doses are given on
    ``loading_days`` and then every ``interval_days`` after the last of them, up to the end
    of the study (model/pk.py).
    """

    #: up to 100 mg/kg (ten times the highest dose studied, domain.md §5)
    dose_mg_kg: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    #: a fixed dose, up to 5,000 mg (25 times the SC dose, domain.md §5)
    dose_mg: Annotated[float, Field(ge=0.0, le=5000.0)] | None = None
    #: ``iv`` or ``sc``; default ``iv`` for ``dose_mg_kg``, ``sc`` for ``dose_mg``
    route: Literal["iv", "sc"] | None = None
    #: days of the first doses, increasing from 0 (default by route: IV 0, 14, 28; SC 0)
    loading_days: Annotated[list[Annotated[int, Field(ge=0, le=1820)]],
                            Field(min_length=1)] | None = None
    #: days between doses after the last loading day (default by route: IV 28, SC 7)
    interval_days: Annotated[int, Field(ge=1, le=365)] | None = None
    #: allocation weight: the arm's places per permuted block, times
    #: ``design.block_multiplier`` (equal allocation by default)
    allocation: Annotated[int, Field(ge=1, le=20)] = 1

    @model_validator(mode="after")
    def _check_regimen(self) -> Arm:
        if self.dose_mg_kg is not None and self.dose_mg is not None:
            raise ValueError(
                f"an arm's dose is either dose_mg_kg (per kg of body weight) or dose_mg (a "
                f"fixed dose), not both: got dose_mg_kg={self.dose_mg_kg:g} and "
                f"dose_mg={self.dose_mg:g}")
        if self.dose_mg_kg is None and self.dose_mg is None:
            raise ValueError("an arm needs its dose: dose_mg_kg (per kg of body weight, IV) "
                             "or dose_mg (a fixed dose, SC by default); 0 for placebo")
        if self.route == "sc" and self.dose_mg_kg is not None and self.dose_mg_kg > 0:
            raise ValueError("a subcutaneous dose is a fixed dose: give dose_mg, not "
                             f"dose_mg_kg={self.dose_mg_kg:g}")
        days = self.loading_days
        if days is not None and (
                days[0] != 0 or any(b <= a for a, b in zip(days[:-1], days[1:], strict=True))):
            raise ValueError(f"loading_days must start at day 0 and increase; got {days}")
        return self

    @property
    def on_drug(self) -> bool:
        """A dose above 0."""
        return self.amount > 0.0

    @property
    def amount(self) -> float:
        """The dose: mg/kg when ``dose_mg_kg`` is given, else mg."""
        return float(self.dose_mg_kg if self.dose_mg_kg is not None else self.dose_mg)

    @property
    def regimen_route(self) -> str:
        """The route, explicit or by default (``iv`` for mg/kg, ``sc`` for mg)."""
        if self.route is not None:
            return self.route
        return "iv" if self.dose_mg_kg is not None else "sc"

    def dose_days(self, duration_weeks: int) -> list[int]:
        """Days of the scheduled doses before the end of the study (day 7 × duration)."""
        if not self.on_drug:
            return []
        loading, interval = DEFAULT_REGIMENS[self.regimen_route]
        loading = list(self.loading_days if self.loading_days is not None else loading)
        interval = self.interval_days if self.interval_days is not None else interval
        end = 7 * duration_weeks
        days = [d for d in loading if d < end]
        day = loading[-1] + interval
        while day < end:
            days.append(day)
            day += interval
        return days


class Protocol(Model):
    """Background-therapy rules; violations make the patient a treatment failure (§3)."""

    #: no new immunosuppressant after randomisation; no IS/antimalarial increase after this week
    immunosuppressant_increase_limit_week: Annotated[int, Field(ge=0)] = 16
    #: after this week a prednisone increase above baseline + allowance is a failure
    steroid_limit_week: Annotated[int, Field(ge=0)] = 24
    #: prednisone increase above the baseline dose allowed after ``steroid_limit_week``
    steroid_allowance_mg: NonNeg = 5.0


def parse_hypothesis(name: str, default_week: int) -> tuple[str, str, int]:
    """``<comparison>.<endpoint>[@<week>]`` as (comparison, endpoint, week); the week is
    ``default_week`` when not given (``ValueError`` for a name of another form)."""
    head, dot, tail = name.rpartition(".")
    endpoint, at, week = tail.partition("@")
    if not dot or not head or not endpoint or (at and not week.isdigit()):
        raise ValueError(f"hypothesis {name!r} is not <comparison>.<endpoint> or "
                         f"<comparison>.<endpoint>@<week> (e.g. bel10_vs_placebo.sri4@52)")
    return head, endpoint, int(week) if at else default_week


#: the largest trial (patients randomised) a scenario may simulate
MAX_SAMPLE_SIZE = 100_000


class Spending(Model):
    """A Lan-DeMets spending function (analysis/group_sequential.py)."""

    #: the spending function: ``obrien_fleming`` (O'Brien-Fleming-like), ``pocock``
    #: (Pocock-like) or ``hsd`` (Hwang-Shih-DeCani, with ``gamma``)
    spending: Literal[SPENDING_FAMILIES] = "obrien_fleming"
    #: Hwang-Shih-DeCani parameter (required for ``hsd``, refused otherwise)
    gamma: Annotated[float, Field(ge=-40.0, le=40.0)] | None = None

    @model_validator(mode="after")
    def _check_gamma(self) -> Spending:
        if self.spending == "hsd" and self.gamma is None:
            raise ValueError("spending hsd needs its gamma (e.g. gamma: -4, O'Brien-Fleming-"
                             "like; gamma: 1, Pocock-like)")
        if self.spending != "hsd" and self.gamma is not None:
            raise ValueError(f"gamma = {self.gamma!r} applies to spending hsd only, not "
                             f"{self.spending}")
        return self


class Futility(Spending):
    """Futility bounds by beta spending (analysis/group_sequential.py)."""

    #: binding bounds: the efficacy bounds are computed with every futility stop obeyed
    #: (lower efficacy bounds; the type I error exceeds alpha if a trial goes on past one).
    #: False (non-binding): the efficacy bounds ignore them.
    binding: bool = False


class Interim(Model):
    """Group-sequential looks at the primary endpoint (the first of ``analysis.endpoints`` at
    the first of ``design.endpoint_weeks``): each when a share of the patients has reached
    it (``information_fractions``), or at calendar months (``calendar_months``), then the
    final analysis (docs/model.md §4c)."""

    #: shares of the patients with primary-endpoint data at each look, increasing, the last 1
    information_fractions: Annotated[list[Annotated[float, Field(gt=0.0, le=1.0)]],
                                     Field(min_length=2, max_length=10)] | None = None
    #: or: the interim looks at these months from the start of accrual, increasing; the
    #: final analysis follows when every patient has reached the primary endpoint
    calendar_months: Annotated[list[Annotated[float, Field(gt=0.0, le=600.0)]],
                               Field(min_length=1, max_length=9)] | None = None
    #: efficacy bounds: alpha spending at one-sided level ``analysis.alpha / 2``
    efficacy: Spending = Spending()
    #: futility bounds by beta spending (none: no futility stops)
    futility: Futility | None = None
    #: type II error the beta spending aims at (the design's power 1 - beta)
    beta: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.2

    @field_validator("information_fractions", "calendar_months")
    @classmethod
    def _check_schedule(cls, v: list[float] | None, info) -> list[float] | None:
        if v is None:
            return v
        for k in range(1, len(v)):
            if not v[k] > v[k - 1]:
                raise ValueError(f"must increase: entry {k} ({v[k]!r}) is not above entry "
                                 f"{k - 1} ({v[k - 1]!r})")
        if info.field_name == "information_fractions" and v[-1] != 1.0:
            raise ValueError(f"the last look is the final analysis, at 1.0; got {v[-1]!r}")
        return v

    @model_validator(mode="after")
    def _one_schedule(self) -> Interim:
        if (self.information_fractions is None) == (self.calendar_months is None):
            raise ValueError("give the looks either as information_fractions (e.g. [0.5, "
                             "1.0]) or as calendar_months of the interim looks (e.g. [18, "
                             "24]), not " + ("both" if self.calendar_months else "neither"))
        return self


class Accrual(Model):
    """Patients randomised over calendar time (model/accrual.py): a Poisson process whose
    intensity rises linearly from 0 to ``patients_per_month`` over ``ramp_up_months``."""

    #: patients randomised per month once accrual is at full speed (the intensity of the
    #: Poisson process after the ramp-up)
    patients_per_month: Annotated[float, Field(gt=0.0, le=100_000.0)]
    #: months over which that intensity rises linearly from 0 (0: full speed from the start)
    ramp_up_months: Annotated[float, Field(ge=0.0, le=120.0)] = 0.0


class Design(Model):
    """Trial design: size, arms, visits, randomisation and protocol rules."""

    #: patients randomised (candidates are screened until this many are enrolled)
    sample_size: Annotated[int, Field(ge=6, le=MAX_SAMPLE_SIZE)]
    #: length of the study: visits every ``visit_interval_weeks`` up to this week, doses
    #: before day 7 x this
    duration_weeks: Annotated[int, Field(ge=4, le=260)]
    #: weeks between visits (the weekly disease processes are converted to this interval)
    visit_interval_weeks: Annotated[int, Field(ge=1, le=26)] = 4
    #: the arms: name -> regimen and allocation (at least two; names become file names)
    arms: dict[str, Arm]
    #: the control arm: by default every other arm is compared with it
    control: str = "placebo"
    #: the comparisons analysed, each ``[treated, reference]`` (a dose against another
    #: dose included), in the order of the outputs; default: every arm but ``control``
    #: against ``control``, in the order of ``arms`` (``comparison_pairs``)
    comparisons: Annotated[list[tuple[str, str]], Field(min_length=1), Distinct] | None = None
    #: weeks at which endpoints are evaluated (each must be a visit week)
    endpoint_weeks: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1), Distinct]
    #: stratification factors (model/randomization.py ``STRATIFICATION``); default the BLISS
    #: protocols' three
    stratify_by: Annotated[list[Literal[STRATIFIERS]], Distinct] = ["sledai", "proteinuria",
                                                                     "race"]
    #: permuted blocks hold this many multiples of the sum of allocation weights
    block_multiplier: Annotated[int, Field(ge=1, le=10)] = 2
    #: probability of dropping out within a year (per visit: 1 - (1 - p) ^
    #: (visit_interval_weeks / 52)); the patient is unobserved from then on
    dropout_per_year: Prob = 0.12
    #: probability that a scheduled dose is not given (each independently; model/pk.py)
    missed_dose_prob: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    #: background-therapy rules whose violation makes a treatment failure
    protocol: Protocol = Protocol()
    #: randomisation over calendar time; none: no calendar outputs
    accrual: Accrual | None = None
    #: interim analyses of the primary endpoint (group-sequential); needs ``accrual``
    interim: Interim | None = None

    @model_validator(mode="after")
    def _check_design(self) -> Design:
        if len(self.arms) < 2:
            raise ValueError("design.arms needs at least two arms")
        for name in self.arms:  # names reach file names (figures, tables)
            if not SAFE_NAME.fullmatch(name):
                raise ValueError(
                    f"arm name {name!r}: use letters, digits and _ . - (not first . or -), "
                    "up to 100 characters"
                )
        if self.control not in self.arms:
            raise ValueError(
                f"control arm {self.control!r} is not defined; defined arms: {', '.join(self.arms)}"
            )
        for w in self.endpoint_weeks:
            if w > self.duration_weeks or w % self.visit_interval_weeks:
                raise ValueError(
                    f"endpoint week {w} must be a visit week (a multiple of "
                    f"visit_interval_weeks={self.visit_interval_weeks}) no later than "
                    f"duration_weeks={self.duration_weeks}"
                )
        for k, (treated, reference) in enumerate(self.comparisons or ()):
            for which, arm in (("treated", treated), ("reference", reference)):
                if arm not in self.arms:
                    raise ValueError(
                        f"comparisons[{k}]: {which} arm {arm!r} is not defined; defined "
                        f"arms: {', '.join(self.arms)}"
                    )
            if treated == reference:
                raise ValueError(
                    f"comparisons[{k}]: [{treated}, {reference}] compares an arm with itself"
                )
        if self.interim is not None and self.accrual is None:
            raise ValueError("interim: looks happen when patients reach the primary endpoint "
                             "over calendar time; give design.accrual too")
        if self.sample_size < 2 * len(self.arms):
            raise ValueError(
                f"sample_size {self.sample_size} is too small for {len(self.arms)} arms"
            )
        return self

    @property
    def comparison_pairs(self) -> list[tuple[str, str]]:
        """The (treated, reference) pairs analysed: ``comparisons`` if given, else every
        non-control arm against the control."""
        if self.comparisons is not None:
            return [(t, r) for t, r in self.comparisons]
        return [(a, self.control) for a in self.arms if a != self.control]


class Descriptor(Model):
    """Course of one SLEDAI descriptor: a two-state Markov chain on a latent propensity."""

    #: log-odds of activity for a typical patient at typical global activity
    intercept: float
    #: SD of the patient-specific organ propensity (persistent heterogeneity)
    heterogeneity: NonNeg
    #: lag-one-week autocorrelation of the on/off chain, in [0, 1) (raised to the visit
    #: interval in weeks: docs/model.md §3)
    persistence: Annotated[float, Field(ge=0.0, lt=1.0)]


class Serology(Model):
    """Weekly conversion of serological descriptors (a two-state Markov chain per week,
    run over the visit interval)."""

    #: per-week probability that a positive marker normalizes without drug
    normalize: Prob = 0.0076
    #: per-week probability that a negative marker becomes positive
    appear: Prob = 0.0076
    #: extra normalization hazard per week and unit of drug effect
    drug_normalize: NonNeg = 0.025


class PGA(Model):
    """PGA (0–3) = intercept + slope × clinical SLEDAI + rater effect + visit noise, clipped."""

    #: PGA at a clinical SELENA-SLEDAI of 0, before the rater effect and the noise (PGA points)
    intercept: float = 0.6
    #: PGA points per point of clinical SELENA-SLEDAI (serological descriptors excluded)
    per_sledai_point: float = 0.09
    #: SD of the patient's rater effect, drawn once and kept (PGA points)
    patient_sd: NonNeg = 0.3
    #: SD of the measurement noise, new at each visit (PGA points)
    visit_sd: NonNeg = 0.25


class Bilag(Model):
    """BILAG grade of an active system from its latent severity (weighted descriptors + noise)."""

    #: an active system whose severity (its active descriptors' SLEDAI weights / 4 +
    #: patient-system effect + visit noise) is above this is graded A
    threshold_a: float = 2.2
    #: above this (and not above ``threshold_a``) B; at or below it C
    threshold_b: float = 0.9
    #: SD of the patient-system effect on the severity, drawn once and kept
    patient_sd: NonNeg = 0.5
    #: SD of the severity's noise, new at each visit
    visit_sd: NonNeg = 0.5
    #: probability that an inactive system at baseline was involved before (grade D, not E)
    prior_involvement: Prob = 0.3


class Disease(Model):
    """Natural history shared by every trial (no per-trial keys)."""

    #: the clinical SELENA-SLEDAI descriptors' Markov chains, by descriptor name (every
    #: clinical descriptor)
    descriptors: dict[str, Descriptor]
    #: multiplies every descriptor's weekly persistence (capped at 0.9975): how long activity
    #: lasts, relative to the per-descriptor values
    persistence_scale: Annotated[float, Field(ge=0.0, le=3.0)] = 1.0
    #: SD of the patient's global activity level (log-odds scale)
    activity_sd: NonNeg
    #: stationary SD of the fluctuating global activity (log-odds), an AR(1) in weeks observed
    #: at the visits
    fluctuation_sd: NonNeg
    #: per-week autocorrelation of that AR(1) fluctuation (ar1^d over a visit interval of d
    #: weeks)
    fluctuation_ar1: Annotated[float, Field(ge=0.0, lt=1.0)]
    #: shift of the global activity by race (log-odds), missing races 0
    race_activity: Annotated[dict[str, float], _keys_in(RACES, "race")] = {}
    #: the Physician's Global Assessment (0-3) from the clinical SELENA-SLEDAI
    pga: PGA = PGA()
    #: BILAG grades of the systems from their active descriptors
    bilag: Bilag = Bilag()
    #: weekly conversion of anti-dsDNA and low complement (the serological descriptors)
    serology: Serology = Serology()
    #: median proteinuria at screening when the proteinuria descriptor is active (log-normal,
    #: clipped from below at 0.51)
    proteinuria_active_median_g: Pos = 1.0
    #: median proteinuria at screening when the descriptor is inactive (log-normal, clipped
    #: from above at 0.5)
    proteinuria_inactive_median_g: Pos = 0.12
    #: SD of log proteinuria (natural log) around either median, at screening
    proteinuria_log_sd: Pos = 0.8
    #: how the SELENA-SLEDAI scores proteinuria at follow-up visits: ``whenever_present``
    #: (SLEDAI-2K's rule; the calibrated model) or ``new_onset`` (SELENA's "new onset or
    #: recent increase": proteinuria present at the previous visit too is not scored). The
    #: endpoint ``sri4_s2k`` always scores it whenever present (docs/model.md §3)
    sledai_proteinuria: Literal[SLEDAI_PROTEINURIA_RULES] = "whenever_present"

    @field_validator("descriptors")
    @classmethod
    def _check_descriptors(cls, v: dict[str, Descriptor]) -> dict[str, Descriptor]:
        clinical = [
            n for n in DESCRIPTOR_NAMES if n not in ("low_complement", "increased_dna_binding")
        ]
        unknown = sorted(set(v) - set(clinical))
        missing = sorted(set(clinical) - set(v))
        if unknown:
            raise ValueError(f"unknown descriptor(s) {unknown}; allowed: {', '.join(clinical)}")
        if missing:
            raise ValueError(f"missing descriptor(s) {missing}")
        return v



class StandardOfCare(Model):
    """Background therapy, acting in every arm."""

    #: reduction of global activity (log-odds) reached by optimized background therapy
    effect: NonNeg = 0.5
    #: time constant of the background-therapy effect, which builds up as ``effect +
    #: region_effect`` x (1 - exp(-t / onset_weeks))
    onset_weeks: Pos = 8.0
    #: activity reduction per unit of log(1 + prednisone mg/day) above the baseline dose
    steroid_potency: NonNeg = 0.4
    #: per week, without a flare at the visit, probability of a taper step when above the
    #: floor dose (at most one step per visit)
    taper_prob: Prob = 0.085
    #: fraction of the dose removed by a taper step: the dose becomes max(``taper_floor_mg``,
    #: dose x (1 - fraction))
    taper_fraction: Prob = 0.2
    #: prednisone dose that tapering never goes below (no taper at or below it)
    taper_floor_mg: NonNeg = 5.0
    #: probability, at each SFI flare seen at a visit, that prednisone is increased
    flare_increase_prob: Prob = 0.5
    #: size of that increase (twice this at a severe flare), and of a symptom-driven one
    flare_increase_mg: NonNeg = 10.0
    #: probability of escalating immunosuppression at each severe flare seen (after the
    #: prednisone step); a new immunosuppressant, or any escalation after
    #: ``design.protocol.immunosuppressant_increase_limit_week``, is a treatment failure
    escalate_severe_prob: Prob = 0.4
    #: the same probability at a mild/moderate flare (an escalation makes the flare severe)
    escalate_mild_prob: Prob = 0.05
    #: activity reduction from an allowed immunosuppressant escalation
    escalation_effect: NonNeg = 0.5
    #: per-week probability (at typical activity, scaled by 2·expit(activity)) that, without
    #: a SLEDAI/PGA flare, symptoms make the physician raise prednisone: an SFI flare by its
    #: medication criterion
    symptom_increase_prob: Prob = 0.0
    #: multiplies that probability for patients on > 7.5 mg/day prednisone at baseline
    #: (a steroid-reliant practice adjusts steroids more readily)
    symptom_high_steroid_factor: Annotated[float, Field(ge=0.0, le=20.0)] = 1.0
    #: multiplies it after ``design.protocol.steroid_limit_week``: a discretionary increase
    #: then makes the patient a treatment failure, so investigators avoid it (1: no restraint)
    symptom_after_limit_factor: Prob = 1.0
    #: shift of the background-therapy effect by region (log-odds), missing regions 0
    region_effect: Annotated[dict[str, float], _keys_in(REGIONS, "region")] = {}



#: a subgroup's ratio of the drug effect: positive and bounded, so that modifiers combine
#: log-linearly (they multiply) and none is an absolute zero that erases the others
ModifierRatio = Annotated[float, Field(ge=MIN_MODIFIER_RATIO, le=MAX_MODIFIER_RATIO)]


class DrugModifiers(Model):
    """Log-linear modifiers of the drug effect by patient subgroup: ratios that multiply."""

    #: by race, missing races 1
    race: Annotated[dict[str, ModifierRatio], _keys_in(RACES, "race")] = {}
    #: anti-dsDNA positive and low C3 or C4 at baseline
    serologically_active: ModifierRatio = 1.0
    #: ratio per 5 years of disease duration beyond 2 years
    per_5y_duration: ModifierRatio = 1.0
    #: baseline prednisone > 7.5 mg/day
    high_steroid: ModifierRatio = 1.0



class Compartments(Model):
    """A linear two-compartment model of one route (domain.md §5), at the reference weight."""

    #: clearance CL from the central compartment, at the reference weight
    clearance_ml_day: Pos
    #: central volume V1, at the reference weight
    central_l: Pos
    #: intercompartmental clearance Q, at the reference weight
    intercompartmental_ml_day: Pos
    #: peripheral volume V2, at the reference weight
    peripheral_l: Pos


class Subcutaneous(Compartments):
    """The SC set: two compartments, first-order absorption, bioavailability and lag."""

    #: first-order absorption rate constant ka from the SC depot to the central compartment
    absorption_per_day: Pos
    #: fraction F of an SC dose that enters the depot
    bioavailability: Annotated[float, Field(gt=0.0, le=1.0)]
    #: delay between an SC dose and its entry into the depot
    lag_days: Annotated[float, Field(ge=0.0, le=7.0)] = 0.0


class PK(Model):
    """Belimumab pharmacokinetics (model/pk.py): the concentration the drug effect follows."""

    #: the intravenous route's two compartments
    iv: Compartments
    #: the subcutaneous route's two compartments, absorption, bioavailability and lag
    sc: Subcutaneous
    #: the body weight at which the ``iv`` and ``sc`` parameters hold
    reference_weight_kg: Annotated[float, Field(gt=0.0, le=300.0)] = 70.0
    #: allometric exponent of the clearances (CL, Q): each times (weight / reference)^this
    weight_exponent_clearance: Annotated[float, Field(ge=0.0, le=2.0)] = 0.75
    #: allometric exponent of the volumes (V1, V2)
    weight_exponent_volume: Annotated[float, Field(ge=0.0, le=2.0)] = 1.0
    #: between-patient variance of log CL (0: every patient typical)
    iiv_clearance_var: Annotated[float, Field(ge=0.0, le=4.0)] = 0.0
    #: between-patient variance of log V1, the central volume (0: every patient typical)
    iiv_central_var: Annotated[float, Field(ge=0.0, le=4.0)] = 0.0
    #: half-life of the effect compartment's equilibration with the central concentration
    effect_half_life_days: Annotated[float, Field(gt=0.0, le=365.0)] = 7.0


class Drug(Model):
    """Belimumab effect: Emax on the effect-site concentration (``pk``), with onset, waning
    and modifiers."""

    #: maximum reduction of global activity (log-odds)
    emax: NonNeg
    #: effect-site concentration giving half of ``emax``
    ec50_ug_ml: Pos
    #: the pharmacokinetics that give each patient's effect-site concentration
    pk: PK
    #: weeks from the start of treatment with no drug effect
    onset_lag_weeks: NonNeg = 4.0
    #: time constant of the onset after the lag: the effect is multiplied by
    #: ``1 - exp(-(t - onset_lag_weeks) / onset_weeks)``
    onset_weeks: Pos = 8.0
    #: half-life of the loss of effect after ``waning_start_weeks`` (null = sustained)
    waning_half_life_weeks: Pos | None = None
    #: week from which the effect wanes (with ``waning_half_life_weeks``)
    waning_start_weeks: NonNeg = 52.0
    #: fractional reduction, on drug (any dose), of the therapy escalations that make
    #: treatment failures: symptom-driven prednisone increases and immunosuppressant
    #: escalations (same onset and waning as the activity effect; race modifier applies)
    stabilization: Prob = 0.0
    #: ratios of the drug effect by patient subgroup
    modifiers: DrugModifiers = DrugModifiers()


def _expression(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(
            "a subgroup is a condition written as text (e.g. \"sledai >= 10 and "
            "serologically_active\"), not "
            + ("empty" if v is None else f"{type(v).__name__} {v!r}"))
    compile_expression(v)  # ExpressionError (a ValueError) names the bad part
    return v


#: a subgroup condition in the expression language (config/expressions.py)
Expression = Annotated[str, BeforeValidator(_expression)]


def _check_names(names, what: str) -> None:
    """Refuse names that are not a letter, then letters, digits or _ (at most 40)."""
    bad = [name for name in names if not SUBGROUP_NAME.match(name)]
    if bad:
        raise ValueError(
            f"{what} name(s) {bad}: a name is a letter, then letters, digits or _ "
            "(at most 40 characters)"
        )


class Subgroups(Model):
    """Subgroup analyses of every run (analysis/subgroups.py)."""

    #: predefined factors analysed (each split into its levels); [] for none
    factors: Annotated[list[str], Distinct] = list(SUBGROUP_FACTORS)
    #: the scenario's own subgroups: name -> expression (levels ``yes`` and ``no``)
    custom: dict[str, Expression] = {}
    #: endpoints analysed within subgroups (at every endpoint week); default: the first of
    #: ``analysis.endpoints`` (the primary)
    endpoints: Annotated[list[str], Distinct] | None = None

    @field_validator("factors")
    @classmethod
    def _check_factors(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if f not in SUBGROUP_FACTORS]
        if bad:
            raise ValueError(
                f"unknown subgroup factor(s) {bad}; allowed: {', '.join(SUBGROUP_FACTORS)} "
                "(your own subgroups go under analysis.subgroups.custom)"
            )
        return v

    @field_validator("custom")
    @classmethod
    def _check_custom(cls, v: dict[str, str]) -> dict[str, str]:
        _check_names(v, "custom subgroup")
        clash = [name for name in v if name.lower() in SUBGROUP_FACTORS]
        if clash:
            raise ValueError(
                f"custom subgroup name(s) {clash} are predefined factors (whatever the case); "
                "choose other names"
            )
        lower = [name.lower() for name in v]
        twins = sorted({n for n in v if lower.count(n.lower()) > 1})
        if twins:
            raise ValueError(f"custom subgroup names {twins} differ only in case")
        return v

    @property
    def enabled(self) -> bool:
        return bool(self.factors or self.custom)


#: events per 100 patient-years: non-negative, at most 1,000 (ten per patient-year)
Rate100 = Annotated[float, Field(ge=0.0, le=1000.0)]


class AdverseEvent(Model):
    """An adverse event counted per patient-year on study (model/safety.py): each patient's
    count is Poisson with mean rate x time on study."""

    #: events per 100 patient-years on placebo (an arm of dose 0)
    placebo_per_100py: Rate100
    #: events per 100 patient-years on drug (any dose > 0)
    drug_per_100py: Rate100
    #: per-arm rates overriding the two above: arm name -> events per 100 patient-years
    arms: dict[str, Rate100] = {}
    #: at most one per patient, and the patient's time at risk of the other events ends there
    #: (death)
    terminal: bool = False


class Safety(Model):
    """Adverse events simulated alongside the efficacy course (model/safety.py); none by
    default."""

    #: event name -> its rates
    events: dict[str, AdverseEvent] = {}

    @field_validator("events")
    @classmethod
    def _check_events(cls, v: dict[str, AdverseEvent]) -> dict[str, AdverseEvent]:
        _check_names(v, "safety event")
        terminal = [name for name, e in v.items() if e.terminal]
        if len(terminal) > 1:
            raise ValueError(
                f"at most one terminal event (it ends the time at risk); got {terminal}"
            )
        return v


class Multiplicity(Model):
    """Familywise error control over hypotheses ``<comparison>.<endpoint>`` (at the first
    endpoint week) or ``<comparison>.<endpoint>@<week>``, each one-sided (the treated arm
    better) at level ``analysis.alpha / 2`` (analysis/multiplicity.py, docs/multiplicity.md)."""

    #: ``none`` (each test at its level), ``bonferroni``, ``holm``, ``hochberg``,
    #: ``fixed_sequence`` or ``graphical``
    procedure: Literal[PROCEDURES]
    #: the hypotheses, each ``<comparison>.<endpoint>`` or ``<comparison>.<endpoint>@<week>``
    #: (e.g. ``bel10_vs_placebo.sri4@52``)
    hypotheses: Annotated[list[str], Field(min_length=1, max_length=64), Distinct]
    #: shares of alpha (bonferroni, holm: equal by default; graphical: required)
    weights: list[float] | None = None
    #: graphical only: row i, the shares of hypothesis i's alpha passed on when it is rejected
    transitions: list[list[float]] | None = None
    #: fixed_sequence only: the testing order (hypothesis names; default as listed)
    order: list[str] | None = None
    #: a subset whose "any" and "all" rejection rates are reported (e.g. the primaries)
    success: Annotated[list[str], Field(min_length=1), Distinct] | None = None

    @model_validator(mode="after")
    def _check_procedure(self) -> Multiplicity:
        check_multiplicity(self.procedure, self.hypotheses, 0.05, self.weights,
                           self.transitions, self.order)
        for k, h in enumerate(self.success or ()):
            if h not in self.hypotheses:
                raise ValueError(f"success[{k}] = {h!r} is not among the hypotheses "
                                 f"({', '.join(self.hypotheses)})")
        return self


class Analysis(Model):
    #: two-sided level of every test (confidence intervals at 1 - alpha); interim looks and
    #: multiplicity test one-sided at alpha / 2
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    #: the first is the primary (subgroup analyses, headline, responder profile)
    endpoints: Annotated[list[str], Distinct] = [
        "sri4",
        "sri5",
        "sri6",
        "sri7",
        "sri8",
        "sledai_reduction_4",
        "no_new_bilag",
        "no_pga_worsening",
        "sri4_modified",
        "sri4_sustained",
        "bicla",
        "lldas",
        "lldas_50",
        "doris_remission",
        "no_severe_flare",
        "steroid_sparing",
    ]
    #: adjust the logistic regression (and the ANCOVA) for the stratification factors
    adjust_for_strata: bool = True
    #: analyse the change from baseline in SELENA-SLEDAI at every endpoint week by ANCOVA
    #: (analysis/ancova.py; LOCF as in BLISS, Navarra et al. 2011): summary endpoint
    #: ``sledai_change``
    sledai_change: bool = True
    #: with a CLASI endpoint, also analyse the change from baseline in CLASI-A by ANCOVA
    #: among its patients (baseline CLASI-A at least ``clasi_min_baseline``; LOCF, adjusted
    #: for baseline CLASI-A): summary endpoint ``clasi_change``
    clasi_change: bool = True
    #: subgroup analyses of every run
    subgroups: Subgroups = Subgroups()
    #: multiplicity control over comparisons x endpoints (none: each test at alpha alone)
    multiplicity: Multiplicity | None = None
    @property
    def clasi_requested(self) -> bool:
        """``endpoints`` names a CLASI endpoint (``CLASI_ENDPOINTS``): the trial draws CLASI."""
        return any(e in CLASI_ENDPOINTS for e in self.endpoints)

    #: the CLASI-k endpoints (``clasi20`` ...) count the patients with at least this
    #: baseline CLASI-A (the others are outside their analysis); 10, moderate activity
    #: (domain.md §2.6), as in the TULIP trials' CLASI analyses
    clasi_min_baseline: Annotated[int, Field(ge=1, le=70)] = 10

    @field_validator("endpoints")
    @classmethod
    def _check_endpoints(cls, v: list[str]) -> list[str]:
        bad = [e for e in v if e not in ENDPOINT_NAMES]
        if bad:
            raise ValueError(f"unknown endpoint(s) {bad}; allowed: {', '.join(ENDPOINT_NAMES)}")
        if not v:
            raise ValueError("at least one endpoint is needed")
        return v

    @model_validator(mode="after")
    def _check_subgroup_endpoints(self) -> Analysis:
        wanted = self.subgroups.endpoints
        if wanted is not None:
            bad = [e for e in wanted if e not in self.endpoints]
            if bad:
                raise ValueError(
                    f"subgroups.endpoints {bad} are not among analysis.endpoints "
                    f"({', '.join(self.endpoints)}); subgroups are analysed on those only"
                )
        return self

    @property
    def subgroup_endpoints(self) -> list[str]:
        """The endpoints analysed within subgroups (none when subgroups are off)."""
        if not self.subgroups.enabled:
            return []
        wanted = self.subgroups.endpoints
        return list(self.endpoints[:1] if wanted is None else wanted)


class Engine(Model):
    #: simulated trials of a run (``--replicates`` overrides it)
    replicates: Annotated[int, Field(ge=1, le=10_000_000)] = 2000
    #: replicates per task; results never depend on it
    chunk_size: Annotated[int, Field(ge=1, le=100_000)] = 100
    #: parallel worker processes (``--n-jobs`` overrides it); results never depend on it
    n_jobs: Annotated[int, Field(ge=1, le=1024)] = 1


class ConstantResponse(Model):
    """A reduced model for validation and quick planning: the ``constant_response`` endpoint
    is a Bernoulli draw with a fixed probability per arm, whatever the disease course."""

    #: arm name -> probability that a patient responds (every arm of the design)
    rates: dict[str, Prob]


# --- the cutaneous model (docs/model.md §7): the skin scenarios' (config/skin.py) and, for
# the CLASI endpoints, the SLE trials' (``skin``) ---


def _increasing(v: list, what: str = "entry") -> list:
    for k in range(1, len(v)):
        if not v[k] > v[k - 1]:
            raise ValueError(f"must increase: {what} {k} ({v[k]!r}) is not above {what} "
                             f"{k - 1} ({v[k - 1]!r})")
    return v



class SubtypeModel(Model):
    """One cutaneous subtype's lesions and response."""

    #: mean of the latent skin activity (log-odds-like units; the lesion grades are cuts of it)
    mean_activity: float
    #: probability that each CLASI area carries lesions of this patient (areas not listed: 0)
    areas: Annotated[dict[str, Prob], _keys_in(CLASI_AREAS, "CLASI area")]
    #: added to an area's activity when its scale/hypertrophy is graded (discoid lesions scale)
    scale_shift: float = 0.0
    #: probability that a patient has mucous membrane lesions at all (skin scenarios; in the
    #: SLE trials the SLEDAI's mucosal ulcers decide)
    mucous_prob: Prob = 0.0
    #: probability that a patient has lupus (non-scarring) alopecia at all (skin scenarios; in
    #: the SLE trials the SLEDAI's alopecia decides)
    alopecia_prob: Prob = 0.0
    #: ratio of the drug's skin effect (1 = the model's ``drug.emax``)
    drug_sensitivity: Annotated[float, Field(ge=0.0, le=20.0)] = 1.0
    #: probability per week that an active lesion-prone area (activity at least the first
    #: erythema cut) scars: grade +1, up to 2 (the scalp's item 0 -> 3, then up to 6)
    scarring_per_week: Prob = 0.0
    #: probability per week that an active lesion-prone area becomes dyspigmented (once)
    dyspigmentation_per_week: Prob = 0.0

    @field_validator("areas")
    @classmethod
    def _some_area(cls, v: dict[str, float]) -> dict[str, float]:
        if not any(p > 0 for p in v.values()):
            raise ValueError("at least one area must have a probability above 0")
        return v


class Onset(Model):
    """An effect that builds up as ``effect · (1 - exp(-t / onset_weeks))``."""

    #: the full reduction of the latent skin activity, reached as t grows
    effect: NonNeg = 0.0
    #: time constant of the build-up
    onset_weeks: Pos = 8.0


class SkinDrug(Model):
    """The drug's effect on the latent skin activity at full exposure (``C_e / (EC50 + C_e)``
    of the shared PK = 1), built up with its own onset."""

    #: reduction of the latent skin activity at full exposure and full onset, times the
    #: subtype's ``drug_sensitivity`` and the patient's own sensitivity
    emax: NonNeg
    #: time constant of the build-up, as ``1 - exp(-t / onset_weeks)``
    onset_weeks: Pos = 12.0
    #: log SD of the patient's own sensitivity (a log-normal ratio of mean 1)
    patient_sd: Annotated[float, Field(ge=0.0, le=3.0)] = 0.0


class Skin(Model):
    """The CLASI disease model (docs/model.md §7)."""

    #: each cutaneous subtype's lesions and response (every subtype)
    subtypes: dict[Literal[SKIN_SUBTYPES], SubtypeModel]
    #: SD of the patient's own level of activity
    patient_sd: NonNeg
    #: SD of an area's own level around the patient's
    area_sd: NonNeg
    #: stationary SD of the weekly AR(1) fluctuation of the skin activity
    fluctuation_sd: NonNeg
    #: per-week autocorrelation of that fluctuation
    fluctuation_ar1: Annotated[float, Field(ge=0.0, lt=1.0)]
    #: SD of the assessment's noise on each area (the rater)
    assessment_sd: NonNeg = 0.0
    #: cut points of the area activity for erythema grades 1, 2, 3
    erythema_cuts: Annotated[list[float], Field(min_length=3, max_length=3)]
    #: cut points for scale/hypertrophy grades 1, 2 (of activity + the subtype's scale_shift)
    scale_cuts: Annotated[list[float], Field(min_length=2, max_length=2)]
    #: offset of the mucous membrane item on the patient's activity (the item is 1 when
    #: activity + offset + rater noise > 0; not used in the SLE trials)
    mucous_offset: float = 0.0
    #: offset of the alopecia items on the patient's activity (graded by ``alopecia_cuts``)
    alopecia_offset: float = 0.0
    #: cut points of the non-scarring alopecia grades 1, 2, 3 (recent hair loss: the first)
    alopecia_cuts: Annotated[list[float], Field(min_length=3, max_length=3)] = [0.0, 1.0, 2.0]
    #: background therapy (antimalarials, systemic) optimised at entry, on every arm
    standard_of_care: Onset = Onset()
    #: topical corticosteroids / calcineurin inhibitors, when a design allows them
    topical: Onset = Onset()
    #: a randomised trial's placebo response beyond standard care (entry at a peak beyond
    #: the fluctuation's regression to the mean, trial care), on every arm of an rct design
    trial_effect: Onset = Onset()
    #: the drug's effect on the skin activity (skin scenarios; the SLE trials' CLASI follows
    #: the SLE drug effect through ``skin.drug_coupling`` instead)
    drug: SkinDrug

    @field_validator("subtypes")
    @classmethod
    def _all_subtypes(cls, v: dict) -> dict:
        missing = [s for s in SKIN_SUBTYPES if s not in v]
        if missing:
            raise ValueError(f"every subtype needs its model; missing {missing}")
        return v

    @field_validator("erythema_cuts", "scale_cuts", "alopecia_cuts")
    @classmethod
    def _cuts(cls, v: list[float]) -> list[float]:
        return _increasing(v, "cut")


class TrialSkin(Model):
    """CLASI in the SLE trials (docs/model.md §7a): each patient's lesion map is drawn to
    agree with the SELENA-SLEDAI mucocutaneous descriptors of the course (rash, alopecia,
    mucosal ulcers); its lesions keep the patient's skin level, move with the change of the
    course's global activity (``coupling``) and fall with the drug's effect
    (``drug_coupling``)."""

    #: shares of the patient's rash subtype (the lupus-specific ones: the SLEDAI's rash)
    subtypes: Annotated[dict[Literal[RASH_SUBTYPES], Prob], Field(min_length=1)]
    #: the latent skin activity moves with the change of the course's global activity
    #: without the drug (fluctuation, background therapy, steroids) times this ...
    coupling: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0
    #: ... and falls with the drug's effect on the global activity times this (and the
    #: subtype's ``drug_sensitivity``)
    drug_coupling: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    #: the cutaneous model (areas, grades, subtype levels and drug sensitivities); the
    #: loader fills it from the file named by ``skin.model_from`` (configs/skin.yaml)
    model: Skin

    @field_validator("subtypes")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        _sums_to_one(v, "rash subtype")
        return v


class Scenario(Model):
    """One simulated trial design on one population, with the shared model."""

    #: a safe folder name: letters, digits, ``_ . -``, not starting with ``.`` or ``-``
    name: Annotated[str, Field(pattern=SAFE_NAME.pattern)]
    #: free text for the reader; not used by the simulation (nor in the digest)
    description: str = ""
    #: the random seed: replicate r's numbers depend on (seed, r) only (core/rng.py);
    #: ``--seed`` overrides it
    seed: Annotated[int, Field(ge=0)]
    #: the source population that candidates are drawn from
    population: Population
    #: the entry criteria every candidate must pass (and a design's enrichment)
    screening: Screening = Screening()
    #: the trial design: size, arms, visits, endpoint weeks, randomisation, protocol
    design: Design
    #: the natural history of the disease (shared model, configs/model.yaml)
    disease: Disease
    #: background therapy and the physician's actions, in every arm
    standard_of_care: StandardOfCare = StandardOfCare()
    #: belimumab: its pharmacokinetics, effect, onset, waning and modifiers
    drug: Drug
    #: endpoints, tests, subgroups and multiplicity control
    analysis: Analysis = Analysis()
    #: adverse events simulated beside the efficacy course (none by default)
    safety: Safety = Safety()
    #: how many replicates and how they are run (not part of the digest)
    engine: Engine = Engine()
    #: experiments: ``{dotted.path: [v1, v2, ...]}``, a full-factorial grid for ``trialsim sweep``
    sweep: dict[str, Annotated[list[Any], Field(min_length=1), Distinct]] = {}
    #: the reduced model's response rate per arm, for the ``constant_response`` endpoint
    #: (required when ``analysis.endpoints`` lists it)
    constant_response: ConstantResponse | None = None
    #: CLASI in the trial: needed by the CLASI-k endpoints, unused otherwise
    skin: TrialSkin | None = None

    @model_validator(mode="after")
    def _check_skin(self) -> Scenario:
        wanted = [e for e in self.analysis.endpoints if e in CLASI_ENDPOINTS]
        if wanted and self.skin is None:
            raise ValueError(
                f"analysis.endpoints lists {', '.join(wanted)} but the skin block (the CLASI "
                "model of the trial, e.g. skin: {model_from: skin.yaml, subtypes: {acle: 1}}) "
                "is missing"
            )
        return self

    @model_validator(mode="after")
    def _check_constant_response(self) -> Scenario:
        wants = "constant_response" in self.analysis.endpoints
        if wants and self.constant_response is None:
            raise ValueError(
                "analysis.endpoints lists constant_response but the constant_response block "
                "(rates per arm) is missing"
            )
        if self.constant_response is not None:
            arms = set(self.design.arms)
            given = set(self.constant_response.rates)
            if given != arms:
                raise ValueError(
                    f"constant_response.rates must give a rate for each arm ({', '.join(arms)}); "
                    f"got {', '.join(sorted(given)) or 'none'}"
                )
        return self

    @model_validator(mode="after")
    def _check_hypotheses(self) -> Scenario:
        mult = self.analysis.multiplicity
        if mult is None:
            return self
        names = [f"{t}_vs_{r}" for t, r in self.design.comparison_pairs]
        for k, h in enumerate(mult.hypotheses):
            where = f"analysis.multiplicity.hypotheses[{k}] = {h!r}"
            try:
                comparison, endpoint, week = parse_hypothesis(h, self.design.endpoint_weeks[0])
            except ValueError as exc:
                raise ValueError(f"analysis.multiplicity.hypotheses[{k}]: {exc}") from None
            if comparison not in names:
                raise ValueError(f"{where}: comparison {comparison!r} is not analysed; the "
                                 f"comparisons are {', '.join(names)}")
            if endpoint not in self.analysis.endpoints:
                raise ValueError(f"{where}: endpoint {endpoint!r} is not among "
                                 f"analysis.endpoints ({', '.join(self.analysis.endpoints)})")
            if week not in self.design.endpoint_weeks:
                raise ValueError(f"{where}: week {week} is not among design.endpoint_weeks "
                                 f"({', '.join(map(str, self.design.endpoint_weeks))})")
        return self

    @model_validator(mode="after")
    def _check_safety_arms(self) -> Scenario:
        for name, event in self.safety.events.items():
            bad = sorted(set(event.arms) - set(self.design.arms))
            if bad:
                raise ValueError(
                    f"safety.events.{name}.arms: unknown arm(s) {bad}; the design's arms are "
                    f"{', '.join(self.design.arms)}"
                )
        return self

    def digest(self) -> str:
        """SHA-256 of the validated scenario (everything that affects one run's numbers).

        The ``engine`` block (how many replicates and how they are run: recorded separately
        in ``run.json``), the free-text ``description`` and the ``sweep`` block (which
        describes experiments over scenarios, not this scenario) are left out.
        """
        payload = self.model_dump(
            mode="json", exclude={"engine": True, "description": True, "sweep": True}
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- loading


#: mappings that a file replaces whole rather than merging into what it ``extends``: a
#: child that lists its arms gets exactly those arms (a merge would keep the parent's others)
REPLACED_ON_EXTEND = ("design.arms", "constant_response.rates", "sweep")


def _deep_merge(base: dict, over: dict, where: str = "") -> dict:
    """``over`` merged into ``base`` key by key (nested mappings too), except the mappings of
    ``REPLACED_ON_EXTEND``, which ``over`` replaces whole."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        path = f"{where}.{k}" if where else str(k)
        if (isinstance(v, dict) and isinstance(out.get(k), dict)
                and path not in REPLACED_ON_EXTEND):
            out[k] = _deep_merge(out[k], v, path)
        else:
            out[k] = copy.deepcopy(v)
    return out


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (YAML says keys are
    unique; PyYAML would silently keep the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, _ in node.value:
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue  # the base class reports unhashable keys
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found the key {key!r} twice (first on line {first[key]}); "
                        "each key may appear once", key_node.start_mark,
                    )
                first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_document(self, node):
        """Refuse a document that aliases (``*name``) expand beyond :data:`MAX_YAML_NODES`
        (a 'billion laughs' would take forever to validate), before constructing it."""
        sizes: dict[int, int] = {}

        def size(n) -> int:  # nodes after expanding aliases; each distinct node once
            if id(n) not in sizes:
                sizes[id(n)] = 0  # a recursive alias counts as nothing more
                if isinstance(n, yaml.MappingNode):
                    total = 1 + sum(size(k) + size(v) for k, v in n.value)
                elif isinstance(n, yaml.SequenceNode):
                    total = 1 + sum(size(v) for v in n.value)
                else:
                    total = 1
                sizes[id(n)] = total
            return sizes[id(n)]

        if size(node) > MAX_YAML_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"the document expands to {size(node):,} values through its "
                f"aliases (*name); at most {MAX_YAML_NODES:,} are allowed", node.start_mark)
        return super().construct_document(node)


#: most values a YAML document may expand to (counting what aliases repeat)
MAX_YAML_NODES = 1_000_000


def read_yaml_text(text: str) -> Any:
    """Parse YAML text as scenario files are parsed (safe, duplicate keys refused)."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def read_yaml_file(path: Path, what: str = "scenario file") -> Any:
    """A YAML file's content, or a ScenarioError naming the file: missing, unreadable, not
    UTF-8, not valid YAML, or a key given twice (with its line)."""
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise ScenarioError(f"{path}: is {kind}; give the {what} (a YAML file)")
    if not path.is_file():
        raise ScenarioError(f"{what} not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason}); save the "
            f"{what} as UTF-8"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        return read_yaml_text(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None


def _skin_model_from(data: dict, path: Path) -> None:
    """Fill ``skin.model`` from the ``skin`` block of the file ``skin.model_from`` names
    (relative to the file that names it; a ``skin.model`` given beside it overrides parts)."""
    skin = data.get("skin")
    if not isinstance(skin, dict) or "model_from" not in skin:
        return
    source = skin.pop("model_from")
    if not isinstance(source, str) or not source:
        raise ScenarioError(f"{path}: skin.model_from must be a file name, got {source!r}")
    model = _read_yaml(path.parent / source).get("skin")
    if not isinstance(model, dict):
        raise ScenarioError(f"{path}: skin.model_from {source!r} has no skin block")
    given = skin.get("model")
    skin["model"] = _deep_merge(model, given if isinstance(given, dict) else {})


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    path = path.resolve()
    if path in seen:
        raise ScenarioError(f"{path}: 'extends' loop through {' -> '.join(map(str, seen))}")
    data = read_yaml_file(path) or {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    _skin_model_from(data, path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends must be a file name, got {parent!r}")
    return _deep_merge(_read_yaml(path.parent / parent, seen + (path,)), data)


#: mixes whose other shares are rescaled when one share is overridden, so they still sum to 1
MIX_PATHS = ("population.race", "population.region", "population.subtypes", "skin.subtypes")


def _parent_of(data: dict, dotted: str) -> tuple[dict, str]:
    """The mapping that holds ``dotted``'s last key, and that key; nothing unknown is created."""
    keys = dotted.split(".")
    node = data
    for i, k in enumerate(keys[:-1]):
        if not isinstance(node, dict) or k not in node:
            where = ".".join(keys[: i + 1])
            raise ScenarioError(f"--set {dotted}: no field {where!r} in the scenario")
        node = node[k]
    if not isinstance(node, dict):
        raise ScenarioError(f"--set {dotted}: {'.'.join(keys[:-1])!r} is not a mapping")
    return node, keys[-1]


def _is_share(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0.0 <= value <= 1.0)


def mix_shares(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides that set shares of a mix (``population.race.black=0.2``)."""
    return {k: v for k, v in overrides.items()
            if k.rpartition(".")[0] in MIX_PATHS and _is_share(v)}


def with_pinned(overrides: dict[str, Any], pinned: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` plus the ``pinned`` shares (given earlier, e.g. by ``--set``) of each
    mix whose shares ``overrides`` sets, so that :func:`apply_overrides` keeps them as given
    and rescales only the mix's other shares (a sweep of ``population.race.white`` on a
    scenario given ``--set population.race.black=0.2`` keeps black at 0.2)."""
    touched = {k.rpartition(".")[0] for k in mix_shares(overrides)}
    kept = {k: v for k, v in pinned.items()
            if k.rpartition(".")[0] in touched and k not in overrides}
    return {**kept, **overrides}


def apply_overrides(data: dict, overrides: dict[str, Any]) -> None:
    """Set ``data[a][b][c] = value`` for each ``"a.b.c": value``, creating nothing unknown.

    Shares of a mix (``MIX_PATHS``: ``population.race.black=0.25``) are applied together:
    the shares given are kept as given and the mix's other shares are rescaled
    proportionally to fill the rest, so the mix still sums to 1. Shares given that sum to
    more than 1 are refused.
    """
    mixes: dict[str, dict[str, Any]] = {}
    for dotted, value in overrides.items():
        parent, _, key = dotted.rpartition(".")
        if parent in MIX_PATHS and _is_share(value):
            mixes.setdefault(parent, {})[key] = value
            continue
        node, key = _parent_of(data, dotted)
        node[key] = value
    for parent, given in mixes.items():
        node, _ = _parent_of(data, f"{parent}.{next(iter(given))}")
        total = sum(float(v) for v in given.values())
        shown = ", ".join(f"{parent}.{k}={v:g}" for k, v in given.items())
        if total > 1.0 + 1e-9:
            raise ScenarioError(
                f"--set {shown}: these shares sum to {total:.6g}; the shares of one mix "
                "may sum to at most 1 (the others are rescaled to fill the rest)"
            )
        others = {k: v for k, v in node.items() if k not in given}
        rest = sum(float(v) for v in others.values() if _is_share(v))
        if rest > 0:
            for k, v in others.items():
                if _is_share(v):
                    node[k] = float(v) * (1.0 - total) / rest
        elif others and total < 1.0 - 1e-9:
            raise ScenarioError(
                f"--set {shown}: these shares sum to {total:.6g} and the mix's other shares "
                f"({', '.join(others)}) are all 0, so nothing can be rescaled to fill the "
                "rest; give shares that sum to 1"
            )
        node.update(given)


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``PATH=VALUE``; VALUE is read as YAML (numbers, lists, true/false, null)."""
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected PATH=VALUE, e.g. design.sample_size=600")
    path, raw = text.split("=", 1)
    try:
        value = read_yaml_text(raw)
    except yaml.YAMLError as exc:
        if isinstance(exc, yaml.constructor.ConstructorError):  # e.g. a key given twice
            raise ScenarioError(f"--set {text}: {exc}") from None
        value = raw
    return path.strip(), number_or_text(value)


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid scenario ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; unknown keys are not allowed)"
        if err["type"] == "missing":
            lines.append(f"  {loc}: required field is missing")
            continue
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{…}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        lines.append(f"  {loc} = {shown}: {msg}")
    return "\n".join(lines)


def scenario_from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    """Validate a raw mapping; raise ScenarioError with YAML paths on any problem."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, source)) from None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, merge (``extends``), override (dotted paths) and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        YAML scenario file.
    overrides : dict, optional
        ``{"population.race.black": 0.25, ...}`` applied after merging.

    Returns
    -------
    Scenario
    """
    data = _read_yaml(Path(path))
    apply_overrides(data, overrides or {})
    return scenario_from_dict(data, str(path))


def with_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A validated copy of ``scenario`` with dotted-path overrides applied."""
    data = scenario.model_dump(mode="python")
    apply_overrides(data, overrides)
    return scenario_from_dict(data, f"scenario {scenario.name}")
