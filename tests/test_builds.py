"""RELION builds: identified from what they print, and each release given command lines it
knows (relionbench.builds, relionbench.builds.releases)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NVCC, ROOT, SHARED_RELION

from relionbench import builds
from relionbench.builds import releases
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN
from relionbench.run import jobscript, layouts
from relionbench.workflows import WORKFLOWS

PRINTED = {
    # relion_refine --version of each release and accelerator (macros.h, and measured)
    'RELION version: 3.1.3 \nPrecision: BASE=double\n': ('3.1.3', 'plain'),
    'RELION version: 3.1.4 \nPrecision: BASE=double, VECTOR-ACC=single \n': ('3.1.4', 'ALTCPU'),
    'RELION version: 4.0.1-commit-ex417 \nPrecision: BASE=double, CUDA-ACC=single \n':
        ('4.0.1-commit-ex417', 'CUDA'),
    'RELION version: 5.0.1 \nPrecision: BASE=double, VECTOR-ACC=single \n': ('5.0.1', 'ALTCPU'),
    'RELION version: 5.0.1 \nPrecision: BASE=single, HIP-ACC=single \n': ('5.0.1', 'HIP'),
    'relion_refine: command not found\n': ('unknown', 'unknown'),
}


@pytest.mark.parametrize('text,expected', PRINTED.items())
def test_a_build_is_what_it_prints(text, expected):
    assert builds.read_version(text) == expected


def test_without_an_accelerator_tag_the_linked_libraries_tell():
    linked = f'{builds.LINKED}\n\tlibcudart.so.11.0 => /usr/local/cuda/lib64/libcudart.so.11.0\n'
    assert builds.read_version('RELION version: 3.0.8\n' + linked) == ('3.0.8', 'CUDA')
    assert builds.read_version('RELION version: 3.0.8\n' + builds.LINKED + '\n\tlibtbb.so.12\n'
                               ) == ('3.0.8', 'ALTCPU')
    assert builds.read_version('RELION version: 3.0.8\n' + builds.LINKED + '\n') == (
        '3.0.8', 'unknown')


def test_builds_are_found_on_path_in_the_listed_prefixes_and_under_opt(tmp_path):
    """Stand-ins that print what RELION 3.1.3 and 5.0.1 print; two alike are told apart by
    their folder; one that does not run is left out."""
    def install(prefix, printed):
        (prefix / 'bin').mkdir(parents=True)
        program = prefix / 'bin' / 'relion_refine'
        program.write_text(f'#!/bin/sh\nprintf "{printed}"\n')
        program.chmod(0o755)
    install(tmp_path / 'usr', r'RELION version: 3.1.3 \nPrecision: BASE=double\n')
    install(tmp_path / 'site' / 'relion5', r'RELION version: 5.0.1 \nPrecision: BASE=double, '
            r'VECTOR-ACC=single \n')
    install(tmp_path / 'opt' / 'relion-5.0.1-altcpu-x86-64-v4', r'RELION version: 5.0.1 \n'
            r'Precision: BASE=double, VECTOR-ACC=single \n')
    install(tmp_path / 'opt' / 'relion-broken', '')
    install(tmp_path / 'opt2' / 'relion-5.0.1-altcpu', r'RELION version: 5.0.1 \n'
            r'Precision: BASE=double, VECTOR-ACC=single \n')
    found = builds.discover(path=str(tmp_path / 'usr' / 'bin'),
                            listed=f'{tmp_path}/site/relion5:{tmp_path}/opt2/relion-5.0.1-altcpu',
                            opt=str(tmp_path / 'opt'))
    assert [(b.name, b.version, b.accelerator) for b in found] == [
        ('relion-3_1_3-plain', '3.1.3', 'plain'),
        ('relion-5_0_1-altcpu', '5.0.1', 'ALTCPU'),
        ('relion-5_0_1-altcpu-2', '5.0.1', 'ALTCPU'),        # a folder named like the first
        ('relion-5_0_1-altcpu-x86-64-v4', '5.0.1', 'ALTCPU')]
    assert found[0].prefix == '' and found[1].prefix == str(tmp_path / 'site' / 'relion5')
    env = found[1].environment(['local'])
    assert env['features'] == ['relion', 'altcpu', 'vdam']
    assert env['extras']['relion_release'] == '5.0'
    assert found[0].environment(['local'])['features'] == ['relion', 'plain']      # 3.1: no VDAM
    assert env['env_vars'] == [['PATH', f'{tmp_path}/site/relion5/bin:$PATH']]
    assert 'env_vars' not in found[0].environment(['local'])      # PATH as it is
    assert builds.data_tools(found) is found[0]
    assert builds.data_tools(found, chosen=str(tmp_path / 'site' / 'relion5')) is found[1]


def test_a_module_build_loads_its_modules():
    build = builds.Build('relion-5_0_1-altcpu', '5.0.1', builds.ALTCPU,
                         modules=('relion/5.0.1-altcpu',))
    assert build.environment(['x'])['modules'] == ['relion/5.0.1-altcpu']
    by_hand = build.environment(['x'], modules_by_hand=True)
    assert by_hand['prepare_cmds'] == ['module load relion/5.0.1-altcpu']


def test_later_releases_get_the_same_science_without_removed_options():
    refine = WORKFLOWS['miniature'].stage('Refine3D_Local').step('refine')
    old, new = refine.args(), refine.args('5.0.1')
    assert '--ctf_corrected_ref' in old and '--ctf_corrected_ref' not in new
    assert '--dont_skip_gridding' in new and '--skip_gridding' not in old   # 3.1 grids
    published = WORKFLOWS['aldolase'].stage('Refine3D_Full').step('refine')
    assert '--skip_gridding' in published.args()
    assert not {'--skip_gridding', '--dont_skip_gridding'} & set(published.args('4.0.1'))
    class2d = WORKFLOWS['miniature'].stage('Class2D').step('class2d')
    assert '--ctf_uncorrected_ref' not in class2d.args('5.0')      # no reference
    assert releases.adapt('relion_refine', ['--ref', 'r.mrc'], '5.0') == [
        '--ref', 'r.mrc', '--dont_skip_gridding', '--ctf_uncorrected_ref']
    assert releases.adapt('relion_postprocess', ['--skip_gridding'], '5.0') == ['--skip_gridding']


def _steps(build):
    """(workflow, stage, step) of every RELION step the build runs (a stage that needs a
    feature, VDAM, only with a build that has it)."""
    features = build.environment(['x'])['features']
    return [(w.name, stage.name, step) for w in WORKFLOWS.values() for stage in w.stages
            if not stage.needs or stage.needs in features
            for step in stage.steps if not step.python]


@pytest.mark.requires('relion')
@pytest.mark.parametrize('build', builds.discover(), ids=lambda b: b.name)
def test_every_stage_option_is_known_to_each_build(build, tmp_path):
    """Each RELION program of every stage table, as this build's release takes it and with
    the run's flags (accelerator, threads, pool, scratch), parsed by that build itself (in an
    empty folder, so it stops at the missing input): no "is not a valid RELION argument"
    warning."""
    def unknown_options(workflow, stage, step, release):
        folder = tmp_path / f'{workflow}-{stage}-{step.label}-{release}'
        folder.mkdir()
        for out in step.output_dirs():
            (folder / out).mkdir(parents=True, exist_ok=True)
        variant = CPU_ALTCPU if build.accelerator == builds.ALTCPU else CPU_PLAIN
        program, *args = jobscript.relion_args(step, variant, layouts.cpu_layout('3x2'),
                                               scratch=True, release=release)
        args = ['/tmp' if a == jobscript.SCRATCH else a for a in args]
        binary = f'{build.bindir or build.prefix + "/bin"}/{program.removesuffix("_mpi")}'
        done = subprocess.run([binary, *args], cwd=folder, timeout=60,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        return [f'{workflow} {stage} {step.program}: {flag}' for flag in re.findall(
            r'Option (\S+)\s+is not a valid RELION argument', done.stdout + done.stderr)]

    unknown = [flag for w, stage, step in _steps(build)
               for flag in unknown_options(w, stage, step, build.release)]
    assert not unknown, unknown
    if releases.release_key(build.release) >= (4, 0):      # the probe sees what it looks for
        refine = WORKFLOWS['miniature'].stage('Refine3D_Local').step('refine')
        assert unknown_options('miniature', 'Refine3D_Local', refine, '') == [
            'miniature Refine3D_Local relion_refine_mpi: --ctf_corrected_ref']


BUILD_RELION = ROOT / 'scripts' / 'build-relion'
SOURCE = ROOT.parent / 'shared' / 'relion' / 'relion-5.0.1.tar.gz'


@pytest.mark.requires('relion5')
def test_build_relion_configures_the_release_source(tmp_path):
    """The shared 5.0.1 source tarball, checksum verified, configured by CMake with the
    suite's settings (a full build takes ~10 minutes: not in CI)."""
    done = subprocess.run([str(BUILD_RELION), '5.0.1', '--altcpu', '--source', str(SOURCE),
                           '--prefix', str(tmp_path / 'relion'), '--configure-only'],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for line in ('ALTCPU:BOOL=ON', 'GUI:BOOL=OFF', 'FETCH_WEIGHTS:BOOL=OFF',
                 'CMAKE_BUILD_TYPE:STRING=Release', f'CMAKE_INSTALL_PREFIX:PATH={tmp_path}/relion'):
        assert f'build-relion: configured {line}' in done.stdout, done.stdout


def test_build_relion_refuses_a_source_with_another_checksum(tmp_path):
    fake = tmp_path / 'relion-5.0.1.tar.gz'
    fake.write_bytes(b'not RELION')
    done = subprocess.run([str(BUILD_RELION), '5.0.1', '--source', str(fake)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'expected 4421e171' in done.stderr and 'not building it' in done.stderr


@pytest.mark.requires('relion5')
def test_a_prefix_in_relionbench_relion_is_a_build(tmp_path):
    """What build-relion prints to register a prefix outside /opt works: the prefix comes
    before the same installation under /opt, named from what it prints."""
    prefix = tmp_path / 'site-relion'
    prefix.mkdir()
    (prefix / 'bin').symlink_to(f'{SHARED_RELION}/bin')
    done = subprocess.run([str(Path(sys.executable).parent / 'relionbench'), 'builds'],
                          env={**os.environ, 'RELIONBENCH_RELION': str(prefix)},
                          capture_output=True, text=True, timeout=120)
    assert f'relion-5_0_1-altcpu: RELION 5.0.1, ALTCPU, FFTW FFT, AVX2, {prefix}' in \
        done.stdout, done.stdout


def test_a_job_that_ran_another_relion_is_told_apart():
    extras = {'relion_version': '5.0.1', 'relion_accelerator': builds.ALTCPU}
    assert builds.mismatch(extras, '5.0.1', builds.ALTCPU) == ''
    assert builds.mismatch(extras, '5.0.1-commit-90d239', 'altcpu') == ''
    assert builds.mismatch(extras, '3.1.3', builds.PLAIN) == \
        'version 3.1.3 instead of 5.0.1, accelerator plain instead of ALTCPU'
    assert builds.mismatch(extras, builds.UNKNOWN, builds.UNKNOWN) == ''  # nothing printed
    assert builds.mismatch({}, '3.1.3', builds.PLAIN) == ''               # nothing declared


def test_what_a_binary_carries_is_read_from_it(tmp_path):
    """The FFT library from what it links, the instruction set from its code, the build id
    from its ELF notes; a wrapper script carries nothing readable."""
    from relionbench.builds import binary
    assert binary.fft('\tlibmkl_core.so => /usr/lib/x86_64-linux-gnu/libmkl_core.so') == 'MKL'
    assert binary.fft('libfftw3f.so.3 => x\nlibcufft.so.12 => y') == 'FFTW+cuFFT'
    assert binary.isa_of({'%zmm': 3, '%ymm': 9}) == 'AVX-512'
    assert binary.isa_of({'%ymm': 9, 'vfmadd': 1}) == 'AVX2'
    assert binary.isa_of({'%ymm': 9}) == 'AVX' and binary.isa_of({}) == 'SSE2'
    sh = os.path.realpath('/bin/sh')
    notes = subprocess.run(['readelf', '-n', sh], capture_output=True, text=True).stdout
    assert binary.build_id(Path(sh).read_bytes()) == re.search(r'Build ID: (\w+)', notes)[1]
    script = tmp_path / 'relion_refine'
    script.write_text('#!/bin/sh\n')
    assert binary.describe(script)['isa'] == 'unknown'


@pytest.mark.requires('cuda')
def test_the_gpu_code_of_a_cuda_binary_is_read_from_its_fat_binaries(tmp_path):
    """A kernel compiled here by nvcc for three architectures, PTX for one: the release and
    every architecture are read from the executable."""
    from relionbench.builds import binary
    (tmp_path / 'k.cu').write_text('__global__ void k(float *x) { x[threadIdx.x] *= 2; }\n'
                                   'int main() { return 0; }\n')
    nvcc = subprocess.run([NVCC, '-o', str(tmp_path / 'k'), str(tmp_path / 'k.cu'),
                           '-gencode', 'arch=compute_75,code=sm_75',
                           '-gencode', 'arch=compute_90,code=[sm_90,compute_90]',
                           '-gencode', 'arch=compute_100,code=sm_100'],
                          capture_output=True, text=True)
    assert nvcc.returncode == 0, nvcc.stderr
    release, archs = binary.cuda((tmp_path / 'k').read_bytes())
    assert release == '13.0' and archs == 'sm_75+sm_90+sm_100+compute_90'


@pytest.mark.requires('relion5')
def test_the_shared_build_is_identified_by_what_it_links_and_its_code():
    """/opt/relion-5.0.1-altcpu: FFTW, x86-64-v3 code (AVX2 and FMA), no GPU code."""
    has = builds.carried(f'{SHARED_RELION}/bin')
    assert (has['fft'], has['isa'], has['cuda']) == ('FFTW', 'AVX2', '')
