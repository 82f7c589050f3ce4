"""relionbench tune on a real miniature stage: the profile, the trials through ReFrame, the
recommendation; and a bad stage is one line naming it."""

import subprocess
import sys

import pytest


def tune(*args, tmp_path):
    return subprocess.run([sys.executable, '-m', 'relionbench.cli', 'tune', *args,
                           '--runs', str(tmp_path / 'runs')],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.requires('relion')
def test_tune_predicts_each_layout_from_its_trial_and_recommends_one(tmp_path):
    result = tune('Class3D', '--workflow', 'MiniRibosome', '--layouts', '1x2,3x1',
                  tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.strip().startswith(('1x2', '3x1'))}
    assert set(rows) == {'1x2', '3x1'} and rows['1x2'][1] == '(published)'
    assert all(float(rows[k][-3]) > 0 for k in rows)           # predicted s, +-, linear s
    assert 'recommended: ' in result.stdout and 'published 1x2: ' in result.stdout
    # each trial ran 1 iteration (of 3) with its own layout, through ReFrame
    scripts = [p.read_text() for p in (tmp_path / 'runs').glob('output/*/local/*/*/*/rfm_job.sh')]
    assert any('mpirun -np 3' in s and 'relion_refine_mpi' in s and '--iter 1 ' in s
               for s in scripts)


def test_tune_refuses_a_refinement_in_one_line(tmp_path):
    result = tune('Refine3D_Local', tmp_path=tmp_path)
    assert result.returncode == 1 and result.stdout == ''
    assert result.stderr.strip().startswith('relionbench tune: Miniature Refine3D_Local has no '
                                            'relion_refine step with --iter')
    assert len(result.stderr.strip().splitlines()) == 1
