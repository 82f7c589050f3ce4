"""Container recipes: checked, rendered as Dockerfiles that re-parse, built or not."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from relionbench import builds
from relionbench.builds import recipes

RELIONBENCH = [sys.executable, '-m', 'relionbench.cli', 'containers']


def cli(*args, env=None, cwd=ROOT):
    return subprocess.run([*RELIONBENCH, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})})


def broken(tmp_path, recipe, old, new):
    """A copy of a recipe with one text replaced."""
    text = (recipes.RECIPES / f'{recipe}.def').read_text()
    assert old in text
    path = tmp_path / f'{recipe}.def'
    path.write_text(text.replace(old, new))
    return recipes.parse(path)


def test_every_recipe_passes_check():
    result = cli('check')
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(': ok') == 4


def test_recipes_record_version_backend_and_flags():
    found = {d.name: d for d in recipes.recipes()}
    assert set(found) == {'relion-avx512-intel', 'relion-cuda', 'relion-gnu', 'relion-debian'}
    assert {d.version for n, d in found.items() if n != 'relion-debian'} == {'3.1.2'}
    assert found['relion-debian'].version == '3.1.3'        # Debian bookworm's package
    intel = found['relion-avx512-intel']
    assert intel.base.startswith('intel/oneapi-hpckit:')
    assert '-xCOMMON-AVX512' in intel.labels['relion.flags']
    assert {'icc', 'icpx'} <= set(' '.join(intel.sections['post']).replace('=', ' ').split())
    assert found['relion-cuda'].base.startswith('nvidia/cuda:')
    assert found['relion-gnu'].backend == 'plain'


def test_each_recipe_is_a_build_with_the_features_of_its_backend():
    envs = {b.name: b.environment(['x']) for b in builds.from_recipes()}
    assert {name: env['features'] for name, env in envs.items()} == {
        'relion-cuda': ['relion', 'cuda'], 'relion-avx512-intel': ['relion', 'altcpu'],
        'relion-gnu': ['relion', 'plain'], 'relion-debian': ['relion', 'plain']}
    assert envs['relion-gnu']['extras']['relion_image'] == 'relion-gnu-3.1.2-plain.sif'
    cuda5, = builds.from_recipes(['relion-cuda'], version='5.0.1')    # built with a build-arg
    assert (cuda5.name, cuda5.version, cuda5.image) == ('relion-cuda-5_0_1', '5.0.1',
                                                        'relion-cuda-5.0.1-cuda.sif')
    assert envs['relion-gnu']['extras']['relion_release'] == '3.1'


@pytest.mark.parametrize('recipe,old,new,problem', [
    ('relion-cuda', 'code=[sm_90,compute_90]', 'code=compute_86', 'no code for H100 (sm_90)'),
    ('relion-avx512-intel', '-DALTCPU=ON -DMKLFFT=ON', '-DALTCPU=ON',
     'does not pass -DMKLFFT=ON'),
    ('relion-gnu', 'relion.backend plain', 'relion.backend', 'missing label relion.backend'),
    ('relion-gnu', '*) EXTRA="-DFETCH_WEIGHTS=OFF" ;;', '*) EXTRA="" ;;',
     'does not pass -DFETCH_WEIGHTS=OFF'),
    ('relion-gnu', 'RELION_VERSION=3.1.2', 'RELION_VERSION=4.0.1', 'give a 3.1.x or 5.0.x'),
    ('relion-gnu', 'ubuntu:22.04\n', 'ubuntu:{{ UBUNTU }}\n', '{{ UBUNTU }} has no default'),
    ('relion-cuda', '%test\n', '%test\n    true\n%notes\n', 'does not run relion_refine --version'),
])
def test_check_names_what_is_wrong(tmp_path, recipe, old, new, problem):
    definition = broken(tmp_path, recipe, old, new)
    assert any(problem in line for line in recipes.problems(definition)), \
        recipes.problems(definition)
    result = cli('check', str(definition.path))
    assert result.returncode == 1 and problem in result.stdout


def test_render_writes_dockerfiles_that_reparse(tmp_path):
    result = cli('render', '--out', str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    text = (tmp_path / 'relion-cuda.Dockerfile').read_text()
    assert 'FROM nvidia/cuda:11.8.0-devel-ubuntu22.04\nARG RELION_VERSION=3.1.2\n' in text
    assert 'LABEL relion.version="${RELION_VERSION}"\n' in text
    assert 'LABEL relion.run="--gpu (run the container with --nv)"\n' in text
    # the whole %post runs in one shell (spython's writer gives each line its own RUN)
    assert text.count('\nRUN ') == 2 and "RUN <<'POST'\nset -e\n" in text
    assert 'RELION_VERSION=${RELION_VERSION}\n' in text
    assert 'ENTRYPOINT ["/bin/sh", "-c", "exec \\"$@\\"", "runscript"]' in text
    for definition in recipes.recipes():
        path = tmp_path / f'{definition.name}.Dockerfile'
        assert recipes.reparse_problems(definition, path) == []


def test_render_keeps_files_labels_and_runscript(tmp_path):
    definition = tmp_path / 'extra.def'
    definition.write_text('Bootstrap: docker\nFrom: ubuntu:22.04\n\n%files\n'
                          '    patches/fix.patch /opt/fix.patch\n    README.md\n\n'
                          '%labels\n    relion.note says "hi" $HOME\n\n'
                          '%post\n    cd /opt\n    ls fix.patch\n\n'
                          '%runscript\n    echo "running $1"\n    exec "$@"\n')
    parsed = recipes.parse(definition)
    path, problems = recipes.render(parsed, tmp_path / 'out')
    assert problems == []
    text = path.read_text()
    assert 'COPY patches/fix.patch /opt/fix.patch\nCOPY README.md README.md\n' in text
    assert 'LABEL relion.note="says \\"hi\\" $HOME"\n' in text
    assert "RUN <<'POST'\ncd /opt\nls fix.patch\nPOST\n" in text
    assert '"echo \\"running $1\\"\\nexec \\"$@\\""' in text


def test_build_without_runtime_prints_the_command_and_exits_2(tmp_path):
    result = cli('build', 'cuda', '--out', str(tmp_path), '--build-arg',
                 'RELION_VERSION=5.0.1', env={'PATH': str(tmp_path)})
    assert result.returncode == 2
    assert 'neither apptainer nor singularity is in PATH' in result.stderr
    fakeroot = '' if os.geteuid() == 0 else '--fakeroot '
    assert result.stdout == (f'apptainer build {fakeroot}--build-arg RELION_VERSION=5.0.1 '
                             f'{tmp_path}/relion-cuda-5.0.1-cuda.sif '
                             f'{ROOT}/containers/relion-cuda.def\n')
    assert not list(tmp_path.glob('*.sif'))


def test_build_runs_the_runtime_and_returns_its_status(tmp_path):
    """A stand-in ``singularity`` (none is installed here) records its arguments and fails."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake = bin_dir / 'singularity'
    fake.write_text(f'#!/bin/sh\necho "$@" >{tmp_path}/args\nexit 3\n')
    fake.chmod(0o755)
    result = cli('build', 'gnu', 'cuda', '--out', str(tmp_path / 'img'),
                 env={'PATH': f'{bin_dir}:/usr/bin:/bin'})
    assert result.returncode == 3
    assert 'relion-gnu failed (exit status 3)' in result.stderr
    args = (tmp_path / 'args').read_text().split()
    assert args[0] == 'build' and args[-2:] == [
        str(tmp_path / 'img' / 'relion-gnu-3.1.2-plain.sif'),
        str(ROOT / 'containers' / 'relion-gnu.def')]


def test_unknown_recipe_is_a_one_line_error():
    result = cli('list', 'nope')
    assert result.returncode == 1
    assert result.stderr.strip() == ("relionbench containers: no container recipe 'nope': "
                                     'choose from relion-avx512-intel, relion-cuda, relion-debian, '
                                     'relion-gnu')
