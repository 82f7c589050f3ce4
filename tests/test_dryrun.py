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
            path = next(runs.glob(f'stage/*/{system}/*/relion/{name}_{digest}/rfm_job.sh'))
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


def test_scarf_runs_relion_in_the_partition_image_launched_from_the_host(scripts):
    script = scripts[('scarf', 'Aldolase Class2D/cpu-altcpu/23x4')]
    stage = re.search(r'--pwd (\S+) ', script).group(1)
    data = '/work3/projects/sciml/relion/empiar-10338'
    image = '/work3/projects/sciml/relion/images/relion-avx512-intel.sif'
    exec_ = f'singularity exec -B"{stage}:{stage}" -B"{data}:{data}" --pwd {stage} {image}'
    srun = 'srun --kill-on-bad-exit=1'
    assert re.search(rf'rb_step 0 class2d {srun} \S+ \S+measure.py \S+ -- {re.escape(exec_)} '
                     r'relion_refine_mpi .* --cpu --j 4', script)
    assert f'{exec_} relion_refine --version >rb_steps/relion_version.txt' in script
    assert '--nv' not in script
    plain = scripts[('scarf', 'Aldolase Class2D/cpu-plain/23x4')]
    assert '/images/relion-gnu.sif relion_refine_mpi' in plain


def test_pearl_gpu_runs_get_nv_and_scratch_bound(scripts):
    script = scripts[('pearl', 'Aldolase Class3D/gpu/4gpu')]
    assert re.search(r'rb_step 0 class3d srun .* -- apptainer exec -B"\S+" -B"\S+" '
                     r'-B"\$RB_SCRATCH:\$RB_SCRATCH" --nv --pwd \S+ '
                     r'/mnt/beegfs/work/stfc/relion-data/images/relion-cuda.sif '
                     r'relion_refine_mpi .* --gpu --j 2', script)


def test_local_runs_are_native(scripts, runs):
    result = reframe('--dry-run', '-n', '^Miniature.*Class2D/', runs=runs)
    assert result.returncode == 0, result.stdout + result.stderr
    script = next(runs.glob('stage/*/*/*/relion/Miniature_*/rfm_job.sh')).read_text()
    assert re.search(r'rb_step 0 class2d \S+ \S+measure.py \S+ -- relion_refine --o', script)


@pytest.mark.parametrize('image,expected', [
    ('native', None),
    ('/images dir/$HOME relion.sif', "--pwd \\S+ '/images dir/\\$HOME relion.sif' relion_refine"),
    ('docker://example.org/relion:3.1.2', r'--pwd \S+ docker://example.org/relion:3.1.2 '),
])
def test_image_chosen_with_a_setting(runs, image, expected):
    result = reframe('--dry-run', '--system', 'scarf', '-n', '^Aldolase.*Class2D/cpu-altcpu',
                     '-S', f'container_image={image}', runs=runs)
    assert result.returncode == 0, result.stdout + result.stderr
    script = next(runs.glob('stage/*/scarf/cpu/relion/Aldolase_*/rfm_job.sh')).read_text()
    if expected is None:
        assert 'singularity' not in script
        assert re.search(r'rb_step 0 class2d srun --kill-on-bad-exit=1 \S+ \S+ \S+ -- '
                         r'relion_refine_mpi', script)
    else:
        assert re.search(expected, script), script


def test_missing_image_skips_with_build_instructions(runs, tmp_path):
    """A real run (not dry) on scarf stops in setup, before Slurm is asked for anything."""
    data = tmp_path / 'aldolase'
    (data / 'Extract' / 'job024').mkdir(parents=True)
    (data / 'Extract' / 'job024' / 'particles.star').write_text('data_\n')
    result = reframe('-r', '--system', 'scarf', '-n', '^Aldolase.*Class2D/cpu-altcpu',
                     '-S', f'dataset_dir={data}', runs=runs)
    out = result.stdout
    assert result.returncode == 0 and 'SKIP' in out, out + result.stderr
    assert ('container image /work3/projects/sciml/relion/images/relion-avx512-intel.sif not '
            'found: build it with "relionbench containers build relion-avx512-intel --out '
            '/work3/projects/sciml/relion/images"') in out
