"""The step times of a stage's latest runs as bars against their reference bands, for the
report page (HTML and CSS, no figure to draw): per step, one bar per layout and build of its
latest run, coloured as relionbench.report.colours says (red where it missed), the band as a
black line and the reference as a tick, with the value in seconds beside it."""

import numpy as np

from relionbench.science import metrics
from relionbench.science.metrics import TOTAL


def bars(values, palette, layout):
    """[{'step', 'rows': [{'layout', 'colour', 'text', 'width', 'low', 'high', 'ref'}]}] of
    one stage's ``values`` (positions in percent of the longest bar or band); ``layout`` names
    a (build, case) key."""
    names = [n for n in values.metric.unique() if n.endswith('_seconds') and n != TOTAL]
    if not names:
        return []
    runs = values.drop_duplicates('run').sort_values('time')
    latest = runs.groupby(['environ', 'case'], sort=False).run.last()
    shown = values[values.run.isin(latest) & values.metric.isin(names)]
    shown = shown.drop_duplicates(['run', 'metric'], keep='last').sort_values(
        ['environ', 'case'], kind='stable')
    scale = np.nanmax(shown[['value', 'high']].to_numpy(float))
    scale = scale if scale > 0 else 1.0

    def at(number):
        return None if not np.isfinite(number) else round(100 * min(number, scale) / scale, 2)

    groups = {name: [] for name in names}
    for row in shown.itertuples():
        missed = row.metric_result == 'fail'
        groups[row.metric].append({
            'layout': layout(row.environ, row.case),
            'colour': 'red' if missed else palette[row.environ, row.case],
            'text': f'{row.value:.3g} s' + (' ✗' if missed else ''),
            'width': at(row.value), 'low': at(row.low if np.isfinite(row.low) else 0.0),
            'high': at(row.high), 'ref': at(row.ref)})
    return [{'step': metrics.label(name), 'rows': rows} for name, rows in groups.items()
            if rows]
