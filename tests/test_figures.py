"""The report's hand-written pieces of drawing: the SVG history panels
(relionbench.report.svgpanels) and the HTML step bars (relionbench.report.stepbars) put each
mark where its numbers say."""

from xml.etree import ElementTree

import numpy as np
import pandas as pd

from relionbench.report import stepbars, svgpanels

SVG = '{http://www.w3.org/2000/svg}'


def test_a_panel_draws_lines_bands_misses_and_changes(tmp_path):
    x = np.arange(6, dtype=float)
    line = svgpanels.Series(x, np.array([10, 10, np.nan, 10, 12, 12.0]),
                            np.full(6, 9.0), np.full(6, 11.0),
                            np.array([False, False, False, False, True, True]),
                            np.array([3.5]), '#1f77b4')
    path = svgpanels.write(tmp_path / 'p.svg', [svgpanels.Panel('time <s> & more', [line])],
                           6, {0: '01-01 02:00', 5: '01-06 02:00'})
    root = ElementTree.parse(path).getroot()
    assert root.find(f'{SVG}g/{SVG}text').text == 'time <s> & more'   # escaped, and read back
    lines = root.findall(f'.//{SVG}polyline')
    assert [len(p.get('points').split()) for p in lines] == [2, 3]    # the gap breaks the line
    assert len(root.findall(f'.//{SVG}polygon')) == 1                 # the band
    crosses = root.find(f'.//{SVG}path[@stroke="red"]').get('d')
    assert crosses.count('M') == 2                                    # the two misses
    change = root.find(f'.//{SVG}line')
    assert change.get('stroke-dasharray') and change.get('x1') == change.get('x2')
    ticks = [t.text for t in root.iter(f'{SVG}text')][1:]
    assert '10' in ticks and '12' in ticks and '01-01' in ticks


def test_step_bars_scale_to_the_longest_and_mark_a_miss():
    values = pd.DataFrame({
        'run': [1, 1, 2], 'time': pd.to_datetime(['2026-01-01'] * 2 + ['2026-01-02'], utc=True),
        'environ': ['b'] * 3, 'case': ['S/v/1x2'] * 3,
        'metric': ['refine_seconds', 'total_seconds', 'refine_seconds'],
        'value': [40.0, 45.0, 50.0], 'low': [30.0, np.nan, 30.0], 'high': [40.0, np.nan, 40.0],
        'ref': [35.0, np.nan, 35.0], 'metric_result': ['pass', 'pass', 'fail']})
    found = stepbars.bars(values, {('b', 'S/v/1x2'): '#123456'}, lambda b, c: f'{b} {c}')
    assert [g['step'] for g in found] == ['refine time (s)']          # not the total
    (row,) = found[0]['rows']                                          # the latest run only
    assert row == {'layout': 'b S/v/1x2', 'colour': 'red', 'text': '50 s ✗', 'width': 100.0,
                   'low': 60.0, 'high': 80.0, 'ref': 70.0}
