"""Command line for experiments: ``trialsim power``, ``trialsim sweep``, ``trialsim samplesize``.

::

    trialsim power CONFIG --sizes 300,450,600 [--endpoint sri4] [--comparison bel10_vs_placebo]
    trialsim sweep CONFIG --sweep population.race.black=0.1,0.2,0.3 [--sweep PATH=...]
                   [--one-at-a-time]
    trialsim samplesize CONFIG --target-power 0.9 [--endpoint sri4] [--comparison ...]

Each writes its tables, figures and ``run.json`` into ``--out`` (default
``results/<scenario>/<command>/``) and keeps every finished chunk in a checkpoint
(``<out>/checkpoints``, removed once the outputs are written; ``--checkpoint DIR`` keeps it,
``--no-checkpoint`` disables it): rerunning an interrupted command continues where it
stopped, with bit-identical tables and figures.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from trialsim.analysis import Z_95
from trialsim.cli.main import (
    MAX_REPLICATES,
    _chunk_int,
    _int_at_least,
    _n_jobs_int,
    _nonneg_int,
    _positive_seconds,
    _replicates_int,
    family_handler,
    load_from_args,
    set_overrides,
    stamp,
)
from trialsim.config.scenario import (
    MAX_SAMPLE_SIZE,
    Scenario,
    ScenarioError,
    mix_shares,
    no_duplicates,
    number_or_text,
    read_yaml_text,
)
from trialsim.core.io import write_csv, write_json
from trialsim.experiments.samplesize import MAX_BOOTSTRAP

# --------------------------------------------------------------------------- option types


def parse_sizes(text: str) -> list[int]:
    """``"300,450,600"`` → ``[300, 450, 600]`` (argparse type of ``--sizes``)."""
    sizes = []
    for part in text.split(","):
        part = part.strip()
        try:
            n = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not a whole number (in {text!r}); give total sample sizes like "
                "300,450,600"
            ) from None
        if not 1 <= n <= MAX_SAMPLE_SIZE:
            raise argparse.ArgumentTypeError(
                f"{n} is not a sample size of 1 to {MAX_SAMPLE_SIZE:,} (in {text!r})")
        sizes.append(n)
    return sizes


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """``"PATH=v1,v2"`` → ``(PATH, [v1, v2])`` (argparse type of ``--sweep``).

    The values are read as a YAML flow list, so numbers, booleans, strings and lists work:
    ``design.endpoint_weeks=[24],[52]`` gives two lists.
    """
    if "=" not in text:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected PATH=v1,v2,..., e.g. population.race.black=0.1,0.2,0.3"
        )
    path, raw = (s.strip() for s in text.split("=", 1))
    if not path or any(not p for p in path.split(".")):
        raise argparse.ArgumentTypeError(f"{text!r}: empty or malformed path {path!r}")
    try:
        values = read_yaml_text(f"[{raw}]")
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: cannot read the values {raw!r} as a comma-separated list ({exc})"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one value after '='")
    values = [number_or_text(v) for v in values]
    try:
        no_duplicates(values)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return path, values


_EXAMPLES = {"endpoint": "sri4", "week": "52", "comparison": "bel10_vs_placebo"}


def check_target_options(args) -> None:
    """Refuse an empty ``--endpoint``/``--week``/``--comparison`` (or an empty entry of a
    comma-separated list), which would otherwise mean 'the default'."""
    for option, example in _EXAMPLES.items():
        given = getattr(args, option, None)
        if given is None:
            continue
        for text in given if isinstance(given, list) else [given]:
            if any(not piece.strip() for piece in text.split(",")):
                raise ScenarioError(
                    f"--{option} {text!r}: an empty {option}; give one, e.g. --{option} "
                    f"{example}, or leave the option out for the default"
                )


def _names(values: list[str] | None) -> list[str] | None:
    """Repeatable, comma-separated name options flattened (None when not given)."""
    if not values:
        return None
    return [v.strip() for text in values for v in text.split(",") if v.strip()]


def _weeks(values: list[str] | None) -> list[Any] | None:
    names = _names(values)
    if names is None:
        return None
    out: list[Any] = []
    for v in names:
        if v == "all":
            out.append(v)
            continue
        try:
            out.append(int(v))
        except ValueError:
            raise ScenarioError(f"--week {v!r}: expected a whole number of weeks or all") from None
    return out


# --------------------------------------------------------------------------- parsers


def _add_common(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("config", help="scenario YAML, e.g. configs/bliss76.yaml")
    p.add_argument("--replicates", type=_replicates_int,
                   help=f"simulated trials per {what} (default: engine.replicates; at most "
                   f"{MAX_REPLICATES:,})")
    p.add_argument("--n-jobs", type=_n_jobs_int,
                   help="parallel worker processes (and LocalCluster workers with dask)")
    p.add_argument("--chunk-size", type=_chunk_int,
                   help="replicates per task and per checkpoint file (default engine.chunk_size)")
    p.add_argument("--seed", type=_nonneg_int, help="override the scenario seed")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario field by dotted path, e.g. design.sample_size=600")
    p.add_argument("--out", help="results folder (default results/<scenario>/<command>)")
    p.add_argument("--backend", choices=("local", "dask"), default="local",
                   help="local: joblib processes; dask: a dask.distributed cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: start a "
                   "LocalCluster of --n-jobs workers)")
    p.add_argument("--dask-timeout", type=_positive_seconds, metavar="SECONDS",
                   help="with --backend dask: seconds to wait for the scheduler to answer and for "
                   "a first worker (default 30, dask's distributed.comm.timeouts.connect)")
    ck = p.add_mutually_exclusive_group()
    ck.add_argument("--checkpoint", metavar="DIR",
                    help="checkpoint directory, kept after the run (default <out>/checkpoints, "
                    "removed once every output is written)")
    ck.add_argument("--no-checkpoint", action="store_true",
                    help="keep no checkpoint (an interrupted run starts over)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or printed summary")
    p.add_argument("--force", action="store_true",
                   help="run even when the estimate needs more memory or disk than there is")


def _add_targets(p: argparse.ArgumentParser, many: bool) -> None:
    kind = "append" if many else "store"
    more = " (repeat or comma-separate; all for every one)" if many else ""
    p.add_argument("--endpoint", action=kind,
                   help=f"endpoint, e.g. sri4 (default: the primary endpoint){more}")
    p.add_argument("--week", action=kind,
                   help=f"endpoint week (default: the primary week){more}")
    default = "all" if many else "the first"
    p.add_argument("--comparison", action=kind,
                   help=f"comparison, e.g. bel10_vs_placebo (default: {default}){more}")


def register(subparsers) -> None:
    """Add the ``power``, ``sweep`` and ``samplesize`` subcommands."""
    p = subparsers.add_parser("power", help="power against total sample size (CRN power curve)")
    _add_common(p, "sample size")
    p.add_argument("--sizes", type=parse_sizes, metavar="N1,N2,...",
                   help="total sample sizes (default: 0.5, 0.75, 1, 1.25, 1.5 × the scenario's)")
    _add_targets(p, many=True)
    p.add_argument("--target", type=float, help="draw a target power line, e.g. 0.9")
    p.set_defaults(func=cmd_power)

    s = subparsers.add_parser("sweep", help="simulate a grid of scenario fields (dotted paths)")
    _add_common(s, "grid point")
    s.add_argument("--sweep", type=parse_sweep, action="append", default=[],
                   metavar="PATH=v1,v2,...",
                   help="values of a field by dotted path; repeat for more factors (adds to "
                   "the scenario's sweep: block)")
    s.add_argument("--one-at-a-time", action="store_true",
                   help="vary each factor alone around the base scenario (tornado plot) "
                   "instead of the full factorial grid")
    _add_targets(s, many=False)
    s.set_defaults(func=cmd_sweep)

    z = subparsers.add_parser("samplesize", help="smallest total N reaching a target power")
    _add_common(z, "searched size")
    z.add_argument("--target-power", type=float, required=True, help="e.g. 0.9")
    _add_targets(z, many=False)
    z.add_argument("--statistic", choices=("power", "power_favoring_treatment"),
                   default="power", help="two-sided rejection, or rejection favoring treatment")
    z.add_argument("--n-min", type=_int_at_least(1, MAX_SAMPLE_SIZE, "design.sample_size"),
                   help="smallest N searched")
    z.add_argument("--n-max", type=_int_at_least(1, MAX_SAMPLE_SIZE, "design.sample_size"),
                   help=f"largest N searched (default 8 × N, at most {MAX_SAMPLE_SIZE:,})")
    z.add_argument("--confirm-replicates",
                   type=_int_at_least(0, MAX_REPLICATES, "engine.replicates"),
                   help="fresh replicates of the confirmation run at the chosen N "
                   "(default --replicates; 0 skips it)")
    z.add_argument("--bootstrap", type=_int_at_least(1, MAX_BOOTSTRAP), default=1000,
                   help="bootstrap resamples for the Monte Carlo uncertainty of N")
    z.set_defaults(func=cmd_samplesize)

    from trialsim.experiments.assurance import MAX_DRAWS

    a = subparsers.add_parser(
        "assurance", help="probability of success over the calibration's parameter uncertainty")
    _add_common(a, "parameter draw and sample size")
    a.add_argument("--calibration", default="results/calibration", metavar="FOLDER",
                   help="results folder of `trialsim calibrate` (default results/calibration)")
    a.add_argument("--draws", type=_int_at_least(2, MAX_DRAWS), default=100,
                   help="parameter draws from the fit's asymptotic normal (default 100)")
    a.add_argument("--draw-seed", type=_nonneg_int, default=0,
                   help="seed of the parameter draws (the trials use the scenario's seed)")
    a.add_argument("--sizes", type=parse_sizes, metavar="N1,N2,...",
                   help="total sample sizes (default: the scenario's)")
    _add_targets(a, many=True)
    a.set_defaults(func=cmd_assurance)


# --------------------------------------------------------------------------- helpers


def _settings(args, scenario: Scenario, out: Path):
    from trialsim.experiments.power import RunSettings

    if args.scheduler and args.backend != "dask":
        raise ScenarioError("--scheduler needs --backend dask")
    checkpoint = None if args.no_checkpoint else Path(args.checkpoint or out / "checkpoints")
    return RunSettings(
        replicates=args.replicates,
        n_jobs=args.n_jobs,
        chunk_size=args.chunk_size,
        backend=args.backend,
        scheduler=args.scheduler,
        checkpoint_dir=checkpoint,
        progress=False if args.quiet else None,
        dask_timeout=args.dask_timeout,
    )


def _out_dir(args, scenario: Scenario, command: str) -> Path:
    return Path(args.out) if args.out else Path("results") / scenario.name / command


def _provenance(command: str, scenario: Scenario, settings, t0: float, **extra) -> dict:
    eng = scenario.engine
    return {
        "command": command,
        "scenario": scenario.name,
        "scenario_sha256": scenario.digest(),
        "seed": scenario.seed,
        "replicates": settings.replicates or eng.replicates,
        "n_jobs": settings.n_jobs or eng.n_jobs,
        "chunk_size": settings.chunk_size or eng.chunk_size,
        "backend": settings.backend,
        "scheduler": settings.scheduler,
        "checkpoint": str(settings.checkpoint_dir) if settings.checkpoint_dir else None,
        **extra,
        **stamp(t0),
        "scenario_config": scenario.model_dump(mode="json"),
    }


def _checkpoint(args, settings):
    """Tidy the checkpoint when the command ends (``checkpoint.command_checkpoint``)."""
    from trialsim.run.checkpoint import command_checkpoint

    return command_checkpoint(settings.checkpoint_dir, keep=args.checkpoint is not None)


def mcse_text(mcse) -> str:
    """``MCSE ≤ <largest>`` of a column of MCSEs, or why there is none (nan: fewer than two
    replicates)."""
    values = np.asarray(mcse, dtype=float)
    if values.size == 0 or np.isnan(values).all():
        return "MCSE undefined: an MCSE needs at least 2 replicates"
    if np.nanmax(values) == 0:
        return ("every power is 0 or 1, where the binomial MCSE is 0 and says nothing: the "
                "table's ci_low/ci_high give 95% intervals")
    return f"MCSE ≤ {np.nanmax(values):.3f}"


def _announce(args, scenario: Scenario, settings, out: Path, points, held: int,
              note: str = "") -> None:
    """Print the estimate of a long experiment to stderr (``trialsim.cli.estimate``) and
    refuse one that needs more memory or disk than there is (unless ``--force``)."""
    from trialsim.cli.estimate import announce, check_resources, estimate

    eng = scenario.engine
    est = estimate(scenario, points, n_jobs=settings.n_jobs or eng.n_jobs,
                   chunk_size=settings.chunk_size or eng.chunk_size,
                   checkpoint=settings.checkpoint_dir is not None, held=held,
                   backend=settings.backend, where=out, note=note)
    check_resources(est, args.force)  # before the estimate says how to resume
    if not args.quiet:
        announce(est)


#: what each command writes in its results folder (names or glob patterns): a rerun
#: replaces all of them and keeps everything else there (``trialsim.experiments.pipeline``)
OUTPUTS = {
    "power": ("power.csv", "sample_size_by_endpoint.csv", "power.png",
              "endpoint_sensitivity.png", "run.json", "report.html"),
    "sweep": ("sweep.csv", "tornado.csv", "tornado_*.png", "sweep.png", "heatmap_*.png",
              "run.json", "report.html"),
    "samplesize": ("samplesize.json", "samplesize_points.csv", "samplesize.png", "run.json",
                   "report.html"),
    "assurance": ("assurance.csv", "assurance_draws.csv", "assurance.png", "run.json",
                  "report.html"),
}


@contextlib.contextmanager
def _writing(args, settings, out: Path, command: str) -> Iterator[Path]:
    """The results folder held from before the simulation (checked, locked: see
    ``pipeline.results_folder``) and the checkpoint tidied at the end (:func:`_checkpoint`);
    yields a staging folder for the outputs, which replaces the command's earlier outputs
    in one step when the block ends (``pipeline.staged``)."""
    from trialsim.experiments.pipeline import results_folder, staged

    outputs = OUTPUTS[command]
    with results_folder(out, outputs, command, settings.checkpoint_dir) as final, \
            _checkpoint(args, settings), \
            staged(final, outputs) as stage:
        yield stage


def _save(fig, path: Path) -> None:
    from trialsim.report.plots import save_figure

    save_figure(fig, path)


# --------------------------------------------------------------------------- commands


def cmd_power(args) -> int:
    """``trialsim power``: power.csv, sample_size_by_endpoint.csv, power.png,
    endpoint_sensitivity.png and run.json."""
    handler = family_handler("power", args.config)
    if handler is not None:
        return handler(args)
    check_target_options(args)
    from trialsim.experiments.power import power_curve, sample_size_table
    from trialsim.report import plots_experiments as px

    t0 = time.perf_counter()
    if args.target is not None and not 0 < args.target < 1:
        raise ScenarioError(f"--target {args.target:g}: a target power must lie strictly "
                            "between 0 and 1, e.g. 0.9")
    scenario = load_from_args(args)
    out = _out_dir(args, scenario, "power")
    n0 = scenario.design.sample_size
    sizes = args.sizes or sorted({max(6, round(n0 * f)) for f in (0.5, 0.75, 1, 1.25, 1.5)})
    settings = _settings(args, scenario, out)
    reps = settings.replicates or scenario.engine.replicates
    with _writing(args, settings, out, "power") as stage:
        # the folder is checked and locked before the estimate's pilot run
        _announce(args, scenario, settings, out, [(n / n0, reps) for n in set(sizes)],
                  held=reps * len(set(sizes)))
        table = power_curve(
            scenario,
            sizes,
            endpoints=_names(args.endpoint),
            weeks=_weeks(args.week),
            comparisons=_names(args.comparison),
            settings=settings,
        )
        write_csv(table, stage / "power.csv")
        sizes_needed = sample_size_table(table, scenario)
        write_csv(sizes_needed, stage / "sample_size_by_endpoint.csv")
        if not args.no_figures:
            fig = px.plot_power_curve(table, target=args.target,
                                      title=f"{scenario.name}: power by total sample size")
            _save(fig, stage / "power.png")
            fig = px.plot_endpoint_sensitivity(
                sizes_needed, n0, title=f"{scenario.name}: endpoint sensitivity")
            _save(fig, stage / "endpoint_sensitivity.png")
        write_json(_provenance("power", scenario, settings, t0, sizes=sorted(set(sizes))),
                   stage / "run.json")
    if not args.quiet:
        p = table[table.statistic == "power"]
        wide = p.pivot_table(index="sample_size", columns=["endpoint", "week", "comparison"],
                             values="value", sort=False)
        print(f"{scenario.name}: power ({mcse_text(p.mcse)}) by total sample size")
        print(wide.to_string(float_format=lambda v: f"{v:.3f}"))
        _warn_analysable(table)
        print(f"results written to {out}/")
    return 0


def cmd_sweep(args) -> int:
    """``trialsim sweep``: sweep.csv, figures and run.json."""
    handler = family_handler("sweep", args.config)
    if handler is not None:
        return handler(args)
    check_target_options(args)
    from trialsim.experiments.power import select_targets, sweep, tornado_table
    from trialsim.report import plots_experiments as px

    t0 = time.perf_counter()
    scenario = load_from_args(args)
    out = _out_dir(args, scenario, "sweep")
    factors = dict(scenario.sweep)
    factors.update(dict(args.sweep))
    design = "oat" if args.one_at_a_time else "factorial"
    settings = _settings(args, scenario, out)
    eps, wks, comps = select_targets(
        scenario,
        [args.endpoint] if args.endpoint else None,
        _weeks([args.week]) if args.week else None,
        [args.comparison] if args.comparison else None,
    )
    endpoint, week = eps[0], wks[0]
    comparisons = comps if args.comparison in (None, "all") else comps[:1]
    with _writing(args, settings, out, "sweep") as stage:
        _announce_sweep(args, scenario, settings, out, factors, design)
        table = sweep(scenario, factors, design=design, settings=settings,
                      pinned=mix_shares(set_overrides(args)))
        write_csv(table, stage / "sweep.csv")
        paths = list(factors)
        sel, own_week = _at_week(table, endpoint, week, comparisons)
        if design == "oat":
            tornado = [tornado_table(table, endpoint, week, c).assign(comparison=c)
                       for c in comparisons]
            import pandas as pd

            tor = pd.concat(tornado, ignore_index=True)
            write_csv(tor, stage / "tornado.csv")
            if not args.no_figures:
                for c in comparisons:
                    fig = px.plot_tornado(
                        tor[tor.comparison == c],
                        title=f"{scenario.name}: {endpoint} week {week}, {c}: power sensitivity",
                    )
                    _save(fig, stage / f"tornado_{c}.png")
        elif not args.no_figures and len(paths) == 1:
            fig = px.plot_power_lines(sel, paths[0], series=["comparison"], xlabel=paths[0],
                                      title=f"{scenario.name}: {endpoint} week {week} power")
            _save(fig, stage / "sweep.png")
        elif not args.no_figures and len(paths) == 2:
            for c in comparisons:
                fig = px.plot_sweep_heatmap(table, paths[0], paths[1], endpoint, week, c)
                _save(fig, stage / f"heatmap_{c}.png")
        if not args.no_figures and any(p.startswith("screening.") for p in paths):
            fig = px.plot_power_vs_screening(
                table, paths, endpoint, week, comparisons,
                title=f"{scenario.name}: {endpoint} week {week} power against screening")
            _save(fig, stage / "power_vs_screening.png")
        write_json(_provenance("sweep", scenario, settings, t0, design=design, factors=factors),
                   stage / "run.json")
    if not args.quiet:
        p = sel[sel.statistic == "power"]
        cols = (["varied"] if design == "oat" else []) + paths + (["week"] if own_week else [])
        wide = p.pivot_table(index=cols, columns="comparison", values="value", sort=False)
        print(f"{scenario.name}: {endpoint} week {week} power ({mcse_text(p.mcse)})")
        if own_week:
            print(f"  ({len(own_week)} grid point(s) evaluate no week {week}: shown at their own "
                  "first endpoint week, in the week column)")
        print(wide.to_string(float_format=lambda v: f"{v:.3f}"))
        _warn_analysable(sel)
        print(f"results written to {out}/")
    return 0


def _at_week(table, endpoint: str, week: int, comparisons) -> tuple[Any, list[int]]:
    """The rows of ``endpoint`` and ``comparisons`` at ``week``; a grid point that evaluates
    no ``week`` (a sweep of ``design.endpoint_weeks``) gives its rows at its own first
    endpoint week instead. Returns the rows and those points."""
    rows = table[(table.endpoint == endpoint) & table.comparison.isin(comparisons)]
    at = rows.week == week
    own = sorted(set(rows.point) - set(rows.point[at]))
    if own:
        first = rows[rows.point.isin(own)].groupby("point").week.first()
        at |= rows.point.isin(own) & (rows.week == rows.point.map(first))
    return rows[at], own


def _warn_analysable(rows) -> None:
    """Warn, under a printed power table, about the points where a material share of
    trials could not be analysed (they count as not rejecting)."""
    from trialsim.cli.main import ANALYZABLE_WARNING

    low = rows[(rows.statistic == "analyzable") & (rows.value < ANALYZABLE_WARNING)]
    if low.empty:
        return
    worst = low.loc[low.value.idxmin()]
    where = f" at sample_size={worst.sample_size}" if "sample_size" in low.columns else ""
    print(f"  warning: at {len(low)} point(s) fewer than {ANALYZABLE_WARNING:.0%} of trials were "
          f"analysable (logistic model fitted; as few as {worst.value:.0%}{where}, "
          f"{worst.comparison}); power counts the others as not rejecting (the 'analyzable' "
          "rows of the table)")


def _announce_sweep(args, scenario: Scenario, settings, out: Path, factors, design) -> None:
    from trialsim.cli.estimate import relative_cost
    from trialsim.config.scenario import with_overrides
    from trialsim.experiments.power import sweep_points

    grid = sweep_points(factors, design)
    reps = settings.replicates or scenario.engine.replicates
    costs = []
    for _, over in grid:
        try:
            costs.append(relative_cost(scenario, with_overrides(scenario, over)))
        except ScenarioError:  # the sweep itself reports it, naming the point
            costs.append(1.0)
    _announce(args, scenario, settings, out, [(c, reps) for c in costs],
              held=reps * len(grid))


def cmd_samplesize(args) -> int:
    """``trialsim samplesize``: samplesize.json, samplesize_points.csv, a figure, run.json."""
    check_target_options(args)
    for option in _EXAMPLES:
        if (getattr(args, option) or "").strip() == "all":
            raise ScenarioError(
                f"--{option} all: a sample-size search is for one {option}; name one, e.g. "
                f"--{option} {_EXAMPLES[option]} (or leave it out for the primary one)"
            )
    from trialsim.experiments.power import check_target_power, sample_size
    from trialsim.report import plots_experiments as px

    t0 = time.perf_counter()
    scenario = load_from_args(args)
    out = _out_dir(args, scenario, "samplesize")
    settings = _settings(args, scenario, out)
    week = _weeks([args.week] if args.week else None)
    check_target_power(scenario, args.target_power)
    reps = settings.replicates or scenario.engine.replicates
    confirm = reps if args.confirm_replicates is None else args.confirm_replicates
    with _writing(args, settings, out, "samplesize") as stage:
        _announce(args, scenario, settings, out, [(1.0, reps)] * 5 + [(1.0, confirm)],
                  held=3 * reps,
                  note=f"a search usually simulates about 5 sizes near N = "
                  f"{scenario.design.sample_size}, counted so here, then the confirmation run")
        res = sample_size(
            scenario,
            args.target_power,
            endpoint=args.endpoint,
            week=week[0] if week else None,
            comparison=args.comparison,
            statistic=args.statistic,
            n_min=args.n_min,
            n_max=args.n_max,
            confirm_replicates=args.confirm_replicates,
            bootstrap=args.bootstrap,
            settings=settings,
        )
        write_json(res.to_dict(), stage / "samplesize.json")
        write_csv(res.points, stage / "samplesize_points.csv")
        ctx = res.context
        if not args.no_figures:
            fig = px.plot_sample_size(
                res.points, res,
                title=f"{scenario.name}: {ctx['endpoint']} week {ctx['week']}, {ctx['comparison']}",
            )
            _save(fig, stage / "samplesize.png")
        target = {k: v for k, v in ctx.items() if k != "scenario"}
        write_json(_provenance("samplesize", scenario, settings, t0, **target), stage / "run.json")
    if not args.quiet:
        print(
            f"{scenario.name}: {ctx['statistic']} ≥ {res.target:g} for {ctx['endpoint']} week "
            f"{ctx['week']}, {ctx['comparison']}"
        )
        print(f"  required total N = {res.n_required} (root {res.n_estimate:.1f}, MC SE "
              f"{res.n_se:.1f}; 95% MC interval {res.n_low}–{res.n_high}; N in steps of "
              f"{res.step})")
        print(f"  fitted power at N: {res.power_fit:.3f} (SE {res.power_fit_se:.3f})")
        if res.confirm_replicates:
            z = res.confirm_z
            verdict = ("consistent with" if abs(z) <= Z_95
                       else "above" if z > 0 else "BELOW")
            se = (f"{res.confirm_mcse:.3f}" if np.isfinite(res.confirm_mcse)
                  else "undefined with 1 trial")
            print(f"  confirmation ({res.confirm_replicates} fresh trials): power "
                  f"{res.confirm_power:.3f} (MCSE {se}), {verdict} the target")
        if res.note:
            print(f"  note: {res.note}")
        print(f"results written to {out}/")
    return 0


#: success of a trial, for assurance: significant and favouring treatment
SUCCESS = "power_favoring_treatment"


def cmd_assurance(args) -> int:
    """``trialsim assurance``: assurance.csv, assurance_draws.csv, assurance.png, run.json."""
    check_target_options(args)
    from trialsim.experiments.assurance import assurance, load_posterior
    from trialsim.report import plots_experiments as px

    t0 = time.perf_counter()
    scenario = load_from_args(args)
    posterior = load_posterior(args.calibration)
    replaced = posterior.replaced(scenario)
    if replaced and not args.quiet:
        import sys

        print("trialsim: note: each parameter draw replaces the scenario's value of the "
              "calibrated path(s) " + "; ".join(replaced), file=sys.stderr)
    out = _out_dir(args, scenario, "assurance")
    n0 = scenario.design.sample_size
    sizes = args.sizes or [n0]
    settings = _settings(args, scenario, out)
    reps = settings.replicates or scenario.engine.replicates
    with _writing(args, settings, out, "assurance") as stage:
        _announce(args, scenario, settings, out,
                  [(n / n0, reps) for n in set(sizes)] * args.draws,
                  held=reps * len(set(sizes)) * args.draws)
        summary, per_draw = assurance(
            scenario, posterior, args.draws, sizes=sizes, endpoints=_names(args.endpoint),
            weeks=_weeks(args.week), comparisons=_names(args.comparison),
            draw_seed=args.draw_seed, settings=settings,
        )
        write_csv(summary, stage / "assurance.csv")
        write_csv(per_draw, stage / "assurance_draws.csv")
        if not args.no_figures:
            _save(px.plot_assurance(summary, per_draw, statistic=SUCCESS,
                                    title=f"{scenario.name}: assurance over the calibration's "
                                    "parameter uncertainty"), stage / "assurance.png")
        write_json(_provenance("assurance", scenario, settings, t0, sizes=sorted(set(sizes)),
                               draws=args.draws, draw_seed=args.draw_seed,
                               calibration=posterior.source, parameters=posterior.names,
                               draws_accepted_share=float(summary.draws_accepted_share.iloc[0]),
                               replaced_paths=replaced),
                   stage / "run.json")
    if not args.quiet:
        p = summary[summary.statistic == SUCCESS]
        cols = ["sample_size", "endpoint", "week", "comparison", "assurance", "mcse",
                "power_at_estimate", "power_q05", "power_q50", "power_q95",
                "odds_ratio_q05", "odds_ratio_q50", "odds_ratio_q95"]
        print(f"{scenario.name}: assurance (probability of a significant result favouring "
              f"treatment) over {args.draws} parameter draws of {posterior.source} ({reps} "
              f"trials each; MCSE ≤ {p.mcse.max():.3f}; "
              f"{p.draws_accepted_share.iloc[0]:.0%} of proposals inside the bounds)")
        print(p[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print(f"results written to {out}/")
    return 0
