"""Two real miniature runs, the second with a slowed-down RELION program: the report is
written, compare flags the regression, and the alert reaches a webhook and an SMTP server
served here on 127.0.0.1."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import default_build, reframe

from relionbench import results

relion = pytest.mark.requires('relion')

STAGE = ['-n', '^Miniature.*MotionCorr/', '-r', '--system', 'local']


class Hook(BaseHTTPRequestHandler):
    posted = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        Hook.posted.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Mailbox:
    messages = []

    async def handle_DATA(self, server, session, envelope):
        Mailbox.messages.append(envelope.content.decode())
        return '250 OK'


@pytest.fixture(scope='module')
def two_runs(tmp_path_factory):
    """A normal run of the MotionCorr stage, then one where the program sleeps 4 s first."""
    runs = tmp_path_factory.mktemp('runs')
    slow = tmp_path_factory.mktemp('slow')
    wrapper = slow / 'relion_run_motioncorr'
    wrapper.write_text(f'#!/bin/sh\nsleep 4\nexec {shutil.which("relion_run_motioncorr")} "$@"\n')
    wrapper.chmod(0o755)
    first = reframe(*STAGE, runs=runs)
    assert first.returncode == 0, first.stdout[-3000:]
    second = reframe(*STAGE, runs=runs, env={'PATH': f'{slow}:{os.environ["PATH"]}'})
    assert second.returncode != 0 and 'FAILED' in second.stdout    # the time reference
    return runs


def relionbench(*args, env=None):
    return subprocess.run([sys.executable, '-m', 'relionbench.cli', *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)


@relion
def test_report_after_two_runs(two_runs, tmp_path):
    done = relionbench('report', '--runs', str(two_runs), '--out', str(tmp_path))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / 'index.html').read_text()
    assert 'Miniature on local' in page and 'FAILED (performance)' in page
    assert '<tr class="MISSED">' in page                # the slowed run leads the summary
    assert '<table class="bars">' in page        # MotionCorr's step times against bands
    history = tmp_path / 'plots' / 'local_Miniature_MotionCorr_history.svg'
    assert '<polyline' in history.read_text()


@relion
def test_slowdown_alerts_a_webhook_and_smtp(two_runs):
    server = HTTPServer(('127.0.0.1', 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mail = Controller(Mailbox(), hostname='127.0.0.1', port=8025 + os.getpid() % 1000)
    mail.start()
    try:
        env = {'RELIONBENCH_WEBHOOK_URL': f'http://127.0.0.1:{server.server_port}/hooks/T0K3N',
               'RELIONBENCH_SMTP_HOST': '127.0.0.1', 'RELIONBENCH_SMTP_PORT': str(mail.port),
               'RELIONBENCH_SMTP_TO': 'facility@example.org'}
        done = relionbench('compare', '--runs', str(two_runs), '--alert', env=env)
    finally:
        server.shutdown()
        mail.stop()
    assert done.returncode == 1                        # something regressed
    lines = [line for line in done.stdout.splitlines() if 'motioncorr_seconds' in line]
    assert len(lines) == 1 and 'REGRESSED' in lines[0]
    assert 'alert: webhook delivered (HTTP 200)' in done.stderr
    assert 'alert: email delivered to 1 recipient' in done.stderr
    assert 'T0K3N' not in done.stdout + done.stderr
    assert len(Hook.posted) == 1                       # one message per run
    text = Hook.posted[0]['text']
    assert ('Miniature %case=MotionCorr/cpu-plain/1x2 on local:default with '
            f'{default_build()}: motioncorr_seconds') \
        in text                                        # the missed reference
    assert (f'Miniature MotionCorr/cpu-plain/1x2 on local with {default_build()}: '
            'motioncorr_seconds') in text
    assert 'REGRESSED' in text and ' s (+' in text     # the figure, in percent
    assert len(Mailbox.messages) == 1 and 'motioncorr_seconds' in Mailbox.messages[0]


@relion
def test_nightly_keeps_the_benchmark_result_when_the_alert_cannot_be_sent(tmp_path):
    """scripts/nightly with a slow extraction and the webhook down: the report is written, the
    alert is tried and reported, and the exit status stays reframe's."""
    from conftest import ROOT
    runs, slow = tmp_path / 'runs', tmp_path / 'slow'
    (runs / 'tmp').mkdir(parents=True)
    slow.mkdir()
    (slow / 'relion_preprocess').write_text(
        f'#!/bin/sh\nsleep 3\nexec {shutil.which("relion_preprocess")} "$@"\n')
    (slow / 'relion_preprocess').chmod(0o755)
    env = {**os.environ, 'RELIONBENCH_RUNS': str(runs), 'TMPDIR': str(runs / 'tmp'),
           'RELIONBENCH_VENV': sys.prefix, 'PATH': f'{slow}:{os.environ["PATH"]}',
           'RELIONBENCH_WEBHOOK_URL': 'http://127.0.0.1:9/hooks/S3CRET'}
    done = subprocess.run([str(ROOT / 'scripts' / 'nightly'), 'local', '-n',
                           '^Miniature.*Extract/'], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]   # reframe's
    assert 'FAILED' in done.stdout and 'extract_seconds' in done.stdout
    assert 'alert: webhook gave up after 3 attempts' in done.stderr
    assert (runs / 'report' / 'index.html').exists() and (runs / 'results.db').exists()
    assert 'S3CRET' not in done.stdout + done.stderr


