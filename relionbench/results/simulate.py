"""A simulated result history in the suite's perflog format, for the report benchmark and the
tests: every miniature stage of reference/local.yaml on GPU partitions (1-16 GPUs) and CPU
partitions (AVX-512 and plain builds), night after night, with noise and a few failures."""

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from reframe.utility.sanity import reference_bounds

from relionbench.constants import CPU_ALTCPU, CPU_PLAIN, GPU, PERFLOG_FIELDS
from relionbench.results import references

CHECKS = {'miniature': 'Miniature', 'mini-ribosome': 'MiniRibosome'}
PARTITIONS = {'gpu': [(GPU, f'{n}gpu') for n in (1, 2, 4, 8, 16)],
              'cpu': [(CPU_ALTCPU, '1x2'), (CPU_PLAIN, '1x2')]}
HEADER = [f[len('check_'):] for f in PERFLOG_FIELDS]


def cases(systems, partitions=tuple(PARTITIONS)):
    """(system, partition, check, entry, variant, scale) of every simulated case."""
    entries = {}
    for e in references.load('local'):       # one entry per stage and build, cpu-plain first
        if e.workflow in CHECKS:
            entries.setdefault((e.workflow, e.stage, e.build), []).append(e)
    entries = [sorted(found, key=lambda e: e.variant != CPU_PLAIN)[0]
               for found in entries.values()]
    return [(system, partition, CHECKS[entry.workflow], entry, variant, scale)
            for system in systems for partition, layouts in PARTITIONS.items()
            if partition in partitions for entry in entries for variant, scale in layouts]


def speed(variant, scale):
    """Time factor of a layout against the plain 2-core run."""
    if variant == GPU:
        return 0.2 / int(scale[:-3]) ** 0.8
    return 0.4 if variant == CPU_ALTCPU else 1.0


def write_perflogs(folder, records, systems=('scarf', 'pearl'), seed=0, fail_every=97,
                   partitions=tuple(PARTITIONS), slower=None):
    """Write ``records`` perflog lines under ``folder``/perflogs; one in ``fail_every`` misses
    its time reference. ``slower``: (check, case, night, factor): that case's times are
    ``factor`` times longer from that night on (an injected step). Returns the number of
    lines written."""
    rng = random.Random(seed)
    all_cases = cases(systems, partitions)
    start = datetime(2026, 1, 1, 2, tzinfo=timezone.utc)
    lines = {}
    for number in range(records):
        night, index = divmod(number, len(all_cases))
        system, partition, check, entry, variant, scale = all_cases[index]
        when = start + timedelta(days=night, minutes=index)
        factor, failed = speed(variant, scale), number % fail_every == fail_every - 1
        case = f'{entry.stage}/{variant}/{scale}'
        step = slower[3] if slower and slower[:2] == (check, case) and night >= slower[2] else 1
        groups, result = [], 'pass'
        for name, spec in entry.metrics.items():
            ref, lower, upper, unit = references.thresholds(name, spec, entry)
            timed = unit == 's'
            if timed:
                ref *= factor
            exact = references.describe(name)[1] == 'exact'
            value = ref if exact else ref * rng.lognormvariate(0, 0.02)
            if timed:
                value *= step * (1.5 if failed else 1)
            low, high = reference_bounds(ref, lower, upper)
            passed = low <= value <= high
            result = result if passed else 'fail'
            groups.append([name, f'{value:.6g}', unit, f'{ref:.6g}', str(lower), str(upper),
                           'pass' if passed else 'fail'])
        tasks, threads = (int(scale[:-3]) * 2 + 1, 2) if variant == GPU else (1, 2)
        build = entry.build if entry.build != '*' else 'relion'
        version = build.split('-')[1].replace('_', '.') if build.count('-') >= 2 else '3.1.3'
        fixed = [when.isoformat(), f'{check} %case={case}', system, partition, build,
                 result, case, str(tasks), str(threads), version,
                 'CUDA' if variant == GPU else 'ALTCPU' if variant == CPU_ALTCPU else 'plain',
                 'FFTW+cuFFT' if variant == GPU else 'FFTW', 'AVX2',
                 '13.0 sm_90+compute_90' if variant == GPU else '',
                 '', '', 'simulated', 'miniature', entry.source, str(100000 + number)]
        path = Path(folder) / 'perflogs' / system / partition / f'{check}.log'
        if path not in lines:
            lines[path] = ['|'.join(HEADER + [f'{g[0]}_{f}' for g in groups for f in
                                              ('var', 'value', 'unit', 'ref', 'lower_thres',
                                               'upper_thres', 'result')]) + '|']
        lines[path].append('|'.join(fixed + [x for g in groups for x in g]) + '|')
    for path, text in lines.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('\n'.join(text) + '\n')
    return records
