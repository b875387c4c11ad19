"""Experiments on top of runs: a scenario end to end, power curves, sweeps, sample size,
calibration, explain."""
