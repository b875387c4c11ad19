"""Running trials: the plan and the compiled trial, backends, checkpoints, the simulate driver."""
