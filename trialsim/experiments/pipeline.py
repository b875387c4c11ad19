"""One scenario end to end: simulate, summarize, write tables, figures and provenance.

The replicates stream through: each chunk, in replicate order, goes to the summaries'
reducer and to the replicate-level parquet datasets, and is dropped (``reduce``), so memory
does not grow with the number of replicates.

Results folders (of ``run`` here, and of ``power``, ``sweep`` and ``samplesize``, which use
the same functions):

* checked and locked before anything is simulated (:func:`results_folder`): a folder that
  cannot be written is refused with a clear error, and so is a second command on a folder
  that another process is writing (or on a folder inside it or containing it) — at once,
  without waiting;
* everything is written into a staging folder beside the results folder, which takes its
  place in one step at the end (:func:`publish`): the outputs of a command appear as one
  unit or not at all, none of an earlier run's outputs is left beside them, and every other
  entry of the folder (other commands' results such as ``power/``, checkpoints, the user's
  files) is kept;
* what a killed command leaves (a staging folder, an old folder, entries it was moving) is
  put right by the next command on the folder (:func:`remove_dead_staging`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialsim import __version__
from trialsim.config.scenario import Scenario
from trialsim.core.io import write_csv, write_json
from trialsim.core.provenance import machine, package_versions
from trialsim.errors import ScenarioError
from trialsim.report import plots
from trialsim.report.folder import ResultsFolder
from trialsim.report.html import write_report
from trialsim.report.plots import endpoint_label
from trialsim.report.plots_subgroups import forest_targets, plot_forest
from trialsim.run.backends import iter_chunks
from trialsim.run.checkpoint import ChunkStore, locked
from trialsim.run.trial import Plan
from trialsim.summarize.reduce import PartWriter, Reducer, dataset_columns
from trialsim.summarize.tables import (
    baseline_from,
    profile_from,
    summarize_from,
    trajectory_from,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: results folders are not locked
    fcntl = None

#: the replicate-level datasets of a results folder
DATASETS = ("replicates", "trials")

#: what ``trialsim run`` writes in its results folder (names or glob patterns): a rerun
#: replaces all of them, so none of an earlier run's is left beside the new ones, and keeps
#: every other entry (another command's results such as ``power/``, a checkpoint directory,
#: the user's own files)
RUN_OUTPUTS = (
    "summary.csv", "baseline.csv", "trajectory.csv", "responder_profile.csv", "run.json",
    *DATASETS,
    "response_rates.png", "power.png", "odds_ratio_distribution.png", "sledai_trajectory.png",
    "forest_*_week*.png", "report.html",
)


@dataclass
class RunOutput:
    """What a run produced: the summary tables, and the folder with everything."""

    plan: Plan
    summary: pd.DataFrame
    baseline: pd.DataFrame
    trajectory: pd.DataFrame
    provenance: dict
    #: baseline characteristics of the primary endpoint's responders and non-responders
    profile: pd.DataFrame
    #: the results folder (a temporary one, deleted with this object, when none was given)
    folder: Path
    _cleanup: object = field(default=None, repr=False)
    #: why ``report.html`` could not be written (the results were published without it)
    report_error: str | None = None

    @property
    def replicates(self) -> pd.DataFrame:
        """``replicates/``: one row per replicate x endpoint x week x comparison."""
        return pd.read_parquet(self.folder / "replicates")

    @property
    def trials(self) -> pd.DataFrame:
        """``trials/``: one row per replicate."""
        return pd.read_parquet(self.folder / "trials")

    def _repr_html_(self) -> str:
        """Jupyter's view: the results folder's headline table, with MCSE."""
        return ResultsFolder(self.folder)._repr_html_()


def run_scenario(
    scenario: Scenario,
    out_dir: str | Path | None = None,
    replicates: int | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    figures: bool = True,
    backend: str = "local",
    scheduler: str | None = None,
    checkpoint_dir: str | Path | None = None,
    chunk_size: int | None = None,
    dask_timeout: float | None = None,
    report: bool = False,
    calibration: str | Path | None = None,
) -> RunOutput:
    """Simulate a scenario and write its results folder.

    Files: ``summary.csv``, ``baseline.csv``, ``trajectory.csv``, ``run.json``, the datasets
    ``replicates/`` and ``trials/`` and PNG figures. Without ``out_dir`` the folder is a
    temporary one, deleted with the returned object. ``backend``, ``scheduler``,
    ``checkpoint_dir`` and ``dask_timeout`` are as in :func:`trialsim.run.simulate.simulate`.
    With ``report`` the folder also holds ``report.html`` (:mod:`trialsim.report.html`,
    giving the status of the ``calibration`` folder), published with the rest.

    The results folder is checked and locked before anything is simulated
    (:func:`results_folder`); the outputs are written into a staging folder beside it and
    replace the run's earlier outputs in one step (:func:`publish`).
    """
    hold = results_folder(out_dir, RUN_OUTPUTS) if out_dir is not None else nullcontext()
    with hold as final:
        return _run_into(scenario, final, replicates=replicates, n_jobs=n_jobs,
                         progress=progress, figures=figures, backend=backend,
                         scheduler=scheduler, checkpoint_dir=checkpoint_dir,
                         chunk_size=chunk_size, dask_timeout=dask_timeout,
                         report=report, calibration=calibration)


def _run_into(
    scenario: Scenario,
    final: Path | None,
    replicates: int | None,
    n_jobs: int | None,
    progress: bool | None,
    figures: bool,
    backend: str,
    scheduler: str | None,
    checkpoint_dir: str | Path | None,
    chunk_size: int | None,
    dask_timeout: float | None,
    report: bool = False,
    calibration: str | Path | None = None,
) -> RunOutput:
    """:func:`run_scenario` into the held results folder ``final`` (None: a temporary one)."""
    eng = scenario.engine
    replicates = replicates or eng.replicates
    n_jobs = n_jobs or eng.n_jobs
    chunk_size = chunk_size or eng.chunk_size
    t0 = time.perf_counter()
    plan = Plan(scenario)
    if final is not None:
        staging = new_staging(final)
    else:
        staging = Path(tempfile.mkdtemp(prefix=f"trialsim-{scenario.name}-"))
    try:
        red = Reducer(plan)
        writer = PartWriter(plan, staging)
        guard = locked(checkpoint_dir) if checkpoint_dir is not None else nullcontext()
        with guard:
            store = (
                ChunkStore(checkpoint_dir, scenario, chunk_size)
                if checkpoint_dir is not None else None
            )
            for chunk in iter_chunks(scenario, replicates, chunk_size, n_jobs=n_jobs,
                                     backend=backend, scheduler=scheduler, store=store,
                                     progress=progress, dask_timeout=dask_timeout):
                red.add(chunk)
                writer.add(chunk)
        writer.close()
        wall = time.perf_counter() - t0
        columns = dataset_columns(staging / "trials")
        out = RunOutput(
            plan=plan,
            summary=summarize_from(plan, red, columns),
            baseline=baseline_from(plan, red),
            trajectory=trajectory_from(plan, columns),
            profile=profile_from(plan, red),
            provenance={
                "scenario": scenario.name,
                "scenario_sha256": scenario.digest(),
                "seed": scenario.seed,
                "replicates": replicates,
                "n_jobs": n_jobs,
                "chunk_size": chunk_size,
                "trialsim_version": __version__,
                "python": platform.python_version(),
                "machine": machine(),
                "packages": package_versions(),
                "backend": backend,
                "wall_time_seconds": round(wall, 3),
                "trials_per_second": round(replicates / wall, 3),
                "candidates_screened_per_trial": red.screened / red.replicates,
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            folder=staging,
        )
        write_outputs(out, staging, figures=figures)
        if report:
            try:
                write_report(staging, staging / "report.html", calibration=calibration,
                             shown_as=final)
            except Exception as exc:  # the results are worth more than their report
                (staging / "report.html").unlink(missing_ok=True)
                out.report_error = f"{type(exc).__name__}: {exc}"
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final is None:
        out._cleanup = weakref.finalize(out, shutil.rmtree, str(staging), True)
        return out
    publish(staging, final, RUN_OUTPUTS)
    out.folder = final
    return out


#: suffix of the lock file ``.<name>.trialsim-lock`` beside a results folder being written
LOCK_SUFFIX = ".trialsim-lock"
#: how long taking a lock retries (another command may be looking at it for a moment)
LOCK_GRACE_SECONDS = 1.0

#: the results folders this process holds: resolved path -> [lock file descriptor, depth]
_HELD: dict[Path, list] = {}


def checked_output_folder(out_dir: str | Path) -> Path:
    """The results folder as an absolute path, checked before anything is simulated.

    Raises
    ------
    ScenarioError
        The folder is (or contains) the working directory, which a run replaces; it is a
        file, or a file stands where one of its parent folders should be; or the place it
        goes to may not be written.
    """
    if not str(out_dir).strip():
        raise ScenarioError("--out '': an empty results folder name; name a folder, e.g. "
                            "results/NAME, or leave --out out for the default")
    try:
        final = Path(out_dir).resolve()
        final.exists()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise ScenarioError(f"--out {out_dir}: not a usable path ({exc.strerror or exc}); "
                            "name a shorter one") from None
    cwd = Path.cwd().resolve()
    if final == cwd or final in cwd.parents or final.parent == final:
        raise ScenarioError(
            f"--out {out_dir}: the results folder is replaced as a whole by each run, so it "
            "cannot be the current directory or one containing it; name a subfolder such as "
            "results/NAME"
        )
    if final.exists() and not final.is_dir():
        raise ScenarioError(
            f"--out {out_dir}: {final} is a file; the results folder must be a folder (it is "
            "made when missing): name a folder, or a path that does not exist yet"
        )
    if final.is_dir() and os.path.ismount(final):
        raise ScenarioError(
            f"--out {out_dir}: {final} is a mount point; a results folder is put in place "
            "with a rename, which a mount point cannot take: name a folder inside it, e.g. "
            f"{final / 'results'}"
        )
    existing = next(p for p in final.parents if p.exists())
    if not existing.is_dir():
        raise ScenarioError(
            f"--out {out_dir}: {existing} is a file, so no results folder can be made under "
            "it; name a path whose parents are folders"
        )
    needs = [(existing, os.W_OK | os.X_OK)]
    if final.is_dir():  # its entries are moved when a rerun replaces it
        needs.append((final, os.R_OK | os.W_OK | os.X_OK))
    for folder, mode in needs:
        if _read_only(folder):
            raise ScenarioError(
                f"--out {out_dir}: {folder} is on a read-only file system; name a results "
                "folder on a file system that can be written"
            )
        if not os.access(folder, mode):
            raise ScenarioError(
                f"--out {out_dir}: cannot write into {folder} (permission denied); name a "
                "results folder in a place you can write to"
            )
    return final


def _read_only(folder: Path) -> bool:
    """Whether ``folder`` is on a file system mounted read-only."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows): os.access decides
        return False


