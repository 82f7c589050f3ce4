"""The layout a job asked for is the layout it got: every rank's CPUs and GPUs against its
threads (relionbench.run.layouts.misfit), on a pseudo-cluster that binds CPUs (task/cgroup,
task/affinity) and gives each node a scratch folder of its own; and every node of a job
checked for the suite before the first step (relionbench.run.nodes)."""

import re
import shlex
import subprocess

import pytest
from conftest import CLUSTER_STATE, stand_in, tmpfs_on
from test_faults import ONE_CORE, REFINE, failed, run

from relionbench import ROOT
from relionbench.run import layouts, nodes
from relionbench.run.records import Rank
from relionbench.workflows import MINIATURE

REFINE_STEP = MINIATURE.stage('Refine3D_Local').steps[0]
CLASS2D_STEP = MINIATURE.stage('Class2D').steps[0]
NO_CPUS_PER_TASK = '''
for a do
    shift
    case "$a" in --cpus-per-task=*) a=--cpus-per-task=1 ;; esac
    set -- "$@" "$a"
done
exec "$REAL" "$@"
'''
"""srun as a job script without --cpus-per-task gets it (Slurm 22.05's srun does not
inherit sbatch's): every rank bound to one CPU."""


def test_a_rank_bound_to_fewer_cpus_than_its_threads_misfits():
    two = layouts.Layout(2, 2)
    assert layouts.misfit(REFINE_STEP, two, [Rank(0, 'n1', 1, '0'), Rank(1, 'n1', 1, '0-1')]) \
        == ''                           # the leader hands out work: one CPU is enough
    said = layouts.misfit(REFINE_STEP, two, [Rank(0, 'n1', 1, '0'), Rank(1, 'n2', 1, '1')])
    assert said.startswith('rank 1 on n2 may run on 1 CPU (1) but runs 2 threads'), said
    assert '--cpus-per-task=2' in said
    assert layouts.misfit(CLASS2D_STEP, layouts.Layout(1, 2), [Rank(0, 'n1', 1, '0,3')]) == ''
    assert layouts.misfit(CLASS2D_STEP, layouts.Layout(1, 4), [Rank(0, 'n1', 1, '')]) == ''


def test_a_gpu_rank_that_sees_no_gpu_misfits():
    gpu = layouts.Layout(3, 2, gpus_per_node=1)
    seen = [Rank(0, 'g1', 1, '0-1', '-'), Rank(1, 'g1', 1, '0-1', '0'),
            Rank(2, 'g1', 1, '2-3', '-')]
    said = layouts.misfit(REFINE_STEP, gpu, seen, gpus=True)
    assert said.startswith('rank 2 on g1 sees no GPU'), said
    assert layouts.misfit(REFINE_STEP, gpu, seen[:2], gpus=True) == ''


def test_every_node_checks_the_suite_and_makes_its_scratch():
    lines = nodes.prepare(('/suite/measure.py',), '/runs/stage', slurm=True, scratch=True,
                          launcher_options=['--mpi=pmix'])
    assert lines[0] == nodes.AT_EXIT
    assert lines[1].startswith('rb_nodes() { srun --nodes="$SLURM_JOB_NUM_NODES" ')
    assert '--ntasks-per-node=1' in lines[1] and '--mpi=pmix "$@"' in lines[1]
    # removal registered before the check: a node that fails it leaves the others' scratch
    assert lines[2].startswith('rb_scratch_gone() { rb_nodes sh -c ') and \
        lines[3] == 'rb_at_exit rb_scratch_gone'
    assert '[ -r /suite/measure.py ]' in lines[4] and 'mkdir -p "$RB_SCRATCH"' in lines[4]
    assert nodes.prepare((), '/s', slurm=False)[1] == 'rb_nodes() { "$@"; }'
    # what a script registers last runs first when it ends
    said = subprocess.run(['bash', '-c', f'{nodes.AT_EXIT}; rb_at_exit "echo one"; '
                           'rb_at_exit "echo two"; exit 3'], capture_output=True, text=True)
    assert said.stdout.split() == ['two', 'one'] and said.returncode == 3
    said = subprocess.run(['sh', '-c', nodes.visible(('/no/such/file',))], capture_output=True,
                          text=True)
    assert said.returncode == 1
    host = subprocess.check_output(['hostname'], text=True).strip()
    assert nodes.refusal(said.stderr) == (f'the suite at {ROOT} is not visible on node {host}: '
                                          'put the checkout on a shared filesystem')


