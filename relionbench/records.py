"""What a job script leaves behind: one row per step run, peak memory per rank, logs.

The job script appends ``index, label, exit code, start, end`` to ``rb_steps/steps.tsv``
after every step; ``measure.py`` writes ``rb_steps/<index>_<label>.rss.<host>.<pid>``.
"""

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from relionbench.constants import STEPS_DIR

DONE = '[relionbench] stage complete'

WARNINGS = (
    (re.compile(r'is not a valid RELION argument'), 'RELION did not recognise an option'),
    (re.compile(r'compiled without CUDA'), 'this RELION cannot use the GPU it was asked for'),
)
"""RELION carries on after these: the run would silently measure something else."""


@dataclass(frozen=True)
class StepRecord:
    index: int
    label: str
    exit_code: int
    seconds: float


def steps_dir(stagedir):
    return Path(stagedir) / STEPS_DIR


def log_path(stagedir, index, label):
    return steps_dir(stagedir) / f'{index}_{label}.log'


def read_steps(stagedir):
    """The step rows written so far, in order."""
    path = steps_dir(stagedir) / 'steps.tsv'
    if not path.exists():
        return []
    with path.open(newline='') as rows:
        return [StepRecord(int(i), label, int(rc), float(t1) - float(t0))
                for i, label, rc, t0, t1 in csv.reader(rows, delimiter='\t')]


def peak_mib(stagedir, index, label):
    """Largest peak resident memory of any rank of a step, in MiB."""
    files = steps_dir(stagedir).glob(f'{index}_{label}.rss.*')
    peaks = [int(f.read_text().split()[0]) for f in files if f.read_text().strip()]
    if not peaks:
        raise FileNotFoundError(f'no memory record for step {index} {label}')
    return max(peaks) / 1024


def warnings(log):
    """Messages for the RELION warnings found in a step log."""
    text = Path(log).read_text(errors='replace') if Path(log).exists() else ''
    found = []
    for pattern, meaning in WARNINGS:
        for line in text.splitlines():
            if pattern.search(line):
                found.append(f'{meaning}: {line.strip()}')
    return found
