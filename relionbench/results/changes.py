"""When a regression began: change points in the history of each metric.

A metric's history (one relionbench.results.compare.KEY) is scaled so that up is worse (times and
memory as they are; resolutions as Fourier shells lost: ``-box length / resolution``), put in
units of its noise, and cut into segments of constant level by ruptures' KernelCPD (linear
kernel: the least-squares PELT search) with a penalty of ``Z``² noise variances per cut. The
noise is estimated from successive differences, robustly (1.4826 x median |difference| / √2,
the largest difference left out: it may be the step), and floored at ``NOISE_FLOOR`` of the
level. So a step is found at its first run only when it is several times the run-to-run
noise (a 10 % slow-down where runs differ by 1-2 %); against more noise it is found a few
runs later, and the first run it names is still where it began. The latest level is a step
when it differs from the median of the (at least ``BEFORE``) runs before it by at least the
metric's ``EFFECT`` (a 10 % slow-down is one; run-to-run noise within a session is not).

``python -m relionbench.results.replay RUNS`` replays a history session by session
(scripts/measure-changes).
"""

from dataclasses import dataclass

import numpy as np

Z = 3.0
"""A cut must explain more than Z² noise variances: a lone latest run Z noise widths away."""
WINDOW = 50
"""Runs of a history searched (the latest)."""
BEFORE = 3
"""Runs a level needs before a step from it can be told from noise."""
NOISE_FLOOR = 0.01
"""The noise is taken as at least this fraction of the level."""
EFFECT = {'time': (0.05, 0.5), 'memory': (0.10, 4.0), 'resolution': (None, 1.5)}
"""Smallest change of level that counts as a step, per metric kind: (relative, absolute in s,
MiB or Fourier shells); both must be met. Other kinds are judged by their bands only."""


@dataclass(frozen=True)
class Step:
    """The latest level of a history: it began at ``start`` (an index into the values) and
    moved from ``before`` to ``after`` (medians, in the metric's units; for resolutions in
    Fourier shells lost)."""

    start: int
    before: float
    after: float
    worse: bool

    def change(self, kind):
        if kind == 'resolution':
            return f'{self.before - self.after:+.2f} shells'
        return f'{100 * (self.after - self.before) / abs(self.before):+.1f} %'


def scaled(values, kind, length=None):
    """``values`` with up as worse (resolutions in Fourier shells lost); None if the kind has
    no steps."""
    values = np.asarray(values, dtype=float)
    if kind == 'resolution':
        return -length / values if length else None
    return values if kind in EFFECT else None


def cuts(series):
    """Indices where a new level begins in ``series`` (up is worse), oldest first."""
    series = np.asarray(series, dtype=float)
    if len(series) < 3 or not np.isfinite(series).all():
        return []
    jumps = np.sort(np.abs(np.diff(series)))[:-1]          # the largest may be the step
    noise = 1.4826 * np.median(jumps) / np.sqrt(2)
    noise = max(noise, NOISE_FLOOR * abs(np.median(series)), 1e-9)
    import ruptures  # here: it imports scipy.stats, a second and more
    model = ruptures.KernelCPD(kernel='linear', min_size=1, jump=1).fit(series / noise)
    return [int(c) for c in model.predict(pen=Z * Z)[:-1]]


def step(values, kind, length=None):
    """The Step of the latest level of ``values`` (oldest first), or None when the latest
    level is the first or differs from the runs before it by less than the kind's EFFECT."""
    series = scaled(values, kind, length)
    if series is None:
        return None
    offset = max(0, len(series) - WINDOW)
    series = series[offset:]
    found = cuts(series)
    if not found:
        return None
    start = found[-1]
    if start < BEFORE:
        return None
    before, after = np.median(series[:start]), np.median(series[start:])
    if not _counts(after - before, before, kind):
        return None
    return Step(offset + start, float(before), float(after), bool(after > before))


def marks(values, kind, length=None):
    """Indices of every change of level in ``values`` that counts (for the report's
    figures); a lone run between two cuts is an outlier, not a level."""
    series = scaled(values, kind, length)
    if series is None:
        return []
    found = cuts(series)
    edges = [0, *found, len(series)]
    lone = {a for a, b in zip(edges, edges[1:]) if b - a == 1 and 0 < a and b < len(series)}
    found = [c for c in found if c not in lone]      # a lone run joins the level before
    edges = [0, *found, len(series)]
    levels = [np.median(series[a:b]) for a, b in zip(edges, edges[1:])]
    return [c for c, (a, b) in zip(found, zip(levels, levels[1:])) if _counts(b - a, a, kind)]


def _counts(change, level, kind):
    relative, absolute = EFFECT[kind]
    return abs(change) >= absolute and (relative is None or
                                        abs(change) >= relative * abs(level))
