"""Results from perflogs and the results database, the report, and the history comparison."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

import relionbench
from relionbench import report, results, sources
from relionbench.constants import PERFLOG_FIELDS
from relionbench.report import digests, tables
from relionbench.report.workers import Workers
from relionbench.results import compare, simulate

HEADER = '|'.join(f[len('check_'):] for f in PERFLOG_FIELDS)
FIXED = ('{time}|Miniature %case=Class2D/cpu-plain/1x2|local|default|relion|{result}|'
         'Class2D/cpu-plain/1x2|1|2|3.1.3|plain|FFTW|SSE2||||abc|miniature|local.yaml|{jobid}')


def perflog_line(time, seconds, result='pass', jobid='11', resolution='24.0'):
    groups = [('total_seconds', seconds, 's', '14.0', 'None', '0.1', result),
              ('class2d_resolution', resolution, 'A', '24.0', '-0.25', '0.5', 'pass')]
    return (FIXED.format(time=time, result=result, jobid=jobid) + '|' +
            ''.join('|'.join(g) + '|' for g in groups))


def write_perflog(folder, lines, header=HEADER + '|total_seconds_var|total_seconds_value|'):
    path = folder / 'perflogs' / 'local' / 'default' / 'Miniature.log'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join([header, *lines]) + '\n')
    return path


def test_perflog_keeps_failed_runs_and_drops_dry_runs(tmp_path):
    write_perflog(tmp_path, [
        perflog_line('2026-11-20T01:00:00+00:00', '14.1'),
        perflog_line('2026-11-21T01:00:00+00:00', '21.0', result='fail', jobid='12'),
        perflog_line('2026-11-21T02:00:00+00:00', 'None', jobid='null', resolution='None'),
    ])
    found = results.load(tmp_path)
    assert list(found.runs.result) == ['pass', 'fail']          # the dry run is left out
    failed = found.runs.iloc[1]
    assert failed.fail_phase == 'performance' and failed.jobid == '12'
    values = found.joined()
    slow = values[(values.run == failed.run) & (values.metric == 'total_seconds')].iloc[0]
    assert (slow.value, slow.ref, slow.metric_result) == (21.0, 14.0, 'fail')
    assert slow.high == pytest.approx(15.4) and slow.low != slow.low    # no lower bound
    band = values[values.metric == 'class2d_resolution'].iloc[0]
    assert (band.low, band.high) == (18.0, 36.0)    # reframe's reference_bounds


def test_a_perflog_missing_a_column_is_read_or_named(tmp_path, capsys):
    no_version = HEADER.replace('relion_version|', '')
    line = perflog_line('2026-11-20T01:00:00+00:00', '14.1').replace('|3.1.3|', '|', 1)
    write_perflog(tmp_path, [line], header=no_version)
    found = results.load(tmp_path)
    assert len(found.runs) == 1 and found.runs.relion_version.iloc[0] == ''
    assert found.runs.relion_build.iloc[0] == 'plain'
    broken = tmp_path / 'perflogs' / 'local' / 'default' / 'Broken.log'
    broken.write_text('job_completion_time|system|result\n2026|local|pass\n')
    assert len(results.load(tmp_path).runs) == 1
    assert f'{broken}: perflog without column(s) display_name, partition; skipped' in \
        capsys.readouterr().err


def test_results_database_sessions(tmp_path):
    case = {'display_name': 'Miniature %case=Class2D/cpu-plain/1x2', 'system': 'local',
            'partition': 'default', 'environ': 'relion', 'result': 'fail',
            'fail_phase': 'sanity', 'fail_reason': 'step 0 class2d exited with code 1',
            'uuid': 'u:0:0', 'job_completion_time_unix': 1.8e9, 'jobid': 42,
            'num_tasks': 1, 'num_cpus_per_task': 2, 'job_nodelist': ['vm'],
            'perfvalues': {'local:default:total_seconds': [None, 14.0, None, 0.1, 's', None]}}
    fixture = {'display_name': 'MiniatureData', 'system': 'local', 'partition': 'default',
               'result': 'pass', 'uuid': 'u:0:1', 'perfvalues': {}}
    skipped = {**case, 'display_name': 'Aldolase %case=Class2D/gpu/1gpu', 'result': 'skip',
               'uuid': 'u:0:2', 'perfvalues': {}}
    real = {'session_info': {'uuid': 'real', 'cmdline': 'reframe -r', 'time_end_unix': 1.8e9},
            'runs': [{'testcases': [case, fixture, skipped]}]}
    dry = {'session_info': {'uuid': 'dry', 'cmdline': 'reframe -r --dry-run'},
           'runs': [{'testcases': [case]}]}
    db = tmp_path / 'results.db'
    with sqlite3.connect(db) as conn:
        conn.execute('CREATE TABLE sessions(uuid TEXT, session_start_unix REAL, '
                     'session_end_unix REAL, json_blob TEXT, report_file TEXT)')
        for n, session in enumerate((real, dry)):
            conn.execute('INSERT INTO sessions VALUES(?, ?, ?, ?, ?)',
                         (session['session_info']['uuid'], n, n, json.dumps(session), ''))
    found = results.load(tmp_path)
    run = found.runs.iloc[0]
    assert len(found.runs) == 1 and run.session == 'real' and run.nodes == 1
    assert (run.result, run.fail_phase, run.jobid) == ('fail', 'sanity', '42')
    table = compare.compare(found)
    assert table.status.tolist() == [compare.FAILED]
    assert 'exited with code 1' in table.change.iloc[0]
    # a check whose only run failed before logging a value still gets its table
    page = report.write(found, tmp_path / 'report', workers=Workers(1)).read_text()
    assert 'FAILED (sanity)' in page and 'Aldolase' not in page


def test_empty_history(tmp_path):
    assert results.load(tmp_path).empty
    cli = [sys.executable, '-m', 'relionbench.cli']
    for command in ('report', 'compare'):
        done = subprocess.run([*cli, command, '--runs', str(tmp_path)], capture_output=True,
                              text=True)
        assert done.returncode == 1
        assert done.stderr.strip() == (f'relionbench: no results in {tmp_path} (run the suite '
                                       'first, or point --runs at its folder)')
    write_perflog(tmp_path, [perflog_line('2026-11-20T01:00:00+00:00', '14.1')])
    table = compare.compare(results.load(tmp_path))      # one run: nothing to compare with
    assert set(table.status) == {compare.NEW} and compare.flagged(table).empty
    # the folder read is the one named, else $RFM_PREFIX (reframe --prefix), and it is said
    env = {**os.environ, 'RFM_PREFIX': str(tmp_path), 'RELIONBENCH_RUNS': '/nonexistent'}
    done = subprocess.run([*cli, 'compare'], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (f'relionbench: read 1 run from the results database and '
                                   f'perflogs under {tmp_path}')


def test_compare_in_percent_and_fourier_shells(tmp_path):
    lines = [perflog_line(f'2026-11-{day:02d}T01:00:00+00:00', '14.0') for day in range(1, 6)]
    lines.append(perflog_line('2026-11-06T01:00:00+00:00', '21.0', resolution='28.8'))
    write_perflog(tmp_path, lines)
    table = compare.compare(results.load(tmp_path)).set_index('metric')
    time, resolution = table.loc['total_seconds'], table.loc['class2d_resolution']
    assert (time.change, time.tolerance, time.status) == ('+50.0 %', '10 %', compare.REGRESSED)
    # 48 px x 3 A: 24 A is shell 6, 28.8 A shell 5
    assert (resolution.change, resolution.status) == ('-1.00 shells', '')
    assert time.runs == 5 and time.baseline == 14.0


@pytest.fixture(scope='module')
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp('simulated')
    # one failure in 100 records, the last one among them: a failed run is in every table
    simulate.write_perflogs(folder, 600, systems=('scarf',), fail_every=100)
    return folder


def test_report_writes_tables_and_plots(simulated, tmp_path):
    index = report.write(results.load(simulated), tmp_path / 'report', last=4)
    page = index.read_text()
    for text in ('Miniature on scarf', 'GPU scaling', 'CPU-optimised vs plain',
                 'Refine3D_CtfRefine', 'FAILED', '✗', 'refine FSC 0.143 against the truth (Å)',
                 '<tr class="MISSED">\n<td class="verdict">MISSED</td>',
                 '<a href="#scarf-Miniature-Refine3D_CtfRefine">', 'id="scarf-Miniature-Polish"'):
        assert text in page
    plots = sorted(p.name for p in (tmp_path / 'report' / 'plots').glob('*.svg'))
    assert {'GPU-scaling_scarf_Miniature.svg', 'scarf_Miniature_Polish_history.svg'} <= set(plots)
    for name in plots:              # well-formed SVG, its text kept as text
        tree = ElementTree.parse(tmp_path / 'report' / 'plots' / name)
        assert tree.getroot().tag == '{http://www.w3.org/2000/svg}svg'
    history = (tmp_path / 'report' / 'plots' / 'scarf_Miniature_Polish_history.svg').read_text()
    assert 'total time (s)</text>' in history and '<polyline' in history
    # the step times of the latest runs as bars against their bands, on the page itself
    assert '<table class="bars">' in page and '<th rowspan=' in page
    table = (tmp_path / 'report' / 'csv' / 'scarf_Miniature_Class2D.csv').read_text()
    assert table.splitlines()[0].count(',') == 4            # the latest 4 runs, one column each
    assert '## Miniature on scarf' in (tmp_path / 'report' / 'tables.md').read_text()
    summary = pd.read_csv(tmp_path / 'report' / 'csv' / 'summary.csv')
    assert summary.verdict.iloc[0] == 'MISSED' and set(summary.verdict) <= {'MISSED', 'passed'}


def test_gpu_scaling_and_cpu_tables_from_known_times(tmp_path):
    """Times written here, speed-ups and efficiencies worked out here: 1, 2 and 4 GPUs take
    100, 60 and 40 s (an older, slower 4-GPU run is ignored); plain 90 s, ALTCPU 36 s."""
    times = {('gpu', '1gpu'): 100.0, ('gpu', '2gpu'): 60.0, ('gpu', '4gpu'): 40.0,
             ('cpu-plain', '1x2'): 90.0, ('cpu-altcpu', '1x2'): 36.0}
    lines = []
    for n, ((variant, scale), seconds) in enumerate(times.items()):
        case = f'Class2D/{variant}/{scale}'
        fixed = FIXED.replace('Class2D/cpu-plain/1x2', case)
        when = f'2026-11-0{n + 2}T02:00:00+00:00'
        lines.append(fixed.format(time=when, result='pass', jobid=n) +
                     f'|total_seconds|{seconds}|s|14.0|None|0.1|pass|')
    lines.append(FIXED.replace('Class2D/cpu-plain/1x2', 'Class2D/gpu/4gpu').format(
        time='2026-11-01T02:00:00+00:00', result='pass', jobid=99) +
        '|total_seconds|80.0|s|14.0|None|0.1|pass|')
    write_perflog(tmp_path, lines)
    found = results.load(tmp_path)
    values = found.values.merge(found.runs[list(tables.PLOT_COLUMNS)], on='run')
    gpus = tables.gpu_table(values).set_index('GPUs')
    assert gpus.seconds.to_dict() == {1: 100.0, 2: 60.0, 4: 40.0}
    assert gpus['speed-up'].to_dict() == pytest.approx({1: 1.0, 2: 100 / 60, 4: 100 / 40},
                                                       abs=1e-3)
    assert gpus.efficiency.to_dict() == pytest.approx({1: 1.0, 2: 100 / 60 / 2,
                                                       4: 100 / 40 / 4}, abs=1e-3)
    cpu = tables.cpu_table(values).iloc[0]
    assert (cpu['cpu-plain'], cpu['cpu-altcpu'], cpu['speed-up']) == (90.0, 36.0, 2.5)


def test_builds_side_by_side_name_the_speed_ups_and_a_disagreement():
    """Two builds on one Refine3D stage (box 48 x 3 A = 144 A): 5.0.1 --cpu 4 x as fast as
    3.1.3 and 2 x its own plain path; a resolution 3 shells away is flagged."""
    from relionbench.results import sidebyside

    def run(n, environ, variant, seconds, resolution):
        base = {'run': n, 'time': pd.Timestamp('2026-12-01', tz='UTC') + pd.Timedelta(n, 's'),
                'check': 'Miniature', 'stage': 'Refine3D_Local', 'environ': environ,
                'variant': variant, 'scale': '3x1', 'result': 'pass', 'fail_phase': None}
        return [{**base, 'metric': 'total_seconds', 'value': seconds},
                {**base, 'metric': 'refine_resolution', 'value': resolution}]
    values = pd.DataFrame(run(1, 'relion-3_1_3-plain', 'cpu-plain', 40.0, 144 / 16)
                          + run(2, 'relion-5_0_1-altcpu', 'cpu-plain', 20.0, 144 / 16)
                          + run(3, 'relion-5_0_1-altcpu', 'cpu-altcpu', 10.0, 144 / 19))
    table = sidebyside.table(values).set_index(['build', 'variant'])
    assert table.loc[('relion-5_0_1-altcpu', 'cpu-altcpu'), 'vs baseline'] == 4.0
    assert table.loc[('relion-5_0_1-altcpu', 'cpu-altcpu'), '--cpu speed-up'] == 2.0
    assert table.loc[('relion-3_1_3-plain', 'cpu-plain'), 'shells apart'] == 3.0
    assert set(table.science) == {'DIFFERS'}
    assert sidebyside.disagreements(table.reset_index()) == [
        'Miniature Refine3D_Local: resolutions 3.0 shells apart between builds']
    alone = values[values.environ == 'relion-3_1_3-plain']
    assert sidebyside.table(alone).empty                # nothing beside it


def test_one_session_with_two_builds_keeps_both_runs():
    """The same case with two builds in one session: two runs, each with its own values."""
    def case(environ, seconds):
        return {'display_name': 'Miniature %case=Extract/cpu-plain/1x2', 'system': 'local',
                'partition': 'default', 'environ': environ, 'result': 'pass',
                'uuid': f'u:{environ}', 'job_completion_time_unix': 1.8e9, 'jobid': 1,
                'perfvalues': {'local:default:extract_seconds': [seconds, 0.2, None, 1.0, 's',
                                                                 'pass']}}
    report = {'session_info': {'uuid': 's', 'cmdline': 'reframe -r'},
              'runs': [{'testcases': [case('relion-3_1_3-plain', 3.2),
                                      case('relion-5_0_1-altcpu', 0.2)]}]}
    found = dict((run['environ'], values[0][1])
                 for run, values in results.session_records(report))
    assert found == {'relion-3_1_3-plain': 3.2, 'relion-5_0_1-altcpu': 0.2}


def test_a_resized_miniature_has_its_own_history_and_ranking(tmp_path):
    """A run of the miniature at another size (dataset miniature-96x440) is not compared with
    the small miniature's runs, and the ranking puts each size on its own row."""
    from relionbench.results import sidebyside
    lines = [perflog_line(f'2026-11-{day:02d}T01:00:00+00:00', '14.0') for day in range(1, 4)]
    lines.append(perflog_line('2026-11-04T01:00:00+00:00', '60.0').replace(
        '|miniature|', '|miniature-96x440|'))
    write_perflog(tmp_path, lines)
    table = compare.compare(results.load(tmp_path))
    assert set(table[table.metric == 'total_seconds'].status) == {'', compare.NEW}
    side = pd.DataFrame({'dataset': ['miniature', 'miniature', 'miniature-96x440'] * 1,
                         'stage': 'Class2D', 'build': ['a', 'b', 'b'],
                         'variant': 'cpu-plain', 'seconds': [10.0, 8.0, 30.0],
                         '--cpu speed-up': None})
    ranked = sidebyside.ranking(side).set_index('dataset')
    assert ranked.loc['miniature', 'fastest'] == 'b cpu-plain'
    assert ranked.loc['miniature-96x440', 'b cpu-plain'] == 30.0


