"""The command line (``trialsim``): ``main`` dispatches the subcommands."""

from trialsim.cli.main import main

__all__ = ["main"]
