"""trialsim: Monte Carlo simulation of BLISS-like randomised trials in SLE.

The package is laid out along the data flow, each layer importing only the ones before it
(tests/unit/test_layering.py): ``core`` (jit policy, random numbers, file writes) and
``errors`` → ``config`` (vocabulary, schema) → ``model`` (instruments, protocol, population,
randomization, course) → ``analysis`` (endpoints, baseline, logistic, survival) → ``run``
(the compiled trial, backends, checkpoints) → ``summarize`` → ``report`` → ``experiments`` →
``cli``.
"""

import importlib

__version__ = "0.1.0"

from trialsim.config.scenario import (  # noqa: E402
    Scenario,
    ScenarioError,
    load_scenario,
    with_overrides,
)

#: public functions imported on first use, so that importing the package compiles nothing
_LAZY = {
    "simulate": "trialsim.run.simulate",
    "run_scenario": "trialsim.experiments.pipeline",
    "power_curve": "trialsim.experiments.power",
    "sweep": "trialsim.experiments.power",
    "sample_size": "trialsim.experiments.power",
}

__all__ = ["Scenario", "ScenarioError", "load_scenario", "with_overrides", "__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trialsim' has no attribute {name!r}")
