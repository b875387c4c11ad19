"""Chunk checkpoints: every finished chunk of replicates is kept on disk as it completes.

A long run (a big ``run``, a power curve, a sweep, a sample-size search) that is killed at
any moment, even by SIGKILL, continues where it stopped when the same command is run
again, and its final outputs are bit-identical to an uninterrupted run: a chunk's arrays
depend only on the scenario, the seed and the replicate range, and they are stored exactly
(``.npz`` of every field of :class:`~trialsim.run.trial.ChunkResult`).

Layout
------
One scenario's chunks (``trialsim run --checkpoint DIR``)::

    DIR/manifest.json                      what the chunks belong to (see below)
    DIR/chunk-000000000-000000100.npz      replicates [0, 100), written atomically
    DIR/chunk-000000100-000000200.npz
    DIR/lock                               held (flock) while a process uses DIR

An experiment over many scenarios (``power``, ``sweep``, ``samplesize``)::

    DIR/manifest.json                      kind of experiment and its base scenario
    DIR/points/<key>/manifest.json         one chunk store per simulated scenario,
    DIR/points/<key>/chunk-….npz           named by the scenario's key (content-addressed)

The manifest of a chunk store records the scenario key (SHA-256 of everything that affects
the numbers), the full scenario, the fingerprint of the simulation code, the chunk size and
the result fields. Reopening a store whose scenario, code, chunk size or fields differ
raises :class:`CheckpointError` naming the manifest and what changed, instead of mixing
numbers from two models. Because experiment points are content-addressed, changing the grid
of an experiment (adding sample sizes, sweep values) reuses the points it shares with the
earlier run; changing the base scenario is refused.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from trialsim import __version__
from trialsim.config.scenario import Scenario
from trialsim.core.io import atomic_write, write_json
from trialsim.errors import CheckpointError, ScenarioError

#: version of the on-disk layout; bump when it changes incompatibly
FORMAT = 1
MANIFEST = "manifest.json"
LOCK = "lock"
CHUNK_KIND = "chunks"

#: modules that move numbers around without changing them: edits there keep checkpoints valid
_NOT_NUMERIC = frozenset({"trialsim.run.backends", "trialsim.run.checkpoint", "trialsim.core.io"})


# --------------------------------------------------------------------------- fingerprints


def scenario_key(scenario: Scenario) -> str:
    """SHA-256 of everything in a scenario that affects the simulated numbers.

    Unlike :meth:`Scenario.digest`, the whole ``engine`` block (replicates, chunking,
    parallelism), the ``sweep`` block, the name and the description are left out: none of
    them changes what replicate ``r`` is, so chunks stay reusable when only they change.
    """
    payload = json.dumps(_numeric_config(scenario), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _numeric_config(scenario: Scenario) -> dict[str, Any]:
    return scenario.model_dump(
        mode="json", exclude={"name": True, "description": True, "engine": True, "sweep": True}
    )


def _module_file(name: str) -> Path | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imported_modules(path: Path, module: str) -> set[str]:
    """Names of the trialsim modules imported anywhere in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{a.name}" for a in node.names)
    return {m for m in found if m == "trialsim" or m.startswith("trialsim.")}


