"""Small history panels side by side, written as SVG text: per panel its lines (one per
layout and build, solid or dotted), their reference bands shaded, misses as red crosses and
changes of level as dashed lines, with y ticks from matplotlib's MaxNLocator and x labelled
by run. matplotlib takes a tenth of a second a panel on a 2-core VM (mostly creating and
laying out its tick artists); this takes a few milliseconds, which keeps a report of 10,000
runs and 60 panels within seconds."""

from dataclasses import dataclass

import numpy as np
from markupsafe import escape
from matplotlib.ticker import MaxNLocator

WIDTH, HEIGHT = 250, 175
"""One panel, in pixels."""
LEFT, RIGHT, TOP, BOTTOM = 44, 26, 22, 34
"""The margins of a panel's plotting area."""
DASHES = {'solid': '', 'dotted': ' stroke-dasharray="1.5 2"'}


@dataclass
class Series:
    """One line of a panel: numpy arrays over the runs it has (x is the run's position),
    the x of each change of level, its colour and line style."""
    x: np.ndarray
    y: np.ndarray
    low: np.ndarray
    high: np.ndarray
    missed: np.ndarray
    changes: np.ndarray
    colour: str
    style: str = 'solid'


@dataclass
class Panel:
    title: str
    series: list


def write(path, panels, runs, labels):
    """Write ``panels`` side by side into ``path``: x from -0.5 to ``runs`` - 0.5, labelled
    at the runs ``labels`` names ({position: 'mm-dd HH:MM'})."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH * len(panels)}" '
             f'height="{HEIGHT}" font-family="DejaVu Sans, sans-serif" font-size="9">']
    for n, panel in enumerate(panels):
        parts.append(f'<g transform="translate({WIDTH * n},0)">')
        parts += _panel(panel, runs, labels)
        parts.append('</g>')
    parts.append('</svg>')
    with open(path, 'w') as handle:
        handle.write('\n'.join(parts))
    return path


def _panel(panel, runs, labels):
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    found = [a for s in panel.series for a in (s.y, s.low, s.high)]
    finite = np.concatenate([a[np.isfinite(a)] for a in found]) if found else np.array([])
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if high - low < 1e-9 * max(abs(high), 1):
        low, high = low - 0.5, high + 0.5
    pad = 0.05 * (high - low)
    low, high = low - pad, high + pad

    def sx(x):
        return LEFT + (np.asarray(x, float) + 0.5) / runs * (right - LEFT)

    def sy(y):
        return bottom - (np.asarray(y, float) - low) / (high - low) * (bottom - TOP)

    out = [f'<text x="{(LEFT + right) / 2:.1f}" y="13" text-anchor="middle" font-size="11">'
           f'{escape(panel.title)}</text>']
    banded = sum(bool((np.isfinite(s.low) & np.isfinite(s.high)).any()) for s in panel.series)
    opacity = min(0.12, 0.5 / max(banded, 1))      # many bands over each other stay light
    for s in panel.series:         # bands first, under every line
        band = np.isfinite(s.low) & np.isfinite(s.high)
        if band.any():
            xs = sx(s.x[band])
            edge = np.concatenate([np.column_stack([xs, sy(s.low[band])]),
                                   np.column_stack([xs, sy(s.high[band])])[::-1]])
            out.append(f'<polygon points="{_points(edge)}" fill="{s.colour}" '
                       f'fill-opacity="{opacity:.3f}"/>')
    for s in panel.series:
        for piece in _pieces(sx(s.x), sy(s.y)):
            out.append(f'<polyline points="{_points(piece)}" fill="none" stroke="{s.colour}" '
                       f'stroke-width="1"{DASHES[s.style]}/>')
        for x in sx(s.changes):
            out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}" '
                       f'stroke="{s.colour}" stroke-dasharray="4 3"/>')
        missed = s.missed & np.isfinite(s.y)
        if missed.any():
            crosses = ''.join(f'M{x - 3:.1f} {y - 3:.1f}l6 6m0 -6l-6 6' for x, y in
                              zip(sx(s.x[missed]), sy(s.y[missed])))
            out.append(f'<path d="{crosses}" stroke="red" stroke-width="1.2"/>')
    out.append(f'<path d="M{LEFT} {TOP}V{bottom}H{right}" fill="none" stroke="black" '
               f'stroke-width="0.8"/>')
    for tick in MaxNLocator(4).tick_values(low, high):
        if low <= tick <= high:
            y = float(sy(tick))
            out.append(f'<path d="M{LEFT - 3} {y:.1f}h3" stroke="black" stroke-width="0.8"/>'
                       f'<text x="{LEFT - 5}" y="{y + 3:.1f}" text-anchor="end">'
                       f'{tick:g}</text>')
    for position, label in labels.items():
        x = float(sx(position))
        date, _, time = label.partition(' ')
        out.append(f'<path d="M{x:.1f} {bottom}v3" stroke="black" stroke-width="0.8"/>'
                   f'<text x="{x:.1f}" y="{bottom + 13}" text-anchor="middle">{escape(date)}'
                   f'<tspan x="{x:.1f}" dy="10">{escape(time)}</tspan></text>')
    return out


def _pieces(x, y):
    """The runs of finite points of a line, as (n, 2) arrays (a gap breaks the line)."""
    good = np.isfinite(y)
    breaks = np.flatnonzero(np.diff(good.astype(int)))
    return [np.column_stack([xs, ys]) for xs, ys, ok in
            zip(np.split(x, breaks + 1), np.split(y, breaks + 1),
                np.split(good, breaks + 1)) if ok[0]]


def _points(pairs):
    return ' '.join(f'{x:.1f},{y:.1f}' for x, y in pairs)
