"""Dry runs on every cluster generate Slurm scripts with the published layouts."""

import re

import pytest
from conftest import reframe

IMAGE_BUILD = {'cpu-altcpu': 'relion-avx512-intel', 'cpu-plain': 'relion-gnu', 'gpu': 'relion-cuda'}
"""The build whose script ``scripts[(system, name)]`` holds: each variant's image."""


@pytest.fixture(scope='module')
def every_script():
    return {}


@pytest.fixture(scope='module')
def scripts(dry_runs, every_script):
    """{(system, check display name): job script text} for every cluster system, with the
    image build of the variant (``every_script``: by (system, name, build), every build)."""
    found = {}
    for system, (runs, stdout) in dry_runs.items():
        for name, case, digest, env in re.findall(
                r'DRY\s*\S* \] (\w+) %case=(\S+) /(\w+) @\S+?\+(\S+)', stdout):
            path = next(runs.glob(f'stage/*/{system}/*/{env}/{name}_{digest}/rfm_job.sh'))
            every_script[(system, f'{name} {case}', env)] = text = path.read_text()
            if env == IMAGE_BUILD[case.split('/')[1]]:
                found[(system, f'{name} {case}')] = text
    return found


def test_every_listed_check_got_a_script(scripts, every_script):
    counts = {s: sum(1 for key in every_script if key[0] == s) for s in ('scarf', 'pearl', 'clx')}
    # Builds: scarf cpu: the GNU and AVX-512 images (RELION 3.1.2) and a 5.0.1 ALTCPU module;
    # scarf gpu and pearl: the CUDA image; clx: the two images. Stages: published 8 (7 with
    # relion_refine, so a cpu-altcpu case; 5 GPU scales), miniature 10 (7 with relion_refine)
    # plus Class2D_VDAM, which needs RELION 4 or later (only the module).
    # (MiniatureChain is opt-in: none of its cases)
    scarf = (8 * 3 + 7 * 2 + 8 * 5) + (10 * 3 + 7 * 2 + 10 + 2) - 6
    clx = (8 * 2 + 7) + (10 * 2 + 7) - 3
    assert counts == {'scarf': scarf, 'pearl': 8 * 5 + 10 - 1, 'clx': clx}


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


def test_polish_runs_two_tasks_and_gets_no_accelerator_flag(scripts, every_script):
    """Polish has no relion_refine: no cpu-altcpu variant; the ALTCPU build runs it plain."""
    assert ('icx', 'Aldolase Polish/cpu-altcpu/2x4') not in scripts
    script = every_script[('icx', 'Aldolase Polish/cpu-plain/2x4', 'relion-avx512-intel')]
    assert '#SBATCH --ntasks=2\n' in script and not re.search(r'--cpu\b(?!s)', script)
    pearl = scripts[('pearl', 'Aldolase Polish/gpu/4gpu')]
    assert '--gpu' not in pearl


def test_scarf_runs_relion_in_the_partition_image_launched_from_the_host(scripts):
    script = scripts[('scarf', 'Aldolase Class2D/cpu-altcpu/23x4')]
    stage = re.search(r'--pwd (\S+) ', script).group(1)
    data = '/work3/projects/sciml/relion/empiar-10338'
    image = '/work3/projects/sciml/relion/images/relion-avx512-intel-3.1.2-altcpu.sif'
    exec_ = f'singularity exec -B"{stage}:{stage}" -B"{data}:{data}" --pwd {stage} {image}'
    srun = 'srun --kill-on-bad-exit=1 --cpus-per-task=4'
    assert re.search(rf'rb_step 0 class2d {srun} \S+ \S+measure.py \S+ -- {re.escape(exec_)} '
                     r'relion_refine_mpi .* --cpu --j 4', script)
    assert f'{exec_} sh -c \'relion_refine --version 2>&1;' in script
    assert '--nv' not in script
    plain = scripts[('scarf', 'Aldolase Class2D/cpu-plain/23x4')]
    assert '/images/relion-gnu-3.1.2-plain.sif relion_refine_mpi' in plain


