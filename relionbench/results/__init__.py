"""The suite's results as two pandas tables, read from ReFrame's results database and perflogs.

``runs``: one row per test-case run (identity, result, layout, provenance);
``values``: one row per run and metric (value, unit, reference and its absolute band, result).
Dry-run records and skipped cases are left out; failed runs are kept, with whatever values
they logged.
"""

import csv
import json
import math
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from relionbench.constants import PERFVAR_FIELDS

PROVENANCE = ('relion_version', 'relion_build', 'relion_fft', 'relion_isa', 'relion_cuda',
              'container_image', 'container_sha256', 'suite_commit', 'dataset_id',
              'reference_source')
RUN_COLUMNS = ('run', 'session', 'time', 'system', 'partition', 'environ', 'check', 'name',
               'case', 'stage', 'variant', 'scale', 'result', 'fail_phase', 'fail_reason',
               'tasks', 'threads', 'gpus', 'nodes', 'jobid', *PROVENANCE, 'source')
VALUE_COLUMNS = ('run', 'metric', 'value', 'unit', 'ref', 'low', 'high', 'metric_result')
RAW_COLUMNS = ('run', 'metric', 'value', 'ref', 'lower', 'upper', 'unit', 'result')
NEEDED = ('display_name', 'system', 'partition', 'result')
"""Perflog columns without which a record cannot be placed."""


def relion_label(run):
    """What a run's RELION was, as it printed and linked it: '5.0.1 ALTCPU, MKL FFT, AVX2'
    (the parts it recorded; CUDA's release and GPU code for a CUDA build)."""
    def known(field):
        value = getattr(run, field, '')
        return '' if not isinstance(value, str) or value in ('', 'unknown') else value
    fft = known('relion_fft')
    parts = [f'{known("relion_version")} {known("relion_build")}'.strip(),
             f'{fft} FFT' if fft else '', known('relion_isa'),
             f'CUDA {known("relion_cuda")}' if known('relion_cuda') else '']
    return ', '.join(p for p in parts if p)


class Results:
    """``runs`` and ``values`` (see the module docstring), sorted by time."""

    def __init__(self, runs, values):
        self.runs = runs.sort_values('time', kind='stable').reset_index(drop=True)
        self.values = values

    @property
    def empty(self):
        return self.runs.empty

    def joined(self):
        """``values`` with each run's columns alongside."""
        return self.values.merge(self.runs, on='run', how='left')


def default_folder():
    """``$RFM_PREFIX``, else ``$RELIONBENCH_RUNS``, else ``relionbench-runs/`` in this
    checkout (as config/common.py, less reframe's ``--prefix``)."""
    import os

    from relionbench import ROOT
    return Path(os.environ.get('RFM_PREFIX') or
                os.environ.get('RELIONBENCH_RUNS', ROOT / 'relionbench-runs'))


def load(folder=None, source='auto', warn=None):
    """Results under ``folder``: the results database, the perflogs, or both (``auto``: each
    run once, the database's copy preferred)."""
    folder = Path(folder) if folder else default_folder()
    warn = warn or (lambda text: print(f'relionbench: {text}', file=sys.stderr))
    runs, values = [], []
    if source in ('auto', 'db'):
        db = folder / 'results.db'
        if db.exists():
            _extend(runs, values, read_database(db))
        elif source == 'db':
            raise FileNotFoundError(f'{db}: no results database; run the suite first '
                                    f'or read the perflogs with --source perflogs')
    if source in ('auto', 'perflogs'):
        for path in sorted((folder / 'perflogs').glob('**/*.log*')):
            _extend(runs, values, read_perflog(path, warn))
    run_table = pd.DataFrame(runs, columns=RUN_COLUMNS)
    run_table['dataset_id'] = run_table['dataset_id'].fillna('')   # a history key
    run_table['time'] = pd.to_datetime(run_table['time'], utc=True, format='ISO8601',
                                       errors='coerce')
    # the same run in the database and in a perflog: keep the database's
    second = run_table['time'].dt.floor('s')
    copy = run_table.assign(second=second).duplicated(
        ['system', 'partition', 'environ', 'name', 'second']) & (run_table['source'] != 'db')
    run_table = run_table[~copy]
    value_table = _value_table(values)
    value_table = value_table[value_table['run'].isin(run_table['run'])]
    return Results(run_table, value_table.reset_index(drop=True))


def _value_table(raw):
    """Rows of (run, metric, value, ref, lower, upper, unit, result) as text or numbers, with
    the absolute band ReFrame applies (reframe.utility.sanity.reference_bounds, vectorised)."""
    table = pd.DataFrame(raw, columns=RAW_COLUMNS)
    for column in ('value', 'ref', 'lower', 'upper'):
        table[column] = pd.to_numeric(table[column], errors='coerce')
    ref = table['ref']
    no_reference = table['lower'].isna() & table['upper'].isna()
    sign = np.where(ref < 0, -1.0, 1.0)
    for thres, bound in (('lower', 'low'), ('upper', 'high')):
        table[bound] = np.where(ref == 0, table[thres], ref * (1 + sign * table[thres]))
    table.loc[no_reference, 'ref'] = np.nan
    table['unit'] = table['unit'].fillna('')
    table['metric_result'] = table['result'].where(table['result'].isin(['pass', 'fail']))
    return table[list(VALUE_COLUMNS)]