def test_a_second_report_keeps_the_figures_whose_data_did_not_change(simulated, tmp_path):
    out = tmp_path / 'report'
    report.write(results.load(simulated), out, last=4)
    drawn = {p.name: p.stat().st_mtime_ns for p in (out / 'plots').glob('*.svg')}
    (out / 'plots' / 'scarf_Miniature_Polish_history.svg').unlink()        # one gone
    report.write(results.load(simulated), out, last=4)
    again = {p.name: p.stat().st_mtime_ns for p in (out / 'plots').glob('*.svg')}
    assert again.keys() == drawn.keys()
    assert [n for n in drawn if again[n] != drawn[n]] == ['scarf_Miniature_Polish_history.svg']


def test_a_change_to_the_drawing_code_redraws_the_figures(tmp_path):
    """A report into the folder of an earlier one redraws a figure whose data did not change
    when the code that draws it did: here svgpanels.py, which figures.py writes the history
    panels with, edited in a copy of the package that a second report runs from (panels 260
    pixels wide instead of 250). An edit to a module that draws nothing (summary.py) keeps
    them."""
    lines = [perflog_line(f'2026-11-{day:02d}T01:00:00+00:00', '14.0') for day in range(1, 4)]
    write_perflog(tmp_path / 'runs', lines)
    out = tmp_path / 'report'
    report.write(results.load(tmp_path / 'runs'), out, workers=Workers(1))
    history = out / 'plots' / 'local_Miniature_Class2D_history.svg'
    drawn = history.stat().st_mtime_ns
    width = int(ElementTree.parse(history).getroot().get('width'))
    assert width % 250 == 0
    copy = tmp_path / 'copy' / 'relionbench'
    shutil.copytree(Path(relionbench.__file__).parent, copy,
                    ignore=shutil.ignore_patterns('__pycache__'))

    def edit_and_report(module, old, new):
        path = copy / 'report' / module
        path.write_text(path.read_text().replace(old, new, 1))
        script = ('import relionbench; from relionbench import report, results; '
                  f'assert relionbench.__file__.startswith({str(copy)!r}); '
                  f'report.write(results.load({str(tmp_path / "runs")!r}), {str(out)!r})')
        subprocess.run([sys.executable, '-c', script], check=True, cwd=tmp_path,
                       env={**os.environ, 'PYTHONPATH': str(copy.parent)})

    edit_and_report('summary.py', '"""The report', '"""Edited: the report')
    assert history.stat().st_mtime_ns == drawn              # nothing that draws changed
    edit_and_report('svgpanels.py', 'WIDTH, HEIGHT = 250, 175', 'WIDTH, HEIGHT = 260, 175')
    assert history.stat().st_mtime_ns != drawn
    assert int(ElementTree.parse(history).getroot().get('width')) == width // 250 * 260


