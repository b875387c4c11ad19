"""Mutation-testing campaign: do the tests catch small, named changes of the source?

Every mutation of the catalog (``scripts/mutation_catalog.py``) is applied in turn to ONE
working copy of the repository (the files ``git ls-files`` lists, as they are in the working
tree), the tests named by the mutation are run there, and the file is restored. A mutation is
"killed" when pytest reports failing tests (exit code 1); exit code 0 means it survived; any
other exit code (collection error, usage error, no tests) is an "error" and a run over the
time limit a "timeout", neither counted as killed.

Before any mutation the union of the selected mutations' tests must pass on the unmutated copy
(a campaign on a red suite means nothing). The copy's ``trialsim`` is the one imported
(``PYTHONPATH`` = the copy, cwd = the copy; checked once at start), not the editable install of
the checkout. Numba's on-disk cache does not notice a change of a jitted function called from
another file, so every mutation compiles into its own cache directory (``NUMBA_CACHE_DIR``);
the unmutated runs share one.

``--validate`` runs the survivors again, with the ``slow`` tests and each mutation's
``validate_tests``. Results go to ``results/mutations.json`` (rewritten after every mutation).

    python scripts/mutations.py [--validate] [--only NAME ...] [--out PATH] [--timeout S]
                                [--keep] [--list] [--include-untracked]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mutation_catalog import MUTATIONS, Mutation

REPO = Path(__file__).resolve().parents[1]

#: pytest options of every run; the marker filter is added by the "test" suite only
PYTEST_BASE = ("-x", "-q", "-p", "no:cacheprovider")
TEST_MARKER = ("-m", "not slow")

#: statuses of a pytest run
KILLED, SURVIVED, ERROR, TIMEOUT, PATTERN_MISSING = (
    "killed",
    "survived",
    "error",
    "timeout",
    "pattern-missing",
)


class CampaignError(RuntimeError):
    """The runner itself cannot go on (red baseline, wrong package imported, git failure)."""


@dataclass
class RunResult:
    """Outcome of one pytest run.

    Attributes
    ----------
    status : str
        ``killed``, ``survived``, ``error`` or ``timeout``.
    exit_code : int or None
        pytest's exit code; None after a timeout.
    killer : str or None
        The first failing test node id, if pytest reported one.
    seconds : float
        Wall time of the run.
    output : str
        Combined stdout and stderr of pytest.
    """

    status: str
    exit_code: int | None
    killer: str | None
    seconds: float
    output: str


# --------------------------------------------------------------------------- pure helpers


def apply_mutation(text: str, find: str, replace: str) -> str:
    """Return ``text`` with the single occurrence of ``find`` replaced by ``replace``.

    Parameters
    ----------
    text : str
        Source text of the file.
    find : str
        Snippet that must occur exactly once in ``text``.
    replace : str
        Its replacement.

    Returns
    -------
    str
        The mutated text.

    Raises
    ------
    ValueError
        If ``find`` is empty or does not occur exactly once.
    """
    if not find:
        raise ValueError("empty find snippet")
    count = text.count(find)
    if count != 1:
        raise ValueError(f"find snippet occurs {count} times, expected exactly once")
    return text.replace(find, replace, 1)


def first_failure(output: str) -> str | None:
    """The node id of the first ``FAILED``/``ERROR`` line of pytest's short summary.

    Parameters
    ----------
    output : str
        pytest's output (``-q``, with the ``-ra`` short test summary).

    Returns
    -------
    str or None
        E.g. ``tests/unit/test_x.py::test_y[1]``; None if no such line.
    """
    for line in output.splitlines():
        for prefix in ("FAILED ", "ERROR "):
            if line.startswith(prefix):
                node = line[len(prefix) :].split(" - ", 1)[0].strip()
                if node:
                    return node
    return None


def classify(exit_code: int | None, timed_out: bool = False) -> str:
    """Status of a pytest run from its exit code.

    Parameters
    ----------
    exit_code : int or None
        pytest's exit code (0 passed, 1 tests failed, 2 interrupted or collection error,
        3 internal error, 4 usage error, 5 no tests collected).
    timed_out : bool
        The run was stopped at the time limit.

    Returns
    -------
    str
        ``timeout``, ``killed`` (exit code 1), ``survived`` (0) or ``error`` (anything else).
    """
    if timed_out:
        return TIMEOUT
    if exit_code == 1:
        return KILLED
    if exit_code == 0:
        return SURVIVED
    return ERROR


def union(groups) -> list[str]:
    """The items of the iterables in ``groups``, first occurrence order, without duplicates."""
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return list(seen)


def summarize(entries: list[dict]) -> dict:
    """Campaign summary of the result entries.

    ``survivors`` are the mutations that ran and no suite killed; ``errors`` are those whose
    outcome is unknown (pattern missing, pytest error, timeout). Kill rates are over all ``n``
    entries.
    """
    n = len(entries)
    by_test = sum(1 for e in entries if e["killed"])
    by_any = sum(1 for e in entries if e["killed"] or e.get("killed_by_validate"))

    def final_status(e: dict) -> str:
        if e["killed"] or e.get("killed_by_validate"):
            return KILLED
        if e.get("validate") is not None:
            return e["validate"]["status"]
        return e["status"]

    return {
        "n": n,
        "killed_by_test": by_test,
        "killed_by_test_or_validate": by_any,
        "kill_rate_test": by_test / n if n else None,
        "kill_rate_test_or_validate": by_any / n if n else None,
        "survivors": [e["name"] for e in entries if final_status(e) == SURVIVED],
        "errors": [e["name"] for e in entries if final_status(e) not in (KILLED, SURVIVED)],
    }


# --------------------------------------------------------------------------- side effects


def git(*args: str) -> str:
    """Output of ``git args`` run in the repository."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, check=True, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CampaignError(f"git {' '.join(args)} failed: {exc}") from exc
    return done.stdout


