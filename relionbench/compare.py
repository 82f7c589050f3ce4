"""``relionbench compare``: the latest run of each check against its history.

The baseline of a metric is the median of the previous ``history`` measured runs of the same
check, or its run in a named session. Times and memory change in percent, resolutions in
Fourier shells (box size x pixel size / resolution), everything else in percent. A change is
flagged when it is beyond the metric's tolerance: the relative band of its reference where it
has one, else the suite's default (relionbench.references.DEFAULTS); times and memory also
get the minimum slack of the references (1 s, 4 MiB), and only slower or larger counts.
"""

import numpy as np
import pandas as pd

from relionbench import metrics, references, stages

KEY = ['system', 'partition', 'environ', 'name', 'dataset_id']
"""One history: a check's case on a partition with a build and a dataset (a resized
miniature is another dataset)."""
COLUMNS = ('system', 'check', 'case', 'build', 'metric', 'baseline', 'latest', 'unit',
           'change', 'tolerance', 'runs', 'status')
REGRESSED, CHANGED, FAILED, IMPROVED, NEW = 'REGRESSED', 'CHANGED', 'FAILED', 'improved', 'new'
FLAGGED = (REGRESSED, CHANGED, FAILED)


def compare(results, history=5, session=None, system=None):
    """One row per metric of the latest run of each check (COLUMNS)."""
    runs = results.runs
    if system:
        runs = runs[runs.system == system]
    rows = []
    values = results.values.groupby('run')
    measured = runs[(runs.result == 'pass') | (runs.fail_phase == 'performance')]
    for _, case_runs in runs.groupby(KEY, sort=False):
        latest = case_runs.iloc[-1]
        label = {'system': latest.system, 'check': latest.check, 'case': latest.case,
                 'build': latest.environ}
        if latest.result == 'fail' and latest.fail_phase != 'performance':
            reason = (latest.fail_reason or '').splitlines()[:1]
            rows.append({**label, 'metric': f'({latest.fail_phase or "run"} failed)',
                         'change': reason[0] if reason else '', 'status': FAILED})
            continue
        before = measured[measured.index.isin(case_runs.index) &
                          (measured.time < latest.time)]
        if session:
            before = before[before.session == session]
        before = before.tail(1 if session else history)
        now = values.get_group(latest.run) if latest.run in values.groups else None
        if now is None:
            continue
        past = results.values[results.values.run.isin(before.run)]
        baseline = past.groupby('metric').value.agg(['median', 'count'])
        for metric in now.itertuples():
            median, count = (baseline.loc[metric.metric] if metric.metric in baseline.index
                             else (None, 0))
            rows.append({**label, **_change(metric, median, latest, int(count))})
    return pd.DataFrame(rows, columns=COLUMNS)


def _change(metric, baseline, run, count):
    """The comparison of one metric's latest value with its baseline."""
    row = {'metric': metric.metric, 'latest': metric.value, 'unit': metric.unit,
           'baseline': baseline, 'runs': count, 'change': '', 'tolerance': '', 'status': ''}
    if baseline is None or pd.isna(baseline) or pd.isna(metric.value):
        row['status'] = NEW if count == 0 else ''
        return row
    try:
        kind = metrics.describe(metric.metric)[1]
    except KeyError:
        kind = 'value'
    length = stages.box_length(run.check, run.stage)
    if kind == 'resolution' and length:
        shells = length / metric.value - length / baseline     # > 0: finer, better
        allowed = references.DEFAULTS['resolution_shells']
        row.update(change=f'{shells:+.2f} shells', tolerance=f'{allowed} shells',
                   status=REGRESSED if shells < -allowed else
                   IMPROVED if shells > allowed else '')
        return row
    change = (metric.value - baseline) / abs(baseline) if baseline else np.inf
    allowed = _relative_band(metric, kind)
    row.update(change=f'{100 * change:+.1f} %', tolerance=f'{100 * allowed:.3g} %')
    if kind in ('time', 'memory'):
        slack = max(allowed * abs(baseline), references.MIN_SLACK[kind])
        growth = metric.value - baseline
        row['status'] = REGRESSED if growth > slack else IMPROVED if -growth > slack else ''
    elif abs(change) > allowed:
        row['status'] = CHANGED
    return row


