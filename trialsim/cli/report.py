"""``trialsim report RESULTS_DIR [--out report.html] [--calibration DIR] [--source NAME]``:
the HTML report of a results folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trialsim.config.published import SOURCE_POPULATIONS
from trialsim.errors import ScenarioError


def register(sub: argparse._SubParsersAction) -> None:
    rep = sub.add_parser("report", help="write the HTML report of a results folder")
    rep.add_argument("folder", metavar="RESULTS_DIR",
                     help="a folder a trialsim command wrote, e.g. results/bliss76")
    rep.add_argument("--out", metavar="FILE",
                     help="the HTML file (default RESULTS_DIR/report.html)")
    rep.add_argument("--calibration", metavar="DIR",
                     help="the calibration folder whose status the report gives (default "
                     "results/calibration when there is one)")
    rep.add_argument("--source", choices=sorted(SOURCE_POPULATIONS),
                     help="the published population the simulated baseline is set against "
                     "(default: the scenario's own, when it is a preset)")
    rep.add_argument("--quiet", action="store_true", help="print nothing")
    rep.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    """Write the report; refuse an ``--out`` that is a folder or not an ``.html`` name."""
    from trialsim.report.calibration_status import calibration_status, check_calibration_folder
    from trialsim.report.folder import ResultsFolder
    from trialsim.report.html import write_report

    out = Path(args.out) if args.out is not None else None
    if out is not None:
        if not str(args.out).strip() or out.is_dir():
            raise ScenarioError(f"--out {args.out!r}: name an HTML file, e.g. report.html, "
                                "not a folder")
        if out.suffix.lower() not in (".html", ".htm"):
            raise ScenarioError(f"--out {args.out}: the report is HTML; name a file ending "
                                "in .html")
    res = ResultsFolder(args.folder)
    if args.source is not None and not (res.command == "run" and res.family == "sle"):
        raise ScenarioError(f"--source {args.source}: sets a run's simulated baseline against "
                            f"a published one; {args.folder} holds the output of "
                            f"`trialsim {res.command}` ({res.family}), which has no baseline")
    if args.calibration is not None and res.family == "skin":
        raise ScenarioError(f"--calibration: {args.folder} is a skin study, whose model is "
                            "calibrated to the seed 004 cohort, not by `trialsim calibrate`")
    calibration = check_calibration_folder(args.calibration)
    path = write_report(args.folder, out, calibration=calibration, source=args.source)
    status = calibration_status(calibration, res.config, res.name) \
        if res.family == "sle" and res.command not in ("calibrate", "explain") else None
    if status is not None and status.ok is False:
        print(f"trialsim: warning: {status.verdicts[0]}", file=sys.stderr)
    if not args.quiet:
        print(f"report written to {path}")
    return 0
