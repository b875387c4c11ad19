"""Results folders under stress (issue 14, items 10 and 12).

* a rerun leaves no stale output of an earlier run (other commands' results and the user's
  files stay);
* ``kill -9`` while writing or publishing leaves the old or the new outputs, whole, and the
  next command leaves no staging folder or temporary file behind;
* two commands on one results folder at once (two runs, or a run and a ``power`` writing
  into its ``power/``): the second is refused at once with a clear error, never a mix;
* a results folder that cannot be written (a file, under a file, in a read-only place) is
  refused before anything is simulated, with nothing written.

Processes that are killed or paused run ``trialsim`` through :data:`HOOK`, which wraps the
renames of the publish step and the file writers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import trialsim.run.backends as backends
from trialsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "configs" / "bliss76.yaml")
TINY = [
    "--set", "design.sample_size=90",
    "--set", "design.duration_weeks=24",
    "--set", "design.endpoint_weeks=[12,24]",
]
TWO_ARMS = [
    "--set",
    "design.arms={placebo: {dose_mg_kg: 0.0, allocation: 1}, bel10: {dose_mg_kg: 10.0, "
    "allocation: 1}}",
]
#: a run's own outputs (without figures), its figures, and what a test adds of others'
RUN_OUTPUTS = {"summary.csv", "baseline.csv", "trajectory.csv", "responder_profile.csv",
               "run.json", "replicates",
               "trials"}
RUN_FIGURES = {"response_rates.png", "power.png", "odds_ratio_distribution.png",
               "sledai_trajectory.png"}
OTHERS = {"power", "notes.txt"}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and locks")

#: ``python -c HOOK MODE ARG CLI-ARGS...``: trialsim's command line with one of
#: kill-after-rename K / pause-after-rename K: SIGKILL itself, or wait for ``$SIGNALS/go``
#:     (after creating ``$SIGNALS/paused``), right after the K-th rename of the publish step;
#: kill-writing NAME / pause-writing NAME: the same in the middle of writing file NAME.
HOOK = r"""
import os, signal, sys, time
from pathlib import Path

import trialsim.core.io as io
import trialsim.experiments.pipeline as pl
from trialsim.cli import main

mode, arg, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
action, _, where = mode.partition("-")


def act():
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    signals = Path(os.environ["SIGNALS"])
    (signals / "paused").touch()
    deadline = time.monotonic() + 120
    while not (signals / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


if where == "after-rename":
    state = {"inside": False, "count": 0}

    def counted(fn):
        def wrapped(*a, **kw):
            out = fn(*a, **kw)
            if state["inside"]:
                state["count"] += 1
                if state["count"] == int(arg):
                    act()
            return out
        return wrapped

    os.replace, os.rename = counted(os.replace), counted(os.rename)
    if hasattr(pl, "_exchange"):
        pl._exchange = counted(pl._exchange)
    real_publish = pl.publish

    def publish(*a, **kw):
        state["inside"] = True
        try:
            return real_publish(*a, **kw)
        finally:
            state["inside"] = False

    pl.publish = publish
elif where == "writing":
    real_atomic_write = io.atomic_write

    def atomic_write(path, write):
        if Path(path).name != arg:
            return real_atomic_write(path, write)

        def half(tmp):
            Path(tmp).write_text("half a file")
            act()
            write(tmp)

        return real_atomic_write(path, half)

    io.atomic_write = atomic_write
sys.exit(main(argv))
"""


def run_args(out: Path, *extra: str, seed: int = 1, figures: bool = False) -> list[str]:
    return ["run", CONFIG, "--replicates", "2", "--n-jobs", "1", "--seed", str(seed),
            "--out", str(out), "--quiet", *([] if figures else ["--no-figures"]), *TINY,
            *extra]


def power_args(out: Path, *extra: str, seed: int = 1, figures: bool = False) -> list[str]:
    return ["power", CONFIG, "--sizes", "60,90", "--replicates", "2", "--n-jobs", "1",
            "--seed", str(seed), "--out", str(out), "--quiet",
            *([] if figures else ["--no-figures"]), *TINY, *extra]


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def hidden(root: Path) -> list[str]:
    """Every hidden entry (staging folder, moved-aside folder, temporary file, lock) below
    ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def add_others(out: Path) -> None:
    """Another command's results and a file of the user's, which every run keeps."""
    (out / "power").mkdir()
    (out / "power" / "power.csv").write_text("kept\n")
    (out / "notes.txt").write_text("mine\n")


def others_intact(out: Path) -> bool:
    return ((out / "power" / "power.csv").read_text() == "kept\n"
            and (out / "notes.txt").read_text() == "mine\n")


def seed_of(out: Path) -> int:
    return json.loads((out / "run.json").read_text())["seed"]


def hooked(mode: str, arg: str, argv: list[str], signals: Path | None = None,
           wait: bool = True):
    """``trialsim ARGV`` in a subprocess through :data:`HOOK`."""
    env = {**os.environ, "SIGNALS": str(signals or "")}
    cmd = [sys.executable, "-c", HOOK, mode, arg, *argv]
    if wait:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=180)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_paused(proc: subprocess.Popen, signals: Path) -> None:
    deadline = time.monotonic() + 150
    while not (signals / "paused").exists():
        if proc.poll() is not None:
            pytest.fail(f"the process ended before pausing: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the process never reached the pause")
        time.sleep(0.02)


