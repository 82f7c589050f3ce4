"""Shared helpers: run the suite's own reframe with the suite's configuration."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFRAME = Path(sys.executable).parent / 'reframe'


def reframe(*args, runs, env=None, timeout=600):
    """Run reframe from the checkout with results under ``runs``; returns CompletedProcess.

    TMPDIR points there too: ReFrame's bootstrap log (before the configuration is read)
    would otherwise be left in /tmp as rfm-*.log."""
    (runs / 'tmp').mkdir(parents=True, exist_ok=True)
    environ = {**os.environ, 'RFM_CONFIG_FILES': str(ROOT / 'config' / 'settings.py'),
               'RELIONBENCH_RUNS': str(runs), 'TMPDIR': str(runs / 'tmp'), **(env or {})}
    return subprocess.run([str(REFRAME), '-c', str(ROOT / 'checks'), '-R', *args], cwd=ROOT,
                          env=environ, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def runs(tmp_path):
    return tmp_path / 'runs'
