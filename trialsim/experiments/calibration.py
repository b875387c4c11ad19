"""Calibration of the shared model to published trials by simulated method of moments.

Each free parameter (a named group of scenario paths that share one value) is fitted so that
the simulated arm-level moments of every calibration scenario match the published ones:
response rates per arm and endpoint, and Kaplan–Meier median times to first flare. One large
simulated trial per scenario (``patients_per_arm`` per arm) with a fixed seed gives the
moments: common random numbers make the objective smooth enough for a bounded
Gauss–Newton fit (scipy ``least_squares``) with finite-difference steps well above the
Monte Carlo step size.

Uncertainty: the fitted values' covariance is ``(J' J)^-1`` of the standardized residuals
(each target's sampling SE as published), inflated by ``1 + n_published / n_simulated`` for
simulation noise. It treats the published moments as independent, which they are not quite
(SRI-4 responders are a subset of the SLEDAI-component responders of the same arm; week 52
and week 76 come from the same patients), so the SEs are approximate. The targets that identify a
parameter are those with the largest standardized sensitivities ``|J_ij|``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator
from scipy import optimize, stats

from trialsim.config.scenario import (
    Model,
    Scenario,
    ScenarioError,
    _format_errors,
    load_scenario,
    read_yaml_file,
    with_overrides,
)
from trialsim.run.trial import Plan, run_chunk


class FreeParameter(Model):
    """One fitted value shared by every path listed (tying, e.g., two regions' effects)."""

    paths: list[str]
    bounds: tuple[float, float]
    #: starting value; null = the value the first scenario holds now (the shipped default)
    start: float | None = None
    why: str = ""

    @model_validator(mode="after")
    def _check(self) -> FreeParameter:
        if not self.paths:
            raise ValueError("a free parameter needs at least one path")
        if not self.bounds[0] < self.bounds[1]:
            raise ValueError(f"bounds {self.bounds} must be increasing")
        return self


class Target(Model):
    """A published moment. Rates: ``events`` of ``n``; medians: ``value`` with ``se``."""

    scenario: str
    endpoint: str
    week: int
    arm: str
    events: Annotated[int, Field(ge=0)] | None = None
    n: Annotated[int, Field(ge=1)] | None = None
    value: float | None = None
    se: Annotated[float, Field(gt=0)] | None = None
    source: str = ""

    @model_validator(mode="after")
    def _check(self) -> Target:
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
    def observed(self) -> float:
        return self.events / self.n if self.events is not None else float(self.value)

    @property
    def sampling_se(self) -> float:
        if self.events is not None:
            p = self.observed
            return float(np.sqrt(max(p * (1 - p), 0.25 / self.n) / self.n))
        return float(self.se)

    @property
    def label(self) -> str:
        return f"{self.scenario}:{self.endpoint}:w{self.week}:{self.arm}"


#: most evaluations of the simulated moments in one fit (each simulates every scenario once)
MAX_EVALUATIONS = 100_000


class CalibrationSpec(Model):
    """``configs/calibration.yaml``."""

    scenarios: dict[str, str]  # name -> scenario file, relative to the spec
    seed: Annotated[int, Field(ge=0)] = 20261122
    patients_per_arm: Annotated[int, Field(ge=50, le=100_000)] = 3000
    parameters: Annotated[dict[str, FreeParameter], Field(min_length=1)]
    targets: Annotated[list[Target], Field(min_length=1)]
    #: parameters deliberately not fitted: path -> why (they are not identified by the targets)
    fixed: dict[str, str] = {}
    method: Literal["trf", "dogbox"] = "trf"
    max_evaluations: Annotated[int, Field(ge=1, le=MAX_EVALUATIONS)] = 400
    #: finite-difference step as a share of each parameter's bound width
    step: Annotated[float, Field(gt=0, lt=0.5)] = 0.03

    @model_validator(mode="after")
    def _check(self) -> CalibrationSpec:
        seen: set[str] = set()
        for t in self.targets:
            if t.label in seen:
                raise ValueError(f"target {t.label} is given twice; give each target once")
            seen.add(t.label)
        for t in self.targets:
            if t.scenario not in self.scenarios:
                raise ValueError(
                    f"target {t.label} names scenario {t.scenario!r}; defined: "
                    f"{', '.join(self.scenarios)}"
                )
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
    for t in spec.targets:
        sc = scenarios[t.scenario]
        if t.arm not in sc.design.arms:
            raise ScenarioError(f"{path}: target {t.label}: arm {t.arm!r} not in the scenario")
    return spec, scenarios


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

    def scenario(self, name: str, theta: np.ndarray) -> Scenario:
        sc = self.scenarios[name]
        endpoints = sorted({t.endpoint for t in self.spec.targets if t.scenario == name}
                           - {"time_to_first_flare"}) or ["sri4"]
        weeks = sorted({t.week for t in self.spec.targets
                        if t.scenario == name and t.endpoint != "time_to_first_flare"})
        over = {
            **parameter_overrides(self.spec, theta),
            "design.sample_size": self.spec.patients_per_arm * len(sc.design.arms),
            "analysis.endpoints": endpoints,
            "design.endpoint_weeks": weeks or sc.design.endpoint_weeks,
            "seed": self.spec.seed,
        }
        return with_overrides(sc, over)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        self.evaluations += 1
        out = np.empty(len(self.spec.targets))
        for name in self.scenarios:
            sc = self.scenario(name, theta)
            plan = Plan(sc)
            res = run_chunk(sc, 0, 1)
            for k, t in enumerate(self.spec.targets):
                if t.scenario != name:
                    continue
                a = plan.arms.index(t.arm)
                if t.endpoint == "time_to_first_flare":
                    # a median beyond follow-up is capped, so the objective stays finite
                    cap = 2.0 * 7 * sc.design.duration_weeks
                    out[k] = min(res.flare_median_days[0, a], cap)
                else:
                    out[k] = res.rates[0, plan.targets.index((t.endpoint, t.week)), a]
        return out


@dataclass
class CalibrationResult:
    spec: CalibrationSpec
    theta: np.ndarray
    se: np.ndarray
    start: np.ndarray
    simulated: np.ndarray
    jacobian: np.ndarray  # standardized: d residual / d theta
    cost: float
    evaluations: int
    message: str

    def parameter_table(self) -> pd.DataFrame:
        rows = []
        sens = np.abs(self.jacobian)
        labels = [t.label for t in self.spec.targets]
        for j, (name, p) in enumerate(self.spec.parameters.items()):
            top = np.argsort(-sens[:, j])[:3]
            rows.append({
                "parameter": name,
                "paths": ";".join(p.paths),
                "start": self.start[j],
                "fitted": self.theta[j],
                "se": self.se[j],
                "lower_bound": p.bounds[0],
                "upper_bound": p.bounds[1],
                "identified_by": "; ".join(labels[i] for i in top if sens[i, j] > 0),
                "why": p.why,
            })
        for path, why in self.spec.fixed.items():
            rows.append({"parameter": path, "paths": path, "fitted": np.nan, "se": np.nan,
                         "identified_by": "not identified: fixed", "why": why})
        return pd.DataFrame(rows)

    def fit_table(self) -> pd.DataFrame:
        rows = []
        z = stats.norm.ppf(0.975)
        for t, sim in zip(self.spec.targets, self.simulated, strict=True):
            obs, se = t.observed, t.sampling_se
            if t.events is not None:
                lo, hi = binomial_ci(t.events, t.n)
            else:
                lo, hi = obs - z * se, obs + z * se
            rows.append({
                "scenario": t.scenario, "endpoint": t.endpoint, "week": t.week, "arm": t.arm,
                "published": obs, "ci_low": lo, "ci_high": hi, "simulated": sim,
                "z": (sim - obs) / se, "inside_ci": bool(lo <= sim <= hi), "source": t.source,
            })
        return pd.DataFrame(rows)


def binomial_ci(events: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) binomial confidence interval."""
    a = 1 - level
    lo = stats.beta.ppf(a / 2, events, n - events + 1) if events > 0 else 0.0
    hi = stats.beta.ppf(1 - a / 2, events + 1, n - events) if events < n else 1.0
    return float(lo), float(hi)


def calibrate(spec: CalibrationSpec, scenarios: dict[str, Scenario],
              max_evaluations: int | None = None, log=print) -> CalibrationResult:
    """Fit the free parameters; see the module docstring."""
    sim = MomentSimulator(spec, scenarios)
    obs = np.array([t.observed for t in spec.targets])
    se = np.array([t.sampling_se for t in spec.targets])
    lo = np.array([p.bounds[0] for p in spec.parameters.values()])
    hi = np.array([p.bounds[1] for p in spec.parameters.values()])
    x0 = np.clip(start_values(spec, scenarios), lo, hi)

    def residuals(theta):
        r = (sim(theta) - obs) / se
        if log:
            log(f"  evaluation {sim.evaluations:4d}: cost {0.5 * float(r @ r):10.3f}")
        return r

    width = hi - lo
    fit = optimize.least_squares(
        residuals, x0, bounds=(lo, hi), method=spec.method, x_scale=width,
        diff_step=spec.step * width / np.maximum(np.abs(x0), 1e-3),
        max_nfev=max_evaluations or spec.max_evaluations,
    )
    jac = fit.jac
    n_pub = np.array([t.n or 300 for t in spec.targets], dtype=float)
    inflate = 1.0 + float(np.mean(n_pub)) / spec.patients_per_arm
    try:
        cov = np.linalg.pinv(jac.T @ jac) * inflate
        theta_se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    except np.linalg.LinAlgError:
        theta_se = np.full(x0.size, np.nan)
    return CalibrationResult(
        spec=spec, theta=fit.x, se=theta_se, start=x0, simulated=sim(fit.x), jacobian=jac,
        cost=float(fit.cost), evaluations=sim.evaluations, message=str(fit.message),
    )