def _cannot(out_dir: str | Path, what: str, exc: OSError) -> ScenarioError:
    return ScenarioError(
        f"--out {out_dir}: cannot {what} ({exc.strerror or exc}); name a results folder in a "
        "place you can write to"
    )


@contextlib.contextmanager
def results_folder(out_dir: str | Path, outputs: Sequence[str] = RUN_OUTPUTS,
                   command: str = "run", checkpoint: str | Path | None = None
                   ) -> Iterator[Path]:
    """Hold a results folder while a command simulates and writes into it.

    Before anything is simulated the folder is checked (:func:`checked_output_folder`), its
    missing parent folders are made and it is locked; then what killed commands left beside
    it is put right (:func:`remove_dead_staging`). If the block fails, the parent folders
    made here are removed again when still empty, so a refused command writes nothing.

    One command at a time per results folder, counting the folders inside it and the ones
    containing it (``trialsim power`` writes ``power/`` inside the folder of ``trialsim
    run``, which :func:`publish` replaces): a second command is **refused at once** with a
    :class:`ScenarioError` naming the folder and the process id holding it. It does not
    wait, since a run can take hours. The lock is an ``flock`` on
    ``.<name>.trialsim-lock`` beside the folder, released by the operating system however
    the process ends; the file is removed when the command ends (the file of a killed
    command is reused and then removed by the next one). Re-entrant within a process.

    Parameters
    ----------
    out_dir : str or Path
        The results folder (``--out``).
    outputs : sequence of str
        Names or glob patterns of what the command writes there (as :data:`RUN_OUTPUTS`).
    command : str
        The command (``run``, ``power``...): a folder that holds another command's results,
        or entries named like this command's outputs that trialsim did not write, is refused
        (:func:`check_owner`), since the command would replace them.
    checkpoint : str or Path, optional
        The command's checkpoint folder: refused when publishing the outputs would replace
        or move it (:func:`check_checkpoint_place`).

    Yields
    ------
    Path
        The results folder, absolute.

    Raises
    ------
    ScenarioError
        The folder cannot be used (:func:`checked_output_folder`), its parents cannot be
        made, or another process is writing it, a folder inside it or one containing it.
    """
    final = checked_output_folder(out_dir)
    check_checkpoint_place(checkpoint, final, out_dir, outputs)
    if final in _HELD:
        _HELD[final][1] += 1
        try:
            yield final
        finally:
            _HELD[final][1] -= 1
        return
    made = [p for p in [final.parent, *final.parent.parents] if not p.exists()]
    fd, ok = None, False
    try:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot(out_dir, f"make the folder {final.parent}", exc) from None
        fd = _acquire(final, out_dir)
        _HELD[final] = [fd, 1]
        _refuse_nested(final, out_dir)
        remove_dead_staging(final, outputs=outputs)
        check_owner(final, out_dir, outputs, command)
        yield final
        ok = True
    finally:
        if final in _HELD:
            del _HELD[final]
            _release(final, fd)
        if not ok:
            for folder in made:  # innermost first
                with contextlib.suppress(OSError):
                    folder.rmdir()


