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
from pathlib import Path

import numba
from numba import njit

_PACKAGE = Path(__file__).resolve().parent


def _source_hash() -> str:
    """Digest of the package's Python sources (names and contents)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache_root() -> Path:
    """Where the per-version caches live: under NUMBA_CACHE_DIR if set, else the package."""
    user = os.environ.get("NUMBA_CACHE_DIR")
    return Path(user) / "trialsim" if user else _PACKAGE / "__pycache__" / "numba"


def _select_cache_dir() -> None:
    root = _cache_root()
    current = root / _source_hash()
    try:
        current.mkdir(parents=True, exist_ok=True)
        # keep a few other versions (another checkout may share NUMBA_CACHE_DIR), drop the rest
        others = sorted(
            (p for p in root.iterdir() if p.is_dir() and p != current),
            key=lambda p: p.stat().st_mtime,
        )
        for old in others[:-4]:
            shutil.rmtree(old, ignore_errors=True)
        os.utime(current)
    except OSError:  # read-only install: numba falls back to its own locations
        return
    numba.config.CACHE_DIR = str(current)


_select_cache_dir()

#: ``@jit`` compiles a function in nopython mode and caches the machine code on disk, so a
#: second run of the tool does not pay the compilation again.
jit = njit(cache=True, nogil=True)