def resume(proc: subprocess.Popen, signals: Path) -> str:
    """Let a paused process go on; its stderr once it has ended."""
    (signals / "go").touch()
    try:
        _, err = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for f in ("paused", "go"):
        (signals / f).unlink(missing_ok=True)
    return err


class Simulated(Exception):
    """Raised instead of simulating, by tests that require nothing to be simulated."""


def count_simulations(monkeypatch) -> list[int]:
    """Every call of the backends (any command simulates through them) is counted."""
    calls: list[int] = []
    real = backends.execute

    def execute(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(backends, "execute", execute)
    return calls


# --------------------------------------------------------------------------- stale outputs


def test_a_rerun_with_other_arms_and_seed_leaves_no_stale_output(tmp_path):
    """A 3-arm seed-1 run with figures, then a 2-arm seed-2 run without: none of the first
    run's files (its PNGs) is left beside the second run's tables."""
    out = tmp_path / "res"
    assert main(run_args(out, seed=1, figures=True)) == 0
    forests = {n for n in names(out) if n.startswith("forest_")}
    assert forests and names(out) == RUN_OUTPUTS | RUN_FIGURES | forests
    add_others(out)
    assert main(run_args(out, *TWO_ARMS, seed=2)) == 0
    assert names(out) == RUN_OUTPUTS | OTHERS
    assert others_intact(out) and seed_of(out) == 2
    assert "bel1" not in set(pd.read_csv(out / "summary.csv").arm.dropna())
    assert hidden(tmp_path) == []


def test_a_power_rerun_leaves_no_stale_output(tmp_path):
    out = tmp_path / "res" / "power"
    assert main(power_args(out, figures=True)) == 0
    assert names(out) == {"power.csv", "sample_size_by_endpoint.csv", "power.png",
                          "endpoint_sensitivity.png", "run.json"}
    (out / "notes.txt").write_text("mine\n")
    assert main(power_args(out, seed=5)) == 0
    assert names(out) == {"power.csv", "sample_size_by_endpoint.csv", "run.json", "notes.txt"}
    assert seed_of(out) == 5 and (out / "notes.txt").read_text() == "mine\n"
    assert hidden(tmp_path) == []


# --------------------------------------------------------------------------- kill -9


def test_kill_9_at_each_step_of_publishing_leaves_old_or_new_outputs(tmp_path):
    """SIGKILL right after each rename of the publish step, in turn: the results folder then
    holds the old run's outputs or the new run's, whole; the next run restores everything
    else of the folder and leaves no staging folder, moved-aside folder or temp file."""
    template = tmp_path / "template"
    assert main(run_args(template, seed=1)) == 0
    add_others(template)
    assert main(run_args(tmp_path / "new", *TWO_ARMS, seed=2)) == 0
    old, new = (template / "summary.csv").read_bytes(), (tmp_path / "new/summary.csv").read_bytes()
    seen = []
    for k in range(1, 10):
        out = tmp_path / f"kill{k}" / "res"
        shutil.copytree(template, out)
        proc = hooked("kill-after-rename", str(k), run_args(out, *TWO_ARMS, "--no-checkpoint",
                                                           seed=2))
        if proc.returncode == 0:  # k is past the last rename: the publish completed
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert out.is_dir(), f"killed after rename {k}: no results folder"
        assert names(out) >= RUN_OUTPUTS, f"killed after rename {k}: {sorted(names(out))}"
        assert names(out) - RUN_OUTPUTS <= OTHERS
        summary = (out / "summary.csv").read_bytes()
        assert summary in (old, new), f"killed after rename {k}: a summary of neither run"
        assert seed_of(out) == (1 if summary == old else 2), f"killed after rename {k}: a mix"
        assert len(pd.read_parquet(out / "trials")) == 2
        seen.append(seed_of(out))
        assert main(run_args(out, seed=3)) == 0
        assert names(out) == RUN_OUTPUTS | OTHERS and others_intact(out), k
        assert hidden(out.parent) == [], f"killed after rename {k}"
    else:
        pytest.fail("the publish step never completed")
    assert seen[0] == 1 and seen[-1] == 2  # old outputs until the one step, new ones after


@pytest.mark.parametrize("command", ["run", "power"])
def test_kill_9_while_writing_keeps_the_old_outputs_and_no_stray_file(tmp_path, command):
    out = tmp_path / "res"
    args, name = (run_args, "summary.csv") if command == "run" else (power_args, "power.csv")
    assert main(args(out, seed=1)) == 0
    (out / "notes.txt").write_text("mine\n")
    before = snapshot(out)
    proc = hooked("kill-writing", name, args(out, "--no-checkpoint", seed=2))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert snapshot(out) == before  # the old outputs, whole, and nothing else
    assert main(args(out, seed=3)) == 0
    assert seed_of(out) == 3 and (out / "notes.txt").read_text() == "mine\n"
    assert hidden(tmp_path) == []  # the killed run's staging and temp files are gone


# --------------------------------------------------------------------------- concurrency


def test_a_second_run_into_a_busy_folder_is_refused(tmp_path, monkeypatch, capsys):
    """A run paused in the middle of publishing holds its results folder: a second run into
    it is refused at once (exit 2, no simulation), and the first completes normally."""
    out, signals = tmp_path / "res", tmp_path / "signals"
    signals.mkdir()
    assert main(run_args(out, seed=1)) == 0
    add_others(out)
    first = hooked("pause-after-rename", "1", run_args(out, "--no-checkpoint", seed=2),
                   signals, wait=False)
    try:
        wait_paused(first, signals)
        simulated = count_simulations(monkeypatch)
        rc = main(run_args(out, seed=3))
        err = capsys.readouterr().err
    finally:
        first_err = resume(first, signals)
    assert first.returncode == 0, first_err
    assert rc == 2 and not simulated, err
    assert str(out) in err and "another trialsim process" in err and "Traceback" not in err
    assert seed_of(out) == 2 and names(out) == RUN_OUTPUTS | OTHERS and others_intact(out)
    assert hidden(tmp_path) == []


def test_a_run_and_a_power_on_one_results_folder_at_once(tmp_path, monkeypatch, capsys):
    """``power`` writes ``power/`` inside the run's results folder, which a run's publish
    replaces: while either works on the folder the other is refused at once."""
    out, signals = tmp_path / "res", tmp_path / "signals"
    signals.mkdir()
    assert main(run_args(out, seed=1)) == 0
    assert main(power_args(out / "power", seed=1)) == 0
    simulated = count_simulations(monkeypatch)
    # a run in the middle of publishing: a power into its power/ is refused
    run = hooked("pause-after-rename", "1", run_args(out, "--no-checkpoint", seed=2), signals,
                 wait=False)
    try:
        wait_paused(run, signals)
        rc = main(power_args(out / "power", seed=3))
        err = capsys.readouterr().err
    finally:
        run_err = resume(run, signals)
    assert run.returncode == 0, run_err
    assert rc == 2 and not simulated and str(out) in err and "Traceback" not in err, err
    # a power in the middle of writing: a run into the folder holding its power/ is refused
    power = hooked("pause-writing", "power.csv", power_args(out / "power", seed=4), signals,
                   wait=False)
    try:
        wait_paused(power, signals)
        rc = main(run_args(out, seed=5))
        err = capsys.readouterr().err
    finally:
        power_err = resume(power, signals)
    assert power.returncode == 0, power_err
    assert rc == 2 and not simulated and str(out / "power") in err and "Traceback" not in err
    assert seed_of(out) == 2 and seed_of(out / "power") == 4
    assert names(out) == RUN_OUTPUTS | {"power"}
    assert names(out / "power") == {"power.csv", "sample_size_by_endpoint.csv", "run.json"}
    assert hidden(tmp_path) == []


# --------------------------------------------------------------------------- unwritable


def refused(monkeypatch, capsys, argv: list[str]) -> str:
    """Run ``trialsim ARGV``, which must fail as a user error before simulating anything."""

    def execute(*a, **kw):
        raise Simulated("the command simulated before checking its results folder")

    monkeypatch.setattr(backends, "execute", execute)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    return err


ARGS = {"run": run_args, "power": power_args}
CHECKPOINT = pytest.mark.parametrize("checkpoint", [[], ["--no-checkpoint"]],
                                     ids=["checkpoint", "no-checkpoint"])


@CHECKPOINT
@pytest.mark.parametrize("command", ["run", "power"])
def test_a_results_folder_that_is_a_file_is_refused(tmp_path, monkeypatch, capsys, command,
                                                    checkpoint):
    out = tmp_path / "res"
    out.write_text("not a folder\n")
    err = refused(monkeypatch, capsys, ARGS[command](out, *checkpoint))
    assert str(out) in err and "is a file" in err
    assert names(tmp_path) == {"res"} and out.read_text() == "not a folder\n"


@CHECKPOINT
@pytest.mark.parametrize("command", ["run", "power"])
def test_a_results_folder_under_a_file_is_refused(tmp_path, monkeypatch, capsys, command,
                                                  checkpoint):
    (tmp_path / "f").write_text("a file\n")
    out = tmp_path / "f" / "sub" / "res"
    err = refused(monkeypatch, capsys, ARGS[command](out, *checkpoint))
    assert str(out) in err and f"{tmp_path / 'f'} is a file" in err
    assert names(tmp_path) == {"f"}


def _read_only_parent(tmp_path: Path) -> Path:
    """A directory nobody may create anything in: a chmod 555 one, or (as root, who ignores
    permissions) one on a read-only filesystem."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    for candidate in (Path("/sys/trialsim-hardening-test"), Path("/proc/trialsim-test")):
        try:
            candidate.mkdir()
        except OSError:
            return candidate.parent
        candidate.rmdir()
    pytest.skip("running as root with no read-only filesystem at hand")


@CHECKPOINT
@pytest.mark.parametrize("command", ["run", "power"])
def test_a_results_folder_in_a_read_only_place_is_refused(tmp_path, monkeypatch, capsys,
                                                          command, checkpoint):
    parent = _read_only_parent(tmp_path)
    before = names(parent)
    out = parent / "trialsim-results" / "res"
    try:
        err = refused(monkeypatch, capsys, ARGS[command](out, *checkpoint))
    finally:
        if parent.is_relative_to(tmp_path):
            parent.chmod(0o755)
    assert str(out) in err and "cannot" in err
    assert names(parent) == before


@pytest.mark.parametrize("one_step", [True, False], ids=["exchange", "two-renames"])
def test_kill_9_at_each_step_of_publish_itself(tmp_path, one_step):
    """:func:`publish` alone, in a forked process killed after each of its renames, with the
    one-step exchange and with the two renames used where it is not available (a kill
    between those leaves no results folder until the next command, which puts the staged
    one, complete by then, in place). After the next command on the folder: the old or the
    new outputs, whole, every other entry back, nothing left beside it."""
    import trialsim.experiments.pipeline as pl

    # run.json as a trialsim run writes it (the folder's owner, pipeline.check_owner)
    old = {"summary.csv": "old", "run.json": '{"trialsim_version": "old"}',
           "response_rates.png": "old"}
    new = {"summary.csv": "new", "run.json": '{"trialsim_version": "new"}'}
    outcomes = []
    for k in range(1, 10):
        final = tmp_path / f"k{k}" / "res"
        final.mkdir(parents=True)
        for name, text in old.items():
            (final / name).write_text(text)
        add_others(final)
        pid = os.fork()
        if pid == 0:  # the child: publish, killed right after the k-th rename
            try:
                count = [0]

                def counted(fn, _count=count, _k=k):
                    def wrapped(*a, **kw):
                        out = fn(*a, **kw)
                        _count[0] += 1
                        if _count[0] == _k:
                            os.kill(os.getpid(), signal.SIGKILL)
                        return out
                    return wrapped

                staging = pl.new_staging(final)
                for name, text in new.items():
                    (staging / name).write_text(text)
                os.replace = counted(os.replace)
                pl._exchange = counted(pl._exchange if one_step else lambda a, b: False)
                pl.publish(staging, final, pl.RUN_OUTPUTS)
            finally:
                os._exit(0)
        deadline = time.monotonic() + 30
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        if os.WIFEXITED(done[1]):  # k is past the last rename: the publish completed
            break
        assert os.WTERMSIG(done[1]) == signal.SIGKILL
        if one_step:  # at once: the old outputs or the new ones, whole
            assert {n: (final / n).read_text() for n in old.keys() | new.keys()
                    if (final / n).exists()} in (old, new), k
        with pl.results_folder(final):  # the next command on the folder
            pass
        got = {n: (final / n).read_text() for n in old.keys() | new.keys()
               if (final / n).exists()}
        assert got in (old, new), k
        assert others_intact(final) and names(final) == got.keys() | OTHERS, k
        assert hidden(final.parent) == [], k
        outcomes.append(got["summary.csv"])
    else:
        pytest.fail("the publish never completed")
    assert outcomes[0] == "old" and outcomes[-1] == "new"


# --------------------------------------------------------------------------- follow-ups


@pytest.mark.parametrize("command", ["run", "power"])
def test_a_checkpoint_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch, capsys,
                                                               command):
    (tmp_path / "f").write_text("a file\n")
    out = tmp_path / "res"
    err = refused(monkeypatch, capsys,
                  ARGS[command](out, "--checkpoint", str(tmp_path / "f" / "ck")))
    assert "--checkpoint" in err and str(tmp_path / "f" / "ck") in err
    assert names(tmp_path) == {"f"}, "a refused command wrote something"


def test_a_refused_results_folder_is_refused_before_the_estimate(tmp_path, monkeypatch, capsys):
    """The estimate's pilot run is a simulation too: a results folder that cannot be used is
    refused first (no estimate line, nothing simulated)."""
    out = tmp_path / "res"
    out.write_text("not a folder\n")
    argv = [a for a in run_args(out) if a != "--quiet"]
    argv[argv.index("--replicates") + 1] = "10000000"
    err = refused(monkeypatch, capsys, argv)
    assert "is a file" in err and "estimate" not in err, err


def test_sigterm_unwinds_like_ctrl_c(tmp_path):
    """``timeout``/a batch scheduler sends SIGTERM: the command unwinds (exit 143), the lock
    goes, and a checkpoint is either removed (nothing finished) or kept with its chunks."""
    out = tmp_path / "res"
    log = tmp_path / "stderr.log"
    argv = [a for a in run_args(out) if a != "--quiet"]
    argv[argv.index("--replicates") + 1] = "200000"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "trialsim", *argv], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 240
        while "trials (" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
    assert rc == 128 + signal.SIGTERM, log.read_text()
    assert "Traceback" not in log.read_text()
    assert hidden(tmp_path) == [], "a lock or staging folder was left behind"
    ck = out / "checkpoints"
    if ck.exists():  # chunks finished before the signal: kept for the rerun
        assert list(ck.glob("chunk-*.npz")), sorted(p.name for p in ck.iterdir())


# --------------------------------------------------------------------------- review findings


def test_a_folder_with_the_users_own_entries_named_like_outputs_is_refused(tmp_path,
                                                                          monkeypatch, capsys):
    """``--out`` at a project folder holding the user's ``trials/``: a run would replace it."""
    out = tmp_path / "proj"
    (out / "trials").mkdir(parents=True)
    (out / "trials" / "raw_export.csv").write_text("data\n")
    (out / "notes.txt").write_text("notes\n")
    err = refused(monkeypatch, capsys, run_args(out))
    assert "trials" in err and "run.json" in err, err
    assert (out / "trials" / "raw_export.csv").read_text() == "data\n"
    assert names(out) == {"trials", "notes.txt"}


def test_another_commands_results_folder_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "res"
    assert main(power_args(out)) == 0
    before = snapshot(out)
    err = refused(monkeypatch, capsys, run_args(out))
    assert "trialsim power" in err, err
    assert snapshot(out) == before


def test_a_killed_figure_writers_temporary_file_goes_with_the_next_run(tmp_path):
    out = tmp_path / "res"
    assert main(run_args(out, figures=True)) == 0
    stray = out / ".odds_ratio_distribution.d4iny87u.png"
    stray.write_bytes(b"")
    assert main(run_args(out, seed=2, figures=True)) == 0
    assert not stray.exists()
    assert hidden(tmp_path) == []


def test_a_mount_point_as_results_folder_is_refused(monkeypatch, capsys, tmp_path):
    import trialsim.experiments.pipeline as pl

    out = tmp_path / "mnt"
    out.mkdir()
    monkeypatch.setattr(pl.os.path, "ismount", lambda p: Path(p) == out)
    err = refused(monkeypatch, capsys, run_args(out))
    assert "mount point" in err and str(out / "results") in err, err


def test_ctrl_c_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(backends, "execute", interrupted)
    out = tmp_path / "res"
    rc = main(run_args(out))
    err = capsys.readouterr().err
    assert rc == 130 and "interrupted" in err and "Traceback" not in err, err
    assert hidden(tmp_path) == []


def test_a_killed_worker_process_is_a_message_and_the_checkpoint_is_kept(tmp_path):
    """A local worker killed mid-run (the system's out-of-memory killer, say) used to end in
    loky's TerminatedWorkerError traceback (hostile re-test of issue 14)."""
    out = tmp_path / "res"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialsim.cli", "run", CONFIG, "--replicates", "4000",
         "--n-jobs", "2", "--set", "engine.chunk_size=20", "--no-figures", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while not any((out / "checkpoints").glob("chunk-*.npz")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - t0 < 240, "no chunk was saved"
            time.sleep(0.2)
        workers = [p for p in Path("/proc").iterdir() if p.name.isdigit()
                   and b"LokyProcess" in _cmdline(p) and _ppid(p) == proc.pid]
        assert workers
        os.kill(int(workers[0].name), signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr, stderr
    assert "trialsim: error: a worker process was killed mid-run" in stderr, stderr
    assert "finished before the error are kept" in stderr
    assert any((out / "checkpoints").glob("chunk-*.npz"))
    assert not (out / "summary.csv").exists()


def _cmdline(p: Path) -> bytes:
    try:
        return (p / "cmdline").read_bytes()
    except OSError:
        return b""


def _ppid(p: Path) -> int:
    try:
        return int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _file_size_limit(limit: int):
    """For ``preexec_fn``: files larger than ``limit`` bytes fail to write (EFBIG), as on a
    full disk, without needing one."""
    import resource

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_disk_that_refuses_writes_is_a_message_and_the_old_results_stay(tmp_path):
    """A full disk used to end in a chained traceback (hostile re-test of issue 14)."""
    out = tmp_path / "res"
    argv = [sys.executable, "-m", "trialsim.cli", "run", CONFIG, *TINY, "--replicates", "30",
            "--n-jobs", "1", "--no-figures", "--out", str(out)]
    assert subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=600).returncode == 0
    before = snapshot(out)
    proc = subprocess.run([*argv, "--seed", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, preexec_fn=_file_size_limit(4_000))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "trialsim: error: the system refused to write" in proc.stderr
    assert "File too large" in proc.stderr and "Nothing was published" in proc.stderr
    assert snapshot(out) == before  # the earlier run's outputs, whole
    assert hidden(tmp_path) == []  # no staging folder or lock left beside it


def test_a_read_only_file_system_is_named_as_such(tmp_path, monkeypatch, capsys):
    """It used to be reported as 'permission denied' (hostile re-test of issue 14). The file
    system is made to look read-only (mounting one needs root)."""
    import trialsim.experiments.pipeline as pipeline

    real = os.statvfs

    class ReadOnly:
        def __init__(self, st):
            self.st = st

        def __getattr__(self, name):
            return os.ST_RDONLY if name == "f_flag" else getattr(self.st, name)

    def statvfs(path):
        st = real(path)
        return ReadOnly(st) if Path(path) == tmp_path else st

    monkeypatch.setattr(pipeline.os, "statvfs", statvfs)
    out = tmp_path / "res"
    err = refused(monkeypatch, capsys, run_args(out))
    assert f"{tmp_path} is on a read-only file system" in err, err
    assert "permission denied" not in err


@pytest.mark.parametrize("place", ["trials", "replicates/ck", ".", "..", "run.json"])
def test_a_checkpoint_the_publish_step_would_replace_is_refused(place, tmp_path, monkeypatch,
                                                                capsys):
    """``--checkpoint OUT/trials`` used to be deleted with the old ``trials`` when the results
    were published (hostile re-test of issue 14)."""
    out = tmp_path / "a" / "res"
    ck = out / place
    err = refused(monkeypatch, capsys, run_args(out, "--checkpoint", str(ck)))
    assert f"--checkpoint {ck}:" in err, err
    assert not (tmp_path / "a").exists()


def test_a_power_checkpoint_in_its_outputs_is_refused(tmp_path, monkeypatch, capsys):
    out = tmp_path / "p"
    err = refused(monkeypatch, capsys, power_args(out, "--checkpoint", str(out / "power.csv")))
    assert "lies in power.csv, which the command replaces" in err


def test_a_checkpoint_inside_the_results_folder_survives_the_publish(tmp_path):
    out = tmp_path / "res"
    ck = out / "my-checkpoint"
    assert main(run_args(out, "--checkpoint", str(ck))) == 0
    first = snapshot(out / "trials")
    assert any(ck.glob("chunk-*.npz"))
    assert main(run_args(out, "--checkpoint", str(ck))) == 0  # resumes from it
    assert any(ck.glob("chunk-*.npz")) and snapshot(out / "trials") == first


def test_a_checkpoint_in_another_commands_results_is_refused(tmp_path, monkeypatch, capsys):
    """Its chunks, manifest and lock were mixed into a run's results (second hostile
    re-test of issue 14)."""
    other = tmp_path / "r1"
    assert main(run_args(other)) == 0
    before = snapshot(other)
    err = refused(monkeypatch, capsys, run_args(tmp_path / "r2", "--checkpoint", str(other)))
    assert "holds the results of a trialsim command" in err
    assert snapshot(other) == before


def test_printing_into_a_full_disk_after_publishing_says_the_results_are_written(tmp_path):
    """``> /dev/full`` said 'Nothing was published' although the results were (second
    hostile re-test of issue 14)."""
    out = tmp_path / "res"
    argv = [a for a in run_args(out) if a != "--quiet"]  # the headline goes to stdout
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "trialsim.cli", *argv], cwd=ROOT,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Nothing was published" not in proc.stderr
    assert f"the results were written to {out}, but then the system refused" in proc.stderr
    assert (out / "summary.csv").exists()


def test_a_closed_pipe_is_no_traceback_and_no_hang(tmp_path):
    out = tmp_path / "res"
    argv = [a for a in run_args(out) if a != "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "trialsim.cli", *argv, "--n-jobs", "2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.stdout.readline()
    proc.stdout.close()  # the reader leaves, as | head -1 does
    assert proc.wait(timeout=300) in (0, 1)
    assert (out / "summary.csv").exists()
