"""Command line: ``trialsim run CONFIG [--replicates N] [--n-jobs J] [--seed S] [--out DIR]
[--set PATH=VALUE ...]``.

User errors (bad YAML, bad values, bad options) print a message naming the field and exit
with status 2, without a traceback and without writing anything.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import math
import os
import platform
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

from trialsim import __version__
from trialsim.config.scenario import (
    Engine,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_override,
)
from trialsim.core.io import whole_trial
from trialsim.core.provenance import machine, package_versions

#: modules that add subcommands: each has ``register(subparsers)``, which adds its parsers
#: with ``set_defaults(func=...)``; ``func(args) -> int`` may raise ScenarioError
EXTRA_COMMANDS = (
    "trialsim.cli.experiments", "trialsim.cli.calibration", "trialsim.cli.skin",
    "trialsim.cli.report", "trialsim.cli.qualify", "trialsim.cli.schema",
)
#: other scenario families (skin studies): (claims(config path), {command: handler}), added
#: by the command modules' ``register``; a command hands a scenario file it claims over
SCENARIO_FAMILIES: list = []


def family_handler(command: str, config: str):
    """The handler of ``command`` for a scenario file another family claims, or None."""
    for claims, handlers in SCENARIO_FAMILIES:
        if command in handlers and claims(config):
            return handlers[command]
    return None


def load_from_args(args) -> Scenario:
    """The scenario of a command's CONFIG, ``--set`` overrides and ``--seed`` (its path
    options checked first)."""
    check_path_options(args)
    return load_scenario(args.config, set_overrides(args))


def stamp(t0: float) -> dict:
    """What every command's ``run.json`` records of the software and the run's time
    (``t0``: ``time.perf_counter()`` when the command started)."""
    return {
        "trialsim_version": __version__,
        "python": platform.python_version(),
        "machine": machine(),
        "packages": package_versions(),
        "wall_time_seconds": round(time.perf_counter() - t0, 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def check_path_options(args) -> None:
    """Refuse an empty ``--out`` or ``--checkpoint`` (which would otherwise mean the
    default, and for ``--checkpoint`` also keep it)."""
    for option in ("out", "checkpoint"):
        value = getattr(args, option, None)
        if value is not None and not value.strip():
            raise ScenarioError(
                f"--{option} '': an empty folder name; name a folder, or leave --{option} out "
                "for the default"
            )


def set_overrides(args) -> dict:
    """A command's ``--set`` overrides (and ``--seed``), each path given once."""
    overrides: dict = {}
    for text in getattr(args, "set", []) or []:
        path, value = parse_override(text)
        if path in overrides:
            raise ScenarioError(
                f"--set {path} is given twice ({overrides[path]!r} and {value!r}); give each "
                "field once"
            )
        overrides[path] = value
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    return overrides