@relion
def test_reframe_performance_compare_reads_two_real_sessions(two_runs):
    """ReFrame's own --performance-compare on the suite's database: the second session's
    MotionCorr took about 4 s longer than the first's."""
    from conftest import REFRAME, ROOT
    db = sqlite3.connect(two_runs / 'results.db')
    first, second = [row[0] for row in db.execute(
        'SELECT uuid FROM sessions ORDER BY session_start_unix')]
    env = {**os.environ, 'RFM_CONFIG_FILES': str(ROOT / 'config' / 'settings.py'),
           'RELIONBENCH_RUNS': str(two_runs), 'TMPDIR': str(two_runs / 'tmp')}
    done = subprocess.run([str(REFRAME), f'--performance-compare={first}/{second}/mean:/'],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if 'motioncorr_seconds' in line)
    first, second = _two_numbers(c.strip() for c in re.split('[|\u2502]', row))
    assert second - first > 3, row          # lhs: the first session, rhs: the second


def _number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _two_numbers(cells):
    found = [float(c) for c in cells if _number(c)]
    return found[0], found[1]


def test_gitlab_example_runs_the_nightly_script():
    import yaml
    from conftest import ROOT
    pipeline = yaml.safe_load((ROOT / 'examples' / 'gitlab-ci.yml').read_text())
    assert pipeline['nightly']['script'][-1] == \
        'scripts/nightly "$RELIONBENCH_SYSTEM" "${options[@]}"'
    assert pipeline['variables']['RELIONBENCH_SYSTEM'] == 'scarf'
    assert pipeline['nightly']['artifacts']['when'] == 'always'