def test_scratch_is_removed_only_where_the_job_made_it(tmp_path):
    made, site = tmp_path / 'job1', tmp_path / 'site'
    site.mkdir()
    for folder in (made, site):
        env = {'RB_SCRATCH': str(folder), 'PATH': '/usr/bin:/bin'}
        subprocess.run(['sh', '-c', nodes.MAKE_SCRATCH], env=env, check=True)
        (folder / 'relion_volatile').mkdir()
        subprocess.run(['sh', '-c', nodes.REMOVE_SCRATCH], env=env, check=True)
    assert not made.exists() and (site / 'relion_volatile').is_dir()


def test_a_gpu_case_on_a_node_without_a_usable_gpu_stops_with_one_line(tmp_path):
    """Before RELION starts, each node of a gpu case must have an NVIDIA device, a driver,
    and a driver new enough for the build's CUDA. This machine has none; the driver's
    answers are a stand-in nvidia-smi, the device a file in a /dev of the test's own."""
    import socket
    host = socket.gethostname()
    none = subprocess.run(['sh', '-c', nodes.usable_gpu('13.0')], capture_output=True,
                          text=True)
    assert none.returncode == 1 and nodes.refusal(none.stderr) == (
        f'node {host} has no NVIDIA GPU (no /dev/nvidia0): run the gpu cases on a partition '
        'with GPUs')
    smi = tmp_path / 'bin' / 'nvidia-smi'
    smi.parent.mkdir()
    smi.write_text('#!/bin/sh\necho 535.104.05\n')
    smi.chmod(0o755)
    for path, cuda, said in (
            ('/usr/bin:/bin', '13.0', 'has no NVIDIA driver (nvidia-smi not found)'),
            (f'{smi.parent}:/usr/bin:/bin', '13.0',
             "has NVIDIA driver 535.104.05; the build's CUDA 13.0 needs 580 or later"),
            (f'{smi.parent}:/usr/bin:/bin', '12.4', '')):
        # a /dev of its own holding nvidia0 (a mount namespace: this machine's /dev untouched)
        probe = (f'mount -t tmpfs none /dev && touch /dev/nvidia0 && '
                 f'PATH={path} sh -c {shlex.quote(nodes.usable_gpu(cuda))}')
        done = subprocess.run(['unshare', '--mount', 'sh', '-c', probe], capture_output=True,
                              text=True)
        assert done.returncode == (1 if said else 0), done.stderr
        assert said in nodes.refusal(done.stderr) and (said or not done.stderr)


@pytest.mark.requires('relion')
def test_on_one_core_a_threaded_step_fails_naming_the_rank_and_its_cpus(runs):
    """Class2D runs --j 2: on one core it cannot get the layout it asks for, and fails
    saying so; Refine3D_Local's one-thread ranks fit (the time references scaled to the
    slower machine are met: tests/test_faults.py)."""
    result = run('-n', '^Miniature.*Class2D/cpu-plain', runs=runs, system='local',
                 prefix=ONE_CORE)
    failed(result, 'step 0 class2d: rank 0 on ')
    assert re.search(r'rank 0 on \S+ may run on 1 CPU \(0\) but runs 2 threads', result.stdout)


@pytest.mark.requires('relion', 'nodes')
def test_ranks_bound_to_fewer_cpus_than_threads_fail_on_slurm(runs, tmp_path):
    """Refine3D_Local as 3 ranks of 2 threads (a node each), its srun without the job's
    CPUs per task: Slurm binds each rank to one CPU, and the check fails naming the rank
    and its node."""
    fakes = stand_in(tmp_path / 'bin', 'srun', NO_CPUS_PER_TASK)
    result = run(*REFINE, '-S', 'run_layout=3x2', runs=runs, fakes=fakes)
    failed(result, 'step 0 refine: rank 1 on rbnode')
    assert re.search(r'rank 1 on rbnode\d may run on 1 CPU \(\d\) but runs 2 threads',
                     result.stdout), result.stdout[-3000:]


@pytest.mark.requires('relion', 'nodes')
def test_a_node_that_cannot_see_the_suite_fails_the_job_with_one_line(runs):
    """The checkout hidden on rbnode2 and rbnode3: the stage over 2 nodes has one of them,
    and its job ends before the first step, naming the node and the fix."""
    scratch = set(CLUSTER_STATE.glob('node-scratch/*/*'))
    with tmpfs_on(['rbnode2', 'rbnode3'], ROOT):
        result = run(*REFINE, runs=runs)
    failed(result, f'the suite at {ROOT} is not visible on node rbnode')
    assert re.search(r'not visible on node rbnode[23]: put the checkout on a shared '
                     r'filesystem', result.stdout), result.stdout[-3000:]
    # the scratch made on the node that could see the suite is gone too
    assert set(CLUSTER_STATE.glob('node-scratch/*/*')) == scratch

