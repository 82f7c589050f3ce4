"""The report in a real browser (headless Chromium): it loads offline without a console error,
every figure loads, names are escaped, and the first screen leads with what went wrong."""

import pytest
from browser import SHOTS, open_report

from relionbench import report, results
from relionbench.results import simulate

pytestmark = pytest.mark.requires('chromium')

HOSTILE = '<img src=x onerror=alert(1)>&amp;'
"""A system name with HTML in it: shown as text, never run."""


@pytest.fixture(scope='module')
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp('history')
    # 12 nights of the CPU cases on two systems; Refine3D_Local 10 % slower from night 8 on
    simulate.write_perflogs(folder, 12 * 72, systems=('scarf', HOSTILE), partitions=('cpu',),
                            fail_every=10 ** 9,
                            slower=('Miniature', 'Refine3D_Local/cpu-plain/1x2', 8, 1.10))
    index = report.write(results.load(folder), folder / 'report')
    return open_report(index, SHOTS / 'report-simulated-step.png')


def test_the_page_loads_offline_without_errors(page):
    assert page.errors == [] and page.remote == [] and page.broken == []


def test_names_with_html_characters_are_escaped(page):
    assert page.dialogs == []
    assert HOSTILE in page.text


def test_the_first_screen_leads_with_the_regression_and_when_it_began(page):
    lines = [line for line in page.first_screen.splitlines() if line.startswith(
        ('passed', 'REGRESSED', 'MISSED', 'FAILED'))]
    # both builds on both systems: verdict, check, stage, variant, ..., why
    for line in lines[:4]:
        cells = line.split('\t')
        assert cells[:4] == ['REGRESSED', 'Miniature', 'Refine3D_Local', 'cpu-plain'], line
        assert 'total time (s) +' in cells[8] and 'began 2026-01-09 ' in cells[8], line
    assert lines[4:] and all(line.startswith('passed') for line in lines[4:])
