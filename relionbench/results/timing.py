"""Per-stage timing of a run from ReFrame's JSON run report: RELION's own step time against
the wall time of the whole run, so ReFrame's overhead is visible.

``python -m relionbench.results.timing REPORT [--wall SECONDS] [--markdown]``
"""

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd


def perf(case):
    """{metric: value} of a test case in ReFrame's run report."""
    return {key.split(':')[-1]: values[0]
            for key, values in (case.get('perfvalues') or {}).items()}


def generation_seconds(case):
    """Seconds the miniature data took, from the generator's last line in the job output
    (in the output folder, or the stage folder while a dependent's failure keeps it there)."""
    for folder in (case.get('outputdir'), case.get('stagedir')):
        out = Path(folder or '', case['job_stdout'])
        found = re.search(r'^prepared .* in ([\d.]+) s$', out.read_text(), re.M) \
            if out.is_file() else None
        if found:
            return float(found.group(1))
    return None


def calibration(case):
    """What a Calibration fixture measured (relionbench.machine.calibration's file, in its output
    folder, or in its stage folder while a dependent's failure keeps it there); {} if none."""
    from relionbench.machine.calibration import FILE
    for folder in (case.get('outputdir'), case.get('stagedir')):
        try:
            return json.loads(Path(folder or '', FILE).read_text())
        except (OSError, ValueError):
            continue
    return {}


def calibration_seconds(case):
    """Seconds the calibration workload took."""
    return calibration(case).get('elapsed')


FIXTURES = {'MiniatureData': ('data generation', generation_seconds),
            'Calibration': ('calibration', calibration_seconds)}
"""Session fixtures: the row's name and how many seconds of work they did."""


def repeat_runs(reports):
    """What repeat sessions measured, from their run reports: a list (one per report) of
    {(case, build): performance values} of every stage that measured (it passed, or failed
    only on a reference: still a measurement), and the calibrations they took."""
    runs, calibrations = [], []
    for report in reports:
        cases = json.loads(Path(report).read_text())['runs'][0]['testcases']
        runs.append({(c['display_name'].split(' /')[0], c['environ']): perf(c)
                     for c in cases
                     if '%case=' in c['display_name'] and
                     (c['result'] == 'pass' or c.get('fail_phase') == 'performance')})
        calibrations += [found for c in cases if c['display_name'].startswith('Calibration')
                         if (found := calibration(c))]
    return runs, calibrations


def stage_rows(report):
    """One row per test case: check, stage, result, seconds of RELION steps (of the work, for
    a fixture) and of the job."""
    rows = []
    for case in (c for run in report['runs'] for c in run['testcases']):
        name = case['display_name']
        check = name.split(' ')[0]
        if '%case=' in name:
            stage, seconds = name.split('=')[1].split()[0], perf(case).get('total_seconds')
        else:
            label, measure = FIXTURES.get(check, (check, lambda c: None))
            stage, seconds = label, measure(case)
        rows.append({'check': check, 'stage': stage, 'result': case['result'],
                     'relion_s': seconds})
    return pd.DataFrame(rows)


def summary(report, wall=None):
    table = stage_rows(report)
    relion = table['relion_s'].sum()
    run_wall = wall if wall is not None else report['session_info'].get('time_elapsed')
    lines = [f'RELION steps, data generation and calibration: {relion:.1f} s']
    if run_wall:
        lines.append(f'wall time of the whole run: {run_wall:.1f} s '
                     f'(ReFrame overhead {run_wall - relion:.1f} s, '
                     f'{100 * (run_wall - relion) / run_wall:.0f} %)')
    return table, '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m relionbench.results.timing',
                                     description=__doc__)
    parser.add_argument('report', help="ReFrame's run-report JSON")
    parser.add_argument('--wall', type=float, help='wall seconds measured around reframe')
    parser.add_argument('--markdown', action='store_true', help='print a Markdown table')
    args = parser.parse_args(argv)
    with open(args.report) as handle:
        table, totals = summary(json.load(handle), args.wall)
    table = table.round(1)
    print(table.to_markdown(index=False) if args.markdown else table.to_string(index=False))
    print(totals)
    return 0


if __name__ == '__main__':
    sys.exit(main())
