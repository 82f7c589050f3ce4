"""How the suite starts its own reframe: the virtual environment's reframe, the suite's
checks and its configuration (``relionbench pipeline`` lists through it, ``relionbench
tune`` runs trials)."""

import os
import sys
from pathlib import Path

from relionbench import ROOT

REFRAME = Path(sys.executable).parent / 'reframe'


def command(*args):
    """``reframe`` over the suite's checks with ``args``."""
    return [str(REFRAME), '-c', str(ROOT / 'checks'), '-R', *args]


def environ(**more):
    """The environment reframe needs to read the suite's configuration, with ``more``."""
    return {**os.environ, 'RFM_CONFIG_FILES': str(ROOT / 'config' / 'settings.py'), **more}
