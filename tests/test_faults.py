"""The scheduler path and the fault matrix (README "Faults"): real ReFrame runs of miniature
stages through the Slurm pseudo-cluster (``scripts/slurm-pseudo-cluster up``), or locally
where a fault needs this machine's references. Faults are injected with stand-ins for a
RELION program placed first in PATH: the jobs inherit the submitting environment."""

import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT, clock, reframe, slower, stand_in

from relionbench.constants import PERFLOG_FIELDS

relion = pytest.mark.requires('relion')
slurm = pytest.mark.requires('relion', 'slurm')

MOTIONCORR = ['-n', '^Miniature.*MotionCorr/cpu-plain']
REFINE = ['-n', '^Miniature.*Refine3D_Local/cpu-plain']


def run(*args, runs, fakes=None, system='ci-slurm:cpu', timeout=600, prefix=(), env=None):
    env = {**(env or {}), **({'PATH': f'{fakes}:{os.environ["PATH"]}'} if fakes else {})}
    return reframe('-r', '--system', system, *args, runs=runs, env=env, timeout=timeout,
                   prefix=prefix)


def failed(result, message):
    assert result.returncode != 0, result.stdout[-3000:]
    assert 'FAILED' in result.stdout and 'PASSED ] Ran' not in result.stdout
    assert message in result.stdout, result.stdout[-3000:]


def perflog(runs, system, partition):
    """Every perflog of a partition (one file per case, in folders by stage, variant, scale)."""
    return '\n'.join(p.read_text()
                     for p in (runs / 'perflogs' / system / partition).rglob('*.log*'))


# -- the scheduler path ------------------------------------------------------------------

def watching(runs):
    """Run ``relionbench watch --once`` on ``runs`` every second until the returned event is
    set; the lines it printed gather in the returned list."""
    seen, stop = [], threading.Event()

    def follow():
        while not stop.is_set():
            shown = subprocess.run([sys.executable, '-m', 'relionbench.cli', 'watch', '--once',
                                    '--runs', str(runs)], capture_output=True, text=True)
            seen.extend(shown.stdout.splitlines()[1:])
            stop.wait(1)
    threading.Thread(target=follow, daemon=True).start()
    return seen, stop


@slurm
def test_stages_pass_through_slurm_on_every_partition(runs):
    """Class2D on cpu (srun), cpu-mpirun and gpu (GRES, RELION on the CPU). No reference:
    recorded as such. Meanwhile ``relionbench watch`` follows each job: its step, iteration
    and time limit. (Refine3D_Local through srun and mpirun: tests/test_nodes.py.)"""
    seen, stop = watching(runs)
    try:
        result = run('-n', '^Miniature.*Class2D/', runs=runs, system='ci-slurm')
    finally:
        stop.set()
    assert result.returncode == 0, result.stdout[-4000:]
    assert any(re.search(r'Class2D/\S+  running  class2d \(1 of 1\)  iteration [123] of 3  '
                         r'\d:\d\d:\d\d  \S+  fits 0:30:00 limit', line) for line in seen), seen
    assert 'Ran 7/7 test case(s)' in result.stdout   # 3 stages, data, 3 calibrations
    gpu_job = next(runs.glob('output/*/ci-slurm/gpu/*/Miniature_*/rfm_job.sh')).read_text()
    assert '#SBATCH --partition=gpu\n' in gpu_job and '#SBATCH --gres=gpu:1\n' in gpu_job
    assert '#SBATCH --overcommit\n' in gpu_job and '--gpu' not in gpu_job
    assert re.search(r'\|Class2D/cpu-plain/1x2\|1\|2\|.*\|no reference\|\d+\|',
                     perflog(runs, 'ci-slurm', 'cpu'))
    assert 'no reference for ci-slurm' in result.stdout


@slurm
def test_every_miniature_stage_passes_on_the_strict_cluster(runs):
    """The whole miniature through Slurm partition cpu, whose nodes bind each task's CPUs,
    hold its memory and keep their own scratch: every stage passes, Refine3D's ranks spread
    over two nodes, and ``relionbench watch`` follows the refinement."""
    seen, stop = watching(runs)
    try:
        result = run('-n', '^Miniature(?!Chain)', runs=runs, timeout=900)
    finally:
        stop.set()
    assert result.returncode == 0, result.stdout[-4000:]
    assert 'Ran 9/9 test case(s)' in result.stdout   # 7 stages, data, calibration
    assert any(re.search(r'Refine3D_Local/\S+  running  refine \(1 of 3\)  auto-refine, '
                         r'iteration \d+', line) for line in seen), seen
    refine = next(runs.glob('output/*/ci-slurm/cpu/*/Miniature_*/rb_steps/0_refine.log'))
    assert 'srun --kill-on-bad-exit=1 --cpus-per-task=1' in (
        refine.parent.parent / 'rfm_job.sh').read_text()


# -- the fault matrix --------------------------------------------------------------------