def check_checkpoint_place(checkpoint: str | Path | None, final: Path, out_dir: str | Path,
                           outputs: Sequence[str]) -> None:
    """Refuse a checkpoint folder that the results folder's publish step would swap away or
    replace: the results folder itself, a folder containing it, or a place inside one of
    the command's outputs (``--checkpoint OUT/trials`` would be deleted with the old
    ``trials``)."""
    if checkpoint is None:
        return
    if not str(checkpoint).strip():
        raise ScenarioError("--checkpoint '': an empty folder name; name a folder, or leave "
                            "--checkpoint out for the default (OUT/checkpoints)")
    ck = Path(checkpoint).resolve()
    if ck.is_dir() and (ck / "run.json").exists():
        raise ScenarioError(
            f"--checkpoint {checkpoint}: holds the results of a trialsim command (run.json); "
            "its chunks would mix with them: name a folder of its own"
        )
    if ck == final or ck in final.parents:
        raise ScenarioError(
            f"--checkpoint {checkpoint}: is the results folder --out {out_dir} or contains "
            "it, which each run replaces as a whole; name a folder beside it or inside it, "
            f"such as {final / 'checkpoints'}"
        )
    if final in ck.parents:
        first = ck.relative_to(final).parts[0]
        if _is_output(first, outputs) or first.startswith("."):
            raise ScenarioError(
                f"--checkpoint {checkpoint}: lies in {first}, which the command replaces in "
                f"--out {out_dir} when it writes its results; name another folder, such as "
                f"{final / 'checkpoints'}"
            )


