"""Machine calibration: how fast this machine is, against the one the local references were
measured on, so that the miniature's time references travel.

A fixed numerical workload (3-D FFTs, the kernel RELION spends its time in) runs in 1 and in
2 concurrent processes, each timed as the best of a few repeats. ``reference/local.yaml``
keeps the seconds the reference machine took (``calibration:``); a step's time reference is
scaled by this machine's ratio for the number of processes the step keeps busy (one for a
serial step, the threads of a threaded one, the followers of an MPI refinement), so a
machine twice as slow, or half of the reference machine, expects twice the time. The
workload does not use RELION: a slower RELION build is never calibrated away.

``python -m relionbench.calibration [--workers 1 2] [--out calibration.json]``
"""

import argparse
import json
import math
import multiprocessing
import sys
import time

import numpy as np

ROUNDS = 40           #: FFT round trips per process (about 1 s on the reference machine)
REPEATS = 3
WORKERS = (1, 2)
FILE = 'calibration.json'
LEADER_IDLE = ('relion_refine_mpi',)
"""MPI programs whose rank 0 only hands out work."""


def _work(start, _):
    volume = np.random.default_rng(0).normal(size=(64, 64, 64)).astype(np.float32)
    start.wait()
    for _ in range(ROUNDS):
        volume = np.fft.irfftn(np.fft.rfftn(volume) * 0.5, s=volume.shape, axes=(0, 1, 2))
    return float(volume[0, 0, 0])


def run_once(workers):
    """Wall seconds of ``workers`` processes doing the workload at the same time."""
    context = multiprocessing.get_context('fork')
    start = context.Barrier(workers + 1)
    procs = [context.Process(target=_work, args=(start, i)) for i in range(workers)]
    for proc in procs:
        proc.start()
    start.wait()
    began = time.perf_counter()
    for proc in procs:
        proc.join()
    if any(proc.exitcode for proc in procs):
        raise RuntimeError('a calibration process failed')
    return time.perf_counter() - began


def measure(workers=WORKERS, repeats=REPEATS):
    """{workers: best seconds of ``repeats``}."""
    return {n: round(min(run_once(n) for _ in range(repeats)), 4) for n in workers}


def busy(step, layout):
    """Processes a step keeps busy: 1 for a serial step, its threads when threaded, times its
    ranks (less an idle leader) when it runs under MPI."""
    if step.python:
        return 1
    threads = layout.threads if step.threaded else 1
    ranks = layout.tasks if step.mpi else 1
    if step.program in LEADER_IDLE and ranks > 1:
        ranks -= 1
    return ranks * threads


def factor(measured, reference, workers):
    """This machine's time for ``workers`` processes over the reference machine's (the
    nearest calibrated count when that one was not measured); 1 without a calibration."""
    if not measured or not reference:
        return 1.0
    known = sorted(set(map(int, measured)) & set(map(int, reference)))
    if not known:
        return 1.0
    n = min(known, key=lambda k: (abs(k - workers), -k))
    return float(_get(measured, n)) / float(_get(reference, n))


def _get(table, n):
    return table[n] if n in table else table[str(n)]


def describe(factors):
    """'x1.02 (1 process), x1.98 (2 processes)'."""
    return ', '.join(f'x{f:.2f} ({n} process{"es" * (n > 1)})' for n, f in sorted(factors.items()))


def read(path):
    """The measured {workers: seconds} in a calibration file ({} when absent)."""
    try:
        return {int(k): v for k, v in json.loads(open(path).read())['seconds'].items()}
    except (OSError, ValueError, KeyError):
        return {}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m relionbench.calibration',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--workers', type=int, nargs='*', default=list(WORKERS))
    parser.add_argument('--repeats', type=int, default=REPEATS)
    parser.add_argument('--out', default=FILE)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    seconds = measure(args.workers, args.repeats)
    with open(args.out, 'w') as out:
        json.dump({'seconds': seconds, 'rounds': ROUNDS, 'repeats': args.repeats,
                   'elapsed': round(time.perf_counter() - began, 3)}, out)
    for n, s in seconds.items():
        print(f'calibration: {n} process(es) {s:.3f} s')
    if any(not math.isfinite(s) for s in seconds.values()):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