@slurm
def test_a_step_exiting_non_zero_fails_and_is_named(runs, tmp_path):
    fakes = stand_in(tmp_path / 'bin', 'relion_run_motioncorr', 'echo broken >&2; exit 3')
    result = run(*MOTIONCORR, runs=runs, fakes=fakes)
    failed(result, 'step 0 motioncorr (relion_run_motioncorr) exited with code 3')


@slurm
@pytest.mark.parametrize('partition', ['cpu', 'cpu-mpirun'])
def test_a_dead_mpi_rank_ends_the_step_instead_of_hanging(runs, tmp_path, partition):
    """Rank 1 is killed; the others would wait for it forever (seed 003, known problems)."""
    fakes = stand_in(tmp_path / 'bin', 'relion_refine_mpi',
                     'rank=${PMIX_RANK:-${OMPI_COMM_WORLD_RANK:-0}}\n'
                     '[ "$rank" = 1 ] && kill -9 $$\nexec sleep 600')
    start = time.monotonic()
    result = run(*REFINE, runs=runs, fakes=fakes, system=f'ci-slurm:{partition}')
    failed(result, 'step 0 refine (relion_refine_mpi) exited with code')
    assert time.monotonic() - start < 120


@slurm
def test_a_hanging_step_is_ended_by_the_time_limit(runs, tmp_path):
    fakes = stand_in(tmp_path / 'bin', 'relion_run_motioncorr', 'exec sleep 600')
    result = run(*MOTIONCORR, '-S', 'Miniature.time_limit=1m', runs=runs, fakes=fakes)
    failed(result, 'step 0 motioncorr (relion_run_motioncorr) was running when job')
    assert 'reached its time limit (60' in result.stdout
    jobs = subprocess.run(['squeue', '-h', '-o', '%i'], capture_output=True, text=True)
    assert jobs.stdout.strip() == ''


@slurm
@pytest.mark.parametrize('program,output,stage', [
    ('relion_run_motioncorr', 'Bench/MotionCorr/corrected_micrographs.star', MOTIONCORR),
    ('relion_refine', 'Bench/Class2D/run_it003_classes.mrcs',
     ['-n', '^Miniature.*Class2D/cpu-plain']),
])
def test_a_truncated_output_fails_sanity_naming_the_file(runs, tmp_path, program, output, stage):
    fakes = stand_in(tmp_path / 'bin', program,
                     f'"$REAL" "$@" || exit\nhead -c 100 {output} >t && mv t {output}')
    result = run(*stage, runs=runs, fakes=fakes)
    failed(result, output)


@slurm
def test_an_output_missing_particles_fails_naming_what_is_missing(runs, tmp_path):
    """Class2D's data file parses but lost its last 100 particles on the way."""
    data = 'Bench/Class2D/run_it003_data.star'
    fakes = stand_in(tmp_path / 'bin', 'relion_refine',
                     f'"$REAL" "$@" || exit\nhead -n -100 {data} >t && mv t {data}')
    result = run('-n', '^Miniature.*Class2D/cpu-plain', runs=runs, fakes=fakes)
    failed(result, f'{data} lists ')
    assert re.search(r'lists 34\d particles of the 440 in Extract/job004/particles\.star',
                     result.stdout)


@slurm
def test_an_unknown_option_warning_fails(runs, tmp_path):
    fakes = stand_in(tmp_path / 'bin', 'relion_run_motioncorr',
                     'exec "$REAL" "$@" --no_such_option 1')
    result = run(*MOTIONCORR, runs=runs, fakes=fakes)
    failed(result, '--no_such_option')


@relion
def test_a_build_whose_job_runs_another_relion_fails_naming_both(runs, tmp_path):
    """A build identified as 4.0.1 where ReFrame runs, whose job finds Debian's 3.1.3 instead
    (as a module that loads another RELION on the nodes would): the check fails, naming the
    build and both versions, before anything is judged as 4.0.1's."""
    fake = tmp_path / 'relion-4.0.1' / 'bin' / 'relion_refine'
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\n[ -d rb_steps ] && exec /usr/bin/relion_refine "$@"\n'
                    'echo "RELION version: 4.0.1 "\necho "Precision: BASE=double"\n')
    fake.chmod(0o755)
    result = reframe('-r', '--system', 'local', '-n', '^Miniature.*Extract/cpu-plain',
                     '-p', '^relion-4_0_1-plain$', runs=runs,
                     env={'RELIONBENCH_RELION': str(fake.parent.parent)})
    failed(result, 'the job ran another RELION than build relion-4_0_1-plain declares '
                   '(version 3.1.3 instead of 4.0.1; rb_steps/relion_version.txt)')


@pytest.mark.requires('slurm')
def test_an_absent_dataset_is_skipped_with_fetch_instructions(runs, tmp_path):
    result = run('-n', '^Ribosome.*Class2D/cpu-plain', '-S', f'dataset_dir={tmp_path}/none',
                 runs=runs)
    assert result.returncode == 0 and '1 skipped' in result.stdout
    assert 'scripts/fetch-dataset relion-benchmark --dest' in result.stdout


