"""Per-system references (reference/<system>.yaml) turned into ReFrame thresholds.

Times get a relative upper bound (faster is never a failure). Resolutions get a
tolerance in Fourier shells: a map of box ``N`` px at ``p`` A/px has shell ``n`` at
resolution ``N*p/n``, so ``k`` shells either side of ``r`` span ``N*p/(n+k) .. N*p/(n-k)``.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from relionbench import ROOT
from relionbench.metrics import describe

REFERENCE_DIR = ROOT / 'reference'

DEFAULTS = {
    'time_upper': 0.10,         # relative, slower only
    'memory_upper': 0.20,       # relative, more only
    'resolution_shells': 2,     # Fourier shells either way
    'accuracy': 0.20,           # relative both ways (published spread ~12 %)
    'count': 0.25,
    'value': 0.10,
    'exact': 0.001,
}


class ReferenceError(ValueError):
    """A reference file that cannot be used; the message names the file and what to fix."""


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
    defaults: dict = field(default_factory=dict)

    def key(self):
        return (self.workflow, self.stage, self.variant, self.scale)


def shell_bounds(resolution, box_size, pixel_size, shells):
    """Relative (lower, upper) thresholds for ``shells`` Fourier shells around ``resolution``."""
    n = box_size * pixel_size / resolution
    lower = n / (n + shells) - 1
    upper = n / (n - shells) - 1 if n > shells else None
    return lower, upper


def thresholds(name, spec, entry, overrides=None):
    """ReFrame's ``(value, lower, upper, unit)`` for one metric of an entry."""
    unit, kind = describe(name)
    if spec.get('unit', unit) != unit:
        raise ReferenceError(f'{name}: unit {spec["unit"]!r} should be {unit!r}')
    opts = {**DEFAULTS, **entry.defaults, **(overrides or {})}
    value = spec['value']
    if 'tolerance' in spec:
        return value, -spec['tolerance'], spec['tolerance'], unit
    if kind == 'time':
        return value, None, opts['time_upper'], unit
    if kind == 'memory':
        return value, None, opts['memory_upper'], unit
    if kind == 'resolution':
        lower, upper = shell_bounds(value, entry.box_size, entry.pixel_size,
                                    spec.get('shells', opts['resolution_shells']))
        return value, lower, upper, unit
    return value, -opts[kind], opts[kind], unit


def load(system, directory=REFERENCE_DIR):
    """Entries of ``reference/<system>.yaml``; none when the file does not exist."""
    path = Path(directory) / f'{system}.yaml'
    if not path.exists():
        return []
    try:
        doc = yaml.safe_load(path.read_text()) or {}
        defaults = doc.get('defaults', {})
        entries = [Entry(**ref, defaults=defaults) for ref in doc.get('references', [])]
        for entry in entries:
            for name, spec in entry.metrics.items():
                if not isinstance(spec, dict) or 'value' not in spec:
                    raise ReferenceError(f'{name}: write {{value: ..., unit: ...}}')
                thresholds(name, spec, entry)
    except (yaml.YAMLError, TypeError, KeyError, ReferenceError) as err:
        raise ReferenceError(f'{path}: {err}; fix the entry or see reference/README') from None
    return entries


def find(entries, workflow, stage, variant, scale, partition):
    """The entry for one case on one partition (a partition-specific one wins)."""
    matches = [e for e in entries if e.key() == (workflow, stage, variant, scale)
               and e.partition in ('*', partition)]
    matches.sort(key=lambda e: e.partition == '*')
    return matches[0] if matches else None


def reframe_reference(entry, overrides=None):
    """``{'*': {metric: (value, lower, upper, unit)}}`` for ``self.reference``."""
    return {'*': {name: thresholds(name, spec, entry, overrides)
                  for name, spec in entry.metrics.items()}}