def test_pearl_gpu_runs_get_nv_and_scratch_bound(scripts):
    script = scripts[('pearl', 'Aldolase Class3D/gpu/4gpu')]
    assert re.search(r'rb_step 0 class3d srun .* -- apptainer exec -B"\S+" -B"\S+" '
                     r'-B"\$RB_SCRATCH:\$RB_SCRATCH" --nv --pwd \S+ '
                     r'/mnt/beegfs/work/stfc/relion-data/images/relion-cuda-3\.1\.2-cuda\.sif '
                     r'relion_refine_mpi .* --gpu --j 2', script)


def test_local_runs_are_native(scripts, runs):
    result = reframe('--dry-run', '-n', '^Miniature.*Class2D/', runs=runs)
    assert result.returncode == 0, result.stdout + result.stderr
    script = next(runs.glob('stage/*/*/*/*/Miniature_*/rfm_job.sh')).read_text()
    assert re.search(r'rb_step 0 class2d \S+ \S+measure.py \S+ -- relion_refine --o', script)


@pytest.mark.parametrize('image,expected', [
    ('native', None),
    ('/images dir/$HOME relion.sif', "--pwd \\S+ '/images dir/\\$HOME relion.sif' relion_refine"),
    ('docker://example.org/relion:3.1.2', r'--pwd \S+ docker://example.org/relion:3.1.2 '),
])
def test_image_chosen_with_a_setting(runs, image, expected):
    result = reframe('--dry-run', '--system', 'scarf', '-n', '^Aldolase.*Class2D/cpu-altcpu',
                     '-p', 'relion-avx512-intel', '-S', f'container_image={image}', runs=runs)
    assert result.returncode == 0, result.stdout + result.stderr
    script = next(runs.glob('stage/*/scarf/cpu/*/Aldolase_*/rfm_job.sh')).read_text()
    if expected is None:
        assert 'singularity' not in script
        assert re.search(r'rb_step 0 class2d srun --kill-on-bad-exit=1 --cpus-per-task=4 '
                         r'\S+ \S+ \S+ -- relion_refine_mpi', script)
    else:
        assert re.search(expected, script), script


def test_missing_image_skips_with_build_instructions(runs, tmp_path):
    """A real run (not dry) on scarf stops in setup, before Slurm is asked for anything."""
    data = tmp_path / 'aldolase'
    (data / 'Extract' / 'job024').mkdir(parents=True)
    (data / 'Extract' / 'job024' / 'particles.star').write_text('data_\n')
    result = reframe('-r', '--system', 'scarf', '-n', '^Aldolase.*Class2D/cpu-altcpu',
                     '-p', 'relion-avx512-intel', '-S', f'dataset_dir={data}', runs=runs)
    out = result.stdout
    assert result.returncode == 0 and 'SKIP' in out, out + result.stderr
    assert ('container image /work3/projects/sciml/relion/images/relion-avx512-intel-3.1.2-'
            'altcpu.sif not found: build it with "relionbench containers build '
            'relion-avx512-intel --build-arg RELION_VERSION=3.1.2 --out '
            '/work3/projects/sciml/relion/images"') in out


def test_stage_jobs_are_exclusive_with_published_time_limits(scripts):
    """Twice the published duration plus an hour: SCARF's own 43,481 s Class2D (cpu-altcpu)
    asks 26 h, not the 96 h every stage asked before."""
    script = scripts[('scarf', 'Aldolase Class2D/cpu-altcpu/23x4')]
    assert '#SBATCH --exclusive' in script and '#SBATCH --time=26:0:0' in script
    assert '#SBATCH --time=96:0:0' not in script


def test_fixture_jobs_share_their_node_and_ask_a_gpu_on_a_gpu_partition(dry_runs):
    runs = dry_runs['scarf'][0]
    for partition, gres in (('cpu', False), ('gpu', True)):
        script = next(runs.glob(f'stage/*/scarf/{partition}/*/Calibration_*/rfm_job.sh'))
        text = script.read_text()
        assert '#SBATCH --exclusive' not in text, text
        assert ('#SBATCH --gres=gpu:1' in text) == gres, text
        assert 'is not visible on node' in text     # its node checks it sees the suite
