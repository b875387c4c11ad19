"""What the qualification reads from the installed package, never from a source tree.

``golden.json`` (stored reference values: the datasets, the statsmodels and lifelines fits of
them, the published BLISS rates; written by ``scripts/make_qualify_golden.py``) and the
shipped scenario files under ``configs/`` (the BLISS presets and the files they extend), all
package data, found through :mod:`importlib.resources` wherever the package is installed.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from trialsim.config.scenario import Scenario, load_scenario

PACKAGE = "trialsim.qualify"
GOLDEN_FILE = "golden.json"

#: the scenario files the qualification runs (each ``extends: model.yaml``, whose skin
#: model is ``skin.yaml``)
SCENARIOS = ("bliss52", "bliss76")


def golden_bytes() -> bytes:
    """The stored reference file, as installed."""
    return (resources.files(PACKAGE) / GOLDEN_FILE).read_bytes()


def load() -> dict[str, Any]:
    """The stored reference values (``golden.json``).

    The checks call this each time they run (it is small), so a test can replace it with
    ``monkeypatch.setattr(golden, "load", ...)``.
    """
    return json.loads(golden_bytes())


def describe() -> dict[str, Any]:
    """What the report says of the reference file: its SHA-256, the date it was made and the
    oracles' versions (or the error that kept it from being read)."""
    try:
        data = golden_bytes()
        content = json.loads(data)
        return {"file": GOLDEN_FILE, "sha256": hashlib.sha256(data).hexdigest(),
                "generated": content.get("generated"), "oracles": content.get("oracles", {}),
                "error": None}
    except Exception as exc:  # noqa: BLE001 (reported; the checks then fail on their own)
        return {"file": GOLDEN_FILE, "sha256": None, "generated": None, "oracles": {},
                "error": f"{type(exc).__name__}: {exc}"}


def scenario(name: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """A shipped scenario (``bliss52``, ``bliss76``) with dotted-path ``overrides``.

    The files are read where the package is installed; from an installation that is not a
    folder (a zip) they are copied into a temporary folder first, together, since
    ``extends`` and ``model_from`` name the files beside them.
    """
    if name not in SCENARIOS:
        raise ValueError(f"no shipped qualification scenario {name!r}; one of {SCENARIOS}")
    folder = resources.files(PACKAGE) / "configs"
    if isinstance(folder, Path):
        return load_scenario(folder / f"{name}.yaml", overrides)
    with tempfile.TemporaryDirectory(prefix="trialsim-qualify-") as tmp:
        for entry in folder.iterdir():
            if entry.name.endswith(".yaml"):
                (Path(tmp) / entry.name).write_bytes(entry.read_bytes())
        return load_scenario(Path(tmp) / f"{name}.yaml", overrides)