def test_the_figures_digest_reads_every_module_that_draws_and_only_those():
    """The code in a figure's digest: figures.py and every module it takes something from,
    directly or through another (svgpanels, colours; outside report/ the change points of
    results.changes, ...); not the page, the tables, the summary or the workers."""
    found = sources.closure(digests.DRAWS)
    assert {'relionbench.report.figures', 'relionbench.report.svgpanels',
            'relionbench.report.colours', 'relionbench.results.changes',
            'relionbench.science.metrics', 'relionbench.data.sizes'} <= found.keys()
    assert not {'relionbench.report', 'relionbench.report.page', 'relionbench.report.tables',
                'relionbench.report.summary', 'relionbench.report.workers'} & found.keys()
    assert all(path.is_file() for path in found.values())


def test_a_case_whose_fixture_failed_says_which_and_why():
    """A stage that ended fail_deps carries the failed fixture's name and first reason line
    (ReFrame gives it none), so compare and the alert say what stopped it."""
    def case(name, result, **more):
        return {'display_name': name, 'unique_name': name.split()[0], 'system': 'local',
                'partition': 'default', 'environ': 'relion-3_1_3-plain', 'result': result,
                'uuid': name, 'jobid': None, 'perfvalues': None, **more}
    needs = [['Calibration', 'local:default', 'relion-3_1_3-plain'],
             ['MiniatureData', 'local:default', 'relion-3_1_3-plain']]
    report = {'session_info': {'uuid': 's', 'cmdline': 'reframe -r'}, 'runs': [{'testcases': [
        case('Calibration ~local:default', 'fail',
             fail_reason='sanity error: calibration.json was not written\nmore'),
        case('MiniatureData ~local', 'pass'),
        case('Miniature %case=Extract/cpu-plain/1x2', 'fail_deps', dependencies_actual=needs)]}]}
    (run, _), = results.session_records(report)
    assert run['fail_reason'] == \
        'Calibration failed: sanity error: calibration.json was not written'
