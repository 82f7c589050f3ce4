"""``python -m relionbench.cli``."""

import sys

from relionbench.cli import main

sys.exit(main())
