"""Random streams: the SeedSequence tree. Nothing else in trialsim creates generators.

scenario seed → replicate r → stage stream (population, randomization, course, and
``reduced`` for the constant-response validation model). A replicate's
numbers depend only on (seed, r, stage), never on chunking, ``n_jobs`` or backend, and the
stages draw from separate streams so that changing one stage (a design's sample size, a
drug parameter) leaves the others' numbers unchanged: common random numbers across the arms
and across the points of a sweep.
"""

from __future__ import annotations

import numpy as np

STAGES = ("population", "randomization", "course", "reduced")


def replicate_streams(seed: int, replicate: int) -> dict[str, np.random.Generator]:
    """Independent generators for each simulation stage of one replicate.

    Parameters
    ----------
    seed : int
        Scenario seed.
    replicate : int
        Replicate index (0-based).

    Returns
    -------
    dict of str to numpy.random.Generator
        One PCG64 generator per name in ``STAGES``.
    """
    root = np.random.SeedSequence(entropy=seed, spawn_key=(replicate,))
    children = root.spawn(len(STAGES))
    pairs = zip(STAGES, children, strict=True)
    return {name: np.random.Generator(np.random.PCG64(ss)) for name, ss in pairs}


def bootstrap_stream(seed: int) -> np.random.Generator:
    """The generator of resampling done on top of a scenario's replicates (e.g. the
    sample-size bootstrap): a child of the scenario seed that no replicate uses."""
    # entropy [seed, tag] gives a pool no replicate stream (entropy=seed, spawn_key=(r,)) has
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=[seed, 0xB007])))
