"""Several nodes for real: the pseudo-cluster brought up with ``--nodes 3`` (each slurmd in
network and UTS namespaces of its own), a miniature stage whose 3 MPI ranks need more cores
than a node has spreads over 2 nodes, through srun (PMIx) and through mpirun, and the
record says on which node each rank ran, as RELION itself printed it."""

import csv
import re
import subprocess
import threading
import time

import pytest
from conftest import CLUSTER, CLUSTER_STATE, stand_in, tmpfs_on
from test_faults import MOTIONCORR, REFINE, failed, perflog, run

STATE = CLUSTER_STATE

nodes = pytest.mark.requires('relion', 'nodes')


@nodes
def test_a_stage_spreads_its_ranks_over_two_nodes_through_srun_and_mpirun(runs):
    """With node-local scratch (each node its own folder at one path, made by the job on
    both nodes and removed after): RELION copies every particle on each. srun binds each
    rank to a CPU of its own."""
    result = run(*REFINE, runs=runs, system='ci-slurm', timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    for partition, launcher in (('cpu', 'srun'), ('cpu-mpirun', 'mpirun')):
        job = next(runs.glob(f'output/*/ci-slurm/{partition}/*/Miniature_*/rb_steps'))
        script = (job.parent / 'rfm_job.sh').read_text()
        assert '#SBATCH --ntasks=3\n' in script and '#SBATCH --ntasks-per-node=2\n' in script
        assert re.search(rf'rb_step 0 refine {launcher}\b', script), script
        with open(job / 'placement.tsv') as rows:
            refine = [r for r in csv.DictReader(rows, delimiter='\t') if r['step'] == 'refine']
        assert sorted(r['rank'] for r in refine) == ['0', '1', '2']
        assert len({r['node'] for r in refine}) == 2, refine       # two nodes, really
        assert {r['node'] for r in refine} <= {'rbnode1', 'rbnode2', 'rbnode3'}
        # the node measure.py saw each rank on is the one RELION says it ran on
        assert all(r['node'] == r['node_by_relion'] for r in refine), refine
        logged = perflog(runs, 'ci-slurm', partition)
        assert re.search(r'\|refine_node_peak_mib\|[\d.]+\|MiB\|', logged), logged[-2000:]
        if launcher == 'srun':
            for node in {r['node'] for r in refine}:
                cpus = [r['cpus'] for r in refine if r['node'] == node]
                assert len(set(cpus)) == len(cpus) and all(c.isdigit() for c in cpus), refine
        log = (job / '0_refine.log').read_text()
        scratch = re.search(rf'Copying particles to scratch directory: {STATE}/scratch/(\d+)/',
                            log)
        assert scratch, log[-2000:]
        assert 'For optics_group 1, there are 330 particles on the scratch disk.' in log, log
        for node in {r['node'] for r in refine}:    # each node's own scratch folder
            assert f'On host {node}: free scratch space' in log, log
        for node in ('rbnode1', 'rbnode2', 'rbnode3'):
            assert not (STATE / 'node-scratch' / node / scratch[1]).exists()


@nodes
def test_a_scratch_folder_too_small_fails_the_check_with_what_was_copied(runs, tmp_path):
    """--scratch_dir on a 4 MiB tmpfs: RELION (on rbnode1, where its first follower runs)
    copies none of the 330 particles and only warns; the check fails saying so."""
    small = tmp_path / 'scratch'
    small.mkdir()
    with tmpfs_on(['rbnode1', 'rbnode2', 'rbnode3'], small, size='4m'):  # each node's disk
        result = run(*REFINE, runs=runs, env={'RELIONBENCH_SCRATCH': str(small)})
    failed(result, 'step 0 refine: the scratch folder (--scratch_dir) was too small on rbnode1:'
           ' RELION copied 0 particles to it and reads the other 330 from where they are')


def _restore():
    """Bring back whatever a fault took down (up is idempotent: it restarts what is gone),
    and wait for the ranks of the failed job to be gone: a node cut off keeps running its
    rank until slurmd is back and told the job ended; the next tests need the cores."""
    done = subprocess.run([str(CLUSTER), 'up', '--nodes', '3'], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for _ in range(60):
        if subprocess.run(['pgrep', '-f', 'relion_refine_mpi'], capture_output=True).returncode:
            return
        time.sleep(1)
    subprocess.run(['pkill', '-9', '-f', 'relion_refine_mpi'])      # strays of the fault


def _kill_node_when_refine_runs(node, namespace, done):
    """From outside the node, as a power cut would: once relion_refine_mpi runs on it, kill
    every process in its network namespace (its slurmd, the step's daemon, the rank) at
    once. (A stand-in killing them from inside the node killed itself first whenever its
    own PID came before slurmd's, and slurmd lived on.)"""
    while not done.is_set():
        pids = subprocess.run(['ip', 'netns', 'pids', namespace], capture_output=True,
                              text=True).stdout.split()
        if any(b'relion_refine_mpi' in _cmdline(p) for p in pids):
            time.sleep(5)
            subprocess.run(['kill', '-9', *subprocess.run(
                ['ip', 'netns', 'pids', namespace], capture_output=True, text=True
            ).stdout.split()])
            return
        time.sleep(0.5)


def _cmdline(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read()
    except OSError:
        return b''


@nodes
def test_a_node_dying_mid_step_fails_the_check_naming_the_step_and_the_node(runs):
    """Every process of rbnode2 (its slurmd, the step's daemon and the rank on it) is killed
    while Refine3D runs its 3 ranks over rbnode1 and rbnode2; MotionCorr, in the same
    session, keeps its result."""
    done = threading.Event()
    killer = threading.Thread(target=_kill_node_when_refine_runs,
                              args=('rbnode2', 'rb-node2', done))
    killer.start()
    start = time.monotonic()
    try:
        result = run('-n', MOTIONCORR[1] + '|' + REFINE[1][1:], runs=runs, timeout=600)
    finally:
        done.set()
        killer.join()
        _restore()
    failed(result, 'step 0 refine (relion_refine_mpi) was running when job')
    assert 'ended NODE_FAIL: node rbnode2 down (Not responding)' in result.stdout
    assert time.monotonic() - start < 300
    assert '|pass|MotionCorr/cpu-plain/1x2|' in perflog(runs, 'ci-slurm', 'cpu')


@nodes
def test_the_network_cut_between_two_nodes_mid_step_ends_the_step(runs, tmp_path):
    """rbnode2's link goes down while the ranks talk over it: the step ends (the node is
    declared down) long before the check's time limit, and the check names the step."""
    fakes = stand_in(tmp_path / 'bin', 'relion_refine_mpi',
                     '[ "$(hostname)" = rbnode2 ] && (sleep 5; ip link set eth0 down) &\n'
                     'exec "$REAL" "$@"')
    start = time.monotonic()
    try:
        result = run(*REFINE, runs=runs, fakes=fakes, timeout=600)
    finally:
        subprocess.run(['ip', '-n', 'rb-node2', 'link', 'set', 'eth0', 'up'], check=True)
        _restore()
    failed(result, 'step 0 refine (relion_refine_mpi) was running when job')
    assert 'ended NODE_FAIL: node rbnode2 down' in result.stdout
    assert time.monotonic() - start < 300          # the check's time limit is 30 minutes


@nodes
def test_with_nodes_drained_a_check_that_cannot_fit_is_cancelled_and_named(runs):
    """rbnode2 and rbnode3 drained: MotionCorr (one node) runs; Refine3D (two nodes) is
    cancelled by ReFrame as blocked, naming the unavailable nodes, instead of pending."""
    drain = ['scontrol', 'update', 'nodename=rbnode2,rbnode3']
    subprocess.run([*drain, 'state=drain', 'reason=relionbench test'], check=True)
    start = time.monotonic()
    try:
        result = run('-n', MOTIONCORR[1] + '|' + REFINE[1][1:], runs=runs, timeout=600)
    finally:
        subprocess.run([*drain, 'state=resume'], check=True)
    failed(result, 'blocked due to reason: ReqNodeNotAvail, UnavailableNodes:rbnode[2-3]')
    assert '|pass|MotionCorr/cpu-plain/1x2|' in perflog(runs, 'ci-slurm', 'cpu')
    assert time.monotonic() - start < 300
