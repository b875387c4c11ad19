"""Writing results: atomic file writes and run provenance."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

#: columns of ``summary.csv`` (the tidy summary table)
SUMMARY_COLUMNS = (
    "scenario", "endpoint", "week", "arm", "comparison", "subgroup", "level", "statistic",
    "value", "mcse",
)



def whole_trial(summary: pd.DataFrame) -> pd.DataFrame:
    """The whole-trial rows of a summary table: ``subgroup`` empty (read back from
    ``summary.csv``, an empty cell is nan); a table without the column is all whole-trial."""
    if "subgroup" not in summary.columns:
        return summary
    sg = summary["subgroup"]
    return summary[sg.isna() | (sg == "")]


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


def _finite(obj):
    """``obj`` with every non-finite float (nan, ±inf) replaced by None: JSON has no NaN."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_json(obj: dict, path: str | Path) -> Path:
    """Write ``obj`` as strict JSON (RFC 8259): non-finite floats become ``null``."""
    text = json.dumps(_finite(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write(path, lambda p: p.write_text(text))
