"""Every system's configuration loads, lists its checks and dry-runs on this machine."""

import re

import pytest
from conftest import reframe

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
    assert {name for name, _ in checks} == {'Aldolase', 'Ribosome', 'Miniature', 'MiniRibosome',
                                            'MiniatureChain'}


def test_local_offers_no_altcpu_without_accelerated_relion(runs):
    from relionbench import hostinfo
    checks = listed(reframe('-l', '--system', 'local', runs=runs).stdout)
    if hostinfo.relion_build()[1] != 'ALTCPU':
        assert not [c for _, c in checks if '/cpu-altcpu/' in c]


def test_results_stay_in_the_runs_folder(runs):
    result = reframe('-l', '--system', 'scarf', runs=runs)
    assert f"results database:  [on] '{runs}/results.db'" in result.stdout
    assert f"log files:         '{runs}/reframe.log'" in result.stdout
