"""``relionbench compare``: the latest run of each check against its history.

The baseline of a metric is the median of the previous ``history`` measured runs of the same
check, or its run in a named session. Times and memory change in percent, resolutions in
Fourier shells (box size x pixel size / resolution), everything else in percent. A change is
flagged when it is beyond the metric's tolerance: the relative band of its reference where it
has one, else the suite's default (relionbench.results.references.DEFAULTS); times and memory also
get the minimum slack of the references (1 s, 4 MiB), and only slower or larger counts.

Each metric's history is also searched for a change of level (relionbench.results.changes):
a step to worse that began within the last ``history`` runs is REGRESSED even inside the
tolerance, and ``began`` names its first run (date, suite commit, RELION build, image), as
does the alert.
"""

import warnings

import numpy as np
import pandas as pd

from relionbench import workflows
from relionbench.results import changes, references, relion_label
from relionbench.science import metrics

KEY = ['system', 'partition', 'environ', 'name', 'dataset_id']
"""One history: a check's case on a partition with a build and a dataset (a resized
miniature is another dataset)."""
COLUMNS = ('system', 'check', 'case', 'build', 'metric', 'baseline', 'latest', 'unit',
           'change', 'tolerance', 'runs', 'status', 'step', 'began')
REGRESSED, CHANGED, FAILED, IMPROVED, NEW = 'REGRESSED', 'CHANGED', 'FAILED', 'improved', 'new'
ENDED = {'abort': '(aborted)', 'fail_deps': '(a job it needs failed)'}
"""How a run that ended without a result of its own shows (ReFrame's result)."""
MISSED = '(performance failed)'
"""A run that measured everything but missed a reference (its values are compared too)."""
FLAGGED = (REGRESSED, CHANGED, FAILED)


def compare(results, history=5, session=None, system=None):
    """One row per metric of the latest run of each check (COLUMNS, and ``since``: the change
    since the previous measured run)."""
    runs = results.runs
    if system:
        runs = runs[runs.system == system]
    values = results.values
    wide = (values.drop_duplicates(['run', 'metric'], keep='last')
            .pivot(index='run', columns='metric', values='value').reindex(runs.run))
    names, table = {n: k for k, n in enumerate(wide.columns)}, wide.to_numpy(float)
    measured = ((runs.result == 'pass') | (runs.fail_phase == 'performance')).to_numpy()
    times, sessions = runs.time.to_numpy(), runs.session.to_numpy()
    histories = list(runs.groupby(KEY, sort=False).indices.values())
    latest_runs = runs.iloc[[where[-1] for where in histories]]
    by_run = {}         # the latest runs' values (itertuples is slow over every run)
    for value in values[values.run.isin(latest_runs.run)].itertuples(index=False):
        by_run.setdefault(value.run, []).append(value)
    rows = []
    for where, latest in zip(histories, latest_runs.itertuples(index=False)):
        label = {'system': latest.system, 'check': latest.check, 'case': latest.case,
                 'build': latest.environ}
        if latest.result != 'pass':
            reason = (latest.fail_reason or '').splitlines()[:1]
            rows.append({**label, 'metric': ENDED.get(
                latest.result, f'({latest.fail_phase or "run"} failed)'),
                'change': reason[0] if reason else '', 'status': FAILED})
            if latest.fail_phase != 'performance':
                continue
        if latest.run not in by_run:
            continue
        done = where[measured[where]]
        before = done[times[done] < times[where[-1]]]
        if session:
            before = before[sessions[before] == session]
        before = before[-1:] if session else before[-history:]
        past = table[before]
        counts = (~np.isnan(past)).sum(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)     # an all-NaN column
            medians = np.nanmedian(past, axis=0) if len(past) else counts * np.nan
        window = done[times[done] <= times[where[-1]]][-changes.WINDOW:]
        series = (runs, window, table[window])
        for metric in by_run[latest.run]:
            k = names[metric.metric]
            row = _change(metric, medians[k] if counts[k] else None, latest, int(counts[k]))
            row['since'] = _change(metric, table[before[-1], k], latest, 1)['change'] \
                if len(before) and not np.isnan(table[before[-1], k]) else ''
            if not session:
                row.update(_step(series, k, metric.metric, latest, history))
            rows.append({**label, **row})
    out = pd.DataFrame(rows, columns=[*COLUMNS, 'since'])
    for column in ('step', 'began', 'since'):
        out[column] = out[column].astype(object).fillna('')
    return out


def _step(series, column, name, latest, history):
    """``step`` and ``began`` (and REGRESSED) when the metric's latest level is a step that
    began within the last ``history`` runs."""
    runs, window, table = series
    if len(window) < 3:
        return {}
    kind = _kind(name)
    values = table[:, column]
    known = ~np.isnan(values)
    found = changes.step(values[known], kind, workflows.box_length(latest.check, latest.stage))
    if found is None:
        return {}
    position = np.flatnonzero(known)[found.start]
    if len(window) - position > history:
        return {}
    first = runs.iloc[window[position]]
    image = first.container_image or 'native'
    began = (f'{first.time:%Y-%m-%d %H:%M} (run {position + 1} of {len(window)}; suite '
             f'{first.suite_commit or "unknown"}, {first.environ}, RELION '
             f'{relion_label(first)}, {image})')
    extra = {'step': found.change(kind), 'began': began}
    if found.worse:
        extra['status'] = REGRESSED
    return extra