def _int_at_least(minimum: int, maximum: int | None = None, limit_of: str = ""):
    """An argparse type: a whole number no smaller than ``minimum`` (and, when given, no
    larger than ``maximum``, the limit of the scenario field ``limit_of``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            where = f" (the limit of {limit_of} in a scenario)" if limit_of else ""
            raise argparse.ArgumentTypeError(f"must be at most {maximum}{where}, got {value}")
        return value

    return parse


def engine_limit(name: str) -> int:
    """The largest value the scenario schema allows for ``engine.<name>``.

    The command-line options that override the ``engine`` block (``--replicates``,
    ``--chunk-size``, ``--n-jobs``) read their limits from the schema, so the CLI and the
    YAML accept the same values.
    """
    for rule in Engine.model_fields[name].metadata:
        if getattr(rule, "le", None) is not None:
            return int(rule.le)
    raise LookupError(f"engine.{name} has no upper limit in the scenario schema")


#: the most replicates a run or an experiment point may have (as ``engine.replicates``)
MAX_REPLICATES = engine_limit("replicates")

_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)
_replicates_int = _int_at_least(1, MAX_REPLICATES, "engine.replicates")
_n_jobs_int = _int_at_least(1, engine_limit("n_jobs"), "engine.n_jobs")
_chunk_int = _int_at_least(1, engine_limit("chunk_size"), "engine.chunk_size")


def _positive_seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds (``--dask-timeout``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trialsim", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate one scenario into a results folder")
    run.add_argument("config", help="scenario YAML, e.g. configs/bliss76.yaml")
    run.add_argument("--replicates", type=_replicates_int,
                     help=f"number of simulated trials (at most {MAX_REPLICATES:,})")
    run.add_argument("--n-jobs", type=_n_jobs_int, help="parallel worker processes")
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
    run.add_argument("--dask-timeout", type=_positive_seconds, metavar="SECONDS",
                     help="with --backend dask: seconds to wait for the scheduler to answer and "
                     "for a first worker (default 30, dask's distributed.comm.timeouts.connect)")
    ck = run.add_mutually_exclusive_group()
    ck.add_argument("--checkpoint", metavar="DIR",
                    help="keep finished chunks in DIR (default <out>/checkpoints, removed "
                    "once the results are written); rerunning resumes from them")
    ck.add_argument("--no-checkpoint", action="store_true", help="keep no checkpoint")
    run.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    run.add_argument("--report", action="store_true",
                     help="also write report.html, the run's HTML report (trialsim report)")
    run.add_argument("--calibration", metavar="DIR",
                     help="with --report: the calibration folder whose status the report "
                     "gives (default results/calibration when there is one)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run.add_argument("--force", action="store_true",
                     help="run even when the estimate needs more disk than is free")
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


#: the headline warns when a smaller share of trials than this was analysable
ANALYZABLE_WARNING = 0.9


def _print_headline(out) -> None:
    s = whole_trial(out.summary)
    sc = out.plan.scenario
    primary = sc.analysis.endpoints[0]
    week = sc.design.endpoint_weeks[0]
    sel = s[(s.endpoint == primary) & (s.week == week)]
    print(
        f"{sc.name}: {out.provenance['replicates']} trials in "
        f"{out.provenance['wall_time_seconds']:.1f} s "
        f"({out.provenance['trials_per_second']:.1f} trials/s)"
    )
    shown = []
    for _, r in sel[sel.statistic == "response_rate"].iterrows():
        shown.append(r.mcse)
        print(f"  {primary} week {week} {r.arm:>10s}: {100 * r.value:5.1f}% "
              f"(MCSE {_mcse(100 * r.mcse, 2)})")
    replicates = out.provenance["replicates"]
    for _, r in sel[sel.statistic.isin(["power", "odds_ratio_median"])].iterrows():
        if r.statistic == "power" and r.value in (0.0, 1.0) and replicates >= 1:
            # the binomial MCSE is 0 there and says nothing: a 95% interval does
            from trialsim.summarize.mcse import wilson_interval

            low, high = wilson_interval(np.array([r.value]), replicates)
            which = "none" if r.value == 0 else "all"
            print(f"  {r.comparison:>20s} {r.statistic:>18s}: {r.value:.3f} ({which} of "
                  f"{replicates} trials rejected; 95% CI {low[0]:.3f}-{high[0]:.3f})")
            continue
        shown.append(r.mcse)
        print(f"  {r.comparison:>20s} {r.statistic:>18s}: {r.value:.3f} "
              f"(MCSE {_mcse(r.mcse, 3)})")
    if any(math.isnan(m) for m in shown):
        print("  (MCSE undefined: an MCSE needs at least 2 replicates, and the odds ratio "
              "median at least 2 analysable trials)")
    for _, r in sel[sel.statistic == "analyzable"].iterrows():
        if r.value < ANALYZABLE_WARNING:
            print(f"  warning: {r.comparison}: only {100 * r.value:.0f}% of trials "
                  f"({round(r.value * replicates)} of {replicates}) were analysable (logistic "
                  "model fitted); its odds ratio median describes those alone, and its power "
                  "counts the others as not rejecting")


def _mcse(value: float, digits: int) -> str:
    return "undefined" if math.isnan(value) else f"{value:.{digits}f}"


def _terminate(signum, frame) -> None:
    """SIGTERM (``timeout``, a batch scheduler, ``kill``) unwinds like Ctrl-C: every
    ``finally`` runs, so locks are released and a checkpoint with nothing in it is removed."""
    raise SystemExit(128 + signum)


#: what the system says when it cannot store a file: a full disk or quota, a file larger
#: than allowed, a read-only file system, a failing device
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


def refused_write(exc: OSError) -> str | None:
    """The user's message for a file the system refused to store (None for other errors).

    The command has unwound by then: nothing was published (the results folder keeps its
    earlier outputs), locks are released and finished chunks stay in a kept checkpoint.
    """
    text = str(exc)
    if exc.errno not in _WRITE_ERRNOS and not any(
            os.strerror(e) in text for e in _WRITE_ERRNOS):
        return None
    from trialsim.experiments.pipeline import PUBLISHED

    what = exc.strerror or text
    where = f" {exc.filename}" if exc.filename else (" the output" if PUBLISHED else " a file")
    if PUBLISHED:  # e.g. the summary printed into a full disk (> /dev/full)
        return (
            f"the results were written to {', '.join(map(str, PUBLISHED))}, but then the "
            f"system refused to write{where} ({what})"
        )
    return (
        f"the system refused to write{where} ({what}). Nothing was published: the results "
        "folder keeps its earlier outputs. Free some space (or quota), or name another "
        "--out, and run the command again"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    from trialsim.experiments.pipeline import PUBLISHED

    PUBLISHED.clear()
    try:
        return args.func(args)
    except BrokenPipeError:  # our reader left (| head): nothing more to say to it
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.dup2(devnull, sys.stderr.fileno())
        return 1
    except ScenarioError as exc:
        print(f"trialsim: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if not refused_write(exc):
            raise
        print(f"trialsim: error: {refused_write(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: everything has unwound (locks, checkpoints)
        print("trialsim: interrupted; rerun the same command to resume from the checkpoint "
              "(when one was kept)", file=sys.stderr)
        return 130
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def report_calibration(args) -> Path | None:
    """The calibration folder a report gives the status of: ``--calibration`` (checked),
    else ``results/calibration`` when there is one."""
    from trialsim.report.calibration_status import check_calibration_folder

    given = getattr(args, "calibration", None)
    if given is not None and not getattr(args, "report", True):
        raise ScenarioError("--calibration names the calibration folder of the report: "
                            "give it with --report")
    return check_calibration_folder(given)


def cmd_run(args) -> int:
    """``trialsim run``: one scenario into its results folder."""
    handler = family_handler("run", args.config)
    if handler is not None:
        return handler(args)
    scenario = load_from_args(args)
    calibration = report_calibration(args)
    from trialsim.experiments.pipeline import RUN_OUTPUTS, results_folder, run_scenario
    from trialsim.run.checkpoint import command_checkpoint

    out_dir = Path(args.out) if args.out else Path("results") / scenario.name
    checkpoint = None if args.no_checkpoint else Path(args.checkpoint or out_dir / "checkpoints")
    # the results folder is checked and locked before anything is simulated (the estimate's
    # pilot run included), and stays so until its checkpoint is tidied up
    with results_folder(out_dir, RUN_OUTPUTS, checkpoint=checkpoint):
        from trialsim.cli.estimate import announce, check_resources, estimate

        eng = scenario.engine
        est = estimate(scenario, [(1.0, args.replicates or eng.replicates)],
                       n_jobs=args.n_jobs or eng.n_jobs, chunk_size=eng.chunk_size,
                       datasets=True, checkpoint=checkpoint is not None,
                       backend=args.backend, where=out_dir)
        check_resources(est, args.force)  # before the estimate says how to resume
        if not args.quiet:
            announce(est)
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
                dask_timeout=args.dask_timeout,
                checkpoint_dir=checkpoint,
                report=args.report,
                calibration=calibration,
            )
    if out.report_error:
        print(f"trialsim: warning: the results are published, but report.html could not be "
              f"written ({out.report_error}); `trialsim report {out_dir}` writes it",
              file=sys.stderr)
    if not args.quiet:
        _print_headline(out)
        print(f"results written to {out_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
