"""The lowest layer: the jit policy, the counter-based random numbers, atomic file writes."""
