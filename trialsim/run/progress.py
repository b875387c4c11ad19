"""Progress of a long run: a bar on a terminal, a line with the ETA in a log file.

On a terminal :class:`Progress` draws a tqdm bar. Off a terminal (stderr redirected to a log
file or a pipe, a batch job) a bar would write nothing readable, so it prints a plain line
every ~10% of the run, or every 30 s when 10% takes longer, to stderr::

    trialsim: bliss76: 2,000/20,000 trials (10%), 1 min 5 s elapsed, ETA 9 min 45 s

A chunk can take longer than 30 s (a large trial, a slow worker): a background thread then
says the run is alive every 30 s, so a log never goes quiet for long::

    trialsim: bliss76: 0/20,000 trials (0%), 1 min 30 s elapsed, working (no chunk finished
    in the last 30 s)

``show=False`` (``--quiet``) prints nothing.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 07 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


class Progress:
    """Progress of ``total`` trials, of which ``initial`` are done already (a checkpoint).

    Parameters
    ----------
    total : int
        Trials of the whole run.
    initial : int
        Trials already done when it starts (loaded from a checkpoint).
    desc : str, optional
        What is running (the scenario name).
    show : bool, optional
        False: nothing. True: a tqdm bar, wherever stderr goes. None (default): a bar when
        ``stream`` is a terminal, else a line every ``every`` of the run or every
        ``interval`` seconds.
    stream : file, optional
        Where to write (default ``sys.stderr`` at the time of the call).
    every : float
        Fraction of the run between two lines.
    interval : float
        Seconds after which a line is printed even if the next ``every`` is not reached.
    clock : callable
        Seconds, monotonic (replaceable in tests).
    """

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        desc: str | None = None,
        show: bool | None = None,
        stream: TextIO | None = None,
        every: float = 0.1,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total, self.done, self.initial = int(total), int(initial), int(initial)
        self.desc = desc or "trials"
        self.stream = stream if stream is not None else sys.stderr
        self.every, self.interval, self.clock = every, interval, clock
        self.bar = None
        self.lines = False
        if show is False or self.done >= self.total:
            return
        if show is None and not _isatty(self.stream):
            self.lines = True
            self.start = self.last = self.last_chunk = clock()
            self.next_mark = self._mark_after(self.done)
            self._lock = threading.Lock()
            self._stop = threading.Event()
            self._print("started")
            self._beat = threading.Thread(target=self._heartbeat, daemon=True,
                                          name="trialsim-progress")
            self._beat.start()
        else:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=self.done, unit="trial", desc=desc,
                            file=self.stream)

    def _mark_after(self, done: int) -> int:
        """The next number of trials at which a line is due (the next multiple of 10%)."""
        step = self.every * self.total
        return min(self.total, math.ceil((math.floor(done / step + 1e-9) + 1) * step - 1e-9))

    def _print(self, rest: str) -> None:
        pct = math.floor(100 * self.done / self.total) if self.total else 100
        try:
            print(f"trialsim: {self.desc}: {self.done:,}/{self.total:,} trials ({pct}%), {rest}",
                  file=self.stream, flush=True)
        except (OSError, ValueError):  # stderr closed (a pipe whose reader left): go silent
            self.lines = False

    def _heartbeat(self) -> None:
        """Off a terminal: a line at least every ``interval`` seconds, with the ETA, or saying
        the run is working when no chunk finished in that time."""
        while not self._stop.wait(self.interval):
            with self._lock:
                now = self.clock()
                if not self.lines or now - self.last < self.interval:
                    continue
                if now - self.last_chunk >= self.interval:
                    self.last = now
                    self._print(f"{format_duration(now - self.start)} elapsed, working (no "
                                f"chunk finished in the last {format_duration(self.interval)})")
                else:
                    self._line(now)

    def update(self, n: int) -> None:
        """``n`` more trials are done."""
        if self.bar is not None:
            self.bar.update(n)
            return
        if not self.lines or n <= 0:
            return
        with self._lock:
            self._update(n)

    def _update(self, n: int) -> None:
        self.done += n
        now = self.last_chunk = self.clock()
        if self.done < self.next_mark and now - self.last < self.interval:
            return
        self._line(now)

    def _line(self, now: float) -> None:
        """The line of the progress so far, with the ETA."""
        self.last = now
        self.next_mark = self._mark_after(self.done)
        elapsed = now - self.start
        rest = f"{format_duration(elapsed)} elapsed, "
        if self.done >= self.total:
            rest += "done"
            if elapsed > 0:
                rest += f" ({(self.done - self.initial) / elapsed:,.1f} trials/s)"
        else:
            rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0.0
            eta = format_duration((self.total - self.done) / rate) if rate > 0 else "unknown"
            rest += f"ETA {eta}"
        self._print(rest)

    def close(self) -> None:
        """End the bar (lines need no ending)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.lines = False
        beat = getattr(self, "_beat", None)
        if beat is not None:
            self._stop.set()
            if beat is not threading.current_thread():
                beat.join()
            self._beat = None