def _relative_band(metric, kind):
    """The half-width of the metric's reference band relative to the reference, else the
    suite's default tolerance for its kind."""
    if pd.notna(metric.ref) and metric.ref:
        edges = [abs(edge - metric.ref) for edge in (metric.low, metric.high) if pd.notna(edge)]
        if edges:
            return max(edges) / abs(metric.ref)
    key = {'time': 'time_upper', 'memory': 'memory_upper'}.get(kind, kind)
    return references.DEFAULTS.get(key, references.DEFAULTS['value'])


def flagged(table):
    return table[table.status.isin(FLAGGED)]


def text(table, only_flagged=False):
    """The comparison as a plain-text table."""
    shown = flagged(table) if only_flagged else table
    if shown.empty:
        return 'nothing to compare' if table.empty else 'no regressions'
    return shown.fillna('').to_string(index=False, float_format=lambda v: f'{v:.4g}')


def alert_message(results, table, system=None):
    """(subject, text) about the newest session's missed references, failures and regressions,
    or None when there is nothing to report."""
    runs = results.runs if not system else results.runs[results.runs.system == system]
    if runs.empty:
        return None
    newest = runs.iloc[-1]
    session_runs = runs[runs.session == newest.session] if pd.notna(newest.session) else runs
    current = set(session_runs.groupby(KEY, sort=False).tail(1).run)
    values = results.values[results.values.run.isin(current)].merge(runs, on='run')
    missed = values[values.metric_result == 'fail']
    lines = []
    if not missed.empty:
        lines.append('Missed references:')
        lines += [f'- {m.name} on {m.system}:{m.partition} with {m.environ}: {m.metric} '
                  f'{m.value:.4g} {m.unit} '
                  f'(reference {m.ref:.4g}, band {_band(m)})' for m in missed.itertuples()]
    latest = set(runs[runs.run.isin(current)][['check', 'case', 'environ']].itertuples(
        index=False))
    worse = flagged(table)
    worse = worse[[(c, k, b) in latest for c, k, b in zip(worse.check, worse.case, worse.build)]]
    if not worse.empty:
        lines.append('Against the history:')
        lines += [f'- {w.check} {w.case} on {w.system} with {w.build}: {w.metric} '
                  f'{_fmt(w.baseline)} -> '
                  f'{_fmt(w.latest)} {w.unit} ({w.change}, tolerance {w.tolerance}) {w.status}'
                  if w.status != FAILED else f'- {w.check} {w.case} on {w.system} with '
                  f'{w.build}: {w.metric} {w.change}' for w in worse.itertuples()]
    if not lines:
        return None
    problems = len(missed) + len(worse)
    when = newest.time.strftime('%Y-%m-%d %H:%M UTC') if pd.notna(newest.time) else ''
    where = ', '.join(sorted(session_runs.system.unique()))
    subject = f'relionbench: {problems} problem(s) on {where}, run of {when}'
    header = [f'Session {newest.session}' if pd.notna(newest.session) else 'Latest runs',
              f'suite {newest.suite_commit or "unknown"}, RELION {newest.relion_version} '
              f'{newest.relion_build}'.rstrip(), '']
    return subject, '\n'.join(header + lines)


def _band(metric):
    low = f'{metric.low:.4g}' if pd.notna(metric.low) else '-inf'
    high = f'{metric.high:.4g}' if pd.notna(metric.high) else 'inf'
    return f'{low}..{high}'


def _fmt(value):
    return '' if value is None or pd.isna(value) else f'{value:.4g}'
