"""Kill a long run with SIGKILL mid-way, run the same command again: it resumes from the
checkpoint and its outputs are byte-for-byte those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trialsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "bliss76.yaml")
TINY_SET = [
    "--set", "design.sample_size=90",
    "--set", "design.duration_weeks=24",
    "--set", "design.endpoint_weeks=[12,24]",
]
#: run.json records wall time and the finish time: everything else must match exactly
VOLATILE = {"wall_time_seconds", "finished_at", "trials_per_second", "checkpoint"}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _chunks(directory: Path) -> list[Path]:
    return list(directory.rglob("chunk-*.npz"))


def _kill_midway(args: list[str], checkpoint: Path, at_least: int, total: int, group: bool):
    """Start ``trialsim ARGS`` and SIGKILL it once ``at_least`` chunk files exist."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialsim.cli", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=group,
    )
    try:
        deadline = time.monotonic() + 240
        while len(_chunks(checkpoint)) < at_least:
            if proc.poll() is not None:
                pytest.fail(f"run ended before it could be killed: {proc.stderr.read()!r}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint progress")
            time.sleep(0.01)
        if group:  # the run and its worker processes, as a shell's kill -9 of a job
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done = len(_chunks(checkpoint))
    assert at_least <= done < total, "the kill must land mid-run"
    return done


def _same_outputs(a: Path, b: Path, files: list[str]) -> None:
    for name in files:
        if (a / name).is_dir():  # a dataset: the same part files, byte for byte
            parts = sorted(p.name for p in (a / name).iterdir())
            assert parts == sorted(p.name for p in (b / name).iterdir()), name
            for part in parts:
                assert (a / name / part).read_bytes() == (b / name / part).read_bytes(), part
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ra = json.loads((a / "run.json").read_text())
    rb = json.loads((b / "run.json").read_text())
    for key in VOLATILE:
        ra.pop(key, None)
        rb.pop(key, None)
    assert ra == rb


def test_power_curve_resumes_after_sigkill_bit_identical(tmp_path):
    killed, fresh = tmp_path / "killed", tmp_path / "fresh"
    args = ["power", CONFIG, *TINY_SET, "--sizes", "60,90", "--replicates", "40",
            "--chunk-size", "2", "--n-jobs", "1", "--quiet"]
    total = 2 * 20
    _kill_midway([*args, "--out", str(killed)], killed / "checkpoints", 5, total, group=False)
    assert not (killed / "power.csv").exists()
    # the same command again finishes from the checkpoint
    assert main([*args, "--out", str(killed)]) == 0
    assert not (killed / "checkpoints").exists()  # the default checkpoint is done with
    assert main([*args, "--out", str(fresh), "--no-checkpoint"]) == 0
    _same_outputs(killed, fresh, ["power.csv", "power.png"])


def test_run_resumes_after_sigkill_of_the_process_group(tmp_path):
    killed, fresh = tmp_path / "killed", tmp_path / "fresh"
    args = ["run", CONFIG, *TINY_SET, "--replicates", "80", "--n-jobs", "2", "--set",
            "engine.chunk_size=4", "--quiet", "--no-figures"]  # PNGs: the power test
    ck = tmp_path / "ck"
    _kill_midway([*args, "--out", str(killed), "--checkpoint", str(ck)], ck, 3, 20, group=True)
    assert not (killed / "summary.csv").exists()
    assert main([*args, "--out", str(killed), "--checkpoint", str(ck)]) == 0
    assert len(_chunks(ck)) == 20  # an explicit checkpoint directory is kept
    assert main([*args, "--out", str(fresh)]) == 0
    files = ["summary.csv", "replicates", "trials", "baseline.csv", "trajectory.csv"]
    _same_outputs(killed, fresh, files)


def test_changed_scenario_refuses_the_old_checkpoint(tmp_path, capsys):
    args = ["power", CONFIG, *TINY_SET, "--sizes", "60", "--replicates", "2", "--quiet",
            "--out", str(tmp_path / "p"), "--checkpoint", str(tmp_path / "ck")]
    assert main(args) == 0
    assert main([*args, "--set", "drug.emax=0.9"]) == 2
    err = capsys.readouterr().err
    assert "different scenario" in err and "drug.emax" in err and "Traceback" not in err


def test_a_sweep_that_fails_at_one_point_keeps_the_chunks_it_finished(tmp_path, capsys):
    """Point 2 of the sweep cannot fill its trial (no candidate reaches SLEDAI 40): the
    command fails with the screening error, writes no outputs, and keeps point 1's chunks."""
    out = tmp_path / "sweep"
    args = ["sweep", CONFIG, *TINY_SET, "--sweep", "screening.min_sledai=6,40",
            "--replicates", "4", "--chunk-size", "2", "--n-jobs", "1", "--quiet",
            "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "screening" in err and "kept in" in err and "Traceback" not in err
    assert len(_chunks(out / "checkpoints")) == 2  # the first point's two chunks
    assert not [p for p in out.rglob("*") if p.is_file() and "checkpoints" not in p.parts]
    # the fixed sweep runs to the end (and removes its default checkpoint)
    fixed = [a if a != "screening.min_sledai=6,40" else "screening.min_sledai=6,8" for a in args]
    assert main(fixed) == 0
    assert not (out / "checkpoints").exists()
