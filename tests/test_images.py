"""The container runtime's faults, with podman and the relion-debian image: each is injected
(or real), and the check says what went wrong instead of passing."""

import csv
import os
import re
import subprocess
import sys

import pytest
from conftest import missing, reframe, require, stand_in

from relionbench.builds import podman, recipes

pytestmark = pytest.mark.requires('relion', 'podman')
MOTIONCORR = ('-n', '^Miniature(?!Chain).*MotionCorr', '-r', '--system', 'local')


def test_a_missing_image_skips_with_the_command_that_builds_it(runs):
    result = reframe(*MOTIONCORR, '-S', 'container_image=localhost/relion-debian:0.0', runs=runs)
    assert 'container image localhost/relion-debian:0.0 not found: build it with "relionbench ' \
           'containers build relion-debian --runtime podman"' in result.stdout
    assert result.returncode == 0 and '1 skipped' in result.stdout


def test_an_image_of_another_build_fails_the_provenance_check(runs, image):
    """The 5.0.1 build's checks given the 3.1.3 image: the job's RELION says it is not 5.0.1."""
    require('relion5')
    result = reframe(*MOTIONCORR, '-p', '^relion-5_0_1-altcpu$', '-S', f'container_image={image}',
                     runs=runs)
    assert result.returncode != 0
    assert ('the job ran another RELION than build relion-5_0_1-altcpu declares (version 3.1.3 '
            'instead of 5.0.1') in result.stdout


def test_a_recipe_whose_image_is_not_the_build_it_claims_does_not_build(tmp_path, image):
    """A recipe claiming RELION 4.0.1 that installs Debian's package: its %test fails the
    build, and no image of that name is left."""
    text = recipes.RECIPES.joinpath('relion-debian.def').read_text()
    claims = tmp_path / 'relion-claims.def'
    claims.write_text(text.replace('RELION_VERSION=3.1.3', 'RELION_VERSION=4.0.1')
                      .replace('"relion=${RELION_VERSION}-*"', 'relion'))
    built = subprocess.run([sys.executable, '-m', 'relionbench.cli', 'containers', 'build',
                            str(claims), '--runtime', 'podman'], capture_output=True, text=True)
    assert built.returncode != 0
    assert 'relionbench containers build: relion-claims failed with podman' in built.stderr
    assert 'RELION version: 3.1.3' in built.stdout + built.stderr      # what %test saw
    assert not podman.exists('localhost/relion-claims:4.0.1')


def test_a_runtime_that_cannot_start_a_container_fails_naming_it(runs, tmp_path, image):
    """podman's OCI runtime refuses to start the job's container (a stand-in podman says what
    runc says then): the check fails with podman's own line, and no step runs."""
    fakes = stand_in(tmp_path / 'bin', 'podman', (
        'for a; do [ "$a" = -d ] && { echo "Error: OCI runtime error: runc: runc create failed: '
        'unable to start container process: permission denied" >&2; exit 126; }; done\n'
        'exec "$REAL" "$@"'))
    result = reframe(*MOTIONCORR, '-S', f'container_image={image}', runs=runs,
                     env={'PATH': f'{fakes}:{os.environ["PATH"]}'})
    assert result.returncode != 0
    assert (f'podman could not start a container from {image}: Error: OCI runtime error: runc: '
            'runc create failed: unable to start container process: permission denied'
            ) in result.stdout


def test_a_bind_path_missing_on_the_node_fails_naming_it(runs, image):
    """The job's temporary folder (bound for Open MPI's session files) does not exist on the
    node: podman (which keeps its own temporary files there too) cannot start the container,
    and the check names the path. A bind point missing inside the image cannot fail: podman
    creates it."""
    result = reframe(*MOTIONCORR, '-S', f'container_image={image}',
                     '-S', 'env_vars=TMPDIR:/nonexistent/tmp', runs=runs)
    assert result.returncode != 0
    assert re.search(rf'podman could not start a container from {re.escape(image)}: Error: .*'
                     r'/nonexistent/tmp/\S*: no such file or directory', result.stdout)


def test_mpi_ranks_run_in_the_image_through_slurm(runs, image):
    """Refine3D_Local's 3 ranks in the image, started by srun (PMIx: its step files bound
    from slurmd's spool) and by mpirun inside the Slurm job; on a cluster of several nodes
    they spread over two, each rank in its own node's container."""
    require('slurm')
    result = reframe('-n', '^Miniature(?!Chain).*Refine3D_Local/cpu', '-r', '--system',
                     'ci-slurm', '-S', f'container_image={image}', runs=runs)
    assert result.returncode == 0, result.stdout[-3000:]
    assert 'Ran 5/5 test case(s)' in result.stdout       # 2 stages, data, 2 calibrations
    for partition, launcher in (('cpu', 'srun'), ('cpu-mpirun', 'mpirun -np 3')):
        script = next(runs.glob(f'output/*/ci-slurm/{partition}/*/Miniature_*/rfm_job.sh'))
        assert re.search(rf'rb_step 0 refine {launcher} .*podman .* exec ', script.read_text())
        log = next(script.parent.glob('rb_steps/0_refine.log')).read_text()
        assert 'Number of MPI processes             = 3' in log
        if not missing('nodes'):    # 2 ranks per node: each node's ranks in its container
            with open(script.parent / 'rb_steps' / 'placement.tsv') as rows:
                refine = [r for r in csv.DictReader(rows, delimiter='\t')
                          if r['step'] == 'refine']
            assert len({r['node'] for r in refine}) == 2, refine
            assert all(r['node'] == r['node_by_relion'] for r in refine), refine
