"""A reference file checked as it loads: every key one the format knows, every selector one a
check has, every value a number. A problem is one line naming the file, the entry and its
line, the key, and the valid values (``ReferenceError``)."""

import functools
import numbers
from dataclasses import dataclass

import yaml

from relionbench.choices import not_one_of
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN, GPU
from relionbench.science.metrics import describe

FORMAT = 'the format is in docs/site.md, "File format"'
TOP = ('system', 'calibration', 'defaults', 'references')
SELECTORS = ('workflow', 'stage', 'variant', 'scale')
ENTRY = (*SELECTORS, 'source', 'box_size', 'pixel_size', 'metrics', 'partition', 'build')
REQUIRED = (*SELECTORS, 'source', 'box_size', 'pixel_size', 'metrics')
METRIC = ('value', 'unit', 'tolerance', 'tolerance_upper', 'shells', 'band')
VARIANTS = (GPU, CPU_ALTCPU, CPU_PLAIN)


class ReferenceError(ValueError):
    """A reference file that cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class Where:
    """A place in a reference file, for the error line."""
    path: str
    entry: int = 0                  #: 1-based; 0: the file itself
    line: int = 0

    def __str__(self):
        if not self.entry:
            return f'{self.path}{f":{self.line}" if self.line else ""}'
        return f'{self.path}:{self.line}: entry {self.entry}'


def fail(where, what):
    raise ReferenceError(f'{where}: {what}; {FORMAT}')


def one_of(where, key, value, valid):
    """Fail unless ``value`` is in ``valid``, naming the closest and every valid value."""
    if value not in valid:
        fail(where, not_one_of(key, value, valid))


def parse(path, text):
    """(the document, each entry's line): one line when the file is not YAML."""
    try:
        node = yaml.compose(text)
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        problem = getattr(err, 'problem', None) or str(err).splitlines()[0]
        fail(Where(path, line=mark.line + 1 if mark else 0), f'not valid YAML: {problem}')
    if not isinstance(doc, dict):
        fail(Where(path), f'write a mapping with {", ".join(TOP)}')
    lines = []
    if node is not None:
        for key, value in node.value:
            if key.value == 'references' and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
    return doc, lines


@functools.cache
def catalogue():
    """{workflow: {stage: {variant: scales}}} of every check's case (one per process: read,
    never changed)."""
    from relionbench.workflows import WORKFLOWS
    found = {}
    for workflow in WORKFLOWS.values():
        for case in workflow.cases():
            scales = found.setdefault(case.stage.workflow, {}).setdefault(
                case.stage.name, {}).setdefault(case.variant, [])
            if case.scale not in scales:
                scales.append(case.scale)
    return found


def check(path, doc, lines, builds=None, partitions=None, default_keys=()):
    """Fail on the first problem of a parsed file (``builds``, ``partitions``: the names the
    system declares, when known; ``default_keys``: what ``defaults:`` may set)."""
    for key in doc:
        one_of(Where(path), 'key', key, TOP)
    defaults = doc.get('defaults') or {}
    if not isinstance(defaults, dict):
        fail(Where(path), 'defaults: write {name: number, ...}')
    for key, value in defaults.items():
        one_of(Where(path), 'defaults: key', key, list(default_keys))
        number(Where(path), f'defaults: {key}', value)
    entries = doc.get('references') or []
    if not isinstance(entries, list):
        fail(Where(path), 'references: write a list of entries')
    known = catalogue()
    for index, entry in enumerate(entries):
        where = Where(path, index + 1, lines[index] if index < len(lines) else 0)
        check_entry(where, entry, known, builds, partitions)


def check_entry(where, entry, known, builds=None, partitions=None):
    if not isinstance(entry, dict):
        fail(where, 'write a mapping (workflow:, stage:, ...)')
    for key in entry:
        one_of(where, 'key', key, ENTRY)
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        fail(where, f'no {", ".join(missing)}')
    one_of(where, 'workflow', entry['workflow'], sorted(known))
    stages = known[entry['workflow']]
    one_of(where, 'stage', entry['stage'], list(stages))
    one_of(where, 'variant', entry['variant'], VARIANTS)
    one_of(where, 'scale', entry['scale'], stages[entry['stage']].get(entry['variant'], []))
    if builds is not None and entry.get('build', '*') != '*':
        one_of(where, 'build', entry['build'], ['*', *builds])
    if partitions is not None and entry.get('partition', '*') != '*':
        one_of(where, 'partition', entry['partition'], ['*', *partitions])
    for key in ('box_size', 'pixel_size'):
        number(where, key, entry[key])
    metrics = entry['metrics']
    if not isinstance(metrics, dict) or not metrics:
        fail(where, 'metrics: write {name: {value: ..., unit: ...}, ...}')
    for name, spec in metrics.items():
        try:
            kind = describe(name)[1]
        except KeyError:
            fail(where, f'metric {name!r} is not one the checks report (<step>_seconds, '
                        '<step>_peak_mib, <step>_resolution, ...: see docs/running.md, '
                        '"Performance variables")')
        if not isinstance(spec, dict) or 'value' not in spec:
            fail(where, f'{name}: write {{value: ..., unit: ...}}')
        for key in spec:
            one_of(where, f'{name}: key', key, METRIC)
        for key in ('value', 'tolerance', 'tolerance_upper', 'shells'):
            if key in spec:
                number(where, f'{name}: {key}', spec[key])
        if kind == 'resolution' and ('tolerance' in spec or 'tolerance_upper' in spec):
            fail(where, f'{name}: a resolution takes shells: (Fourier shells either way), '
                        'not a relative tolerance')
        if kind not in ('time', 'memory', 'resolution') and 'tolerance_upper' in spec:
            fail(where, f'{name}: tolerance_upper is for times and memory; write tolerance:')
        if kind != 'resolution' and 'shells' in spec:
            fail(where, f'{name}: shells: is for resolutions; write tolerance:')
        if spec.get('band', 'none') != 'none':
            fail(where, f'{name}: band {spec["band"]!r}: the only band is none (recorded, '
                        'not judged)')


def number(where, key, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(where, f'{key}: {value!r} is not a number (write it without a unit)')
