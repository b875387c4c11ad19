"""Command line: ``trialsim run CONFIG [--replicates N] [--n-jobs J] [--seed S] [--out DIR]
[--set PATH=VALUE ...]``.

User errors (bad YAML, bad values, bad options) print a message naming the field and exit
with status 2, without a traceback and without writing anything.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from trialsim.config.scenario import Scenario, ScenarioError, load_scenario, parse_override

#: modules that add subcommands: each has ``register(subparsers)``, which adds its parsers
#: with ``set_defaults(func=...)``; ``func(args) -> int`` may raise ScenarioError
EXTRA_COMMANDS = ("trialsim.cli.experiments", "trialsim.cli.calibration")


def load_from_args(args) -> Scenario:
    """The scenario of a command's CONFIG, ``--set`` overrides and ``--seed``."""
    overrides = dict(parse_override(t) for t in getattr(args, "set", []) or [])
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    return load_scenario(args.config, overrides)


def _int_at_least(minimum: int):
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trialsim", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate one scenario into a results folder")
    run.add_argument("config", help="scenario YAML, e.g. configs/bliss76.yaml")
    run.add_argument("--replicates", type=_positive_int, help="number of simulated trials")
    run.add_argument("--n-jobs", type=_positive_int, help="parallel worker processes")
    run.add_argument("--seed", type=_nonneg_int, help="override the scenario seed")
    run.add_argument("--out", help="results folder (default results/<scenario name>)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field by dotted path, e.g. design.sample_size=600",
    )
    run.add_argument("--backend", choices=("local", "dask"), default="local",
                     help="local: joblib processes; dask: a dask.distributed cluster")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="dask scheduler address (default: a LocalCluster of --n-jobs workers)")
    ck = run.add_mutually_exclusive_group()
    ck.add_argument("--checkpoint", metavar="DIR",
                    help="keep finished chunks in DIR (default <out>/checkpoints, removed "
                    "once the results are written); rerunning resumes from them")
    ck.add_argument("--no-checkpoint", action="store_true", help="keep no checkpoint")
    run.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.set_defaults(func=cmd_run)
    for module in EXTRA_COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(sub)
    return parser


def _print_headline(out) -> None:
    s = out.summary
    sc = out.plan.scenario
    primary = sc.analysis.endpoints[0]
    week = sc.design.endpoint_weeks[0]
    sel = s[(s.endpoint == primary) & (s.week == week)]
    print(
        f"{sc.name}: {out.provenance['replicates']} trials in "
        f"{out.provenance['wall_time_seconds']:.1f} s "
        f"({out.provenance['trials_per_second']:.1f} trials/s)"
    )
    for _, r in sel[sel.statistic == "response_rate"].iterrows():
        print(
            f"  {primary} week {week} {r.arm:>10s}: {100 * r.value:5.1f}% (MCSE {100 * r.mcse:.2f})"
        )
    for _, r in sel[sel.statistic.isin(["power", "odds_ratio_median"])].iterrows():
        print(f"  {r.comparison:>20s} {r.statistic:>18s}: {r.value:.3f} (MCSE {r.mcse:.3f})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        print(f"trialsim: error: {exc}", file=sys.stderr)
        return 2


def cmd_run(args) -> int:
    """``trialsim run``: one scenario into its results folder."""
    scenario = load_from_args(args)
    from trialsim.experiments.pipeline import run_scenario
    from trialsim.run.checkpoint import command_checkpoint

    out_dir = Path(args.out) if args.out else Path("results") / scenario.name
    checkpoint = None if args.no_checkpoint else Path(args.checkpoint or out_dir / "checkpoints")
    with command_checkpoint(checkpoint, keep=args.checkpoint is not None):
        out = run_scenario(
            scenario,
            out_dir,
            replicates=args.replicates,
            n_jobs=args.n_jobs,
            progress=None if not args.quiet else False,
            figures=not args.no_figures,
            backend=args.backend,
            scheduler=args.scheduler,
            checkpoint_dir=checkpoint,
        )
    if not args.quiet:
        _print_headline(out)
        print(f"results written to {out_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
