"""Real ReFrame runs on the local system with the Debian RELION: failures are never passes."""

import os
import shutil
import signal
import subprocess
import time

import pytest
from conftest import ROOT, reframe, reframe_command, reframe_env

from relionbench import results
from relionbench.cli import main

pytestmark = pytest.mark.requires('relion')

CHECK = ['-n', '^Ribosome.*Class2D/cpu-plain', '-r', '--system', 'local']


def test_a_failing_relion_step_fails_the_check_and_names_it(tmp_path, runs):
    # images the particle STAR points at do not exist: relion_refine_mpi exits 1
    (tmp_path / 'Particles').mkdir()
    (tmp_path / 'Particles' / 'shiny_2sets.star').write_text(
        'data_\nloop_\n_rlnImageName #1\n1@missing.mrcs\n')
    result = reframe(*CHECK, '-S', f'dataset_dir={tmp_path}', runs=runs, timeout=300)
    assert result.returncode != 0
    assert 'FAILED' in result.stdout and 'PASSED ] Ran' not in result.stdout
    assert 'step 1 class2d (relion_refine_mpi) exited with code 1' in result.stdout
    assert 'mpirun -np 23' in result.stdout          # the published 23 x 4 layout
    perflogs = (runs / 'perflogs').rglob('*.log')
    assert not any('class2d_seconds' in log.read_text() for log in perflogs)


def test_an_absent_dataset_skips_with_fetch_instructions(tmp_path, runs):
    result = reframe(*CHECK, '-S', f'dataset_dir={tmp_path}/none', runs=runs)
    assert result.returncode == 0
    assert 'SKIP' in result.stdout and '1 skipped' in result.stdout
    assert 'scripts/fetch-dataset relion-benchmark --dest' in result.stdout


def test_reframe_s_prefix_holds_everything_the_run_writes(tmp_path, runs):
    """``--prefix DIR``: stage and output folders, perflogs, reports and the results
    database under DIR, nothing under RELIONBENCH_RUNS; ``-s`` and ``-o`` still win."""
    prefix = tmp_path / 'prefix'
    result = reframe('--prefix', str(prefix), '-o', str(tmp_path / 'out'), '-n',
                     '^Miniature(?!Chain).*MotionCorr', '-r', '--system', 'local', runs=runs)
    assert result.returncode == 0, result.stdout[-3000:]
    assert {p.name for p in prefix.iterdir()} >= {'stage', 'perflogs', 'reports', 'results.db'}
    assert list((tmp_path / 'out').glob('local/default/*/Miniature_*/rfm_job.sh'))  # as given
    assert not (prefix / 'output').exists()
    assert sorted(p.name for p in runs.iterdir()) == ['tmp']     # conftest's TMPDIR only


def test_every_attempt_of_a_retried_case_stays_in_the_history(tmp_path, runs):
    """Extract made 3 s slower misses its time reference twice (--max-retries 1): both
    attempts are runs of the one session, read from the database once each."""
    slow = tmp_path / 'slow'
    slow.mkdir()
    (slow / 'relion_preprocess').write_text(
        f'#!/bin/sh\nsleep 3\nexec {shutil.which("relion_preprocess")} "$@"\n')
    (slow / 'relion_preprocess').chmod(0o755)
    result = reframe('-n', '^Miniature.*Extract/', '-r', '--system', 'local',
                     '--max-retries', '1', runs=runs,
                     env={'PATH': f'{slow}:{os.environ["PATH"]}'})
    assert result.returncode != 0 and 'Retrying' in result.stdout, result.stdout[-2000:]
    for source in ('db', 'auto'):
        found = results.load(runs, source).runs
        attempts = found[found.case == 'Extract/cpu-plain/1x2']
        assert len(attempts) == 2 and attempts.session.nunique() == 1, (source, attempts)
        assert set(attempts.result) == {'fail'}


def test_a_real_history_of_every_kind_of_session_is_read_and_judged(tmp_path, runs):
    """Real sessions of the miniature's Extract: one that passed, one with --reruns 1, a dry
    run, one whose fixture failed (fail_deps) and one aborted by SIGTERM while RELION ran:
    the report and compare read them without a crash, every stored run is in the report,
    the dry run is not a run, and compare exits 1 on the aborted latest."""
    extract = ('-n', '^Miniature.*Extract/', '--system', 'local')
    for more in (('-r',), ('-r', '--reruns', '1'), ('--dry-run',)):
        done = reframe(*extract, *more, runs=runs)
        assert done.returncode == 0, done.stdout[-3000:]
    failed = reframe(*extract, '-r', '-S', 'Calibration.speed_from=/nonexistent', runs=runs)
    assert failed.returncode != 0 and '1 skipped' in failed.stdout, failed.stdout[-3000:]
    started, slow = tmp_path / 'started', tmp_path / 'slow'
    slow.mkdir()
    (slow / 'relion_preprocess').write_text(f'#!/bin/sh\ntouch {started}\nsleep 120\n')
    (slow / 'relion_preprocess').chmod(0o755)
    env = reframe_env(runs, {'PATH': f'{slow}:{os.environ["PATH"]}'})
    cut = subprocess.Popen(reframe_command(*extract, '-r', runs=runs), cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(600):
        if started.exists() or cut.poll() is not None:
            break
        time.sleep(0.5)
    cut.send_signal(signal.SIGTERM)
    said = cut.communicate(timeout=120)[0]
    assert 'ABORT' in said and 'received signal 15' in said, said[-3000:]

    found = results.load(runs).runs
    assert list(found.result) == ['pass', 'pass', 'pass', 'fail_deps', 'abort']
    assert found.session.nunique() == 4                 # the dry run stored no run
    assert 'Calibration failed' in found.fail_reason.iloc[3]
    report = tmp_path / 'report'
    assert main(['report', '--runs', str(runs), '--out', str(report)]) == 0
    shown = (report / 'csv' / 'local_Miniature_Extract.csv').read_text().splitlines()[0]
    assert len(shown.split(',')) == 1 + 5               # a column per run
    assert main(['compare', '--runs', str(runs)]) == 1
