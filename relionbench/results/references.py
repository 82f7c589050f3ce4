"""Per-system references (reference/<system>.yaml) turned into ReFrame thresholds.

Times and memory get a relative upper bound (faster is never a failure). Resolutions get a
tolerance in Fourier shells: a map of box ``N`` px at ``p`` A/px has shell ``n`` at
resolution ``N*p/n``, so ``k`` shells either side of ``r`` span ``N*p/(n+k) .. N*p/(n-k)``.
Per metric, ``tolerance_upper`` (times, memory), ``shells`` (resolutions) or ``tolerance``
(relative, both ways) override the defaults; the checks' ``-S time_tolerance`` and
``-S resolution_shells`` override both. Times and memory always keep a minimum absolute
slack (``MIN_SLACK``): sub-second steps jitter by more than any relative tolerance.

A file may carry a ``calibration:`` (relionbench.machine.calibration: the seconds the machine it was
measured on took for the calibration workload); a system that calibrates scales its time
references by this machine's ratio (``scaled``).
"""

import functools
from dataclasses import dataclass, field
from pathlib import Path

from relionbench import ROOT
from relionbench.results.refcheck import ReferenceError, parse
from relionbench.results.refcheck import check as check_file
from relionbench.science.metrics import TOTAL, describe

REFERENCE_DIR = ROOT / 'reference'

DEFAULTS = {
    'time_upper': 0.10,         # relative, slower only
    'memory_upper': 0.20,       # relative, more only
    'resolution_shells': 2,     # Fourier shells either way
    'accuracy': 0.20,           # relative both ways (published spread ~12 %)
    'bfactor': 0.25,            # auto-B Guinier fit: -353..-405 A^2 in repeat miniature runs
    'beam_tilt': 0.15,          # published runs +-4 %; miniature runs -3.12..-3.50 mrad
    'count': 0.25,
    'value': 0.10,
    'exact': 0.001,
    'score': 0.10,              # relative, lower only
    'error': 0.50,              # relative, higher only
}


DERIVED_TIME_FLOOR = 0.25
"""Derived time references come from a handful of runs on a shared machine, whose clean runs
differ by up to 25 % (2-core VM): never tighter than that."""
SPREAD = 3
"""Derived tolerances cover this many times the spread measured over the repeat runs."""
MIN_SLACK = {'time': 1.0, 'memory': 4.0}
"""Smallest absolute slack (s, MiB) a derived time or memory reference allows."""


@dataclass
class Entry:
    workflow: str
    stage: str
    variant: str
    scale: str
    source: str
    box_size: int
    pixel_size: float
    metrics: dict
    partition: str = '*'
    build: str = '*'                #: the build (environment name) it was measured with
    defaults: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)

    def key(self):
        return (self.workflow, self.stage, self.variant, self.scale)


PRINTED = 1e-6
"""Relative precision of the values RELION prints: a band edge on a shell keeps that shell."""


def shell_bounds(resolution, box_size, pixel_size, shells):
    """Relative (lower, upper) thresholds for ``shells`` Fourier shells around ``resolution``."""
    n = box_size * pixel_size / resolution
    lower = n / (n + shells) - 1 - PRINTED
    upper = n / (n - shells) - 1 + PRINTED if n > shells else None
    return lower, upper


def thresholds(name, spec, entry, overrides=None):
    """ReFrame's ``(value, lower, upper, unit)`` for one metric of an entry."""
    unit, kind = describe(name)
    if spec.get('unit', unit) != unit:
        raise ReferenceError(f'{name}: unit {spec["unit"]!r} should be {unit!r}')
    overrides = overrides or {}
    opts = {**DEFAULTS, **entry.defaults}
    value = spec['value']
    if kind == 'record' or spec.get('band') == 'none':
        return value, None, None, unit
    if kind in ('time', 'memory'):
        key = f'{kind}_upper'
        upper = overrides.get(key, spec.get('tolerance_upper', spec.get('tolerance', opts[key])))
        return value, None, max(upper, MIN_SLACK[kind] / value if value else 0), unit
    if kind == 'resolution':
        shells = overrides.get('resolution_shells',
                               spec.get('shells', opts['resolution_shells']))
        lower, upper = shell_bounds(value, entry.box_size, entry.pixel_size, shells)
        return value, lower, upper, unit
    tolerance = spec.get('tolerance', opts[kind])
    if kind == 'score':
        return _bounded(value, -tolerance, None, unit)
    if kind == 'error':
        return _bounded(value, None, tolerance, unit)
    return _bounded(value, -tolerance, tolerance, unit)


