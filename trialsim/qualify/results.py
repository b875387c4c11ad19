"""What a qualification check reports: its compared quantities and its verdict.

A check compares one or more quantities (``Item``) with their references, each with its
tolerance; it passes when every item does. ``CheckResult`` is the check as reported (the
JSON and HTML reports and the console table show these fields).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Item:
    """One compared quantity.

    Attributes
    ----------
    quantity : str
        What was measured (e.g. ``"coef[treated]"``).
    measured : float or str
        trialsim's value.
    reference : float or str
        The reference value (a number, or an interval as text).
    tolerance : str
        The allowed difference, in words and numbers.
    passed : bool
    difference : float or None
        ``measured - reference`` where both are numbers.
    """

    quantity: str
    measured: float | str
    reference: float | str
    tolerance: str
    passed: bool
    difference: float | None = None


def close(quantity: str, measured: float, reference: float, tol: float) -> Item:
    """``measured`` equals ``reference`` to ``tol * max(1, |reference|)`` (absolute for
    values up to 1, relative beyond)."""
    measured, reference = float(measured), float(reference)
    diff = measured - reference
    ok = math.isfinite(measured) and abs(diff) <= tol * max(1.0, abs(reference))
    return Item(quantity, measured, reference, f"|Δ| ≤ {tol:g} × max(1, |reference|)",
                bool(ok), diff)


def within(quantity: str, measured: float, reference: float, half_width: float,
           why: str) -> Item:
    """``|measured - reference| <= half_width`` (``why``: how the width was set)."""
    measured, reference, half_width = float(measured), float(reference), float(half_width)
    diff = measured - reference
    ok = math.isfinite(measured) and math.isfinite(half_width) and abs(diff) <= half_width
    return Item(quantity, measured, reference, f"±{half_width:.4g} ({why})", bool(ok), diff)


def inside(quantity: str, measured: float, low: float, high: float, reference: str,
           why: str) -> Item:
    """``low <= measured <= high``; ``reference`` says what the interval is around."""
    measured, low, high = float(measured), float(low), float(high)
    ok = math.isfinite(measured) and low <= measured <= high
    return Item(quantity, measured, reference, f"[{low:.4f}, {high:.4f}] ({why})", bool(ok))


@dataclass
class Outcome:
    """What a check function returns: its items and the settings it ran with (replicates,
    seeds, sizes; shown in the report)."""

    items: list[Item]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Check:
    """A qualification check: its number and name, what it compares with (``oracle``), its
    tolerance in words, and the function that runs it."""

    number: int
    name: str
    title: str
    oracle: str
    tolerance: str
    run: Callable[[], Outcome]


@dataclass
class CheckResult:
    """A check as reported: ``passed`` when it ran and every item passed; ``error`` holds
    the exception that stopped it (then it failed)."""

    number: int
    name: str
    title: str
    oracle: str
    tolerance: str
    passed: bool
    seconds: float
    items: list[Item] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def items_passed(self) -> int:
        """How many of the compared quantities passed."""
        return sum(item.passed for item in self.items)

    def as_dict(self) -> dict[str, Any]:
        """The check as the JSON report holds it."""
        return asdict(self) | {"items_passed": self.items_passed}