SLOWER = slower()
"""A stand-in body: the real program, recorded as taking as long again (twice as slow: on
this kind of VM the calibration can overstate the machine's slowness by up to 1.5x, so a
smaller slow-down could hide inside the scaled references)."""
ONE_CORE = ('taskset', '-c', '0')


@relion
def test_on_one_core_a_clean_run_meets_its_time_references(runs):
    """Half the machine: every step takes longer, the calibration says by how much. Serial
    and MPI (3 ranks of one thread) steps; a threaded step cannot get its CPUs on one core
    (tests/test_binding.py)."""
    result = run(*REFINE, runs=runs, system='local', prefix=ONE_CORE)
    assert result.returncode == 0, result.stdout[-3000:]
    assert 'times scaled to this machine: x' in perflog(runs, 'local', 'default')


@relion
@pytest.mark.parametrize('cores', ['all', 'one'])
def test_a_slower_relion_refine_mpi_fails_on_time(runs, tmp_path, cores):
    """relion_refine_mpi twice as slow: Refine3D_Local misses its refine time, on the whole
    machine and on one core of it; the steps that were not slowed meet theirs."""
    fakes = clock(stand_in(tmp_path / 'bin', 'relion_refine_mpi', SLOWER))
    result = run(*REFINE, runs=runs, fakes=fakes, system='local',
                 prefix=ONE_CORE if cores == 'one' else ())
    failed(result, 'refine_seconds=')
    assert 'postprocess_seconds=' not in result.stdout and 'mask_seconds=' not in result.stdout


@slurm
def test_an_administrator_cancelling_a_job_fails_it_and_keeps_the_others(runs, tmp_path):
    """MotionCorr on the three partitions: the two jobs on Slurm partition cpu are held and
    scancel'ed; the gpu partition's check passes and is logged."""
    fakes = stand_in(tmp_path / 'bin', 'relion_run_motioncorr',
                     '[ "$SLURM_JOB_PARTITION" = cpu ] && sleep 600\nexec "$REAL" "$@"')

    def cancel_when_running():
        for _ in range(600):
            listed = subprocess.run(['squeue', '-h', '-p', 'cpu', '-t', 'RUNNING', '-o', '%i %j'],
                                    capture_output=True, text=True).stdout.split()
            held = [job for job, name in zip(listed[::2], listed[1::2])
                    if name.startswith('rfm_Miniature_')]
            if len(held) == 2:
                time.sleep(2)
                subprocess.run(['scancel', *held], check=True)
                return
            time.sleep(0.5)

    admin = threading.Thread(target=cancel_when_running)
    admin.start()
    result = run('-n', '^Miniature.*MotionCorr/(cpu-plain|gpu)', runs=runs, fakes=fakes,
                 system='ci-slurm')
    admin.join()
    failed(result, 'ended CANCELLED (scancel or an administrator)')
    assert '(2 failure(s)' in result.stdout and 'Ran 7/7' in result.stdout   # + 4 fixtures
    assert 'MotionCorr/gpu/1gpu|' in perflog(runs, 'ci-slurm', 'gpu')


@slurm
def test_two_suite_runs_at_once_keep_their_own_files(runs):
    results = []
    threads = [threading.Thread(target=lambda: results.append(run(*MOTIONCORR, runs=runs)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r.returncode == 0 for r in results), [r.stdout[-2000:] for r in results]
    assert len(list(runs.glob('output/*/ci-slurm/cpu/*/Miniature_*'))) == 2
    lines = [line for line in perflog(runs, 'ci-slurm', 'cpu').splitlines()
             if line.startswith('20') and 'MotionCorr' in line]
    jobid = PERFLOG_FIELDS.index('check_jobid')
    assert len(lines) == 2 and len({line.split('|')[jobid] for line in lines}) == 2
    sessions = subprocess.run(
        [sys.executable, '-c', 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1])'
         '.execute("select count(*) from sessions").fetchone()[0])', str(runs / 'results.db')],
        capture_output=True, text=True, check=True)
    assert sessions.stdout.strip() == '2'


@slurm
def test_paths_with_spaces_and_metacharacters_are_quoted_not_run(tmp_path, generated):
    data = tmp_path / "data 'quoted' $(touch PWNED) `touch PWNED2`; $HOME & more"
    shutil.copytree(generated, data, symlinks=True)
    runs = tmp_path / "runs with spaces; 'quotes' & (parens)"
    result = run(*MOTIONCORR, '-S', f'miniature_dir={data}', runs=runs)
    assert result.returncode == 0, result.stdout[-3000:]
    assert not list(tmp_path.rglob('PWNED*')) and not list(ROOT.glob('PWNED*'))


def test_a_results_folder_reframe_would_expand_is_refused(tmp_path):
    runs = tmp_path / 'runs $(touch PWNED)'
    result = reframe('-l', runs=runs)
    assert result.returncode != 0
    assert 'choose a folder without "$" or "`"' in result.stdout + result.stderr
    assert not list(tmp_path.rglob('PWNED*')) and not list(ROOT.glob('PWNED*'))
