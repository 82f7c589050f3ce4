"""Machine calibration: how this machine compares with the one the local references were
measured on, so that the miniature's time references travel.

Two things make the same work take longer: slower cores, and fewer of them than the work
keeps busy. The first is measured: a fixed numerical workload (3-D FFTs, the kernel RELION
spends its time in), best of a few repeats, in one process. The second is read: the CPUs
the job may use (its affinity and any cgroup CPU quota). ``reference/local.yaml`` keeps
both for the reference machine (``calibration:``). A step keeping ``n`` processes busy (one
for a serial step, the threads of a threaded one, 1.5 for the two followers of an MPI
refinement, which wait for each other) on
``c`` usable cores takes ``max(1, n / c)`` times as long as on ``n`` cores, so its time
reference is scaled by the speed ratio times the ratio of those contentions. The workload
does not use RELION: a slower RELION build is never calibrated away.

``python -m relionbench.machine.calibration [--out calibration.json]``
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

ROUNDS = 40           #: FFT round trips (about 0.5 s on the reference machine)
REPEATS = 3
DURATION = 6.0        #: seconds the repeats are spread over, at least
FILE = 'calibration.json'
SLOWER = 1.0
"""Every slower reading scales the time references; a faster one never does. Over the
sessions on the reference machine the best run took 0.50-0.87 s (median 0.58), and RELION
slowed with it (at 0.87 s, 1.49 times, the refinement took 1.34 times its reference; at
0.70-0.74 s, 1.2-1.27 times, which a noise band up to 1.2 left unscaled, a clean
Refine3D_Local took 1.28 times, past its +25 %). Faster readings did not carry over to
RELION: on 2026-12-04 the workload ran in 0.29-0.30 s (0.5 times the reference's) while the
miniature's Class2D took 17.7 s against its 19.9 s median (0.89 times); scaled down by
half, clean runs on one core failed their references (Class2D 32.7 s against at most
25.3 s). So scaling only ever loosens a band, by at most what the calibration overstates
(once 1.51 while RELION ran at the reference speed): a twice-as-slow RELION still misses a
+25 % band."""
LEADER_IDLE = ('relion_refine_mpi',)
"""MPI programs whose rank 0 only hands out work."""
FOLLOWER_SHARE = 0.5
"""Each relion_refine_mpi follower beyond the first keeps half a core busy: they wait for
each other and for the leader every iteration. Measured on the miniature: with 3 ranks on
one core instead of two its refinements took 1.36-1.56 times as long, not 2 (README)."""


def run_once():
    """Seconds of the workload in this process."""
    volume = np.random.default_rng(0).normal(size=(64, 64, 64)).astype(np.float32)
    began = time.perf_counter()
    for _ in range(ROUNDS):
        volume = np.fft.irfftn(np.fft.rfftn(volume) * 0.5, s=volume.shape, axes=(0, 1, 2))
    return time.perf_counter() - began


def usable_cores():
    """CPUs this process may run on: its affinity, capped by a cgroup v2 CPU quota."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = open('/sys/fs/cgroup/cpu.max').read().split()
        if quota != 'max':
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def measure(repeats=REPEATS, duration=DURATION):
    """{'seconds': the best of at least ``repeats`` runs spread over ``duration`` seconds,
    'cores': usable cores, 'runs': every run's seconds}. The best one is the core's own
    speed: a run beside a busy sibling core (ReFrame starting the session's other checks)
    takes up to 1.6 times as long on a shared VM."""
    runs, began = [], time.perf_counter()
    while len(runs) < repeats or time.perf_counter() - began < duration:
        runs.append(round(run_once(), 4))
    return {'seconds': min(runs), 'cores': usable_cores(), 'runs': runs}


def busy(step, layout):
    """Processes a step keeps busy: 1 for a serial step, its threads when threaded, times its
    ranks (less an idle leader) when it runs under MPI."""
    if step.python:
        return 1
    threads = layout.threads if step.threaded else 1
    ranks = layout.tasks if step.mpi else 1
    if step.program in LEADER_IDLE and ranks > 1:
        ranks = 1 + (ranks - 2) * FOLLOWER_SHARE
    return ranks * threads


def speed(measured, reference):
    """This machine's workload time over the reference machine's; 1 when it is faster (a
    faster workload did not make RELION faster: ``SLOWER``)."""
    return max(SLOWER, measured['seconds'] / reference['seconds'])


def factor(measured, reference, processes):
    """How much longer a step keeping ``processes`` busy takes here than on the reference
    machine; 1 without a calibration."""
    if not measured or not reference:
        return 1.0

    def contention(cores):
        return max(1.0, processes / cores)
    return speed(measured, reference) * contention(measured['cores']) / contention(
        reference['cores'])


def describe(factors):
    """'x1.00 (1 busy process), x2.00 (2 busy processes)'."""
    return ', '.join(f'x{f:.2f} ({n:g} busy process{"es" * (n != 1)})'
                     for n, f in sorted(factors.items()))


def read(path):
    """What a calibration file holds ({} when absent or unreadable)."""
    try:
        found = json.loads(open(path).read())
        return {'seconds': float(found['seconds']), 'cores': int(found['cores'])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m relionbench.machine.calibration',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=REPEATS)
    parser.add_argument('--duration', type=float, default=DURATION)
    parser.add_argument('--out', default=FILE)
    parser.add_argument('--speed-from', metavar='FILE',
                        help='take the workload time from a calibration measured earlier on '
                        'this machine instead of measuring it; the usable cores are read')
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.speed_from:
        earlier = read(args.speed_from)
        if not earlier:
            print(f'calibration: --speed-from {args.speed_from}: not a calibration file '
                  f'(write one with python -m relionbench.machine.calibration --out FILE)',
                  file=sys.stderr)
            return 1
        found = {'seconds': earlier['seconds'], 'cores': usable_cores(),
                 'speed_from': os.path.abspath(args.speed_from)}
    else:
        found = measure(args.repeats, args.duration)
    with open(args.out, 'w') as out:
        json.dump({**found, 'rounds': ROUNDS, 'repeats': args.repeats,
                   'elapsed': round(time.perf_counter() - began, 3)}, out)
    print(f'calibration: {found["seconds"]:.3f} s on {found["cores"]} usable core(s)'
          + (f' (the time from {args.speed_from})' if args.speed_from else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
