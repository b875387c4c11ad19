"""Tables for the HTML report: numbers formatted to their Monte Carlo precision, each cell
keyed to the row of the file it came from (so a test, or a reader, can trace it back).

A ``Table`` is plain data (title, columns, rows of ``Cell``); the Jinja2 template renders it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

#: the columns of ``summary.csv`` that name a row (its key)
SUMMARY_KEY = ("endpoint", "week", "arm", "comparison", "subgroup", "level", "statistic")


@dataclass
class Cell:
    """One table cell: its text, and for a number from a results file its exact value, the
    file and the row key there (rendered as ``data-*`` attributes)."""

    text: str
    value: float | None = None
    key: str | None = None
    source: str | None = None
    numeric: bool = False


@dataclass
class Table:
    """A titled table of cells; ``collapsed`` tables are shown folded (``<details>``)."""

    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""
    collapsed: bool = False


def is_missing(v) -> bool:
    """True for None, NaN and pandas' missing values."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def decimals_for(mcse: float) -> int:
    """Decimals that show a number to its Monte Carlo precision: to the first significant
    digit of its MCSE, or the second when that digit is 1 or 2 (0.25 with MCSE 0.22, not
    0.2; 0.282 with MCSE 0.010)."""
    exponent = math.floor(math.log10(mcse))
    lead = int(mcse / 10.0 ** exponent)
    return min(8, max(0, -exponent + (1 if lead < 3 else 0)))


def _no_negative_zero(text: str) -> str:
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def fmt_number(v, mcse: float | None = None) -> str:
    """A number to show: to its Monte Carlo precision when it has an MCSE
    (:func:`decimals_for`), else to four significant digits; ``–`` for missing, ``∞`` for
    infinite; whole numbers as they are (seeds, sizes: no thousands separators)."""
    if is_missing(v):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "iu"):
        return str(int(v))
    if not isinstance(v, float):
        return str(v)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if mcse is not None and not is_missing(mcse) and 0 < mcse < math.inf:
        return _no_negative_zero(f"{v:.{decimals_for(mcse)}f}")
    if v != 0 and (abs(v) >= 1e7 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if v.is_integer():
        return str(int(v))
    if abs(v) >= 1e4:
        return f"{v:.0f}"
    return _no_negative_zero(f"{v:.4g}")


def fmt_mcse(mcse) -> str:
    """An MCSE to two significant digits (``–`` when undefined)."""
    if is_missing(mcse) or (isinstance(mcse, float) and math.isinf(mcse)):
        return "–"
    if mcse == 0:
        return "0"
    return f"{mcse:#.2g}".rstrip(".")


def key_of(row, columns=SUMMARY_KEY) -> str:
    """The key of a results-file row: its naming columns joined by ``|`` (empty when
    missing; whole numbers without a decimal point)."""
    parts = []
    for c in columns:
        v = row[c] if c in row else None
        if is_missing(v):
            parts.append("")
        elif isinstance(v, float) and v.is_integer():
            parts.append(str(int(v)))
        else:
            parts.append(str(v))
    return "|".join(parts)


def value_cell(value, mcse=None, key: str | None = None, source: str | None = None,
               percent: bool = False) -> Cell:
    """A number with its MCSE in brackets (as a percentage when ``percent``)."""
    scale = 100.0 if percent else 1.0
    m = None if is_missing(mcse) else float(mcse) * scale
    v = value if is_missing(value) else float(value) * scale
    text = fmt_number(v, m) + ("%" if percent and not is_missing(value) else "")
    if m is not None:
        text += f" ({fmt_mcse(m)})"
    exact = None if value is None or value is pd.NA else float(value)
    return Cell(text, exact, key, source, numeric=True)


def frame_table(df: pd.DataFrame, title: str, source: str, note: str = "",
                collapsed: bool = False) -> Table:
    """Any results table as it is: every column, numbers formatted, each number cell keyed
    by its row number in ``source`` (``df``'s index: a selection keeps the file's rows)."""
    table = Table(title, [str(c) for c in df.columns], note=note, collapsed=collapsed)
    for i, row in zip(df.index, df.itertuples(index=False), strict=True):
        cells = []
        for col, v in zip(df.columns, row, strict=True):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                cells.append(Cell(fmt_number(v), float(v), f"{i}|{col}", source, numeric=True))
            else:
                cells.append(Cell("" if is_missing(v) else str(v)))
        table.rows.append(cells)
    return table


def summary_rows_table(s: pd.DataFrame, title: str, columns: tuple[str, ...],
                       note: str = "", collapsed: bool = True) -> Table:
    """Rows of ``summary.csv`` in long form: the naming ``columns``, the value and its MCSE
    (each value cell keyed by its summary row)."""
    table = Table(title, [*columns, "value (MCSE)"], note=note, collapsed=collapsed)
    for _, r in s.iterrows():
        names = [Cell("" if is_missing(r[c]) else fmt_number(r[c]) if c == "week"
                      else str(r[c])) for c in columns]
        table.rows.append([*names, value_cell(r.value, r.mcse, key_of(r), "summary.csv")])
    return table
