"""The report's first table: one row per check (the latest run of each history), the verdict
first.

Verdicts, worst first: FAILED (the run did not finish or failed sanity), MISSED (a
reference missed), REGRESSED (worse than its own history, relionbench.results.compare), passed. Each
row gives the total time against its reference (ratio and band), the resolution against its
reference in Fourier shells (+ finer), the FSC against the ground truth where there is one,
and the change since the previous run; a regression names the run it began with.
"""

import numpy as np
import pandas as pd

from relionbench import workflows
from relionbench.results import compare
from relionbench.science import metrics
from relionbench.science.metrics import TOTAL

FAILED, MISSED, REGRESSED, PASSED = 'FAILED', 'MISSED', 'REGRESSED', 'passed'
ORDER = {FAILED: 0, MISSED: 1, REGRESSED: 2, PASSED: 3}
COLUMNS = ('verdict', 'check', 'stage', 'variant', 'scale', 'build', 'system', 'partition',
           'why', 'time', 'time vs reference', 'resolution', 'shells vs reference',
           'truth FSC 0.143', 'since previous run', 'began', 'date', 'anchor')


def table(results, history=5):
    """The summary (COLUMNS), worst first."""
    runs = results.runs
    if runs.empty:
        return pd.DataFrame(columns=COLUMNS)
    against = compare.compare(results, history=history)
    by_key = {}
    for row in against.itertuples(index=False):
        by_key.setdefault((row.system, row.check, row.case, row.build), {})[row.metric] = row
    latest = runs.groupby(compare.KEY, sort=False).tail(1)
    by_run = {}
    for value in results.values[results.values.run.isin(latest.run)].itertuples(index=False):
        by_run.setdefault(value.run, {})[value.metric] = value
    rows = [_row(run, by_run.get(run.run, {}),
                 by_key.get((run.system, run.check, run.case, run.environ), {}))
            for run in latest.itertuples()]
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = table.verdict.map(ORDER)
    stage = [_stage_index(c, s) for c, s in zip(table.check, table.stage)]
    return table.assign(_o=order, _s=stage).sort_values(
        ['_o', 'system', 'check', '_s', 'variant', 'scale', 'build'],
        kind='stable').drop(columns=['_o', '_s']).reset_index(drop=True)


def _stage_index(check, stage):
    workflow = workflows.CHECK_WORKFLOWS.get(check)
    names = [s.name for s in workflow.stages] if workflow else []
    return names.index(stage) if stage in names else len(names)


def _row(run, values, against):
    length = workflows.box_length(run.check, run.stage)
    regressed = {m: r for m, r in against.items() if r.status == compare.REGRESSED}
    missed = {m: v for m, v in values.items() if v.metric_result == 'fail'}
    if run.result == 'fail' and run.fail_phase != 'performance':
        verdict = FAILED
        why = (run.fail_reason or f'{run.fail_phase or "run"} failed').splitlines()[0]
    elif missed or run.result == 'fail':
        verdict = MISSED
        why = ', '.join(f'{metrics.label(m)} {v.value:.4g} (band {compare.band(v)})'
                        for m, v in missed.items()) or 'a reference missed'
    elif regressed:
        verdict = REGRESSED
        why = ', '.join(f'{metrics.label(m)} {r.step or r.change}'
                        for m, r in regressed.items())
    else:
        verdict, why = PASSED, ''
    resolution = metrics.first(values, metrics.RESOLUTION)
    truth = metrics.first(values, metrics.TRUTH_RESOLUTION)
    began = next((r.began for r in regressed.values() if r.began), '')
    return {
        'verdict': verdict, 'system': run.system, 'partition': run.partition,
        'build': run.environ, 'check': run.check, 'stage': run.stage, 'variant': run.variant,
        'scale': run.scale, 'time': _value(values, TOTAL, '{:.1f} s'),
        'time vs reference': _ratio(values, TOTAL),
        'resolution': _value(values, resolution, '{:.2f} Å'),
        'shells vs reference': _shells(values, resolution, length),
        'truth FSC 0.143': _value(values, truth, '{:.2f} Å'),
        'since previous run': _since(against, resolution),
        'why': why, 'began': began,
        'date': '' if pd.isna(run.time) else f'{run.time:%Y-%m-%d %H:%M}',
        'anchor': anchor(run.system, run.check, run.stage)}


def anchor(system, check, stage):
    """The id of a stage's detail section in index.html."""
    import re
    return re.sub(r'[^A-Za-z0-9_-]+', '-', f'{system}-{check}-{stage}')


def _value(values, name, form):
    if name not in values or pd.isna(values[name].value):
        return ''
    return form.format(values[name].value)


def _ratio(values, name):
    """``x1.05 of 24.7 s (≤ 37.1)``: the ratio to the reference, and the band."""
    if name not in values:
        return ''
    v = values[name]
    if pd.isna(v.ref) or not v.ref or pd.isna(v.value):
        return 'no reference'
    band = (f'{v.low:.3g}-{v.high:.3g}' if pd.notna(v.low) and pd.notna(v.high) else
            f'≤ {v.high:.3g}' if pd.notna(v.high) else f'≥ {v.low:.3g}')
    return f'x{v.value / v.ref:.2f} of {v.ref:.3g} s ({band})'


def _shells(values, name, length):
    """``+0.0 (-2.0..+2.0)``: Fourier shells from the reference (+ finer), and the band."""
    if not length or name not in values:
        return ''
    v = values[name]
    if pd.isna(v.ref) or pd.isna(v.value):
        return 'no reference'
    shells = length / v.value - length / v.ref
    edges = [length / edge - length / v.ref if pd.notna(edge) and edge else np.nan
             for edge in (v.high, v.low)]       # the coarser edge first
    band = '..'.join('' if np.isnan(e) else f'{e:+.1f}' for e in edges)
    return f'{shells:+.1f} ({band})'


def _since(against, resolution):
    """The change of total time and resolution since the previous measured run."""
    parts = [against[name].since for name in (TOTAL, resolution)
             if name in against and against[name].since]
    return ', '.join(parts) if parts else 'first run'
