"""Metrics: their names, units and kinds (which decide a reference's default band), and their
words in the report. Names follow ``<step label>_<metric>``; the science values are read by
relionbench.science.extract, per-step time and memory by relionbench.run.records.
"""


# metric suffix -> (unit, kind); kind decides the default reference band: two-sided
# tolerances, except 'score' (higher is better: a lower bound only), 'error' (lower is
# better: an upper bound only) and 'record' (recorded, never judged: it echoes an option)
SCIENCE = {
    'resolution': ('A', 'resolution'),
    'final_resolution': ('A', 'resolution'),
    'nr_classes': ('count', 'record'),            # echoes --K
    'classes_above_2pct': ('count', 'count'),
    'average_pmax': ('', 'value'),                # how sure the assignments are, 0..1
    'acc_rotation': ('deg', 'accuracy'),
    'acc_translation': ('A', 'accuracy'),
    'bfactor': ('A^2', 'bfactor'),
    'solvent_mask_fraction': ('ratio', 'value'),  # 0.476 / mask fraction of the box
    'beam_tilt_x': ('mrad', 'beam_tilt'),
    'beam_tilt_y': ('mrad', 'beam_tilt'),
    'sigma_vel': ('A/dose', 'value'),
    'sigma_div': ('A', 'value'),
    'sigma_acc': ('A/dose', 'value'),
    'pixel_size': ('A', 'exact'),
    'box_size': ('px', 'record'),                 # echoes --extract_size
    # against the ground truth of the miniature (relionbench.science.truth)
    'truth_purity': ('fraction', 'score'),
    'truth_defocus_r': ('', 'score'),
    'truth_defocus_removed': ('fraction', 'score'),
    'truth_tilt_angle_error': ('deg', 'error'),
    'truth_tilt_magnitude_error': ('mrad', 'error'),
}
STEP = {'seconds': ('s', 'time'), 'peak_mib': ('MiB', 'memory'),
        'node_peak_mib': ('MiB', 'memory')}
"""Per step: its time, its largest rank's peak memory and its fullest node's (the summed
peaks of the ranks on one node)."""
ITERATIONS = {'median_iteration': ('s', 'record'), 'slowest_iteration': ('s', 'record'),
              'iterations': ('count', 'record')}
"""Per relion_refine step (relionbench.science.iterations): its iterations' median and slowest wall
time and how many it ran (auto-refine's count is its own; otherwise it echoes --iter).
Recorded, not judged: the step's own time carries the band."""
TOTAL = 'total_seconds'


def describe(name):
    """(unit, kind) of a metric name such as ``refine_resolution`` or ``mask_seconds``."""
    if name == TOTAL:
        return STEP['seconds']
    for table in (STEP, ITERATIONS, SCIENCE):
        for suffix in sorted(table, key=len, reverse=True):
            if name.endswith('_' + suffix):
                return table[suffix]
    raise KeyError(f'unknown metric {name!r}')


RESOLUTION = ('final_resolution', 'resolution')
"""A stage's headline resolution, by suffix, the first found: RELION's own."""
TRUTH_RESOLUTION = ('truth_fsc0143_resolution', 'true_start_fsc0143_resolution')
"""Its FSC 0.143 against the ground truth, by suffix."""
_AGAINST_TRUTH = ('truth', 'true_start')


def first(names, suffixes):
    """The first of ``names`` ending in ``_<suffix>`` (or equal to it), trying ``suffixes`` in
    order; a suffix of RELION's own never picks a score against the truth."""
    for suffix in suffixes:
        truth = suffix.startswith(_AGAINST_TRUTH)
        for name in names:
            if (name == suffix or name.endswith('_' + suffix)) and (
                    truth or not any(word in name for word in _AGAINST_TRUTH)):
                return name
    return None


WORDS = {
    'seconds': 'time', 'peak_mib': 'peak memory', 'node_peak_mib': 'peak memory of a node',
    'median_iteration': 'median iteration', 'slowest_iteration': 'slowest iteration',
    'iterations': 'iterations',
    'resolution': 'resolution',
    'final_resolution': 'final resolution', 'nr_classes': 'classes asked for',
    'classes_above_2pct': 'classes holding over 2 %', 'average_pmax': 'average Pmax',
    'acc_rotation': 'rotation accuracy', 'acc_translation': 'translation accuracy',
    'bfactor': 'sharpening B-factor', 'solvent_mask_fraction': 'solvent mask ratio',
    'beam_tilt_x': 'beam tilt x', 'beam_tilt_y': 'beam tilt y',
    'sigma_vel': 'sigma velocity', 'sigma_div': 'sigma divergence',
    'sigma_acc': 'sigma acceleration', 'pixel_size': 'pixel size', 'box_size': 'box size',
    'truth_purity': 'class purity against the truth',
    'truth_defocus_r': 'defocus correlation with the truth',
    'truth_defocus_removed': 'outliers removed against the truth',
    'truth_tilt_angle_error': 'beam tilt angle error against the truth',
    'truth_tilt_magnitude_error': 'beam tilt size error against the truth',
    'truth_fsc05_resolution': 'FSC 0.5 against the truth',
    'truth_fsc0143_resolution': 'FSC 0.143 against the truth',
    'true_start_fsc05_resolution': 'FSC 0.5 against the truth (true start)',
    'true_start_fsc0143_resolution': 'FSC 0.143 against the truth (true start)',
}
"""Metric suffixes in words (``label``)."""
UNITS = {'A': 'Å', 'A^2': 'Å²'}


def label(name):
    """A metric name in words with its unit: ``refine_peak_mib`` -> ``refine peak memory
    (MiB)``; names it does not know are returned as they are."""
    if name == TOTAL:
        return 'total time (s)'
    suffix = next((s for s in sorted(WORDS, key=len, reverse=True) if name.endswith('_' + s)),
                  None)
    if suffix is None:
        return name
    step = name[:-len(suffix) - 1].replace('_', ' ')
    try:
        unit = describe(name)[0]
    except KeyError:
        unit = ''
    unit = UNITS.get(unit, unit)
    return f'{step} {WORDS[suffix]}' + (f' ({unit})' if unit and unit != 'count' else '')
