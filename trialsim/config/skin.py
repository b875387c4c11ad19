"""Skin scenario schema: the CLASI model, observational cohorts and skin trials (issue 11).

A skin scenario (``design.type: cohort`` or ``rct``) simulates the cutaneous disease of SLE
patients with active skin lupus, scored by CLASI (``model/clasi.py``), on belimumab or
placebo (``model/skin.py``). It shares the drug's pharmacokinetics and concentration-effect
curve with the SLE trials: ``drug_from`` names the model file whose ``drug`` block it uses
(``configs/model.yaml``; a ``drug:`` block in the skin scenario overrides parts of it), so
the regimen of an arm (IV or SC, dose, schedule) reaches the skin through the same
effect-site concentration as the SLEDAI.

Files are read like SLE scenarios (``extends``, ``--set`` overrides, errors naming the YAML
path, the value and what is allowed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from trialsim.config.scenario import (
    SAFE_NAME,
    Arm,
    Distinct,
    Drug,
    Engine,
    Model,
    PositiveMeanSD,
    Prob,
    Skin,
    _deep_merge,
    _format_errors,
    _increasing,
    _read_yaml,
    _sums_to_one,
    apply_overrides,
)
from trialsim.config.vocab import SKIN_DESIGNS, SKIN_SUBTYPES
from trialsim.errors import ScenarioError

#: weeks per month of the assessment schedules (52 weeks a year)
WEEKS_PER_MONTH = 52.0 / 12.0
Week = Annotated[int, Field(ge=0, le=520)]
Months = Annotated[float, Field(ge=0.0, le=120.0)]


def _baseline_first(v: list, unit: str) -> list:
    """An assessment schedule: starts at 0 (the baseline) and increases."""
    if v[0] != 0:
        raise ValueError(f"the first assessment is the baseline, {unit} 0; got {v[0]!r}")
    return _increasing(v)


class SkinPopulation(Model):
    """Who has active skin lupus in the source population."""

    #: shares of the cutaneous subtypes (the patient's predominant lesion type)
    subtypes: Annotated[dict[Literal[SKIN_SUBTYPES], Prob], Field(min_length=1)]
    #: body weight, log-normal with this mean and SD (for doses and the PK)
    weight_kg: PositiveMeanSD

    @field_validator("subtypes")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        _sums_to_one(v, "subtype")
        return v


class FollowUp(Model):
    """Each patient's administrative follow-up (months on record), uniform on [min, max]:
    a retrospective cohort's patients started treatment at different dates."""

    #: shortest follow-up on record, from the start of treatment
    min_months: Months = 6.0
    #: longest follow-up on record
    max_months: Months = 60.0

    @model_validator(mode="after")
    def _order(self) -> FollowUp:
        if self.max_months < self.min_months:
            raise ValueError(f"max_months ({self.max_months}) is below min_months "
                             f"({self.min_months})")
        return self


class CohortDesign(Model):
    """A single-arm, open-label cohort on drug (seed 004)."""

    #: ``cohort``: a single-arm, open-label cohort on drug
    type: Literal["cohort"]
    #: patients enrolled: eligible candidates on record at least ``min_months_on_drug``, in
    #: screening order
    sample_size: Annotated[int, Field(ge=2, le=100_000)]
    #: entry: baseline CLASI-A at least this
    min_clasi: Annotated[int, Field(ge=0, le=70)] = 2
    #: the regimen (dose, route, schedule), as an SLE trial's arm
    arm: Arm
    #: assessments, months from the start of treatment; the first is 0 (baseline)
    assessment_months: Annotated[list[Months], Field(min_length=2, max_length=60), Distinct]
    #: entry: on drug at least this long (a retrospective cohort's selection)
    min_months_on_drug: Months = 0.0
    #: each patient's follow-up on record, uniform between two bounds
    follow_up: FollowUp = FollowUp()
    #: probability of stopping therapy for any reason within a year (a constant weekly hazard);
    #: a patient is not assessed after stopping
    stop_per_year: Prob = 0.0
    #: probability of loss to follow-up within a year (a constant weekly hazard)
    lost_per_year: Prob = 0.0
    #: response-dependent attrition: at each assessment from ``stop_from_month`` on, a
    #: patient who is not a CLASI-20 responder stops therapy with this probability
    nonresponder_stop_prob: Prob = 0.0
    #: months from the start of treatment of the first assessment at which
    #: ``nonresponder_stop_prob`` applies
    stop_from_month: Months = 3.0
    #: probability that a scheduled dose is not given (each independently; model/pk.py)
    missed_dose_prob: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0

    @field_validator("assessment_months")
    @classmethod
    def _schedule(cls, v: list[float]) -> list[float]:
        return _baseline_first(v, "month")

    @field_validator("arm")
    @classmethod
    def _on_drug(cls, v: Arm) -> Arm:
        if not v.on_drug:
            raise ValueError("a cohort on drug needs a dose above 0")
        return v

    @property
    def duration_weeks(self) -> int:
        return max(1, round(self.assessment_months[-1] * WEEKS_PER_MONTH))

    @property
    def assessment_weeks(self) -> list[int]:
        return [round(m * WEEKS_PER_MONTH) for m in self.assessment_months]