def _bounded(value, lower, upper, unit):
    """ReFrame accepts lower thresholds down to -1, and upper ones up to 1 for negative values
    (None: no bound on that side)."""
    if upper is not None and value < 0:
        upper = min(upper, 1.0)
    return value, None if lower is None else max(lower, -1.0), upper, unit


def load(system, directory=REFERENCE_DIR, builds=None, partitions=None):
    """Entries of ``reference/<system>.yaml``, checked as they load (relionbench.results.
    refcheck; ``builds``, ``partitions``: the names the system declares, when known); none
    when the file does not exist."""
    path = Path(directory) / f'{system}.yaml'
    if not path.exists():
        return []
    shown = _shown(path)
    doc, lines = parse(shown, path.read_text())
    check_file(shown, doc, lines, builds, partitions, default_keys=DEFAULTS)
    defaults, calibration = doc.get('defaults') or {}, doc.get('calibration') or {}
    try:
        if calibration and not (float(calibration['seconds']) > 0
                                and int(calibration['cores']) > 0):
            raise ValueError('write seconds and cores, both positive')
    except (TypeError, KeyError, ValueError) as err:
        raise ReferenceError(f'{shown}: calibration: {err}') from None
    entries = [Entry(**ref, defaults=defaults, calibration=calibration)
               for ref in doc.get('references') or []]
    for index, entry in enumerate(entries):
        for name, spec in entry.metrics.items():
            try:
                thresholds(name, spec, entry)
            except ReferenceError as err:
                raise ReferenceError(f'{shown}:{lines[index]}: entry {index + 1}: {err}') \
                    from None
    return entries


