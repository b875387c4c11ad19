"""Calibration of the shared model to published trials by simulated generalized method of
moments (GMM).

The targets are published moments of every calibration scenario: arm response rates,
Kaplan–Meier median times to first flare, and contrasts (each dose's adjusted odds ratio vs
placebo per endpoint and week, flare hazard ratios) on the log scale. One large simulated
trial per scenario (``patients_per_arm`` per arm) with a fixed seed gives the simulated
moments: common random numbers make the objective smooth enough for a bounded Gauss–Newton
fit (scipy ``least_squares``) with finite-difference steps well above the Monte Carlo step.

Weighting: the targets are not independent (a shared placebo arm correlates the two doses'
contrasts; SRI-4 responders are a subset of the SLEDAI-component responders; weeks 52 and 76
are the same patients). Their sampling covariance ``S`` has the published SEs on its diagonal
and the correlations of the same moments across ``covariance_replicates`` simulated trials of
the published designs, shrunk slightly toward the identity (``sampling_covariance``). The
objective is the GMM distance with weight ``S⁻¹`` (the efficient choice), so Hansen's J
tests the model's fit, and the estimate's covariance is ``(G' S⁻¹ G / c + P)⁻¹`` (the
sandwich with efficient weights, plus the priors' precision ``P``: the bounds' weak prior or
a parameter's own informative one), ``G`` the moments' gradient, ``c = 1 + n_published /
n_simulated`` for simulation noise. It is an asymptotic normal approximation: a
likelihood-free alternative (ABC, a bootstrap over the published moments) would avoid it at
the cost of thousands of fits. The gradient also gives every moment's prediction interval for
a new trial of the published design (parameter uncertainty plus trial sampling), and the
dose contrasts (one dose's contrast minus the other's) with theirs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator
from scipy import optimize, stats

from trialsim.analysis import Z_95
from trialsim.analysis.comparisons import RESULT_FIELDS
from trialsim.analysis.endpoints import ENDPOINTS
from trialsim.analysis.subgroups import SUBGROUPS
from trialsim.analysis.survival import LOG_HR
from trialsim.config.scenario import (
    Model,
    Scenario,
    ScenarioError,
    _format_errors,
    load_scenario,
    read_yaml_file,
    with_overrides,
)
from trialsim.config.vocab import SUBGROUP_NAMES
from trialsim.model.protocol import visit_of_week
from trialsim.run.trial import Plan, ReplicatePatients, run_chunk

LOG_OR = RESULT_FIELDS.index("log_or")


class Prior(Model):
    """An informative normal prior on a free parameter's optimizer scale (log where the
    parameter is fitted on a log scale), given by its central 95% interval in natural units
    and where that interval comes from."""

    #: the central 95% interval [low, high] in natural units (inside the bounds)
    interval: tuple[float, float]
    #: where that interval comes from (required; parameters.csv reports it)
    source: Annotated[str, Field(pattern=r"\S")]
    #: the spec's scenarios whose published results the prior restates: a fit holding one
    #: of them out (leave-one-trial-out) uses the bounds' weak prior instead, so that nothing
    #: of the held-out trial enters its prediction
    uses: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> Prior:
        if not self.interval[0] < self.interval[1]:
            raise ValueError(f"interval {list(self.interval)} must be increasing")
        return self


class FreeParameter(Model):
    """One fitted value shared by every path listed (tying, e.g., two regions' effects)."""

    #: dotted scenario paths (e.g. ``standard_of_care.effect``) that the one fitted value sets,
    #: in every scenario of the spec; each a real-valued field
    paths: list[str]
    #: [low, high] in natural units: the fit's box and, without ``prior``, a weak prior
    #: (centred in the range, SD = range / ``prior_sds`` on the optimizer's scale)
    bounds: tuple[float, float]
    #: starting value; null = the value the first scenario holds now (the shipped default)
    start: float | None = None
    #: the optimizer's scale: "log" fits log(value) (a positive value spanning decades, such
    #: as an EC50); its CI is then exp(log value ± z se)
    scale: Literal["linear", "log"] = "linear"
    #: free text: what the parameter does and which targets inform it (parameters.csv)
    why: str = ""
    #: an informative prior in place of the bounds' weak one (``prior_sds``); null = the bounds'
    prior: Prior | None = None

    @model_validator(mode="after")
    def _check(self) -> FreeParameter:
        if not self.paths:
            raise ValueError("a free parameter needs at least one path")
        if not self.bounds[0] < self.bounds[1]:
            raise ValueError(f"bounds {self.bounds} must be increasing")
        if self.scale == "log" and self.bounds[0] <= 0:
            raise ValueError(f"a log-scale parameter needs positive bounds, not {self.bounds}")
        if self.prior is not None and not (
                self.bounds[0] <= self.prior.interval[0] < self.prior.interval[1]
                <= self.bounds[1]):
            raise ValueError(f"prior.interval {list(self.prior.interval)} must lie inside the "
                             f"bounds {list(self.bounds)}")
        return self

    def prior_normal(self, prior_sds: float,
                     hold_out: str | None = None) -> tuple[float, float]:
        """Centre and SD of the parameter's prior on the optimizer's scale: its informative
        prior's (95% interval = centre ± 1.96 SD) unless ``hold_out`` is among the trials
        the prior ``uses``, else the bounds' weak one (centred in the range, SD = range /
        ``prior_sds``; SD inf when ``prior_sds`` is 0: no prior)."""
        log = self.scale == "log"
        prior = self.prior if self.prior and hold_out not in self.prior.uses else None
        lo, hi = (np.log(v) if log else v
                  for v in (prior.interval if prior else self.bounds))
        if prior is not None:
            return float((lo + hi) / 2), float((hi - lo) / (2 * Z_95))
        return float((lo + hi) / 2), float((hi - lo) / prior_sds) if prior_sds else float("inf")


def to_optimizer_scale(values: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """Parameter values on the optimizer's scale: log where ``logs``, else as they are."""
    return np.where(logs, np.log(np.where(logs, values, 1.0)), values)


def from_optimizer_scale(x: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """The inverse of ``to_optimizer_scale``."""
    return np.where(logs, np.exp(np.where(logs, x, 0.0)), x)


def check_hold_out(scenarios, hold_out: str | None) -> None:
    """Refuse a ``--hold-out`` that is not one of the spec's scenarios."""
    if hold_out is not None and hold_out not in scenarios:
        raise ScenarioError(f"--hold-out {hold_out!r} is not a scenario of the spec; its "
                            f"scenarios: {', '.join(scenarios)}")


class Target(Model):
    """A published moment.

    An arm's rate (``arm``; ``events`` of ``n``) or median time to first flare (``arm``;
    ``value`` in days with ``se``), or a contrast (``comparison``, e.g. ``bel1_vs_placebo``)
    on the log scale: the adjusted odds ratio of a response endpoint, or the hazard ratio of
    ``time_to_first_flare``, given as ``ratio`` with its published 95% ``ci``; or the crude
    odds ratio of the published ``counts`` ([[treated events, n], [control events, n]]; SE
    by Woolf's formula), which the simulated arms' rates give exactly.
    ``fit: false`` reports a target beside the fit without fitting it (an arm rate that the
    fitted placebo rate and contrast already imply).

    A rate or crude odds ratio may be that of a ``subgroup`` of the patients
    (``config.vocab.SUBGROUP_NAMES``), and may pool the patients of several trials
    (``pooled_with``: a published pooled analysis, whose events and patients add up across
    the trials, each in proportion to its published size). Such a target is counted patient
    by patient in the same simulated trials as the others, so its sampling covariance with
    them (the subgroup is part of the trial) is estimated, not assumed away.
    """

    #: the spec's scenario whose simulated trial gives the moment (the first of the trials when
    #: ``pooled_with``)
    scenario: str
    #: a response endpoint of the scenario, or ``time_to_first_flare``
    endpoint: str
    #: the response endpoint's week (a visit week); for ``time_to_first_flare`` only a label:
    #: flares are counted over the trial's whole follow-up
    week: int
    #: an arm: the target is its rate (``events`` of ``n``) or median (``value``)
    arm: str | None = None
    #: ``<treated>_vs_<control>``: the target is a contrast (``ratio`` and ``ci``, or
    #: ``counts``)
    comparison: str | None = None
    #: published responders in the arm (with ``n``: a rate, binomial SE)
    events: Annotated[int, Field(ge=0)] | None = None
    #: published patients in the arm
    n: Annotated[int, Field(ge=1)] | None = None
    #: a published value given directly: the median time to first flare in days (or a rate),
    #: with its ``se``
    value: float | None = None
    #: the published SE of ``value``, in its units
    se: Annotated[float, Field(gt=0)] | None = None
    #: the published adjusted odds ratio (response endpoint) or hazard ratio
    #: (``time_to_first_flare``) of the comparison, fitted on the log scale
    ratio: Annotated[float, Field(gt=0)] | None = None
    #: its published 95% CI [low, high]: gives the log-scale SE
    ci: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] | None = None
    #: published [[treated events, n], [control events, n]]: a crude odds ratio, SE by Woolf's
    #: formula
    counts: tuple[tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=2)]],
                  tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=2)]]] | None = None
    #: false: reported beside the fit (fit_table.csv) but not part of the objective
    fit: bool = True
    #: where the published value comes from (fit_table.csv)
    source: str = ""
    #: count the moment among this subgroup's patients only (``config.vocab.SUBGROUP_NAMES``)
    subgroup: str | None = None
    #: other scenarios whose patients the moment pools (a published pooled analysis): each
    #: trial's events and patients in proportion to its size
    pooled_with: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> Target:
        if self.subgroup is not None and self.subgroup not in SUBGROUP_NAMES:
            raise ValueError(f"subgroup {self.subgroup!r} is not one of "
                             f"{', '.join(SUBGROUP_NAMES)}")
        if self.pooled_with and (self.scenario in self.pooled_with
                                 or len(set(self.pooled_with)) < len(self.pooled_with)):
            raise ValueError(f"pooled_with {self.pooled_with} must name other scenarios than "
                             f"{self.scenario!r}, each once")
        if self.by_patient and (self.endpoint == "time_to_first_flare"
                                or (self.comparison is not None and self.counts is None)):
            raise ValueError("a subgroup or pooled target is an arm's rate (events and n) or a "
                             "crude odds ratio (counts) of a response endpoint: counted "
                             "patient by patient, not a median, hazard ratio or adjusted odds "
                             "ratio")
        if (self.arm is None) == (self.comparison is None):
            raise ValueError("a target names an arm (a rate or median) or a comparison "
                             "(a contrast), not both and not neither")
        if self.comparison is not None:
            if self.counts is not None:
                if self.ratio is not None or self.ci is not None:
                    raise ValueError("a contrast target gives counts (a crude odds ratio) or "
                                     "ratio and ci (a published one), not both")
                if self.endpoint == "time_to_first_flare":
                    raise ValueError("counts make a crude odds ratio of a response endpoint, "
                                     "not of time_to_first_flare")
                for events, n in self.counts:
                    if not 0 < events < n:
                        raise ValueError(f"counts: events {events} of n {n}: a crude odds "
                                         "ratio needs 0 < events < n in both arms")
                return self
            if self.ratio is None or self.ci is None:
                raise ValueError("a contrast target needs ratio and ci (its published 95% CI), "
                                 "or counts (a crude odds ratio)")
            if not self.ci[0] < self.ratio < self.ci[1]:
                raise ValueError(f"ratio {self.ratio} must lie inside its ci {list(self.ci)}")
            return self
        if self.events is not None and self.n is not None:
            if self.events > self.n:
                raise ValueError(f"events {self.events} exceed n {self.n}")
        elif self.value is None or self.se is None:
            raise ValueError("a target needs events and n (a rate) or value and se")
        if self.endpoint == "time_to_first_flare" and self.events is not None:
            raise ValueError(
                "a time_to_first_flare target is a median in days: give value and se, not "
                "events and n (which make a proportion)")
        return self

    @property
    def kind(self) -> str:
        """``rate``, ``median`` (days), ``log_or`` (adjusted, as published), ``log_or_crude``
        (from the arms' counts) or ``log_hr``."""
        if self.counts is not None:
            return "log_or_crude"
        if self.comparison is not None:
            return "log_hr" if self.endpoint == "time_to_first_flare" else "log_or"
        return "median" if self.endpoint == "time_to_first_flare" else "rate"

    @property
    def observed(self) -> float:
        """The published moment on the scale it is fitted on (log for a contrast)."""
        if self.counts is not None:
            (e1, n1), (e0, n0) = self.counts
            return float(np.log(e1 / (n1 - e1)) - np.log(e0 / (n0 - e0)))
        if self.comparison is not None:
            return float(np.log(self.ratio))
        return self.events / self.n if self.events is not None else float(self.value)

    @property
    def sampling_se(self) -> float:
        """Its published sampling SE (binomial; given; Woolf's for a crude log odds ratio; or
        from the CI on the log scale)."""
        if self.counts is not None:
            return float(np.sqrt(sum(1 / e + 1 / (n - e) for e, n in self.counts)))
        if self.comparison is not None:
            return float((np.log(self.ci[1]) - np.log(self.ci[0])) / (2 * Z_95))
        if self.events is not None:
            p = self.observed
            return float(np.sqrt(max(p * (1 - p), 0.25 / self.n) / self.n))
        return float(self.se)

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The scenarios whose patients the moment counts (one unless pooled)."""
        return (self.scenario, *self.pooled_with)

    @property
    def where(self) -> str:
        """The scenarios, joined by ``+`` when pooled."""
        return "+".join(self.scenarios)

    @property
    def by_patient(self) -> bool:
        """Counted patient by patient (a subgroup's, or pooled across trials)."""
        return self.subgroup is not None or bool(self.pooled_with)

    @property
    def label(self) -> str:
        crude = ":crude" if self.counts is not None else ""
        sub = f"[{self.subgroup}]" if self.subgroup else ""
        return (f"{self.where}:{self.endpoint}:w{self.week}:{self.arm or self.comparison}"
                f"{crude}{sub}")


#: most evaluations of the simulated moments in one fit (each simulates every scenario once)
MAX_EVALUATIONS = 100_000


class CalibrationSpec(Model):
    """``configs/calibration.yaml``."""

    scenarios: dict[str, str]  # name -> scenario file, relative to the spec
    #: trial k of ``scenarios`` is simulated with seed + k (no random numbers shared between
    #: trials)
    seed: Annotated[int, Field(ge=0)] = 20261122
    #: simulated patients per arm of the one large trial per scenario that gives the simulated
    #: moments
    patients_per_arm: Annotated[int, Field(ge=50, le=100_000)] = 3000
    #: the free parameters: name -> paths, bounds, scale and prior
    parameters: Annotated[dict[str, FreeParameter], Field(min_length=1)]
    #: the published moments fitted (or reported beside the fit)
    targets: Annotated[list[Target], Field(min_length=1)]
    #: parameters deliberately not fitted: path -> why (they are not identified by the targets)
    fixed: dict[str, str] = {}
    #: the bounded least-squares method of scipy ``least_squares``
    method: Literal["trf", "dogbox"] = "trf"
    #: most evaluations of the objective by the optimizer (scipy's ``max_nfev``;
    #: ``--max-evaluations`` overrides it)
    max_evaluations: Annotated[int, Field(ge=1, le=MAX_EVALUATIONS)] = 400
    #: finite-difference step as a share of each parameter's bound width
    step: Annotated[float, Field(gt=0, lt=0.5)] = 0.03
    #: replicate trials of the published designs whose moments give the targets' sampling
    #: correlation (the GMM weighting matrix)
    covariance_replicates: Annotated[int, Field(ge=20, le=20_000)] = 400
    #: shrinkage of that correlation matrix toward the identity (keeps it well conditioned)
    shrinkage: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    #: the bounds as a weak prior in the objective and the covariance: each parameter a
    #: normal centred in its range with SD = range / ``prior_sds`` (optimizer scale); 0 = none.
    #: A parameter's own ``prior`` replaces it.
    prior_sds: Annotated[float, Field(ge=0.0, le=100.0)] = 4.0

    @model_validator(mode="after")
    def _check(self) -> CalibrationSpec:
        if not any(t.fit for t in self.targets):
            raise ValueError("every target has fit: false; at least one must be fitted")
        seen: set[str] = set()
        for t in self.targets:
            if t.label in seen:
                raise ValueError(f"target {t.label} is given twice; give each target once")
            seen.add(t.label)
        for t in self.targets:
            for name in t.scenarios:
                if name not in self.scenarios:
                    raise ValueError(
                        f"target {t.label} names scenario {name!r}; defined: "
                        f"{', '.join(self.scenarios)}"
                    )
        for pname, p in self.parameters.items():
            for name in p.prior.uses if p.prior else []:
                if name not in self.scenarios:
                    raise ValueError(
                        f"parameters.{pname}.prior.uses names scenario {name!r}; defined: "
                        f"{', '.join(self.scenarios)}")
        return self


def load_spec(path: str | Path) -> tuple[CalibrationSpec, dict[str, Scenario]]:
    """Read and validate a calibration spec and its scenarios."""
    path = Path(path)
    raw = read_yaml_file(path, "calibration spec") or {}
    try:
        spec = CalibrationSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, str(path))) from None
    scenarios = {name: load_scenario(path.parent / f) for name, f in spec.scenarios.items()}
    for name, sc in scenarios.items():
        data = sc.model_dump()
        for pname, par in spec.parameters.items():
            for dotted in par.paths:
                node = data
                for key in dotted.split("."):
                    if not isinstance(node, dict) or key not in node:
                        if isinstance(node, dict) and dotted.split(".")[-1] == key:
                            node = 0.0  # a new key of a mapping (e.g. a region effect)
                            break
                        raise ScenarioError(
                            f"{path}: parameters.{pname}.paths: {dotted!r} is not a field of "
                            f"scenario {name}"
                        )
                    node = node[key]
                if not isinstance(node, float):
                    raise ScenarioError(
                        f"{path}: parameters.{pname}.paths: {dotted!r} of scenario {name} is "
                        f"{_kind(node)}, not a real number; only real-valued parameters can "
                        "be fitted"
                    )
                lo, hi = par.bounds
                try:  # the path must be a field the scenario accepts, at a value in bounds
                    with_overrides(sc, {dotted: (lo + hi) / 2})
                except ScenarioError as exc:
                    raise ScenarioError(
                        f"{path}: parameters.{pname}.paths: {dotted!r} cannot be set in "
                        f"scenario {name}:\n{exc}") from None
    for i, t in enumerate(spec.targets):
        for name in t.scenarios:
            _check_target(path, i, t, name, scenarios[name])
    return spec, scenarios


