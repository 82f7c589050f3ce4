"""relionbench: the library behind the relion-reframe checks and tools."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The suite's checkout (checks/, config/, reference/ live here)."""
