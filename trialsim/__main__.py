"""``python -m trialsim``: the command line (``trialsim.cli``)."""

import sys

from trialsim.cli.main import main

sys.exit(main())
