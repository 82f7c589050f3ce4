"""Sites' own job scripts judged by Slurm itself: the pseudo-cluster shaped like each declared
system (``up --like SYSTEM``: its partitions, node features, cores and GPUs per node), every
job script of that system's dry run accepted by ``sbatch --test-only``, and a miniature stage
run for real through the system's access options (ci-slurm mirrors the shaped system)."""

import csv
import re
import subprocess
from collections import Counter

import pytest
from conftest import CLUSTER, CLUSTER_STATE, reframe
from test_faults import perflog

STATE = CLUSTER_STATE
SCRIPTS = {'scarf': 131, 'pearl': 51, 'clx': 49, 'icx': 49}
"""How many job scripts each system's dry run writes (tests/test_dryrun.py counts them by
build and stage)."""
ACCESS = {'scarf': {'cpu': ['--partition=scarf', '--constraint=scarf17', '--exclusive'],
                    'gpu': ['--partition=gpu', '--exclusive', '--gres=gpu:1']},
          'pearl': {'dgx2': ['--exclusive', '--gres=gpu:1']},
          'clx': {'cpu': ['--exclusive']},
          'icx': {'cpu': ['--exclusive']}}
"""The #SBATCH options the miniature MotionCorr job of each ReFrame partition must carry."""
EIGHT_GPUS = '''
import reframe as rfm
from reframe.core.builtins import fixture, parameter

from relionbench.run.fixtures import MiniatureData
from relionbench.run.miniature import MiniatureStage
from relionbench.workflows import GPU, MINIATURE, Case


@rfm.simple_test
class EightGPUs(MiniatureStage):
    workflow = MINIATURE
    case = parameter([Case(MINIATURE.stage('Refine3D_Local'), GPU, '8gpu')],
                     fmt=lambda case: str(case))
    data = fixture(MiniatureData, scope='session')
'''
"""The miniature's Refine3D_Local at the published 8-GPU scale (its own scale is 1 GPU)."""
GPU_NODES = {'gpu-1', 'gpu-2', 'gpu-3', 'gpu-4'}


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
        system, shaped, dry_runs, tmp_path):
    said = shaped(system)
    assert f'like {system}' in said
    scripts = sorted((dry_runs[system][0] / 'stage').glob(f'*/{system}/*/*/*/rfm_job.sh'))
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

    # ci-slurm now mirrors the system: a stage runs for real through its access options;
    # on scarf also Refine3D_Local at 8 GPUs, as 2 nodes of 4 (21 ranks, RELION on the CPU)
    runs, eight = tmp_path / 'runs', tmp_path / 'eight.py'
    eight.write_text(EIGHT_GPUS)
    extra = ('-c', str(eight), '-n', '^EightGPUs') if system == 'scarf' else ()
    result = reframe('-r', '--system', 'ci-slurm', '-n', '^Miniature.*MotionCorr/', *extra,
                     runs=runs, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    if system == 'scarf':
        job = next(runs.glob('output/*/ci-slurm/gpu/*/EightGPUs_*'))
        lines = (job / 'rfm_job.sh').read_text().splitlines()
        for option in ('--ntasks=21', '--ntasks-per-node=11', '--gres=gpu:4'):
            assert f'#SBATCH {option}' in lines, lines[:12]
        with open(job / 'rb_steps' / 'placement.tsv') as rows:
            refine = [r for r in csv.DictReader(rows, delimiter='\t') if r['step'] == 'refine']
        per_node = Counter(r['node'] for r in refine)
        # two of the GPU nodes (MotionCorr's job may hold one: --exclusive), 11 + 10 ranks
        assert sorted(per_node.values()) == [10, 11] and set(per_node) < GPU_NODES, per_node
        assert all(r['node'] == r['node_by_relion'] for r in refine)
    for partition, options in ACCESS[system].items():
        script = next(runs.glob(f'output/*/ci-slurm/{partition}/*/Miniature_*/rfm_job.sh'))
        lines = script.read_text().splitlines()
        assert all(f'#SBATCH {o}' in lines for o in options), (options, lines[:12])
        assert '|pass|MotionCorr/' in perflog(runs, 'ci-slurm', partition)
