"""The qualification's outputs: ``qualification-YYYY-MM-DD.json`` and ``.html`` in the
output folder (each written atomically; a second run on the same day replaces them) and the
console table.

The HTML page is rendered with Jinja2 from ``templates/qualify.html.j2`` (package data): one
self-contained file, its style inline, nothing fetched from the network.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from trialsim.core.io import atomic_write, write_json
from trialsim.errors import ScenarioError
from trialsim.qualify.results import CheckResult

PREFIX = "qualification"


def prepare_out(out: str | Path) -> Path:
    """The output folder, created if need be, checked before any check runs.

    Raises
    ------
    ScenarioError
        ``out`` is empty, names a file, lies under a file, or cannot be created or written.
    """
    if not str(out).strip():
        raise ScenarioError("--out '': an empty folder name; name a folder, or leave --out "
                            "out for the default (qualification/)")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ScenarioError(f"--out {out}: is a file, not a folder; name a folder (the "
                            f"report is written into it as {PREFIX}-YYYY-MM-DD.json/.html)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ScenarioError(f"--out {out}: a part of the path is a file, not a folder; "
                            "name a folder") from None
    except OSError as exc:
        raise ScenarioError(f"--out {out}: the folder cannot be created: "
                            f"{exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ScenarioError(f"--out {out}: the folder cannot be written (permission denied)")
    return path


def report_paths(out: Path, date: str) -> tuple[Path, Path]:
    """The JSON and HTML files of a report dated ``date`` (YYYY-MM-DD)."""
    return out / f"{PREFIX}-{date}.json", out / f"{PREFIX}-{date}.html"


def fmt(value: Any, digits: int = 10) -> str:
    """A value as the report shows it: floats to ``digits`` significant digits, None as a
    dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else str(value)
    return str(value)


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("trialsim.qualify", "templates"),
                      autoescape=select_autoescape(["html", "j2"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    return env.get_template("qualify.html.j2").render(r=report)


def plain(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays as Python numbers and lists (for JSON)."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalar or array
        return obj.tolist()
    return obj


def write_reports(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write the dated JSON and HTML reports into ``out`` (each atomically)."""
    json_path, html_path = report_paths(out, report["date"])
    html = render_html(report)
    write_json(plain(report), json_path)
    atomic_write(html_path, lambda p: p.write_text(html, encoding="utf-8"))
    return json_path, html_path


#: widths of the console table's columns
_ROW = "{:>2}  {:<20} {:<6} {:>7} {:>9}  {}"


def table_header() -> str:
    """The console table's header line."""
    return _ROW.format("#", "check", "result", "items", "seconds", "what")


def table_row(result: CheckResult) -> str:
    """A check's line of the console table, and for a failure what failed (up to 5)."""
    items = f"{result.items_passed}/{len(result.items)}"
    line = _ROW.format(result.number, result.name, "PASS" if result.passed else "FAIL",
                       items, f"{result.seconds:.1f}", result.title)
    if result.error:
        line += f"\n      error: {result.error}"
    failed = [i for i in result.items if not i.passed]
    for item in failed[:5]:
        line += (f"\n      failed: {item.quantity}: {fmt(item.measured)} vs "
                 f"{fmt(item.reference)} ({item.tolerance})")
    if len(failed) > 5:
        line += f"\n      ... and {len(failed) - 5} more (see the report)"
    return line
