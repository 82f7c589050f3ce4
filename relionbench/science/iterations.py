"""Per-iteration wall times of a ``relion_refine`` step, from the files its iterations write.

RELION writes ``<--o>_it000_*`` once the data are read and ``<--o>_itNNN_*`` at the end of
iteration NNN: every iteration for expectation-maximisation classification and auto-refine
(whose count is not known in advance; its last iteration, with both halves joined, writes
``<--o>_model.star`` and the maps without ``_itNNN``), every ``--grad_write_iter``-th and the
last for gradient-driven (VDAM, ``--grad``) runs. An iteration's time is the time between two
written iterations divided by the iterations between them (the average of its block for
VDAM); iteration 1 counts from iteration 0's files, or from the step's start without them.
What the step's log says while it runs (``Expectation iteration 3 of 25``, ``Auto-refine:
Iteration= 4``, its resolution) tells how far a running step is (``progress``).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path

ITERATION_FILE = re.compile(r'_it(\d{3,})_')
STARTED = re.compile(r'^\s*(?:Expectation|Gradient optimisation|Stochastic Gradient Descent) '
                     r'iteration (\d+)(?: of (\d+))?', re.M)
AUTO_RESOLUTION = re.compile(r'Auto-refine: Resolution= *([\d.]+)')
CONVERGED = 'Auto-refine: Refinement has converged'
FINAL = 'final'


@dataclass(frozen=True)
class Iteration:
    number: int             #: RELION's iteration number (auto-refine's last: FINAL's, n + 1)
    seconds: float          #: its wall time (its block's average when written every N)
    end: float              #: when its block's files were written (epoch seconds)
    block: int = 1          #: iterations between the files it is timed from


@dataclass(frozen=True)
class Options:
    """What a relion_refine command line says about its iterations."""
    prefix: str             #: --o
    total: int | None       #: --iter (None for auto-refine: not known in advance)
    auto_refine: bool

    @classmethod
    def parse(cls, args):
        args = [str(a) for a in args]

        def value(flag, default=None):
            return args[args.index(flag) + 1] if flag in args[:-1] else default
        auto = '--auto_refine' in args
        total = None if auto else int(value('--iter', 50 if '--grad' not in args else 200))
        return cls(value('--o', 'run'), total, auto)


def written(prefix, final=False):
    """[(iteration, when its files were last written)] in order; with ``final``, auto-refine's
    last iteration (files without ``_itNNN``) as the one after the highest."""
    prefix = Path(prefix)
    found = {}
    for path in prefix.parent.glob(f'{prefix.name}_it*'):
        match = ITERATION_FILE.match(path.name[len(prefix.name):])
        if match:
            number = int(match.group(1))
            found[number] = max(found.get(number, 0.0), path.stat().st_mtime)
    rows = sorted(found.items())
    last = Path(f'{prefix}_model.star')
    if final and rows and last.exists() and last.stat().st_mtime > rows[-1][1]:
        rows.append((rows[-1][0] + 1, last.stat().st_mtime))
    return rows


def timings(prefix, start, final=False):
    """(seconds before iteration 1, [Iteration]) of a step that started at ``start``."""
    rows = written(prefix, final)
    previous = (0, start)
    setup = 0.0
    if rows and rows[0][0] == 0:
        setup = max(0.0, rows[0][1] - start)
        previous, rows = rows[0], rows[1:]
    found = []
    for number, when in rows:
        block = number - previous[0]
        if block <= 0:
            continue
        each = max(0.0, when - previous[1]) / block
        found += [Iteration(n, each, when, block) for n in range(previous[0] + 1, number + 1)]
        previous = (number, when)
    return setup, found


def of_step(stagedir, args, start):
    """(setup seconds, [Iteration]) of a finished relion_refine step run with ``args``."""
    options = Options.parse(args)
    return timings(Path(stagedir, options.prefix), start, final=options.auto_refine)


def summary(found):
    """{'median_iteration': s, 'slowest_iteration': s, 'iterations': n} ({} for none)."""
    if not found:
        return {}
    seconds = [i.seconds for i in found]
    return {'median_iteration': statistics.median(seconds),
            'slowest_iteration': max(seconds), 'iterations': len(found)}


def table(setup, found, final_number=None):
    """The step's per-iteration record (tab-separated; the setup row is iteration 0)."""
    lines = ['iteration\tseconds\tend\tblock', f'0\t{setup:.3f}\t\t']
    lines += [f'{FINAL if i.number == final_number else i.number}\t{i.seconds:.3f}\t'
              f'{i.end:.3f}\t{i.block}' for i in found]
    return '\n'.join(lines) + '\n'


@dataclass(frozen=True)
class Progress:
    """How far a running relion_refine step is, from its log and files."""
    iteration: int          #: the iteration it is in (0: still reading its data)
    total: int | None       #: None for auto-refine
    done: list              #: [Iteration] finished
    resolution: float | None = None
    converged: bool = False

    def remaining(self, now):
        """Estimated seconds left (None when it cannot tell: auto-refine, nothing timed yet):
        the median finished iteration times the iterations left, less the time already in
        the current one."""
        if self.total is None or not self.done:
            return None
        per = statistics.median(i.seconds for i in self.done)
        finished = self.done[-1].number
        in_current = max(0.0, now - self.done[-1].end)
        return max(0.0, per * (self.total - finished) - in_current)


def progress(log_text, stagedir, args, start):
    """The Progress of a running step whose log holds ``log_text``."""
    options = Options.parse(args)
    _, done = timings(Path(stagedir, options.prefix), start, final=False)
    started = STARTED.findall(log_text)
    total = options.total
    if started and started[-1][1]:          # "of N": RELION's own count
        total = int(started[-1][1])
    current = max([int(n) for n, _ in started] + [0])
    resolutions = AUTO_RESOLUTION.findall(log_text)
    return Progress(current, total, done, float(resolutions[-1]) if resolutions else None,
                    CONVERGED in log_text)
