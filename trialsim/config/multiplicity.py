"""Checks of a multiplicity procedure given as plain values (``analysis.multiplicity`` of a
scenario, and ``analysis.multiplicity.multiplicity_params``): the one home of these rules,
in the configuration layer so that a scenario is refused at load time, naming the entry at
fault, its value and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["PROCEDURES", "SUM_TOL", "check_multiplicity", "check_weights", "check_transitions",
           "check_order", "as_number", "as_list"]

#: procedure names as the scenario writes them; a procedure's code is its index here
PROCEDURES = ("none", "bonferroni", "holm", "hochberg", "fixed_sequence", "graphical")
#: slack of the checks "weights sum to <= 1" and "a row sums to <= 1" (1/3 + 1/3 + 1/3 > 1
#: in floating point)
SUM_TOL = 1e-9


def _label(names: Sequence[str] | None, i: int) -> str:
    """`` (name)`` of hypothesis ``i`` for a message, or nothing without names."""
    return f" ({names[i]})" if names is not None else ""


def _hyp(names: Sequence[str] | None, i: int) -> str:
    """Hypothesis ``i`` in a message: its name, or ``H<i>``."""
    return names[i] if names is not None else f"H{i}"


def as_number(where: str, x) -> float:
    """A finite real number, or a ValueError naming ``where``."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer,
                                                              np.floating)):
        raise ValueError(f"{where} = {x!r} is not a number")
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{where} = {v} is not a finite number")
    return v


def as_list(where: str, value, length: int, what: str) -> list:
    """``value`` as a list of ``length`` items, or a ValueError saying the shape wanted."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{where} must be a list of {length} {what}; got {value!r}")
    if len(value) != length:
        raise ValueError(f"{where} has {len(value)} entries; it needs {length} {what} "
                         f"(one per hypothesis)")
    return list(value)


def check_weights(value, m: int, names: Sequence[str] | None,
                   field: str = "weights") -> np.ndarray:
    w = [as_number(f"{field}[{i}]{_label(names, i)}", x)
         for i, x in enumerate(as_list(field, value, m, "numbers"))]
    for i, x in enumerate(w):
        if x < 0.0:
            raise ValueError(f"{field}[{i}]{_label(names, i)} = {x} is negative; a weight "
                             f"is a share of alpha and must be >= 0")
    total = math.fsum(w)
    if total > 1.0 + SUM_TOL:
        raise ValueError(f"{field} sum to {total:.6g} > 1; they are shares of alpha and "
                         f"must sum to at most 1")
    if total <= 0.0:
        raise ValueError(f"{field} are all 0: no hypothesis could ever be rejected; give "
                         f"at least one a positive share of alpha")
    return np.array(w, dtype=np.float64)


def check_transitions(value, m: int, names: Sequence[str] | None) -> np.ndarray:
    rows = as_list("transitions", value, m, f"rows of a {m} x {m} matrix")
    g = np.zeros((m, m))
    for i, row in enumerate(rows):
        entries = as_list(f"transitions[{i}]{_label(names, i)}", row, m, "numbers")
        for k, x in enumerate(entries):
            v = as_number(f"transitions[{i}][{k}]", x)
            if v < 0.0:
                raise ValueError(f"transitions[{i}][{k}] = {v} is negative; a transition is "
                                 f"the share of {_hyp(names, i)}'s alpha passed to "
                                 f"{_hyp(names, k)} and must be >= 0")
            if i == k and v != 0.0:
                raise ValueError(f"transitions[{i}][{i}]{_label(names, i)} = {v}; the "
                                 f"diagonal must be 0 (a hypothesis passes no alpha to "
                                 f"itself)")
            g[i, k] = v
        total = math.fsum(g[i])
        if total > 1.0 + SUM_TOL:
            raise ValueError(f"transitions[{i}]{_label(names, i)} sums to {total:.6g} > 1; "
                             f"a row holds the shares of {_hyp(names, i)}'s alpha passed "
                             f"on and must sum to at most 1")
    return g


def check_order(value, m: int, names: Sequence[str] | None) -> np.ndarray:
    entries = as_list("order", value, m, "hypotheses (a permutation of them)")
    index = {n: i for i, n in enumerate(names)} if names is not None else {}
    out = []
    for k, x in enumerate(entries):
        if isinstance(x, str):
            if x not in index:
                known = ", ".join(names) if names is not None else f"indices 0..{m - 1}"
                raise ValueError(f"order[{k}] = {x!r} is not a hypothesis; the hypotheses "
                                 f"are {known}")
            out.append(index[x])
        elif isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
            if not 0 <= x < m:
                raise ValueError(f"order[{k}] = {x} is not a hypothesis index; indices run "
                                 f"from 0 to {m - 1}")
            out.append(int(x))
        else:
            raise ValueError(f"order[{k}] = {x!r} is neither a hypothesis name nor an index")
    seen: dict[int, int] = {}
    for k, i in enumerate(out):
        if i in seen:
            raise ValueError(f"order[{k}] repeats hypothesis {i}{_label(names, i)} (also "
                             f"order[{seen[i]}]); order must list every hypothesis once")
        seen[i] = k
    return np.array(out, dtype=np.int64)


def check_multiplicity(procedure: str, hypotheses, alpha, weights=None, transitions=None,
                       order=None):
    """Check a procedure and return ``(code, weights, transitions, order, alpha)`` as arrays
    (neutral values where the procedure takes none: equal weights, zero transitions, the
    listed order); ``ValueError`` naming the entry at fault otherwise. Parameters as for
    ``analysis.multiplicity.multiplicity_params``."""
    if procedure not in PROCEDURES:
        raise ValueError(f"procedure {procedure!r} is not one of {', '.join(PROCEDURES)}")
    code = PROCEDURES.index(procedure)
    names: list[str] | None
    if isinstance(hypotheses, (int, np.integer)) and not isinstance(hypotheses, bool):
        m, names = int(hypotheses), None
    elif isinstance(hypotheses, Sequence) and not isinstance(hypotheses, (str, bytes)):
        names = list(hypotheses)
        m = len(names)
        for i, n in enumerate(names):
            if not isinstance(n, str) or not n:
                raise ValueError(f"hypotheses[{i}] = {n!r} is not a name (a non-empty string)")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"hypotheses repeat {', '.join(repeated)}; each must be named "
                             f"once")
    else:
        raise ValueError(f"hypotheses must be a number or a list of names; got "
                         f"{hypotheses!r}")
    if m < 1:
        raise ValueError(f"there must be at least one hypothesis; got {m}")
    a = as_number("alpha", alpha)
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha = {a} is outside (0, 1)")

    takes = {"weights": procedure in ("bonferroni", "holm", "graphical"),
             "transitions": procedure == "graphical", "order": procedure == "fixed_sequence"}
    given = {"weights": weights, "transitions": transitions, "order": order}
    for field, value in given.items():
        if value is not None and not takes[field]:
            raise ValueError(f"{field} is not used by the {procedure} procedure (remove it)")
    if procedure == "graphical":
        for field in ("weights", "transitions"):
            if given[field] is None:
                raise ValueError(f"the graphical procedure needs {field}")

    w = (check_weights(weights, m, names) if weights is not None
         else np.full(m, 1.0 / m))
    g = (check_transitions(transitions, m, names) if transitions is not None
         else np.zeros((m, m)))
    o = (check_order(order, m, names) if order is not None
         else np.arange(m, dtype=np.int64))
    return code, w, g, o, a
