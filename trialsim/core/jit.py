"""The one jit policy of trialsim: every kernel is compiled with ``jit`` from here.

Numba's on-disk cache (``cache=True``) is invalidated only when the source file of the cached
function itself changes, not when a jitted function it calls from another module does: after
an edit of a rule in ``instruments.py``, the course kernel cached from ``course.py`` would go
on running the old rule. So the cache lives in a directory named by a hash of every source
file of the package: any edit anywhere selects a fresh cache, and going back to a version
finds that version's cache again (the mutation campaign, ``scripts/mutations.py``, relies on
both).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import numba
from numba import njit

_PACKAGE = Path(__file__).resolve().parents[1]  # the trialsim package


#: the layers no kernel can reach (tests/unit/test_layering.py: imports point down, and the
#: kernels live in model, analysis, run and summarize): editing them keeps the cache
ABOVE_KERNELS = ("report", "experiments", "qualify", "cli")


def _source_hash() -> str:
    """Digest of the Python sources a kernel can reach (names and contents; dotfiles and the
    layers above the kernels skipped)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        rel = path.relative_to(_PACKAGE)
        if any(part.startswith(".") for part in rel.parts) or rel.parts[0] in ABOVE_KERNELS:
            continue  # editor lock files, hidden folders; code no kernel imports
        try:
            data = path.read_bytes()
        except OSError:  # vanished mid-scan (a checkout in progress), a dangling link
            continue
        h.update(str(rel).encode())
        h.update(data)
    return h.hexdigest()[:16]


def _cache_root() -> Path:
    """Where the per-version caches live: under NUMBA_CACHE_DIR if set, else the package."""
    user = os.environ.get("NUMBA_CACHE_DIR")
    return Path(user) / "trialsim" if user else _PACKAGE / "__pycache__" / "numba"


#: other versions' caches are deleted only when older than this and not among the newest few,
#: so that a long run of another version (a sweep, a dask worker) keeps its cache
_KEEP_NEWEST, _KEEP_SECONDS = 8, 7 * 24 * 3600


def _prune(root: Path, current: Path) -> None:
    """Best effort: drop old caches of other versions; any error leaves an entry alone."""
    try:
        entries = [p for p in root.iterdir() if p != current]
    except OSError:
        return
    aged = []
    for p in entries:
        try:
            aged.append((p.stat().st_mtime, p))
        except OSError:
            continue
    aged.sort(reverse=True)
    now = time.time()
    for mtime, p in aged[_KEEP_NEWEST:]:
        if now - mtime > _KEEP_SECONDS:
            shutil.rmtree(p, ignore_errors=True)


def _select_cache_dir() -> None:
    """Point numba's cache at this version's directory, or else turn caching off.

    Falling back to numba's default per-file cache would bring back the stale-callee problem,
    so a directory that cannot be created (a read-only install without NUMBA_CACHE_DIR) means
    no disk cache: compile every time, never run stale code.
    """
    global jit, CACHE
    for root in (_cache_root(), Path.home() / ".cache" / "trialsim" / "numba"):
        current = root / _source_hash()
        try:
            current.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        numba.config.CACHE_DIR = str(current)
        try:
            os.utime(current)
        except OSError:
            pass
        _prune(root, current)
        return
    CACHE = False
    jit = njit(cache=False, nogil=True)


#: whether kernels are cached on disk (False only where no cache directory can be made)
CACHE = True
#: ``@jit`` compiles a function in nopython mode and caches the machine code on disk, so a
#: second run of the tool does not pay the compilation again.
jit = njit(cache=True, nogil=True)
_select_cache_dir()
