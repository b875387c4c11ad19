"""Scenarios: the shared vocabulary and the validated schema (YAML in, Scenario out)."""