def _extend(runs, values, pairs):
    """Append (run, values) pairs, numbering the runs in order (the ``run`` column)."""
    for run, run_values in pairs:
        run['run'] = number = len(runs)
        runs.append(run)
        values.extend((number, *value) for value in run_values)


# -- ReFrame's results database --------------------------------------------------------------

def read_database(path):
    """(run, values) pairs from every session stored in ReFrame's sqlite results database."""
    with sqlite3.connect(f'file:{path}?mode=ro', uri=True) as conn:
        blobs = conn.execute('SELECT json_blob FROM sessions ORDER BY session_start_unix')
        for (blob,) in blobs:
            yield from session_records(json.loads(blob))


def session_records(report):
    """(run, values) pairs of one ReFrame run report, one per case, partition and build, and
    one per attempt of a retried case (each with the session; the last is the latest)."""
    info = report['session_info']
    if '--dry-run' in info.get('cmdline', '').split():
        return
    every = [case for run in report.get('runs', []) for case in run['testcases']]
    cases = [case for case in every if ' %case=' in case['display_name']]  # every attempt
    failed = {_job(case): _failure(case) for case in every if case['result'] == 'fail'}
    for case in cases:
        if case['result'] == 'fail_deps' and not case.get('fail_reason'):
            case = {**case, 'fail_reason': '; '.join(
                failed[tuple(need)] for need in case.get('dependencies_actual') or ()
                if tuple(need) in failed) or None}
        values = [(key.split(':')[-1], *entry)
                  for key, entry in (case.get('perfvalues') or {}).items()]
        if case['result'] == 'skip' or _dry(case['result'], values):
            continue
        when = case.get('job_completion_time_unix') or info.get('time_end_unix')
        time = datetime.fromtimestamp(when, timezone.utc).isoformat() if when else None
        run = _run(info.get('uuid'), time, case, source='db')
        run.update(nodes=len(case.get('job_nodelist') or []) or None,
                   fail_phase=case.get('fail_phase'), fail_reason=case.get('fail_reason'))
        yield run, values


def _job(case):
    """A test case as its dependants name it: (unique name, system:partition, environment)."""
    return (case.get('unique_name'), f"{case.get('system')}:{case.get('partition')}",
            case.get('environ'))


def _failure(case):
    """'Calibration failed: <the first line of its reason>', for the cases that needed it."""
    reason = (case.get('fail_reason') or '').splitlines()
    return f"{case['display_name'].split()[0]} failed" + (f': {reason[0]}' if reason else '')


# -- perflogs --------------------------------------------------------------------------------

def read_perflog(path, warn):
    """(run, values) pairs of one perflog in the format of config/common.py.

    ReFrame writes the header from the first record of a session only, so its performance
    columns may not match later lines: the header names the fixed fields, and every line's
    performance part is read as groups of (name, value, unit, ref, lower, upper, result)."""
    try:
        with open(path, newline='') as handle:
            lines = list(csv.reader(handle, delimiter='|', quoting=csv.QUOTE_NONE))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        warn(f'{path}: not a readable perflog ({err}); skipped')
        return
    if not lines:
        return
    header = lines[0]
    fixed = next((i for i, name in enumerate(header) if name.endswith('_var')), len(header))
    names = [name for name in header[:fixed] if name]
    missing = [c for c in NEEDED if c not in names]
    if missing:
        warn(f'{path}: perflog without column(s) {", ".join(missing)}; skipped')
        return
    for number, line in enumerate(lines[1:], start=2):      # line numbers, for the source
        row = dict(zip(names, line))
        if ' %case=' not in row.get('display_name', ''):
            continue
        perf = line[len(names):]
        values = [(*perf[i:i + 2], *perf[i + 3:i + 6], perf[i + 2],
                   perf[i + 6] if i + 6 < len(perf) else None)
                  for i in range(0, len(perf) - 5, len(PERFVAR_FIELDS)) if perf[i]]
        if _dry(row['result'], values):
            continue
        yield _run(None, row.get('job_completion_time') or None, row, f'{path}:{number}'), values


# -- shared ------------------------------------------------------------------------------------

def _number(text):
    if text is None or isinstance(text, float) and math.isnan(text):
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _dry(result, values):
    """A dry run passes without a single measured value."""
    return result == 'pass' and all(_number(v[1]) is None for v in values)


def _run(session, time, fields, source):
    name = fields['display_name']
    check, _, case = name.partition(' %case=')
    case = case.split()[0]
    stage, variant, scale = (case.split('/') + ['', '', ''])[:3]
    tasks, threads = _number(fields.get('num_tasks')), _number(fields.get('num_cpus_per_task'))
    run = {'session': session, 'time': time, 'system': fields['system'],
           'partition': fields['partition'], 'environ': fields.get('environ', ''),
           'check': check, 'name': name, 'case': case, 'stage': stage, 'variant': variant,
           'scale': scale, 'result': fields['result'], 'fail_phase': None, 'fail_reason': None,
           'tasks': tasks, 'threads': threads,
           'gpus': int(scale[:-3]) if scale.endswith('gpu') and scale[:-3].isdigit() else 0,
           'nodes': None, 'jobid': fields.get('jobid'), 'source': source}
    if run['result'] == 'fail' and source != 'db':
        run['fail_phase'] = 'performance'       # only runs that reach performance are logged
    run.update({key: fields.get(key) or '' for key in PROVENANCE})
    run['jobid'] = None if run['jobid'] in (None, '', 'null', 'None') else str(run['jobid'])
    return run