@pytest.fixture
def webhook():
    """A webhook on 127.0.0.1: its URL, and the messages posted to it."""
    Hook.posted = []
    server = HTTPServer(('127.0.0.1', 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_port}/hooks/T0K3N', Hook.posted
    server.shutdown()


def nightly(tmp_path, url, *args, env=None):
    from conftest import ROOT
    runs = tmp_path / 'runs'
    (runs / 'tmp').mkdir(parents=True, exist_ok=True)
    env = {**os.environ, 'RELIONBENCH_RUNS': str(runs), 'TMPDIR': str(runs / 'tmp'),
           'RELIONBENCH_VENV': sys.prefix, 'RELIONBENCH_WEBHOOK_URL': url, **(env or {})}
    return subprocess.run([str(ROOT / 'scripts' / 'nightly'), *args], env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_nightly_whose_reframe_cannot_start_alerts_and_fails(tmp_path, webhook):
    url, posted = webhook
    done = nightly(tmp_path, url, 'local', '-S', 'time_tolerance=-1')
    assert done.returncode == 3, done.stderr[-2000:]
    assert 'nightly: the benchmark did not run on local: reframe exited 1 without a session' \
        in done.stderr
    assert len(posted) == 1 and 'the benchmark did not run on local' in posted[0]['text']
    assert '-S time_tolerance=-1: give a relative tolerance' in posted[0]['text']
    assert 'Report: ' in posted[0]['text']


def test_a_second_nightly_says_whose_lock_it_met(tmp_path, webhook):
    import fcntl
    url, posted = webhook
    (tmp_path / 'runs').mkdir()
    lock = tmp_path / 'runs' / 'nightly.lock'
    with open(lock, 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        lock.write_text('pid 4242 on login1 since 2026-12-06 01:00 UTC\n')
        done = nightly(tmp_path, url, 'local')
    assert done.returncode == 3
    said = 'another nightly still runs (pid 4242 on login1 since 2026-12-06 01:00 UTC)'
    assert said in done.stderr and said in posted[0]['text']


@pytest.mark.requires('relion', 'slurm')
def test_a_nightly_with_the_scheduler_down_says_the_benchmark_did_not_run(tmp_path, webhook):
    """Slurm's controller unreachable (a configuration naming a port where none listens):
    every job fails to submit, and the alert says the benchmark did not run."""
    url, posted = webhook
    conf = tmp_path / 'slurm.conf'
    conf.write_text(Path('/etc/slurm/slurm.conf').read_text() + 'SlurmctldPort=9\n')
    done = nightly(tmp_path, url, 'ci-slurm:cpu', '-n', '^Miniature.*Extract/cpu-plain',
                   env={'SLURM_CONF': str(conf)})
    assert done.returncode != 0, done.stdout[-2000:]
    assert len(posted) == 1, done.stderr[-2000:]
    assert 'the benchmark did not run on ci-slurm' in posted[0]['text'], posted[0]['text']


@pytest.fixture(scope='module')
def wheels(tmp_path_factory):
    """The suite's pinned packages as a folder of wheels, as a login node without network
    would get them: $RELIONBENCH_WHEELS, else downloaded here."""
    from conftest import ROOT
    if os.environ.get('RELIONBENCH_WHEELS'):
        return Path(os.environ['RELIONBENCH_WHEELS'])
    folder = tmp_path_factory.mktemp('wheels')
    done = subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--require-hashes',
                           '-r', str(ROOT / 'requirements' / 'suite.txt'), '-d', str(folder)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


def gitlab_project(folder, example, **variables):
    """The checkout as a clone of it would be (tracked and new files, nothing ignored: no
    .venv), in a repository of its own, with ``example`` (examples/) as its .gitlab-ci.yml
    and ``variables`` set in it, as a site sets its copy's."""
    import yaml
    from conftest import ROOT
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others',
                             '--exclude-standard'], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.split('\0')
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    pipeline = yaml.safe_load((ROOT / 'examples' / example).read_text())
    pipeline['variables'].update({k: str(v) for k, v in variables.items()})
    (folder / '.gitlab-ci.yml').write_text(yaml.safe_dump(pipeline, sort_keys=False))
    git = ['git', '-c', 'user.name=ci', '-c', 'user.email=ci@127.0.0.1']
    for command in (['init', '-q'], ['add', '-A'], ['commit', '-qm', 'the suite']):
        subprocess.run([*git, *command], cwd=folder, check=True, capture_output=True)
    return folder


def gitlab_ci_local(project, *args):
    """Run the project's pipeline (or the jobs in ``args``) as a scheduled one, with
    gitlab-ci-local's shell executor, each job in a folder of its own as a runner's
    concurrent jobs are; the jobs' environment is the runner's, less this test's virtualenv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('RELIONBENCH_VENV', 'VIRTUAL_ENV', 'RFM_CONFIG_FILES')}
    return subprocess.run(['gitlab-ci-local', '--no-color', '--shell-isolation',
                           '--variable=CI_PIPELINE_SOURCE=schedule',
                           '--ignore-predefined-vars=CI_PIPELINE_SOURCE', *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=900)


def site(tmp_path, url, wheels):
    """The variables a site sets: ci-slurm's cpu partition, the miniature's Extract, results
    kept in tmp_path/runs, the pinned suite from ``wheels`` with pip's index unreachable."""
    runs = tmp_path / 'runs'
    (runs / 'tmp').mkdir(parents=True)
    return runs, dict(RELIONBENCH_SYSTEM='ci-slurm:cpu', RELIONBENCH_RUNS=runs,
                      RELIONBENCH_OPTIONS='-n ^Miniature.*Extract/cpu-plain',
                      RELIONBENCH_WHEELS=wheels, PIP_INDEX_URL='http://127.0.0.1:9/simple',
                      RELIONBENCH_WEBHOOK_URL=url, TMPDIR=runs / 'tmp')


def offline_suite(venv):
    """The job's .venv holds the suite and not its tests' extras."""
    return (venv / 'bin' / 'reframe').exists() and not (venv / 'bin' / 'pytest').exists()


@pytest.mark.requires('relion', 'slurm', 'gitlab')
def test_the_gitlab_nightly_runs_under_a_local_runner_against_the_cluster(tmp_path, webhook,
                                                                          wheels):
    """examples/gitlab-ci.yml, scheduled, under gitlab-ci-local's shell executor: the nightly
    job installs the pinned suite offline (pip's index unreachable) into the project's .venv,
    runs the miniature's Extract through the Slurm pseudo-cluster with every build, keeps the
    history in RELIONBENCH_RUNS, and the pages job publishes the report. A second pipeline
    that meets the first's lock fails, and its alert says so."""
    url, posted = webhook
    runs, variables = site(tmp_path, url, wheels)
    project = gitlab_project(tmp_path / 'project', 'gitlab-ci.yml', **variables)
    done = gitlab_ci_local(project)
    said = done.stdout + done.stderr
    assert done.returncode == 0 and 'PASS  nightly' in said and 'PASS  pages' in said, said[-4000:]
    assert 'could not log performance data' not in said
    assert offline_suite(project / '.gitlab-ci-local' / 'builds' / 'nightly' / '.venv')
    found = results.load(runs)
    assert set(found.runs.stage) == {'Extract'} and set(found.runs.result) == {'pass'}
    assert len(found.runs) == len(set(found.runs.environ)) >= 1    # each build, once
    assert (runs / 'perflogs' / 'ci-slurm' / 'cpu' / 'fixtures' / 'Calibration.log').exists()
    published = project / '.gitlab-ci-local' / 'artifacts' / 'pages' / 'public' / 'index.html'
    assert 'Extract' in published.read_text()
    assert posted == []                                 # no reference missed: nothing to say

    lock = runs / 'nightly.lock'
    import fcntl
    with open(lock, 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        lock.write_text('pid 4242 on login1 since 2026-12-06 01:00 UTC\n')
        again = gitlab_ci_local(project, 'nightly')
    assert again.returncode != 0 and 'FAIL  nightly' in again.stdout, again.stdout[-3000:]
    assert posted and 'another nightly still runs (pid 4242 on login1' in posted[0]['text'], \
        again.stdout[-3000:]


@pytest.mark.requires('relion', 'slurm', 'gitlab')
def test_the_gitlab_pipeline_of_one_job_per_stage_and_build_runs(tmp_path, webhook, wheels):
    """examples/gitlab-ci-stages.yml under gitlab-ci-local: the plan job writes the child
    pipeline (relionbench pipeline), the trigger runs it: one job per build of the miniature's
    Extract, each in a folder of its own with the pinned suite installed offline, each its
    own reframe session through Slurm with its JUnit report; then the report job writes the
    report and compares every session since the pipeline began."""
    import yaml
    url, posted = webhook
    runs, variables = site(tmp_path, url, wheels)
    project = gitlab_project(tmp_path / 'project', 'gitlab-ci-stages.yml', **variables)
    done = gitlab_ci_local(project)
    said = done.stdout + done.stderr
    assert done.returncode == 0 and 'PASS  nightly' in said, said[-4000:]
    child = yaml.safe_load((project / '.gitlab-ci-local' / 'artifacts' / 'plan' /
                            'child.yml').read_text())
    jobs = [name for name in child if name.startswith('Miniature Extract ')]
    found = results.load(runs)
    assert len(jobs) == len(set(found.runs.environ)) == found.runs.session.nunique() >= 1
    assert set(found.runs.result) == {'pass'}
    for job in jobs:
        assert f'PASS  [nightly] -> {job}' in said
        folder = project / '.gitlab-ci-local' / 'builds' / job.replace(' ', 'IA')
        assert offline_suite(folder / '.venv')
        assert 'Miniature %case=Extract/cpu-plain/1x2' in (folder / 'junit.xml').read_text()
    assert 'PASS  [nightly] -> report' in said and 'alert: nothing to report' in said
    assert (project / '.gitlab-ci-local' / 'builds' / 'report' / 'report' / 'index.html').exists()
    assert posted == []


def test_a_plan_that_cannot_list_the_checks_alerts_and_fails(tmp_path, webhook):
    """scripts/nightly --pipeline (the plan job of gitlab-ci-stages.yml) with a system that
    does not exist: no child pipeline, and the alert says the benchmark did not run."""
    url, posted = webhook
    done = nightly(tmp_path, url, '--pipeline', str(tmp_path / 'child.yml'), 'mycluter')
    assert done.returncode == 3 and not (tmp_path / 'child.yml').exists()
    assert 'the benchmark did not run on mycluter' in posted[0]['text']
    assert "--system 'mycluter'" in posted[0]['text'], posted[0]['text']
