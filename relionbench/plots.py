"""The report's figures (matplotlib, drawn without pyplot so that workers can draw them at
once): the history of a check, GPU scaling, and CPU-optimised against plain."""

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba_array
from matplotlib.figure import Figure

from relionbench import stages
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN
from relionbench.report import PALETTE
from relionbench.synthetic import Size

DPI = 72
TOTAL = 'total_seconds'


def draw(name, data, path):
    """Draw figure ``name`` (a function here) of ``data`` into ``path``; None if empty."""
    return FIGURES[name](data, path)


def history(values, path):
    """Every run of a check on a system, oldest to newest. Left: each stage's total time (a
    line per stage and case, coloured as report.case_colours says, log scale). Right: every
    metric of every stage as a control chart, in units of its own reference band (the shaded
    strip: its edges are the band's, its centre the reference); points coloured by case, red
    crosses for misses, grey points for metrics without a reference (centred on their
    median). Red lines mark runs that failed without a value. Absolute values are in the
    tables. Two axes per check keep the report fast at any number of stages and metrics."""
    if values.empty:
        return None
    order = values.drop_duplicates('run').sort_values('time')
    position = pd.Series(np.arange(len(order), dtype=float), index=order.run)
    layouts = sorted({c.split('/', 1)[-1] for c in values.case})
    stage_names = stages.stage_order(values.check.iloc[0], values.stage.unique())
    values = values.assign(row_name=values.stage + '  ' + values.metric).sort_values('time')
    rows = list(dict.fromkeys(values.sort_values(
        'stage', key=lambda s: s.map(stage_names.index), kind='stable').row_name))
    x = values.run.map(position).to_numpy()
    layout = values.case.map({case: layouts.index(case.split('/', 1)[-1])
                              for case in values.case.unique()}).to_numpy()
    colour = to_rgba_array([PALETTE[n % 10] for n in range(len(layouts))])
    measured = set(values.run[values.value.notna()])
    failed = [position[r] for r in order.run[order.result == 'fail'] if r not in measured]
    ticks = sorted({round(i * (len(order) - 1) / 2) for i in range(3)})
    labels = [order.time.iloc[i].strftime('%Y-%m-%d') for i in ticks]
    fig = Figure(figsize=(14, 1.0 + max(3.0, 0.15 * len(rows))), dpi=DPI)
    grid = fig.add_gridspec(1, 2, width_ratios=(1, 1.2), left=0.04, right=0.99, top=0.96,
                            bottom=0.06, wspace=0.45)
    value, ref = values.value.to_numpy(float), values.ref.to_numpy(float)
    missed = (values.metric_result == 'fail').to_numpy()
    ax = fig.add_subplot(grid[0])
    total = (values.metric == TOTAL).to_numpy()
    lines = values[total].groupby(['stage', 'case'], sort=False).indices
    for (stage, case), where in lines.items():
        mine = np.flatnonzero(total)[where]
        ax.plot(x[mine], value[mine], '-', color=colour[layout[mine[0]]], lw=1)
        if case.endswith('/' + layouts[0]):            # name each stage once
            ax.annotate(stage, (x[mine[-1]], value[mine[-1]]), fontsize=6, xytext=(2, 0),
                        textcoords='offset points', va='center')
    ax.plot(x[total & missed], value[total & missed], 'x', ms=5, mew=1, color='red')
    ax.set_yscale('log')
    _time_axis(ax, 'total time of each stage (s)', order, ticks, labels, failed)
    ax = fig.add_subplot(grid[1])
    y = values.row_name.map({r: len(rows) - 1 - k for k, r in enumerate(rows)}).to_numpy()
    y = y + 0.4 * np.clip(np.nan_to_num(_in_band_units(values).to_numpy(float)), -1.25, 1.25)
    strips = [[(-0.5, k - 0.4), (len(order), k - 0.4), (len(order), k + 0.4), (-0.5, k + 0.4)]
              for k in range(len(rows))]
    ax.add_collection(PolyCollection(strips, facecolor='tab:green', alpha=0.12, lw=0),
                      autolim=False)
    referenced = ~np.isnan(ref)
    good = referenced & ~missed
    for n in np.unique(layout[good]):       # plot() draws markers far faster than scatter()
        mine = good & (layout == n)
        ax.plot(x[mine], y[mine], '.', ms=3, mew=0, color=colour[n])
    ax.plot(x[~referenced], y[~referenced], '.', ms=3, mew=0, color='grey')
    ax.plot(x[missed], y[missed], 'x', ms=5, mew=1, color='red')
    ax.set_yticks(np.arange(len(rows)), rows[::-1], fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    _time_axis(ax, 'every metric, in units of its reference band', order, ticks, labels,
               failed)
    return _save(fig, path)


def _in_band_units(values):
    """Distance from the reference in band half-widths (+-1 at the band's edges); a one-sided
    band is taken as symmetric, and a metric without reference is centred on its median with
    a half-width of 10 %."""
    above = values.value >= values.ref
    width = (values.high - values.ref).where(above, values.ref - values.low)
    width = width.fillna(values.high - values.ref).fillna(values.ref - values.low)
    median = values.groupby('metric').value.transform('median')
    plain = (values.value - median) / (0.1 * median.abs()).replace(0, np.nan)
    return ((values.value - values.ref) / width.replace(0, np.nan)).fillna(plain)


def _time_axis(ax, title, order, ticks, labels, failed):
    for where in failed:
        ax.axvline(where, color='red', alpha=0.25, lw=1)
    ax.set_title(title, fontsize=9, y=1.0)
    ax.set_xticks(ticks, labels)
    ax.set_xlim(-0.5, len(order) - 0.5)
    ax.tick_params(labelsize=7)


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
    fig.savefig(path, pil_kwargs={'compress_level': 1})
    return path


# -- helpers ---------------------------------------------------------------------------------

FIGURES = {f.__name__: f for f in (history, gpu_scaling, cpu_vs_plain, builds_side_by_side)}