def _kind(name):
    try:
        return metrics.describe(name)[1]
    except KeyError:
        return 'value'


def _change(metric, baseline, run, count):
    """The comparison of one metric's latest value with its baseline."""
    row = {'metric': metric.metric, 'latest': metric.value, 'unit': metric.unit,
           'baseline': baseline, 'runs': count, 'change': '', 'tolerance': '', 'status': ''}
    if baseline is None or pd.isna(baseline) or pd.isna(metric.value):
        row['status'] = NEW if count == 0 else ''
        return row
    kind = _kind(metric.metric)
    length = workflows.box_length(run.check, run.stage)
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
    shown = (flagged(table) if only_flagged else table).drop(columns=['since'],
                                                                 errors='ignore')
    if shown.empty:
        return 'nothing to compare' if table.empty else 'no regressions'
    return shown.astype(object).where(shown.notna(), '').to_string(
        index=False, float_format=lambda v: f'{v:.4g}')


def alert_message(results, table, system=None, since=None):
    """(subject, text) about the newest session's missed references, failures and regressions
    (every session's since ``since``, a pd.Timestamp), or None when there is nothing to
    report."""
    runs = results.runs if not system else results.runs[results.runs.system == system]
    if since is not None and not (runs.time >= since).any():
        return did_not_run(system, since)
    if runs.empty:
        return None
    newest = runs.iloc[-1]
    session_runs = (runs[runs.time >= since] if since is not None else
                    runs[runs.session == newest.session] if pd.notna(newest.session) else runs)
    current = set(session_runs.groupby(KEY, sort=False).tail(1).run)
    values = results.values[results.values.run.isin(current)].merge(runs, on='run')
    missed = values[values.metric_result == 'fail']
    lines = []
    if not missed.empty:
        lines.append('Missed references:')
        lines += [f'- {m.name} on {m.system}:{m.partition} with {m.environ}: {m.metric} '
                  f'{m.value:.4g} {m.unit} '
                  f'(reference {m.ref:.4g}, band {band(m)})' for m in missed.itertuples()]
    latest = set(runs[runs.run.isin(current)][['check', 'case', 'environ']].itertuples(
        index=False))
    worse = flagged(table)
    worse = worse[[(c, k, b) in latest and m != MISSED for c, k, b, m in
                   zip(worse.check, worse.case, worse.build, worse.metric)]]
    if not worse.empty:
        lines.append('Against the history:')
        lines += [f'- {w.check} {w.case} on {w.system} with {w.build}: {w.metric} '
                  f'{fmt(w.baseline)} -> '
                  f'{fmt(w.latest)} {w.unit} ({w.change}, tolerance {w.tolerance}) {w.status}'
                  + (f'; a step of {w.step} began {w.began}' if w.began else '')
                  if w.status != FAILED else f'- {w.check} {w.case} on {w.system} with '
                  f'{w.build}: {w.metric} {w.change}' for w in worse.itertuples()]
    if not lines:
        return None
    problems = len(missed) + len(worse)
    when = newest.time.strftime('%Y-%m-%d %H:%M UTC') if pd.notna(newest.time) else ''
    where = ', '.join(sorted(session_runs.system.unique()))
    subject = f'relionbench: {problems} problem(s) on {where}, run of {when}'
    ended = runs[runs.run.isin(current)]
    if not ended.empty and all(_never_ran(r) for r in ended.itertuples()):
        subject = (f'relionbench: the benchmark did not run on {where} ({len(ended)} '
                   f'check(s) ended before their job ran), {when}')
    sessions = session_runs.session.nunique()
    header = [f'{sessions} session(s) since {since:%Y-%m-%d %H:%M UTC}' if since is not None
              else f'Session {newest.session}' if pd.notna(newest.session) else 'Latest runs',
              f'suite {newest.suite_commit or "unknown"}, RELION {relion_label(newest)}'
              .rstrip(), '']
    return subject, '\n'.join(header + lines)


def did_not_run(system, since):
    """(subject, text) of an alert for a pipeline that left no result since ``since``."""
    where = system or 'any system'
    return (f'relionbench: the benchmark did not run on {where}',
            f'No result since {since:%Y-%m-%d %H:%M UTC}: no job of the pipeline stored a '
            f'session (see its jobs\' logs).')


def _never_ran(run):
    """Whether a run ended before its job ran: not set up, not submitted, its fixture
    failed, or aborted."""
    return run.result in ENDED or (run.result == 'fail' and run.fail_phase in
                                   ('startup', 'setup', 'compile', 'run'))


def band(metric):
    low = f'{metric.low:.4g}' if pd.notna(metric.low) else '-inf'
    high = f'{metric.high:.4g}' if pd.notna(metric.high) else 'inf'
    return f'{low}..{high}'


def fmt(value):
    return '' if value is None or pd.isna(value) else f'{value:.4g}'