def check_owner(final: Path, out_dir: str | Path, outputs: Sequence[str], command: str) -> None:
    """Refuse a results folder whose entries named like ``command``'s outputs were not
    written by a ``trialsim command`` (the user's own ``trials/``, another command's
    ``run.json``): the command replaces those entries whole, so it would delete them.

    The folder's ``run.json`` says who wrote it (``trialsim_version``; ``command``, absent
    for ``run``)."""
    if not final.is_dir():
        return
    present = sorted(e.name for e in final.iterdir()
                     if not e.name.startswith(".") and _is_output(e.name, outputs))
    if not present:
        return
    try:
        record = json.loads((final / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or "trialsim_version" not in record:
        raise ScenarioError(
            f"--out {out_dir}: holds {', '.join(present)}, which a trialsim {command} would "
            "replace, but no run.json of a trialsim run says trialsim wrote them; name "
            "another results folder, or move them away"
        )
    owner = record.get("command", "run")
    if owner != command:
        raise ScenarioError(
            f"--out {out_dir}: holds the results of 'trialsim {owner}' (run.json); a "
            f"'trialsim {command}' there would mix its {', '.join(present)} with them: name "
            f"another results folder (by default {command} writes its own)"
        )


def _lock_file(folder: Path) -> Path:
    return folder.parent / f".{folder.name}{LOCK_SUFFIX}"


def _holder(path: Path) -> str:
    """The process id written in a lock file ("unknown" while it is being written)."""
    try:
        return path.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _acquire(final: Path, out_dir: str | Path) -> int | None:
    """Take the lock of ``final`` (see :func:`results_folder`); its file descriptor."""
    if fcntl is None:  # pragma: no cover - no flock (Windows): unlocked
        return None
    path = _lock_file(final)
    deadline = time.monotonic() + LOCK_GRACE_SECONDS
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise _cannot(out_dir, f"write into {final.parent}", exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise _busy(out_dir, final, _holder(path), final) from None
        # the holder may have removed the file between our open and our lock: lock anew
        try:
            now = os.stat(path)
        except FileNotFoundError:
            now = None
        mine = os.fstat(fd)
        if now is None or (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd


def _release(final: Path, fd: int | None) -> None:
    """Remove the lock file (while still holding it), then let go of it."""
    if fd is None:  # pragma: no cover - unlocked (Windows)
        return
    with contextlib.suppress(OSError):
        os.unlink(_lock_file(final))
    os.close(fd)


def _probe(path: Path) -> str | None:
    """The process id holding the lock file ``path``, when another process holds it."""
    if fcntl is None or any(_lock_file(f) == path for f in _HELD):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(path)
    finally:
        os.close(fd)
    return None


def _busy(out_dir: str | Path, final: Path, pid: str, other: Path) -> ScenarioError:
    if other == final:
        what = f"is writing the results folder {final}"
    elif other in final.parents:
        what = f"is writing the results folder {other}, which contains {final}"
    else:
        what = f"is writing the results folder {other}, inside {final}"
    return ScenarioError(
        f"--out {out_dir}: another trialsim process (pid {pid}) {what}. One command at a time "
        "may write a results folder and the folders inside it: wait for that one to finish, "
        "or name another --out"
    )


def _refuse_nested(final: Path, out_dir: str | Path) -> None:
    """Refuse when another process holds a results folder containing ``final`` or inside it.

    Each command takes its own lock first and looks at the others' after, so of two commands
    started at the same moment at least one sees the other.
    """
    for other in final.parents:
        if other.parent != other and (pid := _probe(_lock_file(other))) is not None:
            raise _busy(out_dir, final, pid, other)
    for folder, _, files in os.walk(final):
        for name in files:
            if name.startswith(".") and name.endswith(LOCK_SUFFIX):
                pid = _probe(Path(folder) / name)
                if pid is not None:
                    raise _busy(out_dir, final, pid, Path(folder) / name[1:-len(LOCK_SUFFIX)])


def new_staging(final: Path) -> Path:
    """A new staging folder beside ``final``, ``.<name>.staging-<pid>-<random>``: the pid
    tells a later command when what it finds there was left by a dead process."""
    staging = final.parent / f".{final.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


@contextlib.contextmanager
def staged(final: Path, outputs: Sequence[str]) -> Iterator[Path]:
    """A staging folder for a command's outputs: put in place of ``final`` by
    :func:`publish` when the block ends, removed when it fails. Use inside
    :func:`results_folder`."""
    staging = new_staging(final)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, final, outputs)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_output(name: str, outputs: Sequence[str]) -> bool:
    """Whether an entry of a results folder is one of a command's ``outputs``, or the
    temporary file of a killed writer of one (``.<name>.<random>.tmp``, see
    :func:`~trialsim.core.io.atomic_write`)."""
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, f".{p}.*.tmp")
               or fnmatch.fnmatchcase(name, _figure_temp(p)) for p in outputs)


def _figure_temp(pattern: str) -> str:
    """The temporary file of a killed ``report.plots.save_figure`` writing ``pattern``
    (``.<stem>.<random><suffix>``: the suffix kept, so the format is inferred the same)."""
    stem, dot, suffix = pattern.rpartition(".")
    return f".{stem}.*.{suffix}" if dot and stem else pattern


def _is_kept(folder: Path, name: str, outputs: Sequence[str]) -> bool:
    """Whether an entry of a results folder stays when the command's new outputs replace
    it: everything but its outputs and the lock files nobody holds (of killed commands on
    folders inside it)."""
    if _is_output(name, outputs):
        return False
    if name.startswith(".") and name.endswith(LOCK_SUFFIX):
        return _probe(folder / name) is not None
    return True


#: what a command leaves beside a results folder ``.<name>.<this>`` while it writes it
_LEFTOVER = re.compile(
    r"(?P<kind>staging|old)-(?P<pid>\d+)-(?P<token>[0-9a-f]+)|old-(?P<legacy>[0-9a-f]{8})"
)


def remove_dead_staging(final: Path, keep: Path | None = None,
                        outputs: Sequence[str] = RUN_OUTPUTS) -> None:
    """Put right what commands killed while writing ``final`` left beside it.

    What a process that is gone left (``keep`` and live processes' folders are left alone):

    * a staging folder ``.<name>.staging-<pid>-<random>``: outputs being written, or, if the
      process was killed while publishing, the new outputs and some of the entries it was
      moving over from the results folder, or the old outputs it had just replaced;
    * an old folder ``.<name>.old-<pid>-<random>``: the replaced results folder, where
      :func:`publish` could not exchange the two folders in one step.

    If the results folder is missing (killed between the two renames of that slower path),
    the staged folder, complete by then, is put in place (or else the old one). Then every
    entry of these folders that is not one of the command's ``outputs`` (another command's
    results, the user's files) goes back into the results folder unless it has one of that
    name, and the folders are removed.
    """
    prefix = f".{final.name}."
    try:
        entries = [p for p in final.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    dead: dict[str, dict[str, Path]] = {}
    for path in entries:
        m = _LEFTOVER.fullmatch(path.name[len(prefix):])
        if m is None or path == keep or not path.is_dir():
            continue
        if m["legacy"]:  # an old folder of an earlier trialsim, without a pid
            dead[m["legacy"]] = {"old": path}
        elif not _pid_alive(int(m["pid"])):
            dead.setdefault(f"{m['pid']}-{m['token']}", {})[m["kind"]] = path
    if not final.exists():
        # a publish killed between its two renames: its staged folder is complete, use it
        for parts in dead.values():
            if "old" in parts and "staging" in parts and _move(parts["staging"], final):
                del parts["staging"]
                break
        else:
            for parts in dead.values():
                if "old" in parts and _move(parts["old"], final):
                    del parts["old"]
                    break
    for parts in dead.values():
        for path in parts.values():
            if path.is_dir() and final.is_dir():
                for entry in path.iterdir():
                    if (_is_kept(path, entry.name, outputs)
                            and not os.path.lexists(final / entry.name)):
                        with contextlib.suppress(OSError):
                            os.replace(entry, final / entry.name)
            shutil.rmtree(path, ignore_errors=True)


def _exchange_call():
    """``renameat2`` of the C library, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _exchange_call()
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one step (Linux ``renameat2``, flag
    ``RENAME_EXCHANGE``); False, with nothing changed, where the system or the file system
    cannot."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


#: results folders published in this process, in order (the CLI says so when a later step,
#: such as printing the summary, fails)
PUBLISHED: list[Path] = []


def publish(staging: Path, final: Path, outputs: Sequence[str] = RUN_OUTPUTS) -> None:
    """Put the staged results folder in place of ``final``, as one step (:func:`_publish`),
    and note it in :data:`PUBLISHED`."""
    _publish(staging, final, outputs)
    PUBLISHED.append(final)


def _publish(staging: Path, final: Path, outputs: Sequence[str] = RUN_OUTPUTS) -> None:
    """Put the staged results folder in place of ``final``, as one step.

    The entries of the old folder that are not among the command's ``outputs`` (another
    command's results such as ``power/``, a checkpoint directory, the user's own files) are
    moved into the staged folder; then the two folders are exchanged in one rename (Linux;
    elsewhere the old folder is renamed aside first and the staged one takes its name) and
    the old one, holding only the earlier outputs, is removed. Stale outputs of an earlier
    run (figures a rerun does not make) go with it.

    A reader sees the old outputs or the new ones, never a mix. On an error the moved
    entries go back and the staged folder is removed; after a kill, the next command on the
    folder puts everything back (:func:`remove_dead_staging`). Call it holding the folder
    (:func:`results_folder`).
    """
    if not final.exists():
        os.replace(staging, final)
        return
    kept = [e.name for e in final.iterdir()
            if not os.path.lexists(staging / e.name) and _is_kept(final, e.name, outputs)]
    aside = final.parent / f".{final.name}.old-{staging.name.rsplit('.staging-', 1)[1]}"
    moved: list[str] = []
    try:
        for name in kept:
            os.replace(final / name, staging / name)
            moved.append(name)
        if _exchange(staging, final):
            aside = staging
        else:
            os.replace(final, aside)
            os.replace(staging, final)
    except BaseException:
        with contextlib.suppress(OSError):
            if not final.exists():
                os.replace(aside, final)
        back = [n for n in moved if not _move(staging / n, final / n)]
        if not back:  # else the next command on the folder moves them back
            shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _move(src: Path, dst: Path) -> bool:
    try:
        os.replace(src, dst)
    except OSError:
        return False
    return True


def write_outputs(out: RunOutput, out_dir: Path, figures: bool = True) -> None:
    """Write the tables, provenance and figures of a run into ``out_dir`` (the datasets are
    already there)."""
    write_csv(out.summary, out_dir / "summary.csv")
    write_csv(out.baseline, out_dir / "baseline.csv")
    write_csv(out.profile, out_dir / "responder_profile.csv")
    write_csv(out.trajectory, out_dir / "trajectory.csv")
    write_json(
        {**out.provenance, "scenario_config": out.plan.scenario.model_dump(mode="json")},
        out_dir / "run.json",
    )
    if not figures:
        return
    name = out.plan.scenario.name
    plots.save_figure(
        plots.plot_response_rates(out.summary, title=f"{name}: response rates"),
        out_dir / "response_rates.png",
    )
    plots.save_figure(plots.plot_power(out.summary, title=f"{name}: power"), out_dir / "power.png")
    primary = out.plan.scenario.analysis.endpoints[0]
    plots.save_figure(
        plots.plot_odds_ratio_distribution(
            pd.read_parquet(
                out_dir / "replicates",
                columns=["endpoint", "week", "comparison", "odds_ratio", "p_value"],
                filters=[("endpoint", "==", primary)],
            ),
            endpoint=primary,
            week=out.plan.scenario.design.endpoint_weeks[0],
            title=f"{name}: {primary} odds ratios",
        ),
        out_dir / "odds_ratio_distribution.png",
    )
    plots.save_figure(
        plots.plot_sledai_trajectory(out.trajectory, title=f"{name}: mean SELENA-SLEDAI"),
        out_dir / "sledai_trajectory.png",
    )
    for endpoint, week in forest_targets(out.summary):
        plots.save_figure(
            plot_forest(out.summary, endpoint, week,
                        title=f"{name}: {endpoint_label(endpoint)} week {week}, subgroups"),
            out_dir / f"forest_{endpoint}_week{week}.png",
        )