class TrialDesign(Model):
    """A randomised, placebo-controlled skin trial."""

    #: ``rct``: a randomised, placebo-controlled trial
    type: Literal["rct"]
    #: patients randomised: the first eligible candidates
    sample_size: Annotated[int, Field(ge=4, le=100_000)]
    #: entry: baseline CLASI-A at least this
    min_clasi: Annotated[int, Field(ge=0, le=70)] = 10
    #: the arms: name -> regimen and allocation, as an SLE trial's (at least two)
    arms: Annotated[dict[str, Arm], Field(min_length=2)]
    #: the control arm (placebo, dose 0): every other arm is compared with it
    control: str = "placebo"
    #: assessments, weeks from randomisation; the first is 0 (baseline)
    assessment_weeks: Annotated[list[Week], Field(min_length=2, max_length=60), Distinct]
    #: the primary endpoint's week: CLASI-``primary_response`` at ``primary_week`` (an
    #: assessment week)
    primary_week: Week = 24
    #: the primary endpoint's k: CLASI-k, a fall of at least k percent from baseline CLASI-A
    primary_response: Annotated[int, Field(ge=1, le=100)] = 50
    #: randomisation stratified by subtype (permuted blocks), and the analysis adjusted for it
    stratify_by_subtype: bool = True
    #: permuted blocks hold this many multiples of the sum of allocation weights
    block_multiplier: Annotated[int, Field(ge=1, le=10)] = 2
    #: probability of dropping out within a year (a constant weekly hazard); a dropout at or
    #: before ``primary_week`` is a non-responder
    dropout_per_year: Prob = 0.1
    #: topical therapy: kept stable (no change after entry) or allowed to change (its effect,
    #: ``skin.topical``, on every arm)
    topicals: Literal["stable", "allowed"] = "stable"
    #: probability that a scheduled dose is not given (each independently; model/pk.py)
    missed_dose_prob: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0

    @field_validator("assessment_weeks")
    @classmethod
    def _schedule(cls, v: list[int]) -> list[int]:
        return _baseline_first(v, "week")

    @model_validator(mode="after")
    def _consistent(self) -> TrialDesign:
        if self.control not in self.arms:
            raise ValueError(f"control {self.control!r} is not an arm; arms: "
                             f"{', '.join(self.arms)}")
        if self.arms[self.control].on_drug:
            raise ValueError(f"control arm {self.control!r} must be placebo (dose 0)")
        if self.primary_week not in self.assessment_weeks:
            raise ValueError(f"primary_week {self.primary_week} is not an assessment week "
                             f"({self.assessment_weeks})")
        for name in self.arms:
            if not SAFE_NAME.match(name):
                raise ValueError(f"arm name {name!r}: letters, digits, _ . - only")
        return self

    @property
    def duration_weeks(self) -> int:
        return max(1, self.assessment_weeks[-1])


