"""relionbench: the library behind the relion-reframe checks and tools."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The suite's checkout (checks/, config/, reference/ live here)."""


def systems():
    """The systems the suite declares (``config/systems/<name>.py``)."""
    return sorted(p.stem for p in (ROOT / 'config' / 'systems').glob('*.py'))