def make_copy(dest: Path, include_untracked: bool = False) -> int:
    """Copy the tracked files of the working tree into ``dest`` with ``shutil.copy2``.

    Parameters
    ----------
    dest : Path
        Empty directory, the working copy.
    include_untracked : bool
        Also copy untracked files that are not ignored.

    Returns
    -------
    int
        Number of files copied (tracked files deleted from the working tree are skipped).
    """
    names = [n for n in git("ls-files", "-z").split("\0") if n]
    if include_untracked:
        names += [n for n in git("ls-files", "-z", "--others", "--exclude-standard").split("\0")]
    copied = 0
    for name in dict.fromkeys(n for n in names if n):
        src = REPO / name
        if not src.is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        copied += 1
    return copied


def child_env(copy: Path, numba_cache: Path) -> dict[str, str]:
    """Environment of the runs in the copy: its package first, its own numba cache, no .pyc.

    No bytecode is written: a mutated file written within the same second as an earlier
    mutation of the same size would otherwise be loaded from the stale ``.pyc``.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    env["NUMBA_CACHE_DIR"] = str(numba_cache)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return env


def check_import(copy: Path, env: dict[str, str]) -> Path:
    """Import ``trialsim`` as the test runs will, and require it to be the copy's.

    Raises
    ------
    CampaignError
        If another ``trialsim`` (e.g. the editable install of the checkout) is imported.
    """
    done = subprocess.run(
        [sys.executable, "-c", "import trialsim; print(trialsim.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise CampaignError(f"cannot import trialsim in the working copy:\n{done.stderr}")
    imported = Path(done.stdout.strip().splitlines()[-1]).resolve()
    expected = (copy / "trialsim" / "__init__.py").resolve()
    if imported != expected:
        raise CampaignError(f"the runs would import {imported}, not the copy's {expected}")
    return imported


def run_pytest(
    copy: Path, args: list[str], env: dict[str, str], timeout: float
) -> RunResult:
    """Run ``python -m pytest`` with ``args`` in the copy; kill its process group on timeout."""
    cmd = [sys.executable, "-m", "pytest", *PYTEST_BASE, *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    seconds = time.perf_counter() - t0
    exit_code = None if timed_out else proc.returncode
    return RunResult(
        classify(exit_code, timed_out), exit_code, first_failure(output), seconds, output
    )


def tail(output: str, lines: int = 25) -> str:
    """The last ``lines`` lines of ``output``."""
    return "\n".join(output.splitlines()[-lines:])


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Campaign:
    """One working copy, its pristine files, and the runs of the mutations in it.

    Parameters
    ----------
    root : Path
        Empty temporary directory: ``copy/`` is the working copy, ``pristine/`` keeps the
        original of every file a mutation touches, ``numba/`` the numba caches.
    timeout : float
        Time limit of one pytest run, in seconds.
    include_untracked : bool
        Copy untracked, non-ignored files too.
    """

    def __init__(self, root: Path, timeout: float, include_untracked: bool = False):
        self.root = root
        self.copy = root / "copy"
        self.pristine = root / "pristine"
        self.timeout = timeout
        self.copy.mkdir()
        self.n_files = make_copy(self.copy, include_untracked)
        self.imported = check_import(self.copy, self.env(None))

    def env(self, mutation: Mutation | None) -> dict[str, str]:
        """Environment of a run: the unmutated copy shares one numba cache, a mutation has its
        own (a cached kernel would keep running the unmutated code of a jitted callee in another
        file)."""
        cache = self.root / "numba" / (mutation.name if mutation else "_unmutated")
        return child_env(self.copy, cache)

    def drop_cache(self, mutation: Mutation) -> None:
        """Delete the numba cache of ``mutation`` (it is not run again)."""
        shutil.rmtree(self.root / "numba" / mutation.name, ignore_errors=True)

    def original(self, path: str) -> Path:
        """The pristine copy of ``path``, saved the first time it is asked for."""
        saved = self.pristine / path
        if not saved.exists():
            saved.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.copy / path, saved)
        return saved

    def baseline(self, tests: list[str], marker: tuple[str, ...]) -> RunResult:
        """Run ``tests`` on the unmutated copy."""
        return run_pytest(self.copy, [*marker, *tests], self.env(None), self.timeout)

    def run(self, mutation: Mutation, args: list[str]) -> RunResult | None:
        """Apply ``mutation``, run pytest with ``args``, restore the file.

        Returns
        -------
        RunResult or None
            None if ``find`` does not occur exactly once (pattern missing).
        """
        target = self.copy / mutation.path
        if not target.is_file():
            return None
        saved = self.original(mutation.path)
        try:
            mutated = apply_mutation(
                saved.read_bytes().decode("utf-8"), mutation.find, mutation.replace
            )
        except ValueError:
            return None
        try:
            target.write_bytes(mutated.encode("utf-8"))
            return run_pytest(self.copy, args, self.env(mutation), self.timeout)
        finally:
            shutil.copy2(saved, target)  # contents and mtime of the original


# --------------------------------------------------------------------------- reporting


def print_row(name: str, suite: str, status: str, seconds: float | None, killer: str | None):
    """One line of the progress table."""
    secs = f"{seconds:8.1f}" if seconds is not None else " " * 8
    print(f"{name:<40} {suite:<8} {status:<15} {secs}  {killer or ''}", flush=True)


def print_header() -> None:
    """Header of the progress table."""
    print(f"{'mutation':<40} {'suite':<8} {'status':<15} {'seconds':>8}  killer", flush=True)
    print("-" * 100, flush=True)


def print_catalog(mutations: list[Mutation]) -> None:
    """``--list``: the catalog, one block per mutation."""
    for m in mutations:
        print(f"{m.name}\n    {m.path}\n    tests: {' '.join(m.tests)}")
        if m.validate_tests:
            print(f"    validate: {' '.join(m.validate_tests)}")
        print(f"    {m.why}")


def entry_of(mutation: Mutation, result: RunResult | None) -> dict:
    """Result entry of the "test" suite of ``mutation``."""
    entry = {
        "name": mutation.name,
        "path": mutation.path,
        "why": mutation.why,
        "tests": list(mutation.tests),
        "validate_tests": list(mutation.validate_tests),
        "suite": "test",
    }
    if result is None:
        entry.update(status=PATTERN_MISSING, killed=False, exit_code=None, killer=None,
                     seconds=0.0)
    else:
        entry.update(status=result.status, killed=result.status == KILLED,
                     exit_code=result.exit_code, killer=result.killer,
                     seconds=round(result.seconds, 2))
        if result.status in (ERROR, TIMEOUT):
            entry["output_tail"] = tail(result.output)
    entry["validate"] = None
    entry["killed_by_validate"] = None
    return entry


def validate_entry(result: RunResult | None, tests: list[str]) -> dict:
    """The ``validate`` sub-entry of a survivor."""
    if result is None:
        return {"suite": "validate", "tests": tests, "status": PATTERN_MISSING, "killed": False,
                "exit_code": None, "killer": None, "seconds": 0.0}
    out = {"suite": "validate", "tests": tests, "status": result.status,
           "killed": result.status == KILLED, "exit_code": result.exit_code,
           "killer": result.killer, "seconds": round(result.seconds, 2)}
    if result.status in (ERROR, TIMEOUT):
        out["output_tail"] = tail(result.output)
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line of the campaign."""
    parser = argparse.ArgumentParser(
        description="Mutation-testing campaign over scripts/mutation_catalog.py."
    )
    parser.add_argument("--validate", action="store_true",
                        help="run survivors again with the slow tests and validate_tests")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run only this mutation (repeatable)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "mutations.json",
                        help="result file (default: results/mutations.json)")
    parser.add_argument("--timeout", type=float, default=1200.0, metavar="SECONDS",
                        help="time limit of each pytest run (default 1200)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the working copy (its path is printed)")
    parser.add_argument("--list", action="store_true", help="print the catalog and exit")
    parser.add_argument("--include-untracked", action="store_true",
                        help="copy untracked (not ignored) files too")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    known = {m.name for m in MUTATIONS}
    unknown = [n for n in args.only if n not in known]
    if unknown:
        parser.error(f"unknown mutation(s): {', '.join(unknown)} (see --list)")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def verdict(result: RunResult) -> str:
    """How a run of the unmutated copy went, in words."""
    if result.status == TIMEOUT:
        return "timed out"
    return f"{'passed' if result.exit_code == 0 else 'FAILED'} (pytest exit {result.exit_code})"