def _check_target(path: Path, i: int, t: Target, name: str, sc: Scenario) -> None:
    """Refuse a target that scenario ``name`` cannot simulate."""
    if t.endpoint != "time_to_first_flare":
        try:  # the scenario's own rules for an endpoint and its week (one home for them)
            with_overrides(sc, {"analysis.endpoints": [t.endpoint],
                                "design.endpoint_weeks": [t.week]})
        except ScenarioError as exc:
            raise ScenarioError(
                f"{path}: targets[{i}] ({t.label}): endpoint {t.endpoint!r} at week "
                f"{t.week} cannot be simulated in scenario {name}:\n{exc}") from None
    if t.arm is not None and t.arm not in sc.design.arms:
        raise ScenarioError(f"{path}: target {t.label}: arm {t.arm!r} not in scenario {name}")
    names = [f"{a}_vs_{c}" for a, c in sc.design.comparison_pairs]
    if t.comparison is not None and t.comparison not in names:
        raise ScenarioError(f"{path}: target {t.label}: comparison {t.comparison!r} not "
                            f"in scenario {name}; its comparisons: {', '.join(names)}")


def _kind(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return f"a whole number ({value})"
    return f"{type(value).__name__} {value!r}"


def _get(data: dict, dotted: str, default: float = 0.0) -> float:
    node = data
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return float(node)


def start_values(spec: CalibrationSpec, scenarios: dict[str, Scenario]) -> np.ndarray:
    first = next(iter(scenarios.values())).model_dump()
    return np.array([
        p.start if p.start is not None else _get(first, p.paths[0])
        for p in spec.parameters.values()
    ])


def parameter_overrides(spec: CalibrationSpec, theta: np.ndarray) -> dict[str, float]:
    return {path: float(v) for p, v in zip(spec.parameters.values(), theta, strict=True)
            for path in p.paths}


@dataclass
class MomentSimulator:
    """Simulated target moments as a function of the free parameters (CRN: fixed seed)."""

    spec: CalibrationSpec
    scenarios: dict[str, Scenario]
    evaluations: int = 0

    def seed(self, name: str) -> int:
        """The seed of scenario ``name``'s simulated trials: the spec's seed plus the
        scenario's position, so that two trials' moments share no random numbers (a shared
        seed would correlate their simulation errors across trials)."""
        return self.spec.seed + list(self.spec.scenarios).index(name)

    def scenario(self, name: str, theta: np.ndarray) -> Scenario:
        sc = self.scenarios[name]
        endpoints = sorted({t.endpoint for t in self.spec.targets if name in t.scenarios}
                           - {"time_to_first_flare"}) or ["sri4"]
        weeks = sorted({t.week for t in self.spec.targets
                        if name in t.scenarios and t.endpoint != "time_to_first_flare"})
        over = {
            **parameter_overrides(self.spec, theta),
            "design.sample_size": self.spec.patients_per_arm * len(sc.design.arms),
            "analysis.endpoints": endpoints,
            "design.endpoint_weeks": weeks or sc.design.endpoint_weeks,
            "seed": self.seed(name),
        }
        return with_overrides(sc, over)

    def __call__(self, theta: np.ndarray, names=None) -> np.ndarray:
        """Every target's moment in one large simulated trial per scenario (only the
        scenarios ``names``, when given: the other targets are nan)."""
        self.evaluations += 1
        out = np.full(len(self.spec.targets), np.nan)
        counts, weight = {}, {}
        for name in self.scenarios if names is None else names:
            sc = self.scenario(name, theta)
            res = run_chunk(sc, 0, 1)
            _fill_moments(self.spec, name, sc, Plan(sc), res, 0, out)
            if self._by_patient(name):
                counts[name] = patient_counts(self.spec, name, sc, ReplicatePatients(sc)(0))
                # a pooled analysis weighs each trial by its published size
                weight[name] = (self.scenarios[name].design.sample_size
                                / sc.design.sample_size)
        _fill_pooled(self.spec, self.scenarios, counts, weight, out)
        return out

    def _by_patient(self, name: str) -> bool:
        return any(t.by_patient and name in t.scenarios for t in self.spec.targets)

    def replicates(self, theta: np.ndarray, replicates: int) -> np.ndarray:
        """The targets' moments in ``replicates`` trials of each scenario's own (published)
        design, shape (replicates, n_targets): their spread is the sampling covariance.
        A pooled target pools replicate ``r`` of each of its trials."""
        out = np.empty((replicates, len(self.spec.targets)))
        counts: list[dict] = [{} for _ in range(replicates)]
        for name in self.scenarios:
            sc = self.scenario(name, theta)
            sc = with_overrides(sc, {"design.sample_size":
                                     self.scenarios[name].design.sample_size})
            res = run_chunk(sc, 0, replicates)
            plan = Plan(sc)
            patients = ReplicatePatients(sc) if self._by_patient(name) else None
            for r in range(replicates):
                _fill_moments(self.spec, name, sc, plan, res, r, out[r])
                if patients is not None:
                    counts[r][name] = patient_counts(self.spec, name, sc, patients(r))
        for r in range(replicates):
            _fill_pooled(self.spec, self.scenarios, counts[r],
                         dict.fromkeys(counts[r], 1.0), out[r])
        return out


def patient_counts(spec: CalibrationSpec, name: str, sc: Scenario, trial) -> dict:
    """Responders and patients per arm (in ``sc.design.arms`` order) of every subgroup or
    pooled target's (endpoint, week, subgroup) in scenario ``name``, counted in ``trial``
    (a ``ReplicatePatients`` replicate of ``sc``)."""
    out = {}
    arms = np.arange(len(sc.design.arms))
    for t in spec.targets:
        key = (t.endpoint, t.week, t.subgroup)
        if not t.by_patient or name not in t.scenarios or key in out:
            continue
        flags = ENDPOINTS[t.endpoint](trial, visit_of_week(t.week,
                                                            sc.design.visit_interval_weeks))
        member = (SUBGROUPS[t.subgroup](trial.cohort) if t.subgroup is not None
                  else np.ones(trial.arm.size, dtype=bool))
        in_arm = (trial.arm[None, :] == arms[:, None]) & member[None, :]
        out[key] = ((in_arm & flags[None, :]).sum(axis=1).astype(float),
                    in_arm.sum(axis=1).astype(float))
    return out


def _fill_pooled(spec, scenarios, counts: dict, weight: dict, out) -> None:
    """Write every subgroup or pooled target's moment from ``counts`` (scenario ->
    ``patient_counts``), each trial's events and patients times ``weight[scenario]``; nan
    when one of its scenarios was not simulated."""
    def rate(t: Target, arm: str) -> float:
        events = n = 0.0
        for s in t.scenarios:
            a = list(scenarios[s].design.arms).index(arm)
            got = counts[s][(t.endpoint, t.week, t.subgroup)]
            events += weight[s] * got[0][a]
            n += weight[s] * got[1][a]
        return events / n if n > 0 else np.nan

    for k, t in enumerate(spec.targets):
        if not t.by_patient or not all(s in counts for s in t.scenarios):
            continue
        if t.arm is not None:
            out[k] = rate(t, t.arm)
        else:
            treated, control = t.comparison.split("_vs_")
            p1, p0 = rate(t, treated), rate(t, control)
            with np.errstate(divide="ignore", invalid="ignore"):  # 0 or 1: not finite, named
                out[k] = np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))


