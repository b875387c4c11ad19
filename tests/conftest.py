"""Shared fixtures: the shipped scenarios and a tiny fast variant of bliss76."""

from __future__ import annotations

from pathlib import Path

import pytest

from trialsim.config.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

TINY = {
    "design.sample_size": 90,
    "design.duration_weeks": 24,
    "design.endpoint_weeks": [12, 24],
    "engine.replicates": 6,
    "engine.chunk_size": 4,
    "engine.n_jobs": 1,
}


@pytest.fixture(scope="session")
def bliss76():
    return load_scenario(CONFIGS / "bliss76.yaml")


@pytest.fixture(scope="session")
def bliss52():
    return load_scenario(CONFIGS / "bliss52.yaml")


@pytest.fixture(scope="session")
def tiny():
    return load_scenario(CONFIGS / "bliss76.yaml", TINY)
