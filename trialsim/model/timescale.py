"""The disease in continuous time: per-week rates converted to the visit interval.

Every process of the course is stated per week in ``configs/model.yaml`` (docs/model.md §3):
a probability per week, an autocorrelation per week, a two-state chain's weekly transition
probabilities. These ``@jit`` functions are the one home of the conversion to an interval of
``weeks`` weeks, so the disease does not depend on how often it is looked at. Between two
visits the conditions that drive a process (activity, shift, drug effect) are held at their
value of the later visit.
"""

from __future__ import annotations

from trialsim.core.jit import jit

#: the largest per-week lag-one autocorrelation of a descriptor's chain (0.99 per 4 weeks)
MAX_PERSISTENCE_PER_WEEK = 0.9975


@jit
def probability_over(per_week, weeks):
    """Probability that an event with constant weekly probability ``per_week`` happens at
    least once in ``weeks`` weeks: ``1 - (1 - per_week) ** weeks``."""
    if per_week >= 1.0:
        return 1.0
    return 1.0 - (1.0 - per_week) ** weeks


@jit
def autocorrelation_over(per_week, weeks):
    """Lag-``weeks`` autocorrelation of a process with lag-one-week autocorrelation
    ``per_week`` (an AR(1), or a two-state Markov chain): ``per_week ** weeks``."""
    return per_week ** weeks


@jit
def two_state_on_probability(on_per_week, off_per_week, weeks, was_on):
    """P(on after ``weeks`` weeks) of a two-state Markov chain with weekly transition
    probabilities ``on_per_week`` (off → on) and ``off_per_week`` (on → off).

    Its stationary probability is ``π = a / (a + b)`` and its weekly autocorrelation
    ``λ = 1 - a - b``; after ``weeks`` steps P(on | on) = π + λ^weeks (1 - π) and
    P(on | off) = π (1 - λ^weeks), exactly. A chain with ``a + b = 0`` stays where it is.
    """
    total = on_per_week + off_per_week
    if total <= 0.0:
        return 1.0 if was_on else 0.0
    stationary = on_per_week / total
    lam = (1.0 - total) ** weeks
    if was_on:
        return stationary + lam * (1.0 - stationary)
    return stationary * (1.0 - lam)
