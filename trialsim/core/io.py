"""Writing results: atomic file writes and run provenance."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

#: columns of ``summary.csv`` (the tidy summary table)
SUMMARY_COLUMNS = (
    "scenario", "endpoint", "week", "arm", "comparison", "statistic", "value", "mcse",
)

_UMASK = os.umask(0)  # read once: changing the umask is process-wide
os.umask(_UMASK)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write a file atomically: ``write(tmp)`` into a temp file beside it, then rename.

    A reader (or a killed process) never sees a half-written file at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs are for collaborators too
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    return atomic_write(path, lambda p: df.to_csv(p, index=False, float_format="%.10g"))


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    return atomic_write(path, lambda p: df.to_parquet(p, index=False))


def write_json(obj: dict, path: str | Path) -> Path:
    return atomic_write(
        path, lambda p: p.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    )
