"""``trialsim qualify [--out DIR] [--quiet]``: installation qualification.

Runs reference checks on the installed package (no source tree needed: the reference values
and scenario files are package data), prints a table of their results and writes
``DIR/qualification-YYYY-MM-DD.json`` and ``.html``. Exit status 0 when every check passed,
1 when any failed, 2 for a usage error (``--out`` naming a file). docs/qualification.md.
"""

from __future__ import annotations

import argparse
import platform
import time

from trialsim import __version__


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``qualify`` subcommand to the ``trialsim`` parser."""
    q = sub.add_parser(
        "qualify",
        help="installation qualification: reference checks of the installed package, with a "
             "dated HTML and JSON report",
        description="Check the installed trialsim against stored reference values "
                    "(statsmodels, lifelines, published BLISS rates), closed-form power, the "
                    "type I error and bit-identical parallel runs, and write a dated report. "
                    "The first run after an install compiles the simulation engine (a few "
                    "minutes); later runs take about a minute or less (docs/qualification.md).")
    q.add_argument("--out", default="qualification",
                   help="folder of the report (default: qualification/ in the current "
                        "folder); today's report there is replaced")
    q.add_argument("--quiet", action="store_true",
                   help="print only the verdict and the files written")
    q.set_defaults(func=cmd_qualify)


class _Console:
    """The progress and table of a qualification run on stdout."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def __call__(self, event: str, payload) -> None:
        from trialsim.qualify.report import table_header, table_row

        if self.quiet:
            return
        if event == "compile":
            print(f"trialsim {__version__} installation qualification on "
                  f"{platform.platform()}, Python {platform.python_version()}", flush=True)
            print("compiling the simulation engine (the first run after an install takes a "
                  "few minutes; later runs load it from the cache) ...", flush=True)
        elif event == "compiled":
            error = f"; error: {payload['error']}" if payload["error"] else ""
            print(f"engine ready after {payload['seconds']:.1f} s{error}", flush=True)
            print(table_header(), flush=True)
        elif event == "check":
            print(table_row(payload), flush=True)


def cmd_qualify(args) -> int:
    """Run the qualification; 0 if every check passed, 1 if any failed."""
    from trialsim.qualify.report import prepare_out, write_reports
    from trialsim.qualify.runner import qualify

    out = prepare_out(args.out)  # before minutes of checks
    report = qualify(progress=_Console(args.quiet))
    json_path, html_path = write_reports(report, out)
    verdict = "PASSED" if report["passed"] else "FAILED"
    print(f"qualification {verdict}: {report['summary']} "
          f"({report['wall_time_seconds']:.1f} s)")
    print(f"wrote {json_path}")
    print(f"wrote {html_path}")
    return 0 if report["passed"] else 1
