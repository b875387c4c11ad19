"""Same scenario and seed: bit-identical results for any n_jobs and chunk size."""

import numpy as np

from trialsim.run.simulate import simulate
from trialsim.run.trial import ChunkResult


def _same(a: ChunkResult, b: ChunkResult) -> None:
    for name in ChunkResult.__annotations__:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=True), name


def test_serial_and_parallel_are_bit_identical(tiny):
    serial = simulate(tiny, replicates=6, n_jobs=1, chunk_size=6, progress=False)
    parallel = simulate(tiny, replicates=6, n_jobs=2, chunk_size=2, progress=False)
    _same(serial, parallel)


def test_chunk_size_does_not_change_results(tiny):
    a = simulate(tiny, replicates=5, n_jobs=1, chunk_size=1, progress=False)
    b = simulate(tiny, replicates=5, n_jobs=1, chunk_size=5, progress=False)
    _same(a, b)


def test_replicates_are_prefix_stable(tiny):
    """Replicate r is the same trial whether 3 or 6 replicates are run."""
    a = simulate(tiny, replicates=3, n_jobs=1, progress=False)
    b = simulate(tiny, replicates=6, n_jobs=1, progress=False)
    assert np.array_equal(a.analysis, b.analysis[:3], equal_nan=True)


def test_different_replicates_differ(tiny):
    a = simulate(tiny, replicates=2, n_jobs=1, progress=False)
    assert not np.array_equal(a.rates[0], a.rates[1])
