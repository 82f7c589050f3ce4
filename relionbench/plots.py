"""The report's figures (matplotlib, drawn without pyplot so that workers can draw them at
once): per stage the steps of its latest runs and its history panels; per check GPU scaling,
CPU-optimised against plain and the builds side by side."""

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from relionbench import changes, metrics, stages
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN
from relionbench.metrics import TOTAL
from relionbench.report import colours, layout
from relionbench.synthetic import Size

DPI = 72


def draw(name, data, path):
    """Draw figure ``name`` (a function here) of ``data`` into ``path``; None if empty."""
    return FIGURES[name](data, path)


def steps(values, path):
    """The latest run of each layout and build of one stage: each step's time as a bar
    (coloured as colours() says, red where it missed), with its reference band as a black
    line and the reference as a tick; one bar per step and layout, labelled."""
    timed = values[values.metric.str.endswith('_seconds') & (values.metric != TOTAL)]
    if timed.empty:
        return None
    latest = timed.sort_values('time').groupby(['environ', 'case'], sort=False).run.last()
    shown = timed[timed.run.isin(latest)].drop_duplicates(['run', 'metric'], keep='last')
    names = list(dict.fromkeys(shown.metric))
    palette = colours(values)
    picked = shown.assign(order=shown.metric.map(names.index)).sort_values(
        ['order', 'environ', 'case'])
    rows = list(zip(picked.metric, zip(picked.environ, picked.case)))
    y = np.arange(len(picked))
    height = 0.5 + 0.16 * len(rows)
    fig = Figure(figsize=(7, height), dpi=DPI)
    ax = fig.subplots()
    missed = (picked.metric_result == 'fail').to_numpy()
    ax.barh(y, picked.value.to_numpy(float), 0.8,
            color=np.where(missed, 'red', [palette[kind] for _, kind in rows]))
    ax.hlines(y, picked.low.fillna(0).to_numpy(float), picked.high.to_numpy(float),
              color='black', lw=1)
    ax.plot(picked.ref.to_numpy(float), y, '|', color='black', ms=6)
    ax.set_yticks(y, [f'{metrics.label(name)}  {layout(*kind)}' for name, kind in rows],
                  fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.tick_params(labelsize=7)
    fig.subplots_adjust(left=3.4 / 7, right=0.98, bottom=0.35 / height,
                        top=1 - 0.1 / height)
    return _save(fig, path)


PANELS = (('total time (s)', 'time', (TOTAL,)),
          ('resolution (Å)', 'resolution', metrics.RESOLUTION),
          ('FSC 0.143 against the truth (Å)', 'resolution', metrics.TRUTH_RESOLUTION),
          ('peak memory (MiB)', 'memory', ('peak_mib',)))
"""The history panels: title, kind (relionbench.changes) and the metric suffixes, the first
found taken (memory: the step with the largest peak)."""


def panels(values, path):
    """The history of one stage: a small panel per key metric (PANELS), a line per layout and
    build (coloured as colours() says), its reference band shaded, misses as red crosses and
    the changes of level (relionbench.changes) as dashed lines; x is the run, labelled with
    its date and time. One artist per kind of mark keeps a history of 1,000 runs fast."""
    if values.run.nunique() < 2:
        return None
    chosen = [(title, kind, _pick(values, suffixes, kind)) for title, kind, suffixes in PANELS]
    chosen = [c for c in chosen if c[2]]
    fig = Figure(figsize=(3.2 * len(chosen), 2.4), dpi=DPI)
    _panel_row(fig.subplots(1, len(chosen), squeeze=False)[0], values, chosen)
    fig.subplots_adjust(left=0.45 / fig.get_figwidth(), right=0.99, bottom=0.2, top=0.88,
                        wspace=0.3)
    return _save(fig, path)


def _panel_row(axes, values, chosen):
    order = values.drop_duplicates('run').sort_values('time')
    position = pd.Series(np.arange(len(order), dtype=float), index=order.run)
    palette = colours(values)
    length = stages.box_length(values.check.iloc[0], values.stage.iloc[0])
    ticks = sorted({round(i * (len(order) - 1) / 3) for i in range(4)})
    labels = [order.time.iloc[i].strftime('%m-%d\n%H:%M') for i in ticks]
    for ax, (title, kind, name) in zip(axes, chosen):
        rows = values[values.metric == name].sort_values('time', kind='stable')
        x = rows.run.map(position).to_numpy(float)
        y, low, high, ref = (rows[c].to_numpy(float) for c in ('value', 'low', 'high', 'ref'))
        low, high = np.where(np.isfinite(low), low, ref), np.where(np.isfinite(high), high, ref)
        lines, line_colours, bands, band_colours, cuts, cut_colours = [], [], [], [], [], []
        for key, where in rows.groupby(['environ', 'case'], sort=False).indices.items():
            lines.append(np.column_stack([x[where], y[where]]))
            line_colours.append(palette[key])
            if np.isfinite(low[where]).any():
                bands.append(np.concatenate([np.column_stack([x[where], low[where]]),
                                             np.column_stack([x[where], high[where]])[::-1]]))
                band_colours.append(palette[key])
            good = where[np.isfinite(y[where])]
            found = changes.marks(y[good], kind, length)
            cuts += list(x[good][found] - 0.5)
            cut_colours += [palette[key]] * len(found)
        ax.add_collection(PolyCollection(bands, facecolors=band_colours, alpha=0.12, lw=0))
        ax.add_collection(LineCollection(lines, colors=line_colours, lw=0.9))
        missed = (rows.metric_result == 'fail').to_numpy()
        ax.plot(x[missed], y[missed], 'x', color='red', ms=5, mew=1)
        if cuts:
            ax.vlines(cuts, 0, 1, transform=ax.get_xaxis_transform(), colors=cut_colours,
                      linestyles='dashed', lw=1)
        ax.autoscale_view()
        ax.set_title(title, fontsize=9)
        ax.set_xticks(ticks, labels)
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.tick_params(labelsize=7)


def _pick(values, suffixes, kind):
    """The metric of a panel: the first suffix found (metrics.first; for memory the step
    with the largest median)."""
    names = values.metric.unique()
    if kind != 'memory':
        return metrics.first(names, suffixes)
    found = [n for n in names if n.endswith('_' + suffixes[0])]
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
    fig.savefig(path, pil_kwargs={'compress_level': 1})
    return path


# -- helpers ---------------------------------------------------------------------------------

FIGURES = {f.__name__: f for f in (steps, panels, gpu_scaling, cpu_vs_plain,
                                   builds_side_by_side)}
