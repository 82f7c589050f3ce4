"""Dry runs on every cluster generate Slurm scripts with the published layouts."""

import re

import pytest
from conftest import reframe


@pytest.fixture(scope='module')
def scripts(tmp_path_factory):
    """{(system, check display name): job script text} for every cluster system."""
    found = {}
    for system in ('scarf', 'pearl', 'clx', 'icx'):
        runs = tmp_path_factory.mktemp(system)
        result = reframe('--dry-run', '--system', system, runs=runs)
        assert result.returncode == 0, result.stdout + result.stderr
        for name, case, digest in re.findall(r'DRY\s*\S* \] (\w+) %case=(\S+) /(\w+)',
                                             result.stdout):
            path = next((runs / 'stage' / system).glob(f'*/relion/{name}_{digest}/rfm_job.sh'))
            found[(system, f'{name} {case}')] = path.read_text()
    return found


def test_every_listed_check_got_a_script(scripts):
    counts = {s: sum(1 for sys_, _ in scripts if sys_ == s) for s in ('scarf', 'pearl', 'clx')}
    # published workflows (scarf 56, pearl 40, clx 16) plus the miniature's 9 stages and chain
    assert counts == {'scarf': 56 + 30, 'pearl': 40 + 10, 'clx': 16 + 20}


def test_scarf_cpu_script_has_partition_tasks_threads(scripts):
    script = scripts[('scarf', 'Aldolase Class2D/cpu-altcpu/23x4')]
    for line in ('#SBATCH --ntasks=23', '#SBATCH --cpus-per-task=4', '#SBATCH --partition=scarf',
                 '#SBATCH --constraint=scarf17', '#SBATCH --exclusive',
                 'export OMP_SCHEDULE=dynamic', 'export KMP_BLOCKTIME=0'):
        assert line in script
    assert re.search(r'rb_step 0 class2d srun .*relion_refine_mpi .* --cpu --j 4 --pool 30', script)


def test_plain_variant_has_no_accelerator_flag(scripts):
    script = scripts[('clx', 'Aldolase Class2D/cpu-plain/23x4')]
    assert not re.search(r'--(cpu|gpu)\b(?!s)', script)


@pytest.mark.parametrize('gpus,tasks', [(1, 3), (2, 5), (4, 11), (8, 21), (16, 41)])
def test_pearl_gpu_layout_is_homogeneous_plus_one(scripts, gpus, tasks):
    script = scripts[('pearl', f'Aldolase Refine3D_Full/gpu/{gpus}gpu')]
    assert f'#SBATCH --ntasks={tasks}\n' in script
    assert f'#SBATCH --gres=gpu:{gpus}\n' in script
    assert '#SBATCH --cpus-per-task=2\n' in script
    assert '--gpu --j 2' in script
    assert '--scratch_dir "$RB_SCRATCH"' in script


def test_scarf_gpu_runs_span_nodes_of_four_gpus(scripts):
    script = scripts[('scarf', 'Aldolase Class2D/gpu/8gpu')]
    assert '#SBATCH --gres=gpu:4\n' in script and '#SBATCH --ntasks-per-node=11\n' in script


def test_stages_read_what_this_run_wrote(scripts):
    script = scripts[('scarf', 'Aldolase Refine3D_CtfRefine/cpu-plain/23x4')]
    assert '--auto_refine' in script and ' -auto_refine' not in script
    assert '--i Bench/Refine3D/run_half1_class001_unfil.mrc' in script
    assert '--i Bench/Refine3D/run_data.star --f Bench/PostProcess/postprocess.star' in script


def test_polish_runs_two_tasks_and_gets_no_accelerator_flag(scripts):
    script = scripts[('icx', 'Aldolase Polish/cpu-altcpu/2x4')]
    assert '#SBATCH --ntasks=2\n' in script and not re.search(r'--cpu\b(?!s)', script)
    pearl = scripts[('pearl', 'Aldolase Polish/gpu/4gpu')]
    assert '--gpu' not in pearl