def _fill_moments(spec, name, sc, plan, res, r, out) -> None:
    """Write replicate ``r``'s moment of every target of scenario ``name`` into ``out``."""
    cmp_names = plan.comparisons
    for k, t in enumerate(spec.targets):
        if t.scenario != name or t.by_patient:
            continue
        if t.kind == "median":
            # a median beyond follow-up is capped, so the objective stays finite
            cap = 2.0 * 7 * sc.design.duration_weeks
            v = res.flare_median_days[r, plan.arms.index(t.arm)]
            out[k] = cap if np.isnan(v) else min(v, cap)
        elif t.kind == "log_hr":
            out[k] = res.flare_analysis[r, cmp_names.index(t.comparison), LOG_HR]
        elif t.kind == "log_or":
            out[k] = res.analysis[r, plan.targets.index((t.endpoint, t.week)),
                                  cmp_names.index(t.comparison), LOG_OR]
        elif t.kind == "log_or_crude":
            treated, control = t.comparison.split("_vs_")
            rates = res.rates[r, plan.targets.index((t.endpoint, t.week))]
            p1, p0 = rates[plan.arms.index(treated)], rates[plan.arms.index(control)]
            with np.errstate(divide="ignore", invalid="ignore"):  # 0 or 1: not finite, named
                out[k] = np.log(p1 / (1 - p1)) - np.log(p0 / (1 - p0))
        else:
            out[k] = res.rates[r, plan.targets.index((t.endpoint, t.week)),
                               plan.arms.index(t.arm)]


