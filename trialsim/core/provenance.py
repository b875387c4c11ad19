"""What a results file records of the machine and the software that made it."""

from __future__ import annotations

import os
import platform
from importlib import metadata

#: the packages whose versions decide trialsim's numbers (and its outputs' formats)
PACKAGES = ("trialsim", "numpy", "scipy", "numba", "llvmlite", "pandas", "pyarrow",
            "matplotlib", "pydantic", "pyyaml", "joblib", "jinja2")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed version of each package (``"not installed"`` for a missing one)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict:
    """The platform a run ran on: operating system, processor, CPU count, Python."""
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }
