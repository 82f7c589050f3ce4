"""The report's figures, drawn in worker processes: per stage its history panels (SVG,
relionbench.report.svgpanels); per check GPU scaling, CPU-optimised against plain and the builds
side by side (matplotlib, without pyplot)."""

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from relionbench import workflows
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN
from relionbench.data.sizes import Size
from relionbench.report import svgpanels
from relionbench.report.colours import colours
from relionbench.results import changes
from relionbench.science import metrics
from relionbench.science.metrics import TOTAL

DPI = 72


def draw(name, data, path):
    """Draw figure ``name`` (a function here) of ``data`` into ``path``; None if empty."""
    return FIGURES[name](data, path)


PANELS = (('total time (s)', 'time', ((TOTAL,),)),
          ('resolution (Å); dotted: against the truth', 'resolution',
           (metrics.RESOLUTION, metrics.TRUTH_RESOLUTION)),
          ('peak memory (MiB)', 'memory', (('peak_mib',),)))
"""The history panels: title, kind (relionbench.results.changes) and the metric suffixes of
each line style (solid, dotted), the first found taken (memory: the step with the largest
peak)."""
STYLES = ('solid', 'dotted')
"""The line style of each metric of a panel."""


def panels(values, path):
    """The history of one stage: a small panel per key metric (PANELS), a line per layout and
    build (coloured as relionbench.report.colours says), its reference band shaded, misses as
    red crosses and the changes of level (relionbench.results.changes) as dashed lines; x is
    the run, labelled with its date and time. Written as SVG directly
    (relionbench.report.svgpanels): a few milliseconds a panel where matplotlib takes a tenth
    of a second, at 1 run or 1,000."""
    if values.run.nunique() < 2:
        return None
    chosen = [(title, kind, names) for title, kind, choices in PANELS
              if any(names := [_pick(values, suffixes, kind) for suffixes in choices])]
    values = values.sort_values('time', kind='stable')
    order = values.drop_duplicates('run')
    x = values.run.map(pd.Series(np.arange(len(order), dtype=float), index=order.run))
    palette = colours(values)
    kinds = values[['environ', 'case']].drop_duplicates()
    layouts = [palette[kind] for kind in zip(kinds.environ, kinds.case)]   # by layout code
    length = workflows.box_length(values.check.iloc[0], values.stage.iloc[0])
    metric = values.metric.to_numpy(object)
    columns = {'x': x.to_numpy(float),
               'layout': values.groupby(['environ', 'case'], sort=False).ngroup().to_numpy(),
               'missed': (values.metric_result == 'fail').to_numpy(),
               **{c: values[c].to_numpy(float) for c in ('value', 'low', 'high', 'ref')}}
    drawn = []
    for title, kind, names in chosen:
        series = []
        for name, style in zip(names, STYLES):
            if name:
                rows = {k: v[metric == name] for k, v in columns.items()}
                series += _series(rows, layouts, style, kind, length)
        drawn.append(svgpanels.Panel(title, series))
    ticks = sorted({round(i * (len(order) - 1) / 2) for i in range(3)})
    svgpanels.write(path, drawn, len(order),
                    {t: order.time.iloc[t].strftime('%m-%d %H:%M') for t in ticks})
    return path


def _series(rows, layouts, style, kind, length):
    """One metric's lines, one per layout and build (coloured by ``layouts``), with its band,
    misses and changes of level; ``rows`` are numpy columns in time order."""
    x, y, ref = rows['x'], rows['value'], rows['ref']
    low = np.where(np.isfinite(rows['low']), rows['low'], ref)
    high = np.where(np.isfinite(rows['high']), rows['high'], ref)
    found = []
    for code in np.unique(rows['layout']):
        where = np.flatnonzero(rows['layout'] == code)
        good = where[np.isfinite(y[where])]
        cuts = changes.marks(y[good], kind, length)
        found.append(svgpanels.Series(
            x[where], y[where], low[where], high[where], rows['missed'][where],
            x[good][cuts] - 0.5, layouts[code], style))
    return found


def _pick(values, suffixes, kind):
    """The metric of a panel: the first suffix found (metrics.first; for memory the step
    with the largest median)."""
    names = values.metric.unique()
    if kind != 'memory':
        return metrics.first(names, suffixes)
    found = [n for n in names if n.endswith('_' + suffixes[0]) and
             not n.endswith('_node_' + suffixes[0])]       # a rank's peak, not a node's
    if not found:
        return None
    return values[values.metric.isin(found)].groupby('metric').value.median().idxmax()


def gpu_scaling(table, path):
    """Time and speed-up against the number of GPUs, with the ideal speed-up."""
    if table.empty:
        return None
    fig = Figure(figsize=(10, 3.4), dpi=DPI)
    left, right = fig.subplots(1, 2)
    for stage, rows in table.groupby('stage', sort=False):
        where = np.log2(rows.GPUs)
        left.plot(where, rows.seconds, 'o-', ms=4, label=stage)
        right.plot(where, rows['speed-up'], 'o-', ms=4, label=stage)
    top = int(np.log2(table.GPUs.max() / table.GPUs.min()))
    right.plot(range(top + 1), [2 ** k for k in range(top + 1)], 'k--', lw=1, label='ideal')
    ticks = range(int(np.log2(table.GPUs.max())) + 1)
    for ax, label in ((left, 'total time (s)'), (right, 'speed-up over fewest GPUs')):
        ax.set_xticks(ticks, [str(2 ** k) for k in ticks])
        ax.set_xlabel('GPUs')
        ax.set_title(label, fontsize=9, y=1.0)
        ax.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.92, wspace=0.2)
    return _save(fig, path)


def cpu_vs_plain(table, path):
    """Total time of each stage with the plain and the AVX-512 ALTCPU build."""
    if table.empty:
        return None
    fig = Figure(figsize=(max(5, 1.3 * len(table)), 3.4), dpi=DPI)
    ax = fig.subplots()
    x = np.arange(len(table))
    ax.bar(x - 0.2, table[CPU_PLAIN], 0.4, label='plain build')
    ax.bar(x + 0.2, table[CPU_ALTCPU], 0.4, label='AVX-512 ALTCPU (--cpu)')
    ax.set_xticks(x, [f'{s}\n{scale}' for s, scale in zip(table.stage, table.scale)],
                  fontsize=8)
    ax.set_title('total time (s)', fontsize=9, y=1.0)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.18, top=0.92)
    return _save(fig, path)


def builds_side_by_side(table, path):
    """Total time of each stage (and scale) with each build and variant."""
    if table.empty:
        return None
    table = table.assign(dataset=table.dataset if 'dataset' in table else '')
    kinds = list(dict.fromkeys(zip(table.build, table.variant)))
    places = list(dict.fromkeys(zip(table.dataset, table.stage, table.scale)))
    fig = Figure(figsize=(max(6, 1.4 * len(places)), 3.6), dpi=DPI)
    ax = fig.subplots()
    width = 0.8 / len(kinds)
    x = np.arange(len(places))
    seconds = table.set_index(['build', 'variant', 'dataset', 'stage', 'scale']).seconds
    for n, kind in enumerate(kinds):
        heights = [seconds.get((*kind, *place), np.nan) for place in places]
        ax.bar(x - 0.4 + (n + 0.5) * width, heights, width, label=' '.join(kind))
    # a resized miniature (dataset miniature-96x440) says its size under the stage
    sizes = [Size.of_dataset(data) for data, _, _ in places]
    ax.set_xticks(x, [f'{stage}\n{scale}' + (f'\n{size}' if size else '')
                      for (_, stage, scale), size in zip(places, sizes)], fontsize=8)
    ax.set_title('total time (s)', fontsize=9, y=1.0)
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.92)
    return _save(fig, path)


def _save(fig, path):
    """SVG with its text as text: no glyphs to render, sharp at any size."""
    with rc_context({'svg.fonttype': 'none', 'svg.hashsalt': 'relionbench'}):
        fig.savefig(path, format='svg', metadata={'Date': None})
    return path


# -- helpers ---------------------------------------------------------------------------------

FIGURES = {f.__name__: f for f in (panels, gpu_scaling, cpu_vs_plain,
                                   builds_side_by_side)}