@dataclass
class CalibrationResult:
    """A fit: the values, their covariance, and everything the tables need."""

    spec: CalibrationSpec
    theta: np.ndarray  # fitted values (natural scale)
    cov: np.ndarray  # covariance of the optimizer's variables (log scale where scale: log)
    start: np.ndarray
    simulated: np.ndarray  # every target's moment at the fit
    gradient: np.ndarray  # d moment / d optimizer variable, (n_targets, n_parameters)
    sampling_cov: np.ndarray  # the published moments' sampling covariance (every target)
    fitted: np.ndarray  # bool per target: part of the objective
    cost: float  # half the GMM distance of the moments at the fit (without the prior's terms)
    evaluations: int
    message: str
    #: each arm's dose (mg/kg) in the scenarios: a dose contrast puts the higher dose first
    doses: dict[str, float] = field(default_factory=dict)

    @property
    def se(self) -> np.ndarray:
        """SE of each fitted value on its natural scale (delta method for log-scale ones)."""
        se_x = np.sqrt(np.maximum(np.diag(self.cov), 0.0))
        logs = np.array([p.scale == "log" for p in self.spec.parameters.values()])
        return np.where(logs, self.theta * se_x, se_x)

    @property
    def jacobian(self) -> np.ndarray:
        """Standardized sensitivities d moment / d variable / sampling SE (fitted targets)."""
        sd = np.sqrt(np.diag(self.sampling_cov))
        return self.gradient[self.fitted] / sd[self.fitted, None]

    def j_test(self) -> tuple[float, int, float]:
        """Hansen's J (the GMM distance), its degrees of freedom and p-value: whether the
        fitted moments are jointly compatible with the model (small p: they are not)."""
        df = int(self.fitted.sum()) - len(self.theta)
        j = 2.0 * self.cost
        return j, df, float(stats.chi2.sf(j, df)) if df > 0 else float("nan")

    def parameter_table(self) -> pd.DataFrame:
        rows = []
        sens = np.abs(self.jacobian)
        labels = [t.label for t, f in zip(self.spec.targets, self.fitted, strict=True) if f]
        se_x = np.sqrt(np.maximum(np.diag(self.cov), 0.0))
        for j, (name, p) in enumerate(self.spec.parameters.items()):
            top = np.argsort(-sens[:, j])[:3]
            if p.scale == "log":
                lo, hi = (float(np.exp(np.log(self.theta[j]) + s * Z_95 * se_x[j]))
                          for s in (-1, 1))
            else:
                lo, hi = self.theta[j] - Z_95 * se_x[j], self.theta[j] + Z_95 * se_x[j]
            rows.append({
                "parameter": name,
                "paths": ";".join(p.paths),
                "scale": p.scale,
                "start": self.start[j],
                "fitted": self.theta[j],
                "se": self.se[j],
                "ci_low": lo,
                "ci_high": hi,
                "lower_bound": p.bounds[0],
                "upper_bound": p.bounds[1],
                "at_bound": bool(np.isclose(self.theta[j], p.bounds, rtol=1e-3).any()),
                # an informative prior's 95% interval (empty: the bounds' weak prior)
                "prior_low": p.prior.interval[0] if p.prior else np.nan,
                "prior_high": p.prior.interval[1] if p.prior else np.nan,
                "prior_source": p.prior.source if p.prior else "",
                "identified_by": "; ".join(labels[i] for i in top if sens[i, j] > 0),
                "why": p.why,
            })
        for path, why in self.spec.fixed.items():
            rows.append({"parameter": path, "paths": path, "fitted": np.nan, "se": np.nan,
                         "identified_by": "not identified: fixed", "why": why})
        return pd.DataFrame(rows)

    def prediction_se(self, weights: np.ndarray) -> tuple[float, float]:
        """SEs of a linear combination of the moments: from the parameters' uncertainty,
        and of a new trial's sampling (the published designs)."""
        g = weights @ self.gradient
        return (float(np.sqrt(max(g @ self.cov @ g, 0.0))),
                float(np.sqrt(max(weights @ self.sampling_cov @ weights, 0.0))))

    def fit_table(self) -> pd.DataFrame:
        """Every target: published value and 95% CI, simulated value, its standardized
        residual, and a 95% prediction interval for a new trial of the published design
        (parameter uncertainty and trial sampling). Contrasts are shown as ratios."""
        rows = []
        for k, (t, sim) in enumerate(zip(self.spec.targets, self.simulated, strict=True)):
            obs, se = t.observed, t.sampling_se
            if t.events is not None:
                lo, hi = binomial_ci(t.events, t.n)
            elif t.counts is not None:
                lo, hi = float(np.exp(obs - Z_95 * se)), float(np.exp(obs + Z_95 * se))
            elif t.comparison is not None:
                lo, hi = t.ci
            else:
                lo, hi = obs - Z_95 * se, obs + Z_95 * se
            e = np.zeros(len(self.spec.targets))
            e[k] = 1.0
            se_par, se_trial = self.prediction_se(e)
            half = Z_95 * float(np.hypot(se_par, se_trial))
            ratio = t.comparison is not None
            show = np.exp if ratio else (lambda x: x)
            value = float(show(sim))
            rows.append({
                "scenario": t.where, "endpoint": t.endpoint, "week": t.week,
                "arm": t.arm or "", "comparison": t.comparison or "",
                "subgroup": t.subgroup or "", "kind": t.kind,
                "fitted": bool(self.fitted[k]), "published": float(show(obs)),
                "ci_low": lo, "ci_high": hi,
                "simulated": value, "z": (sim - obs) / se,
                "inside_ci": bool(lo <= value <= hi),
                "parameter_se": se_par, "prediction_low": float(show(sim - half)),
                "prediction_high": float(show(sim + half)),
                "inside_prediction": bool(sim - half <= obs <= sim + half),
                "source": t.source,
            })
        return pd.DataFrame(rows)

    def dose_contrasts(self) -> pd.DataFrame:
        """The higher vs the lower dose (log OR or log HR of one dose's contrast minus the
        other's against the same control), published and simulated, with the prediction
        interval of a new trial: the dose response a designer asks about."""
        rows = []
        targets = self.spec.targets
        index = {(t.where, t.endpoint, t.week, t.kind, t.subgroup or "", t.comparison): k
                 for k, t in enumerate(targets) if t.comparison is not None}
        seen = set()
        for (scen, endpoint, week, kind, sub, cmp), k in index.items():
            for (s2, e2, w2, kind2, sub2, cmp2), k2 in index.items():
                if (s2, e2, w2, kind2, sub2) != (scen, endpoint, week, kind, sub) or cmp2 == cmp:
                    continue
                (arm, control), (arm2, control2) = cmp.split("_vs_"), cmp2.split("_vs_")
                if control != control2 or (k2, k) in seen:
                    continue
                if self.doses.get(arm, 0.0) > self.doses.get(arm2, 0.0):
                    continue  # the pair comes again the other way round: higher dose first
                seen.add((k, k2))
                w = np.zeros(len(targets))
                w[k2], w[k] = 1.0, -1.0
                se_par, se_trial = self.prediction_se(w)
                sim = float(w @ self.simulated)
                obs = float(targets[k2].observed - targets[k].observed)
                half = Z_95 * float(np.hypot(se_par, se_trial))
                rows.append({
                    "scenario": scen, "endpoint": endpoint, "week": week, "kind": kind,
                    "subgroup": sub,
                    "contrast": f"{arm2}_vs_{arm}",
                    "published_ratio": float(np.exp(obs)),
                    "published_ci_low": float(np.exp(obs - Z_95 * se_trial)),
                    "published_ci_high": float(np.exp(obs + Z_95 * se_trial)),
                    "simulated_ratio": float(np.exp(sim)),
                    "parameter_ci_low": float(np.exp(sim - Z_95 * se_par)),
                    "parameter_ci_high": float(np.exp(sim + Z_95 * se_par)),
                    "prediction_low": float(np.exp(sim - half)),
                    "prediction_high": float(np.exp(sim + half)),
                })
        return pd.DataFrame(rows)