def fingerprint_modules() -> dict[str, Path]:
    """The trialsim modules a chunk's numbers depend on, with their source files.

    The import closure of ``trialsim.run.trial``, found by reading the sources (so imports
    inside functions count), minus the modules that only move results around (backends,
    checkpoints, writers).
    """
    todo, seen = ["trialsim.run.trial"], {}
    while todo:
        name = todo.pop()
        if name in seen or name in _NOT_NUMERIC:
            continue
        seen[name] = _module_file(name)
        if seen[name] is not None:
            todo.extend(_imported_modules(seen[name], name))
    return {name: path for name, path in sorted(seen.items()) if path is not None}


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of the source of every module in :func:`fingerprint_modules`.

    A change to the model code, or to the Python, numpy, scipy or numba version (which can
    change the last bits of the numbers), changes the fingerprint, and old checkpoints are then
    refused rather than mixed with new numbers.
    """
    import platform

    import numba
    import scipy

    h = hashlib.sha256()
    libs = f"python {platform.python_version()} numpy {np.__version__} scipy {scipy.__version__} "
    h.update((libs + f"numba {numba.__version__}").encode())
    for name, path in fingerprint_modules().items():
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def result_fields() -> list[str]:
    """Names of the :class:`~trialsim.run.trial.ChunkResult` fields, in declaration order."""
    from trialsim.run.trial import ChunkResult

    return [f.name for f in fields(ChunkResult)]


# --------------------------------------------------------------------------- manifests


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    return {prefix: data}


def describe_changes(old: dict[str, Any], new: dict[str, Any], limit: int = 12) -> list[str]:
    """``path: old → new`` lines for every dotted path whose value differs."""
    a, b = _flatten(old), _flatten(new)
    lines = []
    for path in sorted(set(a) | set(b)):
        va, vb = a.get(path, "(absent)"), b.get(path, "(absent)")
        if va != vb:
            lines.append(f"{path}: {json.dumps(va)} → {json.dumps(vb)}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"… and {len(lines) - limit} more"]
    return lines


def _read_manifest(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint manifest {path} cannot be read ({exc}); remove its directory to start "
            "afresh"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint manifest {path} is not a trialsim manifest")
    return data


_FRESH = "Remove {dir} (or choose another checkpoint directory) to start afresh."


def _refuse(manifest: Path, why: str, details: list[str] | None = None) -> CheckpointError:
    lines = [f"checkpoint {manifest}: {why}"]
    lines += [f"  {d}" for d in details or []]
    lines.append(_FRESH.format(dir=manifest.parent))
    return CheckpointError("\n".join(lines))


def _check_kind(path: Path, found: dict[str, Any], kind: str) -> None:
    if found.get("format") != FORMAT:
        raise _refuse(
            path,
            f"written in checkpoint format {found.get('format')!r}, this trialsim reads "
            f"format {FORMAT}.",
        )
    if found.get("kind") != kind:
        raise _refuse(
            path,
            f"this directory holds a {found.get('kind')!r} checkpoint, not a {kind!r} one "
            "(each command needs its own checkpoint directory).",
        )


def _check_scenario(path: Path, found: dict[str, Any], scenario: Scenario) -> None:
    if found.get("scenario_key") == scenario_key(scenario):
        return
    changes = describe_changes(found.get("scenario_config", {}), _numeric_config(scenario))
    raise _refuse(
        path,
        f"it was written for a different scenario (was {found.get('scenario')!r}, key "
        f"{str(found.get('scenario_key'))[:12]}…; now {scenario.name!r}, key "
        f"{scenario_key(scenario)[:12]}…), so its chunks would mix the numbers of two "
        "scenarios. Changed fields:",
        changes or ["(no field-level difference recorded)"],
    )


# --------------------------------------------------------------------------- chunk store


class ChunkStore:
    """The finished chunks of one scenario, one ``.npz`` file per replicate range.

    Parameters
    ----------
    path : str or Path
        Directory of the store (created if needed).
    scenario : Scenario
        The scenario whose replicates are stored; an existing store must match it.
    chunk_size : int
        Replicates per chunk; an existing store must have been written with the same size.

    Raises
    ------
    CheckpointError
        The directory holds chunks of another scenario, another version of the simulation
        code, another chunk size or another set of result fields.
    """

    def __init__(self, path: str | Path, scenario: Scenario, chunk_size: int):
        self.path = Path(path)
        self.chunk_size = int(chunk_size)
        self.fields = result_fields()
        manifest = {
            "format": FORMAT,
            "kind": CHUNK_KIND,
            "scenario": scenario.name,
            "scenario_key": scenario_key(scenario),
            "code_sha256": code_fingerprint(),
            "trialsim_version": __version__,
            "chunk_size": self.chunk_size,
            "fields": self.fields,
            "scenario_config": _numeric_config(scenario),
        }
        mpath = self.path / MANIFEST
        found = _read_manifest(mpath)
        if found is None:
            self.path.mkdir(parents=True, exist_ok=True)
            write_json(manifest, mpath)
        else:
            self._check(mpath, found, scenario, manifest)
        for stale in self.path.glob(".chunk-*.tmp"):  # left by a process killed mid-write
            stale.unlink(missing_ok=True)

    def _check(self, mpath: Path, found: dict, scenario: Scenario, manifest: dict) -> None:
        _check_kind(mpath, found, CHUNK_KIND)
        _check_scenario(mpath, found, scenario)
        if found.get("code_sha256") != manifest["code_sha256"]:
            raise _refuse(
                mpath,
                "it was written by different simulation code (trialsim "
                f"{found.get('trialsim_version')}, code {str(found.get('code_sha256'))[:12]}…; "
                f"now trialsim {__version__}, code {manifest['code_sha256'][:12]}…), so the "
                "same scenario may give other numbers now.",
            )
        if found.get("chunk_size") != self.chunk_size:
            raise _refuse(
                mpath,
                f"its chunks hold {found.get('chunk_size')} replicates each, this run uses "
                f"chunk_size={self.chunk_size}. Rerun with the checkpoint's chunk size "
                f"(--chunk-size {found.get('chunk_size')} or --set "
                f"engine.chunk_size={found.get('chunk_size')}).",
            )
        if found.get("fields") != self.fields:
            raise _refuse(
                mpath,
                f"its chunks hold the result fields {found.get('fields')}, this trialsim's "
                f"results have {self.fields}.",
            )

    def chunk_path(self, start: int, stop: int) -> Path:
        """File of the chunk of replicates ``[start, stop)``."""
        return self.path / f"chunk-{start:09d}-{stop:09d}.npz"

    def save(self, result) -> Path:
        """Write one finished chunk atomically (temp file + rename)."""
        reps = result.replicates
        start, stop = int(reps[0]), int(reps[-1]) + 1
        arrays = {name: np.asarray(getattr(result, name)) for name in self.fields}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez_compressed(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())

        return atomic_write(self.chunk_path(start, stop), write)

    def load(self, start: int, stop: int):
        """The stored chunk ``[start, stop)``, or None when it is missing or unreadable.

        A damaged file (e.g. cut short by a power failure) is ignored and recomputed.
        """
        from trialsim.run.trial import ChunkResult

        path = self.chunk_path(start, stop)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in self.fields}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        reps = arrays["replicates"]
        if not np.array_equal(reps, np.arange(start, stop)) or any(
            a.shape[:1] != (stop - start,) for a in arrays.values()
        ):
            return None
        return ChunkResult(**arrays)

    def finished(self) -> list[tuple[int, int]]:
        """Replicate ranges of the chunk files present, in order."""
        out = []
        for p in sorted(self.path.glob("chunk-*.npz")):
            parts = p.stem.split("-")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                out.append((int(parts[1]), int(parts[2])))
        return out


# --------------------------------------------------------------------------- experiments


class ExperimentStore:
    """Checkpoint directory of an experiment: one :class:`ChunkStore` per simulated scenario.

    Parameters
    ----------
    path : str or Path
    kind : str
        ``"power"``, ``"sweep"`` or ``"samplesize"``: one directory serves one kind.
    scenario : Scenario
        The base scenario (after ``--set`` / ``--seed``); an existing directory must match.
    chunk_size : int
    """

    def __init__(self, path: str | Path, kind: str, scenario: Scenario, chunk_size: int):
        self.path = Path(path)
        self.chunk_size = int(chunk_size)
        mpath = self.path / MANIFEST
        found = _read_manifest(mpath)
        if found is None:
            self.path.mkdir(parents=True, exist_ok=True)
            write_json(
                {
                    "format": FORMAT,
                    "kind": kind,
                    "scenario": scenario.name,
                    "scenario_key": scenario_key(scenario),
                    "trialsim_version": __version__,
                    "scenario_config": _numeric_config(scenario),
                },
                mpath,
            )
        else:
            _check_kind(mpath, found, kind)
            _check_scenario(mpath, found, scenario)

    def point(self, scenario: Scenario) -> ChunkStore:
        """The chunk store of one point (scenario) of the experiment."""
        return ChunkStore(self.path / "points" / scenario_key(scenario)[:20], scenario,
                          self.chunk_size)


@contextlib.contextmanager
def locked(path: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on a checkpoint directory while a process uses it.

    The lock (``flock`` on ``DIR/lock``) is released by the operating system when the
    process ends, however it ends, so a killed run never leaves a stale lock behind.

    Raises
    ------
    CheckpointError
        Another process holds the lock.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock on Windows: run unlocked
        yield path
        return
    handle = open(path / LOCK, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise CheckpointError(
                f"checkpoint directory {path} is in use by another trialsim process (pid "
                f"{owner}); wait for it to finish or choose another checkpoint directory"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield path
    finally:
        handle.close()


def remove_checkpoint(path: str | Path) -> None:
    """Delete a checkpoint directory's own files (manifests, chunks, lock), then the empty
    directories; anything else found there is left alone."""
    path = Path(path)
    if not (path / MANIFEST).is_file():
        return
    for store in [path, *sorted((path / "points").glob("*"))]:
        if not (store / MANIFEST).is_file():
            continue
        for f in [*store.glob("chunk-*.npz"), *store.glob(".chunk-*.tmp"), store / LOCK,
                  store / MANIFEST]:
            f.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            store.rmdir()
    for d in (path / "points", path):
        with contextlib.suppress(OSError):
            d.rmdir()


def count_chunks(path: str | Path) -> int:
    """Finished chunk files in a checkpoint directory (its own and its points')."""
    path = Path(path)
    return len(list(path.glob("chunk-*.npz"))) + len(list(path.glob("points/*/chunk-*.npz")))


def _check_writable(path: Path, new_dirs: list[Path]) -> None:
    """Refuse, before anything is simulated, a checkpoint directory that cannot be made or
    written (a file, under a file, a read-only place); the directories made for the check
    are removed again when it fails."""
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(20, "it is a file, not a folder")
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        for d in new_dirs:  # innermost first
            with contextlib.suppress(OSError):
                d.rmdir()
        raise CheckpointError(
            f"--checkpoint {path}: cannot be used ({exc.strerror or exc}); name a folder "
            "you can write, or run with --no-checkpoint"
        ) from None


@contextlib.contextmanager
def command_checkpoint(path: str | Path | None, keep: bool) -> Iterator[Path | None]:
    """The checkpoint directory of one command, tidied up when the command ends.

    * success: removed unless ``keep`` (a directory the user named);
    * a user error (:class:`ScenarioError`, e.g. a screening failure found while simulating):
      when this command created it and no chunk finished, removed with any directories
      created for it, so that bad input leaves nothing behind; when chunks finished (a sweep
      that fails at one of its points), kept, and the error says so: fixing the input and
      rerunning reuses them. A refused checkpoint (:class:`CheckpointError`) is never
      touched;
    * any other interruption (Ctrl-C, a crash): kept, so that rerunning resumes, unless this
      command created it and no chunk finished: then there is nothing to resume and it is
      removed like after a user error (a run stopped while it waits for a dask scheduler
      leaves no manifest and no lock behind). A SIGKILL leaves it as it is; the lock is an
      ``flock``, released by the system, so a leftover ``lock`` file never blocks a rerun.
    """
    if path is None:
        yield None
        return
    path = Path(path)
    created = not (path / MANIFEST).exists()
    new_dirs = [d for d in [path, *path.parents] if not d.exists()]
    _check_writable(path, new_dirs)

    def remove_if_empty() -> bool:
        if count_chunks(path):
            return False
        remove_checkpoint(path)
        (path / LOCK).unlink(missing_ok=True)  # left when it failed before its manifest
        for d in new_dirs:  # innermost first
            with contextlib.suppress(OSError):
                d.rmdir()
        return True

    def _chunks(n: int) -> str:
        return "1 chunk" if n == 1 else f"{n} chunks"

    try:
        yield path
    except ScenarioError as exc:
        if created and not isinstance(exc, CheckpointError) and not remove_if_empty():
            exc.args = (
                f"{exc.args[0] if exc.args else exc}\n(the {_chunks(count_chunks(path))} "
                f"finished before the error are kept in {path}: rerunning with the same "
                "--checkpoint reuses them)",
            )
        raise
    except BaseException:
        if created:
            remove_if_empty()
        raise
    if not keep:
        remove_checkpoint(path)
