"""Figures of runs, experiments and calibration."""
