"""Chunk checkpoints: exact round trips, reuse, refusal of mismatched stores, locking."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest

import trialsim.run.backends as backends
from trialsim.config.scenario import with_overrides
from trialsim.run.checkpoint import (
    MANIFEST,
    CheckpointError,
    ChunkStore,
    ExperimentStore,
    code_fingerprint,
    fingerprint_modules,
    locked,
    remove_checkpoint,
    scenario_key,
)
from trialsim.run.simulate import simulate
from trialsim.run.trial import ChunkResult, run_chunk


def _same(a: ChunkResult, b: ChunkResult) -> None:
    for f in fields(ChunkResult):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.dtype == y.dtype and x.shape == y.shape, f.name
        assert np.array_equal(x, y, equal_nan=True), f.name


@pytest.fixture
def count_chunks(monkeypatch):
    """Count the chunks actually simulated (not loaded from a checkpoint)."""
    calls: list[tuple[int, int]] = []

    def counting(scenario, start, stop):
        calls.append((start, stop))
        return run_chunk(scenario, start, stop)

    monkeypatch.setattr(backends, "run_chunk", counting)
    return calls


def test_chunk_round_trip_is_exact(tiny, tmp_path):
    store = ChunkStore(tmp_path, tiny, chunk_size=3)
    res = run_chunk(tiny, 3, 6)
    path = store.save(res)
    assert path.name == "chunk-000000003-000000006.npz"
    _same(store.load(3, 6), res)
    assert store.load(0, 3) is None
    assert store.finished() == [(3, 6)]


def test_checkpointed_run_equals_plain_run_and_is_reused(tiny, tmp_path, count_chunks):
    plain = simulate(tiny, replicates=7, chunk_size=3, progress=False)
    count_chunks.clear()
    first = simulate(tiny, replicates=7, chunk_size=3, progress=False, checkpoint_dir=tmp_path)
    assert count_chunks == [(0, 3), (3, 6), (6, 7)]
    _same(first, plain)
    count_chunks.clear()
    again = simulate(tiny, replicates=7, chunk_size=3, progress=False, checkpoint_dir=tmp_path)
    assert count_chunks == []  # everything loaded
    _same(again, plain)


def test_missing_and_damaged_chunks_are_recomputed(tiny, tmp_path, count_chunks):
    plain = simulate(tiny, replicates=6, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    (tmp_path / "chunk-000000002-000000004.npz").unlink()
    damaged = tmp_path / "chunk-000000004-000000006.npz"
    damaged.write_bytes(damaged.read_bytes()[:100])  # cut short, as by a power failure
    (tmp_path / ".chunk-000000000-000000002.npz.x1.tmp").write_bytes(b"half")
    count_chunks.clear()
    again = simulate(tiny, replicates=6, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    assert count_chunks == [(2, 4), (4, 6)]
    _same(again, plain)
    assert not list(tmp_path.glob(".*.tmp"))  # stale temp files of a killed writer removed


def test_more_replicates_reuse_the_finished_chunks(tiny, tmp_path, count_chunks):
    simulate(tiny, replicates=6, chunk_size=3, progress=False, checkpoint_dir=tmp_path)
    count_chunks.clear()
    more = simulate(tiny, replicates=9, chunk_size=3, progress=False, checkpoint_dir=tmp_path)
    assert count_chunks == [(6, 9)]
    _same(more, simulate(tiny, replicates=9, chunk_size=3, progress=False))


def test_changed_scenario_is_refused_with_the_changed_fields(tiny, tmp_path):
    simulate(tiny, replicates=2, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    other = with_overrides(tiny, {"design.sample_size": 60, "drug.emax": 0.9})
    with pytest.raises(CheckpointError) as err:
        simulate(other, replicates=2, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / MANIFEST) in msg
    assert "different scenario" in msg
    assert "design.sample_size: 90 → 60" in msg
    assert f"drug.emax: {json.dumps(tiny.drug.emax)} → 0.9" in msg
    assert "Remove" in msg


def test_chunk_size_change_is_refused(tiny, tmp_path):
    simulate(tiny, replicates=2, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="hold 2 replicates each.*chunk_size=3"):
        simulate(tiny, replicates=2, chunk_size=3, progress=False, checkpoint_dir=tmp_path)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("code_sha256", "0" * 64, "different simulation code"),
        ("fields", ["replicates", "analysis"], "result fields"),
        ("format", 99, "checkpoint format"),
        ("kind", "power", "holds a 'power' checkpoint"),
    ],
)
def test_other_code_fields_or_format_are_refused(tiny, tmp_path, key, value, message):
    ChunkStore(tmp_path, tiny, 2)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest[key] = value
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=message):
        ChunkStore(tmp_path, tiny, 2)


def test_engine_settings_and_names_do_not_change_the_key(tiny):
    same = with_overrides(
        tiny, {"engine.replicates": 77, "engine.n_jobs": 2, "name": "x", "description": "y"}
    )
    assert scenario_key(same) == scenario_key(tiny)
    assert scenario_key(with_overrides(tiny, {"seed": tiny.seed + 1})) != scenario_key(tiny)


def test_code_fingerprint_covers_the_model_not_the_writers():
    modules = fingerprint_modules()
    for name in ("trialsim.run.trial", "trialsim.model.course", "trialsim.model.population",
                 "trialsim.core.rng"):
        assert name in modules
    for name in ("trialsim.report.plots", "trialsim.cli", "trialsim.run.checkpoint",
                 "trialsim.summarize.tables"):
        assert name not in modules
    assert len(code_fingerprint()) == 64


def test_a_locked_directory_is_refused(tiny, tmp_path):
    with locked(tmp_path):
        with pytest.raises(CheckpointError, match="in use by another trialsim process"):
            simulate(tiny, replicates=2, progress=False, checkpoint_dir=tmp_path)
    simulate(tiny, replicates=2, progress=False, checkpoint_dir=tmp_path)  # released


def test_experiment_store_refuses_another_base_and_kind(tiny, tmp_path):
    ExperimentStore(tmp_path, "power", tiny, 4)
    ExperimentStore(tmp_path, "power", with_overrides(tiny, {"engine.replicates": 9}), 4)
    with pytest.raises(CheckpointError, match=f"seed: {tiny.seed} → 5"):
        ExperimentStore(tmp_path, "power", with_overrides(tiny, {"seed": 5}), 4)
    with pytest.raises(CheckpointError, match="holds a 'power' checkpoint, not a 'sweep'"):
        ExperimentStore(tmp_path, "sweep", tiny, 4)


def test_experiment_points_are_content_addressed(tiny, tmp_path):
    exp = ExperimentStore(tmp_path, "power", tiny, 4)
    a = exp.point(with_overrides(tiny, {"design.sample_size": 60}))
    b = exp.point(with_overrides(tiny, {"design.sample_size": 60}))
    c = exp.point(with_overrides(tiny, {"design.sample_size": 120}))
    assert a.path == b.path != c.path
    assert a.path.parent == tmp_path / "points"


def test_remove_checkpoint_deletes_only_its_own_files(tiny, tmp_path):
    exp = ExperimentStore(tmp_path, "sweep", tiny, 2)
    exp.point(tiny).save(run_chunk(tiny, 0, 2))
    (tmp_path / "notes.txt").write_text("mine")
    remove_checkpoint(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    remove_checkpoint(tmp_path / "absent")  # nothing to do


def test_cli_run_checkpoints_by_default_and_cleans_up(tmp_path):
    from pathlib import Path

    from trialsim.cli import main

    config = Path(__file__).resolve().parents[2] / "configs" / "bliss76.yaml"
    args = ["run", str(config), "--replicates", "2", "--no-figures", "--quiet",
            "--set", "design.sample_size=30", "--set", "design.duration_weeks=12",
            "--set", "design.endpoint_weeks=[12]"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert not (tmp_path / "a" / "checkpoints").exists()
    assert main([*args, "--out", str(tmp_path / "b"), "--checkpoint", str(tmp_path / "ck")]) == 0
    assert (tmp_path / "ck" / MANIFEST).is_file()
    a, b = (tmp_path / "a" / "summary.csv"), (tmp_path / "b" / "summary.csv")
    assert a.read_bytes() == b.read_bytes()


def test_command_checkpoint_is_tidied_by_how_the_command_ends(tiny, tmp_path):
    from trialsim.config.scenario import ScenarioError
    from trialsim.run.checkpoint import command_checkpoint

    ck = tmp_path / "out" / "ck"
    with pytest.raises(ScenarioError), command_checkpoint(ck, keep=False):
        ChunkStore(ck, tiny, 2)
        raise ScenarioError("bad input found while simulating")
    assert not (tmp_path / "out").exists()  # created for this command: all gone
    with pytest.raises(KeyboardInterrupt), command_checkpoint(ck, keep=False):
        ChunkStore(ck, tiny, 2)
        raise KeyboardInterrupt
    assert not (tmp_path / "out").exists()  # interrupted before any chunk: nothing to resume
    with pytest.raises(KeyboardInterrupt), command_checkpoint(ck, keep=False):
        ChunkStore(ck, tiny, 2).save(run_chunk(tiny, 0, 2))
        raise KeyboardInterrupt
    assert (ck / MANIFEST).is_file()  # interrupted: kept for the rerun
    with pytest.raises(CheckpointError), command_checkpoint(ck, keep=False):
        ChunkStore(ck, with_overrides(tiny, {"seed": 1}), 2)
    assert (ck / MANIFEST).is_file()  # refused: never touched
    with command_checkpoint(ck, keep=True):
        pass
    assert (ck / MANIFEST).is_file()
    with command_checkpoint(ck, keep=False):
        pass
    assert not ck.exists()
