"""The one family of user errors: raised for input the tool cannot run, with a message meant
for the user as it is (the CLI prints it, exit status 2, no traceback)."""


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message is meant for the user, as it is."""


class CheckpointError(ScenarioError):
    """A checkpoint directory that cannot be used for this run (the message says why)."""


__all__ = ["ScenarioError", "CheckpointError"]
