"""trialsim: Monte Carlo simulation of BLISS-like randomised trials in SLE."""

import importlib

__version__ = "0.1.0"

from .scenario import Scenario, ScenarioError, load_scenario, with_overrides  # noqa: E402

#: public functions imported on first use, so that importing the package compiles nothing
_LAZY = {
    "simulate": "simulation",
    "run_scenario": "pipeline",
    "power_curve": "experiments",
    "sweep": "experiments",
    "sample_size": "experiments",
}

__all__ = ["Scenario", "ScenarioError", "load_scenario", "with_overrides", "__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'trialsim' has no attribute {name!r}")
