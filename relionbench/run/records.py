"""What a job script leaves behind: one row per step run, peak memory per rank, logs.

The job script appends ``index, label, exit code, start, end`` to ``rb_steps/steps.tsv``
after every step; ``measure.py`` writes ``rb_steps/<index>_<label>.rss.<host>.<pid>``.
"""

import csv
import json
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
SCRATCH_FULL = re.compile(r'Warning: scratch space full on (.+?)\. Remaining (\d+) particles')
ON_SCRATCH = re.compile(r'there are (\d+) particles on the scratch disk')


@dataclass(frozen=True)
class StepRecord:
    index: int
    label: str
    exit_code: int
    seconds: float
    start: float = 0.0              #: epoch seconds


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
        return [StepRecord(int(i), label, int(rc), float(t1) - float(t0), float(t0))
                for i, label, rc, t0, t1 in csv.reader(rows, delimiter='\t')]


@dataclass(frozen=True)
class Rank:
    rank: int
    host: str
    peak_mib: float
    cpus: str = ''          #: the CPUs it could run on (``0-3,8``; '' when not recorded)
    gpus: str = ''          #: the GPUs it saw (CUDA_VISIBLE_DEVICES; '-': none set)

    @property
    def cpu_count(self):
        """How many CPUs it could run on (None when not recorded)."""
        if not self.cpus or self.cpus == '-':
            return None
        return sum(int(b) - int(a) + 1 for a, _, b in
                   (part.partition('-') if '-' in part else (part, '', part)
                    for part in self.cpus.split(',')))


def ranks(stagedir, index, label):
    """Every rank of a step (measure.py's records): its number, node and peak memory."""
    found = []
    for path in steps_dir(stagedir).glob(f'{index}_{label}.rss.*'):
        fields = path.read_text().split()
        if fields:
            host = path.name.split('.rss.', 1)[1].rsplit('.', 1)[0]
            rank = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
            found.append(Rank(rank, host, int(fields[0]) / 1024, *fields[2:4]))
    if not found:
        raise FileNotFoundError(f'no memory record for step {index} {label}')
    return sorted(found, key=lambda r: (r.rank, r.host))


def peak_mib(stagedir, index, label):
    """Largest peak resident memory of any rank of a step, in MiB."""
    return max(r.peak_mib for r in ranks(stagedir, index, label))


def node_peaks(found):
    """{node: the summed peak memory (MiB) of the ranks (``ranks``) on it}."""
    nodes = {}
    for r in found:
        nodes[r.host] = nodes.get(r.host, 0.0) + r.peak_mib
    return nodes


RELION_HOST = re.compile(r'^\s*\+\s*(?:Leader|Master|Follower|Slave)\s*\(?\s*(\d+)\)?'
                         r'\s+runs on host\s*=\s*(\S+)', re.M)
"""RELION's own MPI setup lines: `` + Leader  (0) runs on host = node1`` (3.1 says Master
and Slave, 4 and 5 Leader and Follower)."""


def relion_hosts(log):
    """{rank: node} as RELION printed them in a step log ({} for a step without MPI)."""
    text = Path(log).read_text(errors='replace') if Path(log).exists() else ''
    return {int(rank): host for rank, host in RELION_HOST.findall(text)}


def warnings(log):
    """Messages for the RELION warnings found in a step log."""
    text = Path(log).read_text(errors='replace') if Path(log).exists() else ''
    found = []
    for pattern, meaning in WARNINGS:
        for line in text.splitlines():
            if pattern.search(line):
                found.append(f'{meaning}: {line.strip()}')
    return found + scratch_full(text)


def scratch_full(text):
    """RELION's --scratch_dir too small for the particles: it only warns and reads the rest
    from where they are, so the run measures something else. One message per host, with
    how many particles it copied (RELION's own count) and how many it did not."""
    copied = sum(int(n) for n in ON_SCRATCH.findall(text))
    return [f'the scratch folder (--scratch_dir) was too small on {host}: RELION copied '
            f'{copied} particles to it and reads the other {left} from where they are, which '
            'is not the run benchmarked; give it more free space than --keep_free_scratch '
            '(10 GB unless set) plus the particles, or run without scratch'
            for host, left in dict(SCRATCH_FULL.findall(text)).items()]


JOB_FILE = 'rb_job.json'
"""What ``relionbench watch`` reads of a job, written when it is submitted."""


def describe_job(stagedir, check, time_limit, steps):
    """Write what ``watch`` needs to know of a job: ``steps`` = [(label, program, args)]."""
    seconds = time_limit.total_seconds() if hasattr(time_limit, 'total_seconds') else time_limit
    Path(stagedir, JOB_FILE).write_text(json.dumps({
        'check': check, 'time_limit': float(seconds) if seconds else None,
        'steps': [{'label': label, 'program': program, 'args': [str(a) for a in args]}
                  for label, program, args in steps]}, indent=1))
