"""``relionbench pipeline``: a GitLab child pipeline of one job per workflow stage and build
(relionbench.run.pipeline), each job selecting exactly its cases; and the report job's alert
over every session since the pipeline began (compare --since)."""

import shlex

import pandas as pd
import yaml
from conftest import reframe
from test_alert_run import relionbench

from relionbench.results import Results, compare
from relionbench.run import pipeline


def test_one_job_per_stage_and_build_each_selecting_its_cases(tmp_path):
    done = relionbench('pipeline', '--system', 'scarf', '--tag', 'scarf-login', '--',
                       '-n', 'Class2D', '-S', 'time_tolerance=0.2')
    assert done.returncode == 0, done.stderr
    child = yaml.safe_load(done.stdout)
    jobs = {name: job for name, job in child.items() if name not in ('stages', 'default')}
    listed = pipeline.cases('scarf', ['-n', 'Class2D'])
    assert list(jobs) == [f'{c} {s} {b}' for c, s, b in listed] + ['report']
    assert {'Aldolase Class2D relion-cuda', 'Miniature Class2D relion-gnu'} <= set(jobs)
    assert child['default'] == {'tags': ['scarf-login']}
    assert jobs['report']['when'] == 'always'
    assert jobs['report']['script'] == ['scripts/nightly --report-only scarf']
    command = shlex.split(jobs['Aldolase Class2D relion-cuda']['script'][0])
    assert command[:3] == ['scripts/nightly', '--run-only', 'scarf']
    assert command[-3:] == ['-S', 'time_tolerance=0.2', '--report-junit=junit.xml']
    # the job's own selection, given to reframe, lists exactly its cases and build
    picked = reframe('-lC', '--system', 'scarf', *command[3:-1], runs=tmp_path / 'runs')
    cases = pipeline.LISTED.findall(picked.stdout)
    assert sorted(case for _, case, _, _ in cases) == sorted(
        listed[('Aldolase', 'Class2D', 'relion-cuda')]) and len(cases) == 5
    assert {build for *_, build in cases} == {'relion-cuda'}


def test_a_pipeline_says_no_in_one_line():
    unknown = relionbench('pipeline', '--system', 'mycluter')
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("relionbench pipeline: --system 'mycluter'")
    assert 'scarf' in unknown.stderr and len(unknown.stderr.splitlines()) == 1
    nothing = relionbench('pipeline', '--system', 'scarf', '--', '-n', 'NoSuchStage')
    assert nothing.returncode == 1 and 'reframe selects no check on scarf' in nothing.stderr


def test_the_settings_go_to_every_job_and_the_selection_picks_the_jobs():
    options = ['-n', 'Class2D', '-S', 'a=1', '-Sb=2', '--setvar=c=3', '-p', 'gnu', '-x', 'S']
    assert pipeline.settings(options) == ['-S', 'a=1', '-Sb=2', '--setvar=c=3']


def test_the_report_job_alerts_on_every_session_since_the_pipeline_began():
    """Two sessions of one pipeline (one job each): the alert names both failures; nothing
    since the pipeline began: the benchmark did not run."""
    def run(n, session, hour, result):
        return {'run': n, 'session': session, 'system': 'scarf', 'partition': 'cpu',
                'environ': f'b{n}', 'check': 'Miniature', 'name': 'Miniature',
                'case': 'Extract/cpu-plain/1x2', 'stage': 'Extract', 'variant': 'cpu-plain',
                'scale': '1x2', 'dataset_id': 'miniature', 'result': result,
                'fail_phase': 'sanity', 'fail_reason': f'broken {n}', 'suite_commit': 'c',
                'relion_version': '5.0.1', 'relion_build': 'ALTCPU',
                'time': pd.Timestamp(f'2026-12-06T0{hour}:00Z')}
    runs = pd.DataFrame([run(1, 'a', 1, 'fail'), run(2, 'b', 2, 'fail')])
    values = pd.DataFrame(columns=['run', 'metric', 'value', 'metric_result'])
    found = Results(runs, values)
    table = compare.compare(found)
    since = pd.Timestamp('2026-12-06T00:30Z')
    subject, text = compare.alert_message(found, table, 'scarf', since)
    assert '2 session(s) since 2026-12-06 00:30 UTC' in text
    assert 'b1: (sanity failed) broken 1' in text and 'b2: (sanity failed) broken 2' in text
    assert compare.alert_message(found, table, 'scarf')[1].count('broken') == 1   # newest only
    late = pd.Timestamp('2026-12-06T03:00Z')
    subject, text = compare.alert_message(found, table, 'scarf', late)
    assert subject == 'relionbench: the benchmark did not run on scarf'
    assert text.startswith('No result since 2026-12-06 03:00 UTC')


def test_since_takes_an_iso_time_or_says_no():
    done = relionbench('compare', '--since', 'yesterday')
    assert done.returncode == 2 and "'yesterday' is not an ISO 8601 time" in done.stderr
