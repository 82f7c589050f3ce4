#!/usr/bin/env python3
"""Run one process and record its peak memory and the layout it got:
``measure.py RECORD_PREFIX -- CMD ...``.

Launched once per MPI rank (inside srun/mpirun), so peaks are seen on every node. It
writes ``RECORD_PREFIX.<host>.<pid>`` holding, on one line: the peak resident set size in
KiB of the command and its children; the MPI rank the launcher gave it (srun's
SLURM_PROCID, Open MPI's OMPI_COMM_WORLD_RANK, PMIx's PMIX_RANK; 0 outside MPI); the CPUs
the rank may run on (its affinity, as ``0-3,8``); and the GPUs it sees
(``CUDA_VISIBLE_DEVICES``, ``-`` when unset). It exits with the command's exit code.
Standard library only: it runs with the login node's Python on compute nodes.
"""

import os
import resource
import socket
import subprocess
import sys

RANKS = ('OMPI_COMM_WORLD_RANK', 'PMIX_RANK', 'SLURM_PROCID')
"""Where a rank finds its number: mpirun's first (under mpirun inside a Slurm job,
SLURM_PROCID is the job's, not the rank's)."""


def cpu_list(cpus):
    """``0-3,8`` for CPUs {0, 1, 2, 3, 8}."""
    runs, cpus = [], sorted(cpus)
    for cpu in cpus:
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ','.join(f'{a}-{b}' if b > a else str(a) for a, b in runs) or '-'


def main(argv):
    if len(argv) < 3 or argv[1] != '--':
        sys.stderr.write('usage: measure.py RECORD_PREFIX -- CMD [ARGS...]\n')
        return 2
    prefix, cmd = argv[0], argv[2:]
    try:
        rc = subprocess.call(cmd)
    except OSError as err:
        sys.stderr.write(f'measure.py: cannot run {cmd[0]}: {err}\n')
        rc = 127
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rank = next((os.environ[v] for v in RANKS if os.environ.get(v, '').isdigit()), '0')
    gpus = os.environ.get('CUDA_VISIBLE_DEVICES', '').replace(' ', '') or '-'
    with open(f'{prefix}.{socket.gethostname()}.{os.getpid()}', 'w') as out:
        out.write(f'{peak_kib} {rank} {cpu_list(os.sched_getaffinity(0))} {gpus}\n')
    return 128 - rc if rc < 0 else rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
