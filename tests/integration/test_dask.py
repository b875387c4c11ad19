"""The dask backend gives the same bits as the local (joblib) backend."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from trialsim.config.scenario import ScenarioError
from trialsim.experiments.power import RunSettings, power_curve
from trialsim.run.simulate import simulate
from trialsim.run.trial import ChunkResult

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    ) as c:
        yield c


def _same(a: ChunkResult, b: ChunkResult) -> None:
    for f in fields(ChunkResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.dtype == y.dtype and x.shape == y.shape, f.name
        assert np.array_equal(x, y, equal_nan=True), f.name


def test_simulate_on_a_cluster_is_bit_identical_to_joblib(tiny, cluster, tmp_path):
    local = simulate(tiny, replicates=7, chunk_size=2, n_jobs=2, progress=False)
    remote = simulate(
        tiny,
        replicates=7,
        chunk_size=2,
        backend="dask",
        scheduler=cluster.scheduler_address,
        progress=False,
        checkpoint_dir=tmp_path,
    )
    _same(local, remote)
    assert len(list(tmp_path.glob("chunk-*.npz"))) == 4  # the client keeps the checkpoint


def test_power_curve_on_a_cluster_is_bit_identical(tiny, cluster):
    base = dict(replicates=4, chunk_size=2, progress=False)
    local = power_curve(tiny, [60, 90], settings=RunSettings(n_jobs=1, **base))
    remote = power_curve(
        tiny,
        [60, 90],
        settings=RunSettings(backend="dask", scheduler=cluster.scheduler_address, **base),
    )
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


def test_workers_with_other_code_are_refused(tiny, cluster, monkeypatch):
    import trialsim.run.backends as backends

    monkeypatch.setattr(backends, "code_fingerprint", lambda: "not the workers' code")
    with pytest.raises(ScenarioError, match="run different trialsim simulation code"):
        simulate(tiny, replicates=2, backend="dask", scheduler=cluster.scheduler_address,
                 progress=False)


def test_unreachable_scheduler_is_a_user_error(tiny):
    import dask

    match = "--scheduler tcp://127.0.0.1:9: cannot connect"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ScenarioError, match=match):
            simulate(tiny, replicates=2, backend="dask", scheduler="tcp://127.0.0.1:9",
                     progress=False)


def test_cli_backend_dask_starts_a_local_cluster(tmp_path):
    from pathlib import Path

    from trialsim.cli import main

    config = str(Path(__file__).resolve().parents[2] / "configs" / "bliss76.yaml")
    common = ["run", config, "--replicates", "4", "--n-jobs", "2", "--no-figures", "--quiet",
              "--set", "design.sample_size=60", "--set", "design.duration_weeks=12",
              "--set", "design.endpoint_weeks=[12]"]
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    assert main([*common, "--out", str(tmp_path / "dask"), "--backend", "dask"]) == 0
    for name in ("summary.csv", "baseline.csv", "trajectory.csv",
                 "replicates/part-000000000.parquet", "trials/part-000000000.parquet"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
