"""trialsim: Monte Carlo simulation of BLISS-like randomised trials in SLE."""

__version__ = "0.1.0"

from .scenario import Scenario, ScenarioError, load_scenario, with_overrides  # noqa: E402

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "with_overrides",
    "__version__",
    "simulate",
    "run_scenario",
]


def __getattr__(name):  # lazy: importing the package does not compile kernels
    if name == "simulate":
        from .engine import simulate

        return simulate
    if name == "run_scenario":
        from .pipeline import run_scenario

        return run_scenario
    raise AttributeError(name)
