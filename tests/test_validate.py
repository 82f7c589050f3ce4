"""``relionbench validate``: a site's system file, builds and references checked without
running anything (relionbench.run.sitecheck)."""

import sys
from types import SimpleNamespace

from relionbench import ROOT
from relionbench.run import sitecheck

sys.path.insert(0, str(ROOT / 'config'))
from common import environments, slurm_partition, system  # noqa: E402

from relionbench import builds  # noqa: E402
from relionbench import constants as c  # noqa: E402

GNU, CUDA = builds.from_recipes(['relion-gnu', 'relion-cuda'])
REFERENCE = """references:
  - {workflow: aldolase, stage: Class2D, variant: cpu-plain, scale: 23x4, build: relion-gnu,
     source: s, box_size: 256, pixel_size: 1.12, metrics: {class2d_seconds: {value: 1}}}
  - {workflow: aldolase, stage: Class2D, variant: gpu, scale: 4gpu, build: relion-gnu,
     source: s, box_size: 256, pixel_size: 1.12, metrics: {class2d_seconds: {value: 1}}}
"""


def site(extras, access=(), environs=('relion-gnu',)):
    return SimpleNamespace(
        system=system('mysite', 'test', [], [slurm_partition(
            'cpu', 'CPU nodes', [c.FEAT_CPU], extras, list(environs), access=access,
            launcher_options=['--mpi=pmix', 'pmix'])]),
        environments=environments('mysite', [GNU, CUDA]))


def test_every_declared_system_is_valid():
    for name in ('scarf', 'pearl', 'clx', 'icx'):
        assert sitecheck.problems(name)[0] == [], name


def test_a_site_file_s_mistakes_are_one_line_each(tmp_path):
    (tmp_path / 'mysite.yaml').write_text(REFERENCE)
    found, summary = sitecheck.problems('mysite', site(
        {c.X_CORES: 64, c.X_MAX_NODES: 'two', 'cores_per_nod': 64},
        access=['--partition=cpu', '--exclusive'], environs=['relion-gnu', 'relion-gnv']),
        tmp_path)
    assert summary == 'mysite: 1 partition(s), 2 build(s), 2 reference(s)'
    assert found == [
        "partition cpu: extra max_nodes='two': give a whole number",
        "partition cpu: extra 'cores_per_nod' is not one of " + ', '.join(
            sorted(sitecheck.EXTRAS)) + " (did you mean 'cores_per_node'?)",
        "partition cpu: option 'pmix' is not an option (write --name=value)",
        'partition cpu: --exclusive in access makes the one-task fixture jobs exclusive too: '
        'drop it (slurm_partition asks it for the stages)',
        "partition cpu: build 'relion-gnv' is offered but not declared in environments",
        'reference/mysite.yaml: entry 2 (Class2D gpu 4gpu, build relion-gnu, partition *) '
        'matches no check of mysite: no partition offers that variant with that build',
    ]


def test_the_command_says_valid_or_names_the_system(capsys):
    from relionbench.cli import main
    assert main(['validate', '--system', 'clx']) == 0
    assert capsys.readouterr().out.strip().endswith(': valid')
    assert main(['validate', '--system', 'mysit']) == 2
    assert "--system 'mysit' is not one of" in capsys.readouterr().err


def test_the_template_system_file_is_valid():
    import importlib.util
    spec = importlib.util.spec_from_file_location('template', ROOT / 'examples' /
                                                  'system-template.py')
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    found, summary = sitecheck.problems('mysite', template)
    assert found == [] and summary == 'mysite: 2 partition(s), 3 build(s), 0 reference(s)'
