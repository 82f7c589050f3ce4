"""The report's tables: per stage one column per run (run_table), and per system and check
the overviews (OVERVIEWS: GPU scaling, CPU-optimised against plain, the builds side by side),
each also drawn as a figure; and the HTML a table is shown with."""

import re

import pandas as pd

from relionbench.constants import CPU_ALTCPU, CPU_PLAIN, GPU
from relionbench.results import relion_label, sidebyside
from relionbench.science import metrics

PLOT_COLUMNS = ('run', 'time', 'system', 'partition', 'environ', 'check', 'stage', 'case',
                'variant', 'scale', 'result', 'fail_phase', 'gpus', 'jobid', 'dataset_id')
"""The columns of a run that the tables and figures read beside each of its values."""


def run_table(runs, values):
    """One column per run: its layout and provenance, then every metric it logged."""
    shown = values[values.run.isin(runs.run)] if values is not None else pd.DataFrame(
        columns=['run', 'metric', 'value', 'unit', 'metric_result'])
    cells = {run: dict(zip(map(metrics.label, v.metric),
                           map(_cell, v.value, v.unit, v.metric_result)))
             for run, v in shown.groupby('run', sort=False)}
    columns = {}
    for run in runs.itertuples():
        label = _text(run.jobid) or when(run.time) or f'run {run.run}'
        while label in columns:
            label += "'"
        columns[label] = {**_run_rows(run), **cells.get(run.run, {})}
    return pd.DataFrame(columns)


def _run_rows(run):
    result = 'pass' if run.result == 'pass' else f'FAILED ({run.fail_phase or "?"})'
    return {'system': run.system, 'partition': run.partition, 'variant': run.variant,
            'nodes': _int(run.nodes), 'GPUs': run.gpus or '',
            'tasks x threads': f'{_int(run.tasks)} x {_int(run.threads)}',
            'job id': _text(run.jobid), 'date': when(run.time), 'result': result,
            'RELION': relion_label(run),
            'image': run.container_image or 'native'}


def _text(value):
    """A field as text; '' where it is missing (None or NaN)."""
    return '' if value is None or pd.isna(value) else str(value)


def _cell(value, unit, result):
    if pd.isna(value):
        return ''
    text = f'{value:.6g} {unit}'.strip()
    return f'{text} ✗' if result == 'fail' else text


def html_table(table, index=True):
    """The table as HTML, with missed references and failed runs marked for the style sheet."""
    text = table.to_html(classes='runs', na_rep='', border=0, index=index)
    text = text.replace('<td>FAILED', '<td class="fail">FAILED')
    return re.sub(r'<td>([^<]* ✗)</td>', r'<td class="miss">\1</td>', text)


def gpu_table(values):
    """Per stage and GPU count (latest passing run of each): total time, speed-up over the
    fewest GPUs, and parallel efficiency (speed-up over the ideal)."""
    data = _latest_totals(values[values.variant == GPU]).sort_values(['stage', 'gpus'])
    first = data.groupby('stage').value.transform('first')
    fewest = data.groupby('stage').gpus.transform('first')
    table = pd.DataFrame({'stage': data.stage, 'GPUs': data.gpus, 'seconds': data.value,
                          'speed-up': first / data.value})
    table['efficiency'] = table['speed-up'] / (data.gpus / fewest)
    counts = table.groupby('stage').GPUs.transform('size')
    return table[counts > 1].round(3).reset_index(drop=True)


def cpu_table(values):
    """Per stage and layout (latest passing run of each): total time with the plain build
    and with the AVX-512 ALTCPU build, and the speed-up between them."""
    data = _latest_totals(values[values.variant.isin([CPU_ALTCPU, CPU_PLAIN])])
    wide = data.pivot_table(index=['stage', 'scale'], columns='variant', values='value',
                            sort=False)
    if CPU_ALTCPU not in wide or CPU_PLAIN not in wide:
        return pd.DataFrame()
    wide = wide[[CPU_PLAIN, CPU_ALTCPU]].dropna()
    wide['speed-up'] = wide[CPU_PLAIN] / wide[CPU_ALTCPU]
    return wide.reset_index().round(3)


def _latest_totals(values):
    """total_seconds of the latest passing run of each stage, variant and scale."""
    rows = values[(values.metric == 'total_seconds') & (values.result == 'pass')]
    return rows.sort_values('time').groupby(['stage', 'variant', 'scale'], sort=False).tail(1)


def builds_table(values):
    """Builds side by side per stage (relionbench.results.sidebyside), latest run of each."""
    return sidebyside.table(values).drop(columns=['check'], errors='ignore')


OVERVIEWS = (('GPU scaling', gpu_table, 'gpu_scaling'),
             ('CPU-optimised vs plain', cpu_table, 'cpu_vs_plain'),
             ('Builds side by side', builds_table, 'builds_side_by_side'))
"""Overview tables per system and check, and the figure (relionbench.report.figures) of each."""


def when(time):
    """A time as the tables show it: 'YYYY-MM-DD HH:MM' (UTC), '' for none."""
    return '' if pd.isna(time) else time.strftime('%Y-%m-%d %H:%M')


def _int(value):
    return '' if value is None or pd.isna(value) else str(int(value))
