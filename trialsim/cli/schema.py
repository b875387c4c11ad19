"""``trialsim schema``: the JSON Schema of a scenario file, for editors (docs/editors.md).

``trialsim schema > trialsim.schema.json`` prints the editor schema of the SLE scenario
files; ``--family skin`` that of the skin scenarios, ``--family calibration`` that of the
calibration spec; ``--strict`` the schema of a complete, resolved file. The shipped schemas
(``configs/schema/*.schema.json``) are regenerated with ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trialsim.config.json_schema import FAMILIES, Family, family_schema, schema_text
from trialsim.core.io import atomic_write
from trialsim.errors import ScenarioError

#: every ``--family``: the scenario families of the config layer, and the calibration spec
FAMILY_NAMES = (*FAMILIES, "calibration")


def family(name: str) -> Family:
    """The family named by ``--family`` (the calibration spec's model is imported only
    when asked for: it lives in the experiments layer)."""
    if name == "calibration":
        from trialsim.experiments.calibration import CalibrationSpec

        # a spec is one complete file (no extends): the editor schema keeps its required keys
        return Family("calibration", CalibrationSpec, "trialsim calibration spec",
                      partial=False, command="trialsim calibrate")
    return FAMILIES[name]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schema", help="print the JSON Schema of scenario files (for editors)",
        description="Print the JSON Schema of a scenario file, with each field's "
                    "documentation and unit, for editors (docs/editors.md).")
    p.add_argument("--family", choices=FAMILY_NAMES, default="scenario",
                   help="which files: SLE scenarios (default), skin scenarios, or the "
                        "calibration spec")
    p.add_argument("--strict", action="store_true",
                   help="the schema of a complete, resolved file (required fields kept, no "
                        "loader keys such as extends); default: the editor schema, for "
                        "partial files")
    p.add_argument("--out", metavar="FILE",
                   help="write the schema to FILE (atomically) instead of standard output")
    p.set_defaults(func=cmd_schema)


def cmd_schema(args) -> int:
    """``trialsim schema``: print or write the schema."""
    if args.out is not None and not args.out.strip():
        raise ScenarioError("--out '': an empty file name; name the schema file, or leave "
                            "--out out to print the schema")
    text = schema_text(family_schema(family(args.family), strict=args.strict))
    if args.out is None:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if out.is_dir():
        raise ScenarioError(f"--out {out}: is a folder; name the schema file to write")
    if out.suffix.lower() != ".json":
        raise ScenarioError(f"--out {out}: the schema is JSON; name a file ending in .json "
                            "(e.g. configs/schema/scenario.schema.json)")
    atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))
    return 0
