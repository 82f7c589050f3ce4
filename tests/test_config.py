"""Every system's configuration loads, lists its checks and dry-runs on this machine."""

import re

import pytest
from conftest import reframe

from relionbench import builds

SYSTEMS = ['scarf', 'pearl', 'clx', 'icx', 'local']


def listed(out):
    return re.findall(r'^- (\w+) %case=(\S+)', out, re.M)


@pytest.mark.parametrize('system', SYSTEMS)
def test_system_loads_and_lists(system, runs):
    result = reframe('-l', '--system', system, runs=runs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'WARNING' not in result.stdout + result.stderr


def test_scarf_lists_every_aldolase_stage_and_both_ribosome_benchmarks(runs):
    checks = listed(reframe('-l', '--system', 'scarf', runs=runs).stdout)
    stages = {case.split('/')[0] for name, case in checks if name == 'Aldolase'}
    assert stages == {'Class2D', 'Class3D', 'Refine3D_CtfRefine', 'Refine3D_Reextract',
                      'Refine3D_Full', 'Polish'}
    assert {case.split('/')[0] for name, case in checks if name == 'Ribosome'} == {
        'Class2D', 'Class3D'}


def test_pearl_lists_gpu_variants_at_every_published_scale(runs):
    checks = listed(reframe('-l', '--system', 'pearl', runs=runs).stdout)
    assert {case.split('/')[1] for _, case in checks} == {'gpu'}
    published = [c for name, c in checks if name in ('Aldolase', 'Ribosome')]
    assert {case.split('/')[2] for case in published} == {'1gpu', '2gpu', '4gpu', '8gpu', '16gpu'}
    assert len(published) == 8 * 5


@pytest.mark.parametrize('system', ['clx', 'icx'])
def test_cpu_systems_list_optimised_and_plain(system, runs):
    checks = listed(reframe('-l', '--system', system, runs=runs).stdout)
    assert {case.split('/')[1] for _, case in checks} == {'cpu-altcpu', 'cpu-plain'}
    # the chain is opt-in (-S MiniatureChain.opt_in=yes)
    assert {name for name, _ in checks} == {'Aldolase', 'Ribosome', 'Miniature', 'MiniRibosome'}


def cases(out):
    """[(check, case, environment)] of ``reframe -lC``."""
    return re.findall(r'^- (\w+) %case=(\S+) /\w+ @[\w:-]+\+(\S+)$', out, re.M)


def test_local_runs_each_build_and_altcpu_only_with_accelerated_kernels(runs):
    """Every build of this machine runs cpu-plain; cpu-altcpu (--cpu) only the builds that
    identify as ALTCPU."""
    found = builds.discover()
    listed_cases = cases(reframe('-lC', '--system', 'local', '-n', '^Miniature.*Class2D',
                                 '-p', '.', runs=runs).stdout)
    by_variant = {}
    for _, case, env in listed_cases:
        by_variant.setdefault(case.split('/')[1], set()).add(env)
    assert by_variant['cpu-plain'] == {b.name for b in found}
    assert by_variant.get('cpu-altcpu', set()) == {b.name for b in found
                                                   if b.accelerator == builds.ALTCPU}


@pytest.mark.requires('relion', 'relion5')
def test_the_shared_build_runs_beside_debian_relion(runs):
    """With the shared RELION 5.0.1 installed: the miniature is listed for both builds,
    cpu-altcpu only for 5.0.1."""
    listed_cases = cases(reframe('-lC', '--system', 'local', '-n', '^Miniature', '-p', '.',
                                 runs=runs).stdout)
    envs = {(case.split('/')[1], env) for _, case, env in listed_cases}
    assert {('cpu-plain', 'relion-3_1_3-plain'), ('cpu-plain', 'relion-5_0_1-altcpu'),
            ('cpu-altcpu', 'relion-5_0_1-altcpu')} <= envs
    assert ('cpu-altcpu', 'relion-3_1_3-plain') not in envs
    vdam = {env for _, case, env in listed_cases if case.startswith('Class2D_VDAM/')}
    assert 'relion-5_0_1-altcpu' in vdam and 'relion-3_1_3-plain' not in vdam


@pytest.mark.parametrize('system,partition,expected', [
    ('scarf', 'cpu', {'relion-gnu', 'relion-avx512-intel', 'relion-5_0_1-altcpu'}),
    ('scarf', 'gpu', {'relion-cuda'}),
    ('clx', 'cpu', {'relion-gnu', 'relion-avx512-intel'}),
    ('icx', 'cpu', {'relion-gnu', 'relion-avx512-intel'}),
    ('pearl', 'dgx2', {'relion-cuda'})])
def test_dry_runs_show_one_check_per_declared_build(system, partition, expected, runs):
    """Aldolase Class2D at the published scale, dry-run: one job per build the variant can
    use, each job script with its build's image or module."""
    variant = 'gpu' if partition in ('gpu', 'dgx2') else None
    result = reframe('--dry-run', '--system', f'{system}:{partition}', '-n',
                     '^Aldolase.*Class2D/(gpu/1gpu|cpu-)', runs=runs)
    assert result.returncode == 0, result.stdout[-3000:]
    jobs = sorted(runs.glob(f'stage/*/{system}/{partition}/*/Aldolase_*/rfm_job.sh'))
    assert {job.parent.parent.name for job in jobs} == expected
    for job in jobs:
        text, build = job.read_text(), job.parent.parent.name
        shown = 'module load relion/5.0.1-altcpu' if build == 'relion-5_0_1-altcpu' \
            else f'images/{build}-3.1.2-'
        assert shown in text, (build, text)
        if variant == 'gpu':
            assert '--gpu' in text
        elif build == 'relion-gnu':                     # plain: no --cpu
            assert not re.search(r' --cpu\b(?!s)', text)


def test_results_stay_in_the_runs_folder(runs):
    result = reframe('-l', '--system', 'scarf', runs=runs)
    assert f"results database:  [on] '{runs}/results.db'" in result.stdout
    assert f"log files:         '{runs}/reframe.log'" in result.stdout