def binomial_ci(events: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) binomial confidence interval."""
    a = 1 - level
    lo = stats.beta.ppf(a / 2, events, n - events + 1) if events > 0 else 0.0
    hi = stats.beta.ppf(1 - a / 2, events + 1, n - events) if events < n else 1.0
    return float(lo), float(hi)


def sampling_covariance(spec: CalibrationSpec, replicate_moments: np.ndarray) -> np.ndarray:
    """The published moments' sampling covariance: their published SEs on the diagonal, the
    correlations of the simulated replicate trials (a shared control arm, nested endpoints,
    weeks 52 and 76 of the same patients), shrunk toward the identity by ``spec.shrinkage``.
    """
    se = np.array([t.sampling_se for t in spec.targets])
    ok = np.all(np.isfinite(replicate_moments), axis=1)
    x = replicate_moments[ok]
    sd = x.std(axis=0)
    corr = np.eye(len(se))
    live = sd > 0
    if ok.sum() >= 3 and live.sum() > 1:
        corr[np.ix_(live, live)] = np.corrcoef(x[:, live], rowvar=False)
    corr = (1.0 - spec.shrinkage) * corr + spec.shrinkage * np.eye(len(se))
    return corr * np.outer(se, se)


def calibrate(spec: CalibrationSpec, scenarios: dict[str, Scenario],
              max_evaluations: int | None = None, log=print,
              hold_out: str | None = None) -> CalibrationResult:
    """Fit the free parameters by simulated generalized method of moments.

    The objective is the GMM distance ``(m(θ) - m̂)' S⁻¹ (m(θ) - m̂)`` over the fitted targets,
    ``S`` their sampling covariance (``sampling_covariance``, estimated once at the start
    values): a bounded Gauss–Newton fit of the whitened residuals ``L⁻¹ (m(θ) - m̂)``,
    ``S = L L'``. With that (optimal) weighting the sandwich covariance of the estimate
    reduces to ``(G' S⁻¹ G)⁻¹``, ``G = dm/dθ``; it is inflated by ``1 + n_published /
    n_simulated`` for the simulated moments' own noise. The bounds enter the objective and
    that covariance as a weak prior (each parameter normal, centred in its range, SD = range /
    ``prior_sds`` on the optimizer's scale: pseudo-residuals beside the whitened moments), so
    that a direction the targets do not inform is held by its range, and carries its
    uncertainty, instead of staying wherever the optimizer started; a parameter's own
    informative ``prior`` replaces its bounds' (``FreeParameter.prior_normal``). The
    covariance is ``(G' S⁻¹ G / inflation + P)⁻¹``, ``P`` the priors' precision: the
    simulation noise inflates the moments' information, not the prior's.

    ``hold_out`` names a scenario whose targets are not fitted but predicted, each with its
    prediction interval (leave-one-trial-out cross-validation). A held-out fit starts from
    the centre of every parameter's range, not from the shipped values (which were fitted to
    the held-out trial too), and drops every informative prior that ``uses`` the held-out
    trial (for the bounds' weak one): its prediction owes nothing to the trial it predicts.
    """
    check_hold_out(scenarios, hold_out)
    sim = MomentSimulator(spec, scenarios)
    params = list(spec.parameters.values())
    logs = np.array([p.scale == "log" for p in params])
    lo_nat = np.array([p.bounds[0] for p in params])
    hi_nat = np.array([p.bounds[1] for p in params])

    def to_x(theta):
        return to_optimizer_scale(theta, logs)

    def to_theta(x):
        return from_optimizer_scale(x, logs)

    lo, hi = to_x(lo_nat), to_x(hi_nat)
    centre, width = (lo + hi) / 2.0, hi - lo
    # the prior of each parameter: its informative one, else the bounds' weak one
    prior_centre, prior_sd = (np.array(v) for v in
                              zip(*(p.prior_normal(spec.prior_sds, hold_out) for p in params),
                                  strict=True))
    any_prior = bool(np.isfinite(prior_sd).any())
    if hold_out is None:
        start = np.clip(start_values(spec, scenarios), lo_nat, hi_nat)
    else:
        start = to_theta(centre)
    x0 = to_x(start)
    fitted = np.array([t.fit and hold_out not in t.scenarios for t in spec.targets])
    if not fitted.any():
        raise ScenarioError(f"holding out {hold_out!r} leaves no target to fit")
    fitting = sorted({s for t, f in zip(spec.targets, fitted, strict=True) if f
                      for s in t.scenarios})
    if int(fitted.sum()) < len(params):
        held = f" without {hold_out}" if hold_out else ""
        print(f"trialsim: warning: {int(fitted.sum())} fitted targets{held} for "
              f"{len(params)} parameters: the fit is not identified (fewer moments than "
              "parameters; only the priors bound the covariance)", file=sys.stderr)
    obs = np.array([t.observed for t in spec.targets])
    if log:
        log(f"  sampling covariance from {spec.covariance_replicates} trials per scenario")
    cov_all = sampling_covariance(spec, sim.replicates(start, spec.covariance_replicates))
    chol = np.linalg.cholesky(cov_all[np.ix_(fitted, fitted)])

    def residuals(x):
        m = sim(to_theta(x), fitting)
        bad = [t.label for t, v, f in zip(spec.targets, m, fitted, strict=True)
               if f and not np.isfinite(v)]
        if bad:
            raise ScenarioError(
                f"the simulated moment of target(s) {', '.join(bad)} is not finite at "
                f"{dict(zip(spec.parameters, np.round(to_theta(x), 4).tolist(), strict=True))}"
                " (a rate of 0 or 1, an odds or hazard ratio that cannot be estimated): raise "
                "patients_per_arm or choose another endpoint or week")
        r = np.linalg.solve(chol, (m - obs)[fitted])
        if log:
            log(f"  evaluation {sim.evaluations:4d}: GMM distance {float(r @ r):10.3f}")
        return np.concatenate([r, prior_residuals(x)])

    def prior_residuals(x):
        if not any_prior:
            return np.zeros(0)
        return (x - prior_centre) / prior_sd  # 0 where a parameter has no prior (SD inf)

    fit = optimize.least_squares(
        residuals, x0, bounds=(lo, hi), method=spec.method, x_scale=width,
        diff_step=spec.step * width / np.maximum(np.abs(x0), 1e-3),
        max_nfev=max_evaluations or spec.max_evaluations,
    )
    theta = to_theta(fit.x)
    simulated = sim(theta)
    # d moment / d x for every target (fitted or not): a central difference at the fit
    step = spec.step * width
    gradient = np.empty((len(spec.targets), len(theta)))
    for j in range(len(theta)):
        up, down = fit.x.copy(), fit.x.copy()
        up[j] = min(fit.x[j] + step[j], hi[j])
        down[j] = max(fit.x[j] - step[j], lo[j])
        gradient[:, j] = (sim(to_theta(up)) - sim(to_theta(down))) / (up[j] - down[j])
    n_pub = np.array([t.n or 300 for t in spec.targets], dtype=float)
    inflate = 1.0 + float(np.mean(n_pub)) / spec.patients_per_arm
    whitened = np.linalg.solve(chol, gradient[fitted])
    # the priors (as in the objective): a parameter the fitted targets do not inform (the
    # waning after week 52 when only BLISS-52 is fitted) keeps its prior's uncertainty
    # instead of none; the simulated moments' noise inflates their variance, not the prior's
    prior_precision = np.diag(1.0 / prior_sd**2)
    cov = np.linalg.inv(whitened.T @ whitened / inflate + prior_precision)
    data = np.linalg.solve(chol, (simulated - obs)[fitted])
    return CalibrationResult(
        spec=spec, theta=theta, cov=cov, start=start, simulated=simulated, gradient=gradient,
        sampling_cov=cov_all, fitted=fitted, cost=0.5 * float(data @ data),
        evaluations=sim.evaluations, message=str(fit.message),
        doses={a: arm.dose_mg_kg for sc in scenarios.values()
               for a, arm in sc.design.arms.items()},
    )
