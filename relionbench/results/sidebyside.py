"""Builds side by side: per stage, the time and the science of each build (and variant) on
the same data, the speed-ups between them, and where two builds disagree on the science.

Two builds on the same data should find the same map: a resolution (RELION's own, or the
FSC against the ground truth) that moves by more than ``SHELLS`` Fourier shells between
builds is flagged (the seeds' open question: "scientific results can be affected by the
choice of executable or runtime parameters").

``python -m relionbench.results.sidebyside RUNS`` prints the table of the results under RUNS.
"""

import argparse
import sys

import pandas as pd

from relionbench import workflows
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN
from relionbench.data.sizes import Size

SHELLS = 2
"""Builds disagree on the science beyond this many Fourier shells."""
RESOLUTIONS = ('final_resolution', 'truth_fsc0143_resolution', 'true_start_fsc0143_resolution',
               'resolution')
"""The resolution metrics compared (by suffix)."""
COLUMNS = ('dataset', 'check', 'stage', 'build', 'variant', 'scale', 'seconds', 'vs baseline',
           '--cpu speed-up', 'resolution (A)', 'truth FSC 0.143 (A)', 'shells apart', 'science')


def _latest(values):
    """The latest run of each (dataset, check, stage, build, variant, scale) that ran to the end
    (passed, or missed a reference), with its metrics as columns."""
    done = values[values.result.isin(['pass', 'fail'])]
    done = done.assign(dataset_id=done['dataset_id'].fillna('') if 'dataset_id' in done else '')
    done = done[done.fail_phase.fillna('').isin(['', 'performance'])] \
        if 'fail_phase' in done else done
    keys = ['dataset_id', 'check', 'stage', 'environ', 'variant', 'scale']
    runs = done.drop_duplicates('run').sort_values('time')     # a run per row: quicker
    last = runs.groupby(keys, sort=False).run.last()
    rows = done[done.run.isin(last)]
    return rows.pivot_table(index=keys, columns='metric', values='value', aggfunc='last')


def table(values):
    """One row per stage, build and variant: total seconds, the speed-up over the baseline
    (the stage's cpu-plain run with the earliest release), the speed-up of ``--cpu`` over
    the same build's plain path, the main resolutions, and the disagreement in shells."""
    if values.empty or 'environ' not in values:
        return pd.DataFrame()
    wide = _latest(values)
    if wide.empty or len(wide.index.droplevel(['dataset_id', 'check', 'stage', 'scale'])
                         .unique()) < 2:
        return pd.DataFrame()                   # one build, one variant: nothing beside it
    rows = []
    for (dataset, check, stage), group in wide.groupby(level=['dataset_id', 'check', 'stage'],
                                                       sort=False):
        group = group.droplevel(['dataset_id', 'check', 'stage']).dropna(axis=1, how='all')
        variants = group.index.get_level_values('variant')
        plain = group.xs(CPU_PLAIN, level='variant') if CPU_PLAIN in variants else group.iloc[:0]
        baseline = plain.iloc[0]['total_seconds'] if len(plain) else None
        shown = _shown(group.columns)
        apart = _apart(group, workflows.box_length(check, stage))
        for (build, variant, scale), row in group.iterrows():
            own = (plain.loc[build].iloc[0]['total_seconds']
                   if build in plain.index.get_level_values('environ') else None)
            rows.append({
                'dataset': dataset, 'check': check, 'stage': stage, 'build': build,
                'variant': variant, 'scale': scale, 'seconds': row.get('total_seconds'),
                'vs baseline': baseline / row['total_seconds'] if baseline else None,
                '--cpu speed-up': own / row['total_seconds']
                if own and variant == CPU_ALTCPU else None,
                **{label: row.get(metric) for label, metric in shown.items()},
                'shells apart': apart,
                'science': '' if apart is None else 'DIFFERS' if apart > SHELLS else 'same'})
    return pd.DataFrame(rows, columns=COLUMNS).round(3)


def _shown(columns):
    """{'resolution': metric, 'truth FSC 0.143': metric} of a stage (those it has)."""
    resolutions = [c for c in columns if c.endswith('_resolution') and 'fsc05' not in c]
    truth = [c for c in resolutions if 'fsc0143' in c]
    relion = [c for c in resolutions if c not in truth]
    final = [c for c in relion if c.endswith('final_resolution')] or relion
    shown = {}
    if final:
        shown['resolution (A)'] = final[0]
    if truth:
        shown['truth FSC 0.143 (A)'] = truth[0]
    return shown


def _apart(group, length):
    """The largest difference, in Fourier shells, between any two runs of the stage in any
    resolution metric (None without a box length or a resolution)."""
    if not length:
        return None
    metrics = [c for c in group.columns if c.endswith(RESOLUTIONS)]
    found = [(length / group[m].dropna()) for m in metrics if group[m].notna().sum() > 1]
    return max((float(s.max() - s.min()) for s in found), default=None)


def disagreements(side_by_side):
    """'stage: N shells apart' for each stage whose builds disagree beyond SHELLS."""
    if side_by_side.empty:
        return []
    flagged = side_by_side[side_by_side['shells apart'] > SHELLS]
    return [f'{check} {stage}{f" ({dataset})" if dataset else ""}: resolutions {apart:.1f} '
            'shells apart between builds' for (dataset, check, stage), apart in
            flagged.groupby(['dataset', 'check', 'stage'], sort=False)['shells apart']
            .first().items()]


def ranking(side):
    """From ``table``: one row per dataset and stage, the seconds of every build and variant
    side by side (``build variant``), the fastest of them, and the ``--cpu`` speed-up."""
    if side.empty:
        return pd.DataFrame()
    side = side.assign(run=side.build + ' ' + side.variant)
    seconds = side.pivot_table(index=['dataset', 'stage'], columns='run', values='seconds',
                               sort=False)
    speedup = side.pivot_table(index=['dataset', 'stage'], values='--cpu speed-up',
                               sort=False)
    ranked = seconds.assign(fastest=seconds.idxmin(axis=1)).join(speedup).reset_index()
    return ranked.sort_values('dataset', key=lambda d: d.map(_size), kind='stable')


def _size(dataset):
    """A dataset id's size (``Size.of_dataset``, the default size for any other id) as one
    number that orders by box, then particles."""
    size = Size.of_dataset(dataset) or Size()
    return size.box * 10 ** 6 + size.particles


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m relionbench.results.sidebyside',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('runs', help='a results folder (RELIONBENCH_RUNS of the runs)')
    parser.add_argument('--system', default='local')
    parser.add_argument('--ranking', action='store_true',
                        help='one row per dataset and stage: seconds per build and variant, '
                        'the fastest')
    args = parser.parse_args(argv)
    from relionbench import results
    found = results.load(args.runs)
    values = found.values.merge(found.runs, on='run')
    values = values[values.system == args.system]
    side = table(values)
    if side.empty:
        print(f'no stage ran with two builds or variants under {args.runs}', file=sys.stderr)
        return 1
    print((ranking(side) if args.ranking else side).to_markdown(index=False, floatfmt='.3g'))
    for line in disagreements(side):
        print(f'DISAGREE: {line}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
