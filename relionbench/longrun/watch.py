"""Progress of running benchmarks: ``relionbench watch [SESSION]``.

Reads only what the jobs write in their stage folders: ``rb_job.json`` (the check, its time
limit and its steps' command lines, written when the job is submitted), ``rb_steps/running.tsv``
(the step under way since when), ``rb_steps/steps.tsv`` (the steps done), the step's log and
RELION's iteration files (relionbench.science.iterations). It never touches a running job.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from relionbench.constants import STEPS_DIR
from relionbench.run import records
from relionbench.science import iterations

JOB_FILE = records.JOB_FILE
QUIET = 300
"""Seconds without a word from a running step before the line says so."""


@dataclass(frozen=True)
class State:
    check: str
    state: str                      #: waiting, running, finished, failed
    step: str = ''                  #: 'refine (1 of 3)'
    detail: str = ''                #: 'iteration 3 of 25', 'auto-refine, iteration 4, 10.3 A'
    elapsed: float | None = None    #: since the job's first step began
    left: float | None = None       #: estimated, of the step under way
    limit: float | None = None      #: the job's time limit
    quiet: float = 0.0              #: seconds since the step last wrote anything

    @property
    def fits(self):
        """Whether the job, at this estimate, ends within its time limit (None: unknown)."""
        if self.limit is None or self.elapsed is None:
            return None
        return self.elapsed + (self.left or 0.0) <= self.limit


def _running(stagedir):
    path = Path(stagedir, STEPS_DIR, 'running.tsv')
    try:
        index, label, start = path.read_text().split('\t')
        return int(index), label, float(start)
    except (OSError, ValueError):
        return None


def _quiet(stagedir, log, prefix, now):
    paths = [log, *Path(stagedir, prefix).parent.glob('*')] if prefix else [log]
    times = [p.stat().st_mtime for p in paths if p.exists()]
    return max(0.0, now - max(times)) if times else 0.0


def state(stagedir, now=None):
    """The State of the job in ``stagedir`` (None when it is not a benchmark's)."""
    now = time.time() if now is None else now
    try:
        job = json.loads(Path(stagedir, JOB_FILE).read_text())
    except (OSError, ValueError):
        return None
    name, steps, limit = job['check'], job['steps'], job.get('time_limit')
    done = records.read_steps(stagedir)
    out = Path(stagedir, 'rfm_job.out')
    first = done[0].start if done else None
    if done and done[-1].exit_code != 0:
        return State(name, 'failed', f'{done[-1].label} ({done[-1].index + 1} of {len(steps)})',
                     f'exit code {done[-1].exit_code}', limit=limit)
    if out.exists() and records.DONE in out.read_text(errors='replace'):
        return State(name, 'finished', elapsed=sum(r.seconds for r in done), limit=limit)
    running = _running(stagedir)
    if running is None or running[0] < len(done):
        return State(name, 'waiting' if not done else 'running',
                     elapsed=now - first if first else None, limit=limit)
    index, label, start = running
    first = first or start
    step = steps[index]
    where = f'{label} ({index + 1} of {len(steps)})'
    log = records.log_path(stagedir, index, label)
    text = log.read_text(errors='replace') if log.exists() else ''
    if not step['program'].startswith('relion_refine'):
        return State(name, 'running', where, f'{now - start:.0f} s in this step', now - first,
                     limit=limit, quiet=_quiet(stagedir, log, '', now))
    found = iterations.progress(text, stagedir, step['args'], start)
    options = iterations.Options.parse(step['args'])
    if found.iteration == 0:
        detail = 'reading the data'
    elif found.total is None:
        detail = f'auto-refine, iteration {found.iteration}' + (
            f', {found.resolution:.2f} A' if found.resolution else '') + (
            ', converged: last iteration' if found.converged else '')
    else:
        detail = f'iteration {found.iteration} of {found.total}'
    return State(name, 'running', where, detail, now - first, found.remaining(now), limit,
                 _quiet(stagedir, log, options.prefix, now))


def sessions(runs):
    """The session folders under ``runs/stage``, oldest first."""
    stage = Path(runs, 'stage')
    return sorted((p for p in stage.glob('*') if p.is_dir()), key=lambda p: p.name) \
        if stage.is_dir() else []


def find_session(runs, session=''):
    """The stage folder of ``session`` (a name under ``runs/stage`` or a path; default: the
    newest), or raise FileNotFoundError with what to give."""
    if session and Path(session).is_dir():
        return Path(session)
    found = sessions(runs)
    if session:
        match = [p for p in found if p.name == session]
        if not match:
            raise FileNotFoundError(f'no session {session!r} under {Path(runs, "stage")}: give '
                                    f'one of {", ".join(p.name for p in found[-5:]) or "none"}'
                                    ' or a stage folder')
        return match[0]
    if not found:
        raise FileNotFoundError(f'no session under {Path(runs, "stage")}: start one with '
                                'reframe -c checks/ -r, or name the runs folder with --runs')
    return found[-1]


def states(session, now=None):
    """The State of every benchmark job of a session folder, by check name."""
    found = [state(p.parent, now) for p in Path(session).rglob(JOB_FILE)]
    return sorted((s for s in found if s), key=lambda s: s.check)


def clock(seconds):
    if seconds is None:
        return '?'
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


def columns(s):
    """The words of one State's line: check, state, step, progress, elapsed, left, limit."""
    fits = {True: 'fits', False: 'EXCEEDS', None: ''}[s.fits if s.state == 'running' else None]
    limit = f'{fits} {clock(s.limit)} limit'.strip() if s.limit else 'no limit'
    quiet = f' (quiet {clock(s.quiet)})' if s.quiet > QUIET else ''
    return [s.check, s.state, s.step, s.detail + quiet, clock(s.elapsed),
            '' if s.state != 'running' else f'~{clock(s.left)}' if s.left is not None else '?',
            limit]


HEADER = ['check', 'state', 'step', 'progress', 'elapsed', 'step left', 'limit']


def line(s):
    return '  '.join(w for w in columns(s) if w)


def live(session, interval=2.0):
    """A live table on a terminal until no job waits or runs (or Ctrl-C)."""
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    def render():
        table = Table(title=f'relionbench watch {session}')
        for name in HEADER:
            table.add_column(name)
        found = states(session)
        for s in found:
            style = {'failed': 'red', 'finished': 'green'}.get(s.state, '')
            table.add_row(*columns(s), style='red' if s.fits is False else style)
        return table, found

    with Live(render()[0], console=Console(), refresh_per_second=1) as shown:
        while True:
            table, found = render()
            shown.update(table)
            if not any(s.state in ('waiting', 'running') for s in found):
                return found
            time.sleep(interval)