class SkinAnalysis(Model):
    """What a skin study reports."""

    #: CLASI-k responses reported (k percent fall from baseline)
    response_thresholds: Annotated[list[Annotated[int, Field(ge=1, le=100)]],
                                   Field(min_length=1, max_length=10), Distinct] = [20, 50, 100]
    #: the CLASI-k whose time to a first response is estimated (Kaplan-Meier median, months)
    time_to_response: Annotated[int, Field(ge=1, le=100)] = 50
    #: a response is defined for patients with baseline CLASI-A at least this (default: the
    #: design's entry threshold)
    min_baseline: Annotated[float, Field(ge=0.0, le=70.0)] | None = None
    #: two-sided level of tests; confidence level of intervals is 1 - alpha
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    #: a cohort's published results to set beside the simulated studies
    #: (``seed_comparison.csv``): ``seed_004`` (Schellin et al. 2026), or none
    compare_with: Literal["seed_004"] | None = None


class SkinScenario(Model):
    """A skin scenario: the CLASI model, a population with skin lupus, and a study design."""

    #: a safe folder name: letters, digits, ``_ . -``, not starting with ``.`` or ``-``
    name: Annotated[str, Field(pattern=SAFE_NAME.pattern)]
    #: free text for the reader; not used by the simulation
    description: str = ""
    #: the random seed: replicate r's numbers depend on (seed, r) only
    seed: Annotated[int, Field(ge=0)]
    #: the model file whose ``drug`` block (PK, EC50) this scenario shares (``drug_from``,
    #: relative to the scenario file); filled into ``drug`` by the loader
    drug: Drug
    #: the cutaneous model (configs/skin.yaml)
    skin: Skin
    #: who has active skin lupus: subtype shares and body weight
    population: SkinPopulation
    #: a cohort (``type: cohort``) or a randomised trial (``type: rct``)
    design: Annotated[CohortDesign | TrialDesign, Field(discriminator="type")]
    #: what the study reports
    analysis: SkinAnalysis = SkinAnalysis()
    #: how many replicates (simulated studies) and how they are run
    engine: Engine = Engine(replicates=1000)

    @model_validator(mode="after")
    def _response_thresholds(self) -> SkinScenario:
        des = self.design
        if isinstance(des, TrialDesign):
            if des.primary_response not in self.analysis.response_thresholds:
                self.analysis.response_thresholds = sorted(
                    [*self.analysis.response_thresholds, des.primary_response])
        return self

    @property
    def min_baseline(self) -> float:
        a = self.analysis.min_baseline
        return float(self.design.min_clasi if a is None else a)


def is_skin_file(path: str | Path) -> bool:
    """Whether a scenario file (after ``extends``) is a skin scenario (``design.type``)."""
    try:
        data = _read_yaml(Path(path))
    except ScenarioError:
        return False
    design = data.get("design")
    return isinstance(design, dict) and design.get("type") in SKIN_DESIGNS


def skin_from_dict(data: dict, source: str) -> SkinScenario:
    """Validate a merged mapping; ScenarioError naming YAML paths on any problem."""
    try:
        return SkinScenario.model_validate(data)
    except ValidationError as exc:
        text = _format_errors(exc, source)
        # pydantic names the branch of the design union in the path: the YAML has none
        for kind in SKIN_DESIGNS:
            text = text.replace(f"design.{kind}.", "design.").replace(f"design.{kind} ",
                                                                      "design ")
        raise ScenarioError(text) from None


def load_skin_scenario(path: str | Path, overrides: dict[str, Any] | None = None
                       ) -> SkinScenario:
    """Read a skin scenario: ``extends``, the ``drug`` block of ``drug_from``, ``--set``
    overrides, validation."""
    path = Path(path)
    data = _read_yaml(path)
    drug_from = data.pop("drug_from", "model.yaml")
    if not isinstance(drug_from, str) or not drug_from:
        raise ScenarioError(f"{path}: drug_from must be a file name, got {drug_from!r}")
    model = _read_yaml(path.parent / drug_from)
    if not isinstance(model.get("drug"), dict):
        raise ScenarioError(f"{path}: drug_from {drug_from!r} has no drug block")
    data["drug"] = _deep_merge(model["drug"], data.get("drug") or {})
    apply_overrides(data, overrides or {})
    return skin_from_dict(data, str(path))
