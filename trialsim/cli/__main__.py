"""``python -m trialsim.cli``."""

import sys

from trialsim.cli.main import main

sys.exit(main())