def header_of() -> dict:
    """The provenance fields of the result file."""
    return {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git("rev-parse", "HEAD").strip(),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no").strip()),
        "python": sys.version.split()[0],
    }


def campaign(args: argparse.Namespace, root: Path) -> int:
    """Run the campaign in ``root``; return the exit status."""
    selected = [m for m in MUTATIONS if not args.only or m.name in args.only]
    report = header_of()
    camp = Campaign(root, args.timeout, args.include_untracked)
    print(f"working copy: {camp.copy} ({camp.n_files} files)")
    print(f"trialsim imported from: {camp.imported}")

    def save(complete: bool) -> None:
        report["complete"] = complete
        report["mutations"] = entries
        report["summary"] = summarize(entries)
        write_json_atomic(args.out, report)

    tests = union(m.tests for m in selected)
    print(f"baseline: {len(tests)} test argument(s) on the unmutated copy ...", flush=True)
    base = camp.baseline(tests, TEST_MARKER)
    print(f"baseline: {verdict(base)} in {base.seconds:.1f} s", flush=True)
    if base.status != SURVIVED:
        print(tail(base.output, 40), file=sys.stderr)
        print("error: the tests do not pass on the unmutated copy; no campaign on a red suite",
              file=sys.stderr)
        return 2

    entries: list[dict] = []
    print_header()
    for m in selected:
        result = camp.run(m, [*TEST_MARKER, *m.tests])
        entry = entry_of(m, result)
        entries.append(entry)
        print_row(m.name, "test", entry["status"], entry["seconds"], entry["killer"])
        if not (args.validate and entry["status"] == SURVIVED):
            camp.drop_cache(m)
        save(complete=False)

    survivors = [(m, e) for m, e in zip(selected, entries, strict=True)
                 if e["status"] == SURVIVED]
    if args.validate and survivors:
        vtests = union(m.tests + m.validate_tests for m, _ in survivors)
        print(f"validate baseline: {len(vtests)} test argument(s), slow tests included ...",
              flush=True)
        vbase = camp.baseline(vtests, ())
        print(f"validate baseline: {verdict(vbase)} in {vbase.seconds:.1f} s", flush=True)
        if vbase.status != SURVIVED:
            print(tail(vbase.output, 40), file=sys.stderr)
            print("error: the validate tests fail on the unmutated copy", file=sys.stderr)
            save(complete=False)
            return 2
        print_header()
        for m, entry in survivors:
            run_tests = union([m.tests, m.validate_tests])
            result = camp.run(m, run_tests)
            entry["validate"] = validate_entry(result, run_tests)
            entry["killed_by_validate"] = entry["validate"]["killed"]
            v = entry["validate"]
            print_row(m.name, "validate", v["status"], v["seconds"], v["killer"])
            camp.drop_cache(m)
            save(complete=False)

    save(complete=True)
    s = report["summary"]
    print("-" * 100)
    print(f"{s['n']} mutations: killed by test {s['killed_by_test']}, "
          f"by test or validate {s['killed_by_test_or_validate']}; "
          f"survivors {s['survivors'] or 'none'}; errors {s['errors'] or 'none'}")
    print(f"results: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 when the campaign ran (survivors included), 2 when the runner failed."""
    args = parse_args(argv)
    if args.list:
        print_catalog(MUTATIONS)
        return 0
    # a kill (SIGTERM) unwinds like Ctrl-C: the running pytest's process group is killed and
    # the working copy removed, nothing is left running
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    root = Path(tempfile.mkdtemp(prefix="trialsim-mutations-"))
    try:
        return campaign(args, root)
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept working copy: {root / 'copy'}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