def _shown(path):
    """``path`` as an error names it: relative to the checkout when inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def find(entries, workflow, stage, variant, scale, partition, build='*'):
    """The entry for one case on one partition with one build (a partition- or
    build-specific one wins over one for any)."""
    matches = [e for e in entries if e.key() == (workflow, stage, variant, scale)
               and e.partition in ('*', partition) and e.build in ('*', build)]
    matches.sort(key=lambda e: (e.build == '*', e.partition == '*'))
    return matches[0] if matches else None


def reframe_reference(entry, overrides=None, metrics=None):
    """``{'*': {metric: (value, lower, upper, unit)}}`` for ``self.reference`` (``metrics``:
    the entry's metrics as scaled, by default as written)."""
    return {'*': {name: thresholds(name, spec, entry, overrides)
                  for name, spec in (metrics or entry.metrics).items()}}


def scaled(entry, factors):
    """The entry's metrics with each ``<step>_seconds`` value times ``factors[step]`` (1 when
    absent) and ``total_seconds`` the sum of the scaled steps."""
    metrics = {name: dict(spec) for name, spec in entry.metrics.items()}
    steps = [n for n in metrics if n.endswith('_seconds') and n != TOTAL]
    for name in steps:
        metrics[name]['value'] = metrics[name]['value'] * factors.get(name[:-len('_seconds')], 1)
    if TOTAL in metrics and steps:
        written = sum(entry.metrics[n]['value'] for n in steps)
        ratio = sum(metrics[n]['value'] for n in steps) / written if written else 1
        metrics[TOTAL]['value'] = metrics[TOTAL]['value'] * ratio
    return metrics


def derive(runs, system, source, calibrations=()):
    """Reference entries from repeat runs (ReFrame run reports): the median of each metric,
    with a tolerance that covers the measured spread three times over (for times and memory,
    three times the furthest a run went above the median), never below the defaults: a
    handful of runs underestimates RELION's run-to-run spread.

    ``runs`` holds one ``{(case display name, build): {metric: value}}`` per run;
    ``calibrations`` what those runs' calibrations measured (their median becomes
    ``calibration:``)."""
    from relionbench.workflows import WORKFLOWS
    names = set().union(*runs)
    entries = []
    for name, build in sorted(names):
        workflow_name, stage_name, variant, scale = _parse_case(name)
        workflow = next(w for w in WORKFLOWS.values()
                        if w.name.replace('-', '') == workflow_name.lower())
        stage = workflow.stage(stage_name)
        values = [run[name, build] for run in runs if (name, build) in run]
        metrics = {}
        for metric in sorted(values[0]):
            series = [v[metric] for v in values if metric in v]
            metrics[metric] = _spec(metric, series, stage)
        entries.append({'workflow': workflow.name, 'stage': stage_name, 'variant': variant,
                        'scale': scale, 'build': build,
                        'source': f'{source} ({len(values)} runs)',
                        'box_size': stage.box_size, 'pixel_size': stage.pixel_size,
                        'metrics': metrics})
    doc = {'system': system}
    if calibrations:
        doc['calibration'] = {
            'source': f'{source} ({len(calibrations)} runs)',
            'seconds': round(_median([c['seconds'] for c in calibrations]), 4),
            'cores': int(_median([c['cores'] for c in calibrations]))}
    return {**doc, 'references': entries}


def _median(values):
    return float(sorted(values)[len(values) // 2])


def _parse_case(display_name):
    check, case = display_name.split(' %case=')
    stage, variant, scale = case.split()[0].split('/')
    return check, stage, variant, scale


def _unbanded(metric, stage):
    return any(metric == f'{step.label}_{suffix}' for step in stage.steps
               for suffix in step.unbanded)


def _spec(metric, series, stage):
    unit, kind = describe(metric)
    median = _median(series)
    spread = max(series) - min(series)
    spec = {'value': round(median, 6), 'unit': unit}
    if kind == 'record' or _unbanded(metric, stage):
        if kind != 'record':
            spec['band'] = 'none'
    elif kind == 'resolution':
        length = stage.box_size * stage.pixel_size
        shells = max(abs(length / min(series) - length / max(series)), 0)
        spec['shells'] = max(DEFAULTS['resolution_shells'], int(SPREAD * shells + 0.999))
    elif kind in ('time', 'memory'):
        # upper bound only: what counts is how far above the median a clean run went
        default = DERIVED_TIME_FLOOR if kind == 'time' else DEFAULTS['memory_upper']
        above = max(series) - median
        spec['tolerance_upper'] = round(max(default, SPREAD * above / median if median else 0),
                                        3)          # thresholds() adds MIN_SLACK
    else:
        default = DEFAULTS.get(kind, DEFAULTS['value'])
        scale = abs(median) if median else 1.0
        spec['tolerance'] = round(max(default, SPREAD * spread / scale), 3)
    return spec


def table(system):
    """One row per reference metric: the value, the absolute band ReFrame will apply, source."""
    import pandas as pd
    from reframe.utility.sanity import reference_bounds

    rows = []
    for entry in load(system):
        for name, spec in entry.metrics.items():
            value, lower, upper, unit = thresholds(name, spec, entry)
            low, high = reference_bounds(value, lower, upper)
            rows.append({'workflow': entry.workflow, 'stage': entry.stage,
                         'variant': entry.variant, 'scale': entry.scale,
                         'partition': entry.partition, 'build': entry.build,
                         'metric': name, 'value': value,
                         'min': f'{low:.6g}', 'max': f'{high:.6g}', 'unit': unit,
                         'source': entry.source})
    return pd.DataFrame(rows)


LIMIT_MARGIN = 2.0
"""A stage's job may run this many times its published duration (a slower node, another
build), plus ``LIMIT_SPARE`` seconds (staging, a queue's start-up): enough for a run, short
enough that a hung one ends the same day."""
LIMIT_SPARE = 3600


def duration(entry):
    """An entry's published wall time in seconds: its ``total_seconds``, else the sum of
    its steps' (None when it has no time)."""
    times = {n: s['value'] for n, s in entry.metrics.items() if n.endswith('_seconds')}
    if TOTAL in times:
        return times[TOTAL]
    return sum(times.values()) or None


def time_limit(workflow, stage, own=None, directory=REFERENCE_DIR):
    """Seconds a job of ``stage`` may run: ``LIMIT_MARGIN`` times its published duration
    plus ``LIMIT_SPARE``. The duration is this system's entry for the case (``own``) where
    it has one, else the slowest published run of the stage on any system; None when no
    reference file publishes the stage."""
    seconds = (duration(own) if own else None) or _slowest(Path(directory)).get(
        (workflow, stage))
    return None if seconds is None else LIMIT_MARGIN * seconds + LIMIT_SPARE


@functools.cache
def _slowest(directory):
    """{(workflow, stage): its slowest published duration} over every reference file."""
    slowest = {}
    for path in sorted(directory.glob('*.yaml')):
        for entry in load(path.stem, directory):
            seconds, key = duration(entry), (entry.workflow, entry.stage)
            if seconds and seconds > slowest.get(key, 0):
                slowest[key] = seconds
    return slowest
