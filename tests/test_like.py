"""Sites' own job scripts judged by Slurm itself: the pseudo-cluster shaped like each declared
system (``up --like SYSTEM``: its partitions, node features, cores and GPUs per node), every
job script of that system's dry run accepted by ``sbatch --test-only``, and a miniature stage
run for real through the system's access options (ci-slurm mirrors the shaped system)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import CLUSTER, reframe
from test_faults import perflog

STATE = Path(os.environ.get('RELIONBENCH_SLURM_DIR', '/tmp/relionbench-slurm'))
SCRIPTS = {'scarf': 137, 'pearl': 52, 'clx': 52, 'icx': 52}
"""How many job scripts each system's dry run writes (tests/test_dryrun.py counts them by
build and stage)."""
ACCESS = {'scarf': {'cpu': ['--partition=scarf', '--constraint=scarf17', '--exclusive'],
                    'gpu': ['--partition=gpu', '--exclusive', '--gres=gpu:1']},
          'pearl': {'dgx2': ['--exclusive', '--gres=gpu:1']},
          'clx': {'cpu': ['--exclusive']},
          'icx': {'cpu': ['--exclusive']}}
"""The #SBATCH options the miniature MotionCorr job of each ReFrame partition must carry."""


def cluster(*args):
    done = subprocess.run([str(CLUSTER), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope='module')
def shaped():
    """A function shaping the cluster like a system; the cluster it found comes back after."""
    nodes = (STATE / 'nodes').read_text().strip() if (STATE / 'nodes').exists() else '1'
    like = (STATE / 'like').read_text().strip() if (STATE / 'like').exists() else ''

    def shape(system):
        cluster('down')
        return cluster('up', '--like', system)

    yield shape
    cluster('down')
    cluster('up', *(['--like', like] if like else ['--nodes', nodes]))


def judged(script):
    """(accepted, what sbatch --test-only said) for one job script."""
    done = subprocess.run(['sbatch', '--test-only', str(script)], cwd=script.parent,
                          capture_output=True, text=True)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


@pytest.mark.requires('relion', 'slurm')
@pytest.mark.parametrize('system', sorted(SCRIPTS))
def test_slurm_shaped_like_a_system_accepts_its_job_scripts_and_runs_a_stage_through_them(
        system, shaped, tmp_path):
    said = shaped(system)
    assert f'like {system}' in said
    dry = reframe('--dry-run', '--system', system, runs=tmp_path / 'dry')
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr
    scripts = sorted((tmp_path / 'dry' / 'stage').glob(f'*/{system}/*/*/*/rfm_job.sh'))
    assert len(scripts) == SCRIPTS[system]
    answers = {s: judged(s) for s in scripts}
    refused = {str(s): why for s, (ok, why) in answers.items() if not ok}
    assert not refused, refused
    if system == 'scarf':
        # the 8-GPU layout is 2 nodes of 4 GPUs; a node has no fifth GPU: Slurm refuses it
        eight = next(s for s in scripts if '--gres=gpu:4' in s.read_text()
                     and '--ntasks=21\n' in s.read_text())
        assert re.search(r'on nodes gpu-\[1-2\]', answers[eight][1]), answers[eight]
        (tmp_path / 'five.sh').write_text(eight.read_text().replace('gpu:4', 'gpu:5'))
        ok, why = judged(tmp_path / 'five.sh')
        assert not ok and 'Requested node configuration is not available' in why

    # ci-slurm now mirrors the system: a stage runs for real through its access options
    runs = tmp_path / 'runs'
    result = reframe('-r', '--system', 'ci-slurm', '-n', '^Miniature.*MotionCorr/', runs=runs)
    assert result.returncode == 0, result.stdout[-4000:]
    for partition, options in ACCESS[system].items():
        script = next(runs.glob(f'output/*/ci-slurm/{partition}/*/Miniature_*/rfm_job.sh'))
        lines = script.read_text().splitlines()
        assert all(f'#SBATCH {o}' in lines for o in options), (options, lines[:12])
        assert '|pass|MotionCorr/' in perflog(runs, 'ci-slurm', partition)
